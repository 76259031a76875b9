//! A local channel from `lakepass token` to the running engine (the daemon or the tray app).
//!
//! `lakepass token --raw` is Claude Code's `apiKeyHelper` and a scripting helper: it runs often,
//! and in parallel. Opening the keyring and reading every token in each of those processes
//! costs tens of milliseconds (seconds when D-Bus is slow); the engine already holds a fresh
//! token in memory. So the engine listens on a local socket, and the CLI asks it first:
//! - Unix: a socket `lakepass.sock` in `$XDG_RUNTIME_DIR/lakepass/` (a per-user, memory-backed
//!   folder), or in the data dir when there is no runtime dir or `LAKEPASS_DATA_DIR` names a
//!   separate installation. The folder is 0700 and the socket 0600, and the server checks
//!   that each peer runs as its own user (`SO_PEERCRED` / `getpeereid`). The client checks that
//!   the server is the owner of that private folder.
//! - Windows: a named pipe named after the data dir, local clients only.
//!
//! The server is a [`LineServer`], the one same-user line server in Lakepass (the dashboard's
//! socket is another): the socket's walls, a cap on clients at once ([`MAX_CLIENTS`]; the
//! others wait to be accepted), a first line within [`FIRST_LINE_TIMEOUT`] or the client is
//! dropped, and the socket removed when the server stops.
//!
//! The protocol is one JSON line each way, then close: a [`Request`] and a [`Reply`].
//! - A [`TokenRequest`] names the workspace and its host (so a daemon running another config
//!   cannot answer for a same-named workspace elsewhere); the reply is the token and its expiry,
//!   or an error `kind` the CLI maps to its exit codes. A client that finds no server (no socket,
//!   connection refused, no answer in [`CONNECT_TIMEOUT`]) falls back to refreshing itself under
//!   the per-workspace lock. Untagged token lines (the first protocol: exactly `workspace` and
//!   `host`) are still understood.
//! - Requests are parsed strictly: an unknown `request`, a field a request does not have or a
//!   scope that is not one of [`McpScope`] is an error answer ([`BadRequest`]), never a token.
//!   (A lenient parse once read `{"request":"scoped_token",…,"scope":"all-apis"}` as an
//!   untagged token request and answered with the workspace's broad token.)
//! - A [`ScopedTokenRequest`] also names one managed-MCP [`McpScope`]: the reply is that
//!   workspace's token for that scope (carrying only it, or, where the workspace refused the
//!   scope and no `least_privilege` forbids it, the workspace's own token standing in: see
//!   [`crate::mcp`]), and says which scope it serves (`scope`), so a client that asked
//!   for a scope refuses an answer without it (an older engine would read the line as a plain
//!   token request and answer with the workspace's broad token).
//! - A [`SignOutRequest`] names an IdP and its issuer: `lakepass logout` (or the tray, when
//!   another engine owns the socket) tells the running engine, which forgets the session and
//!   its tokens at once. Without it the engine would keep serving the tokens it holds in memory
//!   (over this socket and the live token service) until they expire.
//! - A [`SignedInRequest`] names an IdP and its issuer: `lakepass login` (or the tray) tells the
//!   running engine that it signed in, and the engine adopts the new tokens at once, so its
//!   `-live` profiles come back now rather than at its next pass ([`MAX_SLEEP`] later).
//! - An [`OpenProxyRequest`] names a workspace and its host: the engine opens a grant on its
//!   authenticating proxy for coding agents ([`crate::proxy`]) and answers with the grant's
//!   base URL (`http://127.0.0.1:<port>/<per-launch key>`), after checking it holds a token for
//!   that workspace (so a launch stops plainly at a missing sign-in). The URL is the only way
//!   into the proxy, so the reply is a secret like a token.
//!
//! [`MAX_SLEEP`]: crate::engine::MAX_SLEEP

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use crate::engine::Engine;
use crate::error::ErrorKind;
use crate::mcp::McpScope;
use crate::proxy::Proxy;
use lakepass_config::Workspace;
use lakepass_store::paths::Paths;
use lakepass_wire::clock::UnixTime;
use lakepass_wire::exchange::WorkspaceToken;
use lakepass_wire::host::WorkspaceHost;
use lakepass_wire::secret::Secret;

mod accept;
mod line_server;
#[cfg(unix)]
mod unix;
#[cfg(unix)]
use unix as platform;
#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows as platform;

