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
//!   bytes (base64url), new each time the service binds and never stored: knowing one
//!   workspace's URL says nothing about another's, a URL left in a profile while Lakepass was
//!   stopped is worthless to a squatter on the port, and a wrong secret is compared in
//!   constant time;
//! - `X-Databricks-Metadata-Version` must be `1` and `X-Databricks-Host` must be the URL's own
//!   workspace (both sides normalised by [`WorkspaceHost::parse`]): never a token for another
//!   workspace;
//! - a request carrying a browser's `Origin` or `Sec-Fetch-*` headers is refused, and so is a
//!   `Host` header that is not `127.0.0.1`, `localhost` or `[::1]`, which defeats DNS rebinding
//!   (a web page whose name resolves to 127.0.0.1 still sends its own name as `Host`);
//! - only `GET` in origin form (`GET /path`), with exactly one `Host` header; no CORS headers,
//!   so a browser page can never read an answer.
//!
//! The path secret sits in a URL because the protocol has nowhere else to put it; it is never
//! logged, and errors never echo a path. Connections are bounded ([`MAX_CONNECTIONS`], far more
//! than any client needs), each must send its headers within [`HEADER_TIMEOUT`], and only a
//! request being answered holds one of the [`MAX_IN_FLIGHT`] slots: idle sockets cannot starve
//! a good request, and memory stays flat under load or abuse.

mod authorize;
mod secrets;

pub use authorize::{BrowserSigns, Refusal, authorize, is_loopback_authority, refuse_browser_or_rebinding};
pub use secrets::{constant_time_eq, new_path_secret, new_path_secrets, service_url};

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, Uri, header};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use serde::Serialize;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, oneshot};
use tokio::task::JoinHandle;

use crate::engine::Engine;
use crate::error::ErrorKind;
use crate::ipc::accept_bounded;
use lakepass_wire::secret::Secret;

/// The header carrying the protocol version; only `1` exists.
pub const VERSION_HEADER: &str = "x-databricks-metadata-version";
/// The header naming the workspace the SDK wants a token for.
pub const HOST_HEADER: &str = "x-databricks-host";
/// Most connections open at once; further ones wait in the kernel's accept queue.
pub(crate) const MAX_CONNECTIONS: usize = 1024;
/// Most requests answered at once; a slot is held only while a request is handled.
pub(crate) const MAX_IN_FLIGHT: usize = 64;
/// How long a client may take to send its request headers.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(2);
/// How long an idle keep-alive connection is kept.
pub(crate) const IDLE_TIMEOUT: Duration = Duration::from_secs(10);

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
    /// Requests being answered.
    in_flight: Arc<Semaphore>,
}

impl LiveService {
    /// Makes new path secrets and starts serving on `127.0.0.1:<port>` (`0` picks a free port,
    /// for tests).
    pub async fn start(engine: Engine, port: u16) -> Result<LiveService, ServeError> {
        let secrets = new_path_secrets(engine.workspaces());
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
        let state = Arc::new(State { engine, secrets, in_flight: Arc::new(Semaphore::new(MAX_IN_FLIGHT)) });
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

/// Serves connections until `stopped`, at most [`MAX_CONNECTIONS`] at once, through the same
/// bounded accept as the local sockets.
async fn accept_loop(listener: TcpListener, state: Arc<State>, stopped: oneshot::Receiver<()>) {
    let stop = async {
        let _ = stopped.await;
    };
    let serve = move |stream: TcpStream| {
        let state = state.clone();
        async move {
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let state = state.clone();
                async move {
                    let _slot = state.in_flight.acquire().await.expect("semaphore never closed");
                    Ok::<_, std::convert::Infallible>(
                        handle(&state, req.method(), req.uri(), req.headers()).await,
                    )
                }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service);
            // An idle keep-alive connection is closed after a while; a busy one is not cut.
            match tokio::time::timeout(IDLE_TIMEOUT, conn).await {
                Ok(Err(err)) => tracing::debug!(%err, "live token service: connection ended"),
                Ok(Ok(())) => {}
                Err(_) => tracing::debug!("live token service: idle connection closed"),
            }
        }
    };
    accept_bounded(listener, MAX_CONNECTIONS, "live token service", stop, serve).await;
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

async fn handle(state: &State, method: &Method, target: &Uri, headers: &HeaderMap) -> Response<Body> {
    let ws = match authorize(method, target, headers, &state.secrets, state.engine.workspaces()) {
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
mod tests;
