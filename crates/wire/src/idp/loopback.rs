//! The loopback redirect (RFC 8252 §7.3): a listener on 127.0.0.1 and the one HTTP request the
//! browser makes back to us after sign-in.
//!
//! We answer `GET /callback?…` on a socket bound to 127.0.0.1 and close it. A full server
//! framework would add routing and keep-alive we do not want in the sign-in path; reading one
//! bounded request line is small enough to own and to fuzz. The page we send back is plain and
//! says whether to close the tab or look at the terminal.
//!
//! Two defences live here (docs/security.md):
//! - The browser is sent to a one-time local URL, `/start/<random>`, which redirects to the IdP.
//!   The authorize URL (with `state`, `nonce` and the PKCE challenge) therefore never appears in
//!   the argv of `xdg-open` or the browser, where any local user could read it. If that start
//!   URL is used twice, someone else used it first: the sign-in is aborted, never completed
//!   with a code we cannot vouch for.
//! - A callback with a wrong `state` (a stale tab, or a request forged by a web page or another
//!   local user) gets a 400 and is otherwise ignored: the listener keeps waiting for the real one
//!   until its deadline, so such a request cannot abort a sign-in in progress.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use url::Url;

use super::IdpError;
use super::signin::{CallbackError, SignInRequest, parse_callback};
use crate::secret::Secret;

const MAX_REQUEST: usize = 16 * 1024;

/// The loopback listener that receives the browser's redirect.
pub struct Loopback {
    listener: tokio::net::TcpListener,
    /// `http://127.0.0.1:<port>/callback`
    pub redirect_uri: String,
    /// The one-time start path, `/start/<32 random bytes, base64url>`.
    start_path: Secret,
    port: u16,
}

impl Loopback {
    /// Binds 127.0.0.1 (never all interfaces) on `port` (0 = any free port).
    pub async fn bind(port: u16) -> Result<Self, IdpError> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .map_err(|e| IdpError::Listen { port, message: e.to_string() })?;
        let actual =
            listener.local_addr().map_err(|e| IdpError::Listen { port, message: e.to_string() })?.port();
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let start_path = Secret::new(format!("/start/{}", URL_SAFE_NO_PAD.encode(bytes)));
        Ok(Loopback {
            listener,
            redirect_uri: format!("http://127.0.0.1:{actual}/callback"),
            start_path,
            port: actual,
        })
    }

    /// The URL to open in the browser: served once, as a redirect to the IdP's authorize URL.
    pub fn start_url(&self) -> Url {
        Url::parse(&format!("http://127.0.0.1:{}{}", self.port, self.start_path.secret()))
            .expect("a loopback URL parses")
    }

    /// Waits for the redirect, answers the browser with a plain page, and returns the code.
    pub async fn wait(
        self,
        req: &SignInRequest,
        issuer: &str,
        timeout: Duration,
    ) -> Result<Secret, IdpError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut started = false;
        loop {
            let accept = tokio::time::timeout_at(deadline, self.listener.accept()).await;
            let Ok(Ok((stream, peer))) = accept else {
                return Err(IdpError::Timeout(timeout.as_secs()));
            };
            if !peer.ip().is_loopback() {
                continue; // Unreachable while bound to 127.0.0.1; kept as a guard.
            }
            match self.serve_one(stream, req, issuer, &mut started).await {
                Step::Done(result) => return result.map_err(IdpError::from),
                Step::Wait => continue,
            }
        }
    }

    /// Answers one request: the start redirect, the callback, or a 404.
    async fn serve_one(
        &self,
        mut stream: TcpStream,
        req: &SignInRequest,
        issuer: &str,
        started: &mut bool,
    ) -> Step {
        let Some(head) = read_head(&mut stream).await else { return Step::Wait };
        let Some(target) = request_target(&head) else { return Step::Wait };
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        if self.start_path.matches(path) {
            if std::mem::replace(started, true) {
                let e = CallbackError::LinkReused;
                let _ =
                    respond(&mut stream, "400 Bad Request", &format!("Lakepass sign-in stopped: {e}")).await;
                return Step::Done(Err(e));
            }
            let _ = redirect(&mut stream, req.url.as_str()).await;
            return Step::Wait;
        }
        if path != "/callback" {
            let _ = respond(&mut stream, "404 Not Found", "Not found.").await;
            return Step::Wait; // a favicon, say: keep waiting
        }
        let result = parse_callback(query, &req.state, issuer);
        let (status, body) = match &result {
            Ok(_) => ("200 OK", "Signed in to Lakepass. You can close this tab.".to_string()),
            Err(e) => ("400 Bad Request", format!("Lakepass sign-in failed: {e}")),
        };
        let _ = respond(&mut stream, status, &body).await;
        match result {
            // Not our browser's redirect: refused above, and the real one may still come.
            Err(CallbackError::State) => {
                tracing::warn!("sign-in: refused a callback with a wrong state; still waiting");
                Step::Wait
            }
            other => Step::Done(other),
        }
    }
}

/// What one request on the loopback listener means for the sign-in.
enum Step {
    /// Keep waiting.
    Wait,
    /// The sign-in ends with this.
    Done(Result<Secret, CallbackError>),
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
    tokio::time::timeout(std::time::Duration::from_secs(10), read).await.ok()?
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
