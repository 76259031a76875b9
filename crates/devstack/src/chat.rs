//! OpenAI's Chat Completions API as Databricks AI Gateway serves it (the "MLflow Chat
//! Completions API", one of its "unified APIs"), answering every prompt with "pong".
//!
//! The path: `POST /ai-gateway/mlflow/v1/chat/completions`. Databricks documents the unified
//! API as an OpenAI client with `base_url="https://<ai-gateway-url>/mlflow/v1"` ("Query AI
//! Gateway endpoints", docs.databricks.com/aws/en/ai-gateway/query-endpoints-beta, "MLflow Chat
//! Completions API"), and its launcher points Copilot CLI's `openai` provider and OpenCode's
//! OpenAI-compatible models at `<workspace>/ai-gateway/mlflow/v1`, to which they append
//! `/chat/completions` (databricks/ucode `src/ucode/databricks.py`, `build_copilot_base_url`
//! and `build_opencode_base_urls`; `build_pi_base_urls`: "openai-completions appends
//! `/chat/completions`").
//!
//! The model: the endpoint name (`databricks-claude-sonnet-4-5`) or its Unity Catalog name
//! (`system.ai.claude-sonnet-4-5`), as on the Messages path; the unified API serves every family
//! behind one URL (ucode `build_copilot_base_url`: "serves Claude, codex (gpt-5), and gemini
//! models behind one URL"); here, the Claude models the devstack serves
//! ([`crate::DevstackOptions::claude_models`]). Any other is 404 `RESOURCE_DOES_NOT_EXIST`.
//!
//! The request, as OpenAI's "Create chat completion" reference has it
//! (platform.openai.com/docs/api-reference/chat/create): `model` (string) and `messages` (a
//! non-empty list of objects, each with a `role` of `developer`, `system`, `user`, `assistant`
//! or `tool`) are required; `stream: true` asks for Server-Sent Events; `stream_options`
//! ("Options for streaming response. Only set this when you set `stream: true`") is refused
//! without it; a Responses API body (`input` and no `messages`) is refused.
//!
//! The stream, as OpenAI's "The chat completion chunk object" reference has it
//! (platform.openai.com/docs/api-reference/chat-streaming): `data: <chunk>` events, each an
//! `object: "chat.completion.chunk"` with the same `id`, `created` and `model` and `choices` of
//! `{index, delta, finish_reason}`: the role first, then the content, then an empty delta with
//! `finish_reason: "stop"`; with `stream_options.include_usage`, one more chunk with empty
//! `choices` and the `usage`; and the terminating `data: [DONE]`.
//!
//! Authentication: only `Authorization: Bearer <workspace token>` (scope `all-apis` or
//! `model-serving`): an OpenAI-style client only ever sends a Bearer key, so HTTP Basic, which
//! the REST APIs here also take, is refused. Each authenticated request is counted under its
//! path with the token's fingerprint ([`crate::stats::PathStats`]).

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

/// Where OpenAI-compatible clients' requests arrive: `<base_url>/chat/completions` with base
/// `/ai-gateway/mlflow/v1`.
pub(crate) const PATH: &str = "/ai-gateway/mlflow/v1/chat/completions";
/// The reply text.
const REPLY: &str = "pong";
/// The roles a message may have.
const ROLES: &[&str] = &["developer", "system", "user", "assistant", "tool"];

fn bad_request(message: &str) -> Response {
    databricks_error(StatusCode::BAD_REQUEST, "BAD_REQUEST", message)
}

/// The served model a request's `model` names: an endpoint name, or its `system.ai.` name.
fn served<'a>(st: &'a WsState, model: &str) -> Option<&'a str> {
    crate::model_services::named(&st.shared.claude_models, model)
}

