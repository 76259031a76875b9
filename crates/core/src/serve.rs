//! The live token service: the Databricks "metadata service" protocol on loopback.
//!
//! A token copied into `~/.databrickscfg` is stale within the hour, yet notebooks, scripts and
//! the Databricks CLI run for days. The Databricks SDKs (Go, Python, JS, hence the CLI) can
//! instead ask a local server for a token whenever theirs expires: with
//! `metadata_service_url = http://127.0.0.1:PORT/…` and `auth_type = metadata-service` in a
//! profile they send `GET <url>` with `X-Databricks-Metadata-Version: 1` and
//! `X-Databricks-Host: <host>`, and expect `{"access_token","token_type":"Bearer",
//! "expires_on":<unix seconds>}`. This module serves exactly that from the running
//! [`Engine`], so a `<profile>-live` profile never goes stale while Lakepass runs.
//!
//! Anything on this machine can open a loopback port, so every request is checked before a
//! token leaves:
//! - one URL per workspace, `/<workspace>/<path secret>`, where the path secret is 32 random
//!   bytes (base64url) kept in the vault per workspace: knowing one workspace's URL says nothing
//!   about another's, and a wrong secret is compared in constant time;
//! - `X-Databricks-Metadata-Version` must be `1` and `X-Databricks-Host` must be the URL's own
//!   workspace (both sides normalised by [`WorkspaceHost::parse`]): never a token for another
//!   workspace;
//! - a request carrying a browser's `Origin` or `Sec-Fetch-*` headers is refused, and so is a
//!   `Host` header that is not `127.0.0.1`, `localhost` or `[::1]`, which defeats DNS rebinding
//!   (a web page whose name resolves to 127.0.0.1 still sends its own name as `Host`);
//! - only `GET`; no CORS headers, so a browser page can never read an answer.
//!
//! The path secret sits in a URL because the protocol has nowhere else to put it; it is never
//! logged, and errors never echo a path. Connections are bounded ([`MAX_CONNECTIONS`]) and each
//! must send its headers within [`HEADER_TIMEOUT`], so memory stays flat under load or abuse.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use rand::RngCore as _;
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, oneshot};
use tokio::task::{JoinHandle, JoinSet};

use crate::config::Workspace;
use crate::engine::Engine;
use crate::error::ErrorKind;
use crate::host::WorkspaceHost;
use crate::secret::Secret;
use crate::store::{Store, StoreError};

