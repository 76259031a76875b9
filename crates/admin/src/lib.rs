//! Admin set-up: the Databricks account and workspace APIs an administrator needs before anyone
//! can federate — account and service-principal federation policies, an Anthropic gateway
//! serving endpoint and its AI Gateway options — plus SCIM `Me` ([`whoami`]).
//!
//! Requests are plain values ([`AdminRequest`]) built by pure functions, so `--dry-run` can print
//! exactly what would be sent (method, URL, headers with the Authorization value withheld, JSON
//! body) and tests can assert it; [`AdminClient::send`] only sends. The token comes from an M2M
//! workspace (client credentials; for account APIs always from the account console's own token
//! endpoint, as real admins get it) or from stdin: admin rights are never borrowed from the
//! signed-in user's session. Federation policies and the service-principal lookup are in
//! `policy`.
//!
//! lakepass-admin: setting things up. Besides the admin APIs, [`presets`] knows what each IdP
//! needs (issuer, scopes, redirect rules) for `idp add` and `admin policy create --from-idp`.
//! What it may use: `lakepass-wire`, `lakepass-config`, `lakepass-engine` (tokens, roles, the
//! closed error vocabulary), `lakepass-doctor` (the policy facts it checks against).

mod policy;
pub mod presets;
mod whoami;

use serde::Serialize;
use serde_json::{Value, json};

use lakepass_config::Workspace;
use lakepass_engine::engine::{Engine, EngineError};
use lakepass_engine::roles;
use lakepass_wire::exchange;
use lakepass_wire::host::WorkspaceHost;
use lakepass_wire::secret::Secret;
use lakepass_wire::text::server_text;
use lakepass_wire::tls::Trust;

pub use policy::{
    FetchedPolicies, PolicySpec, ServicePrincipalId, create_policy, delete_policy, find_service_principal,
    list_policies, list_policies_page, policies_for, resolve_service_principal, send_all_pages,
};
pub use whoami::{Identity, PrincipalKind, WhoamiError, whoami};

/// An HTTP method the admin APIs use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Method {
    /// GET
    Get,
    /// POST
    Post,
    /// PUT
    Put,
    /// DELETE
    Delete,
}

impl Method {
    fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        }
    }
}

/// One admin API request, as a value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AdminRequest {
    /// The method.
    pub method: Method,
    /// The absolute URL.
    pub url: String,
    /// The JSON body, if any.
    pub body: Option<Value>,
}

/// The headers every admin request carries besides `Authorization`.
pub(crate) const USER_AGENT: &str = concat!("lakepass/", env!("CARGO_PKG_VERSION"));

impl AdminRequest {
    fn new(method: Method, url: String, body: Option<Value>) -> Self {
        AdminRequest { method, url, body }
    }

    /// The request as `--dry-run` prints it: request line, headers (the Authorization value
    /// withheld), a blank line and the pretty JSON body.
    pub fn render(&self) -> String {
        let mut s = format!("{} {}\n", self.method.as_str(), self.url);
        s.push_str("Accept: application/json\n");
        s.push_str("Authorization: Bearer <withheld>\n");
        if self.body.is_some() {
            s.push_str("Content-Type: application/json\n");
        }
        s.push_str(&format!("User-Agent: {USER_AGENT}\n"));
        if let Some(b) = &self.body {
            s.push('\n');
            s.push_str(&serde_json::to_string_pretty(b).expect("JSON value serializes"));
            s.push('\n');
        }
        s
    }
}

/// Where the account APIs live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The account console, e.g. `https://accounts.cloud.databricks.com`.
    pub host: WorkspaceHost,
    /// The account id (a UUID).
    pub id: String,
}

impl Account {
    /// The account of workspace `ws`: `account_id` from config (or `id_override`), and
    /// `account_host` from config or derived from the workspace's cloud.
    pub fn of(ws: &Workspace, id_override: Option<&str>) -> Result<Account, AdminError> {
        let id = id_override
            .map(String::from)
            .or_else(|| ws.account_id.clone())
            .ok_or_else(|| AdminError::NoAccount { workspace: ws.name.clone() })?;
        let host = match &ws.account_host {
            Some(h) => {
                WorkspaceHost::parse(h).map_err(|e| AdminError::Usage(format!("account_host: {e}")))?
            }
            None => derive_account_host(&ws.host).ok_or_else(|| {
                AdminError::Usage(format!(
                    "workspace `{}` is on this machine, so its account console cannot be guessed: set `account_host` in [workspace.{}]",
                    ws.name, ws.name
                ))
            })?,
        };
        Ok(Account { host, id })
    }

