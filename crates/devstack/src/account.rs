//! The account API slice Lakepass's admin commands use: account federation policies and
//! service-principal federation policies, kept in memory and enforced by every workspace's
//! token exchange.
//!
//! Routes (on every workspace listener, since the devstack has no separate account console):
//! - `POST|GET /api/2.0/accounts/{account_id}/federationPolicies` (create with optional
//!   `?policy_id=`, list), `GET|DELETE …/federationPolicies/{policy_id}`
//! - the same under `/api/2.0/accounts/{account_id}/servicePrincipals/{sp_id}/federationPolicies`
//!
//! Bodies follow Databricks' `FederationPolicy`: `{"description", "oidc_policy": {"issuer",
//! "audiences", "subject_claim", "subject"}}`; answers add `name`, `policy_id`, `uid`,
//! `create_time`, `update_time` (and `service_principal_id`). As in Databricks, audiences
//! default to the account id and the subject claim to `sub`; a service-principal policy needs a
//! `subject`. One deliberate simplification: the `{sp_id}` in the path is the service
//! principal's *application id* (what the exchange's `client_id` names), not a numeric id.
//!
//! Only the account admin may call them: the devstack's service principal (M2M token). Others
//! get 403 `PERMISSION_DENIED`. Policies created here take effect at once: the exchange checks
//! a workspace's own policies plus these.

use std::sync::Mutex;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::errors::databricks_error;
use crate::faults::Skew;
use crate::keys::random_uuid;
use crate::workspace::{WsState, authenticate};
use crate::{Devstack, FederationPolicy};

/// `oidc_policy` as Databricks spells it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct OidcPolicy {
    issuer: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    audiences: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    subject_claim: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    jwks_json: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct NewPolicy {
    #[serde(default)]
    description: Option<String>,
    oidc_policy: Option<OidcPolicy>,
}

#[derive(Debug, Clone)]
struct StoredPolicy {
    policy_id: String,
    uid: String,
    service_principal: Option<String>,
    description: Option<String>,
    oidc: OidcPolicy,
    created: i64,
}

/// The account's federation policies.
#[derive(Default)]
pub(crate) struct Account {
    policies: Mutex<Vec<StoredPolicy>>,
}

impl Account {
    /// Every policy, in the shape the exchange verifier checks.
    pub(crate) fn federation_policies(&self) -> Vec<FederationPolicy> {
        self.lock()
            .iter()
            .map(|p| FederationPolicy {
                issuer: p.oidc.issuer.clone().unwrap_or_default(),
                audiences: p.oidc.audiences.clone(),
                subject_claim: p.oidc.subject_claim.clone().unwrap_or_else(|| "sub".into()),
                subject: p.oidc.subject.clone(),
                service_principal_client_id: p.service_principal.clone(),
            })
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<StoredPolicy>> {
        self.policies.lock().expect("account policies poisoned")
    }
}

impl Devstack {
    /// Replaces workspace `workspace`'s own federation policies (the default one included), e.g.
    /// to configure it wrong on purpose. Account policies still apply. False for an unknown name.
    pub fn set_federation_policies(&self, workspace: &str, policies: Vec<FederationPolicy>) -> bool {
        match self.shared.workspace(workspace) {
            Some(ws) => {
                *ws.policies.lock().expect("policies poisoned") = policies;
                true
            }
            None => false,
        }
    }