/// What is wrong with a request, in the words of an OpenAI-compatible validator; `None`: nothing.
fn invalid(request: &Value) -> Option<String> {
    if !request.is_object() {
        return Some("The request body must be a JSON object".into());
    }
    if request.get("model").and_then(Value::as_str).is_none() {
        return Some("model: Field required".into());
    }
    let messages = match request.get("messages") {
        Some(Value::Array(m)) if !m.is_empty() => m,
        Some(Value::Array(_)) => return Some("messages: List should have at least 1 item".into()),
        Some(_) => return Some("messages: Input should be a valid list".into()),
        None if request.get("input").is_some() => {
            return Some("input: Unknown parameter; the Chat Completions API takes `messages`".into());
        }
        None => return Some("messages: Field required".into()),
    };
    for (i, m) in messages.iter().enumerate() {
        match m.get("role").and_then(Value::as_str) {
            Some(r) if ROLES.contains(&r) => {}
            Some(r) => {
                return Some(format!("messages.{i}.role: Input should be one of {ROLES:?}, got '{r}'"));
            }
            None => return Some(format!("messages.{i}.role: Field required")),
        }
    }
    match request.get("stream") {
        None | Some(Value::Null | Value::Bool(_)) => {}
        Some(_) => return Some("stream: Input should be a valid boolean".into()),
    }
    let streaming = request.get("stream").and_then(Value::as_bool) == Some(true);
    match request.get("stream_options") {
        None | Some(Value::Null) => {}
        Some(_) if !streaming => {
            return Some("The 'stream_options' parameter is only allowed when 'stream' is enabled.".into());
        }
        Some(Value::Object(_)) => {}
        Some(_) => return Some("stream_options: Input should be a valid dictionary".into()),
    }
    None
}

/// `POST /ai-gateway/mlflow/v1/chat/completions`.
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
    if let Some(problem) = invalid(&request) {
        return bad_request(&problem);
    }
    let asked = request["model"].as_str().unwrap_or_default();
    if served(&st, asked).is_none() {
        return databricks_error(
            StatusCode::NOT_FOUND,
            "RESOURCE_DOES_NOT_EXIST",
            &format!("Endpoint with name '{asked}' does not exist."),
        );
    }
    tracing::debug!(workspace = %st.name, model = asked, "devstack chat completion");
    let id = format!("chatcmpl-dvs{}", random_hex(12));
    let created = skew.now();
    let prompt_tokens = (request["messages"].to_string().len() / 4).max(1);
    let usage =
        json!({"prompt_tokens": prompt_tokens, "completion_tokens": 1, "total_tokens": prompt_tokens + 1});
    if request.get("stream").and_then(Value::as_bool) == Some(true) {
        let include_usage =
            request.pointer("/stream_options/include_usage").and_then(Value::as_bool) == Some(true);
        return stream(&id, created, asked, include_usage.then_some(usage));
    }
    axum::Json(json!({
        "id": id,
        "object": "chat.completion",
        "created": created,
        "model": asked,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": REPLY},
            "finish_reason": "stop",
        }],
        "usage": usage,
    }))
    .into_response()
}

/// The chunks of one streamed answer, then `[DONE]`.
fn stream(id: &str, created: i64, model: &str, usage: Option<Value>) -> Response {
    let chunk = |delta: Value, finish: Value| {
        json!({
            "id": id, "object": "chat.completion.chunk", "created": created, "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        })
    };
    let mut chunks = vec![
        chunk(json!({"role": "assistant", "content": ""}), Value::Null),
        chunk(json!({"content": REPLY}), Value::Null),
        chunk(json!({}), json!("stop")),
    ];
    if let Some(usage) = usage {
        chunks.push(json!({
            "id": id, "object": "chat.completion.chunk", "created": created, "model": model,
            "choices": [], "usage": usage,
        }));
    }
    let mut body: String = chunks.iter().map(|c| format!("data: {c}\n\n")).collect();
    body.push_str("data: [DONE]\n\n");
    ([(header::CONTENT_TYPE, "text/event-stream"), (header::CACHE_CONTROL, "no-cache")], body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_checked_as_the_chat_completions_reference_says() {
        let ok = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
        assert_eq!(invalid(&ok), None);
        let streamed = json!({"model": "m", "messages": [{"role": "system", "content": "s"}],
            "stream": true, "stream_options": {"include_usage": true}});
        assert_eq!(invalid(&streamed), None);
        let cases = [
            (json!({"messages": [{"role": "user"}]}), "model: Field required"),
            (json!({"model": "m"}), "messages: Field required"),
            (json!({"model": "m", "messages": []}), "at least 1 item"),
            (json!({"model": "m", "input": "hi"}), "takes `messages`"),
            (json!({"model": "m", "messages": [{"content": "x"}]}), "messages.0.role: Field required"),
            (json!({"model": "m", "messages": [{"role": "robot"}]}), "got 'robot'"),
            (json!({"model": "m", "messages": [{"role": "user"}], "stream": "yes"}), "valid boolean"),
            (
                json!({"model": "m", "messages": [{"role": "user"}], "stream_options": {"include_usage": true}}),
                "only allowed when 'stream' is enabled",
            ),
        ];
        for (req, says) in cases {
            let got = invalid(&req).unwrap_or_default();
            assert!(got.contains(says), "{req}: {got}");
        }
    }
}
