//! Control endpoints on the IdP listener, so tests running in another process (the `lakepass`
//! binary's end-to-end tests, scripts) can do what in-process tests do with [`crate::Devstack`].
//!
//! They bypass faults and the IdP-down switch, and need no token: the devstack listens on
//! loopback and holds nothing but throwaway test identities. They serve only the user who
//! started the devstack (`owner`): another local user gets a 403.
//!
//! - `GET /_devstack/info` → [`crate::DevstackInfo`]
//! - `GET /_devstack/stats` → [`crate::Stats`]
//! - `POST /_devstack/revoke` → revoke every refresh token issued so far (204)
//! - `GET /_devstack/faults` → `{"rules": [FaultRule…], "idp_down": bool}`
//! - `POST /_devstack/faults` with a [`crate::FaultRule`] as JSON → the same listing
//! - `DELETE /_devstack/faults` → clear every rule and bring the IdP back (204)
//! - `POST /_devstack/idp-down` with `{"down": bool}` (204)
//! - `POST /_devstack/signing` with `{"alg": "RS256" | "ES256"}` (204)
//! - `POST /_devstack/rotate-key` → `{"kid": "<new RSA kid>"}`
//! - `POST /_devstack/federation-policies` with `{"workspace": "dev", "policy": FederationPolicy}`
//!   (204, or 404 for an unknown workspace)
//! - `POST /_devstack/narrow-scopes` with `{"mode": "grant" | "refuse" | "answer_all_apis"}`
//!   ([`crate::NarrowScopes`]; 204)
//! - `POST /_devstack/mcp-routes` with `{"vector_search": bool}` (204)
//! - `POST /_devstack/streams` with `{"hold": bool}`: Gemini SSE streams hold back all but
//!   their first event while `hold` is true (204; see `gemini.rs`)
//! - `POST /_devstack/users` with `{"user_name": "…"}` adds an account user, `DELETE` with the
//!   same body removes one (204; see `account_state.rs`)

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::{FaultRule, FederationPolicy, NarrowScopes, Shared, SigningAlg, add_policy};

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/_devstack/info", get(info))
        .route("/_devstack/stats", get(stats))
        .route("/_devstack/revoke", post(revoke))
        .route("/_devstack/faults", get(faults).post(add_fault).delete(clear_faults))
        .route("/_devstack/idp-down", post(idp_down))
        .route("/_devstack/signing", post(signing))
        .route("/_devstack/rotate-key", post(rotate_key))
        .route("/_devstack/federation-policies", post(add_federation_policy))
        .route("/_devstack/narrow-scopes", post(narrow_scopes))
        .route("/_devstack/mcp-routes", post(mcp_routes))
        .route("/_devstack/streams", post(streams))
        .route("/_devstack/users", post(add_user).delete(remove_user))
        .route_layer(axum::middleware::from_fn(crate::owner::only_this_user))
}

#[derive(Deserialize)]
struct NarrowMode {
    mode: NarrowScopes,
}

async fn narrow_scopes(State(shared): State<Arc<Shared>>, Json(body): Json<NarrowMode>) -> StatusCode {
    *shared.narrow_scopes.lock().expect("narrow scopes poisoned") = body.mode;
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct McpRoutes {
    vector_search: bool,
}

#[derive(Deserialize)]
struct Streams {
    hold: bool,
}

async fn streams(State(shared): State<Arc<Shared>>, Json(body): Json<Streams>) -> StatusCode {
    shared.stream_gate.send_replace(body.hold);
    StatusCode::NO_CONTENT
}

async fn mcp_routes(State(shared): State<Arc<Shared>>, Json(body): Json<McpRoutes>) -> StatusCode {
    shared.vector_search_route.store(body.vector_search, std::sync::atomic::Ordering::SeqCst);
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct User {
    user_name: String,
}

async fn add_user(State(shared): State<Arc<Shared>>, Json(body): Json<User>) -> StatusCode {
    shared.account.add_user(&body.user_name);
    StatusCode::NO_CONTENT
}

async fn remove_user(State(shared): State<Arc<Shared>>, Json(body): Json<User>) -> StatusCode {
    shared.account.remove_user(&body.user_name);
    StatusCode::NO_CONTENT
}

async fn info(State(shared): State<Arc<Shared>>) -> Response {
    Json(&shared.info).into_response()
}

async fn stats(State(shared): State<Arc<Shared>>) -> Response {
    Json(shared.stats.snapshot()).into_response()
}

async fn revoke(State(shared): State<Arc<Shared>>) -> StatusCode {
    shared.idp.lock().expect("idp store poisoned").revoke_all();
    StatusCode::NO_CONTENT
}

async fn faults(State(shared): State<Arc<Shared>>) -> Response {
    Json(shared.faults.state()).into_response()
}

async fn add_fault(State(shared): State<Arc<Shared>>, Json(rule): Json<FaultRule>) -> Response {
    shared.faults.add(rule);
    Json(shared.faults.state()).into_response()
}

async fn clear_faults(State(shared): State<Arc<Shared>>) -> StatusCode {
    shared.faults.clear();
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct IdpDown {
    down: bool,
}

async fn idp_down(State(shared): State<Arc<Shared>>, Json(body): Json<IdpDown>) -> StatusCode {
    shared.faults.idp_down(body.down);
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct Signing {
    alg: SigningAlg,
}

async fn signing(State(shared): State<Arc<Shared>>, Json(body): Json<Signing>) -> StatusCode {
    shared.keys.set_alg(body.alg);
    StatusCode::NO_CONTENT
}

async fn rotate_key(State(shared): State<Arc<Shared>>) -> Response {
    let kid = shared.keys.rotate_rsa().await;
    Json(json!({ "kid": kid })).into_response()
}

#[derive(Deserialize)]
struct NewPolicy {
    workspace: String,
    policy: FederationPolicy,
}

async fn add_federation_policy(State(shared): State<Arc<Shared>>, Json(body): Json<NewPolicy>) -> StatusCode {
    if add_policy(&shared, &body.workspace, body.policy) {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::NOT_FOUND
    }
}
