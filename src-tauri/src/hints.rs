//! Plain-language hints: what a workspace's state or last error means and what to do next.
//!
//! The snapshot carries the last error as text (the engine's messages already say what to do,
//! but they are long and technical); a hint is one short sentence a card can show in bold above
//! the details. Matching on the text is a stopgap until the snapshot carries the error's kind.

use lakepass_core::status::TokenState;

/// The hint for a workspace in `state` whose last error is `error`; `idp` is its IdP's name.
pub fn hint(state: TokenState, error: Option<&str>, idp: &str) -> Option<String> {
    let e = error.unwrap_or("").to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| e.contains(w));
    match state {
        TokenState::Fresh | TokenState::Expiring | TokenState::Refreshing if error.is_none() => None,
        TokenState::NeedsLogin if has(&["refused", "revoked", "invalid_grant"]) => Some(format!(
            "Your session at `{idp}` was ended by the identity provider (signed out elsewhere, or revoked). Sign in again."
        )),
        TokenState::NeedsLogin if has(&["offline_access", "no refresh token"]) => Some(format!(
            "`{idp}` gave no refresh token, so Lakepass cannot renew it on its own. Add `offline_access` to the IdP's scopes, then sign in again."
        )),
        TokenState::NeedsLogin => Some(format!("Sign in to `{idp}` to get a token for this workspace.")),
        _ if has(&["keyring", "vault"]) => Some(
            "Lakepass could not read or write its secret store. Check that your keyring is unlocked, or set LAKEPASS_VAULT=file.".into(),
        ),
        _ if has(&["timed out", "connect", "dns", "network", "unreachable", "did not answer", "http 5", "503", "502"]) => Some(
            "The workspace or the identity provider could not be reached. Check your network or VPN; Lakepass keeps retrying.".into(),
        ),
        _ if has(&["429", "rate"]) => Some("The server asked Lakepass to slow down. It will retry on its own shortly.".into()),
        _ if has(&["iss", "aud", "audience", "issuer", "subject", "federation", "policy", "invalid_request", "401", "400"]) => Some(
            "The workspace refused the exchange: its federation policy does not match the token from your IdP (issuer, audience or subject). Ask your Databricks admin to check the policy.".into(),
        ),
        _ if has(&["lock"]) => Some("Another Lakepass process held a lock too long. It will retry; if it persists, quit other Lakepass processes.".into()),
        _ if has(&["credentials file", ".databrickscfg"]) => Some(
            "The token is fine, but ~/.databrickscfg could not be updated. Check that file's permissions.".into(),
        ),
        TokenState::Failed => Some("The last refresh failed; Lakepass retries with backoff. The details are below.".into()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn healthy_states_need_no_hint() {
        for s in [TokenState::Fresh, TokenState::Expiring, TokenState::Refreshing] {
            assert_eq!(hint(s, None, "corp"), None);
        }
    }

    #[test]
    fn sign_in_hints_name_the_idp() {
        assert!(hint(TokenState::NeedsLogin, None, "corp").unwrap().contains("`corp`"));
        let revoked =
            hint(TokenState::NeedsLogin, Some("the refresh token was refused: invalid_grant"), "corp")
                .unwrap();
        assert!(revoked.contains("ended by the identity provider"), "{revoked}");
        let no_rt = hint(TokenState::NeedsLogin, Some("add `offline_access` to its scopes"), "corp").unwrap();
        assert!(no_rt.contains("offline_access"));
    }

    #[test]
    fn failures_get_a_cause() {
        let net =
            hint(TokenState::Failed, Some("error sending request: connection refused (os error 111)"), "c")
                .unwrap();
        assert!(net.contains("could not be reached"), "{net}");
        let fed = hint(TokenState::Failed, Some("token exchange rejected (HTTP 401): invalid audience"), "c")
            .unwrap();
        assert!(fed.contains("federation policy"), "{fed}");
        assert!(hint(TokenState::Failed, Some("something odd"), "c").unwrap().contains("retries"));
    }
}
