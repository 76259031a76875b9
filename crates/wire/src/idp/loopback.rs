//! The loopback redirect (RFC 8252 §7.3): a listener on 127.0.0.1 and the one HTTP request the
//! browser makes back to us after sign-in.
//!
//! We answer `GET /callback?…` on a socket bound to 127.0.0.1 and close it. A full server
//! framework would add routing and keep-alive we do not want in the sign-in path; reading one
//! bounded request line is small enough to own and to fuzz. The page we send back is plain and
//! says who is now signed in, or what to do next.
//!
//! The defences that live here (docs/security.md):
//! - The browser is sent to a one-time local URL, `/start/<random>`, which redirects to the IdP.
//!   The authorize URL (with `state`, `nonce` and the PKCE challenge) therefore never appears in
//!   the argv of `xdg-open` or the browser, where any local user could read it. If that start
//!   URL is used twice, someone else used it first: the sign-in is aborted, never completed
//!   with a code we cannot vouch for.
//! - The start link itself is in that argv, so it is no secret from other local users: every
//!   connection is checked to come from a socket of this same user ([`crate::peer`]), before
//!   its request is read. Another user's request to `/start` or `/callback` gets a 403 and
//!   changes nothing, so they cannot sign this user's Lakepass in as themselves (login CSRF);
//!   the sign-in keeps waiting for the real browser.
//! - A callback with a wrong `state` (a stale tab, or a request forged by a web page) gets a
//!   400 and is otherwise ignored: the listener keeps waiting for the real one until its
//!   deadline, so such a request cannot abort a sign-in in progress.
//! - Connections are served at once, each in its own task, at most [`MAX_CONNECTIONS`] at a
//!   time; each must send its request head within [`HEAD_DEADLINE`], and when the slots are
//!   full the oldest connection still waiting gives way to the new one. Idle sockets (a
//!   slow-loris) therefore never hold the browser's redirect back.
//! - The success page is sent only after the code was redeemed and the id_token verified
//!   ([`Callback::signed_in`]), naming who is signed in, so a user who sees another identity
//!   there knows at once.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::{AbortHandle, JoinSet};
use url::Url;

use super::IdpError;
use super::signin::{CallbackError, SignInRequest, parse_callback};
use crate::peer::{self, Peer};
use crate::secret::Secret;

const MAX_REQUEST: usize = 16 * 1024;
/// Connections served at once; a new one past this closes the oldest still waiting.
pub const MAX_CONNECTIONS: usize = 16;
/// How long a connection may take to send its request head.
pub const HEAD_DEADLINE: Duration = Duration::from_secs(10);
/// How long a refused peer may go on sending before its socket is closed (so the close is
/// clean and its client reads the 403 instead of a reset).
const REFUSAL_DRAIN: Duration = Duration::from_secs(1);

/// The loopback listener that receives the browser's redirect.
pub struct Loopback {
    listener: tokio::net::TcpListener,
    /// `http://127.0.0.1:<port>/callback`
    pub redirect_uri: String,
    /// The one-time start path, `/start/<32 random bytes, base64url>`.
    start_path: Secret,
    addr: SocketAddr,
}

/// The browser's redirect with a code, its page not sent yet: the caller redeems the code, then
/// tells the browser how it went ([`Callback::signed_in`], [`Callback::failed`]). Dropped
/// unanswered, it sends a page that points to the terminal.
pub struct Callback {
    /// The authorization code.
    pub code: Secret,
    stream: Option<TcpStream>,
}

impl std::fmt::Debug for Callback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Callback").field("answered", &self.stream.is_none()).finish_non_exhaustive()
    }
}

impl Callback {
    /// Tells the browser the sign-in worked; `text` names who is signed in.
    pub async fn signed_in(mut self, text: &str) {
        if let Some(mut stream) = self.stream.take() {
            let _ = respond(&mut stream, "200 OK", text).await;
        }
    }

