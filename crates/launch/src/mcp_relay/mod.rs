//! `lakepass mcp-proxy`'s relay: a stdio MCP server on one side, one Databricks managed MCP
//! server over streamable HTTP on the other, with the server's scoped token asked for on every
//! request. Agents that cannot run a headers helper (Codex, Gemini CLI, OpenCode, Copilot CLI)
//! start it as a local MCP server, so their MCP sessions outlive every token.
//!
//! The two transports, as MCP's specification says (modelcontextprotocol.io/specification/
//! 2025-06-18/basic/transports; 2025-03-26 reads the same on these points):
//! - stdio: the client writes JSON-RPC messages to our stdin and reads ours from stdout, one per
//!   line (no embedded newlines); nothing but messages goes to stdout, logs go to stderr. The
//!   client ends it by closing stdin.
//! - streamable HTTP: every message is a POST to the server's one endpoint with `Accept:
//!   application/json, text/event-stream`; a notification or response gets `202 Accepted`; a
//!   request gets either one JSON body or an SSE stream whose events carry messages (requests and
//!   notifications of the server, then the response). The `Mcp-Session-Id` of the initialize
//!   answer goes on every later request, with `MCP-Protocol-Version` (the negotiated version); a
//!   404 to a request carrying the session means it ended and the client must initialize again;
//!   `DELETE` with the session header ends it.
//!
//! What the relay adds:
//! - `Authorization: Bearer <token>` from a [`TokenSource`] on every POST (the CLI's asks the
//!   running engine over its socket, else the vault, as `lakepass token --scope` does); a 401 asks
//!   once more, telling the source which token was refused, and retries once.
//! - a session that ended (404) is opened again with the client's own `initialize` and
//!   `notifications/initialized`, and the request retried once: the agent never sees it end.
//! - the target is checked before any request ([`mcp_target`]): the workspace's own host, a
//!   managed MCP path; the relay is never a way to send a workspace's token elsewhere.
//! - an HTTP failure becomes a JSON-RPC error response to the request that caused it (so the
//!   agent's call fails with a reason instead of waiting forever), and one line on stderr.
//!   Neither bodies nor tokens are ever logged.
//!
//! Not done: the optional GET stream for server-initiated messages (the managed servers offer
//! none; the devstack answers 405 as the specification allows) and resuming a broken SSE stream
//! with `Last-Event-ID` (a request whose stream breaks gets an error answer instead).

mod sse;

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::{Mutex, mpsc};

use lakepass_config::Workspace;
use lakepass_wire::Secret;
use lakepass_wire::host::WorkspaceHost;

pub use sse::{SseEvent, SseParser};

/// What every POST accepts: both, as the transport requires.
pub const ACCEPT: &str = "application/json, text/event-stream";
/// The session header.
const SESSION: &str = "mcp-session-id";
/// The negotiated protocol version header.
const VERSION: &str = "mcp-protocol-version";
/// The path every Databricks managed MCP server lives under (docs.databricks.com/aws/en/agents/
/// mcp/managed-mcp).
pub const MANAGED_MCP_PREFIX: &str = "/api/2.0/mcp/";
/// How long one exchange may take, its SSE stream included: a Genie question or a SQL
/// statement can run for minutes; a server that never answers must still not hang the agent.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// The largest JSON answer read.
const MAX_JSON: usize = 64 * 1024 * 1024;
/// JSON-RPC's "server error" code (reserved range -32000..-32099) for failures of the relay.
const RELAY_ERROR: i64 = -32000;

/// Why `--url` is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// Not a URL.
    #[error("`{url}` is not a URL ({reason})")]
    NotUrl {
        /// What was given.
        url: String,
        /// The parser's reason.
        reason: String,
    },
    /// Another host than the workspace's.
    #[error(
        "`{url}` is not on workspace `{workspace}`'s host {host}; lakepass mcp-proxy sends a \
         workspace's token to that workspace only"
    )]
    OtherHost {
        /// What was given.
        url: String,
        /// The workspace.
        workspace: String,
        /// Its host.
        host: String,
    },
    /// Not a managed MCP server's path, or a URL with credentials or a fragment.
    #[error(
        "`{url}` is not a Databricks managed MCP server URL (`{MANAGED_MCP_PREFIX}…` on the \
         workspace host, no user name or fragment); see `lakepass mcp list`"
    )]
    NotMcp {
        /// What was given.
        url: String,
    },
}

