//! The proxy's IO: a loopback HTTP/1.1 server (bound on the first grant), each request admitted
//! by [`super::admit`], sent on with the engine's current token, and its answer streamed back.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, Request, Response, StatusCode, header};
use hyper::body::{Body as HttpBody, Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use super::forward::{
    MAX_ERROR_PEEK, MAX_REPLAY, admit, forwarded_headers, needs_new_token, returned_headers, target_url,
};
use super::grants::Grants;
use super::{ProxyError, ProxyGrant};
use crate::engine::Engine;
use crate::error::ErrorKind;
use crate::ipc::accept_bounded;
use lakepass_config::Workspace;
use lakepass_wire::exchange::WorkspaceToken;
use lakepass_wire::secret::Secret;

/// Most connections open at once (an agent keeps a few; 50 parallel streams fit many times).
pub(crate) const MAX_CONNECTIONS: usize = 512;
/// How long a client may take to send its request headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// After a forced renewal for a workspace, how long another 401/403 only retries with a token
/// that changed meanwhile: a path that answers 403 for a good token (no permission) must not
/// turn every request into a token exchange.
const RENEW_GAP: Duration = Duration::from_secs(30);

/// The proxy: its grants, and its server once bound. Cheap to clone; clones share it.
#[derive(Clone)]
pub struct Proxy(Arc<Inner>);

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy").finish_non_exhaustive()
    }
}

struct Inner {
    shared: Arc<Shared>,
    running: tokio::sync::Mutex<Option<Running>>,
}

/// What every request handler reads.
struct Shared {
    engine: Engine,
    grants: Mutex<Grants>,
    client: reqwest::Client,
    /// When a token was last renewed because of an upstream refusal, per workspace; the lock
    /// also makes parallel refusals renew once.
    renewed: tokio::sync::Mutex<HashMap<String, Instant>>,
}

/// The bound server; dropping it stops it and ends every connection.
struct Running {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Proxy {
    /// A proxy for `engine`, not bound yet.
    pub fn new(engine: Engine) -> Proxy {
        let client = engine.http().streaming_client().clone();
        let shared =
            Arc::new(Shared { engine, grants: Mutex::default(), client, renewed: Default::default() });
        Proxy(Arc::new(Inner { shared, running: tokio::sync::Mutex::new(None) }))
    }

    /// A new grant for `ws` (a new random key), binding 127.0.0.1 on a free port first if the
    /// proxy is not listening yet.
    pub async fn grant(&self, ws: &Workspace) -> Result<ProxyGrant, ProxyError> {
        let addr = {
            let mut running = self.0.running.lock().await;
            match &*running {
                Some(r) => r.addr,
                None => {
                    let r = bind(self.0.shared.clone()).await.map_err(ProxyError::Bind)?;
                    let addr = r.addr;
                    *running = Some(r);
                    addr
                }
            }
        };
        let key = self.0.shared.grants.lock().expect("grants").add(&ws.name);
        let base_url = Secret::new(format!("http://{addr}/{}", key.secret()));
        tracing::info!(workspace = %ws.name, %addr, "agents' proxy: new grant");
        Ok(ProxyGrant { base_url, host: ws.host.clone() })
    }

    /// Where it listens, once bound.
    pub async fn local_addr(&self) -> Option<SocketAddr> {
        self.0.running.lock().await.as_ref().map(|r| r.addr)
    }
}

async fn bind(shared: Arc<Shared>) -> std::io::Result<Running> {
    let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(accept_loop(listener, shared));
    tracing::info!(%addr, "agents' proxy listening");
    Ok(Running { addr, task })
}

/// Serves connections until aborted, at most [`MAX_CONNECTIONS`] at once, through the engine's
/// one bounded accept loop.
async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let serve = move |stream: TcpStream| {
        let shared = shared.clone();
        async move {
            let _ = stream.set_nodelay(true);
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let shared = shared.clone();
                async move { Ok::<_, std::convert::Infallible>(handle(&shared, req).await) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service);
            if let Err(err) = conn.await {
                tracing::debug!(%err, "agents' proxy: connection ended");
            }
        }
    };
    // No cap on requests in flight as the live service has: a request here is a stream that
    // may last minutes, so connections are the bound.
    accept_bounded(listener, MAX_CONNECTIONS, "agents' proxy", std::future::pending(), serve).await;
}

