//! Failure injection: latency, error statuses (429 with Retry-After, 5xx), dropped connections,
//! clock skew, and an IdP outage, switchable live from a test or over HTTP.
//!
//! Implemented as one axum middleware in front of every listener, so handlers stay unaware of
//! faults except for the clock: the middleware hands each request a [`Skew`] that handlers add to
//! the wall clock when they stamp or check `iat`/`exp`, and the `Date` header carries the same
//! skewed time.
//!
//! A dropped connection is signalled with the [`DropConnection`] response extension; the server
//! loop (`server.rs`) turns it into a service error, on which hyper closes the connection without
//! writing a response, as a crashed proxy would.
//!
//! Over HTTP (`POST /_devstack/faults`) a rule is JSON, e.g.
//! `{"target":"workspace_token","workspace":"dev","times":1,"kind":{"status":{"code":429,"retry_after_secs":2}}}`;
//! other kinds are `"drop"`, `{"latency_ms":1500}` and `{"clock_skew_secs":-7200}`.
//!
//! Three kinds let the real handler run first and then spoil its answer, because the nastiest
//! failures happen after the server has committed: `"reset_mid_body"` sends the status, headers
//! and half the body, then resets the connection; `{"slow_body_ms":3000}` dribbles the body
//! over that many milliseconds (a slow-loris response; a huge value is a stalled one);
//! `"lost_response"` drops the connection without a byte, after the grant was processed (a
//! rotated refresh token the client never received).

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use serde::{Deserialize, Serialize};

use crate::errors::{databricks_error, oauth_error};

/// Which requests a [`FaultRule`] applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// The IdP's `POST /token`.
    IdpToken,
    /// The IdP's JWKS (`GET /jwks`): signing keys unreachable while discovery still works.
    IdpKeys,
    /// The IdP's discovery document (`GET /.well-known/openid-configuration`).
    IdpDiscovery,
    /// A workspace's `POST /oidc/v1/token` (exchange and client credentials).
    WorkspaceToken,
    /// A workspace's REST and serving APIs (`/api/…`, `/serving-endpoints/…`, `/ai-gateway/…`).
    WorkspaceApi,
    /// Every request on every listener, except the `/_devstack` control endpoints.
    Any,
}

/// What a matching request suffers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// Delay the request by this many milliseconds, then serve it normally.
    #[serde(rename = "latency_ms")]
    Latency(u64),
    /// Answer with this status instead (429 gets `Retry-After` when given) and a JSON error.
    Status {
        /// HTTP status, e.g. 429, 500, 502, 503, 504.
        code: u16,
        /// Seconds for the `Retry-After` header.
        #[serde(default)]
        retry_after_secs: Option<u64>,
    },
    /// Close the connection without any response.
    Drop,
    /// Answer with this status and exactly this body (a hostile or broken server's answer).
    Body {
        /// HTTP status.
        code: u16,
        /// The body, sent as it is.
        body: String,
        /// Its `Content-Type`; `application/json` when not given.
        #[serde(default)]
        content_type: Option<String>,
    },
    /// Serve normally, but with the server's clock this many seconds off (`Date`, `iat`, `exp`,
    /// and expiry checks).
    #[serde(rename = "clock_skew_secs")]
    ClockSkew(i64),
    /// Serve for real, then send the headers and the first half of the body and reset.
    ResetMidBody,
    /// Serve for real, then send the body in small pieces spread over this many milliseconds.
    #[serde(rename = "slow_body_ms")]
    SlowBody(u64),
    /// Serve for real (the server commits), then close the connection without any response.
    LostResponse,
}

/// One fault rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultRule {
    /// Which requests.
    pub target: Target,
    /// Only this workspace (`dev`/`prod`); `None` means any listener the target covers.
    #[serde(default)]
    pub workspace: Option<String>,
    /// How many requests it still applies to; 0 means until cleared.
    #[serde(default)]
    pub times: u32,
    /// What happens.
    pub kind: FaultKind,
}

impl FaultRule {
    /// A rule applying to every matching request until cleared.
    pub fn new(target: Target, kind: FaultKind) -> Self {
        Self { target, workspace: None, times: 0, kind }
    }

    /// Applies to the next `n` matching requests only.
    pub fn times(mut self, n: u32) -> Self {
        self.times = n;
        self
    }