/// The MCP endpoint `url` for workspace `ws`: its scheme, host and port exactly the workspace's
/// (`https`, or `http` on loopback as [`WorkspaceHost`] allows), its path a managed MCP
/// server's. A pure decision, made before any request.
pub fn mcp_target(ws: &Workspace, url: &str) -> Result<reqwest::Url, TargetError> {
    let parsed = reqwest::Url::parse(url)
        .map_err(|e| TargetError::NotUrl { url: url.into(), reason: e.to_string() })?;
    let origin = match (parsed.host_str(), parsed.port()) {
        (Some(h), Some(p)) => format!("{}://{h}:{p}", parsed.scheme()),
        (Some(h), None) => format!("{}://{h}", parsed.scheme()),
        (None, _) => String::new(),
    };
    if WorkspaceHost::parse(&origin).ok().as_ref() != Some(&ws.host) {
        return Err(TargetError::OtherHost {
            url: url.into(),
            workspace: ws.name.clone(),
            host: ws.host.as_str().into(),
        });
    }
    let clean = parsed.username().is_empty() && parsed.password().is_none() && parsed.fragment().is_none();
    if !clean || !parsed.path().starts_with(MANAGED_MCP_PREFIX) {
        return Err(TargetError::NotMcp { url: url.into() });
    }
    Ok(parsed)
}

/// No token could be had; the message says why and what to do (no secret in it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenUnavailable(pub String);

/// Where the relay gets its bearer token, asked before every request.
pub trait TokenSource: Send + Sync + 'static {
    /// A valid token. `refused` is the token the server just answered 401 to: the source must
    /// not hand that one back (refresh it), or fail.
    fn token(
        &self,
        refused: Option<&Secret>,
    ) -> impl std::future::Future<Output = Result<Secret, TokenUnavailable>> + Send;
}

/// One JSON-RPC message from the client, as far as the relay must know it.
#[derive(Debug, Clone, PartialEq)]
enum Incoming {
    /// A request: it gets exactly one response, from the server or from the relay.
    Request { id: Value, method: String },
    /// A notification, or a response to a server's request: the server answers 202.
    Other,
}

fn classify(msg: &Value) -> Option<Incoming> {
    let obj = msg.as_object()?;
    match (obj.get("method").and_then(Value::as_str), obj.get("id")) {
        (Some(m), Some(id)) => Some(Incoming::Request { id: id.clone(), method: m.to_string() }),
        _ => Some(Incoming::Other),
    }
}

