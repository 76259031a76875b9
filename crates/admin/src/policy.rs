//! Federation policies through the account API — account-wide ones (which IdP tokens the account
//! accepts for its users) and service principals' (workload identity) — and the SCIM lookup that
//! turns a service principal's application id into the numeric id those paths take.
//!
//! Shapes as in databricks-sdk-py `service/oauth2.py` (`AccountFederationPolicyAPI`,
//! `ServicePrincipalFederationPolicyAPI`, `OidcFederationPolicy`): the service principal in the
//! path is its numeric id (int64), not the application id an exchange names as `client_id`;
//! lists are paged (`page_size`, `page_token` → `next_page_token`); `subject` must be set on a
//! service-principal policy and must not be on an account policy; `jwks_uri`/`jwks_json` are
//! for IdPs whose keys Databricks cannot discover. The lookup is
//! `GET /api/2.0/accounts/{account_id}/scim/v2/ServicePrincipals?filter=applicationId eq "…"`
//! (`service/iam.py` `AccountServicePrincipalsAPI`), a SCIM ListResponse of `Resources`.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Account, AdminClient, AdminError, AdminRequest, Method};
use crate::presets;
use lakepass_config::{ExpectedPolicy, IdpConfig, Workspace};
use lakepass_doctor::KnownPolicy;
use lakepass_wire::secret::Secret;

/// A Databricks service principal's numeric id (what the account API paths take), as opposed
/// to its application id (a UUID, the `client_id` of an exchange).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ServicePrincipalId(pub u64);

impl std::fmt::Display for ServicePrincipalId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// An OIDC federation policy to create (Databricks `oidc_policy`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicySpec {
    /// The trusted issuer, exactly as in `iss`.
    pub issuer: String,
    /// Accepted audiences; empty means the account id (Databricks' default).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audiences: Vec<String>,
    /// The claim naming the user.
    pub subject_claim: String,
    /// The required subject (service-principal policies only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Where Databricks fetches the signing keys, instead of the issuer's discovery document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// The signing keys themselves (a JWKS as a JSON string), for an IdP Databricks cannot reach.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_json: Option<String>,
}

impl PolicySpec {
    /// The policy a configured IdP needs: its issuer, its client id as audience (an id_token's
    /// `aud`), and the subject claim that names users there.
    pub fn from_idp(idp: &IdpConfig) -> Self {
        PolicySpec {
            issuer: idp.issuer.clone(),
            audiences: vec![idp.client_id.clone()],
            subject_claim: presets::suggested_subject_claim(&idp.issuer).into(),
            ..Default::default()
        }
    }

    /// Refuses what Databricks refuses, before anything is sent: a subject on an account policy,
    /// none on a service principal's, both `jwks_uri` and `jwks_json`, a `jwks_uri` that is not
    /// https (http only on loopback), a `jwks_json` that is not a JWKS.
    pub fn check(&self, for_service_principal: bool) -> Result<(), AdminError> {
        let usage = |m: &str| Err(AdminError::Usage(m.into()));
        match (&self.subject, for_service_principal) {
            (Some(_), false) => {
                return usage(
                    "--subject is for service-principal federation policies; an account federation policy must not have one (it maps every user by the subject claim)",
                );
            }
            (None, true) => {
                return usage(
                    "a service-principal federation policy needs --subject (the value of the subject claim it accepts)",
                );
            }
            _ => {}
        }
        if self.jwks_uri.is_some() && self.jwks_json.is_some() {
            return usage("give --jwks-uri or --jwks-json, not both");
        }
        if let Some(u) = &self.jwks_uri {
            let ok = url::Url::parse(u).is_ok_and(|url| match url.scheme() {
                "https" => url.host_str().is_some(),
                "http" => lakepass_wire::host::WorkspaceHost::parse(&url.origin().ascii_serialization())
                    .is_ok_and(|h| h.is_loopback()),
                _ => false,
            });
            if !ok {
                return usage("--jwks-uri must be an https:// URL (plain http only on 127.0.0.1/localhost)");
            }
        }
        if let Some(j) = &self.jwks_json {
            let keys = serde_json::from_str::<Value>(j).ok().and_then(|v| v.get("keys").cloned());
            if keys.is_none_or(|k| k.as_array().is_none_or(|a| a.is_empty())) {
                return usage("--jwks-json must be a JWKS: a JSON object with a non-empty `keys` array");
            }
        }
        Ok(())
    }

