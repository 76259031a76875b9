//! Plain-language hints: what a workspace's state or last error means and what to do next.
//!
//! The engine's messages already say what to do, but they are long and technical; a hint is one
//! short sentence a card can show in bold above the details. It is chosen by the error's
//! [`ErrorKind`], never by its text; the sentences themselves are the core's
//! ([`ErrorKind::hint`]), except the sign-in ones, which name the IdP.

use lakepass_engine::ErrorKind;

use lakepass_engine::Failure;

use lakepass_engine::TokenState;

/// The hint for a workspace in `state` whose last error is `error`; `idp` is its IdP's name.
pub fn hint(state: TokenState, error: Option<&Failure>, idp: &str) -> Option<String> {
    let kind = error.map(|e| e.kind);
    match (state, kind) {
        (TokenState::Fresh | TokenState::Expiring | TokenState::Refreshing, None) => None,
        (TokenState::NeedsLogin, Some(ErrorKind::SessionEnded)) => Some(format!(
            "Your session at `{idp}` was ended by the identity provider (signed out elsewhere, or revoked). Sign in again."
        )),
        (TokenState::NeedsLogin, Some(ErrorKind::NoRefreshToken)) => Some(format!(
            "`{idp}` gave no refresh token, so Lakepass cannot renew it on its own. Add `offline_access` to the IdP's scopes, then sign in again."
        )),
        (TokenState::NeedsLogin, Some(ErrorKind::NeedsSecret)) => Some(ErrorKind::NeedsSecret.hint().into()),
        (TokenState::NeedsLogin, _) => Some(format!("Sign in to `{idp}` to get a token for this workspace.")),
        (_, Some(ErrorKind::Unexpected | ErrorKind::Idp)) | (TokenState::Failed, None) => {
            Some("The last refresh failed; Lakepass retries with backoff. The details are below.".into())
        }
        (_, Some(k)) => Some(k.hint().into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(kind: ErrorKind, text: &str) -> Option<Failure> {
        Some(Failure::new(kind, text))
    }

    #[test]
    fn healthy_states_need_no_hint() {
        for s in [TokenState::Fresh, TokenState::Expiring, TokenState::Refreshing] {
            assert_eq!(hint(s, None, "corp"), None);
        }
    }

    #[test]
    fn sign_in_hints_name_the_idp() {
        assert!(hint(TokenState::NeedsLogin, None, "corp").unwrap().contains("`corp`"));
        let e = err(ErrorKind::SessionEnded, "the refresh token was refused: invalid_grant");
        let revoked = hint(TokenState::NeedsLogin, e.as_ref(), "corp").unwrap();
        assert!(revoked.contains("ended by the identity provider"), "{revoked}");
        let e = err(ErrorKind::NoRefreshToken, "add `offline_access` to its scopes");
        let no_rt = hint(TokenState::NeedsLogin, e.as_ref(), "corp").unwrap();
        assert!(no_rt.contains("offline_access"));
    }

    #[test]
    fn failures_get_a_cause() {
        let e = err(ErrorKind::Network, "error sending request: connection refused (os error 111)");
        let net = hint(TokenState::Failed, e.as_ref(), "c").unwrap();
        assert!(net.contains("could not be reached"), "{net}");
        let e = err(ErrorKind::FederationRejected, "token exchange rejected (HTTP 401): invalid audience");
        let fed = hint(TokenState::Failed, e.as_ref(), "c").unwrap();
        assert!(fed.contains("federation policy"), "{fed}");
        let e = err(ErrorKind::Unexpected, "something odd");
        assert!(hint(TokenState::Failed, e.as_ref(), "c").unwrap().contains("retries"));
        let e = err(ErrorKind::CredentialsFile, "permission denied");
        assert!(hint(TokenState::Fresh, e.as_ref(), "c").unwrap().contains("~/.databrickscfg"));
    }

    #[test]
    fn the_text_of_an_error_never_picks_the_hint() {
        // A network error whose text mentions a policy is still a network error.
        let e = err(ErrorKind::Network, "could not reach https://policy.example/federation 401");
        assert!(hint(TokenState::Failed, e.as_ref(), "c").unwrap().contains("could not be reached"));
    }
}