/// A JSON-RPC error response for request `id`.
pub fn rpc_error(id: &Value, code: i64, message: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

/// The session the relay holds with the server.
#[derive(Debug, Default)]
struct Session {
    /// `Mcp-Session-Id` of the initialize answer.
    id: Option<String>,
    /// The negotiated protocol version.
    version: Option<String>,
    /// The client's own `initialize` line, to open an ended session again.
    initialize: Option<String>,
}

/// The relay: one HTTP endpoint, one token source, one session.
pub struct Relay<T> {
    client: reqwest::Client,
    url: reqwest::Url,
    tokens: T,
    /// What stderr lines name: `mcp-proxy <url>`.
    label: String,
    session: std::sync::Mutex<Session>,
    /// Held while a session is opened again, so concurrent 404s open it once.
    reopening: Mutex<()>,
    out: mpsc::UnboundedSender<String>,
}

/// What one POST brought back.
enum Answer {
    /// Relayed (or nothing to relay).
    Done,
    /// The server refused the token.
    Unauthorized,
    /// The session ended (404 to a request carrying it).
    SessionGone,
}

impl<T: TokenSource> Relay<T> {
    /// Relays between `stdin`/`stdout` and `url` (checked with [`mcp_target`]) until stdin
    /// closes; then ends the session with `DELETE`.
    pub async fn run(
        client: reqwest::Client,
        url: reqwest::Url,
        tokens: T,
        stdin: impl AsyncRead + Unpin,
        stdout: impl AsyncWrite + Unpin + Send + 'static,
    ) -> std::io::Result<()> {
        let (out, rx) = mpsc::unbounded_channel();
        let writer = tokio::spawn(write_lines(stdout, rx));
        let label = format!("lakepass mcp-proxy ({})", url.as_str());
        let relay = Arc::new(Relay {
            client,
            url,
            tokens,
            label,
            session: Default::default(),
            reopening: Mutex::new(()),
            out,
        });
        let mut lines = BufReader::new(stdin).lines();
        let mut inflight = tokio::task::JoinSet::new();
        while let Some(line) = lines.next_line().await? {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let Some(incoming) = serde_json::from_str::<Value>(line).ok().as_ref().and_then(classify) else {
                relay.send_out(&rpc_error(&Value::Null, -32700, "Parse error: not one JSON-RPC message"));
                continue;
            };
            // `initialize` is answered before the next line is read: everything after it
            // needs its session.
            if matches!(&incoming, Incoming::Request { method, .. } if method == "initialize") {
                relay.session.lock().expect("session").initialize = Some(line.to_string());
                relay.exchange(line.to_string(), incoming).await;
            } else {
                let (relay, line) = (relay.clone(), line.to_string());
                inflight.spawn(async move { relay.exchange(line, incoming).await });
            }
            while inflight.try_join_next().is_some() {}
        }
        // stdin closed: the client is done. Answers still on their way have no reader.
        inflight.abort_all();
        while inflight.join_next().await.is_some() {}
        relay.end_session().await;
        drop(relay); // the last sender: the writer ends once it wrote what is queued
        writer.await.unwrap_or(Ok(()))
    }

    fn send_out(&self, msg: &Value) {
        let _ = self.out.send(msg.to_string());
    }

    fn say(&self, what: &str) {
        eprintln!("{}: {what}", self.label);
    }

    /// Posts one message and relays what comes back; a request always gets an answer.
    async fn exchange(&self, body: String, incoming: Incoming) {
        let id = match &incoming {
            Incoming::Request { id, .. } => Some(id),
            Incoming::Other => None,
        };
        let is_initialize = matches!(&incoming, Incoming::Request { method, .. } if method == "initialize");
        let mut refused: Option<Secret> = None;
        let mut reopened = false;
        loop {
            let token = match self.tokens.token(refused.as_ref()).await {
                Ok(t) => t,
                Err(TokenUnavailable(why)) => {
                    self.say(&format!("no token: {why}"));
                    if let Some(id) = id {
                        self.send_out(&rpc_error(id, RELAY_ERROR, &format!("Lakepass has no token: {why}")));
                    }
                    return;
                }
            };
            let session = self.session.lock().expect("session").id.clone();
            let sent_session = if is_initialize { None } else { session };
            let resp = match self.post(&body, &token, sent_session.as_deref()).await {
                Ok(r) => r,
                Err(e) => {
                    self.say(&format!("cannot reach the server: {}", without_url(&e)));
                    if let Some(id) = id {
                        let msg = format!("cannot reach {}: {}", self.url, without_url(&e));
                        self.send_out(&rpc_error(id, RELAY_ERROR, &msg));
                    }
                    return;
                }
            };
            match self.answer(resp, id, is_initialize, sent_session.is_some()).await {
                Answer::Done => return,
                Answer::Unauthorized if refused.is_none() => refused = Some(token),
                Answer::Unauthorized => {
                    let msg = "the workspace refused the token (401) again after a fresh one; run `lakepass \
                               doctor --mcp` to see why";
                    self.say(msg);
                    if let Some(id) = id {
                        self.send_out(&rpc_error(id, RELAY_ERROR, msg));
                    }
                    return;
                }
                Answer::SessionGone if !reopened => {
                    reopened = true;
                    if let Err(why) = self.reopen(sent_session.as_deref()).await {
                        self.say(&why);
                        if let Some(id) = id {
                            self.send_out(&rpc_error(id, RELAY_ERROR, &why));
                        }
                        return;
                    }
                }
                Answer::SessionGone => {
                    let msg = "the MCP server ended the session again right after it was opened";
                    self.say(msg);
                    if let Some(id) = id {
                        self.send_out(&rpc_error(id, RELAY_ERROR, msg));
                    }
                    return;
                }
            }
        }
    }

    /// One POST with the token and the session's headers.
    async fn post(
        &self,
        body: &str,
        token: &Secret,
        session: Option<&str>,
    ) -> Result<reqwest::Response, reqwest::Error> {
        let mut req = self
            .client
            .post(self.url.clone())
            .timeout(EXCHANGE_TIMEOUT)
            .bearer_auth(token.secret())
            .header(reqwest::header::ACCEPT, ACCEPT)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string());
        if let Some(s) = session {
            req = req.header(SESSION, s);
        }
        if let Some(v) = self.session.lock().expect("session").version.clone() {
            req = req.header(VERSION, v);
        }
        req.send().await
    }

    /// Reads one answer and relays its messages; `id` is the request's (None: notification).
    async fn answer(
        &self,
        resp: reqwest::Response,
        id: Option<&Value>,
        is_initialize: bool,
        had_session: bool,
    ) -> Answer {
        let status = resp.status();
        if status == reqwest::StatusCode::UNAUTHORIZED {
            return Answer::Unauthorized;
        }
        if status == reqwest::StatusCode::NOT_FOUND && had_session {
            return Answer::SessionGone;
        }
        if is_initialize && status.is_success() {
            let sid = resp.headers().get(SESSION).and_then(|v| v.to_str().ok()).map(String::from);
            self.session.lock().expect("session").id = sid;
        }
        if status == reqwest::StatusCode::ACCEPTED {
            return Answer::Done;
        }
        let sse = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|c| c.trim_start().to_ascii_lowercase().starts_with("text/event-stream"));
        if status.is_success() && sse {
            let answered = self.relay_stream(resp, id, is_initialize).await;
            if let (Some(id), Err(why)) = (id, answered) {
                self.say(&why);
                self.send_out(&rpc_error(id, RELAY_ERROR, &why));
            }
            return Answer::Done;
        }
        let body = read_capped(resp).await;
        let parsed: Option<Value> = body.as_deref().and_then(|b| serde_json::from_slice(b).ok());
        if status.is_success() {
            let messages = match parsed {
                Some(Value::Array(v)) => v,
                Some(v) => vec![v],
                None if id.is_none() => return Answer::Done,
                None => {
                    let why = format!("the server's answer ({status}) is not JSON");
                    self.say(&why);
                    self.send_out(&rpc_error(id.expect("a request"), RELAY_ERROR, &why));
                    return Answer::Done;
                }
            };
            for m in &messages {
                self.take_version(m, is_initialize);
                self.send_out(m);
            }
            return Answer::Done;
        }
        // A failure: one stderr line (status and error code only), and the request's answer.
        let (code, message) = failure_of(parsed.as_ref());
        self.say(&format!(
            "the server answered {status}{}",
            code.as_deref().map(|c| format!(" ({c})")).unwrap_or_default()
        ));
        if let Some(id) = id {
            let text = match (&code, &message) {
                (Some(c), Some(m)) => format!("HTTP {status} from the MCP server: {c}: {m}"),
                (None, Some(m)) | (Some(m), None) => format!("HTTP {status} from the MCP server: {m}"),
                (None, None) => format!("HTTP {status} from the MCP server"),
            };
            let rpc_code = parsed
                .as_ref()
                .and_then(|v| v.pointer("/error/code"))
                .and_then(Value::as_i64)
                .unwrap_or(RELAY_ERROR);
            self.send_out(&rpc_error(id, rpc_code, &text));
        }
        Answer::Done
    }

    /// Relays each event's message as it arrives; `Err` when the stream ends before the
    /// response to request `id`.
    async fn relay_stream(
        &self,
        mut resp: reqwest::Response,
        id: Option<&Value>,
        is_initialize: bool,
    ) -> Result<(), String> {
        let mut parser = SseParser::default();
        let mut answered = id.is_none();
        loop {
            let chunk = match resp.chunk().await {
                Ok(Some(c)) => c,
                Ok(None) => break,
                Err(e) => return Err(format!("the server's event stream broke: {}", without_url(&e))),
            };
            for event in parser.feed(&chunk) {
                let Ok(msg) = serde_json::from_str::<Value>(&event.data) else {
                    tracing::debug!("an SSE event without a JSON-RPC message; skipped");
                    continue;
                };
                let is_answer = id.is_some_and(|id| {
                    msg.get("id") == Some(id) && (msg.get("result").is_some() || msg.get("error").is_some())
                });
                self.take_version(&msg, is_initialize);
                self.send_out(&msg);
                answered |= is_answer;
            }
            if answered && id.is_some() {
                // The server SHOULD close the stream after the response; do not wait for it.
                break;
            }
        }
        if answered { Ok(()) } else { Err("the server's event stream ended before its answer".into()) }
    }

    /// Keeps the negotiated version from the initialize answer.
    fn take_version(&self, msg: &Value, is_initialize: bool) {
        if !is_initialize {
            return;
        }
        if let Some(v) = msg.pointer("/result/protocolVersion").and_then(Value::as_str) {
            self.session.lock().expect("session").version = Some(v.to_string());
        }
    }

    /// Opens the session again with the client's `initialize` (its answer not relayed: the
    /// client has one) and `notifications/initialized`. `gone`: the session that ended; when
    /// another request already replaced it, nothing is done.
    async fn reopen(&self, gone: Option<&str>) -> Result<(), String> {
        let _one = self.reopening.lock().await;
        let init = {
            let s = self.session.lock().expect("session");
            if s.id.as_deref() != gone {
                return Ok(());
            }
            s.initialize.clone()
        };
        let init = init.ok_or("the MCP session ended before it was initialized")?;
        self.say("the MCP session ended; opening a new one");
        let token =
            self.tokens.token(None).await.map_err(|TokenUnavailable(why)| format!("no token: {why}"))?;
        let resp = self
            .post(&init, &token, None)
            .await
            .map_err(|e| format!("cannot open a new MCP session: {}", without_url(&e)))?;
        if !resp.status().is_success() {
            return Err(format!("cannot open a new MCP session: the server answered {}", resp.status()));
        }
        let sid = resp.headers().get(SESSION).and_then(|v| v.to_str().ok()).map(String::from);
        let _ = read_capped(resp).await;
        self.session.lock().expect("session").id = sid.clone();
        let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"}).to_string();
        match self.post(&note, &token, sid.as_deref()).await {
            Ok(r) if r.status().is_success() => Ok(()),
            Ok(r) => Err(format!("the new MCP session refused `notifications/initialized`: {}", r.status())),
            Err(e) => Err(format!("cannot open a new MCP session: {}", without_url(&e))),
        }
    }

    /// `DELETE` with the session header, once stdin closed; a server that does not allow it
    /// (405) or cannot be reached is told on stderr only at debug level: the client is gone.
    async fn end_session(&self) {
        let Some(sid) = self.session.lock().expect("session").id.clone() else { return };
        let Ok(token) = self.tokens.token(None).await else { return };
        let req = self
            .client
            .delete(self.url.clone())
            .timeout(Duration::from_secs(5))
            .bearer_auth(token.secret())
            .header(SESSION, sid);
        match req.send().await {
            Ok(r) => tracing::debug!(status = %r.status(), "ended the MCP session"),
            Err(e) => tracing::debug!(error = %without_url(&e), "could not end the MCP session"),
        }
    }
}

