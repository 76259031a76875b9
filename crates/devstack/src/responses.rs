//! OpenAI's Responses API as Databricks AI Gateway serves it to Codex, answering every prompt
//! with "pong".
//!
//! The path: `POST /ai-gateway/codex/v1/responses`. Databricks' launcher points Codex's model
//! provider at `<workspace>/ai-gateway/codex/v1` with `wire_api = "responses"`
//! (databricks/ucode `src/ucode/databricks.py`, `build_tool_base_url("codex", …)`;
//! `src/ucode/agents/codex.py`, `_provider_block`), and Codex appends `/responses` to a
//! provider's `base_url` for that wire API (openai/codex `codex-rs`, the Responses client). Pi's
//! `openai-responses` provider goes to the same base URL (ucode `build_pi_base_urls`, "appends
//! `/responses`").
//!
//! The model: ucode pins the discovered id verbatim, "the gateway routes by that exact name
//! (whether `databricks-gpt-5` from the AI Gateway listing or `system.ai.gpt-5` from UC
//! model-services)" (ucode `agents/codex.py`, `write_tool_config`); so both the endpoint name
//! and its Unity Catalog name are served here ([`crate::DevstackOptions::openai_models`]), and
//! any other is 404 `RESOURCE_DOES_NOT_EXIST`, as on the Messages path.
//!
//! The request, as OpenAI's "Create a model response" reference has it
//! (platform.openai.com/docs/api-reference/responses/create): `model` (string) and `input` (a
//! string or a list of input items) are what a request needs; `stream: true` asks for
//! Server-Sent Events; `max_output_tokens`, when sent, is an integer ≥ 16. A Chat Completions
//! body (`messages` and no `input`) is refused, as the Responses API has no such parameter.
//!
//! The stream, as OpenAI's "Streaming events" reference has it
//! (platform.openai.com/docs/api-reference/responses-streaming) and as Codex 0.169.0 parses it
//! (openai/codex `codex-rs/codex-api/src/sse/responses.rs`, `process_sse`: `response.created`
//! with a `response`, `response.output_item.added`/`.done` with an `item` that parses as a
//! `ResponseItem`, `response.output_text.delta` with `delta`, and `response.completed` whose
//! `response` has `id` and a `usage` of `input_tokens`, `output_tokens`, `total_tokens`;
//! a stream ending without `response.completed` is an error there): `response.created`,
//! `response.in_progress`, `response.output_item.added`, `response.content_part.added`,
//! `response.output_text.delta`, `response.output_text.done`, `response.content_part.done`,
//! `response.output_item.done`, `response.completed`, each `event: <type>` with a JSON `data`
//! carrying the same `type` and a `sequence_number` counting from 0.
//!
//! Authentication: only `Authorization: Bearer <workspace token>` (scope `all-apis` or
//! `model-serving`); HTTP Basic, which the REST APIs here also take, is refused on this path,
//! as an OpenAI-style client only ever sends a Bearer key. Each authenticated request is
//! counted under its path with the token's fingerprint ([`crate::stats::PathStats`]).

use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::errors::{bearer, databricks_error};
use crate::faults::Skew;
use crate::keys::random_hex;
use crate::workspace_state::{WsState, authenticate};

/// Where Codex's requests arrive: `<base_url>/responses` with base `/ai-gateway/codex/v1`.
pub(crate) const PATH: &str = "/ai-gateway/codex/v1/responses";
/// The reply text.
const REPLY: &str = "pong";
/// The smallest `max_output_tokens` the Responses API takes.
const MIN_OUTPUT_TOKENS: u64 = 16;

fn bad_request(message: &str) -> Response {
    databricks_error(StatusCode::BAD_REQUEST, "BAD_REQUEST", message)
}

/// The served model a request's `model` names: an endpoint name, or its `system.ai.` name.
fn served<'a>(st: &'a WsState, model: &str) -> Option<&'a str> {
    crate::model_services::named(&st.shared.openai_models, model)
}

/// `POST /ai-gateway/codex/v1/responses`.
pub(crate) async fn create(
    State(st): State<WsState>,
    Extension(skew): Extension<Skew>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !st.shared.ai_gateway {
        return databricks_error(
            StatusCode::NOT_FOUND,
            "FEATURE_DISABLED",
            "AI Gateway is not available for this workspace.",
        );
    }
    let Some(token) = bearer(&headers).map(str::to_owned) else {
        st.shared.stats.workspace(&st.name, |w| w.api_calls_unauthorized += 1);
        return databricks_error(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            "Credential was not sent or was of an unsupported type for this API.",
        );
    };
    if let Err(refusal) = authenticate(&st, &headers, skew, &["model-serving"]) {
        return refusal.into_response();
    }
    st.shared.stats.path_token(&st.name, PATH, &token);
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return databricks_error(
            StatusCode::BAD_REQUEST,
            "INVALID_PARAMETER_VALUE",
            "The request body is not JSON",
        );
    };
    let Some(model) = request.get("model").and_then(Value::as_str) else {
        return bad_request("model: Field required");
    };
    match request.get("input") {
        Some(Value::String(_) | Value::Array(_)) => {}
        Some(_) => return bad_request("input: Input should be a valid string or list"),
        None if request.get("messages").is_some() => {
            return bad_request("messages: Unknown parameter; the Responses API takes `input`");
        }
        None => return bad_request("input: Field required"),
    }
    if let Some(max) = request.get("max_output_tokens")
        && !max.is_null()
        && max.as_u64().is_none_or(|n| n < MIN_OUTPUT_TOKENS)
    {
        return bad_request(&format!("max_output_tokens: must be an integer ≥ {MIN_OUTPUT_TOKENS}"));
    }
    if request.get("stream").is_some_and(|s| !s.is_boolean() && !s.is_null()) {
        return bad_request("stream: Input should be a valid boolean");
    }
    let Some(endpoint) = served(&st, model) else {
        return databricks_error(
            StatusCode::NOT_FOUND,
            "RESOURCE_DOES_NOT_EXIST",
            &format!("Endpoint with name '{model}' does not exist."),
        );
    };
    tracing::debug!(workspace = %st.name, endpoint, "devstack responses request");
    let input_tokens = (request.get("input").map(|m| m.to_string().len()).unwrap_or(0) / 4).max(1) as u64;
    let reply = Reply::new(model, input_tokens);
    if request.get("stream").and_then(Value::as_bool) == Some(true) {
        return stream(&reply);
    }
    axum::Json(reply.response("completed", true)).into_response()
}

