//! The account's state and the check every account API makes: its federation policies, service
//! principals, users and minted tokens ([`Account`]), the [`Devstack`] methods that set them up, and
//! [`admin`], which lets only the account admin act on this account.
//!
//! It sits below the accounts listener's modules: `account_auth` (the listener: its router and
//! token endpoint), `account` (policy routes) and `scim` (service-principal routes) all read this
//! state, while only `account_auth` assembles their routes. Keeping the state and the guard here,
//! importing none of them, keeps the imports between those files free of loops.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::{Deserialize, Serialize};

use crate::errors::{bearer, databricks_error};
use crate::faults::Skew;
use crate::{Devstack, FederationPolicy, Shared, fingerprint};

/// `oidc_policy` as Databricks spells it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct OidcPolicy {
    pub(crate) issuer: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) audiences: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) subject_claim: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) jwks_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) jwks_json: Option<String>,
}

/// A federation policy as the account keeps it.
#[derive(Debug, Clone)]
pub(crate) struct StoredPolicy {
    pub(crate) policy_id: String,
    pub(crate) uid: String,
    /// The numeric id of the service principal it belongs to.
    pub(crate) service_principal: Option<u64>,
    pub(crate) description: Option<String>,
    pub(crate) oidc: OidcPolicy,
    pub(crate) created: i64,
}

/// One service principal of the account.
#[derive(Debug, Clone)]
pub(crate) struct ServicePrincipal {
    pub(crate) id: u64,
    pub(crate) application_id: String,
    pub(crate) display_name: String,
}

/// The account: its federation policies, service principals, users, the tokens its token
/// endpoint minted, and the page size of its lists.
///
/// Users: Databricks maps an exchanged token's subject to an existing account user (the
/// account-wide federation docs: the subject claim must match the user's Databricks user name,
/// and users come into the account through SCIM provisioning or the account console), so an
/// exchange for a subject with no user fails. The devstack's own IdP provisions each user it
/// signs in, as an IdP's SCIM provisioning would; anyone else is added through SCIM `Users`,
/// [`Devstack::add_account_user`] or `POST /_devstack/users`.
pub(crate) struct Account {
    policies: Mutex<Vec<StoredPolicy>>,
    service_principals: Mutex<Vec<ServicePrincipal>>,
    /// User names, lowercase (Databricks user names are emails, matched without case).
    users: Mutex<std::collections::BTreeSet<String>>,
    pub(crate) tokens: Mutex<HashMap<String, i64>>,
    pub(crate) page_size: AtomicUsize,
}

/// The first numeric service principal id handed out (real ones are 15-16 digits too).
const FIRST_SP_ID: u64 = 4_100_000_000_000_001;

impl Account {
    /// An account whose first service principal is the devstack's own (the account admin).
    pub(crate) fn new(admin_application_id: &str) -> Self {
        Account {
            policies: Mutex::default(),
            service_principals: Mutex::new(vec![ServicePrincipal {
                id: FIRST_SP_ID,
                application_id: admin_application_id.to_owned(),
                display_name: "lakepass-devstack-sp".into(),
            }]),
            users: Mutex::default(),
            tokens: Mutex::default(),
            page_size: AtomicUsize::new(2),
        }
    }

    /// Every policy, in the shape the exchange verifier checks (a service principal's policy
    /// names its application id, which is what an exchange's `client_id` carries).
    pub(crate) fn federation_policies(&self) -> Vec<FederationPolicy> {
        let sps = self.service_principals();
        self.lock()
            .iter()
            .map(|p| FederationPolicy {
                issuer: p.oidc.issuer.clone().unwrap_or_default(),
                audiences: p.oidc.audiences.clone(),
                subject_claim: p.oidc.subject_claim.clone().unwrap_or_else(|| "sub".into()),
                subject: p.oidc.subject.clone(),
                service_principal_client_id: p
                    .service_principal
                    .and_then(|id| sps.iter().find(|s| s.id == id).map(|s| s.application_id.clone())),
            })
            .collect()
    }

    /// Adds user `user_name` (a no-op for one already there).
    pub(crate) fn add_user(&self, user_name: &str) {
        self.users.lock().expect("users poisoned").insert(user_name.to_lowercase());
    }

    /// Removes user `user_name`; whether it was there.
    pub(crate) fn remove_user(&self, user_name: &str) -> bool {
        self.users.lock().expect("users poisoned").remove(&user_name.to_lowercase())
    }

    /// Whether the account has user `user_name`.
    pub(crate) fn has_user(&self, user_name: &str) -> bool {
        self.users.lock().expect("users poisoned").contains(&user_name.to_lowercase())
    }

    /// Every user name, sorted.
    pub(crate) fn users(&self) -> Vec<String> {
        self.users.lock().expect("users poisoned").iter().cloned().collect()
    }

    pub(crate) fn service_principals(&self) -> Vec<ServicePrincipal> {
        self.service_principals.lock().expect("service principals poisoned").clone()
    }

    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, Vec<StoredPolicy>> {
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

    /// Adds a service principal with application id `application_id` to the account (its SCIM
    /// API lists it) and returns its numeric id; the same id again for one already there.
    pub fn add_service_principal(&self, application_id: &str) -> u64 {
        let mut sps = self.shared.account.service_principals.lock().expect("service principals poisoned");
        if let Some(sp) = sps.iter().find(|s| s.application_id == application_id) {
            return sp.id;
        }
        let id = FIRST_SP_ID + sps.len() as u64;
        sps.push(ServicePrincipal {
            id,
            application_id: application_id.to_owned(),
            display_name: format!("sp-{application_id}"),
        });
        id
    }

    /// Adds account user `user_name`, so a token exchange for that subject finds a user.
    pub fn add_account_user(&self, user_name: &str) {
        self.shared.account.add_user(user_name);
    }

    /// Removes account user `user_name` (whether it was there): exchanges for that subject then
    /// fail as they do on Databricks for a subject with no user.
    pub fn remove_account_user(&self, user_name: &str) -> bool {
        self.shared.account.remove_user(user_name)
    }

    /// The account's user names, sorted.
    pub fn account_users(&self) -> Vec<String> {
        self.shared.account.users()
    }

    /// How many items a page of the account's lists holds at most (default 2, at least 1).
    pub fn set_page_size(&self, n: usize) {
        self.shared.account.page_size.store(n.max(1), Ordering::SeqCst);
    }
}

/// Checks the caller is the account admin and the path names this account.
pub(crate) fn admin(
    st: &Shared,
    headers: &HeaderMap,
    skew: Skew,
    account_id: &str,
) -> Result<(), Box<Response>> {
    authenticate(st, headers, skew)?;
    if account_id != st.info.account_id {
        return Err(Box::new(databricks_error(
            StatusCode::NOT_FOUND,
            "RESOURCE_DOES_NOT_EXIST",
            &format!("Account {account_id} does not exist"),
        )));
    }
    Ok(())
}

/// Checks the bearer token is one this account's token endpoint minted and still valid (only
/// the account admin gets those).
pub(crate) fn authenticate(st: &Shared, headers: &HeaderMap, skew: Skew) -> Result<(), Box<Response>> {
    let refuse =
        |message: &str| Err(Box::new(databricks_error(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", message)));
    let Some(token) = bearer(headers) else {
        return refuse("Credential was not sent or was of an unsupported type for this API.");
    };
    let valid = st
        .account
        .tokens
        .lock()
        .expect("account tokens poisoned")
        .get(&fingerprint(token))
        .is_some_and(|exp| *exp > skew.now());
    if !valid {
        return refuse("Invalid access token: not an account token, or expired.");
    }
    Ok(())
}