    /// Tells the browser the sign-in failed after the redirect (the code was refused, the
    /// id_token did not verify, …); `text` says why.
    pub async fn failed(mut self, text: &str) {
        if let Some(mut stream) = self.stream.take() {
            let _ = respond(&mut stream, "502 Bad Gateway", text).await;
        }
    }
}

impl Drop for Callback {
    fn drop(&mut self) {
        if let Some(mut stream) = self.stream.take()
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            rt.spawn(async move {
                let text = "Lakepass did not finish this sign-in; the terminal or the dashboard says why.";
                let _ = respond(&mut stream, "500 Internal Server Error", text).await;
            });
        }
    }
}

/// What every connection's task needs to answer its request.
struct Route {
    start_path: Secret,
    authorize_url: String,
    state: Secret,
    issuer: String,
    started: AtomicBool,
}

impl Loopback {
    /// Binds 127.0.0.1 (never all interfaces) on `port` (0 = any free port).
    pub async fn bind(port: u16) -> Result<Self, IdpError> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .map_err(|e| IdpError::Listen { port, message: e.to_string() })?;
        let addr = listener.local_addr().map_err(|e| IdpError::Listen { port, message: e.to_string() })?;
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let start_path = Secret::new(format!("/start/{}", URL_SAFE_NO_PAD.encode(bytes)));
        Ok(Loopback {
            listener,
            redirect_uri: format!("http://127.0.0.1:{}/callback", addr.port()),
            start_path,
            addr,
        })
    }

    /// The URL to open in the browser: served once, as a redirect to the IdP's authorize URL.
    pub fn start_url(&self) -> Url {
        Url::parse(&format!("http://127.0.0.1:{}{}", self.addr.port(), self.start_path.secret()))
            .expect("a loopback URL parses")
    }

    /// Waits for the redirect from a browser of this user and returns its code, the browser
    /// still waiting for its page.
    pub async fn wait(
        self,
        req: &SignInRequest,
        issuer: &str,
        timeout: Duration,
    ) -> Result<Callback, IdpError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let route = Arc::new(Route {
            start_path: self.start_path.clone(),
            authorize_url: req.url.to_string(),
            state: req.state.clone(),
            issuer: issuer.to_string(),
            started: AtomicBool::new(false),
        });
        let mut serving: JoinSet<Step> = JoinSet::new();
        let mut oldest_first: VecDeque<AbortHandle> = VecDeque::new();
        let mut refusing: JoinSet<()> = JoinSet::new();
        loop {
            tokio::select! {
                () = tokio::time::sleep_until(deadline) => return Err(IdpError::Timeout(timeout.as_secs())),
                accepted = self.listener.accept() => {
                    let Ok((stream, peer)) = accepted else { continue };
                    if !peer.ip().is_loopback() {
                        continue; // Unreachable while bound to 127.0.0.1; kept as a guard.
                    }
                    let local = self.addr;
                    let owner = tokio::task::spawn_blocking(move || peer::tcp_peer(local, peer))
                        .await
                        .unwrap_or(Peer::Unknown);
                    if owner.is_refused() {
                        tracing::warn!(?owner, "sign-in: refused a connection from another local user");
                        if refusing.len() < MAX_CONNECTIONS {
                            refusing.spawn(refuse(stream));
                        }
                        continue;
                    }
                    oldest_first.retain(|h| !h.is_finished());
                    if oldest_first.len() >= MAX_CONNECTIONS
                        && let Some(oldest) = oldest_first.pop_front()
                    {
                        oldest.abort();
                    }
                    oldest_first.push_back(serving.spawn(serve(stream, route.clone())));
                }
                Some(joined) = serving.join_next() => {
                    if let Ok(Step::Done(result)) = joined {
                        return result.map_err(IdpError::from);
                    }
                }
                Some(_) = refusing.join_next() => {}
            }
        }
    }
}

