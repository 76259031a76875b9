//! Counters of what the peers did, so tests can assert on the server's side of a conversation
//! (how many exchanges, which tokens a tool actually sent).
//!
//! Tokens are never stored: only their SHA-256 [`fingerprint`], which a test can compute from the
//! token it expects and compare. That keeps the stats endpoint safe to print.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// Lowercase hex SHA-256 of `token`: how the devstack records a token it has seen.
pub fn fingerprint(token: &str) -> String {
    Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// A snapshot of every counter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// The IdP's counters.
    pub idp: IdpStats,
    /// Per workspace name (`dev`, `prod`).
    pub workspaces: BTreeMap<String, WorkspaceStats>,
}

/// What the IdP's token endpoint did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdpStats {
    /// Successful `authorization_code` grants.
    pub authorization_code_grants: u64,
    /// Successful `refresh_token` grants.
    pub refresh_grants: u64,
    /// Refused `refresh_token` grants (unknown, revoked, reused, wrong client).
    pub refresh_failures: u64,
}

/// What one workspace did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkspaceStats {
    /// Token exchanges answered with a token.
    pub exchanges_ok: u64,
    /// Token exchanges refused (any reason).
    pub exchanges_failed: u64,
    /// `client_credentials` grants answered with a token.
    pub client_credentials_ok: u64,
    /// API calls (SCIM, serving) that were authorized.
    pub api_calls_ok: u64,
    /// API calls refused for a missing, unknown, expired or under-scoped token.
    pub api_calls_unauthorized: u64,
    /// Fingerprints of every distinct token presented to this workspace, in first-seen order:
    /// API tokens as they came in `Authorization` (an `x-api-key` header is not a credential
    /// and is not recorded) and exchange subject tokens.
    pub seen_token_fingerprints: Vec<String>,
    /// Fingerprints of the tokens that authenticated an Anthropic Messages request (what a
    /// coding agent sent, as against a launcher's own API calls), in first-seen order.
    #[serde(default)]
    pub messages_token_fingerprints: Vec<String>,
    /// Anthropic Messages requests authenticated (what the benchmark times a launch to).
    #[serde(default)]
    pub messages_ok: u64,
    /// Per agent API path (without the query: `/ai-gateway/gemini/v1beta/models/m:generateContent`),
    /// the requests authenticated and the fingerprints of their tokens, in first-seen order.
    #[serde(default)]
    pub paths: std::collections::BTreeMap<String, PathStats>,
}

/// What one agent API path saw.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathStats {
    /// Requests authenticated.
    pub requests: u64,
    /// Fingerprints of the tokens that authenticated them, in first-seen order.
    pub token_fingerprints: Vec<String>,
}

/// The live counters behind [`Stats`].
pub(crate) struct Recorder(Mutex<Stats>);

impl Recorder {
    pub(crate) fn new(workspaces: &[&str]) -> Self {
        let mut stats = Stats::default();
        for name in workspaces {
            stats.workspaces.insert((*name).to_owned(), WorkspaceStats::default());
        }
        Self(Mutex::new(stats))
    }

    pub(crate) fn snapshot(&self) -> Stats {
        self.0.lock().expect("stats poisoned").clone()
    }

    pub(crate) fn idp(&self, f: impl FnOnce(&mut IdpStats)) {
        f(&mut self.0.lock().expect("stats poisoned").idp);
    }

    pub(crate) fn workspace(&self, name: &str, f: impl FnOnce(&mut WorkspaceStats)) {
        let mut stats = self.0.lock().expect("stats poisoned");
        f(stats.workspaces.entry(name.to_owned()).or_default());
    }

    /// Records that `token` authenticated a Messages request to workspace `name`.
    pub(crate) fn messages_token(&self, name: &str, token: &str) {
        let fp = fingerprint(token);
        self.workspace(name, |w| {
            w.messages_ok += 1;
            if !w.messages_token_fingerprints.contains(&fp) {
                w.messages_token_fingerprints.push(fp);
            }
        });
    }

    /// Records that `token` authenticated a request to agent API `path` of workspace `name`.
    pub(crate) fn path_token(&self, name: &str, path: &str, token: &str) {
        let fp = fingerprint(token);
        self.workspace(name, |w| {
            let p = w.paths.entry(path.to_owned()).or_default();
            p.requests += 1;
            if !p.token_fingerprints.contains(&fp) {
                p.token_fingerprints.push(fp);
            }
        });
    }

    /// Records that `token` was presented to workspace `name`.
    pub(crate) fn seen(&self, name: &str, token: &str) {
        let fp = fingerprint(token);
        self.workspace(name, |w| {
            if !w.seen_token_fingerprints.contains(&fp) {
                w.seen_token_fingerprints.push(fp);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_is_sha256_hex() {
        assert_eq!(fingerprint("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn seen_records_each_token_once() {
        let r = Recorder::new(&["dev"]);
        r.seen("dev", "t1");
        r.seen("dev", "t1");
        r.seen("dev", "t2");
        let s = r.snapshot();
        assert_eq!(s.workspaces["dev"].seen_token_fingerprints, vec![fingerprint("t1"), fingerprint("t2")]);
    }
}
