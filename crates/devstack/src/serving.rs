//! Anthropic's Messages API as Databricks serves it, answering every prompt with "pong", and
//! the models list a client asks first.
//!
//! The paths are fixed, as on Databricks: `/ai-gateway/anthropic` (AI Gateway) and, on older
//! workspaces, `/serving-endpoints/anthropic`; the endpoint name (`databricks-claude-sonnet-4-5`)
//! travels as `model`. AI Gateway also takes the Unity Catalog name of the same model
//! (`system.ai.claude-sonnet-4-5`), as Databricks' "Query model services with the Anthropic
//! Messages API" page uses it. Which models are served is a devstack knob
//! ([`crate::DevstackOptions::claude_models`]), and so is whether AI Gateway exists at all.
//!
//! `GET /ai-gateway/anthropic/v1/models` answers Anthropic's models-list shape
//! (`{data: [{type: "model", id, display_name, created_at}], has_more, first_id, last_id}`,
//! newest first), listing the endpoint names, as Databricks' `ucode` reads it
//! (databricks/unity-gateway `src/ucode/databricks.py`: it buckets ids containing
//! `databricks-claude-<family>-`). Refusals use Databricks' REST error body:
//! - a model that is not served: 404 `RESOURCE_DOES_NOT_EXIST`, "Endpoint with name '…' does
//!   not exist." (the body Databricks gives for a missing serving endpoint);
//! - any other path under `/serving-endpoints/`: 404 "Path must be of form
//!   /serving-endpoints/<endpoint_name>/invocations or …" (seen from the real one in
//!   anthropics/claude-code#14007);
//! - a request declaring Anthropic's hosted web-search server tool (`web_search_*`, which
//!   Claude Code's WebSearch sends): 400 `BAD_REQUEST`, naming the tag the gateway's request
//!   schema does not know (ucode's `agents/claude.py` quotes it: "Input tag
//!   'web_search_20250305' … does not match");
//! - AI Gateway switched off: 404 `FEATURE_DISABLED`, "AI Gateway is not available for this
//!   workspace." (databricks/unity-gateway#53).
//!
//! Authentication is the workspace token in `Authorization: Bearer` (scope `all-apis` or
//! `serving`); `x-api-key` is not a credential here (see `workspace_state::authenticate`). With
//! `"stream": true` the reply is the exact Server-Sent-Events sequence Anthropic sends
//! (message_start, content_block_start, content_block_delta, content_block_stop,
//! message_delta, message_stop). Query strings such as `?beta=true` are ignored.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::errors::databricks_error;
use crate::faults::Skew;
use crate::keys::random_hex;
use crate::workspace_state::{WsState, authenticate, presented_token};

/// The reply text.
const REPLY: &str = "pong";
/// The one serving-endpoints name that speaks the Anthropic Messages API.
const ANTHROPIC_ENDPOINT: &str = "anthropic";

/// 404 for a path under `/serving-endpoints/` that Databricks does not serve.
pub(crate) fn bad_serving_path() -> Response {
    databricks_error(
        StatusCode::NOT_FOUND,
        "ENDPOINT_NOT_FOUND",
        "Path must be of form /serving-endpoints/<endpoint_name>/invocations or \
         /serving-endpoints/<endpoint_name>/served-models/<served_model_name>/invocations",
    )
}

fn gateway_disabled() -> Response {
    databricks_error(
        StatusCode::NOT_FOUND,
        "FEATURE_DISABLED",
        "AI Gateway is not available for this workspace.",
    )
}

fn unknown_model(name: &str) -> Response {
    databricks_error(
        StatusCode::NOT_FOUND,
        "RESOURCE_DOES_NOT_EXIST",
        &format!("Endpoint with name '{name}' does not exist."),
    )
}