/// A response with a status and no body: refusals say nothing more.
fn status_only(status: StatusCode) -> Response<Body> {
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = status;
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// An error the proxy itself gives (never a key, token or body in it), as JSON.
fn own_error(status: StatusCode, kind: &str, message: &str) -> Response<Body> {
    let body = serde_json::json!({"error": {"code": status.as_u16(), "status": kind, "message": message}});
    let mut resp = Response::new(Body::from(body.to_string()));
    *resp.status_mut() = status;
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

async fn handle(shared: &Shared, req: Request<Incoming>) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let admitted = {
        let grants = shared.grants.lock().expect("grants");
        admit(&parts.uri, &parts.headers, &grants.keys())
            .map(|(i, rest)| (grants.workspace(i).map(str::to_string), rest))
    };
    let (ws_name, rest) = match admitted {
        Ok((Some(ws), rest)) => (ws, rest),
        Ok((None, _)) => return status_only(StatusCode::NOT_FOUND),
        Err(refusal) => {
            tracing::debug!(reason = refusal.code(), "agents' proxy: request refused");
            return status_only(refusal.status());
        }
    };
    let Some(ws) = shared.engine.workspace_named(&ws_name) else {
        return status_only(StatusCode::NOT_FOUND);
    };
    let Some(url) = target_url(&ws.host, &rest) else {
        return status_only(StatusCode::NOT_FOUND);
    };
    let headers = forwarded_headers(&parts.headers);
    let length = parts.headers.get(header::CONTENT_LENGTH).cloned();
    let body = match read_replayable(body).await {
        Ok(b) => b,
        Err(_) => return status_only(StatusCode::BAD_REQUEST),
    };
    let token = match shared.engine.live_token(ws).await {
        Ok(t) => t,
        Err(e) => return no_token(&e),
    };
    let send = |token: &WorkspaceToken, body: reqwest::Body, streamed: bool| {
        let mut h = headers.clone();
        let mut bearer = HeaderValue::from_str(&format!("Bearer {}", token.access_token.secret()))
            .unwrap_or_else(|_| HeaderValue::from_static(""));
        bearer.set_sensitive(true);
        h.insert(header::AUTHORIZATION, bearer);
        // A kept body gets its length from reqwest; a streamed one keeps the agent's.
        if let (true, Some(len)) = (streamed, &length) {
            h.insert(header::CONTENT_LENGTH, len.clone());
        }
        shared.client.request(parts.method.clone(), &url).headers(h).body(body).send()
    };
    let (first_body, replay) = match body {
        RequestBody::Kept(bytes) => (reqwest::Body::from(bytes.clone()), Some(bytes)),
        RequestBody::Streamed(prefixed) => (reqwest::Body::wrap(prefixed), None),
    };
    let streamed = replay.is_none();
    let answer = match send(&token, first_body, streamed).await {
        Ok(a) => a,
        Err(e) => return unreachable(ws, &e),
    };
    let Some(replay) = replay else {
        return relay(answer, None);
    };
    let status = answer.status();
    if !needs_new_token(status, None) && status != StatusCode::BAD_REQUEST {
        return relay(answer, None);
    }
    // A 400 is read a little to see whether it is "Invalid Token".
    let (answer, head) = if status == StatusCode::BAD_REQUEST {
        let (answer, head) = peek(answer).await;
        (answer, Some(head))
    } else {
        (answer, None)
    };
    if !needs_new_token(status, head.as_deref()) {
        return relay(answer, head);
    }
    let Some(fresh) = renewed_token(shared, ws, &token).await else {
        return relay(answer, head);
    };
    drop(answer);
    tracing::info!(workspace = %ws.name, status = status.as_u16(), "agents' proxy: token refused upstream; retrying once with a renewed one");
    match send(&fresh, reqwest::Body::from(replay), false).await {
        Ok(a) => relay(a, None),
        Err(e) => unreachable(ws, &e),
    }
}

/// A body as it will be sent: kept whole (small enough to replay), or streamed on.
enum RequestBody {
    Kept(Bytes),
    Streamed(Prefixed<Incoming>),
}

/// Reads the request body up to [`MAX_REPLAY`]: all of it when it fits (so it can be sent
/// again), else what was read followed by the rest as it comes.
async fn read_replayable(mut body: Incoming) -> Result<RequestBody, hyper::Error> {
    let mut kept = Vec::new();
    while let Some(frame) = next_frame(&mut body).await {
        if let Ok(data) = frame?.into_data() {
            kept.extend_from_slice(&data);
            if kept.len() > MAX_REPLAY {
                return Ok(RequestBody::Streamed(Prefixed { prefix: Some(kept.into()), rest: Some(body) }));
            }
        }
    }
    Ok(RequestBody::Kept(kept.into()))
}

async fn next_frame<B: HttpBody + Unpin>(body: &mut B) -> Option<Result<Frame<B::Data>, B::Error>> {
    std::future::poll_fn(|cx| Pin::new(&mut *body).poll_frame(cx)).await
}

/// Reads up to [`MAX_ERROR_PEEK`] bytes of an answer; the answer keeps the rest.
async fn peek(answer: reqwest::Response) -> (reqwest::Response, Vec<u8>) {
    let mut answer = answer;
    let mut head: Vec<u8> = Vec::new();
    while head.len() < MAX_ERROR_PEEK {
        match answer.chunk().await {
            Ok(Some(chunk)) => head.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    (answer, head)
}

/// The token to retry with after the workspace refused `used`: one that changed meanwhile, or
/// a forced renewal, unless one was forced for this workspace within [`RENEW_GAP`]. Parallel
/// refusals wait for one another, so they renew once.
async fn renewed_token(shared: &Shared, ws: &Workspace, used: &WorkspaceToken) -> Option<WorkspaceToken> {
    let mut renewed = shared.renewed.lock().await;
    if let Ok(now) = shared.engine.live_token(ws).await
        && now.access_token != used.access_token
    {
        return Some(now);
    }
    if renewed.get(&ws.name).is_some_and(|at| at.elapsed() < RENEW_GAP) {
        return None;
    }
    renewed.insert(ws.name.clone(), Instant::now());
    match shared.engine.refresh_workspace(ws, true).await {
        Ok(t) if t.access_token != used.access_token => Some(t),
        Ok(_) => None,
        Err(e) => {
            tracing::warn!(workspace = %ws.name, kind = %e.kind(), "agents' proxy: could not renew the token");
            None
        }
    }
}

/// The workspace's answer, streamed back as it comes (after `head`, when some was read).
fn relay(answer: reqwest::Response, head: Option<Vec<u8>>) -> Response<Body> {
    let status = answer.status();
    let headers = returned_headers(answer.headers());
    let upstream: axum::http::Response<reqwest::Body> = answer.into();
    let body = Prefixed { prefix: head.map(Bytes::from), rest: Some(upstream.into_body()) };
    let mut resp = Response::new(Body::new(body));
    *resp.status_mut() = status;
    *resp.headers_mut() = headers;
    resp
}

fn no_token(e: &crate::engine::EngineError) -> Response<Body> {
    let kind = e.kind();
    let status = if kind.needs_login() || kind == ErrorKind::FederationRejected {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    own_error(status, kind.as_str(), &format!("Lakepass has no token for this workspace: {e}"))
}

fn unreachable(ws: &Workspace, e: &reqwest::Error) -> Response<Body> {
    tracing::debug!(workspace = %ws.name, "agents' proxy: the workspace could not be reached");
    // reqwest's message names the URL (the agent's path and query); say only what failed.
    let why = if e.is_timeout() {
        "no answer in time"
    } else if e.is_connect() {
        "could not connect (network, VPN or TLS)"
    } else {
        "the connection failed"
    };
    own_error(
        StatusCode::BAD_GATEWAY,
        "network",
        &format!("Lakepass could not reach workspace `{}`: {why}", ws.name),
    )
}

/// A body that yields `prefix` first, then `rest`.
pub(crate) struct Prefixed<B> {
    prefix: Option<Bytes>,
    rest: Option<B>,
}

impl<B> HttpBody for Prefixed<B>
where
    B: HttpBody<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        if let Some(prefix) = self.prefix.take()
            && !prefix.is_empty()
        {
            return Poll::Ready(Some(Ok(Frame::data(prefix))));
        }
        match self.rest.as_mut() {
            Some(rest) => Pin::new(rest).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.prefix.as_ref().is_none_or(Bytes::is_empty) && self.rest.as_ref().is_none_or(B::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        let rest = self.rest.as_ref().map_or_else(|| SizeHint::with_exact(0), B::size_hint);
        let extra = self.prefix.as_ref().map_or(0, |p| p.len() as u64);
        let mut hint = SizeHint::new();
        hint.set_lower(rest.lower() + extra);
        if let Some(upper) = rest.upper() {
            hint.set_upper(upper + extra);
        }
        hint
    }
}
