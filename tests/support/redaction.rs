//! Leak checks: tokens never appear in assertion messages ([`redact`]), and tests can list
//! every secret the vault holds ([`TempHome::vault_secrets`]) to search logs and files for them.

use std::collections::{BTreeMap, BTreeSet};

use crate::{TempHome, fingerprint};

/// Replaces anything that looks like a token (a JWT, a devstack or Databricks token, or any
/// long opaque run) with its length and fingerprint prefix, for assertion messages.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        let tokenish = word.len() >= 24
            && (word.starts_with("eyJ")
                || word.starts_with("dvs")
                || word.starts_with("dapi")
                || (word.len() >= 32 && !word.contains('/') && !word.contains('.')));
        if tokenish {
            out.push_str(&format!("[redacted {} chars, sha256 {}…]", word.len(), &fingerprint(word)[..8]));
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || "-_.~+/=".contains(c) {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

impl TempHome {
    /// Every secret string the file vault holds now (tokens of IdP sessions and workspaces),
    /// and for JWTs also their payload and signature parts.
    pub fn vault_secrets(&self) -> BTreeSet<String> {
        let raw = std::fs::read_to_string(self.vault_path())
            .unwrap_or_else(|e| panic!("cannot read the vault {}: {e}", self.vault_path().display()));
        let entries: BTreeMap<String, String> =
            serde_json::from_str(&raw).expect("vault.json is a JSON object of key → string");
        let mut out = BTreeSet::new();
        for value in entries.values() {
            match serde_json::from_str::<serde_json::Value>(value) {
                Ok(v) => collect_tokens(&v, None, &mut out),
                Err(_) => {
                    out.insert(value.clone());
                }
            }
        }
        let jwt_parts: Vec<String> = out
            .iter()
            .filter(|s| s.starts_with("eyJ") && s.matches('.').count() == 2)
            .flat_map(|s| s.split('.').skip(1).map(String::from).collect::<Vec<_>>())
            .filter(|p| p.len() >= 20)
            .collect();
        out.extend(jwt_parts);
        out
    }
}

fn collect_tokens(v: &serde_json::Value, key: Option<&str>, out: &mut BTreeSet<String>) {
    match v {
        serde_json::Value::String(s) if key.is_some_and(|k| k.contains("token")) && s.len() >= 16 => {
            out.insert(s.clone());
        }
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                collect_tokens(v, Some(k), out);
            }
        }
        serde_json::Value::Array(items) => {
            for v in items {
                collect_tokens(v, key, out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_hides_tokens_and_keeps_words() {
        let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.c2lnbmF0dXJlc2lnbmF0dXJl";
        let shown = redact(&format!("token {jwt} for dvs0123456789abcdef0123456789 ok"));
        assert!(!shown.contains(jwt) && !shown.contains("dvs0123456789abcdef0123456789"));
        assert!(shown.starts_with("token [redacted ") && shown.ends_with(" ok"));
        assert_eq!(redact("http://127.0.0.1:8080/callback"), "http://127.0.0.1:8080/callback");
    }
}