    /// Applies to one workspace only.
    pub fn on_workspace(mut self, name: &str) -> Self {
        self.workspace = Some(name.to_owned());
        self
    }
}

/// The active faults of one devstack. Clones share state.
#[derive(Debug, Clone, Default)]
pub struct Faults(Arc<Mutex<FaultState>>);

/// The active rules and the IdP outage switch (also the JSON of `GET /_devstack/faults`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct FaultState {
    rules: Vec<FaultRule>,
    idp_down: bool,
}

impl Faults {
    /// Adds a rule; rules apply in the order added.
    pub fn add(&self, rule: FaultRule) {
        self.lock().rules.push(rule);
    }

    /// Removes every rule and brings the IdP back up.
    pub fn clear(&self) {
        *self.lock() = FaultState::default();
    }

    /// Makes every IdP endpoint answer 503 (`true`) or serve normally again (`false`).
    pub fn idp_down(&self, down: bool) {
        self.lock().idp_down = down;
    }

    /// The rules still active, with their remaining counts.
    pub fn rules(&self) -> Vec<FaultRule> {
        self.lock().rules.clone()
    }

    pub(crate) fn state(&self) -> FaultState {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FaultState> {
        self.0.lock().expect("faults poisoned")
    }

    /// Consumes the rules that apply to one request and says what to do with it.
    fn plan(&self, site: &Listener, target: Option<Target>) -> Plan {
        let mut state = self.lock();
        let mut plan = Plan { idp_down: state.idp_down && matches!(site, Listener::Idp), ..Plan::default() };
        let mut i = 0;
        while i < state.rules.len() {
            let rule = &state.rules[i];
            let target_ok = rule.target == Target::Any || Some(rule.target) == target;
            let site_ok = match (&rule.workspace, site) {
                (None, _) => true,
                (Some(want), Listener::Workspace(name)) => want == name,
                (Some(_), Listener::Idp) => false,
            };
            let used = target_ok
                && site_ok
                && match &rule.kind {
                    FaultKind::Latency(ms) => {
                        plan.latency_ms += ms;
                        true
                    }
                    FaultKind::ClockSkew(s) => {
                        plan.skew += s;
                        true
                    }
                    kind @ (FaultKind::Status { .. } | FaultKind::Drop | FaultKind::Body { .. }) => {
                        let first = plan.terminal.is_none();
                        if first {
                            plan.terminal = Some(kind.clone());
                        }
                        first
                    }
                    kind @ (FaultKind::ResetMidBody | FaultKind::SlowBody(_) | FaultKind::LostResponse) => {
                        let first = plan.after.is_none();
                        if first {
                            plan.after = Some(kind.clone());
                        }
                        first
                    }
                };
            let rule = &mut state.rules[i];
            if used && rule.times > 0 {
                rule.times -= 1;
                if rule.times == 0 {
                    state.rules.remove(i);
                    continue;
                }
            }
            i += 1;
        }
        plan
    }
}

#[derive(Debug, Default)]
struct Plan {
    idp_down: bool,
    latency_ms: u64,
    skew: i64,
    terminal: Option<FaultKind>,
    /// A fault applied to the real handler's answer.
    after: Option<FaultKind>,
}

/// Which listener a middleware instance guards.
#[derive(Debug, Clone)]
pub(crate) enum Listener {
    Idp,
    Workspace(String),
}

/// The middleware's state.
#[derive(Clone)]
pub(crate) struct Site {
    pub(crate) listener: Listener,
    pub(crate) faults: Faults,
}

/// The server clock's offset for this request, in seconds (always present in extensions).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Skew(pub(crate) i64);

impl Skew {
    /// Unix seconds on the (possibly skewed) server clock.
    pub(crate) fn now(self) -> i64 {
        let wall = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
        wall + self.0
    }
}

/// Response extension asking the server loop to close the connection without answering.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DropConnection;

fn classify(site: &Listener, path: &str) -> Option<Target> {
    match site {
        Listener::Idp if path == "/token" => Some(Target::IdpToken),
        Listener::Idp if path == "/jwks" => Some(Target::IdpKeys),
        Listener::Idp if path == "/.well-known/openid-configuration" => Some(Target::IdpDiscovery),
        Listener::Idp => None,
        Listener::Workspace(_) if path == "/oidc/v1/token" => Some(Target::WorkspaceToken),
        Listener::Workspace(_)
            if path.starts_with("/api/")
                || path.starts_with("/serving-endpoints/")
                || path.starts_with("/ai-gateway/") =>
        {
            Some(Target::WorkspaceApi)
        }
        Listener::Workspace(_) => None,
    }
}

/// The fault middleware (see the module docs).
pub(crate) async fn middleware(State(site): State<Site>, mut req: Request, next: Next) -> Response {
    if req.uri().path().starts_with("/_devstack") {
        req.extensions_mut().insert(Skew(0));
        return next.run(req).await;
    }
    let target = classify(&site.listener, req.uri().path());
    let plan = site.faults.plan(&site.listener, target);
    if plan.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(plan.latency_ms)).await;
    }
    let skew = Skew(plan.skew);
    let mut resp = if plan.idp_down {
        oauth_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "The identity provider is down (devstack fault)",
        )
    } else {
        match plan.terminal {
            Some(FaultKind::Drop) => {
                let mut resp = Response::new(axum::body::Body::empty());
                resp.extensions_mut().insert(DropConnection);
                return resp;
            }
            Some(FaultKind::Status { code, retry_after_secs }) => {
                status_response(&site.listener, code, retry_after_secs)
            }
            Some(FaultKind::Body { code, body, content_type }) => {
                let mut resp = Response::new(axum::body::Body::from(body));
                *resp.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                let ct = content_type.unwrap_or_else(|| "application/json".into());
                if let Ok(v) = HeaderValue::from_str(&ct) {
                    resp.headers_mut().insert(header::CONTENT_TYPE, v);
                }
                resp
            }
            _ => {
                req.extensions_mut().insert(skew);
                let resp = next.run(req).await;
                match plan.after {
                    Some(kind) => spoil(resp, &kind).await,
                    None => resp,
                }
            }
        }
    };
    if skew.0 != 0
        && let Some(date) = http_date(skew.now())
    {
        resp.headers_mut().insert(header::DATE, date);
    }
    resp
}

