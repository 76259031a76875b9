//! Google's Gemini API (the "native" `generateContent` API) as Databricks' AI Gateway serves it
//! for Gemini CLI, answering every prompt with "pong".
//!
//! The root is `/ai-gateway/gemini` (databricks/unity-gateway `src/ucode/agents/gemini.py`:
//! ucode points `GOOGLE_GEMINI_BASE_URL` at the workspace's `gemini` tool URL and sets
//! `GEMINI_API_KEY_AUTH_MECHANISM=bearer`), under which Gemini CLI's SDK (googleapis/js-genai)
//! sends `POST <root>/v1beta/models/{model}:generateContent` and
//! `POST <root>/v1beta/models/{model}:streamGenerateContent?alt=sse`. Shapes, from Google's
//! "Gemini API reference" (ai.google.dev/api/generate-content): the request has `contents`
//! (required: `[{role, parts: [{text}]}]`), the answer `candidates: [{content: {role: "model",
//! parts: [{text}]}, finishReason, index}]`, `usageMetadata` (`promptTokenCount`,
//! `candidatesTokenCount`, `totalTokenCount`), `modelVersion`, `responseId`; with `alt=sse` each
//! chunk is one `data: <json>` event, and without it `streamGenerateContent` answers a JSON
//! array of the chunks.
//!
//! Authentication is the workspace token in `Authorization: Bearer` only
//! (`workspace_state::authenticate`): Gemini's own `x-goog-api-key` header or `?key=` parameter
//! is not a Databricks credential and gets the same 401 a request without one gets.
//! A model the workspace does not serve is 404 `RESOURCE_DOES_NOT_EXIST`, as for Claude.
//!
//! A stream sends its first chunk at once and the rest when the stream gate is open
//! ([`crate::Devstack::hold_streams`]): a test can see the first event arrive through a proxy
//! while the stream is still open, without timing anything.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use hyper::body::Frame;
use serde_json::{Value, json};

use crate::errors::databricks_error;
use crate::faults::Skew;
use crate::keys::random_hex;
use crate::workspace_state::{WsState, authenticate, presented_token};

/// The Gemini models the devstack serves, as endpoint names (Databricks' pay-per-token
/// names); AI Gateway also takes their Unity Catalog names (`system.ai.gemini-…`).
pub const GEMINI_MODELS: &[&str] = &["databricks-gemini-2-5-pro", "databricks-gemini-2-5-flash"];

/// The AI Gateway root for Gemini.
pub(crate) const ROOT: &str = "/ai-gateway/gemini";

/// The served endpoint a request's model names, if any.
fn served(model: &str) -> Option<&'static str> {
    crate::model_services::named(GEMINI_MODELS, model)
}

/// `POST /ai-gateway/gemini/v1beta/models/{model}:{method}`.
pub(crate) async fn models_call(
    State(st): State<WsState>,
    Extension(skew): Extension<Skew>,
    Path(model_method): Path<String>,
    Query(query): Query<std::collections::HashMap<String, String>>,
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
    let path = format!("{ROOT}/v1beta/models/{model_method}");
    if let Err(refusal) = authenticate(&st, &headers, skew, &["model-serving"]) {
        return refusal.into_response();
    }
    if let Some(token) = presented_token(&headers) {
        st.shared.stats.path_token(&st.name, &path, &token);
    }
    let Some((model, method)) = model_method.rsplit_once(':') else {
        return databricks_error(
            StatusCode::NOT_FOUND,
            "ENDPOINT_NOT_FOUND",
            &format!("No API found for '{path}'"),
        );
    };
    let stream = match method {
        "generateContent" => false,
        "streamGenerateContent" => true,
        _ => {
            return databricks_error(
                StatusCode::NOT_FOUND,
                "ENDPOINT_NOT_FOUND",
                &format!("No API found for '{path}'"),
            );
        }
    };
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return databricks_error(
            StatusCode::BAD_REQUEST,
            "INVALID_PARAMETER_VALUE",
            "The request body is not JSON",
        );
    };
    let contents_ok = request
        .get("contents")
        .and_then(Value::as_array)
        .is_some_and(|c| !c.is_empty() && c.iter().all(|m| m.get("parts").is_some_and(Value::is_array)));
    if !contents_ok {
        return databricks_error(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            "contents: a non-empty list of {role, parts} is required",
        );
    }
    let Some(endpoint) = served(model) else {
        return databricks_error(
            StatusCode::NOT_FOUND,
            "RESOURCE_DOES_NOT_EXIST",
            &format!("Endpoint with name '{model}' does not exist."),
        );
    };
    let prompt_tokens = (request["contents"].to_string().len() / 4).max(1);
    let id = format!("dvs{}", random_hex(12));
    let chunk = |text: &str, last: bool| {
        let mut candidate = json!({"content": {"role": "model", "parts": [{"text": text}]}, "index": 0});
        if last {
            candidate["finishReason"] = json!("STOP");
        }
        let mut c = json!({"candidates": [candidate], "modelVersion": endpoint, "responseId": id});
        if last {
            c["usageMetadata"] = json!({"promptTokenCount": prompt_tokens, "candidatesTokenCount": 1,
                "totalTokenCount": prompt_tokens + 1});
        }
        c
    };
    if !stream {
        let mut whole = chunk("pong", true);
        whole["usageMetadata"] = json!({"promptTokenCount": prompt_tokens, "candidatesTokenCount": 1,
            "totalTokenCount": prompt_tokens + 1});
        return Json(whole).into_response();
    }
    let (first, rest) = (chunk("po", false), chunk("ng", true));
    if query.get("alt").map(String::as_str) != Some("sse") {
        return Json(json!([first, rest])).into_response();
    }
    let event = |v: &Value| Bytes::from(format!("data: {v}\r\n\r\n"));
    let mut gate = st.shared.stream_gate.subscribe();
    let opened = async move {
        let _ = gate.wait_for(|held| !held).await;
    };
    let body = GatedBody { first: Some(event(&first)), rest: Some(event(&rest)), gate: Box::pin(opened) };
    ([(header::CONTENT_TYPE, "text/event-stream"), (header::CACHE_CONTROL, "no-cache")], Body::new(body))
        .into_response()
}

/// A body that sends `first` at once and `rest` once `gate` resolves.
struct GatedBody {
    first: Option<Bytes>,
    rest: Option<Bytes>,
    gate: Pin<Box<dyn Future<Output = ()> + Send>>,
}

impl hyper::body::Body for GatedBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if let Some(first) = self.first.take() {
            return Poll::Ready(Some(Ok(Frame::data(first))));
        }
        if self.rest.is_none() {
            return Poll::Ready(None);
        }
        match self.gate.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(self.rest.take().map(|r| Ok(Frame::data(r)))),
            Poll::Pending => Poll::Pending,
        }
    }
}
