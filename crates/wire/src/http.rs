//! One HTTP client for every request Lakepass makes, with retries done right.
//!
//! Requests are plain values ([`FormRequest`]) built by pure functions in `idp` and `exchange`,
//! so tests can assert the exact form; this module only sends them. Retries cover what is
//! transient — connection failures, timeouts, 429 and 500/502/503/504 — with exponential backoff
//! and full jitter, honouring `Retry-After`. Everything else is returned at once: retrying a 401
//! only hides the real problem, and a certificate from an untrusted CA will not become trusted by
//! asking again ([`HttpError::UntrustedCertificate`]). Trust itself is [`crate::tls::Trust`].
//! Sleeping uses tokio's clock, so tests can pause and advance it.
//!
//! One request, retries included, has one deadline ([`RetryPolicy::deadline`], 30 s): a server
//! that sends headers and then trickles or stalls its body cannot keep a refresh busy for
//! attempts × the timeout ([`HttpError::DeadlineExceeded`]); each attempt also ends after
//! [`RetryPolicy::attempt_timeout`] (20 s), so a stalled attempt still leaves time to retry.

use std::time::Duration;

use rand::Rng;
use reqwest::StatusCode;
use serde::de::DeserializeOwned;

use crate::secret::Secret;
use crate::text::{server_text, server_text_capped};
use crate::tls::Trust;

/// Largest response body we read: token endpoints answer a few KiB.
/// The largest response body read from any server: 1 MiB.
pub const MAX_BODY: usize = 1024 * 1024;

/// A form-encoded POST (or a GET when `form` is empty and `get` is set), as a plain value.
pub struct FormRequest {
    /// Absolute URL.
    pub url: String,
    /// Form fields; values are secrets because most of them are (tokens, verifiers, codes).
    pub form: Vec<(&'static str, Secret)>,
    /// HTTP Basic credentials (client id, client secret).
    pub basic_auth: Option<(String, Secret)>,
}

impl FormRequest {
    /// A POST to `url` with no fields yet.
    pub fn post(url: impl Into<String>) -> Self {
        FormRequest { url: url.into(), form: Vec::new(), basic_auth: None }
    }

    /// Adds a field.
    pub fn field(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.form.push((name, Secret::new(value)));
        self
    }

    /// Adds a secret field.
    pub(crate) fn secret_field(mut self, name: &'static str, value: &Secret) -> Self {
        self.form.push((name, value.clone()));
        self
    }

    /// The value of field `name`, for tests and request inspection.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.form.iter().find(|(k, _)| *k == name).map(|(_, v)| v.secret())
    }
}

impl std::fmt::Debug for FormRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<_> = self.form.iter().map(|(k, _)| *k).collect();
        f.debug_struct("FormRequest").field("url", &self.url).field("fields", &names).finish()
    }
}

/// A response as read off the wire.
#[derive(Debug, Clone)]
pub struct Response {
    /// HTTP status.
    pub status: StatusCode,
    /// The server's `Date` header, as UNIX seconds, when present (clock-skew checks).
    pub date: Option<i64>,
    /// `Retry-After`, when present and parseable.
    pub retry_after: Option<Duration>,
    /// The body, at most 1 MiB.
    pub body: Vec<u8>,
}

impl Response {
    /// Parses the body as JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, HttpError> {
        serde_json::from_slice(&self.body).map_err(|e| HttpError::Decode {
            status: self.status.as_u16(),
            // serde quotes what it did not expect (an unknown variant) as the server wrote it.
            message: server_text(&e.to_string()),
            body: self.body_excerpt(),
        })
    }

    /// The first 200 characters of the body, for error messages about non-JSON replies, with
    /// control characters made visible ([`server_text`]).
    /// Only call this for error bodies: success bodies carry tokens.
    pub fn body_excerpt(&self) -> String {
        server_text_capped(&String::from_utf8_lossy(&self.body), 200)
    }

    /// True for 2xx.
    pub fn is_success(&self) -> bool {
        self.status.is_success()
    }
}