pub(crate) use accept::accept_bounded;
pub use line_server::{
    Connection, FIRST_LINE_TIMEOUT, Limits, LineHandler, LineServer, LocalStream, MAX_CLIENTS,
};
/// The client's side of the same-user checks, for another local protocol beside the engine's
/// (the dashboard's link to the Linux tray, `lakepass_app::remote`): it trusts only a server of
/// its own user, in a private folder of its own user.
#[cfg(unix)]
pub use unix::connect as connect_local;

/// The socket's file name.
pub const SOCKET_NAME: &str = "lakepass.sock";
/// How long a client waits to reach a server before falling back.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_millis(100);
/// How long a client waits for the answer once connected: the engine may be refreshing.
pub(crate) const REPLY_TIMEOUT: Duration = Duration::from_secs(90);
/// Longest request or reply line.
const MAX_LINE: u64 = 16 * 1024;

/// Where the engine's socket is for `paths`, from the environment (see the module docs).
pub fn socket_path(paths: &Paths) -> PathBuf {
    // Chosen: named by the variable, or another folder than the default (a helper link's
    // process has its data dir from the link, not from the variable).
    let data_dir_set = std::env::var_os("LAKEPASS_DATA_DIR").is_some_and(|v| !v.is_empty())
        || paths.data_dir != Paths::default_data_dir();
    let runtime = std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty()).map(PathBuf::from);
    socket_path_in(&paths.data_dir, runtime.as_deref(), data_dir_set)
}

/// [`socket_path`] without the environment: `runtime_dir/lakepass/lakepass.sock` unless the
/// data dir was chosen explicitly or there is no runtime dir.
pub(crate) fn socket_path_in(
    data_dir: &Path,
    runtime_dir: Option<&Path>,
    data_dir_explicit: bool,
) -> PathBuf {
    match runtime_dir {
        Some(r) if !data_dir_explicit => r.join("lakepass").join(SOCKET_NAME),
        _ => data_dir.join(SOCKET_NAME),
    }
}

/// What the CLI asks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// The workspace's name in the config.
    pub workspace: String,
    /// Its host as the asking process resolved it: the server refuses a mismatch.
    pub host: String,
}

/// A token for a workspace carrying only one managed-MCP scope (`lakepass token --scope`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopedTokenRequest {
    /// The workspace's name in the config.
    pub workspace: String,
    /// Its host as the asking process resolved it: the server refuses a mismatch.
    pub host: String,
    /// The one scope the token may carry.
    pub scope: McpScope,
}

/// Sign out of an IdP: what `lakepass logout` asks the running engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignOutRequest {
    /// The IdP's name in the config.
    pub idp: String,
    /// Its issuer as the asking process configured it: the server refuses a mismatch.
    pub issuer: String,
}

/// Signed in to an IdP in another process: what `lakepass login` tells the running engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedInRequest {
    /// The IdP's name in the config.
    pub idp: String,
    /// Its issuer as the asking process configured it: the server refuses a mismatch.
    pub issuer: String,
}

/// Open a grant on the engine's proxy for coding agents ([`crate::proxy`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenProxyRequest {
    /// The workspace's name in the config.
    pub workspace: String,
    /// Its host as the asking process resolved it: the server refuses a mismatch (a grant
    /// forwards to the engine's host for that name, which must be the one the launch means).
    pub host: String,
}

/// One request line. Serialized with a `request` tag; a line without one is a [`TokenRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "request", rename_all = "snake_case")]
pub enum Request {
    /// A token for a workspace.
    Token(TokenRequest),
    /// Sign out of an IdP.
    SignOut(SignOutRequest),
    /// A token for a workspace carrying one managed-MCP scope.
    ScopedToken(ScopedTokenRequest),
    /// Signed in to an IdP elsewhere: adopt its tokens now.
    SignedIn(SignedInRequest),
    /// A grant on the proxy for coding agents.
    OpenProxy(OpenProxyRequest),
}

/// A request line that is not a request: answered with an error, never with a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the request is not a request line: {0}")]
pub struct BadRequest(String);

impl Request {
    /// Parses a request line strictly: tagged, with no field its request does not have, or an
    /// untagged token request of the first protocol (exactly `workspace` and `host`). A line
    /// with a `request` tag is only ever read as that request.
    pub fn parse(line: &str) -> Result<Request, BadRequest> {
        let value: serde_json::Value =
            serde_json::from_str(line).map_err(|e| BadRequest(format!("not JSON ({e})")))?;
        let tagged = value.get("request").is_some();
        let parsed = if tagged {
            serde_json::from_value::<Request>(value)
        } else {
            serde_json::from_value::<TokenRequest>(value).map(Request::Token)
        };
        parsed.map_err(|e| BadRequest(e.to_string()))
    }
}