/// Applies a post-handler fault (`ResetMidBody`, `SlowBody`, `LostResponse`) to `resp`.
async fn spoil(resp: Response, kind: &FaultKind) -> Response {
    let (mut parts, body) = resp.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return Response::from_parts(parts, axum::body::Body::empty());
    };
    let full_len = bytes.len();
    let body = match kind {
        FaultKind::LostResponse => {
            let mut resp = Response::new(axum::body::Body::empty());
            resp.extensions_mut().insert(DropConnection);
            return resp;
        }
        FaultKind::ResetMidBody => FaultyBody {
            chunks: [bytes.slice(..full_len / 2)].into_iter().collect(),
            pause: Duration::ZERO,
            sleep: None,
            reset_at_end: true,
        },
        _ => {
            let FaultKind::SlowBody(total_ms) = kind else { unreachable!("only post faults") };
            let chunks: std::collections::VecDeque<_> =
                (0..full_len).step_by(8).map(|at| bytes.slice(at..(at + 8).min(full_len))).collect();
            let pause = Duration::from_millis(*total_ms / chunks.len().max(1) as u64);
            FaultyBody { chunks, pause, sleep: None, reset_at_end: false }
        }
    };
    // The full length is announced, as a server that started a real answer would.
    parts.headers.insert(header::CONTENT_LENGTH, HeaderValue::from(full_len));
    Response::from_parts(parts, axum::body::Body::new(body))
}

/// A response body that pauses before each chunk and may reset the connection at its end.
struct FaultyBody {
    chunks: std::collections::VecDeque<axum::body::Bytes>,
    pause: Duration,
    sleep: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
    reset_at_end: bool,
}

impl hyper::body::Body for FaultyBody {
    type Data = axum::body::Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        use std::task::Poll;
        let this = &mut *self;
        if this.pause > Duration::ZERO && !this.chunks.is_empty() {
            let sleep = this.sleep.get_or_insert_with(|| Box::pin(tokio::time::sleep(this.pause)));
            if sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            this.sleep = None;
        }
        match this.chunks.pop_front() {
            Some(chunk) => Poll::Ready(Some(Ok(hyper::body::Frame::data(chunk)))),
            None if this.reset_at_end => Poll::Ready(Some(Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "devstack fault: connection reset mid-response",
            )))),
            None => Poll::Ready(None),
        }
    }
}