/// What went wrong sending a request.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// Could not connect, or the connection broke, or it timed out — after retries.
    #[error("could not reach {url}: {message}")]
    Unreachable {
        /// Where we tried to go.
        url: String,
        /// What failed, without the request body.
        message: String,
    },
    /// The server's certificate chains to a CA this computer does not trust: most often a
    /// company's TLS-inspecting proxy. Not retried.
    #[error(
        "{url} presented a certificate from a CA this computer does not trust ({issuer}); if your company inspects TLS, set `ca_file` in the Lakepass config to your company's CA (PEM)"
    )]
    UntrustedCertificate {
        /// Where we tried to go.
        url: String,
        /// The untrusted CA's name (`CN=…, O=…`), as the certificate chain gives it.
        issuer: String,
    },
    /// The server kept answering 429/5xx until we gave up.
    #[error(
        "{url} answered HTTP {status} after {attempts} attempts; the service is overloaded or down, try again later"
    )]
    GaveUp {
        /// Where we tried to go.
        url: String,
        /// The last status.
        status: u16,
        /// How many requests were made.
        attempts: u32,
    },
    /// The body was not what the protocol says.
    #[error("unexpected response (HTTP {status}): {message}; body starts: {body}")]
    Decode {
        /// HTTP status.
        status: u16,
        /// The decode error.
        message: String,
        /// Start of the body (error bodies only).
        body: String,
    },
    /// No complete answer before the request's deadline ran out, retries included.
    #[error(
        "{url} sent no complete answer within {} s ({attempts} attempt(s)); the server or the network is stalled, try again later",
        deadline.as_secs()
    )]
    DeadlineExceeded {
        /// Where we tried to go.
        url: String,
        /// How many requests were made.
        attempts: u32,
        /// The request's deadline ([`RetryPolicy::deadline`]).
        deadline: Duration,
    },
    /// The body was larger than we accept.
    #[error("response from {url} is larger than 1 MiB; refusing to read it")]
    TooLarge {
        /// Where from.
        url: String,
    },
}

/// How many times and how long to retry.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Total attempts, including the first.
    pub max_attempts: u32,
    /// Backoff before the second attempt; doubles each time.
    pub base_delay: Duration,
    /// Longest single wait, including a server's Retry-After.
    pub max_delay: Duration,
    /// The whole request's time, every attempt and wait included: what a stalled server can
    /// cost a refresh at most.
    pub deadline: Duration,
    /// One attempt's time, connecting to the last byte of the body (and never past the deadline).
    pub attempt_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl RetryPolicy {
    /// 4 attempts, backoff from 0.5 s, waits of at most 30 s, each attempt at most 20 s, and the
    /// whole request within 30 s.
    pub const DEFAULT: RetryPolicy = RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(500),
        max_delay: Duration::from_secs(30),
        deadline: Duration::from_secs(30),
        attempt_timeout: Duration::from_secs(20),
    };

    /// The wait before attempt `attempt + 1` (attempt counts from 1), with full jitter,
    /// or the server's Retry-After when it gave one (capped at `max_delay`).
    pub(crate) fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(ra) = retry_after {
            return ra.min(self.max_delay);
        }
        let exp = self.base_delay.saturating_mul(1 << attempt.saturating_sub(1).min(16));
        let cap = exp.min(self.max_delay);
        let millis = rand::thread_rng().gen_range(cap.as_millis() as u64 / 2..=cap.as_millis() as u64);
        Duration::from_millis(millis)
    }
}

/// True for statuses worth retrying.
pub(crate) fn is_transient(status: StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 500 | 502 | 503 | 504)
}

/// The shared client.
#[derive(Debug, Clone)]
pub struct Http {
    client: reqwest::Client,
    /// The same trust, for relaying long streams ([`Http::streaming_client`]).
    streaming: reqwest::Client,
    policy: RetryPolicy,
    scopes: std::sync::Arc<crate::tls::HostScopes>,
}

impl Http {
    /// A client with sane timeouts and the default retry policy.
    pub fn new() -> Self {
        Self::with_policy(RetryPolicy::default())
    }

    /// A client with a given retry policy, trusting the system's CAs.
    pub fn with_policy(policy: RetryPolicy) -> Self {
        Self::with_trust_and_policy(&Trust::system(), policy)
    }

    /// A client that also trusts the CAs of `trust` (the config's `ca_file`s).
    pub fn with_trust(trust: &Trust) -> Self {
        Self::with_trust_and_policy(trust, RetryPolicy::default())
    }

    /// A client with both.
    pub fn with_trust_and_policy(trust: &Trust, policy: RetryPolicy) -> Self {
        let (client, streaming, scopes) = trust.clients_and_scopes();
        Http { client, streaming, policy, scopes }
    }

