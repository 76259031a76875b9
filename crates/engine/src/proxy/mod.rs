//! The authenticating proxy for coding agents that cannot ask for a token themselves.
//!
//! Claude Code re-runs an `apiKeyHelper`; Gemini CLI, OpenCode and Copilot CLI read a key once,
//! from their environment or a file, and keep it for the whole session. A token handed to them
//! is dead within the hour (databricks/unity-gateway issue #451: ucode hands Gemini CLI and
//! Copilot CLI a static token and their sessions end in 401s). So they get no token at all:
//! their base URL points at this proxy, in the running engine, which puts the engine's current
//! token on every request it forwards to the workspace.
//!
//! A grant ([`ProxyGrant`]) is a base URL `http://127.0.0.1:<port>/<key>`, where the key is 32
//! random bytes made per launch and never stored by Lakepass. `<base_url>/<rest>` is forwarded to
//! `<that workspace's host>/<rest>` and nowhere else. The threat model is the live token
//! service's (`crate::serve`): anything on this machine, any local user included, can open a
//! loopback port, so:
//! - the key is the only way in: an unknown key is answered `404` with no detail, compared in
//!   constant time, and never forwarded; each grant forwards only to its own workspace's host
//!   (never an open proxy: the target URL is built from the workspace's host, not the request);
//! - a request a browser sent (`Origin`, `Sec-Fetch-Site`/`-Dest`/`-User`; not `Sec-Fetch-Mode`
//!   alone, which Node's `fetch` sends on every request) or with a `Host` that is not loopback
//!   (DNS rebinding) is refused, with the live service's own checks
//!   ([`crate::serve::refuse_browser_or_rebinding`]);
//! - the agent's own credential headers (`Authorization`, `x-api-key`, `x-goog-api-key`,
//!   `api-key`) and hop-by-hop headers are dropped, and `Authorization: Bearer <token>` is set
//!   from the engine on every request: nothing depends on a timer, so after a laptop's sleep the
//!   next request carries a fresh token;
//! - on a 401/403 (or the AI Gateway's 400 "Invalid Token") the token is re-exchanged once and
//!   the request retried once, when its body was small enough to keep ([`MAX_REPLAY`]);
//! - bodies stream both ways unbuffered (an SSE answer flows event by event), and bodies, keys
//!   and tokens are never logged;
//! - connections are bounded by the engine's one bounded accept loop.
//!
//! The proxy belongs to whichever engine owns the engine socket (the daemon or the tray): its
//! grants are asked for over that socket ([`open_grant`]), it binds its port on the first grant,
//! and it stops with the socket server. Grants live as long as the engine; a restarted engine
//! has new keys and a new port, so an agent started before must be started again.

mod forward;
mod grants;
mod server;

pub use forward::{
    AGENT_CREDENTIAL_HEADERS, MAX_REPLAY, admit, forwarded_headers, needs_new_token, returned_headers,
    target_url,
};
pub use grants::MAX_GRANTS;
pub use server::Proxy;

use lakepass_config::Config;
use lakepass_store::paths::Paths;
use lakepass_wire::host::WorkspaceHost;
use lakepass_wire::secret::Secret;

use crate::engine::EngineError;
use crate::error::ErrorKind;
use crate::ipc::{self, IpcError, OpenProxyRequest, Reply};

/// A grant on the proxy: the base URL an agent is given instead of a token.
///
/// `Debug` never prints the URL (it holds the key); read it with `base_url.secret()`.
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyGrant {
    /// `http://127.0.0.1:<port>/<per-launch key>`, no trailing slash.
    pub base_url: Secret,
    /// The workspace host it forwards to.
    pub host: WorkspaceHost,
}

impl std::fmt::Debug for ProxyGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyGrant").field("host", &self.host).finish_non_exhaustive()
    }
}

impl ProxyGrant {
    /// `<base_url><path>` (`path` starts with `/`), e.g. the AI Gateway's Gemini root
    /// `/ai-gateway/gemini`. A secret, like the base URL.
    pub fn url(&self, path: &str) -> Secret {
        Secret::new(format!("{}{path}", self.base_url.secret()))
    }
}

/// Why a grant could not be had.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// No engine listens on the engine socket: start one (`lakepass daemon`, or the tray app).
    #[error(
        "no Lakepass engine is running (nothing listens on {}); the agent's proxy lives in the \
         engine: start `lakepass daemon` or the Lakepass app",
        socket.display()
    )]
    NoEngine {
        /// The engine socket.
        socket: std::path::PathBuf,
    },
    /// The engine answered with a failure (no token: a sign-in is needed; unknown workspace…).
    #[error("{message}")]
    Refused {
        /// The engine's kind.
        kind: ErrorKind,
        /// What happened and what to do.
        message: String,
    },
    /// Talking to the engine failed, or its socket is not this user's.
    #[error(transparent)]
    Ipc(IpcError),
    /// The proxy could not bind its loopback port.
    #[error("the agents' proxy cannot listen on 127.0.0.1: {0}")]
    Bind(std::io::Error),
}

impl ProxyError {
    /// Its kind, for exit codes and front ends.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ProxyError::NoEngine { .. } => ErrorKind::Launch,
            ProxyError::Refused { kind, .. } => *kind,
            ProxyError::Ipc(_) | ProxyError::Bind(_) => ErrorKind::Unexpected,
        }
    }
}

/// A grant for `workspace` from the engine running for `paths` (the daemon or the tray), over
/// the engine socket. The workspace's host is read from the config at `paths.config`, and the
/// engine refuses a grant for a same-named workspace at another host.
///
/// [`ProxyError::NoEngine`] (inside [`EngineError::Proxy`]) means no engine runs: the launcher
/// starts one and asks again.
pub async fn open_grant(paths: &Paths, workspace: &str) -> Result<ProxyGrant, EngineError> {
    let config = Config::load(&paths.config)?;
    let ws = config.workspace(Some(workspace))?;
    open_grant_at(&ipc::socket_path(paths), &ws.name, &ws.host).await.map_err(EngineError::from)
}

/// [`open_grant`] at a given engine socket, for a workspace already resolved.
pub async fn open_grant_at(
    socket: &std::path::Path,
    workspace: &str,
    host: &WorkspaceHost,
) -> Result<ProxyGrant, ProxyError> {
    let req = OpenProxyRequest { workspace: workspace.into(), host: host.to_string() };
    match ipc::open_proxy(socket, &req).await {
        Ok(Reply::ProxyGrant { base_url, host: granted }) => {
            // The engine forwards to the host it resolved; it must be the one asked for.
            if WorkspaceHost::parse(&granted).ok().as_ref() != Some(host) {
                return Err(ProxyError::Refused {
                    kind: ErrorKind::UnknownWorkspace,
                    message: format!("the running engine's workspace `{workspace}` is at another host"),
                });
            }
            Ok(ProxyGrant { base_url, host: host.clone() })
        }
        Ok(Reply::Error { kind, message }) => Err(ProxyError::Refused { kind, message }),
        Ok(_) => Err(ProxyError::Ipc(IpcError::Protocol {
            path: socket.into(),
            reason: "the engine answered a proxy request with something else".into(),
        })),
        Err(IpcError::NoServer { path }) => Err(ProxyError::NoEngine { socket: path }),
        Err(e) => Err(ProxyError::Ipc(e)),
    }
}

#[cfg(test)]
mod tests;