    fn body(&self, description: Option<&str>) -> Value {
        let mut b = json!({ "oidc_policy": self });
        if let Some(d) = description {
            b["description"] = Value::from(d);
        }
        b
    }
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn policies_path(sp: Option<ServicePrincipalId>) -> String {
    match sp {
        Some(id) => format!("/servicePrincipals/{id}/federationPolicies"),
        None => "/federationPolicies".into(),
    }
}

/// `POST /api/2.0/accounts/{account_id}/federationPolicies` (or a service principal's), after
/// [`PolicySpec::check`].
pub fn create_policy(
    a: &Account,
    sp: Option<ServicePrincipalId>,
    spec: &PolicySpec,
    policy_id: Option<&str>,
    description: Option<&str>,
) -> Result<AdminRequest, AdminError> {
    spec.check(sp.is_some())?;
    let mut url = a.url(&policies_path(sp));
    if let Some(id) = policy_id {
        url.push_str(&format!("?policy_id={}", enc(id)));
    }
    Ok(AdminRequest::new(Method::Post, url, Some(spec.body(description))))
}

/// `GET …/federationPolicies`: the first page.
pub fn list_policies(a: &Account, sp: Option<ServicePrincipalId>) -> AdminRequest {
    list_policies_page(a, sp, None)
}

/// `GET …/federationPolicies?page_token=…`: the page a `next_page_token` named.
pub fn list_policies_page(
    a: &Account,
    sp: Option<ServicePrincipalId>,
    page_token: Option<&str>,
) -> AdminRequest {
    let mut url = a.url(&policies_path(sp));
    if let Some(t) = page_token {
        url.push_str(&format!("?page_token={}", enc(t)));
    }
    AdminRequest::new(Method::Get, url, None)
}

/// `DELETE …/federationPolicies/{policy_id}`.
pub fn delete_policy(a: &Account, sp: Option<ServicePrincipalId>, policy_id: &str) -> AdminRequest {
    AdminRequest::new(Method::Delete, a.url(&format!("{}/{}", policies_path(sp), enc(policy_id))), None)
}

/// At most this many pages are followed: a server that always answers a `next_page_token`
/// must not keep the client busy forever.
const MAX_PAGES: usize = 1000;

/// Every policy of the account (or of service principal `sp`), following `next_page_token`.
pub async fn send_all_pages(
    client: &AdminClient,
    a: &Account,
    sp: Option<ServicePrincipalId>,
    token: &Secret,
) -> Result<Vec<Value>, AdminError> {
    let mut all = Vec::new();
    let mut next: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let v = client.send(&list_policies_page(a, sp, next.as_deref()), token).await?;
        all.extend(v.get("policies").and_then(Value::as_array).into_iter().flatten().cloned());
        match v.get("next_page_token").and_then(Value::as_str).filter(|t| !t.is_empty()) {
            Some(t) if Some(t) != next.as_deref() => next = Some(t.to_string()),
            _ => return Ok(all),
        }
    }
    Ok(all)
}

/// `GET /api/2.0/accounts/{account_id}/scim/v2/ServicePrincipals?filter=applicationId eq "…"`.
pub fn find_service_principal(a: &Account, application_id: &str) -> AdminRequest {
    let filter = format!("applicationId eq \"{application_id}\"");
    AdminRequest::new(
        Method::Get,
        a.url(&format!("/scim/v2/ServicePrincipals?filter={}", enc(&filter))),
        None,
    )
}

/// The numeric id of the service principal whose application id is `application_id`.
pub async fn resolve_service_principal(
    client: &AdminClient,
    a: &Account,
    application_id: &str,
    token: &Secret,
) -> Result<ServicePrincipalId, AdminError> {
    let v = client.send(&find_service_principal(a, application_id), token).await?;
    let found = v
        .get("Resources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|r| r.get("applicationId").and_then(Value::as_str) == Some(application_id))
        .and_then(|r| r.get("id").and_then(Value::as_str).and_then(|id| id.parse().ok()));
    found
        .map(ServicePrincipalId)
        .ok_or_else(|| AdminError::UnknownServicePrincipal { application_id: application_id.into() })
}

/// The policies [`policies_for`] found, and what it could not look up (each a sentence for
/// the doctor to show while it goes on with what it has).
#[derive(Debug, Default)]
pub struct FetchedPolicies {
    /// The policies found.
    pub policies: Vec<KnownPolicy>,
    /// Lookups that failed.
    pub failures: Vec<String>,
    /// Whether the account's own policies were listed.
    pub account_listed: bool,
}

fn known(p: &Value, service_principal: Option<&str>) -> Option<KnownPolicy> {
    let o = p.get("oidc_policy")?;
    let s = |k: &str| o.get(k).and_then(Value::as_str).map(String::from);
    Some(KnownPolicy {
        policy: ExpectedPolicy {
            issuer: s("issuer").unwrap_or_default(),
            audiences: o
                .get("audiences")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(|x| x.as_str().map(String::from)).collect())
                .unwrap_or_default(),
            subject_claim: s("subject_claim").unwrap_or_else(|| "sub".into()),
            subject: s("subject"),
        },
        source: format!("account policy {}", p.get("policy_id").and_then(Value::as_str).unwrap_or("?")),
        service_principal: service_principal.map(String::from),
        jwks_uri: s("jwks_uri"),
        jwks_json: s("jwks_json"),
    })
}

/// The federation policies that concern `ws`: the account's, and those of the service
/// principals its config names (looked up by application id). A failed lookup is kept in
/// [`FetchedPolicies::failures`] and the rest still fetched.
pub async fn policies_for(
    client: &AdminClient,
    account: &Account,
    ws: &Workspace,
    token: &Secret,
) -> FetchedPolicies {
    let mut out = FetchedPolicies::default();
    match send_all_pages(client, account, None, token).await {
        Ok(ps) => {
            out.account_listed = true;
            out.policies.extend(ps.iter().filter_map(|p| known(p, None)));
        }
        Err(e) => out.failures.push(format!("the account's federation policies: {e}")),
    }
    let mut apps: Vec<String> = ws.client_id.iter().cloned().collect();
    if let Some(r) = &ws.roles {
        apps.extend(r.map.values().cloned());
    }
    apps.sort();
    apps.dedup();
    for app in apps {
        let listed = async {
            let id = resolve_service_principal(client, account, &app, token).await?;
            send_all_pages(client, account, Some(id), token).await
        };
        match listed.await {
            Ok(ps) => out.policies.extend(ps.iter().filter_map(|p| known(p, Some(&app)))),
            Err(e) => out.failures.push(format!("service principal `{app}`: {e}")),
        }
    }
    out
}