    /// A client with this one's trust (the same CA scopes, `HTTPS_PROXY`, no redirects) for
    /// relaying a stream as it comes (the agents' proxy): no overall timeout and no retries,
    /// only [`crate::tls::STREAM_READ_TIMEOUT`] between two reads.
    pub fn streaming_client(&self) -> &reqwest::Client {
        &self.streaming
    }

    /// Trusts the hosts of `learned` (URLs) like the host of `known`: a CA scoped to an
    /// issuer's host also vouches for the endpoints its discovery document names, which came
    /// over a connection that CA (or the system) vouched for.
    pub fn trust_like(&self, known: &str, learned: &[&str]) {
        if let Some(known) = crate::tls::host_of(known) {
            let learned: Vec<String> = learned.iter().filter_map(|u| crate::tls::host_of(u)).collect();
            self.scopes.trust_like(&known, &learned);
        }
    }

    /// Sends a form POST, retrying transient failures. Non-transient HTTP errors are returned
    /// as a [`Response`] for the caller to interpret (they carry protocol error codes).
    pub async fn post_form(&self, req: &FormRequest) -> Result<Response, HttpError> {
        self.with_retries(&req.url, || {
            let form: Vec<(&str, &str)> = req.form.iter().map(|(k, v)| (*k, v.secret())).collect();
            let mut b = self.client.post(&req.url).form(&form);
            if let Some((user, pass)) = &req.basic_auth {
                b = b.basic_auth(user, Some(pass.secret()));
            }
            b
        })
        .await
    }

    /// GETs `url` with optional bearer token and extra headers, retrying transient failures.
    pub async fn get(&self, url: &str, bearer: Option<&Secret>) -> Result<Response, HttpError> {
        self.with_retries(url, || {
            let mut b = self.client.get(url);
            if let Some(t) = bearer {
                b = b.bearer_auth(t.secret());
            }
            b
        })
        .await
    }

    /// POSTs a JSON body to `url` with a bearer token and extra headers, retrying transient
    /// failures; any other answer is returned as it is (a probe reads the status).
    pub async fn post_json(
        &self,
        url: &str,
        bearer: &Secret,
        headers: &[(&str, &str)],
        body: &serde_json::Value,
    ) -> Result<Response, HttpError> {
        self.with_retries(url, || {
            let mut b = self.client.post(url).bearer_auth(bearer.secret()).json(body);
            for (k, v) in headers {
                b = b.header(*k, *v);
            }
            b
        })
        .await
    }

    /// GETs `url` and parses a JSON body, treating any non-2xx as an error.
    pub async fn get_json<T: DeserializeOwned>(&self, url: &str) -> Result<T, HttpError> {
        let resp = self.get(url, None).await?;
        if !resp.is_success() {
            return Err(HttpError::Decode {
                status: resp.status.as_u16(),
                message: format!("GET {url} failed"),
                body: resp.body_excerpt(),
            });
        }
        resp.json()
    }