/// Writes each message as one line, flushed, until every sender is gone.
async fn write_lines(
    mut stdout: impl AsyncWrite + Unpin,
    mut rx: mpsc::UnboundedReceiver<String>,
) -> std::io::Result<()> {
    while let Some(mut line) = rx.recv().await {
        line.push('\n');
        stdout.write_all(line.as_bytes()).await?;
        stdout.flush().await?;
    }
    Ok(())
}

/// The body, at most [`MAX_JSON`] bytes; `None` when longer or unreadable.
async fn read_capped(mut resp: reqwest::Response) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.ok()? {
        if body.len() + chunk.len() > MAX_JSON {
            return None;
        }
        body.extend_from_slice(&chunk);
    }
    Some(body)
}

/// The error code and message of a failed answer: JSON-RPC's `error`, or Databricks'
/// `error_code` and `message`.
fn failure_of(body: Option<&Value>) -> (Option<String>, Option<String>) {
    let s = |v: Option<&Value>| v.and_then(Value::as_str).map(String::from);
    match body {
        Some(b) if b.get("error").is_some_and(Value::is_object) => (None, s(b.pointer("/error/message"))),
        Some(b) => (s(b.get("error_code")), s(b.get("message"))),
        None => (None, None),
    }
}

/// A reqwest error's text without its URL (the URL is in every line's label already).
fn without_url(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "the answer broke off"
    } else {
        "request failed"
    };
    match std::error::Error::source(e) {
        Some(src) => format!("{kind}: {src}"),
        None => kind.to_string(),
    }
}

#[cfg(test)]
mod tests;
