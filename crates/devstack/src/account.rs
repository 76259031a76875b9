//! The account API slice Lakepass's admin commands use — account federation policies and
//! service-principal federation policies — served on the devstack's own accounts listener (as
//! Databricks serves them on `accounts.cloud.databricks.com`, not on workspace hosts), kept in
//! memory and enforced by every workspace's token exchange.
//!
//! Routes (see `account_auth` for the token endpoint and `scim` for the service principals):
//! - `POST|GET /api/2.0/accounts/{account_id}/federationPolicies` (create with optional
//!   `?policy_id=`; list, paged), `GET|DELETE …/federationPolicies/{policy_id}`
//! - the same under `/api/2.0/accounts/{account_id}/servicePrincipals/{service_principal_id}/…`
//!
//! Shapes follow databricks-sdk-py `service/oauth2.py`: the service principal in the path is its
//! numeric id (int64) — an application id there is refused as the API refuses a malformed
//! parameter, `400 INVALID_PARAMETER_VALUE`; `oidc_policy` has `issuer`, `audiences`,
//! `subject_claim`, `subject` (required on a service principal's policy, refused on the
//! account's), `jwks_uri` and `jwks_json` (the keys the exchange then verifies with, instead of
//! the issuer's discovery); answers add `name`, `policy_id`, `uid`, `create_time`,
//! `update_time` (and `service_principal_id`). Lists answer at most [`crate::Devstack::set_page_size`]
//! policies (default 2) and a `next_page_token` for the rest, as `page_token` takes it back.
//!
//! Only the account admin may call them: the devstack's service principal, with a token from the
//! account's own token endpoint (`account_auth`; the check is `account_state::admin`); any other token, a workspace's included, is
//! 401 `UNAUTHENTICATED` here. A malformed policy id is refused in Databricks' words
//! (terraform-provider-databricks#5290). Policies take effect at once: the exchange checks a
//! workspace's own policies plus these.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::Shared;
use crate::account_state::{OidcPolicy, StoredPolicy, admin};
use crate::errors::databricks_error;
use crate::faults::Skew;
use crate::keys::random_uuid;

#[derive(Debug, Clone, Deserialize)]
struct NewPolicy {
    #[serde(default)]
    description: Option<String>,
    oidc_policy: Option<OidcPolicy>,
}

/// The federation-policy routes of the accounts listener.
pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/api/2.0/accounts/{account_id}/federationPolicies", get(list_account).post(create_account))
        .route(
            "/api/2.0/accounts/{account_id}/federationPolicies/{policy_id}",
            get(get_account).delete(delete_account),
        )
        .route(
            "/api/2.0/accounts/{account_id}/servicePrincipals/{sp}/federationPolicies",
            get(list_sp).post(create_sp),
        )
        .route(
            "/api/2.0/accounts/{account_id}/servicePrincipals/{sp}/federationPolicies/{policy_id}",
            get(get_sp).delete(delete_sp),
        )
}

/// The numeric id in a path, or the API's refusal of a malformed parameter.
fn sp_id(st: &Shared, raw: &str) -> Result<u64, Box<Response>> {
    let Ok(id) = raw.parse::<u64>() else {
        // Worded like the API's refusal of a malformed policy id (see `create`).
        return Err(Box::new(invalid(&format!(
            "Invalid service principal id: '{raw}'. Must be the numeric id, not the application id."
        ))));
    };
    if !st.account.service_principals().iter().any(|s| s.id == id) {
        return Err(Box::new(databricks_error(
            StatusCode::NOT_FOUND,
            "RESOURCE_DOES_NOT_EXIST",
            &format!("Service principal {id} does not exist"),
        )));
    }
    Ok(id)
}

fn render(st: &Shared, p: &StoredPolicy) -> Value {
    let account = &st.info.account_id;
    let name = match &p.service_principal {
        Some(sp) => format!("accounts/{account}/servicePrincipals/{sp}/federationPolicies/{}", p.policy_id),
        None => format!("accounts/{account}/federationPolicies/{}", p.policy_id),
    };
    let time = rfc3339(p.created);
    let mut v = json!({
        "name": name,
        "policy_id": p.policy_id,
        "uid": p.uid,
        "oidc_policy": p.oidc,
        "create_time": time,
        "update_time": time,
    });
    if let Some(d) = &p.description {
        v["description"] = Value::from(d.as_str());
    }
    if let Some(sp) = p.service_principal {
        v["service_principal_id"] = Value::from(sp);
    }
    v
}