/// The served endpoint a request's `model` names, if any. AI Gateway also takes the model's
/// Unity Catalog name (`system.ai.claude-…` for `databricks-claude-…`).
fn served<'a>(st: &'a WsState, model: &str, gateway: bool) -> Option<&'a str> {
    let uc = crate::model_services::uc_name;
    st.shared
        .claude_models
        .iter()
        .find(|m| m.as_str() == model || (gateway && uc(m).as_deref() == Some(model)))
        .map(String::as_str)
}

/// The first `web_search_*` server tool a request declares.
fn web_search_tool(request: &Value) -> Option<(usize, &str)> {
    request.get("tools")?.as_array()?.iter().enumerate().find_map(|(i, t)| {
        let kind = t.get("type")?.as_str()?;
        kind.starts_with("web_search").then_some((i, kind))
    })
}

/// `GET /ai-gateway/anthropic/v1/models`: the served models, newest first.
pub(crate) async fn models(
    State(st): State<WsState>,
    Extension(skew): Extension<Skew>,
    headers: HeaderMap,
) -> Response {
    if !st.shared.ai_gateway {
        return gateway_disabled();
    }
    if let Err(refusal) = authenticate(&st, &headers, skew, &["model-serving"]) {
        return refusal.into_response();
    }
    let data: Vec<Value> = st
        .shared
        .claude_models
        .iter()
        .enumerate()
        .map(|(i, id)| {
            // Newest first, a day apart: plausible and stable.
            let created = time::OffsetDateTime::from_unix_timestamp(1_767_225_600 - i as i64 * 86_400)
                .ok()
                .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
                .unwrap_or_default();
            json!({"type": "model", "id": id, "display_name": display_name(id), "created_at": created})
        })
        .collect();
    axum::Json(json!({
        "first_id": data.first().map(|m| m["id"].clone()),
        "last_id": data.last().map(|m| m["id"].clone()),
        "has_more": false,
        "data": data,
    }))
    .into_response()
}

/// `databricks-claude-sonnet-4-5` → `Claude Sonnet 4.5`.
fn display_name(id: &str) -> String {
    let stem = id.strip_prefix("databricks-").unwrap_or(id);
    let mut words: Vec<String> = Vec::new();
    let mut version: Vec<&str> = Vec::new();
    for part in stem.split('-') {
        if part.chars().all(|c| c.is_ascii_digit()) {
            version.push(part);
            continue;
        }
        let mut c = part.chars();
        words.push(c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default());
    }
    if !version.is_empty() {
        words.push(version.join("."));
    }
    words.join(" ")
}

/// `POST /ai-gateway/anthropic/v1/messages`.
pub(crate) async fn gateway_messages(
    State(st): State<WsState>,
    Extension(skew): Extension<Skew>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !st.shared.ai_gateway {
        return gateway_disabled();
    }
    messages(&st, skew, &headers, &body, true, "/ai-gateway/anthropic/v1/messages")
}

/// `POST /serving-endpoints/{name}/v1/messages`: only `anthropic` is a path Databricks serves.
pub(crate) async fn endpoint_messages(
    State(st): State<WsState>,
    Extension(skew): Extension<Skew>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if name != ANTHROPIC_ENDPOINT {
        return bad_serving_path();
    }
    messages(&st, skew, &headers, &body, false, "/serving-endpoints/anthropic/v1/messages")
}

