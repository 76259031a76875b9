//! One emulated Databricks workspace: host metadata, `/oidc/v1/token`, SCIM `Me`, and the token
//! store that keeps workspaces isolated (a token is only ever valid where it was minted).
//!
//! Each workspace starts with one account-wide federation policy trusting the devstack issuer
//! for audience `lakepass-dev`, with Databricks' default `subject_claim = "sub"`; the devstack
//! IdP's `sub` is the user's email, the Databricks user name (see `idp_token::subject_for`).
//!
//! `/oidc/v1/token` errors use RFC 6749 §5.2 bodies, `{"error", "error_description"}`:
//! a refused subject token is HTTP 401 `invalid_request` with the reason listed in `exchange.rs`;
//! missing or malformed parameters are 400 `invalid_request`; an unknown scope is 400
//! `invalid_scope`; bad client credentials are 401 `invalid_client`; an unknown grant is 400
//! `unsupported_grant_type`. REST APIs answer `{"error_code", "message"}`: 401 `UNAUTHENTICATED`
//! for a missing, unknown, foreign or expired token, 403 `PERMISSION_DENIED` for a missing scope.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde_json::{Value, json};

use crate::errors::{basic_auth, bearer, databricks_error, oauth_error, token_form};
use crate::exchange::Verified;
use crate::faults::{self, Listener, Site, Skew};
use crate::keys::random_hex;
use crate::{CLIENT_ID, FederationPolicy, Shared, WorkspaceInfo, fingerprint, serving};

const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const JWT_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:jwt";
/// Scopes a workspace grants (Databricks OAuth scopes).
const KNOWN_SCOPES: &[&str] = &[
    "all-apis",
    "sql",
    "serving",
    "genie",
    "dashboards.genie",
    "files.files",
    "offline_access",
    "vector-search",
    "ai-search",
    "unity-catalog",
    "jobs",
    "clusters",
    "iam",
];

/// Who a workspace token stands for.
#[derive(Debug, Clone)]
pub(crate) struct Principal {
    pub(crate) user_name: String,
    pub(crate) display_name: String,
    pub(crate) email: Option<String>,
}

struct IssuedToken {
    principal: Principal,
    scopes: Vec<String>,
    expires_at: i64,
}

/// A workspace's policies and minted tokens (keyed by fingerprint).
pub(crate) struct Workspace {
    pub(crate) info: WorkspaceInfo,
    pub(crate) policies: Mutex<Vec<FederationPolicy>>,
    tokens: Mutex<HashMap<String, IssuedToken>>,
}

impl Workspace {
    pub(crate) fn new(info: WorkspaceInfo, issuer: &str) -> Self {
        let default_policy = FederationPolicy::new(issuer, vec![CLIENT_ID.to_owned()]);
        Self { info, policies: Mutex::new(vec![default_policy]), tokens: Mutex::default() }
    }

    fn mint(&self, principal: Principal, scopes: Vec<String>, expires_at: i64) -> String {
        let token = format!("dvs{}", random_hex(20));
        let mut tokens = self.tokens.lock().expect("tokens poisoned");
        tokens.retain(|_, t| t.expires_at > expires_at - 86_400);
        tokens.insert(fingerprint(&token), IssuedToken { principal, scopes, expires_at });
        token
    }

    pub(crate) fn lookup(&self, token: &str, now: i64) -> Option<(Principal, Vec<String>)> {
        let tokens = self.tokens.lock().expect("tokens poisoned");
        let t = tokens.get(&fingerprint(token))?;
        (t.expires_at > now).then(|| (t.principal.clone(), t.scopes.clone()))
    }
}

/// Handler state: the devstack and which workspace this listener is.
#[derive(Clone)]
pub(crate) struct WsState {
    pub(crate) shared: Arc<Shared>,
    pub(crate) name: String,
}

impl WsState {
    pub(crate) fn ws(&self) -> &Workspace {
        self.shared.workspace(&self.name).expect("router built for an existing workspace")
    }
}

/// The routes of workspace `name`.
pub(crate) fn router(shared: Arc<Shared>, name: &str) -> Router {
    let site = Site { listener: Listener::Workspace(name.to_owned()), faults: shared.faults.clone() };
    let state = WsState { shared, name: name.to_owned() };
    Router::new()
        .route("/", get(|| async { "Lakepass devstack workspace" }))
        .route("/.well-known/databricks-config", get(databricks_config))
        .route("/oidc/.well-known/oauth-authorization-server", get(oauth_metadata))
        .route("/oidc/v1/token", post(token))
        .route("/api/2.0/preview/scim/v2/Me", get(scim_me))
        .route("/serving-endpoints/{name}/v1/messages", post(serving::endpoint_messages))
        .route("/ai-gateway/anthropic/v1/messages", post(serving::gateway_messages))
        .route("/ai-gateway/anthropic/v1/models", get(serving::models))
        .merge(crate::serving_admin::routes())
        .merge(crate::mcp::routes())
        .fallback(not_found)
        .layer(from_fn_with_state(site, faults::middleware))
        .with_state(state)
}

