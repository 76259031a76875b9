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
//!
//! This file is the top of a workspace's modules: its router assembles its own handlers with
//! those of `serving`, `serving_admin` and `mcp`, and no module imports it back. The token store,
//! the handler state and `authenticate`, which all of them share, live one layer below in
//! `workspace_state`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde_json::{Value, json};

use crate::errors::{basic_auth, databricks_error, oauth_error, token_form};
use crate::exchange::Verified;
use crate::faults::{self, Listener, Site, Skew};
use crate::workspace_state::{Principal, WsState, authenticate};
use crate::{NarrowScopes, Shared, fingerprint, gemini, mcp, model_services, serving, serving_admin};

const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const JWT_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:jwt";
/// The OAuth scopes Databricks defines, and so the ones a workspace grants; any other is 400
/// `invalid_scope`. Sources: `all-apis`, `offline_access` and the OIDC ones from the SDKs'
/// defaults and the account's `scopes_supported` (databricks-sdk-go `config/oauth_*`);
/// `sql`, `genie`, `unity-catalog`, `ai-search` from the managed-MCP docs
/// (docs.databricks.com/aws/en/agents/mcp/managed-mcp) and `vector-search` from their earlier
/// revision (learn.microsoft.com/azure/databricks/generative-ai/mcp/managed-mcp);
/// `model-serving` from databricks-ai-bridge's OBO tests
/// (`tests/integration_tests/obo/deploy_serving_agent.py`, `api_scopes=["sql",
/// "model-serving"]`); `dashboards`, `access-management`, `alerts`, `apps`, `authentication`,
/// `jobs`, `clusters` from the API scopes reference (docs.databricks.com/api/workspace/scopes
/// and …/account/scopes). Model serving is `model-serving`: there is no `serving` scope.
pub(crate) const KNOWN_SCOPES: &[&str] = &[
    "all-apis",
    "offline_access",
    "openid",
    "profile",
    "email",
    "sql",
    "genie",
    "unity-catalog",
    "ai-search",
    "vector-search",
    "model-serving",
    "dashboards",
    "access-management",
    "alerts",
    "apps",
    "authentication",
    "jobs",
    "clusters",
];

/// The scopes no narrower than the workspace token: what [`NarrowScopes::Refuse`] still grants.
const BROAD_SCOPES: &[&str] = &["all-apis", "offline_access"];

/// Whether `scope` is one Databricks defines: a [`KNOWN_SCOPES`] name, optionally narrowed by
/// the `:read` modifier (and `sql` by `:restricted-query`), as the API scopes reference
/// describes scope modifiers.
pub(crate) fn is_known_scope(scope: &str) -> bool {
    let (base, modifier) = scope.split_once(':').unwrap_or((scope, ""));
    KNOWN_SCOPES.contains(&base)
        && match modifier {
            "" | "read" => true,
            "restricted-query" | "read:restricted-query" => base == "sql",
            _ => false,
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
        .route(crate::chat::PATH, post(crate::chat::create))
        .route("/serving-endpoints/{name}/v1/messages", post(serving::endpoint_messages))
        .route("/ai-gateway/anthropic/v1/messages", post(serving::gateway_messages))
        .route("/ai-gateway/anthropic/v1/models", get(serving::models))
        .route(crate::responses::PATH, post(crate::responses::create))
        .route("/ai-gateway/gemini/v1beta/models/{model_method}", post(gemini::models_call))
        .route(model_services::PATH, get(model_services::list))
        .merge(serving_admin::routes())
        .merge(mcp::routes())
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
    match scopes.iter().find(|s| !is_known_scope(s)) {
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
                    // Never outlive the subject JWT; the verifier refused one already expired,
                    // so the lifetime is at least one second.
                    let now = skew.now();
                    let ttl = ttl.min(verified.expires_at - now).max(1);
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
    // Databricks maps the subject to an existing account user; none is a refusal. Its wording
    // is not published: this one follows the terse reasons of `exchange.rs`.
    if verified.is_user && !st.shared.account.has_user(&verified.principal.user_name) {
        tracing::info!(workspace = %st.name, "devstack exchange refused: no such account user");
        return Err(oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_request",
            &format!(
                "Token subject {:?} does not match any user in the account",
                verified.principal.user_name
            ),
        ));
    }
    let scopes = match *st.shared.narrow_scopes.lock().expect("narrow scopes poisoned") {
        NarrowScopes::Grant => scopes,
        NarrowScopes::Refuse => {
            let narrow: Vec<&str> =
                scopes.iter().map(String::as_str).filter(|s| !BROAD_SCOPES.contains(s)).collect();
            if !narrow.is_empty() {
                return Err(oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_scope",
                    &format!("Scope {:?} is not allowed for token exchange", narrow.join(" ")),
                ));
            }
            scopes
        }
        NarrowScopes::AnswerAllApis => vec!["all-apis".to_owned()],
    };
    Ok((verified, scopes))
}