/// Another user's connection: a 403 page, whatever it asked.
async fn refuse(mut stream: TcpStream) {
    let text = "This sign-in link belongs to another user of this computer.";
    let _ = respond(&mut stream, "403 Forbidden", text).await;
    let mut sink = [0u8; 1024];
    let drain = async { while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {} };
    let _ = tokio::time::timeout(REFUSAL_DRAIN, drain).await;
}

/// Answers one request of this user: the start redirect, the callback, or a 404.
async fn serve(mut stream: TcpStream, route: Arc<Route>) -> Step {
    let Some(head) = read_head(&mut stream).await else { return Step::Wait };
    let Some(target) = request_target(&head) else { return Step::Wait };
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if route.start_path.matches(path) {
        if route.started.swap(true, Ordering::SeqCst) {
            let e = CallbackError::LinkReused;
            let _ = respond(&mut stream, "400 Bad Request", &format!("Lakepass sign-in stopped: {e}")).await;
            return Step::Done(Err(e));
        }
        let _ = redirect(&mut stream, &route.authorize_url).await;
        return Step::Wait;
    }
    if path != "/callback" {
        let _ = respond(&mut stream, "404 Not Found", "Not found.").await;
        return Step::Wait; // a favicon, say: keep waiting
    }
    match parse_callback(query, &route.state, &route.issuer) {
        Ok(code) => Step::Done(Ok(Callback { code, stream: Some(stream) })),
        Err(e) => {
            let _ = respond(&mut stream, "400 Bad Request", &format!("Lakepass sign-in failed: {e}")).await;
            if e == CallbackError::State {
                // Not our browser's redirect: refused, and the real one may still come.
                tracing::warn!("sign-in: refused a callback with a wrong state; still waiting");
                return Step::Wait;
            }
            Step::Done(Err(e))
        }
    }
}

/// What one request on the loopback listener means for the sign-in.
enum Step {
    /// Keep waiting.
    Wait,
    /// The sign-in ends with this.
    Done(Result<Callback, CallbackError>),
}

/// The request target of a `GET` request line, e.g. `/callback?code=…`.
fn request_target(head: &str) -> Option<&str> {
    let line = head.lines().next()?;
    let mut parts = line.split(' ');
    let (method, target) = (parts.next()?, parts.next()?);
    (method == "GET" && target.starts_with('/')).then_some(target)
}

async fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    let read = async {
        loop {
            let n = stream.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            buf.extend_from_slice(&chunk[..n]);
            if buf.windows(4).any(|w| w == b"\r\n\r\n") {
                return String::from_utf8(buf).ok();
            }
            if buf.len() > MAX_REQUEST {
                return None;
            }
        }
    };
    tokio::time::timeout(HEAD_DEADLINE, read).await.ok()?
}

async fn respond(stream: &mut TcpStream, status: &str, text: &str) -> std::io::Result<()> {
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Lakepass</title></head>\
         <body style=\"font-family:system-ui,sans-serif;margin:4rem auto;max-width:32rem\">\
         <h1>Lakepass</h1><p>{}</p></body></html>",
        html_escape(text)
    );
    let resp = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nReferrer-Policy: no-referrer\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(resp.as_bytes()).await?;
    stream.shutdown().await
}

async fn redirect(stream: &mut TcpStream, location: &str) -> std::io::Result<()> {
    let resp = format!(
        "HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\n\
         Cache-Control: no-store\r\nReferrer-Policy: no-referrer\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(resp.as_bytes()).await?;
    stream.shutdown().await
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_line_is_parsed_strictly() {
        assert_eq!(
            request_target("GET /callback?code=1 HTTP/1.1\r\nHost: x\r\n\r\n"),
            Some("/callback?code=1")
        );
        assert_eq!(request_target("POST /callback HTTP/1.1\r\n\r\n"), None);
        assert_eq!(request_target("GET http://evil/callback HTTP/1.1\r\n\r\n"), None);
        assert_eq!(request_target(""), None);
        assert_eq!(html_escape("<b>&"), "&lt;b&gt;&amp;");
    }
}