async fn not_found(uri: Uri) -> Response {
    if uri.path().starts_with("/serving-endpoints/") {
        return serving::bad_serving_path();
    }
    databricks_error(
        StatusCode::NOT_FOUND,
        "ENDPOINT_NOT_FOUND",
        &format!("No API found for '{}'", uri.path()),
    )
}

async fn databricks_config(State(st): State<WsState>) -> Json<Value> {
    let info = &st.ws().info;
    Json(json!({
        "oidc_endpoint": format!("{}/oidc", info.host),
        "workspace_id": info.workspace_id,
    }))
}

async fn oauth_metadata(State(st): State<WsState>) -> Json<Value> {
    let oidc = format!("{}/oidc", st.ws().info.host);
    Json(json!({
        "issuer": oidc,
        "authorization_endpoint": format!("{oidc}/v1/authorize"),
        "token_endpoint": format!("{oidc}/v1/token"),
        "jwks_uri": format!("{oidc}/jwks.json"),
        "grant_types_supported": ["client_credentials", TOKEN_EXCHANGE],
        "response_types_supported": ["code"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "scopes_supported": KNOWN_SCOPES,
    }))
}

/// Why an API call was refused; answers as a Databricks REST error.
pub(crate) struct Refusal {
    status: StatusCode,
    error_code: &'static str,
    message: String,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        databricks_error(self.status, self.error_code, &self.message)
    }
}

/// The token an API call carries in `Authorization` (Bearer, or Basic with user `token`).
pub(crate) fn presented_token(headers: &HeaderMap) -> Option<String> {
    let basic = basic_auth(headers).filter(|(user, _)| user == "token").map(|(_, t)| t);
    bearer(headers).map(str::to_owned).or(basic)
}

/// Authenticates an API call by its `Authorization` header, recording the token and the
/// outcome. `any_of_scopes` empty means any scope will do.
///
/// Databricks takes a workspace token as `Authorization: Bearer <token>` (and, for REST calls,
/// HTTP Basic with user `token`, as its curl examples do: `-u token:$DATABRICKS_TOKEN`). An
/// `x-api-key` header is not a credential: Databricks' own Anthropic SDK example sets
/// `api_key="unused"`, which the SDK sends as `x-api-key`, and puts the token in
/// `Authorization: Bearer` ("Query with the Anthropic Messages API", docs.databricks.com).
/// So a request carrying the token only in `x-api-key` is refused here, as it would be there.
pub(crate) fn authenticate(
    st: &WsState,
    headers: &HeaderMap,
    skew: Skew,
    any_of_scopes: &[&str],
) -> Result<Principal, Refusal> {
    let stats = &st.shared.stats;
    let presented = presented_token(headers);
    if let Some(token) = &presented {
        stats.seen(&st.name, token);
    }
    let refuse = |status, error_code, message: &str| {
        stats.workspace(&st.name, |w| w.api_calls_unauthorized += 1);
        Err(Refusal { status, error_code, message: message.to_owned() })
    };
    let Some(token) = presented else {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            "Credential was not sent or was of an unsupported type for this API.",
        );
    };
    let Some((principal, scopes)) = st.ws().lookup(&token, skew.now()) else {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            "Invalid access token: unknown to this workspace or expired.",
        );
    };
    let allowed = any_of_scopes.is_empty()
        || scopes.iter().any(|s| s == "all-apis" || any_of_scopes.contains(&s.as_str()));
    if !allowed {
        return refuse(
            StatusCode::FORBIDDEN,
            "PERMISSION_DENIED",
            &format!(
                "Token scope does not allow this API; needs all-apis or {}.",
                any_of_scopes.join(" or ")
            ),
        );
    }
    stats.workspace(&st.name, |w| w.api_calls_ok += 1);
    Ok(principal)
}

async fn scim_me(
    State(st): State<WsState>,
    Extension(skew): Extension<Skew>,
    headers: HeaderMap,
) -> Response {
    let p = match authenticate(&st, &headers, skew, &[]) {
        Ok(p) => p,
        Err(refusal) => return refusal.into_response(),
    };
    let id = u64::from_str_radix(&fingerprint(&p.user_name)[..13], 16).unwrap_or(1);
    let emails: Vec<Value> =
        p.email.iter().map(|e| json!({"value": e, "type": "work", "primary": true})).collect();
    Json(json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": id.to_string(),
        "userName": p.user_name,
        "displayName": p.display_name,
        "active": true,
        "emails": emails,
        "groups": [{"display": "users", "type": "direct", "value": "1"}],
    }))
    .into_response()
}

