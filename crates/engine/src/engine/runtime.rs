//! A token's runtime state, and every change to it: the one place where it moves.
//!
//! The engine holds one [`TokenRuntime`] per [`TokenKey`]: the workspace's own token from the
//! start, an MCP token once someone asked for it (or the vault held one at start). Its [`Phase`]
//! says where it stands between refreshes (ready, refreshing, failed and backing off, waiting for
//! a sign-in), so an impossible mix of flags cannot be written down. The transitions
//! (`refresh_started`, `token`, `failure`, `signed_in`, `signed_out`, …) are methods of
//! [`Runtimes`], the only owner of the map: the rest of the engine reads views of it (status,
//! what is due) and asks for transitions, it never edits a field.

use std::collections::BTreeMap;
use std::sync::Mutex;

use super::EngineOptions;
use super::key::{TokenKey, TokenScope};
use super::scoped::ScopedStatus;
use super::timing::refresh_due_at;
use crate::error::Failure;
use crate::status::{TokenState, WorkspaceStatus};
use lakepass_config::Workspace;
use lakepass_wire::clock::UnixTime;
use lakepass_wire::exchange::WorkspaceToken;

/// Per sink name, why it could not write a workspace's last token.
pub type SinkFailures = BTreeMap<&'static str, Failure>;

/// Where a token stands between (or during) refreshes. Fresh and expiring are not phases: they
/// follow from the held token's times at the moment someone looks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) enum Phase {
    /// Nothing outstanding: the held token (or none yet) decides.
    #[default]
    Ready,
    /// A refresh is under way. `was` is where the token stood when it started: the error shown
    /// meanwhile, the count the backoff grows from, the sign-in the run loop waits for.
    Refreshing {
        /// The phase before the refresh (never itself `Refreshing`).
        was: Box<Phase>,
    },
    /// The last refresh failed in a way a retry may mend.
    Failed {
        /// Why.
        failure: Failure,
        /// When it failed: a token issued later answers it.
        at: UnixTime,
        /// Refreshes failed in a row.
        attempts: u32,
        /// When the run loop may try again.
        retry_at: UnixTime,
    },
    /// Only a sign-in can help (never signed in, signed out, or the IdP ended the session).
    NeedsSignIn {
        /// When this became known: a sign-in after it ends the wait.
        since: UnixTime,
        /// The refresh failure that said so, if a refresh did.
        failure: Option<Failure>,
        /// Refreshes failed in a row.
        attempts: u32,
    },
}

impl Phase {
    /// The phase outside a refresh: `was` while refreshing, else itself.
    fn settled(&self) -> &Phase {
        match self {
            Phase::Refreshing { was } => was,
            p => p,
        }
    }

    fn attempts(&self) -> u32 {
        match self.settled() {
            Phase::Failed { attempts, .. } | Phase::NeedsSignIn { attempts, .. } => *attempts,
            _ => 0,
        }
    }

    fn failure(&self) -> Option<&Failure> {
        match self.settled() {
            Phase::Failed { failure, .. } => Some(failure),
            Phase::NeedsSignIn { failure, .. } => failure.as_ref(),
            _ => None,
        }
    }
}

/// What the engine holds for one token.
#[derive(Debug, Clone, Default)]
pub(super) struct TokenRuntime {
    token: Option<WorkspaceToken>,
    phase: Phase,
    /// Sinks that failed on the last token: shown in status, kept apart from refresh errors.
    sink_failures: SinkFailures,
    /// For an MCP token: the workspace refused its scope, so it holds the workspace's token.
    mcp_fallback: Option<crate::mcp::McpFallback>,
}

/// Whether and when the run loop should refresh a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Due {
    /// Now.
    Now,
    /// Once a sign-in newer than this happened (in any process).
    AfterSignInSince(UnixTime),
}

impl TokenRuntime {
    fn state(&self, now: UnixTime) -> TokenState {
        match &self.phase {
            Phase::Refreshing { .. } => TokenState::Refreshing,
            Phase::NeedsSignIn { .. } => TokenState::NeedsLogin,
            Phase::Failed { .. } => TokenState::Failed,
            Phase::Ready => match &self.token {
                Some(t) if now < refresh_due_at(t) => TokenState::Fresh,
                _ => TokenState::Expiring,
            },
        }
    }

    /// When the run loop should refresh this token, if it should at all. A token refreshed in
    /// the background (the workspace's own) is exchanged as soon as there is none and retried
    /// with backoff; an MCP token is refreshed only while one is held and its last refresh
    /// worked (a failed one waits for the next ask, so a refused scope is not asked every pass).
    fn due_at(&self, scope: TokenScope, now: UnixTime) -> Option<UnixTime> {
        let background = scope.refreshed_in_background();
        let token_due = self.token.as_ref().map(refresh_due_at);
        match self.phase.settled() {
            Phase::NeedsSignIn { .. } => None,
            Phase::Failed { retry_at, .. } => background.then(|| token_due.unwrap_or(now).max(*retry_at)),
            _ if background => Some(token_due.unwrap_or(now)),
            _ => token_due,
        }
    }
}

