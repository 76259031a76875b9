//! The accounts listener: the account console's own address, with the account OAuth token
//! endpoint and the account APIs (`account` policies, `scim` service principals).
//!
//! Databricks serves account APIs on `accounts.cloud.databricks.com` (or the Azure/GCP
//! account hosts), not on workspace hosts, and an account-level M2M token comes from
//! `POST /oidc/accounts/{account_id}/v1/token` there (client_credentials, `scope=all-apis`,
//! the client authenticated with HTTP Basic; databricks-sdk-go `config/auth_m2m_test.go`), with
//! its metadata at `/oidc/accounts/{account_id}/.well-known/oauth-authorization-server`
//! (`config/auth_profiles_test.go`). A workspace token is unknown here, as there.
//!
//! Faults address this listener as the workspace named `accounts` (`FaultRule::on_workspace`).
//!
//! This file is the top of the account console's modules: its router assembles the routes of
//! `account` and `scim`, and no module imports it back. The account's state, and the admin check
//! those routes make, live one layer below in `account_state`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde_json::json;

use crate::Shared;
use crate::errors::{basic_auth, databricks_error, oauth_error, token_form};
use crate::faults::{self, Listener, Site, Skew};
use crate::fingerprint;
use crate::keys::random_hex;

/// The name faults know this listener by.
pub(crate) const LISTENER_NAME: &str = "accounts";

/// The routes of the accounts listener.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let site = Site { listener: Listener::Workspace(LISTENER_NAME.into()), faults: shared.faults.clone() };
    Router::new()
        .route("/", get(|| async { "Lakepass devstack account console" }))
        .route("/oidc/accounts/{account_id}/v1/token", post(token))
        .route("/oidc/accounts/{account_id}/.well-known/oauth-authorization-server", get(metadata))
        .merge(crate::account::routes())
        .merge(crate::scim::routes())
        .fallback(not_found)
        .layer(from_fn_with_state(site, faults::middleware))
        .with_state(shared)
}

async fn not_found(uri: Uri) -> Response {
    databricks_error(
        StatusCode::NOT_FOUND,
        "ENDPOINT_NOT_FOUND",
        &format!("No API found for '{}'", uri.path()),
    )
}

async fn metadata(State(st): State<Arc<Shared>>, Path(account_id): Path<String>) -> Response {
    if account_id != st.info.account_id {
        return not_found(Uri::from_static("/oidc/accounts")).await;
    }
    let oidc = format!("{}/oidc/accounts/{account_id}", st.info.account_host);
    Json(json!({
        "issuer": format!("{oidc}/v1"),
        "authorization_endpoint": format!("{oidc}/v1/authorize"),
        "token_endpoint": format!("{oidc}/v1/token"),
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "scopes_supported": ["all-apis"],
    }))
    .into_response()
}

/// `POST /oidc/accounts/{account_id}/v1/token`: client credentials of the account admin.
async fn token(
    State(st): State<Arc<Shared>>,
    Extension(skew): Extension<Skew>,
    Path(account_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // RFC 6749 §4.4.2: the request is a form, as at the workspace endpoint.
    let form = match token_form(&headers, &body, "/oidc/accounts/{account_id}/v1/token") {
        Ok(form) => form,
        Err(refusal) => return refusal.into_response(),
    };
    let param = |k: &str| form.get(k).map(String::as_str).filter(|v| !v.is_empty());
    if account_id != st.info.account_id {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "Unknown account");
    }
    match param("grant_type") {
        Some("client_credentials") => {}
        None => return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "grant_type is missing"),
        Some(other) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                &format!("grant_type {other:?} is not supported"),
            );
        }
    }
    let sp = &st.info.service_principal;
    let creds = basic_auth(&headers)
        .or_else(|| Some((param("client_id")?.to_owned(), param("client_secret")?.to_owned())));
    if creds.as_ref() != Some(&(sp.client_id.clone(), sp.client_secret.clone())) {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "Client authentication failed");
    }
    let scope = param("scope").unwrap_or("all-apis");
    if scope.split_whitespace().any(|s| s != "all-apis") {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_scope", "Account tokens take scope all-apis");
    }
    let ttl = st.workspace_token_ttl.as_secs() as i64;
    let token = format!("dva{}", random_hex(20));
    let now = skew.now();
    {
        let mut tokens = st.account.tokens.lock().expect("account tokens poisoned");
        tokens.retain(|_, exp| *exp > now);
        tokens.insert(fingerprint(&token), now + ttl);
    }
    let mut resp = Json(json!({
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": ttl,
        "scope": "all-apis",
    }))
    .into_response();
    resp.headers_mut().insert(axum::http::header::CACHE_CONTROL, "no-store".parse().expect("static"));
    resp
}
