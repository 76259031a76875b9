//! Signing in to the company's OIDC identity provider, and keeping that session alive.
//!
//! The flow is the authorization-code grant with PKCE S256 (RFC 7636), a random `state` and
//! `nonce`, and a loopback redirect on 127.0.0.1 (RFC 8252 §7.3). Requests are plain values built
//! by pure functions ([`SignInRequest::new`], [`code_request`], [`refresh_request`]); sending
//! them is `http`'s job. The id_token is verified against the issuer's JWKS (`jwt::verify`).
//! We use the `oauth2` crate for PKCE and CSRF randomness but not `openidconnect`: its
//! type-state clients and bundled verifier duplicate what `jwt` already does for `doctor`.
//!
//! The children depend one way, each only on those before it: `discovery` (the issuer's
//! metadata and keys), `signin` (the request, the callback's checks, the code and refresh
//! grants), `loopback` (the listener for the one HTTP request the browser makes back). The
//! errors and the session type live here, shared by all three.

mod discovery;
mod loopback;
mod signin;

use serde::{Deserialize, Serialize};

use crate::clock::UnixTime;
use crate::http::{HttpError, OAuthError, OAuthErrorCode};
use crate::jwt::JwtError;
use crate::secret::Secret;

pub use discovery::{Discovery, KeyCache, discover, fetch_jwks};
pub use loopback::{Callback, HEAD_DEADLINE, Loopback, MAX_CONNECTIONS};
pub use signin::{
    CallbackError, Grant, IdpClient, SignInRequest, code_request, parse_callback, redeem, refresh_request,
};

/// An untrusted certificate is not a network problem, so it is not called "unreachable".
fn http_prefix(e: &HttpError) -> &'static str {
    match e {
        HttpError::UntrustedCertificate { .. } => "refused",
        _ => "unreachable",
    }
}

/// Everything that can go wrong talking to the IdP.
#[derive(Debug, thiserror::Error)]
pub enum IdpError {
    /// Network or HTTP failure, or a certificate this computer does not trust.
    #[error("identity provider {prefix}: {0}", prefix = http_prefix(.0))]
    Http(#[from] HttpError),
    /// Discovery answered with another issuer.
    #[error(
        "the IdP's discovery document names issuer `{found}`, but the config says `{configured}`{hint}; fix `issuer` in the config"
    )]
    IssuerMismatch {
        /// From config.
        configured: String,
        /// From discovery.
        found: String,
        /// A note when they differ only by a trailing slash.
        hint: &'static str,
    },
    /// The IdP refused a grant.
    #[error("the identity provider refused the {grant} request: {error}")]
    Grant {
        /// "authorization_code" or "refresh_token".
        grant: &'static str,
        /// The RFC 6749 error.
        error: OAuthError,
    },
    /// The id_token failed validation.
    #[error("the id_token from the identity provider is not valid: {0}")]
    IdToken(#[from] JwtError),
    /// A token response without the tokens it must carry.
    #[error("the identity provider's token response has no {0}")]
    MissingToken(&'static str),
    /// The grant was answered, but the keys to check its new id_token could not be fetched.
    #[error("the identity provider's signing keys could not be fetched to check its new id_token: {source}")]
    KeysUnavailable {
        /// The rotated refresh token the answer carried: keep it, the old one is spent.
        rotated_refresh_token: Option<Secret>,
        /// Why the keys could not be fetched.
        #[source]
        source: Box<IdpError>,
    },
    /// The loopback callback carried something wrong.
    #[error("{0}")]
    Callback(#[from] CallbackError),
    /// Could not listen on the redirect port.
    #[error(
        "cannot listen on 127.0.0.1:{port} for the sign-in redirect: {message}; free the port or change `redirect_port`"
    )]
    Listen {
        /// The port.
        port: u16,
        /// The OS error.
        message: String,
    },
    /// The user did not finish in time.
    #[error(
        "sign-in timed out after {0} seconds without the browser coming back; run `lakepass login` again"
    )]
    Timeout(u64),
    /// A bad URL in config or discovery.
    #[error("invalid URL `{url}`: {message}")]
    Url {
        /// The URL.
        url: String,
        /// Why.
        message: String,
    },
}

impl IdpError {
    /// True when only a new interactive sign-in can help (`invalid_grant`: revoked or expired
    /// refresh token).
    pub fn needs_login(&self) -> bool {
        matches!(self, IdpError::Grant { error, .. } if error.error == OAuthErrorCode::InvalidGrant)
    }
}

/// A signed-in IdP session: what the vault keeps per IdP.
#[derive(Clone, Serialize, Deserialize)]
pub struct IdpSession {
    /// The verified id_token (a JWT).
    pub id_token: Secret,
    /// When the id_token expires.
    pub id_token_exp: UnixTime,
    /// The access token, when the IdP issued one.
    pub access_token: Option<Secret>,
    /// When the access token expires (from `expires_in`, or its `exp` if a JWT).
    pub access_token_exp: Option<UnixTime>,
    /// The refresh token; absent when the IdP gave none (then sign-in is needed hourly).
    pub refresh_token: Option<Secret>,
    /// `sub` of the id_token.
    pub subject: String,
    /// `email` or `preferred_username`, for display.
    pub username: Option<String>,
    /// When this session was last refreshed.
    pub refreshed_at: UnixTime,
    /// Set when a refresh was answered without an id_token (OIDC Core §12.2 allows it), so
    /// `id_token` is still the one from before: when that one was received. Only a new
    /// sign-in renews it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept_id_token_received_at: Option<UnixTime>,
}

impl IdpSession {
    /// Who is signed in, in the verified id_token's words: `email`, else `preferred_username`,
    /// else `sub`. What every front end shows when a sign-in completes.
    pub fn who(&self) -> &str {
        self.username.as_deref().unwrap_or(&self.subject)
    }
}

impl std::fmt::Debug for IdpSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdpSession")
            .field("subject", &self.subject)
            .field("username", &self.username)
            .field("id_token_exp", &self.id_token_exp)
            .field("has_refresh_token", &self.refresh_token.is_some())
            .field("kept_id_token_received_at", &self.kept_id_token_received_at)
            .finish()
    }
}