fn messages(
    st: &WsState,
    skew: Skew,
    headers: &HeaderMap,
    body: &[u8],
    gateway: bool,
    path: &str,
) -> Response {
    if let Err(refusal) = authenticate(st, headers, skew, &["model-serving"]) {
        return refusal.into_response();
    }
    if let Some(token) = presented_token(headers) {
        st.shared.stats.messages_token(&st.name, &token);
        st.shared.stats.path_token(&st.name, path, &token);
    }
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return databricks_error(
            StatusCode::BAD_REQUEST,
            "INVALID_PARAMETER_VALUE",
            "The request body is not JSON",
        );
    };
    let Some(model) = request.get("model").and_then(Value::as_str) else {
        return databricks_error(StatusCode::BAD_REQUEST, "BAD_REQUEST", "model: Field required");
    };
    // The Messages API requires `max_tokens` (an integer ≥ 1) and `messages` (an array) as
    // well as `model` (Anthropic's "Messages" reference, docs.anthropic.com/en/api/messages:
    // all three are marked required); a request lacking one is refused in the same words.
    if request.get("max_tokens").and_then(Value::as_u64).is_none_or(|n| n < 1) {
        let problem =
            if request.get("max_tokens").is_none() { "Field required" } else { "must be an integer ≥ 1" };
        return databricks_error(StatusCode::BAD_REQUEST, "BAD_REQUEST", &format!("max_tokens: {problem}"));
    }
    if !request.get("messages").is_some_and(Value::is_array) {
        let problem =
            if request.get("messages").is_none() { "Field required" } else { "Input should be a valid list" };
        return databricks_error(StatusCode::BAD_REQUEST, "BAD_REQUEST", &format!("messages: {problem}"));
    }
    let Some(endpoint) = served(st, model, gateway) else {
        return unknown_model(model);
    };
    tracing::debug!(workspace = %st.name, endpoint, "devstack serving request");
    if let Some((i, kind)) = web_search_tool(&request) {
        return databricks_error(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            &format!(
                "tools.{i}: Input tag '{kind}' found using 'type' does not match any of the expected \
                 tags: 'custom', 'bash_20250124', 'text_editor_20250124', 'text_editor_20250429', \
                 'text_editor_20250728'"
            ),
        );
    }
    let model = model.to_owned();
    // A rough token count, so usage is plausible and non-zero.
    let input_tokens = (request.get("messages").map(|m| m.to_string().len()).unwrap_or(0) / 4).max(1);
    let id = format!("msg_dvs{}", random_hex(12));
    let usage = json!({"input_tokens": input_tokens, "output_tokens": 1});
    if request.get("stream").and_then(Value::as_bool) == Some(true) {
        return stream(&id, &model, usage);
    }
    axum::Json(json!({
        "id": id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": REPLY}],
        "stop_reason": "end_turn",
        "stop_sequence": null,
        "usage": usage,
    }))
    .into_response()
}

fn stream(id: &str, model: &str, usage: Value) -> Response {
    let events = [
        (
            "message_start",
            json!({"type": "message_start", "message": {
                "id": id, "type": "message", "role": "assistant", "model": model,
                "content": [], "stop_reason": null, "stop_sequence": null, "usage": usage,
            }}),
        ),
        (
            "content_block_start",
            json!({"type": "content_block_start", "index": 0,
                "content_block": {"type": "text", "text": ""}}),
        ),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0,
                "delta": {"type": "text_delta", "text": REPLY}}),
        ),
        ("content_block_stop", json!({"type": "content_block_stop", "index": 0})),
        (
            "message_delta",
            json!({"type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": null},
                "usage": {"output_tokens": 1}}),
        ),
        ("message_stop", json!({"type": "message_stop"})),
    ];
    let body: String =
        events.iter().map(|(event, data)| format!("event: {event}\ndata: {data}\n\n")).collect();
    ([(header::CONTENT_TYPE, "text/event-stream"), (header::CACHE_CONTROL, "no-cache")], body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_read_like_anthropics() {
        assert_eq!(display_name("databricks-claude-sonnet-4-5"), "Claude Sonnet 4.5");
        assert_eq!(display_name("databricks-claude-opus-5"), "Claude Opus 5");
    }

    #[test]
    fn finds_the_web_search_server_tool() {
        let req = json!({"tools": [{"name": "Bash", "input_schema": {}},
            {"type": "web_search_20250305", "name": "web_search"}]});
        assert_eq!(web_search_tool(&req), Some((1, "web_search_20250305")));
        assert_eq!(web_search_tool(&json!({"tools": [{"name": "Bash"}]})), None);
    }
}
