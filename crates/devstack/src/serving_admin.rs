//! Serving-endpoint management for the admin commands: create, get, list and delete endpoints
//! (`/api/2.0/serving-endpoints[/{name}]`) and set their AI Gateway options
//! (`PUT /api/2.0/serving-endpoints/{name}/ai-gateway`), in memory per workspace.
//!
//! Validation follows Databricks' rules closely enough that a wrong request from Lakepass fails
//! here first: an endpoint needs a name of letters, digits, `-` and `_` and at least one served
//! entity; an Anthropic external model needs `anthropic_config` with an API key (a
//! `{{secrets/scope/key}}` reference or plaintext); a rate limit needs positive `calls`, a `key`
//! of `user`, `endpoint`, `user_group` or `service_principal`, and `renewal_period = "minute"`;
//! a guardrail's PII behavior is `NONE`, `BLOCK` or `MASK`. Any valid workspace token may call
//! these (scope `all-apis` or `serving`).

use std::collections::BTreeMap;
use std::sync::Mutex;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Extension, Json, Router};
use serde_json::{Value, json};

use crate::errors::databricks_error;
use crate::faults::Skew;
use crate::keys::random_hex;
use crate::workspace_state::{WsState, authenticate};

/// Endpoints per (workspace, endpoint name).
#[derive(Default)]
pub(crate) struct Endpoints(Mutex<BTreeMap<(String, String), Value>>);

impl Endpoints {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<(String, String), Value>> {
        self.0.lock().expect("endpoints poisoned")
    }
}

/// The serving-endpoint admin routes, mounted on each workspace router.
pub(crate) fn routes() -> Router<WsState> {
    Router::new()
        .route("/api/2.0/serving-endpoints", get(list).post(create))
        .route("/api/2.0/serving-endpoints/{name}", get(get_one).delete(delete))
        .route("/api/2.0/serving-endpoints/{name}/ai-gateway", put(set_gateway))
}

fn invalid(message: &str) -> Response {
    databricks_error(StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE", message)
}

fn missing(name: &str) -> Response {
    databricks_error(
        StatusCode::NOT_FOUND,
        "RESOURCE_DOES_NOT_EXIST",
        &format!("Serving endpoint with name '{name}' does not exist"),
    )
}

fn auth(st: &WsState, headers: &HeaderMap, skew: Skew) -> Result<String, Box<Response>> {
    authenticate(st, headers, skew, &["model-serving"])
        .map(|p| p.user_name)
        .map_err(|r| Box::new(r.into_response()))
}

fn check_entity(e: &Value) -> Result<(), String> {
    let Some(model) = e.get("external_model") else {
        return e
            .get("entity_name")
            .and_then(Value::as_str)
            .map(|_| ())
            .ok_or_else(|| "each served entity needs external_model or entity_name".to_string());
    };
    let s = |k: &str| model.get(k).and_then(Value::as_str);
    s("name").ok_or("external_model.name is required")?;
    let provider = s("provider").ok_or("external_model.provider is required")?;
    if provider == "anthropic" {
        let cfg = model
            .get("anthropic_config")
            .ok_or("external_model.anthropic_config is required for provider anthropic")?;
        let key = cfg.get("anthropic_api_key").or_else(|| cfg.get("anthropic_api_key_plaintext"));
        if key.and_then(Value::as_str).is_none_or(str::is_empty) {
            return Err("anthropic_config needs anthropic_api_key (a {{secrets/scope/key}} reference) or anthropic_api_key_plaintext".into());
        }
    }
    Ok(())
}

async fn create(
    State(st): State<WsState>,
    Extension(skew): Extension<Skew>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let creator = match auth(&st, &headers, skew) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let Ok(req) = serde_json::from_slice::<Value>(&body) else {
        return invalid("The request body is not JSON");
    };
    let Some(name) = req.get("name").and_then(Value::as_str).map(str::to_owned) else {
        return invalid("name is required");
    };
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return invalid("name may contain only letters, digits, '-' and '_'");
    }
    let entities = req.pointer("/config/served_entities").and_then(Value::as_array);
    let Some(entities) = entities.filter(|e| !e.is_empty()) else {
        return invalid("config.served_entities must list at least one entity");
    };
    for e in entities {
        if let Err(m) = check_entity(e) {
            return invalid(&m);
        }
    }
    let mut endpoints = st.shared.endpoints.lock();
    let key = (st.name.clone(), name.clone());
    if endpoints.contains_key(&key) {
        return databricks_error(
            StatusCode::CONFLICT,
            "RESOURCE_ALREADY_EXISTS",
            &format!("Endpoint with name '{name}' already exists"),
        );
    }
    let mut endpoint = json!({
        "name": name,
        "id": random_hex(16),
        "creator": creator,
        "creation_timestamp": skew.now() * 1000,
        "state": {"ready": "READY", "config_update": "NOT_UPDATING"},
        "config": req.get("config").cloned().unwrap_or(Value::Null),
    });
    if let Some(gw) = req.get("ai_gateway") {
        endpoint["ai_gateway"] = gw.clone();
    }
    endpoints.insert(key, endpoint.clone());
    Json(endpoint).into_response()
}