/// One answer, in the pieces both the plain and the streamed reply are made of.
struct Reply {
    id: String,
    item_id: String,
    model: String,
    created_at: i64,
    input_tokens: u64,
}

impl Reply {
    fn new(model: &str, input_tokens: u64) -> Self {
        Reply {
            id: format!("resp_dvs{}", random_hex(12)),
            item_id: format!("msg_dvs{}", random_hex(12)),
            model: model.to_owned(),
            created_at: time::OffsetDateTime::now_utc().unix_timestamp(),
            input_tokens,
        }
    }

    fn part(&self, text: &str) -> Value {
        json!({"type": "output_text", "text": text, "annotations": []})
    }

    fn item(&self, done: bool) -> Value {
        let (status, content) =
            if done { ("completed", json!([self.part(REPLY)])) } else { ("in_progress", json!([])) };
        json!({"id": self.item_id, "type": "message", "status": status, "role": "assistant", "content": content})
    }

    /// The response object; `done` fills in the output and the usage.
    fn response(&self, status: &str, done: bool) -> Value {
        let (output, usage) = if done {
            let usage = json!({
                "input_tokens": self.input_tokens,
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens": 1,
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": self.input_tokens + 1,
            });
            (json!([self.item(true)]), usage)
        } else {
            (json!([]), Value::Null)
        };
        json!({
            "id": self.id,
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "error": null,
            "incomplete_details": null,
            "model": self.model,
            "output": output,
            "parallel_tool_calls": true,
            "tool_choice": "auto",
            "tools": [],
            "usage": usage,
        })
    }
}

/// The SSE body: every event of one text answer, in OpenAI's order.
fn stream(r: &Reply) -> Response {
    let at = |extra: Value| {
        let mut v = json!({"item_id": r.item_id, "output_index": 0, "content_index": 0});
        if let (Some(o), Value::Object(e)) = (v.as_object_mut(), extra) {
            o.extend(e);
        }
        v
    };
    let events: Vec<(&str, Value)> = vec![
        ("response.created", json!({"response": r.response("in_progress", false)})),
        ("response.in_progress", json!({"response": r.response("in_progress", false)})),
        ("response.output_item.added", json!({"output_index": 0, "item": r.item(false)})),
        ("response.content_part.added", at(json!({"part": r.part("")}))),
        ("response.output_text.delta", at(json!({"delta": REPLY, "logprobs": []}))),
        ("response.output_text.done", at(json!({"text": REPLY, "logprobs": []}))),
        ("response.content_part.done", at(json!({"part": r.part(REPLY)}))),
        ("response.output_item.done", json!({"output_index": 0, "item": r.item(true)})),
        ("response.completed", json!({"response": r.response("completed", true)})),
    ];
    let body: String = events
        .into_iter()
        .enumerate()
        .map(|(seq, (kind, mut data))| {
            data["type"] = Value::from(kind);
            data["sequence_number"] = Value::from(seq);
            format!("event: {kind}\ndata: {data}\n\n")
        })
        .collect();
    ([(header::CONTENT_TYPE, "text/event-stream"), (header::CACHE_CONTROL, "no-cache")], body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stream_is_openais_event_sequence_ending_in_completed() {
        let r = Reply::new("databricks-gpt-5-2", 3);
        let resp = stream(&r);
        let body = futures_body(resp);
        let events: Vec<(String, Value)> = body
            .split("\n\n")
            .filter(|e| !e.is_empty())
            .map(|e| {
                let mut lines = e.lines();
                let kind = lines.next().unwrap().strip_prefix("event: ").unwrap().to_owned();
                let data: Value =
                    serde_json::from_str(lines.next().unwrap().strip_prefix("data: ").unwrap()).unwrap();
                (kind, data)
            })
            .collect();
        let kinds: Vec<&str> = events.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            kinds,
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.content_part.added",
                "response.output_text.delta",
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.completed"
            ]
        );
        for (i, (kind, data)) in events.iter().enumerate() {
            assert_eq!(data["type"], kind.as_str());
            assert_eq!(data["sequence_number"], i);
        }
        assert_eq!(events[4].1["delta"], "pong");
        let done = &events[7].1["item"];
        assert_eq!((done["type"].as_str(), done["role"].as_str()), (Some("message"), Some("assistant")));
        assert_eq!(done["content"][0], json!({"type": "output_text", "text": "pong", "annotations": []}));
        let completed = &events[8].1["response"];
        assert_eq!(completed["id"], r.id.as_str());
        assert_eq!(completed["usage"]["total_tokens"], 4);
        assert_eq!(completed["output"][0]["content"][0]["text"], "pong");
    }

    fn futures_body(resp: Response) -> String {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(async {
            let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
            String::from_utf8(bytes.to_vec()).unwrap()
        })
    }
}