/// What the engine answers.
#[derive(Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Reply {
    /// A valid token.
    Ok {
        /// The bearer token.
        access_token: Secret,
        /// When it expires.
        expires_at: UnixTime,
        /// The workspace that minted it.
        host: String,
        /// The managed-MCP scope it was minted for alone; `None` for the workspace's token.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scope: Option<McpScope>,
    },
    /// Signed out; these `~/.databrickscfg` profiles were removed.
    SignedOut {
        /// The profiles removed.
        removed: Vec<String>,
    },
    /// Adopted a sign-in; these workspaces' tokens are served now.
    SignedIn {
        /// The workspaces.
        workspaces: Vec<String>,
    },
    /// A grant on the engine's proxy for coding agents ([`crate::proxy::ProxyGrant`]).
    ProxyGrant {
        /// `http://127.0.0.1:<port>/<per-launch key>`: whoever holds it gets requests sent to
        /// the workspace with its token.
        base_url: Secret,
        /// The workspace host the grant forwards to.
        host: String,
    },
    /// No token: `kind` is stable (`unknown_workspace`, `needs_login`, `network`,
    /// `federation_rejected`, `bad_request`, …), `message` is for people.
    Error {
        /// A stable kind.
        kind: ErrorKind,
        /// What happened and what to do.
        message: String,
    },
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reply::Ok { expires_at, host, scope, .. } => f
                .debug_struct("Ok")
                .field("expires_at", expires_at)
                .field("host", host)
                .field("scope", scope)
                .finish_non_exhaustive(),
            Reply::SignedOut { removed } => f.debug_struct("SignedOut").field("removed", removed).finish(),
            Reply::SignedIn { workspaces } => {
                f.debug_struct("SignedIn").field("workspaces", workspaces).finish()
            }
            Reply::ProxyGrant { host, .. } => {
                f.debug_struct("ProxyGrant").field("host", host).finish_non_exhaustive()
            }
            Reply::Error { kind, message } => {
                f.debug_struct("Error").field("kind", kind).field("message", message).finish()
            }
        }
    }
}

