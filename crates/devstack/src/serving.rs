//! Anthropic's Messages API as Databricks serves it (`/serving-endpoints/{name}/v1/messages`
//! and `/ai-gateway/anthropic/v1/messages`), answering every prompt with "pong".
//!
//! Enough for Claude Code to run `claude -p` against a workspace: it authenticates with the
//! workspace token in `Authorization: Bearer` and/or `x-api-key` (scope `all-apis` or
//! `serving`), and with `"stream": true` gets the exact Server-Sent-Events sequence Anthropic
//! sends (message_start, content_block_start, content_block_delta, content_block_stop,
//! message_delta, message_stop). Query strings such as `?beta=true` are ignored.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::errors::databricks_error;
use crate::faults::Skew;
use crate::keys::random_hex;
use crate::workspace::{WsState, authenticate};

/// The reply text.
const REPLY: &str = "pong";

/// `POST …/v1/messages`.
pub(crate) async fn messages(
    State(st): State<WsState>,
    Extension(skew): Extension<Skew>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(refusal) = authenticate(&st, &headers, skew, &["serving"]) {
        return refusal.into_response();
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return databricks_error(
            StatusCode::BAD_REQUEST,
            "INVALID_PARAMETER_VALUE",
            "The request body is not JSON",
        );
    };
    let model =
        request.get("model").and_then(Value::as_str).unwrap_or("databricks-claude-sonnet-4-5").to_owned();
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