/// A missing `scope` means `all-apis`. No primary source shows Databricks refusing it: its docs'
/// exchange example ("Authenticate with an identity provider token") always sends
/// `scope=all-apis`, and the SDKs always send one, defaulting to `all-apis` themselves
/// (databricks-sdk-go `config/experimental/auth/oidc/tokensource.go` `GetScopes`,
/// databricks-sdk-py `databricks/sdk/config.py` `get_scopes`). So the default stays.
fn parse_scopes(scope: Option<&str>) -> Result<Vec<String>, String> {
    let scope = scope.map(str::trim).filter(|s| !s.is_empty()).unwrap_or("all-apis");
    let scopes: Vec<String> = scope.split_whitespace().map(str::to_owned).collect();
    match scopes.iter().find(|s| !KNOWN_SCOPES.contains(&s.as_str())) {
        Some(unknown) => Err(format!("Scope {unknown:?} is not supported")),
        None => Ok(scopes),
    }
}

fn token_body(token: String, ttl: i64, scopes: &[String]) -> Response {
    let mut resp = Json(json!({
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": ttl,
        "scope": scopes.join(" "),
    }))
    .into_response();
    resp.headers_mut().insert(axum::http::header::CACHE_CONTROL, "no-store".parse().expect("static"));
    resp
}

/// `POST /oidc/v1/token`: token exchange (RFC 8693) or client credentials.
async fn token(
    State(st): State<WsState>,
    Extension(skew): Extension<Skew>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = match token_form(&headers, &body, "/oidc/v1/token") {
        Ok(form) => form,
        Err(refusal) => return refusal.into_response(),
    };
    let param = |k: &str| form.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let ttl = st.shared.workspace_token_ttl.as_secs() as i64;
    let stats = &st.shared.stats;
    match param("grant_type") {
        Some(TOKEN_EXCHANGE) => {
            let result = exchange(&st, skew, &form).await;
            stats.workspace(&st.name, |w| match result {
                Ok(_) => w.exchanges_ok += 1,
                Err(_) => w.exchanges_failed += 1,
            });
            match result {
                Ok((verified, scopes)) => {
                    let principal = verified.principal;
                    tracing::info!(workspace = %st.name, user = %principal.user_name, "devstack exchange accepted");
                    // Never outlive the subject JWT (one inside the expiry leeway gets 0 s).
                    let now = skew.now();
                    let ttl = ttl.min(verified.expires_at - now).max(0);
                    let token = st.ws().mint(principal, scopes.clone(), now + ttl);
                    token_body(token, ttl, &scopes)
                }
                Err(resp) => resp,
            }
        }
        Some("client_credentials") => {
            let sp = &st.shared.info.service_principal;
            let creds = basic_auth(&headers)
                .or_else(|| Some((param("client_id")?.to_owned(), param("client_secret")?.to_owned())));
            if creds.as_ref() != Some(&(sp.client_id.clone(), sp.client_secret.clone())) {
                return oauth_error(
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    "Client authentication failed",
                );
            }
            let scopes = match parse_scopes(param("scope")) {
                Ok(s) => s,
                Err(e) => return oauth_error(StatusCode::BAD_REQUEST, "invalid_scope", &e),
            };
            let principal = Principal {
                user_name: sp.client_id.clone(),
                display_name: "lakepass-devstack-sp".into(),
                email: None,
            };
            stats.workspace(&st.name, |w| w.client_credentials_ok += 1);
            let token = st.ws().mint(principal, scopes.clone(), skew.now() + ttl);
            token_body(token, ttl, &scopes)
        }
        None => oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "grant_type is missing"),
        Some(other) => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            &format!("grant_type {other:?} is not supported"),
        ),
    }
}

async fn exchange(
    st: &WsState,
    skew: Skew,
    form: &HashMap<String, String>,
) -> Result<(Verified, Vec<String>), Response> {
    let param = |k: &str| form.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let bad = |msg: &str| oauth_error(StatusCode::BAD_REQUEST, "invalid_request", msg);
    let Some(subject_token) = param("subject_token") else {
        return Err(bad("subject_token is missing"));
    };
    st.shared.stats.seen(&st.name, subject_token);
    match param("subject_token_type") {
        Some(JWT_TOKEN_TYPE) => {}
        Some(_) => {
            return Err(bad("subject_token_type must be urn:ietf:params:oauth:token-type:jwt"));
        }
        None => return Err(bad("subject_token_type is missing")),
    }
    let scopes = parse_scopes(param("scope"))
        .map_err(|e| oauth_error(StatusCode::BAD_REQUEST, "invalid_scope", &e))?;
    let mut policies = st.ws().policies.lock().expect("policies poisoned").clone();
    policies.extend(st.shared.account.federation_policies());
    let verified =
        st.shared.verifier.verify(subject_token, &policies, param("client_id"), skew.now()).await.map_err(
            |reason| {
                tracing::info!(workspace = %st.name, %reason, "devstack exchange refused");
                oauth_error(StatusCode::UNAUTHORIZED, "invalid_request", &reason)
            },
        )?;
    Ok((verified, scopes))
}