/// Why the IPC server could not start, or a client could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum IpcError {
    /// A live server already owns the socket.
    #[error(
        "another Lakepass engine (a `lakepass daemon` or the tray app) is already running and \
         listening on {path}; stop it first, or use that one"
    )]
    AlreadyRunning {
        /// The socket.
        path: PathBuf,
    },
    /// The socket (or its folder) could not be created, secured or bound.
    #[error("cannot listen on {path}: {source}; check that its folder is yours and writable")]
    Bind {
        /// The socket.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// No server answers there: the caller falls back to refreshing itself.
    #[error("no Lakepass engine is listening on {path}")]
    NoServer {
        /// The socket.
        path: PathBuf,
    },
    /// The server is not this user's (wrong owner or permissions): never trust it.
    #[error("refusing the engine socket {path}: {reason}")]
    Untrusted {
        /// The socket.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The conversation broke (timeout, bad line).
    #[error("talking to the Lakepass engine on {path} failed: {reason}")]
    Protocol {
        /// The socket.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
}

/// A running IPC server. Dropping it stops it and removes the socket.
#[derive(Debug)]
pub struct IpcServer {
    server: LineServer,
}

/// The engine socket's limits: [`MAX_CLIENTS`] at once, [`FIRST_LINE_TIMEOUT`] for the request.
const LIMITS: Limits = Limits::with_max_line(MAX_LINE);

impl IpcServer {
    /// Listens at `path` and answers every request from `engine`. A stale socket left by a
    /// crashed engine is replaced; a live one is [`IpcError::AlreadyRunning`].
    /// The proxy for coding agents ([`crate::proxy::Proxy`]) comes with it, bound on the first
    /// grant asked for.
    pub async fn start(engine: Engine, path: PathBuf) -> Result<IpcServer, IpcError> {
        let proxy = Proxy::new(engine.clone());
        let server = LineServer::start(path, LIMITS, "engine socket", EngineLines { engine, proxy }).await?;
        Ok(IpcServer { server })
    }

    /// The socket path (or pipe name source) it listens on.
    pub fn path(&self) -> &Path {
        self.server.path()
    }
}

/// The engine's side of the protocol: one request line, one reply line, then close.
struct EngineLines {
    engine: Engine,
    proxy: Proxy,
}

impl LineHandler for EngineLines {
    async fn handle(&self, line: String, mut conn: Connection) -> std::io::Result<()> {
        let engine = &self.engine;
        let reply = match Request::parse(line.trim_end()) {
            Ok(Request::Token(req)) => answer(engine, &req).await,
            Ok(Request::SignOut(req)) => sign_out_answer(engine, &req).await,
            Ok(Request::ScopedToken(req)) => scoped_answer(engine, &req).await,
            Ok(Request::SignedIn(req)) => signed_in_answer(engine, &req).await,
            Ok(Request::OpenProxy(req)) => open_proxy_answer(engine, &self.proxy, &req).await,
            Err(bad) => error_reply(ErrorKind::BadRequest, &bad.to_string()),
        };
        let mut out = serde_json::to_vec(&reply).expect("reply serializes");
        out.push(b'\n');
        conn.write.write_all(&out).await?;
        out.fill(0);
        conn.write.shutdown().await
    }
}

/// The answer to one request: never a token for a workspace other than the one asked for.
pub async fn answer(engine: &Engine, req: &TokenRequest) -> Reply {
    let ws = match asked_workspace(engine, &req.workspace, &req.host) {
        Ok(ws) => ws,
        Err(refused) => return refused,
    };
    match engine.live_token(ws).await {
        Ok(t) => token_reply(&t, None),
        Err(e) => error_reply(e.kind(), &e.to_string()),
    }
}

/// The answer to a scoped request: only ever the token the engine serves that workspace and
/// scope with (its own, or the workspace's standing in for a refused scope).
pub(crate) async fn scoped_answer(engine: &Engine, req: &ScopedTokenRequest) -> Reply {
    let ws = match asked_workspace(engine, &req.workspace, &req.host) {
        Ok(ws) => ws,
        Err(refused) => return refused,
    };
    match engine.live_scoped_token(ws, req.scope).await {
        Ok(t) => token_reply(&t, Some(req.scope)),
        Err(e) => error_reply(e.kind(), &e.to_string()),
    }
}

/// Signs the engine out of the asked IdP, if it runs the same one (same name and issuer).
pub(crate) async fn sign_out_answer(engine: &Engine, req: &SignOutRequest) -> Reply {
    let same = engine.config().idp.get(&req.idp).is_some_and(|i| i.issuer == req.issuer);
    if !same {
        return error_reply(
            ErrorKind::UnknownWorkspace,
            &format!("the running engine has no identity provider `{}` with that issuer", req.idp),
        );
    }
    match engine.logout(&req.idp).await {
        Ok(removed) => Reply::SignedOut { removed },
        Err(e) => error_reply(e.kind(), &e.to_string()),
    }
}

/// Adopts a sign-in made in another process, if the engine runs the same IdP (name and issuer).
pub(crate) async fn signed_in_answer(engine: &Engine, req: &SignedInRequest) -> Reply {
    let same = engine.config().idp.get(&req.idp).is_some_and(|i| i.issuer == req.issuer);
    if !same {
        return error_reply(
            ErrorKind::UnknownWorkspace,
            &format!("the running engine has no identity provider `{}` with that issuer", req.idp),
        );
    }
    Reply::SignedIn { workspaces: engine.adopt_sign_in(&req.idp).await }
}

/// Opens a proxy grant for the asked workspace (same name and host), once the engine holds a
/// token for it: a launch with no sign-in stops here, plainly.
pub(crate) async fn open_proxy_answer(engine: &Engine, proxy: &Proxy, req: &OpenProxyRequest) -> Reply {
    let ws = match asked_workspace(engine, &req.workspace, &req.host) {
        Ok(ws) => ws,
        Err(refused) => return refused,
    };
    if let Err(e) = engine.live_token(ws).await {
        return error_reply(e.kind(), &e.to_string());
    }
    match proxy.grant(ws).await {
        Ok(grant) => Reply::ProxyGrant { base_url: grant.base_url, host: grant.host.to_string() },
        Err(e) => error_reply(e.kind(), &e.to_string()),
    }
}

fn token_reply(t: &WorkspaceToken, scope: Option<McpScope>) -> Reply {
    Reply::Ok {
        access_token: t.access_token.clone(),
        expires_at: t.expires_at,
        host: t.host.to_string(),
        scope,
    }
}

/// The engine's workspace `name`, only when it is at `host`: a request naming a workspace this
/// engine knows under another host (another config) is refused, never answered.
fn asked_workspace<'e>(engine: &'e Engine, name: &str, host: &str) -> Result<&'e Workspace, Reply> {
    let asked = WorkspaceHost::parse(host).ok();
    engine.workspace_named(name).filter(|ws| asked.as_ref() == Some(&ws.host)).ok_or_else(|| {
        error_reply(
            ErrorKind::UnknownWorkspace,
            &format!("the running engine has no workspace `{name}` at that host"),
        )
    })
}

