//! The account SCIM API's service principals and users, as far as Lakepass needs them: looking
//! a service principal up by application id to learn the numeric id the federation-policy paths
//! take, and the users a token exchange maps subjects to.
//!
//! `GET /api/2.0/accounts/{account_id}/scim/v2/Users` (optional `filter=userName eq "<name>"`)
//! lists them as a SCIM ListResponse of `{id, userName, active}`; `POST` with
//! `{"userName": "…"}` adds one (201), as databricks-sdk-py `service/iam.py`
//! `AccountUsersAPI.list` / `create` send and read them.
//!
//! `GET /api/2.0/accounts/{account_id}/scim/v2/ServicePrincipals` with an optional
//! `filter=applicationId eq "<uuid>"` (the only filter understood; `id eq "<id>"` too), answered
//! as a SCIM ListResponse (`schemas`, `totalResults`, `startIndex`, `itemsPerPage`,
//! `Resources[]` of `{id, applicationId, displayName, active}`), as databricks-sdk-py
//! `service/iam.py` `AccountServicePrincipalsAPI.list` / `ListAccountServicePrincipalsResponse`
//! read it. The id is a string holding digits, as SCIM ids are strings.

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::Shared;
use crate::account_state::admin;
use crate::errors::databricks_error;
use crate::faults::Skew;

/// The SCIM routes of the accounts listener.
pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/api/2.0/accounts/{account_id}/scim/v2/ServicePrincipals", get(list))
        .route("/api/2.0/accounts/{account_id}/scim/v2/Users", get(list_users).post(create_user))
}

fn user_json(user_name: &str) -> Value {
    let id = u64::from_str_radix(&crate::fingerprint(user_name)[..13], 16).unwrap_or(1);
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": id.to_string(),
        "userName": user_name,
        "active": true,
    })
}

async fn list_users(
    State(st): State<Arc<Shared>>,
    Extension(skew): Extension<Skew>,
    Path(account_id): Path<String>,
    Query(q): Query<ListQuery>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = admin(&st, &headers, skew, &account_id) {
        return *r;
    }
    let wanted = match q.filter.as_deref().map(str::trim).filter(|f| !f.is_empty()) {
        None => None,
        Some(f) => match user_filter(f) {
            Some(v) => Some(v.to_lowercase()),
            None => {
                return databricks_error(
                    StatusCode::BAD_REQUEST,
                    "INVALID_PARAMETER_VALUE",
                    &format!("Unsupported filter: {f}"),
                );
            }
        },
    };
    let resources: Vec<Value> = st
        .account
        .users()
        .iter()
        .filter(|u| wanted.as_deref().is_none_or(|w| w == u.as_str()))
        .map(|u| user_json(u))
        .collect();
    Json(json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": resources.len(),
        "startIndex": 1,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    }))
    .into_response()
}

/// The value of a `userName eq "…"` filter, the only one understood for users.
fn user_filter(filter: &str) -> Option<&str> {
    let (attr, rest) = filter.trim().split_once(char::is_whitespace)?;
    let (op, value) = rest.trim().split_once(char::is_whitespace)?;
    (attr == "userName" && op.eq_ignore_ascii_case("eq"))
        .then(|| value.trim().strip_prefix('"')?.strip_suffix('"'))
        .flatten()
}

async fn create_user(
    State(st): State<Arc<Shared>>,
    Extension(skew): Extension<Skew>,
    Path(account_id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if let Err(r) = admin(&st, &headers, skew, &account_id) {
        return *r;
    }
    let name = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v.get("userName").and_then(Value::as_str).map(str::to_owned))
        .filter(|n| !n.trim().is_empty());
    let Some(name) = name else {
        return databricks_error(StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE", "userName is required");
    };
    if st.account.has_user(&name) {
        return databricks_error(
            StatusCode::CONFLICT,
            "RESOURCE_CONFLICT",
            &format!("User with username {name} already exists."),
        );
    }
    st.account.add_user(&name);
    (StatusCode::CREATED, Json(user_json(&name.to_lowercase()))).into_response()
}

#[derive(Deserialize)]
struct ListQuery {
    filter: Option<String>,
}

/// `attr eq "value"` of a SCIM filter (RFC 7644 §3.4.2.2), for the attributes understood.
fn parse_filter(filter: &str) -> Option<(&str, &str)> {
    let (attr, rest) = filter.trim().split_once(char::is_whitespace)?;
    let (op, value) = rest.trim().split_once(char::is_whitespace)?;
    if !op.eq_ignore_ascii_case("eq") {
        return None;
    }
    let value = value.trim().strip_prefix('"')?.strip_suffix('"')?;
    ["applicationId", "id"].contains(&attr).then_some((attr, value))
}

async fn list(
    State(st): State<Arc<Shared>>,
    Extension(skew): Extension<Skew>,
    Path(account_id): Path<String>,
    Query(q): Query<ListQuery>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = admin(&st, &headers, skew, &account_id) {
        return *r;
    }
    let filter = match q.filter.as_deref().map(str::trim).filter(|f| !f.is_empty()) {
        None => None,
        Some(f) => match parse_filter(f) {
            Some(x) => Some(x),
            None => {
                return databricks_error(
                    StatusCode::BAD_REQUEST,
                    "INVALID_PARAMETER_VALUE",
                    &format!("Unsupported filter: {f}"),
                );
            }
        },
    };
    let resources: Vec<Value> = st
        .account
        .service_principals()
        .into_iter()
        .filter(|sp| match filter {
            Some(("applicationId", v)) => sp.application_id == v,
            Some((_, v)) => sp.id.to_string() == v,
            None => true,
        })
        .map(|sp| {
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServicePrincipal"],
                "id": sp.id.to_string(),
                "applicationId": sp.application_id,
                "displayName": sp.display_name,
                "active": true,
            })
        })
        .collect();
    Json(json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": resources.len(),
        "startIndex": 1,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    }))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::parse_filter;

    #[test]
    fn reads_an_eq_filter_and_nothing_else() {
        assert_eq!(parse_filter("applicationId eq \"a-1\""), Some(("applicationId", "a-1")));
        assert_eq!(parse_filter("id EQ \"7\""), Some(("id", "7")));
        assert_eq!(parse_filter("displayName eq \"x\""), None);
        assert_eq!(parse_filter("applicationId co \"a\""), None);
        assert_eq!(parse_filter("applicationId eq a"), None);
        assert_eq!(super::user_filter("userName eq \"a@x\""), Some("a@x"));
        assert_eq!(super::user_filter("displayName eq \"a\""), None);
    }
}