    fn url(&self, path: &str) -> String {
        self.host.join(&format!("/api/2.0/accounts/{}{path}", self.id))
    }
}

/// The account console for a workspace host: Azure, GCP or AWS. `None` for a host on this
/// machine (the devstack): its account console has an address of its own, which only the
/// config (`account_host`, written by `lakepass devstack --write-config`) can know.
pub(crate) fn derive_account_host(ws: &WorkspaceHost) -> Option<WorkspaceHost> {
    if ws.is_loopback() {
        return None;
    }
    let s = ws.as_str();
    let guess = if s.ends_with(".azuredatabricks.net") {
        "https://accounts.azuredatabricks.net"
    } else if s.ends_with(".gcp.databricks.com") {
        "https://accounts.gcp.databricks.com"
    } else {
        "https://accounts.cloud.databricks.com"
    };
    Some(WorkspaceHost::parse(guess).expect("static account host parses"))
}

/// An Anthropic external-model serving endpoint (Databricks' AI Gateway for Claude).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointSpec {
    /// Endpoint name, e.g. `anthropic`.
    pub name: String,
    /// Anthropic model, e.g. `claude-sonnet-4-5`.
    pub model: String,
    /// The API key as a Databricks secret reference `scope/key` (never the key itself).
    pub secret_ref: String,
}

/// `POST /api/2.0/serving-endpoints` for an Anthropic external model.
pub fn create_endpoint(host: &WorkspaceHost, spec: &EndpointSpec) -> AdminRequest {
    let body = json!({
        "name": spec.name,
        "config": {
            "served_entities": [{
                "name": spec.model,
                "external_model": {
                    "name": spec.model,
                    "provider": "anthropic",
                    "task": "llm/v1/chat",
                    "anthropic_config": { "anthropic_api_key": format!("{{{{secrets/{}}}}}", spec.secret_ref) },
                },
            }],
        },
    });
    AdminRequest::new(Method::Post, host.join("/api/2.0/serving-endpoints"), Some(body))
}

/// `GET /api/2.0/serving-endpoints/{name}`.
pub fn get_endpoint(host: &WorkspaceHost, name: &str) -> AdminRequest {
    AdminRequest::new(Method::Get, host.join(&format!("/api/2.0/serving-endpoints/{name}")), None)
}

/// `DELETE /api/2.0/serving-endpoints/{name}`.
pub fn delete_endpoint(host: &WorkspaceHost, name: &str) -> AdminRequest {
    AdminRequest::new(Method::Delete, host.join(&format!("/api/2.0/serving-endpoints/{name}")), None)
}

/// PII handling of a guardrail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pii {
    /// Leave PII alone.
    None,
    /// Refuse requests/answers with PII.
    Block,
    /// Mask PII.
    Mask,
}

/// AI Gateway options (`PUT /api/2.0/serving-endpoints/{name}/ai-gateway`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GatewaySpec {
    /// Calls per user per minute.
    pub per_user_per_minute: Option<u64>,
    /// Calls per endpoint per minute.
    pub per_endpoint_per_minute: Option<u64>,
    /// Usage tracking (system tables).
    pub usage_tracking: Option<bool>,
    /// Safety filter on input and output.
    pub safety: Option<bool>,
    /// PII handling on input and output.
    pub pii: Option<Pii>,
}