fn error_reply(kind: ErrorKind, message: &str) -> Reply {
    Reply::Error { kind, message: message.into() }
}

/// Asks the engine listening at `path` for `req`'s token.
///
/// [`IpcError::NoServer`] means nobody listens (or nobody answered the connection in
/// [`CONNECT_TIMEOUT`]): fall back. An [`Reply::Error`] is the engine's considered answer.
pub async fn ask(path: &Path, req: &TokenRequest) -> Result<Reply, IpcError> {
    ask_with(path, req, CONNECT_TIMEOUT, REPLY_TIMEOUT).await
}

/// [`ask`] with explicit timeouts.
pub(crate) async fn ask_with(
    path: &Path,
    req: &TokenRequest,
    connect_timeout: Duration,
    reply_timeout: Duration,
) -> Result<Reply, IpcError> {
    converse(path, &Request::Token(req.clone()), connect_timeout, reply_timeout).await
}

/// Asks the engine listening at `path` for a token carrying only `req.scope`.
pub async fn ask_scoped(path: &Path, req: &ScopedTokenRequest) -> Result<Reply, IpcError> {
    converse(path, &Request::ScopedToken(req.clone()), CONNECT_TIMEOUT, REPLY_TIMEOUT).await
}

/// Tells the engine listening at `path` to sign out of `req`'s IdP. [`IpcError::NoServer`]
/// means no engine runs: nothing holds tokens in memory, so there is nobody to tell.
pub async fn sign_out(path: &Path, req: &SignOutRequest) -> Result<Reply, IpcError> {
    converse(path, &Request::SignOut(req.clone()), CONNECT_TIMEOUT, REPLY_TIMEOUT).await
}

/// Tells the engine listening at `path` that this process signed in to `req`'s IdP, and waits
/// until it has adopted the new tokens. [`IpcError::NoServer`]: no engine runs, nobody to tell.
pub async fn signed_in(path: &Path, req: &SignedInRequest) -> Result<Reply, IpcError> {
    converse(path, &Request::SignedIn(req.clone()), CONNECT_TIMEOUT, REPLY_TIMEOUT).await
}

/// Asks the engine listening at `path` for a grant on its proxy for coding agents
/// ([`crate::proxy::open_grant`] is the launchers' way in).
pub async fn open_proxy(path: &Path, req: &OpenProxyRequest) -> Result<Reply, IpcError> {
    converse(path, &Request::OpenProxy(req.clone()), CONNECT_TIMEOUT, REPLY_TIMEOUT).await
}