async fn list(State(st): State<WsState>, Extension(skew): Extension<Skew>, headers: HeaderMap) -> Response {
    if let Err(r) = auth(&st, &headers, skew) {
        return *r;
    }
    let endpoints = st.shared.endpoints.lock();
    // Databricks lists its pay-per-token foundation-model endpoints (`databricks-claude-…`)
    // among the workspace's endpoints: what a launcher reads on a workspace without AI Gateway.
    let mut mine: Vec<Value> = st.shared.claude_models.iter().map(|m| foundation_endpoint(m)).collect();
    mine.extend(endpoints.iter().filter(|((ws, _), _)| *ws == st.name).map(|(_, v)| v.clone()));
    Json(json!({ "endpoints": mine })).into_response()
}

/// A pay-per-token foundation-model endpoint, as the endpoints list shows one.
fn foundation_endpoint(name: &str) -> Value {
    json!({
        "name": name,
        "creator": "Databricks",
        "endpoint_type": "FOUNDATION_MODEL_API",
        "task": "llm/v1/chat",
        "state": {"ready": "READY", "config_update": "NOT_UPDATING"},
        "config": {"served_entities": [{"name": name, "foundation_model": {"name": name}}]},
    })
}

async fn get_one(
    State(st): State<WsState>,
    Extension(skew): Extension<Skew>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = auth(&st, &headers, skew) {
        return *r;
    }
    match st.shared.endpoints.lock().get(&(st.name.clone(), name.clone())) {
        Some(e) => Json(e.clone()).into_response(),
        None => missing(&name),
    }
}

async fn delete(
    State(st): State<WsState>,
    Extension(skew): Extension<Skew>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = auth(&st, &headers, skew) {
        return *r;
    }
    match st.shared.endpoints.lock().remove(&(st.name.clone(), name.clone())) {
        Some(_) => Json(json!({})).into_response(),
        None => missing(&name),
    }
}

fn check_gateway(gw: &Value) -> Result<(), String> {
    let obj = gw.as_object().ok_or("the body must be a JSON object")?;
    for key in obj.keys() {
        if ![
            "rate_limits",
            "usage_tracking_config",
            "guardrails",
            "inference_table_config",
            "fallback_config",
        ]
        .contains(&key.as_str())
        {
            return Err(format!("unknown AI Gateway field {key:?}"));
        }
    }
    for limit in gw.get("rate_limits").and_then(Value::as_array).into_iter().flatten() {
        if limit.get("calls").and_then(Value::as_u64).is_none_or(|c| c == 0) {
            return Err("rate_limits[].calls must be a positive integer".into());
        }
        let key = limit.get("key").and_then(Value::as_str).unwrap_or("");
        if !["user", "endpoint", "user_group", "service_principal"].contains(&key) {
            return Err(format!(
                "rate_limits[].key {key:?} must be user, endpoint, user_group or service_principal"
            ));
        }
        if limit.get("renewal_period").and_then(Value::as_str) != Some("minute") {
            return Err("rate_limits[].renewal_period must be \"minute\"".into());
        }
    }
    if let Some(u) = gw.get("usage_tracking_config")
        && !u.get("enabled").is_some_and(Value::is_boolean)
    {
        return Err("usage_tracking_config.enabled must be true or false".into());
    }
    for side in ["input", "output"] {
        if let Some(b) = gw.pointer(&format!("/guardrails/{side}/pii/behavior"))
            && !["NONE", "BLOCK", "MASK"].contains(&b.as_str().unwrap_or(""))
        {
            return Err(format!("guardrails.{side}.pii.behavior must be NONE, BLOCK or MASK"));
        }
        if let Some(s) = gw.pointer(&format!("/guardrails/{side}/safety"))
            && !s.is_boolean()
        {
            return Err(format!("guardrails.{side}.safety must be true or false"));
        }
    }
    Ok(())
}

async fn set_gateway(
    State(st): State<WsState>,
    Extension(skew): Extension<Skew>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = auth(&st, &headers, skew) {
        return *r;
    }
    let Ok(gw) = serde_json::from_slice::<Value>(&body) else {
        return invalid("The request body is not JSON");
    };
    if let Err(m) = check_gateway(&gw) {
        return invalid(&m);
    }
    match st.shared.endpoints.lock().get_mut(&(st.name.clone(), name.clone())) {
        Some(e) => {
            e["ai_gateway"] = gw.clone();
            Json(gw).into_response()
        }
        None => missing(&name),
    }
}