/// `PUT /api/2.0/serving-endpoints/{name}/ai-gateway`.
pub fn set_gateway(host: &WorkspaceHost, name: &str, spec: &GatewaySpec) -> AdminRequest {
    let mut body = serde_json::Map::new();
    let mut limits = Vec::new();
    if let Some(n) = spec.per_user_per_minute {
        limits.push(json!({"calls": n, "key": "user", "renewal_period": "minute"}));
    }
    if let Some(n) = spec.per_endpoint_per_minute {
        limits.push(json!({"calls": n, "key": "endpoint", "renewal_period": "minute"}));
    }
    if !limits.is_empty() {
        body.insert("rate_limits".into(), Value::Array(limits));
    }
    if let Some(on) = spec.usage_tracking {
        body.insert("usage_tracking_config".into(), json!({ "enabled": on }));
    }
    if spec.safety.is_some() || spec.pii.is_some() {
        let mut side = serde_json::Map::new();
        if let Some(s) = spec.safety {
            side.insert("safety".into(), Value::Bool(s));
        }
        if let Some(p) = spec.pii {
            let b = match p {
                Pii::None => "NONE",
                Pii::Block => "BLOCK",
                Pii::Mask => "MASK",
            };
            side.insert("pii".into(), json!({ "behavior": b }));
        }
        body.insert("guardrails".into(), json!({ "input": side.clone(), "output": side }));
    }
    AdminRequest::new(
        Method::Put,
        host.join(&format!("/api/2.0/serving-endpoints/{name}/ai-gateway")),
        Some(Value::Object(body)),
    )
}

/// What went wrong with an admin call.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The server could not be reached.
    #[error("could not reach {url}: {message}")]
    Unreachable {
        /// The URL.
        url: String,
        /// What failed.
        message: String,
    },
    /// The server's certificate comes from a CA this computer does not trust.
    #[error(
        "{url} presented a certificate from a CA this computer does not trust ({issuer}); set `ca_file` in the Lakepass config to your company's CA (PEM)"
    )]
    UntrustedCertificate {
        /// The URL.
        url: String,
        /// The untrusted CA's name.
        issuer: String,
    },
    /// The API refused the request.
    #[error("{method} {url} answered HTTP {status} {error_code}: {message}{}", hint(*status))]
    Api {
        /// The method.
        method: &'static str,
        /// The URL.
        url: String,
        /// HTTP status.
        status: u16,
        /// Databricks `error_code`.
        error_code: String,
        /// Databricks `message`.
        message: String,
    },
    /// No account id known.
    #[error(
        "no account id for workspace `{workspace}`: pass --account-id, or set `account_id` in [workspace.{workspace}]"
    )]
    NoAccount {
        /// The workspace.
        workspace: String,
    },
    /// No service principal of the account has this application id.
    #[error(
        "the account has no service principal with application id `{application_id}`; check the id (Account console → User management → Service principals), or pass its numeric id with --service-principal-id"
    )]
    UnknownServicePrincipal {
        /// The application id looked up.
        application_id: String,
    },
    /// Bad arguments.
    #[error("{0}")]
    Usage(String),
    /// Getting the admin token failed.
    #[error(transparent)]
    Token(#[from] EngineError),
}

impl AdminError {
    /// What kind of failure, for exit codes: a missing account id or a bad argument is a usage
    /// error (2), an unreachable server a network one (4).
    pub fn kind(&self) -> lakepass_engine::error::ErrorKind {
        use lakepass_engine::error::ErrorKind;
        match self {
            AdminError::Unreachable { .. } => ErrorKind::Network,
            AdminError::UntrustedCertificate { .. } => ErrorKind::UntrustedCertificate,
            AdminError::Api { .. } => ErrorKind::Unexpected,
            AdminError::NoAccount { .. } | AdminError::UnknownServicePrincipal { .. } => ErrorKind::Config,
            AdminError::Usage(_) => ErrorKind::Invalid,
            AdminError::Token(e) => e.kind(),
        }
    }
}

fn hint(status: u16) -> &'static str {
    match status {
        401 => "; the token is not valid here (an account API needs an account-level token)",
        403 => {
            "; the token's principal lacks admin rights (an account admin is needed for federation policies)"
        }
        _ => "",
    }
}

/// Sends admin requests.
#[derive(Debug, Clone)]
pub struct AdminClient {
    client: reqwest::Client,
}

impl Default for AdminClient {
    fn default() -> Self {
        Self::new()
    }
}

impl AdminClient {
    /// A client with the same timeouts and trust as [`lakepass_wire::http::Http`]; admin calls are not
    /// retried (a create that timed out may have happened).
    pub fn new() -> Self {
        Self::with_trust(&Trust::system())
    }

    /// A client that also trusts the CAs of `trust` (the config's `ca_file`s).
    pub fn with_trust(trust: &Trust) -> Self {
        AdminClient { client: trust.client() }
    }