fn rfc3339(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| d.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

fn invalid(message: &str) -> Response {
    databricks_error(StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE", message)
}

#[derive(Deserialize)]
struct CreateQuery {
    policy_id: Option<String>,
}

#[derive(Deserialize)]
struct ListQuery {
    page_size: Option<usize>,
    page_token: Option<String>,
}

/// Checks a new policy as Databricks does (the refusal's message when not); fills in the
/// defaults.
fn validate(
    new: NewPolicy,
    account_id: &str,
    for_sp: bool,
) -> Result<(OidcPolicy, Option<String>), &'static str> {
    let Some(mut oidc) = new.oidc_policy else {
        return Err("oidc_policy is required");
    };
    if oidc.issuer.as_deref().is_none_or(str::is_empty) {
        return Err("oidc_policy.issuer is required");
    }
    match (for_sp, oidc.subject.as_deref().is_some_and(|s| !s.is_empty())) {
        (true, false) => {
            return Err("oidc_policy.subject is required for a service principal federation policy");
        }
        (false, true) => {
            return Err("oidc_policy.subject must not be specified for an account federation policy");
        }
        _ => {}
    }
    if let Some(j) = &oidc.jwks_json
        && crate::exchange::parse_jwks(j).is_none()
    {
        return Err("oidc_policy.jwks_json is not a JWKS with a usable signing key");
    }
    if let Some(u) = &oidc.jwks_uri
        && url::Url::parse(u).is_err()
    {
        return Err("oidc_policy.jwks_uri is not a URL");
    }
    if oidc.audiences.is_empty() {
        oidc.audiences = vec![account_id.to_owned()];
    }
    Ok((oidc, new.description))
}

fn create(
    st: &Shared,
    skew: Skew,
    sp: Option<u64>,
    account_id: &str,
    policy_id: Option<String>,
    body: &[u8],
) -> Response {
    let new: NewPolicy = match serde_json::from_slice(body) {
        Ok(p) => p,
        Err(e) => return invalid(&format!("Request body is not a federation policy: {e}")),
    };
    let (oidc, description) = match validate(new, account_id, sp.is_some()) {
        Ok(x) => x,
        Err(message) => return invalid(message),
    };
    // Databricks' own words (terraform-provider-databricks#5290).
    if let Some(id) = &policy_id
        && (id.is_empty() || !id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'))
    {
        return invalid(&format!(
            "Invalid federation policy id: '{id}'. Must contain only 0-9, a-z, and hyphen."
        ));
    }
    let mut policies = st.account.lock();
    let policy_id = policy_id.unwrap_or_else(random_uuid);
    if policies.iter().any(|p| p.policy_id == policy_id && p.service_principal == sp) {
        return databricks_error(
            StatusCode::CONFLICT,
            "RESOURCE_ALREADY_EXISTS",
            &format!("Federation policy {policy_id} already exists"),
        );
    }
    if let Some(issuer) = &oidc.issuer {
        st.verifier.pin(issuer, oidc.jwks_uri.clone(), oidc.jwks_json.clone());
    }
    let stored = StoredPolicy {
        policy_id,
        uid: random_uuid(),
        service_principal: sp,
        description,
        oidc,
        created: skew.now(),
    };
    let out = render(st, &stored);
    tracing::info!(policy = %stored.policy_id, issuer = ?stored.oidc.issuer, "devstack federation policy created");
    policies.push(stored);
    Json(out).into_response()
}

fn list(st: &Shared, sp: Option<u64>, q: &ListQuery) -> Response {
    let policies = st.account.lock();
    let matching: Vec<&StoredPolicy> = policies.iter().filter(|p| p.service_principal == sp).collect();
    let size =
        q.page_size.filter(|n| *n > 0).unwrap_or(usize::MAX).min(st.account.page_size.load(Ordering::SeqCst));
    let start = match q.page_token.as_deref() {
        None | Some("") => 0,
        Some(t) => match t.strip_prefix("page-").and_then(|n| n.parse::<usize>().ok()) {
            Some(n) if n <= matching.len() => n,
            _ => return invalid("page_token is not a token this API issued"),
        },
    };
    let end = (start + size).min(matching.len());
    let items: Vec<Value> = matching[start..end].iter().map(|p| render(st, p)).collect();
    let mut v = json!({ "policies": items });
    if end < matching.len() {
        v["next_page_token"] = Value::from(format!("page-{end}"));
    }
    Json(v).into_response()
}

fn not_found(policy_id: &str) -> Response {
    databricks_error(
        StatusCode::NOT_FOUND,
        "RESOURCE_DOES_NOT_EXIST",
        &format!("Federation policy {policy_id} does not exist"),
    )
}

fn get_one(st: &Shared, sp: Option<u64>, policy_id: &str) -> Response {
    let policies = st.account.lock();
    match policies.iter().find(|p| p.policy_id == policy_id && p.service_principal == sp) {
        Some(p) => Json(render(st, p)).into_response(),
        None => not_found(policy_id),
    }
}

fn delete(st: &Shared, sp: Option<u64>, policy_id: &str) -> Response {
    let mut policies = st.account.lock();
    let before = policies.len();
    policies.retain(|p| !(p.policy_id == policy_id && p.service_principal == sp));
    if policies.len() == before {
        return not_found(policy_id);
    }
    Json(json!({})).into_response()
}

/// Runs `f` for the admin, with the service principal of the path (if any) parsed.
fn guarded(
    st: &Shared,
    headers: &HeaderMap,
    skew: Skew,
    account_id: &str,
    sp: Option<&str>,
    f: impl FnOnce(Option<u64>) -> Response,
) -> Response {
    if let Err(r) = admin(st, headers, skew, account_id) {
        return *r;
    }
    match sp.map(|raw| sp_id(st, raw)).transpose() {
        Ok(id) => f(id),
        Err(r) => *r,
    }
}

async fn create_account(
    State(st): State<Arc<Shared>>,
    Extension(skew): Extension<Skew>,
    Path(account_id): Path<String>,
    Query(q): Query<CreateQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    guarded(&st, &headers, skew, &account_id, None, |sp| {
        create(&st, skew, sp, &account_id, q.policy_id, &body)
    })
}

async fn list_account(
    State(st): State<Arc<Shared>>,
    Extension(skew): Extension<Skew>,
    Path(account_id): Path<String>,
    Query(q): Query<ListQuery>,
    headers: HeaderMap,
) -> Response {
    guarded(&st, &headers, skew, &account_id, None, |sp| list(&st, sp, &q))
}

async fn get_account(
    State(st): State<Arc<Shared>>,
    Extension(skew): Extension<Skew>,
    Path((account_id, policy_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    guarded(&st, &headers, skew, &account_id, None, |sp| get_one(&st, sp, &policy_id))
}

async fn delete_account(
    State(st): State<Arc<Shared>>,
    Extension(skew): Extension<Skew>,
    Path((account_id, policy_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    guarded(&st, &headers, skew, &account_id, None, |sp| delete(&st, sp, &policy_id))
}

async fn create_sp(
    State(st): State<Arc<Shared>>,
    Extension(skew): Extension<Skew>,
    Path((account_id, raw)): Path<(String, String)>,
    Query(q): Query<CreateQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    guarded(&st, &headers, skew, &account_id, Some(&raw), |sp| {
        create(&st, skew, sp, &account_id, q.policy_id, &body)
    })
}

async fn list_sp(
    State(st): State<Arc<Shared>>,
    Extension(skew): Extension<Skew>,
    Path((account_id, raw)): Path<(String, String)>,
    Query(q): Query<ListQuery>,
    headers: HeaderMap,
) -> Response {
    guarded(&st, &headers, skew, &account_id, Some(&raw), |sp| list(&st, sp, &q))
}

async fn get_sp(
    State(st): State<Arc<Shared>>,
    Extension(skew): Extension<Skew>,
    Path((account_id, raw, policy_id)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    guarded(&st, &headers, skew, &account_id, Some(&raw), |sp| get_one(&st, sp, &policy_id))
}

async fn delete_sp(
    State(st): State<Arc<Shared>>,
    Extension(skew): Extension<Skew>,
    Path((account_id, raw, policy_id)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    guarded(&st, &headers, skew, &account_id, Some(&raw), |sp| delete(&st, sp, &policy_id))
}