fn status_response(site: &Listener, code: u16, retry_after: Option<u64>) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let reason = status.canonical_reason().unwrap_or("error");
    let message = format!("{reason} (devstack fault)");
    let mut resp = match site {
        Listener::Idp => {
            let error =
                if status == StatusCode::TOO_MANY_REQUESTS { "slow_down" } else { "temporarily_unavailable" };
            oauth_error(status, error, &message)
        }
        Listener::Workspace(_) => {
            let error_code = match status {
                StatusCode::TOO_MANY_REQUESTS => "REQUEST_LIMIT_EXCEEDED",
                StatusCode::SERVICE_UNAVAILABLE => "TEMPORARILY_UNAVAILABLE",
                _ => "INTERNAL_ERROR",
            };
            databricks_error(status, error_code, &message)
        }
    };
    if let Some(secs) = retry_after {
        resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    resp
}

/// An IMF-fixdate (RFC 9110 §5.6.7) for unix time `secs`.
fn http_date(secs: i64) -> Option<HeaderValue> {
    let t = time::OffsetDateTime::from_unix_timestamp(secs).ok()?;
    let fmt = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    HeaderValue::from_str(&t.format(fmt).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_json_format() {
        let rule = FaultRule::new(
            Target::WorkspaceToken,
            FaultKind::Status { code: 429, retry_after_secs: Some(2) },
        )
        .times(1)
        .on_workspace("dev");
        let json = serde_json::to_value(&rule).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"target":"workspace_token","workspace":"dev","times":1,
                "kind":{"status":{"code":429,"retry_after_secs":2}}})
        );
        let drop: FaultRule = serde_json::from_str(r#"{"target":"any","kind":"drop"}"#).unwrap();
        assert_eq!(drop, FaultRule::new(Target::Any, FaultKind::Drop));
        let skew: FaultRule =
            serde_json::from_str(r#"{"target":"idp_token","kind":{"clock_skew_secs":-60}}"#).unwrap();
        assert_eq!(skew.kind, FaultKind::ClockSkew(-60));
    }

    #[test]
    fn counted_rules_run_out_and_filters_apply() {
        let faults = Faults::default();
        faults.add(FaultRule::new(Target::WorkspaceApi, FaultKind::Drop).times(2).on_workspace("prod"));
        faults.add(FaultRule::new(Target::Any, FaultKind::Latency(5)));
        let dev = Listener::Workspace("dev".into());
        let prod = Listener::Workspace("prod".into());
        assert!(faults.plan(&dev, Some(Target::WorkspaceApi)).terminal.is_none());
        assert!(faults.plan(&prod, Some(Target::WorkspaceToken)).terminal.is_none());
        assert_eq!(faults.plan(&prod, Some(Target::WorkspaceApi)).terminal, Some(FaultKind::Drop));
        assert_eq!(faults.rules()[0].times, 1);
        let last = faults.plan(&prod, Some(Target::WorkspaceApi));
        assert_eq!((last.terminal, last.latency_ms), (Some(FaultKind::Drop), 5));
        assert_eq!(faults.rules().len(), 1, "the counted rule ran out");
    }

    #[test]
    fn post_handler_fault_json_and_planning() {
        let slow: FaultRule =
            serde_json::from_str(r#"{"target":"idp_token","kind":{"slow_body_ms":3000}}"#).unwrap();
        assert_eq!(slow.kind, FaultKind::SlowBody(3000));
        let reset: FaultRule = serde_json::from_str(r#"{"target":"any","kind":"reset_mid_body"}"#).unwrap();
        assert_eq!(reset.kind, FaultKind::ResetMidBody);
        let lost: FaultRule = serde_json::from_str(r#"{"target":"any","kind":"lost_response"}"#).unwrap();
        assert_eq!(lost.kind, FaultKind::LostResponse);
        let faults = Faults::default();
        faults.add(reset.times(1));
        faults.add(lost.times(1));
        let first = faults.plan(&Listener::Idp, Some(Target::IdpToken));
        assert_eq!((first.terminal, first.after), (None, Some(FaultKind::ResetMidBody)));
        let second = faults.plan(&Listener::Idp, Some(Target::IdpToken));
        assert_eq!(second.after, Some(FaultKind::LostResponse));
        assert!(faults.rules().is_empty());
    }

    #[test]
    fn http_date_is_imf_fixdate() {
        assert_eq!(http_date(784_111_777).unwrap(), "Sun, 06 Nov 1994 08:49:37 GMT");
    }
}