async fn converse(
    path: &Path,
    req: &Request,
    connect_timeout: Duration,
    reply_timeout: Duration,
) -> Result<Reply, IpcError> {
    let no_server = || IpcError::NoServer { path: path.into() };
    let stream = match tokio::time::timeout(connect_timeout, platform::connect(path)).await {
        Ok(Ok(s)) => s,
        Ok(Err(IpcError::NoServer { .. })) | Err(_) => return Err(no_server()),
        Ok(Err(e)) => return Err(e),
    };
    let protocol = |reason: String| IpcError::Protocol { path: path.into(), reason };
    let (read, mut write) = tokio::io::split(stream);
    let mut line = serde_json::to_vec(req).expect("request serializes");
    line.push(b'\n');
    let conversation = async {
        write.write_all(&line).await?;
        let mut reply = String::new();
        BufReader::new(read).take(MAX_LINE).read_line(&mut reply).await?;
        Ok::<_, std::io::Error>(reply)
    };
    let reply = match tokio::time::timeout(reply_timeout, conversation).await {
        Ok(Ok(r)) => Secret::new(r),
        Ok(Err(e)) => return Err(protocol(e.to_string())),
        Err(_) => return Err(protocol(format!("no answer within {reply_timeout:?}"))),
    };
    serde_json::from_str(reply.secret().trim_end())
        .map_err(|_| protocol("the engine's answer is not a reply line".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_lives_in_the_runtime_dir_unless_the_data_dir_is_explicit() {
        let data = Path::new("/d");
        let run = Path::new("/run/user/1000");
        assert_eq!(
            socket_path_in(data, Some(run), false),
            Path::new("/run/user/1000/lakepass/lakepass.sock")
        );
        assert_eq!(socket_path_in(data, Some(run), true), Path::new("/d/lakepass.sock"));
        assert_eq!(socket_path_in(data, None, false), Path::new("/d/lakepass.sock"));
    }

    #[test]
    fn replies_round_trip_and_never_debug_the_token() {
        let r = Reply::Ok {
            access_token: Secret::new("dvs-secret-token"),
            expires_at: 5,
            host: "https://a.example".into(),
            scope: None,
        };
        let line = serde_json::to_string(&r).unwrap();
        assert!(line.contains(r#""status":"ok""#), "{line}");
        assert!(!format!("{r:?}").contains("dvs-secret"));
        let g = Reply::ProxyGrant {
            base_url: Secret::new("http://127.0.0.1:1/key-secret"),
            host: "https://a.example".into(),
        };
        let grant_line = serde_json::to_string(&g).unwrap();
        assert!(grant_line.contains(r#""status":"proxy_grant""#), "{grant_line}");
        assert!(!format!("{g:?}").contains("key-secret"));
        let back: Reply = serde_json::from_str(&line).unwrap();
        assert!(matches!(back, Reply::Ok { expires_at: 5, .. }));
        let e: Reply =
            serde_json::from_str(r#"{"status":"error","kind":"needs_login","message":"m"}"#).unwrap();
        assert!(matches!(e, Reply::Error { kind: ErrorKind::NeedsLogin, .. }));
    }

    #[test]
    fn requests_are_tagged_and_old_token_lines_still_parse() {
        let token = TokenRequest { workspace: "dev".into(), host: "https://a.example".into() };
        let old = serde_json::to_string(&token).unwrap();
        assert_eq!(Request::parse(&old), Ok(Request::Token(token.clone())));
        let tagged = serde_json::to_string(&Request::Token(token.clone())).unwrap();
        assert!(tagged.contains(r#""request":"token""#), "{tagged}");
        assert_eq!(Request::parse(&tagged), Ok(Request::Token(token)));
        let out = Request::SignOut(SignOutRequest { idp: "corp".into(), issuer: "https://i".into() });
        let line = serde_json::to_string(&out).unwrap();
        assert!(line.contains(r#""request":"sign_out""#), "{line}");
        assert_eq!(Request::parse(&line), Ok(out));
        assert!(Request::parse(r#"{"request":"dance"}"#).is_err());
        let scoped = Request::ScopedToken(ScopedTokenRequest {
            workspace: "dev".into(),
            host: "https://a.example".into(),
            scope: McpScope::Sql,
        });
        let line = serde_json::to_string(&scoped).unwrap();
        assert!(line.contains(r#""request":"scoped_token""#) && line.contains(r#""scope":"sql""#), "{line}");
        assert_eq!(Request::parse(&line), Ok(scoped));
        let signed_in = Request::SignedIn(SignedInRequest { idp: "corp".into(), issuer: "https://i".into() });
        let line = serde_json::to_string(&signed_in).unwrap();
        assert!(line.contains(r#""request":"signed_in""#), "{line}");
        assert_eq!(Request::parse(&line), Ok(signed_in));
        let open = Request::OpenProxy(OpenProxyRequest {
            workspace: "dev".into(),
            host: "https://a.example".into(),
        });
        let line = serde_json::to_string(&open).unwrap();
        assert!(line.contains(r#""request":"open_proxy""#), "{line}");
        assert_eq!(Request::parse(&line), Ok(open));
        // Strict: no field it does not have, and never read as a token request.
        assert!(
            Request::parse(
                r#"{"request":"open_proxy","workspace":"dev","host":"https://a.example","scope":"sql"}"#
            )
            .is_err()
        );
        assert!(Request::parse(r#"{"request":"open_proxy","workspace":"dev"}"#).is_err());
        let r: Reply = serde_json::from_str(r#"{"status":"signed_in","workspaces":["dev"]}"#).unwrap();
        assert!(matches!(r, Reply::SignedIn { workspaces } if workspaces == ["dev"]));
        let r: Reply = serde_json::from_str(r#"{"status":"signed_out","removed":["dev"]}"#).unwrap();
        assert!(matches!(r, Reply::SignedOut { removed } if removed == ["dev"]));
    }
}