/// Every token's runtime state, behind one lock. The transitions are its methods.
#[derive(Debug, Default)]
pub(super) struct Runtimes(Mutex<BTreeMap<TokenKey, TokenRuntime>>);

impl Runtimes {
    /// One entry per workspace token; MCP tokens join when asked for.
    pub(super) fn new(workspaces: &[Workspace]) -> Self {
        let map = workspaces.iter().map(|w| (TokenKey::workspace(w), TokenRuntime::default())).collect();
        Runtimes(Mutex::new(map))
    }

    fn change<R>(&self, key: &TokenKey, f: impl FnOnce(&mut TokenRuntime) -> R) -> R {
        let mut map = self.0.lock().expect("runtime state");
        f(map.entry(key.clone()).or_default())
    }

    fn read<R>(&self, key: &TokenKey, f: impl FnOnce(&TokenRuntime) -> R) -> Option<R> {
        self.0.lock().expect("runtime state").get(key).map(f)
    }

    // ---- transitions ----

    /// At start: the vault's token, and whether a session (or an M2M secret) is there to
    /// refresh it with.
    pub(super) fn loaded(
        &self,
        key: &TokenKey,
        token: Option<WorkspaceToken>,
        signed_in: bool,
        now: UnixTime,
    ) {
        self.change(key, |r| {
            r.token = token;
            r.phase = if signed_in {
                Phase::Ready
            } else {
                Phase::NeedsSignIn { since: now, failure: None, attempts: 0 }
            };
        });
    }

    /// A refresh began (a second one at once changes nothing).
    pub(super) fn refresh_started(&self, key: &TokenKey) {
        self.change(key, |r| {
            if !matches!(r.phase, Phase::Refreshing { .. }) {
                r.phase = Phase::Refreshing { was: Box::new(std::mem::take(&mut r.phase)) };
            }
        });
    }

    /// A refresh ended with a token (exchanged here or adopted from another process).
    pub(super) fn token(&self, key: &TokenKey, token: &WorkspaceToken) {
        self.change(key, |r| {
            r.token = Some(token.clone());
            r.phase = Phase::Ready;
        });
    }

    /// A refresh failed at `now`: a failure only a sign-in mends waits for one, any other backs
    /// off (`retry_base`, doubling up to `retry_max`).
    pub(super) fn failure(&self, key: &TokenKey, failure: Failure, now: UnixTime, opts: &EngineOptions) {
        self.change(key, |r| {
            let attempts = r.phase.attempts() + 1;
            r.phase = if failure.kind.needs_login() {
                let since = match r.phase.settled() {
                    Phase::NeedsSignIn { since, .. } => *since,
                    _ => now,
                };
                Phase::NeedsSignIn { since, failure: Some(failure), attempts }
            } else {
                let backoff = opts.retry_base.saturating_mul(1 << (attempts - 1).min(10)).min(opts.retry_max);
                let retry_at = now.saturating_add(backoff.as_secs() as i64);
                Phase::Failed { failure, at: now, attempts, retry_at }
            };
        });
    }

    /// Whether the MCP token of `key` falls back to the workspace token, and why (`None` once
    /// a token of its own scope is held again).
    pub(super) fn fallback(&self, key: &TokenKey, fallback: Option<crate::mcp::McpFallback>) {
        self.change(key, |r| r.mcp_fallback = fallback);
    }

    /// The fallback recorded for `key`, if any.
    pub(super) fn fallback_of(&self, key: &TokenKey) -> Option<crate::mcp::McpFallback> {
        self.read(key, |r| r.mcp_fallback.clone()).flatten()
    }

    /// A good token was found without a refresh (in the vault, or held): hold it. One issued
    /// after the failure (or the need to sign in) was learnt answers it: another process
    /// refreshed since.
    pub(super) fn found(&self, key: &TokenKey, token: &WorkspaceToken) {
        self.change(key, |r| {
            r.token = Some(token.clone());
            let answered = match &r.phase {
                Phase::Failed { at, .. } => token.issued_at > *at,
                Phase::NeedsSignIn { since, .. } => token.issued_at > *since,
                _ => false,
            };
            if answered {
                r.phase = Phase::Ready;
            }
        });
    }

    /// The user signed in to the IdP of this token's workspace: whatever failed before is moot.
    pub(super) fn signed_in(&self, key: &TokenKey) {
        self.change(key, |r| match &mut r.phase {
            Phase::Refreshing { was } => **was = Phase::Ready,
            p => *p = Phase::Ready,
        });
    }

