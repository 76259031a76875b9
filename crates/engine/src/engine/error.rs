//! What the engine can fail with, and the [`ErrorKind`] each failure is.

use crate::error::{ErrorKind, Failure};
use crate::roles::RoleError;
use crate::store::StoreError;
use lakepass_config::ConfigError;
use lakepass_store::lock::LockError;
use lakepass_wire::exchange::ExchangeError;
use lakepass_wire::http::HttpError;
use lakepass_wire::idp::IdpError;

/// Why a sign-in is needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginCause {
    /// No session is stored (never signed in, or signed out).
    NotSignedIn,
    /// The IdP refused the refresh token (revoked, expired, signed out elsewhere).
    SessionEnded,
    /// The IdP issued no refresh token.
    NoRefreshToken,
    /// The session lacks the token the workspace exchanges (no access_token).
    MissingSubjectToken,
    /// The IdP answered the refresh without a new id_token (OIDC Core §12.2), and the
    /// workspace exchanges the id_token.
    IdTokenNotRenewed,
}

/// Everything the engine can fail with; each says what to do next.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Bad config.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Vault trouble.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Never signed in, or the session is gone.
    #[error("not signed in to identity provider `{idp}`{}; run `lakepass login --idp {idp}`", reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default())]
    NeedsLogin {
        /// The IdP.
        idp: String,
        /// Why, in words, when known (e.g. the refresh token was revoked).
        reason: Option<String>,
        /// Why, as data.
        cause: LoginCause,
    },
    /// Talking to the IdP failed.
    #[error(transparent)]
    Idp(#[from] IdpError),
    /// The exchange failed.
    #[error(transparent)]
    Exchange(#[from] ExchangeError),
    /// Another process held a lock too long.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// Role mapping found no service principal for the user's roles.
    #[error(transparent)]
    NoMappedRole(#[from] RoleError),
    /// An M2M workspace whose client secret is not in the vault.
    #[error(
        "workspace `{workspace}` signs in as service principal `{client_id}`, but its client secret is \
         not in the vault; enter it with `lakepass workspace set-secret {workspace}` (it is read from \
         stdin or a prompt, never from the command line)"
    )]
    NeedsSecret {
        /// The workspace.
        workspace: String,
        /// The service principal's application id.
        client_id: String,
    },
    /// The workspace would not give a managed MCP scope a token of its own, and the workspace
    /// token may not (or cannot) stand in.
    #[error(
        "workspace `{workspace}` will not give managed MCP scope `{scope}` a token of its own ({reason}); {hint}"
    )]
    McpScopeRefused {
        /// The workspace.
        workspace: String,
        /// The scope asked for.
        scope: crate::mcp::McpScope,
        /// What the workspace said.
        reason: String,
        /// What to do about it.
        hint: String,
    },
    /// The workspace answered a request for one MCP scope with a token for another.
    #[error(
        "workspace `{workspace}` answered a request for scope `{asked}` with a token for `{got}`; a token \
         for another scope than the one asked is never used. Run `lakepass doctor --workspace {workspace}`"
    )]
    McpWrongScope {
        /// The workspace.
        workspace: String,
        /// The scope asked for.
        asked: crate::mcp::McpScope,
        /// The scope the answer carried.
        got: String,
    },
    /// No grant on the agents' proxy (no engine runs, or it refused).
    #[error(transparent)]
    Proxy(#[from] crate::proxy::ProxyError),
}

impl EngineError {
    /// A sign-in is needed for `idp`, for `cause`, explained by `reason`.
    pub fn needs_login(idp: &str, cause: LoginCause, reason: Option<String>) -> Self {
        EngineError::NeedsLogin { idp: idp.to_string(), reason, cause }
    }

    /// Its kind, for exit codes and for the UI to act on.
    pub fn kind(&self) -> ErrorKind {
        match self {
            EngineError::Config(_) => ErrorKind::Config,
            EngineError::Store(_) => ErrorKind::Vault,
            EngineError::NeedsLogin { cause, .. } => match cause {
                LoginCause::SessionEnded => ErrorKind::SessionEnded,
                LoginCause::NoRefreshToken => ErrorKind::NoRefreshToken,
                LoginCause::NotSignedIn | LoginCause::MissingSubjectToken | LoginCause::IdTokenNotRenewed => {
                    ErrorKind::NeedsLogin
                }
            },
            EngineError::Idp(e) if e.needs_login() => ErrorKind::SessionEnded,
            EngineError::Idp(IdpError::Http(HttpError::UntrustedCertificate { .. }))
            | EngineError::Exchange(ExchangeError::Http {
                source: HttpError::UntrustedCertificate { .. },
                ..
            }) => ErrorKind::UntrustedCertificate,
            EngineError::Idp(IdpError::Http(_) | IdpError::KeysUnavailable { .. })
            | EngineError::Exchange(ExchangeError::Http { .. }) => ErrorKind::Network,
            EngineError::Idp(_) => ErrorKind::Idp,
            EngineError::Exchange(_) => ErrorKind::FederationRejected,
            EngineError::Lock(_) => ErrorKind::Lock,
            EngineError::NoMappedRole(_) => ErrorKind::NoMappedRole,
            EngineError::NeedsSecret { .. } => ErrorKind::NeedsSecret,
            EngineError::McpScopeRefused { .. } | EngineError::McpWrongScope { .. } => {
                ErrorKind::FederationRejected
            }
            EngineError::Proxy(e) => e.kind(),
        }
    }

    /// The server's OAuth error code (`invalid_grant`, `invalid_request`, …), when it sent one.
    pub fn error_code(&self) -> Option<&str> {
        match self {
            EngineError::Exchange(ExchangeError::Rejected { error, .. }) => Some(error.error.as_str()),
            EngineError::Idp(IdpError::Grant { error, .. }) => Some(error.error.as_str()),
            _ => None,
        }
    }

    /// The failure to remember and show: kind and message.
    pub fn failure(&self) -> Failure {
        Failure::new(self.kind(), self.to_string())
    }
}
