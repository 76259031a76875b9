//! Service principals: which one a workspace's exchange names, and the M2M secret of one.
//!
//! Partner portals and shared analytics set-ups federate users *as a service principal*: the
//! IdP puts the user's roles (or groups) in a claim, and the role picks which SP's `client_id`
//! the token exchange names (service-principal federation). The table lives in config
//! (`[workspace.x.roles]`); this module reads the claim from the IdP JWT and picks the SP, and
//! says exactly what was found when nothing matches — a silent fallback to the user's own
//! identity would hand out the wrong permissions.
//!
//! M2M workspaces (`auth = "m2m"`) authenticate with the SP's own client secret. The secret is
//! entered by prompt or stdin and kept only in the vault, under a key naming the workspace host
//! and the SP, so it is never in the config file, argv or logs.

use crate::store::{Store, StoreError};
use lakepass_config::{Workspace, WorkspaceAuth};
use lakepass_wire::jwt::{self, JwtError, UnverifiedJwt};
use lakepass_wire::secret::Secret;

/// Why no service principal could be chosen.
#[derive(Debug, thiserror::Error)]
pub enum RoleError {
    /// The user's role claim has no value the config maps.
    #[error(
        "workspace `{workspace}` maps the `{claim}` claim of your IdP token to service principals, \
         but your token's `{claim}` is {}, and none of that is mapped (mapped roles: {}). Ask your \
         IdP administrator to assign you one of the mapped roles, or add yours under \
         [workspace.{workspace}.roles.map] in the config",
        show(found),
        show(mapped)
    )]
    NoMappedRole {
        /// The workspace.
        workspace: String,
        /// The claim looked at.
        claim: String,
        /// Its values in the token (may be empty: claim missing).
        found: Vec<String>,
        /// The roles the config maps.
        mapped: Vec<String>,
    },
    /// The IdP token is not a readable JWT.
    #[error("cannot read the role claim: the IdP token is not a readable JWT: {0}")]
    Jwt(#[from] JwtError),
}

fn show(values: &[String]) -> String {
    if values.is_empty() {
        "empty or missing".into()
    } else {
        values.iter().map(|v| format!("`{v}`")).collect::<Vec<_>>().join(", ")
    }
}

/// A claim's values: a string is one value, a list gives its strings.
pub(crate) fn claim_values(jwt: &UnverifiedJwt, claim: &str) -> Vec<String> {
    match jwt.claims.get(claim) {
        Some(serde_json::Value::String(s)) => vec![s.clone()],
        Some(serde_json::Value::Array(a)) => a.iter().filter_map(|v| v.as_str().map(String::from)).collect(),
        _ => Vec::new(),
    }
}

/// The service principal `client_id` the exchange for `ws` names: the configured `client_id`,
/// or with role mapping the SP of the first claim value (in token order) that is mapped.
pub fn pick_client_id(ws: &Workspace, subject_token: &str) -> Result<Option<String>, RoleError> {
    let Some(roles) = &ws.roles else {
        return Ok(ws.client_id.clone());
    };
    let jwt = jwt::decode_unverified(subject_token)?;
    let found = claim_values(&jwt, &roles.claim);
    match found.iter().find_map(|v| roles.map.get(v)) {
        Some(sp) => Ok(Some(sp.clone())),
        None => Err(RoleError::NoMappedRole {
            workspace: ws.name.clone(),
            claim: roles.claim.clone(),
            found,
            mapped: roles.map.keys().cloned().collect(),
        }),
    }
}

/// True for a workspace that authenticates with client credentials.
pub fn is_m2m(ws: &Workspace) -> bool {
    ws.auth == WorkspaceAuth::M2m
}

/// The M2M client secret of `ws`, if one was stored.
pub async fn m2m_secret(store: &Store, ws: &Workspace) -> Result<Option<Secret>, StoreError> {
    store.m2m_secret(ws).await
}

/// Stores the M2M client secret of `ws` in the vault (and nowhere else).
pub async fn set_m2m_secret(store: &Store, ws: &Workspace, secret: &Secret) -> Result<(), StoreError> {
    store.save_m2m_secret(ws, secret).await
}

/// Forgets the M2M client secret of `ws`.
pub async fn delete_m2m_secret(store: &Store, ws: &Workspace) -> Result<(), StoreError> {
    store.delete_m2m_secret(ws).await
}