    /// The user signed out of `ws`'s IdP at `now`: its token is gone and needs a sign-in; its
    /// MCP tokens are forgotten (asked for again after the next sign-in).
    pub(super) fn signed_out(&self, ws: &Workspace, now: UnixTime) {
        let mut map = self.0.lock().expect("runtime state");
        map.retain(|k, _| k.workspace != ws.name || k.scope == TokenScope::Workspace);
        map.insert(
            TokenKey::workspace(ws),
            TokenRuntime {
                phase: Phase::NeedsSignIn { since: now, failure: None, attempts: 0 },
                ..TokenRuntime::default()
            },
        );
    }

    /// How a sink took the token of `key`: a failure is remembered (when `shown`) until the same
    /// sink next writes one.
    pub(super) fn sink_result(
        &self,
        key: &TokenKey,
        sink: &'static str,
        result: Result<(), Failure>,
        shown: bool,
    ) {
        self.change(key, |r| match result {
            Ok(()) => {
                r.sink_failures.remove(sink);
            }
            Err(f) if shown => {
                r.sink_failures.insert(sink, f);
            }
            Err(_) => {}
        });
    }

    // ---- views ----

    /// The token held for `key`, if minted by `ws`'s host.
    pub(super) fn held(&self, key: &TokenKey, ws: &Workspace) -> Option<WorkspaceToken> {
        self.read(key, |r| r.token.clone()).flatten().filter(|t| t.host == ws.host)
    }

    /// The sinks that could not write the last token of `key`.
    pub(super) fn sink_failures(&self, key: &TokenKey) -> SinkFailures {
        self.read(key, |r| r.sink_failures.clone()).unwrap_or_default()
    }

    /// The published status of `ws`'s own token at `now`.
    pub(super) fn workspace_status(&self, ws: &Workspace, now: UnixTime) -> WorkspaceStatus {
        let r = self.read(&TokenKey::workspace(ws), Clone::clone).unwrap_or_default();
        WorkspaceStatus {
            name: ws.name.clone(),
            host: ws.host.to_string(),
            profile: ws.profile.clone(),
            state: r.state(now),
            expires_at: r.token.as_ref().map(|t| t.expires_at),
            refresh_due_at: r.token.as_ref().map(refresh_due_at),
            last_error: r.phase.failure().cloned().or_else(|| r.sink_failures.values().next().cloned()),
        }
    }

    /// Every MCP token held or failed, by workspace then scope.
    pub(super) fn scoped_status(&self) -> Vec<ScopedStatus> {
        let map = self.0.lock().expect("runtime state");
        map.iter()
            .filter_map(|(k, r)| match k.scope {
                TokenScope::Mcp(scope) => Some(ScopedStatus {
                    workspace: k.workspace.clone(),
                    scope,
                    expires_at: r.token.as_ref().map(|t| t.expires_at),
                    refresh_due_at: r.token.as_ref().map(refresh_due_at),
                    last_error: r.phase.failure().cloned(),
                    fallback: r.mcp_fallback.clone(),
                }),
                TokenScope::Workspace => None,
            })
            .collect()
    }

    /// The tokens the run loop should refresh at `now`.
    pub(super) fn due(&self, now: UnixTime) -> Vec<(TokenKey, Due)> {
        let map = self.0.lock().expect("runtime state");
        map.iter()
            .filter_map(|(k, r)| match r.phase.settled() {
                Phase::NeedsSignIn { since, .. } if k.scope.refreshed_in_background() => {
                    Some((k.clone(), Due::AfterSignInSince(*since)))
                }
                _ => r.due_at(k.scope, now).filter(|d| now >= *d).map(|_| (k.clone(), Due::Now)),
            })
            .collect()
    }