/// The header carrying the protocol version; only `1` exists.
pub const VERSION_HEADER: &str = "x-databricks-metadata-version";
/// The header naming the workspace the SDK wants a token for.
pub const HOST_HEADER: &str = "x-databricks-host";
/// Most connections served at once; further ones wait in the kernel's accept queue.
pub const MAX_CONNECTIONS: usize = 64;
/// How long a client may take to send its request headers.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Something else listens on the port.
    #[error(
        "cannot serve live tokens on 127.0.0.1:{port}: the port is in use (another `lakepass \
         daemon`, the tray app, or an unrelated program). Stop the other one, or pick a free \
         port with `[serve] port = …` in the Lakepass config"
    )]
    PortInUse {
        /// The port.
        port: u16,
    },
    /// Binding failed for another reason.
    #[error("cannot serve live tokens on 127.0.0.1:{port}: {source}")]
    Bind {
        /// The port.
        port: u16,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The path secrets could not be read from or saved to the vault.
    #[error("cannot load the live token service's URL secrets: {0}")]
    Vault(#[from] StoreError),
}

/// The vault key of a workspace's path secret (next to its token's key).
pub fn path_secret_key(ws: &Workspace) -> String {
    Store::path_secret_key(ws)
}

/// A new path secret: 32 random bytes from the OS, base64url without padding (43 characters).
pub fn new_path_secret() -> Secret {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let s = Secret::new(URL_SAFE_NO_PAD.encode(bytes));
    bytes.fill(0);
    s
}

/// The path secret of every workspace, created (and saved in the vault) on first use, so the
/// `-live` URLs stay the same across restarts.
pub async fn load_path_secrets(engine: &Engine) -> Result<Vec<(String, Secret)>, StoreError> {
    let store = engine.store();
    let mut out = Vec::new();
    for ws in engine.workspaces() {
        let secret = match store.path_secret(ws).await? {
            Some(s) if is_path_secret(&s) => s,
            _ => {
                let s = new_path_secret();
                store.save_path_secret(ws, &s).await?;
                s
            }
        };
        out.push((ws.name.clone(), secret));
    }
    Ok(out)
}

fn is_path_secret(s: &Secret) -> bool {
    s.secret().len() >= 43 && s.secret().bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The URL an SDK is given for `workspace`: `http://127.0.0.1:<port>/<workspace>/<secret>`.
/// A [`Secret`], because whoever holds it gets tokens.
pub fn service_url(port: u16, workspace: &str, path_secret: &Secret) -> Secret {
    Secret::new(format!("http://127.0.0.1:{port}/{workspace}/{}", path_secret.secret()))
}

/// Equal in constant time for equal lengths (path secrets all have the same length, so the
/// length says nothing).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// A running live token service. Dropping it stops it; [`LiveService::shutdown`] also waits.
pub struct LiveService {
    addr: SocketAddr,
    urls: Vec<(String, Secret)>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for LiveService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveService")
            .field("addr", &self.addr)
            .field("workspaces", &self.urls.len())
            .finish_non_exhaustive()
    }
}

struct State {
    engine: Engine,
    /// Per workspace: its name, its path secret.
    secrets: Vec<(String, Secret)>,
}

impl LiveService {
    /// Loads (or creates) the path secrets and starts serving on `127.0.0.1:<port>` (`0` picks
    /// a free port, for tests).
    pub async fn start(engine: Engine, port: u16) -> Result<LiveService, ServeError> {
        let secrets = load_path_secrets(&engine).await?;
        let listener =
            TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await.map_err(|source| {
                match source.kind() {
                    std::io::ErrorKind::AddrInUse => ServeError::PortInUse { port },
                    _ => ServeError::Bind { port, source },
                }
            })?;
        let addr = listener.local_addr().map_err(|source| ServeError::Bind { port, source })?;
        let urls =
            secrets.iter().map(|(name, s)| (name.clone(), service_url(addr.port(), name, s))).collect();
        let state = Arc::new(State { engine, secrets });
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(accept_loop(listener, state, stopped));
        tracing::info!(%addr, "live token service listening");
        Ok(LiveService { addr, urls, stop: Some(stop), task: Some(task) })
    }

    /// Where it listens (always 127.0.0.1).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Per workspace name, the URL to put in its `-live` profile.
    pub fn urls(&self) -> &[(String, Secret)] {
        &self.urls
    }

    /// The URL for workspace `name`.
    pub fn url_for(&self, name: &str) -> Option<&Secret> {
        self.urls.iter().find(|(n, _)| n == name).map(|(_, u)| u)
    }

    /// Stops accepting, closes every connection and waits for the loop to end.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for LiveService {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

async fn accept_loop(listener: TcpListener, state: Arc<State>, mut stopped: oneshot::Receiver<()>) {
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    // Dropping the set (when the loop ends) aborts every open connection.
    let mut connections = JoinSet::new();
    loop {
        let permit = tokio::select! {
            _ = &mut stopped => return,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            p = permits.clone().acquire_owned() => p.expect("semaphore never closed"),
        };
        let stream = tokio::select! {
            _ = &mut stopped => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(err) => {
                    tracing::warn!(%err, "live token service: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let state = state.clone();
        connections.spawn(async move {
            let _permit = permit;
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let state = state.clone();
                async move {
                    Ok::<_, std::convert::Infallible>(
                        handle(&state, req.method(), req.uri().path(), req.headers()).await,
                    )
                }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service);
            if let Err(err) = conn.await {
                tracing::debug!(%err, "live token service: connection ended");
            }
        });
    }
}

/// Why a request was refused: the status and a stable `error` code for the JSON body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not `GET`.
    Method,
    /// A browser sent it (`Origin`, `Sec-Fetch-*`).
    Browser,
    /// `Host` is not a loopback name (DNS rebinding) or is missing.
    NotLoopback,
    /// No such workspace URL (unknown workspace, wrong or missing secret).
    NotFound,
    /// `X-Databricks-Metadata-Version` missing or not `1`.
    Version,
    /// `X-Databricks-Host` missing or not parseable.
    MissingHost,
    /// `X-Databricks-Host` is another workspace than the URL's.
    HostMismatch,
}

impl Refusal {
    /// The HTTP status.
    pub fn status(self) -> StatusCode {
        match self {
            Refusal::Method => StatusCode::METHOD_NOT_ALLOWED,
            Refusal::Browser | Refusal::NotLoopback | Refusal::HostMismatch => StatusCode::FORBIDDEN,
            Refusal::NotFound => StatusCode::NOT_FOUND,
            Refusal::Version | Refusal::MissingHost => StatusCode::BAD_REQUEST,
        }
    }

    /// The stable `error` code.
    pub fn code(self) -> &'static str {
        match self {
            Refusal::Method => "method_not_allowed",
            Refusal::Browser => "browser_request",
            Refusal::NotLoopback => "non_loopback_host",
            Refusal::NotFound => "not_found",
            Refusal::Version => "unsupported_metadata_version",
            Refusal::MissingHost => "missing_databricks_host",
            Refusal::HostMismatch => "host_mismatch",
        }
    }

    fn message(self) -> &'static str {
        match self {
            Refusal::Method => "only GET is served",
            Refusal::Browser => "requests from web pages are refused",
            Refusal::NotLoopback => "the Host header must be 127.0.0.1, localhost or [::1]",
            Refusal::NotFound => {
                "no such token URL; copy metadata_service_url from the -live profile Lakepass wrote"
            }
            Refusal::Version => "X-Databricks-Metadata-Version must be 1",
            Refusal::MissingHost => "X-Databricks-Host must name the workspace",
            Refusal::HostMismatch => "X-Databricks-Host is not the workspace this URL serves",
        }
    }
}

/// Decides which workspace a request is for, or why it is refused. Pure: no IO, no engine.
/// `secrets` is per workspace (name, path secret); `workspaces` resolves names to hosts.
pub fn authorize<'w>(
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    secrets: &[(String, Secret)],
    workspaces: &'w [Workspace],
) -> Result<&'w Workspace, Refusal> {
    if method != Method::GET {
        return Err(Refusal::Method);
    }
    if headers.contains_key(header::ORIGIN) || headers.keys().any(|k| k.as_str().starts_with("sec-fetch-")) {
        return Err(Refusal::Browser);
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    if !host.is_some_and(is_loopback_authority) {
        return Err(Refusal::NotLoopback);
    }
    let mut parts = path.strip_prefix('/').unwrap_or("").splitn(2, '/');
    let (name, given) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let ws = workspaces.iter().find(|w| w.name == name);
    let expected = secrets.iter().find(|(n, _)| n == name).map(|(_, s)| s);
    let (Some(ws), Some(expected)) = (ws, expected) else {
        return Err(Refusal::NotFound);
    };
    if !constant_time_eq(given.as_bytes(), expected.secret().as_bytes()) {
        return Err(Refusal::NotFound);
    }
    match headers.get(VERSION_HEADER).map(HeaderValue::as_bytes) {
        Some(b"1") => {}
        _ => return Err(Refusal::Version),
    }
    let asked = headers
        .get(HOST_HEADER)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| WorkspaceHost::parse(h).ok())
        .ok_or(Refusal::MissingHost)?;
    if asked != ws.host {
        return Err(Refusal::HostMismatch);
    }
    Ok(ws)
}