    /// The account federation policies created through the account API, as the verifier sees them.
    pub fn account_policies(&self) -> Vec<FederationPolicy> {
        self.shared.account.federation_policies()
    }
}

/// The account routes, mounted on each workspace router.
pub(crate) fn routes() -> Router<WsState> {
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

/// Checks the caller is the account admin and the path names this account.
fn admin(st: &WsState, headers: &HeaderMap, skew: Skew, account_id: &str) -> Result<(), Box<Response>> {
    let principal = authenticate(st, headers, skew, &[]).map_err(|r| Box::new(r.into_response()))?;
    if principal.user_name != st.shared.info.service_principal.client_id {
        return Err(Box::new(databricks_error(
            StatusCode::FORBIDDEN,
            "PERMISSION_DENIED",
            "Only account admins can manage federation policies (in the devstack: its service principal, via M2M)",
        )));
    }
    if account_id != st.shared.info.account_id {
        return Err(Box::new(databricks_error(
            StatusCode::NOT_FOUND,
            "RESOURCE_DOES_NOT_EXIST",
            &format!("Account {account_id} does not exist"),
        )));
    }
    Ok(())
}

fn render(st: &WsState, p: &StoredPolicy) -> Value {
    let account = &st.shared.info.account_id;
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
    if let Some(sp) = &p.service_principal {
        v["service_principal_id"] = Value::from(sp.as_str());
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

async fn create(
    st: WsState,
    skew: Skew,
    headers: HeaderMap,
    account_id: String,
    sp: Option<String>,
    policy_id: Option<String>,
    body: Bytes,
) -> Response {
    if let Err(r) = admin(&st, &headers, skew, &account_id) {
        return *r;
    }
    let new: NewPolicy = match serde_json::from_slice(&body) {
        Ok(p) => p,
        Err(e) => return invalid(&format!("Request body is not a federation policy: {e}")),
    };
    let Some(mut oidc) = new.oidc_policy else {
        return invalid("oidc_policy is required");
    };
    if oidc.issuer.as_deref().is_none_or(str::is_empty) {
        return invalid("oidc_policy.issuer is required");
    }
    if sp.is_some() && oidc.subject.as_deref().is_none_or(str::is_empty) {
        return invalid("oidc_policy.subject is required for a service principal federation policy");
    }
    if oidc.audiences.is_empty() {
        oidc.audiences = vec![account_id.clone()];
    }
    if let Some(id) = &policy_id
        && (id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
    {
        return invalid("policy_id may contain only letters, digits and '-'");
    }
    let mut policies = st.shared.account.lock();
    let policy_id = policy_id.unwrap_or_else(random_uuid);
    if policies.iter().any(|p| p.policy_id == policy_id && p.service_principal == sp) {
        return databricks_error(
            StatusCode::CONFLICT,
            "RESOURCE_ALREADY_EXISTS",
            &format!("Federation policy {policy_id} already exists"),
        );
    }
    let stored = StoredPolicy {
        policy_id,
        uid: random_uuid(),
        service_principal: sp,
        description: new.description,
        oidc,
        created: skew.now(),
    };
    let out = render(&st, &stored);
    tracing::info!(policy = %stored.policy_id, issuer = ?stored.oidc.issuer, "devstack federation policy created");
    policies.push(stored);
    Json(out).into_response()
}

fn list(st: &WsState, sp: Option<&str>) -> Response {
    let policies = st.shared.account.lock();
    let items: Vec<Value> =
        policies.iter().filter(|p| p.service_principal.as_deref() == sp).map(|p| render(st, p)).collect();
    Json(json!({ "policies": items })).into_response()
}

fn not_found(policy_id: &str) -> Response {
    databricks_error(
        StatusCode::NOT_FOUND,
        "RESOURCE_DOES_NOT_EXIST",
        &format!("Federation policy {policy_id} does not exist"),
    )
}

fn get_one(st: &WsState, sp: Option<&str>, policy_id: &str) -> Response {
    let policies = st.shared.account.lock();
    match policies.iter().find(|p| p.policy_id == policy_id && p.service_principal.as_deref() == sp) {
        Some(p) => Json(render(st, p)).into_response(),
        None => not_found(policy_id),
    }
}

fn delete(st: &WsState, sp: Option<&str>, policy_id: &str) -> Response {
    let mut policies = st.shared.account.lock();
    let before = policies.len();
    policies.retain(|p| !(p.policy_id == policy_id && p.service_principal.as_deref() == sp));
    if policies.len() == before {
        return not_found(policy_id);
    }
    Json(json!({})).into_response()
}

async fn create_account(
    State(st): State<WsState>,
    Extension(skew): Extension<Skew>,
    Path(account_id): Path<String>,
    Query(q): Query<CreateQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    create(st, skew, headers, account_id, None, q.policy_id, body).await
}

async fn list_account(
    State(st): State<WsState>,
    Extension(skew): Extension<Skew>,
    Path(account_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    match admin(&st, &headers, skew, &account_id) {
        Ok(()) => list(&st, None),
        Err(r) => *r,
    }
}

async fn get_account(
    State(st): State<WsState>,
    Extension(skew): Extension<Skew>,
    Path((account_id, policy_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    match admin(&st, &headers, skew, &account_id) {
        Ok(()) => get_one(&st, None, &policy_id),
        Err(r) => *r,
    }
}

async fn delete_account(
    State(st): State<WsState>,
    Extension(skew): Extension<Skew>,
    Path((account_id, policy_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    match admin(&st, &headers, skew, &account_id) {
        Ok(()) => delete(&st, None, &policy_id),
        Err(r) => *r,
    }
}

async fn create_sp(
    State(st): State<WsState>,
    Extension(skew): Extension<Skew>,
    Path((account_id, sp)): Path<(String, String)>,
    Query(q): Query<CreateQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    create(st, skew, headers, account_id, Some(sp), q.policy_id, body).await
}

async fn list_sp(
    State(st): State<WsState>,
    Extension(skew): Extension<Skew>,
    Path((account_id, sp)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    match admin(&st, &headers, skew, &account_id) {
        Ok(()) => list(&st, Some(&sp)),
        Err(r) => *r,
    }
}

async fn get_sp(
    State(st): State<WsState>,
    Extension(skew): Extension<Skew>,
    Path((account_id, sp, policy_id)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    match admin(&st, &headers, skew, &account_id) {
        Ok(()) => get_one(&st, Some(&sp), &policy_id),
        Err(r) => *r,
    }
}

async fn delete_sp(
    State(st): State<WsState>,
    Extension(skew): Extension<Skew>,
    Path((account_id, sp, policy_id)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    match admin(&st, &headers, skew, &account_id) {
        Ok(()) => delete(&st, Some(&sp), &policy_id),
        Err(r) => *r,
    }
}