    /// The earliest time the run loop has work, if any token has a time.
    pub(super) fn next_due(&self, now: UnixTime) -> Option<UnixTime> {
        let map = self.0.lock().expect("runtime state");
        map.iter().filter_map(|(k, r)| r.due_at(k.scope, now)).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use crate::mcp::McpScope;
    use lakepass_wire::host::WorkspaceHost;
    use lakepass_wire::secret::Secret;

    fn ws() -> Workspace {
        let text = "[idp.okta]\nissuer = \"https://idp.example\"\nclient_id = \"c\"\n\n\
                    [workspace.dev]\nidp = \"okta\"\nhost = \"https://dev.example\"\n";
        let cfg = lakepass_config::Config::parse(text, std::path::Path::new("config.toml")).expect("config");
        cfg.workspaces().expect("workspaces").remove(0)
    }

    fn tok(issued: i64, lifetime: i64) -> WorkspaceToken {
        WorkspaceToken {
            host: WorkspaceHost::parse("https://dev.example").unwrap(),
            access_token: Secret::new("t"),
            expires_at: issued + lifetime,
            issued_at: issued,
            scope: None,
        }
    }

    fn opts() -> EngineOptions {
        EngineOptions {
            retry_base: std::time::Duration::from_secs(10),
            retry_max: std::time::Duration::from_secs(25),
            ..EngineOptions::default()
        }
    }

    #[test]
    fn a_refresh_moves_through_refreshing_to_fresh_or_backoff() {
        let w = ws();
        let (rt, key) = (Runtimes::new(std::slice::from_ref(&w)), TokenKey::workspace(&w));
        assert_eq!(rt.workspace_status(&w, 0).state, TokenState::Expiring, "none yet");
        assert_eq!(rt.due(0), vec![(key.clone(), Due::Now)], "the workspace token is exchanged at once");
        rt.refresh_started(&key);
        assert_eq!(rt.workspace_status(&w, 0).state, TokenState::Refreshing);
        let network = Failure::new(ErrorKind::Network, "down");
        rt.failure(&key, network.clone(), 100, &opts());
        let s = rt.workspace_status(&w, 100);
        assert_eq!((s.state, s.last_error), (TokenState::Failed, Some(network.clone())));
        assert!(rt.due(109).is_empty() && rt.due(110).len() == 1, "first retry after retry_base");
        rt.refresh_started(&key);
        assert_eq!(
            rt.workspace_status(&w, 100).last_error,
            Some(network.clone()),
            "the last error stays shown while retrying"
        );
        rt.failure(&key, network.clone(), 110, &opts());
        rt.refresh_started(&key);
        rt.failure(&key, network, 130, &opts());
        assert_eq!(rt.next_due(130), Some(155), "doubling, capped at retry_max");
        rt.refresh_started(&key);
        rt.token(&key, &tok(200, 3600));
        let s = rt.workspace_status(&w, 200);
        assert_eq!((s.state, s.last_error), (TokenState::Fresh, None));
    }

    #[test]
    fn needing_a_sign_in_waits_for_one_and_a_sign_out_forgets_mcp_tokens() {
        let w = ws();
        let (rt, key) = (Runtimes::new(std::slice::from_ref(&w)), TokenKey::workspace(&w));
        let sql = TokenKey::new(&w, TokenScope::Mcp(McpScope::Sql));
        rt.loaded(&key, Some(tok(0, 3600)), false, 5);
        assert_eq!(rt.workspace_status(&w, 10).state, TokenState::NeedsLogin);
        assert_eq!(rt.due(10), vec![(key.clone(), Due::AfterSignInSince(5))]);
        rt.found(&key, &tok(3, 3600));
        assert_eq!(rt.workspace_status(&w, 10).state, TokenState::NeedsLogin, "an older token is no sign-in");
        rt.found(&key, &tok(6, 3600));
        assert_eq!(rt.workspace_status(&w, 10).state, TokenState::Fresh, "a newer one is");
        rt.found(&sql, &tok(6, 3600));
        assert_eq!(rt.scoped_status().len(), 1);
        rt.signed_out(&w, 20);
        assert!(rt.scoped_status().is_empty());
        let s = rt.workspace_status(&w, 20);
        assert_eq!((s.state, s.expires_at), (TokenState::NeedsLogin, None));
        rt.refresh_started(&key);
        rt.failure(&key, Failure::new(ErrorKind::SessionEnded, "ended"), 30, &opts());
        assert_eq!(rt.due(40), vec![(key.clone(), Due::AfterSignInSince(20))], "still since the sign-out");
        rt.signed_in(&key);
        assert_eq!(rt.workspace_status(&w, 40).state, TokenState::Expiring);
    }

    #[test]
    fn an_mcp_token_is_refreshed_by_the_loop_only_while_held_and_healthy() {
        let w = ws();
        let rt = Runtimes::new(&[]);
        let sql = TokenKey::new(&w, TokenScope::Mcp(McpScope::Sql));
        rt.refresh_started(&sql);
        assert!(rt.due(0).is_empty() && rt.next_due(0).is_none(), "none held: waits for an ask");
        rt.token(&sql, &tok(0, 100));
        let due = refresh_due_at(&tok(0, 100));
        assert_eq!(rt.next_due(0), Some(due));
        assert_eq!(rt.due(due), vec![(sql.clone(), Due::Now)]);
        rt.failure(&sql, Failure::new(ErrorKind::FederationRejected, "no"), due, &opts());
        assert!(rt.due(due + 1_000).is_empty(), "a failed one waits for the next ask");
        assert_eq!(rt.scoped_status()[0].state(due), TokenState::Failed);
    }
}