/// `127.0.0.1[:port]`, `localhost[:port]` or `[::1][:port]` (any loopback IP, in fact).
pub fn is_loopback_authority(authority: &str) -> bool {
    let host = if let Some(rest) = authority.strip_prefix('[') {
        match rest.split_once(']') {
            Some((ip, tail)) if tail.is_empty() || valid_port(tail) => ip,
            _ => return false,
        }
    } else {
        match authority.split_once(':') {
            Some((h, tail)) if valid_port(&format!(":{tail}")) => h,
            Some(_) => return false,
            None => authority,
        }
    };
    host.eq_ignore_ascii_case("localhost") || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn valid_port(tail: &str) -> bool {
    tail.strip_prefix(':').is_some_and(|p| !p.is_empty() && p.parse::<u16>().is_ok())
}

#[derive(Serialize)]
struct TokenReply<'a> {
    access_token: &'a str,
    token_type: &'static str,
    expires_on: i64,
}

#[derive(Serialize)]
struct ErrorReply<'a> {
    error: &'a str,
    message: &'a str,
}

async fn handle(state: &State, method: &Method, path: &str, headers: &HeaderMap) -> Response<Body> {
    let ws = match authorize(method, path, headers, &state.secrets, state.engine.workspaces()) {
        Ok(ws) => ws,
        Err(refusal) => {
            tracing::debug!(reason = refusal.code(), "live token service: request refused");
            return json(refusal.status(), &ErrorReply { error: refusal.code(), message: refusal.message() });
        }
    };
    match state.engine.live_token(ws).await {
        Ok(t) => json(
            StatusCode::OK,
            &TokenReply {
                access_token: t.access_token.secret(),
                token_type: "Bearer",
                expires_on: t.expires_at,
            },
        ),
        Err(e) => {
            let kind = e.kind();
            let status = if kind.needs_login() || kind == ErrorKind::FederationRejected {
                StatusCode::UNAUTHORIZED
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            tracing::debug!(workspace = %ws.name, %kind, "live token service: no token");
            json(status, &ErrorReply { error: kind.as_str(), message: &e.to_string() })
        }
    }
}

fn json(status: StatusCode, body: &impl Serialize) -> Response<Body> {
    let bytes = serde_json::to_vec(body).expect("reply serializes");
    let mut resp = Response::new(Body::from(bytes));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn workspaces() -> Vec<Workspace> {
        let text = "[idp.i]\nissuer = \"https://idp.example\"\nclient_id = \"c\"\n\
                    [workspace.dev]\nidp = \"i\"\nhost = \"https://dev.example\"\n\
                    [workspace.prod]\nidp = \"i\"\nhost = \"https://prod.example\"\n";
        Config::parse(text, std::path::Path::new("t.toml")).unwrap().workspaces().unwrap()
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn authorize_accepts_only_the_exact_request() {
        let wss = workspaces();
        let (a, b) = (new_path_secret(), new_path_secret());
        let secrets = vec![("dev".to_string(), a.clone()), ("prod".to_string(), b.clone())];
        let good = [("host", "127.0.0.1:8731"), (VERSION_HEADER, "1"), (HOST_HEADER, "https://DEV.example/")];
        let path = format!("/dev/{}", a.secret());
        let ok = authorize(&Method::GET, &path, &headers(&good), &secrets, &wss).unwrap();
        assert_eq!(ok.name, "dev");
        let check = |m: &Method, p: &str, h: &[(&str, &str)]| {
            authorize(m, p, &headers(h), &secrets, &wss).unwrap_err()
        };
        assert_eq!(check(&Method::POST, &path, &good), Refusal::Method);
        let mut with_origin = good.to_vec();
        with_origin.push(("origin", "https://evil.example"));
        assert_eq!(check(&Method::GET, &path, &with_origin), Refusal::Browser);
        let rebinding =
            [("host", "evil.example:8731"), (VERSION_HEADER, "1"), (HOST_HEADER, "https://dev.example")];
        assert_eq!(check(&Method::GET, &path, &rebinding), Refusal::NotLoopback);
        assert_eq!(check(&Method::GET, &format!("/dev/{}", b.secret()), &good), Refusal::NotFound);
        assert_eq!(check(&Method::GET, &format!("/prod/{}", a.secret()), &good), Refusal::NotFound);
        assert_eq!(check(&Method::GET, "/dev/", &good), Refusal::NotFound);
        assert_eq!(check(&Method::GET, &format!("/dev/{}x", a.secret()), &good), Refusal::NotFound);
        assert_eq!(check(&Method::GET, &path, &good[..1]), Refusal::Version);
        let v2 = [("host", "localhost"), (VERSION_HEADER, "2"), (HOST_HEADER, "https://dev.example")];
        assert_eq!(check(&Method::GET, &path, &v2), Refusal::Version);
        assert_eq!(check(&Method::GET, &path, &good[..2]), Refusal::MissingHost);
        let other = [("host", "[::1]:1"), (VERSION_HEADER, "1"), (HOST_HEADER, "https://prod.example")];
        assert_eq!(check(&Method::GET, &path, &other), Refusal::HostMismatch);
    }

    #[test]
    fn loopback_authorities() {
        for ok in
            ["127.0.0.1", "127.0.0.1:8731", "localhost:1", "LOCALHOST", "[::1]", "[::1]:80", "127.1.2.3:9"]
        {
            assert!(is_loopback_authority(ok), "{ok}");
        }
        for bad in [
            "evil.example",
            "127.0.0.1.evil.example",
            "localhost.evil:80",
            "[::2]:1",
            "127.0.0.1:x",
            "10.0.0.1",
            "",
            "localhost:",
            "[::1]x",
        ] {
            assert!(!is_loopback_authority(bad), "{bad}");
        }
    }

    #[test]
    fn path_secrets_are_long_random_and_url_safe() {
        let a = new_path_secret();
        assert_eq!(a.secret().len(), 43);
        assert!(is_path_secret(&a));
        assert_ne!(a, new_path_secret());
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd") && !constant_time_eq(b"abc", b"ab"));
        assert_eq!(format!("{:?}", service_url(1, "dev", &a)), "[redacted]");
    }
}
