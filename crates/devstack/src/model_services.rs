//! Unity Catalog's model-services listing: `GET /api/2.1/unity-catalog/model-services`, the
//! foundation models of the `system.ai` schema under their Unity Catalog names, which Databricks'
//! `ucode` asks before anything else (databricks/ucode `src/ucode/databricks.py`,
//! `list_model_services`; `src/ucode/cli.py`, "UC-first").
//!
//! What it answers, as that source reads it: `{"model_services": [{"name":
//! "model-services/system.ai.claude-sonnet-4-5"}, …], "next_page_token": "…"}`, the token
//! absent on the last page; the next page is asked with `page_token=<token>`. The query:
//! - `page_size` is required and bounded: ucode's note says unparameterized or large-page
//!   requests "return `HTTP 499` with an empty body, while pages of 10–100 come back reliably",
//!   so a missing, zero or over-100 `page_size` is a 499 with no body here;
//! - `parent=schemas/<catalog>.<schema>` scopes it to one schema (ucode: "the only server-side
//!   narrowing that works"); a schema that does not exist is a 404 (ucode's
//!   `model_service_exists` reads a 404 as "the catalog or schema doesn't exist"). Without
//!   `parent` the whole metastore is listed: here that is `system.ai` alone.
//!
//! Assumptions (no public source shows them): the 404 body for a missing schema
//! (`RESOURCE_DOES_NOT_EXIST`, "Schema '<name>' does not exist.", as other Unity Catalog APIs
//! word it), the entries carrying no field besides `name`, and the listing existing only where
//! AI Gateway does (ucode probes "AI Gateway v3" with this listing, `_probe_ai_gateway_v3`).
//! Where it does not ([`crate::DevstackOptions::model_services`] off, or no AI Gateway), the
//! path is unknown: 404 `ENDPOINT_NOT_FOUND`, as for any path the workspace does not serve.
//!
//! Authentication: the workspace token in `Authorization: Bearer` (`all-apis` or
//! `unity-catalog`), like every REST API here.

use std::collections::HashMap;

use axum::Extension;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::errors::databricks_error;
use crate::faults::Skew;
use crate::workspace_state::{WsState, authenticate};

/// The listing's path.
pub(crate) const PATH: &str = "/api/2.1/unity-catalog/model-services";
/// The largest page the listing answers.
const MAX_PAGE_SIZE: usize = 100;
/// The schema of Databricks' foundation models.
const SYSTEM_AI: &str = "system.ai";

/// The Unity Catalog name of a served endpoint (`databricks-claude-…` → `system.ai.claude-…`).
pub(crate) fn uc_name(endpoint: &str) -> Option<String> {
    endpoint.strip_prefix("databricks-").map(|rest| format!("{SYSTEM_AI}.{rest}"))
}

/// The served endpoint among `served` that a request's `model` names: the endpoint name
/// (`databricks-claude-sonnet-4-5`) or its Unity Catalog name (`system.ai.claude-sonnet-4-5`),
/// both of which AI Gateway routes by.
pub(crate) fn named<'a, S: AsRef<str>>(served: &'a [S], model: &str) -> Option<&'a str> {
    served.iter().map(AsRef::as_ref).find(|m| *m == model || uc_name(m).as_deref() == Some(model))
}

fn invalid(message: &str) -> Response {
    databricks_error(StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE", message)
}

/// `GET /api/2.1/unity-catalog/model-services`.
pub(crate) async fn list(
    State(st): State<WsState>,
    Extension(skew): Extension<Skew>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if !(st.shared.ai_gateway && st.shared.model_services) {
        return databricks_error(
            StatusCode::NOT_FOUND,
            "ENDPOINT_NOT_FOUND",
            &format!("No API found for '{PATH}'"),
        );
    }
    if let Err(refusal) = authenticate(&st, &headers, skew, &["unity-catalog"]) {
        return refusal.into_response();
    }
    let page_size = match q.get("page_size").map(|s| s.parse::<usize>()) {
        Some(Ok(n)) if (1..=MAX_PAGE_SIZE).contains(&n) => n,
        Some(Err(_)) => return invalid("page_size must be a positive integer."),
        _ => return StatusCode::from_u16(499).expect("499 is a status").into_response(),
    };
    if let Some(parent) = q.get("parent") {
        let Some(schema) = parent.strip_prefix("schemas/").filter(|s| s.split('.').count() == 2) else {
            return invalid("parent must be of the form schemas/<catalog>.<schema>.");
        };
        if schema != SYSTEM_AI {
            return databricks_error(
                StatusCode::NOT_FOUND,
                "RESOURCE_DOES_NOT_EXIST",
                &format!("Schema '{schema}' does not exist."),
            );
        }
    }
    let gemini = crate::gemini::GEMINI_MODELS.iter().map(|m| m.to_string());
    let served = st.shared.claude_models.iter().chain(&st.shared.openai_models).cloned().chain(gemini);
    let names: Vec<String> = served.filter_map(|m| uc_name(&m)).collect();
    let start = match q.get("page_token") {
        None => 0,
        Some(t) => match page_offset(t) {
            Some(n) if n <= names.len() => n,
            _ => return invalid("page_token is not valid."),
        },
    };
    let end = (start + page_size).min(names.len());
    let services: Vec<Value> =
        names[start..end].iter().map(|n| json!({ "name": format!("model-services/{n}") })).collect();
    let mut body = json!({ "model_services": services });
    if end < names.len() {
        body["next_page_token"] = Value::from(page_token(end));
    }
    axum::Json(body).into_response()
}

/// An opaque-looking page token for the listing's offset `n`.
fn page_token(n: usize) -> String {
    format!("ms1.{n:08x}")
}

fn page_offset(token: &str) -> Option<usize> {
    usize::from_str_radix(token.strip_prefix("ms1.")?, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_tokens_round_trip_and_strangers_are_refused() {
        assert_eq!(page_offset(&page_token(42)), Some(42));
        assert_eq!(page_offset("42"), None);
        assert_eq!(uc_name("databricks-claude-opus-4-6").as_deref(), Some("system.ai.claude-opus-4-6"));
        assert_eq!(uc_name("my-endpoint"), None);
    }
}