    /// Sends `req` with `token`; returns the JSON answer (`{}` for an empty body).
    pub async fn send(&self, req: &AdminRequest, token: &Secret) -> Result<Value, AdminError> {
        let method = match req.method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
            Method::Delete => reqwest::Method::DELETE,
        };
        let mut b = self
            .client
            .request(method, &req.url)
            .header(reqwest::header::ACCEPT, "application/json")
            .header(reqwest::header::USER_AGENT, USER_AGENT)
            .bearer_auth(token.secret());
        if let Some(body) = &req.body {
            b = b.json(body);
        }
        let unreachable = |e: reqwest::Error| match lakepass_wire::tls::untrusted_issuer(&e) {
            Some(issuer) => AdminError::UntrustedCertificate { url: req.url.clone(), issuer },
            None => AdminError::Unreachable { url: req.url.clone(), message: e.to_string() },
        };
        let mut resp = b.send().await.map_err(unreachable)?;
        let status = resp.status();
        let mut bytes = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(unreachable)? {
            if bytes.len() + chunk.len() > lakepass_wire::http::MAX_BODY {
                return Err(AdminError::Unreachable {
                    url: req.url.clone(),
                    message: "the answer is larger than 1 MiB; refusing to read it".into(),
                });
            }
            bytes.extend_from_slice(&chunk);
        }
        let value: Value =
            if bytes.is_empty() { json!({}) } else { serde_json::from_slice(&bytes).unwrap_or(Value::Null) };
        if !status.is_success() {
            let (error_code, message) = api_error(status.as_u16(), &value, &bytes);
            return Err(AdminError::Api {
                method: req.method.as_str(),
                url: req.url.clone(),
                status: status.as_u16(),
                error_code,
                message,
            });
        }
        Ok(value)
    }
}

/// The `error_code` and `message` of a Databricks error answer: `{"error_code", "message"}`
/// (the code is sometimes a number), an OAuth `{"error", "error_description"}`, or a plain
/// `CODE: message` text; otherwise `HTTP_<status>` and the start of the body. Both are server
/// text, made safe to print ([`server_text`]).
pub(crate) fn api_error(status: u16, value: &Value, bytes: &[u8]) -> (String, String) {
    let (code, message) = api_error_raw(status, value, bytes);
    (server_text(&code), server_text(&message))
}

fn api_error_raw(status: u16, value: &Value, bytes: &[u8]) -> (String, String) {
    let s = |k: &str| match value.get(k) {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    if let Some(code) = s("error_code").or_else(|| s("error")) {
        return (code, s("message").or_else(|| s("error_description")).unwrap_or_default());
    }
    let text: String = String::from_utf8_lossy(bytes).chars().take(300).collect();
    if value.is_null()
        && let Some((code, message)) = text.split_once(": ")
        && !code.is_empty()
        && code.chars().all(|c| c.is_ascii_uppercase() || c == '_')
    {
        return (code.into(), message.trim().into());
    }
    (format!("HTTP_{status}"), text)
}

/// An admin token from M2M workspace `ws`: for account APIs, a client-credentials token from the
/// account console's token endpoint (`/oidc/accounts/{account_id}/v1/token`, as the SDKs' account
/// M2M does); otherwise the workspace's own token.
pub async fn m2m_token(
    engine: &Engine,
    ws: &Workspace,
    account: Option<&Account>,
) -> Result<Secret, AdminError> {
    if !roles::is_m2m(ws) {
        return Err(AdminError::Usage(format!(
            "workspace `{}` is not an M2M workspace (`auth = \"m2m\"`); admin commands need a service principal's token, or --token-stdin",
            ws.name
        )));
    }
    if let Some(a) = account {
        let client_id = ws.client_id.clone().unwrap_or_default();
        let secret =
            roles::m2m_secret(engine.store(), ws).await.map_err(EngineError::from)?.ok_or_else(|| {
                EngineError::NeedsSecret { workspace: ws.name.clone(), client_id: client_id.clone() }
            })?;
        let url = a.host.join(&format!("/oidc/accounts/{}/v1/token", a.id));
        let req = exchange::client_credentials_request(url, &client_id, &secret, &["all-apis".to_string()]);
        let t = exchange::client_credentials(engine.http(), &a.host, &ws.name, &req, engine.clock().now())
            .await
            .map_err(EngineError::from)?;
        return Ok(t.access_token);
    }
    Ok(engine.token(ws).await?.access_token)
}

#[cfg(test)]
mod tests;