    /// Sends `build()` until an answer that is not transient, `max_attempts` are spent, or the
    /// deadline leaves no time for another attempt. The clock is tokio's, so tests can pause it.
    async fn with_retries(
        &self,
        url: &str,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<Response, HttpError> {
        let deadline = tokio::time::Instant::now() + self.policy.deadline;
        let out_of_time = |attempts: u32| HttpError::DeadlineExceeded {
            url: url.to_string(),
            attempts,
            deadline: self.policy.deadline,
        };
        // Is there time to wait `wait` and try once more?
        let time_for = |wait: Duration| tokio::time::Instant::now() + wait < deadline;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let last = attempt >= self.policy.max_attempts;
            let budget = deadline
                .saturating_duration_since(tokio::time::Instant::now())
                .min(self.policy.attempt_timeout);
            let (outcome, timed_out) = match tokio::time::timeout(budget, self.send_once(url, build())).await
            {
                Ok(outcome) => (outcome, false),
                Err(_) if last => return Err(out_of_time(attempt)),
                Err(_) => {
                    let message = format!("no complete answer within {:.1} s", budget.as_secs_f32());
                    (Err(HttpError::Unreachable { url: url.to_string(), message }), true)
                }
            };
            match outcome {
                Ok(resp) if is_transient(resp.status) => {
                    let wait = self.policy.delay(attempt, resp.retry_after);
                    if last || !time_for(wait) {
                        return Err(HttpError::GaveUp {
                            url: url.to_string(),
                            status: resp.status.as_u16(),
                            attempts: attempt,
                        });
                    }
                    tracing::debug!(url, status = resp.status.as_u16(), ?wait, "transient answer, retrying");
                    tokio::time::sleep(wait).await;
                }
                Ok(resp) => return Ok(resp),
                Err(e @ HttpError::Unreachable { .. }) if !last => {
                    let wait = self.policy.delay(attempt, None);
                    if !time_for(wait) {
                        return Err(if timed_out { out_of_time(attempt) } else { e });
                    }
                    tracing::debug!(url, error = %e, ?wait, "request failed, retrying");
                    tokio::time::sleep(wait).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn send_once(&self, url: &str, b: reqwest::RequestBuilder) -> Result<Response, HttpError> {
        let unreachable = |e: reqwest::Error| match crate::tls::untrusted_issuer(&e) {
            Some(issuer) => HttpError::UntrustedCertificate { url: url.to_string(), issuer },
            None => HttpError::Unreachable {
                url: url.to_string(),
                // reqwest's Display includes the URL only; the body (with tokens) is never in it.
                message: error_chain(&e),
            },
        };
        let mut resp = b.send().await.map_err(unreachable)?;
        let status = resp.status();
        let headers = resp.headers();
        let date = headers.get(reqwest::header::DATE).and_then(|v| v.to_str().ok()).and_then(parse_http_date);
        let retry_after = headers
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, date));
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(unreachable)? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(HttpError::TooLarge { url: url.to_string() });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Response { status, date, retry_after, body })
    }
}

impl Default for Http {
    fn default() -> Self {
        Self::new()
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    server_text(&s)
}

/// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) into UNIX seconds.
pub(crate) fn parse_http_date(v: &str) -> Option<i64> {
    let fmt = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    time::PrimitiveDateTime::parse(v.trim(), fmt).ok().map(|dt| dt.assume_utc().unix_timestamp())
}

/// Parses `Retry-After`: delta-seconds or an HTTP date (relative to the server's `Date`).
pub(crate) fn parse_retry_after(v: &str, server_now: Option<i64>) -> Option<Duration> {
    if let Ok(secs) = v.trim().parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = parse_http_date(v)?;
    let now = server_now.unwrap_or_else(|| time::OffsetDateTime::now_utc().unix_timestamp());
    Some(Duration::from_secs((at - now).max(0) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oauth_codes_round_trip_and_keep_unknown_ones() {
        for (name, code) in OAuthErrorCode::NAMED {
            assert_eq!(OAuthErrorCode::from(name), code);
            assert_eq!(serde_json::to_string(&code).unwrap(), format!("\"{name}\""));
        }
        let e: OAuthError = serde_json::from_str(r#"{"error":"invalid_grant"}"#).unwrap();
        assert_eq!(e.error, OAuthErrorCode::InvalidGrant);
        let e: OAuthError =
            serde_json::from_str(r#"{"error":"vendor_thing","error_description":"d"}"#).unwrap();
        assert_eq!(e.error, OAuthErrorCode::Other("vendor_thing".into()));
        assert_eq!(e.to_string(), "vendor_thing (d)");
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("7", None), Some(Duration::from_secs(7)));
        let now = parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(now, 784111777);
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:50:37 GMT", Some(now)),
            Some(Duration::from_secs(60))
        );
        assert_eq!(parse_retry_after("soon", None), None);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
            ..RetryPolicy::DEFAULT
        };
        for _ in 0..50 {
            let d1 = p.delay(1, None);
            assert!(d1 >= Duration::from_millis(50) && d1 <= Duration::from_millis(100));
            let d3 = p.delay(3, None);
            assert!(d3 >= Duration::from_millis(200) && d3 <= Duration::from_millis(400));
            assert!(p.delay(9, None) <= Duration::from_secs(1));
        }
        assert_eq!(p.delay(1, Some(Duration::from_secs(600))), Duration::from_secs(1));
    }

    #[test]
    fn request_debug_hides_values() {
        let r = FormRequest::post("https://x/token").field("subject_token", "eyJsecret");
        let s = format!("{r:?}");
        assert!(s.contains("subject_token") && !s.contains("eyJsecret"), "{s}");
        assert_eq!(r.get("subject_token"), Some("eyJsecret"));
    }
}

/// The `error` code of an OAuth 2.0 error response: RFC 6749 §5.2, the token-exchange code of
/// RFC 8693 §2.2.2, and the codes of §4.1.2.1 an authorization server also uses. A code no RFC
/// names (or the `http_<status>` of a body that was not JSON) is kept as [`Other`](Self::Other).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum OAuthErrorCode {
    /// `invalid_request`: a parameter is missing, repeated or malformed.
    InvalidRequest,
    /// `invalid_client`: client authentication failed.
    InvalidClient,
    /// `invalid_grant`: the code, refresh token or subject token is invalid, expired or revoked.
    InvalidGrant,
    /// `unauthorized_client`: this client may not use this grant.
    UnauthorizedClient,
    /// `unsupported_grant_type`.
    UnsupportedGrantType,
    /// `invalid_scope`.
    InvalidScope,
    /// `invalid_target` (RFC 8693): the requested resource or audience is not acceptable.
    InvalidTarget,
    /// `access_denied`.
    AccessDenied,
    /// `server_error`.
    ServerError,
    /// `temporarily_unavailable`.
    TemporarilyUnavailable,
    /// Any other code, as sent.
    Other(String),
}

impl OAuthErrorCode {
    const NAMED: [(&'static str, OAuthErrorCode); 10] = [
        ("invalid_request", OAuthErrorCode::InvalidRequest),
        ("invalid_client", OAuthErrorCode::InvalidClient),
        ("invalid_grant", OAuthErrorCode::InvalidGrant),
        ("unauthorized_client", OAuthErrorCode::UnauthorizedClient),
        ("unsupported_grant_type", OAuthErrorCode::UnsupportedGrantType),
        ("invalid_scope", OAuthErrorCode::InvalidScope),
        ("invalid_target", OAuthErrorCode::InvalidTarget),
        ("access_denied", OAuthErrorCode::AccessDenied),
        ("server_error", OAuthErrorCode::ServerError),
        ("temporarily_unavailable", OAuthErrorCode::TemporarilyUnavailable),
    ];

    /// The code as sent.
    pub fn as_str(&self) -> &str {
        match self {
            OAuthErrorCode::Other(s) => s,
            named => Self::NAMED.iter().find(|(_, c)| c == named).map(|(s, _)| *s).unwrap_or(""),
        }
    }
}

impl From<&str> for OAuthErrorCode {
    fn from(s: &str) -> Self {
        Self::NAMED.iter().find(|(n, _)| *n == s).map(|(_, c)| c.clone()).unwrap_or(Self::Other(s.into()))
    }
}

impl std::fmt::Display for OAuthErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for OAuthErrorCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for OAuthErrorCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Ok(OAuthErrorCode::from(server_text(&s).as_str()))
    }
}

/// An OAuth 2.0 error response (RFC 6749 §5.2): the code is a field, not a string to grep.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub struct OAuthError {
    /// `invalid_grant`, `invalid_client`, `invalid_request`, …
    pub error: OAuthErrorCode,
    /// The server's human-readable explanation, if any, made safe to print ([`server_text`]).
    #[serde(default, deserialize_with = "description")]
    pub error_description: Option<String>,
}

/// An `error_description` as [`server_text`] leaves it.
fn description<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    use serde::Deserialize as _;
    Ok(Option::<std::borrow::Cow<'de, str>>::deserialize(d)?.map(|s| server_text(&s)))
}

impl OAuthError {
    /// Reads an error body; a non-JSON body becomes `error = "http_<status>"` with an excerpt.
    pub fn from_response(resp: &Response) -> Self {
        match serde_json::from_slice::<OAuthError>(&resp.body) {
            Ok(e) => e,
            Err(_) => OAuthError {
                error: OAuthErrorCode::Other(format!("http_{}", resp.status.as_u16())),
                error_description: Some(if resp.body.is_empty() {
                    "empty body".to_string()
                } else {
                    format!("non-JSON body: {}", resp.body_excerpt())
                }),
            },
        }
    }
}

impl std::fmt::Display for OAuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.error_description {
            Some(d) => write!(f, "{} ({})", self.error, d),
            None => f.write_str(self.error.as_str()),
        }
    }
}
