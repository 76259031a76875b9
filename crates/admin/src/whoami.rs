//! `whoami`: who a workspace thinks you are, by SCIM `Me` — the "check identity" step of the
//! federation pattern. A federated user shows their user name; a service principal (M2M, or a
//! user federated *as* an SP by `client_id` or role mapping) shows its application id, since
//! that is what the workspace's permissions are granted to.

use serde::{Deserialize, Serialize};

use lakepass_config::Workspace;
use lakepass_engine::engine::{Engine, EngineError};
use lakepass_engine::roles;

/// Whether the identity is a user or a service principal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalKind {
    /// A workspace user.
    User,
    /// A service principal (its `userName` is the application id).
    ServicePrincipal,
}

/// Who the workspace says the token stands for.
#[derive(Debug, Clone, Serialize)]
pub struct Identity {
    /// Workspace name in config.
    pub workspace: String,
    /// Its host.
    pub host: String,
    /// User or service principal.
    pub kind: PrincipalKind,
    /// SCIM `userName`: the user's name, or the SP's application id.
    pub user_name: String,
    /// SCIM `displayName`.
    pub display_name: Option<String>,
    /// The SP's application id, for service principals.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub application_id: Option<String>,
    /// Group display names.
    pub groups: Vec<String>,
}

#[derive(Deserialize)]
struct ScimMe {
    #[serde(rename = "userName")]
    user_name: Option<String>,
    #[serde(rename = "displayName")]
    display_name: Option<String>,
    #[serde(rename = "applicationId")]
    application_id: Option<String>,
    #[serde(default)]
    groups: Vec<ScimGroup>,
}

#[derive(Deserialize)]
struct ScimGroup {
    display: Option<String>,
}

/// Why `whoami` failed for a workspace.
#[derive(Debug, thiserror::Error)]
pub enum WhoamiError {
    /// No token.
    #[error(transparent)]
    Token(#[from] EngineError),
    /// The SCIM call failed.
    #[error("{host} answered SCIM Me with {message}")]
    Scim {
        /// The workspace.
        host: String,
        /// What went wrong.
        message: String,
    },
}

impl WhoamiError {
    /// What kind of failure: the token's own kind (sign in first, …), or the workspace's answer.
    pub fn kind(&self) -> lakepass_engine::error::ErrorKind {
        match self {
            WhoamiError::Token(e) => e.kind(),
            WhoamiError::Scim { .. } => lakepass_engine::error::ErrorKind::Network,
        }
    }
}

/// Asks workspace `ws` who its token stands for (refreshing the token if needed).
pub async fn whoami(engine: &Engine, ws: &Workspace) -> Result<Identity, WhoamiError> {
    let token = engine.token(ws).await?;
    let scim = |message: String| WhoamiError::Scim { host: ws.host.to_string(), message };
    let resp = engine
        .http()
        .get(&ws.host.join("/api/2.0/preview/scim/v2/Me"), Some(&token.access_token))
        .await
        .map_err(|e| scim(e.to_string()))?;
    if !resp.is_success() {
        return Err(scim(format!("HTTP {}: {}", resp.status.as_u16(), resp.body_excerpt())));
    }
    let me: ScimMe = resp.json().map_err(|e| scim(e.to_string()))?;
    let user_name = me.user_name.unwrap_or_default();
    let as_sp =
        roles::is_m2m(ws) || ws.client_id.is_some() || ws.roles.is_some() || me.application_id.is_some();
    Ok(Identity {
        workspace: ws.name.clone(),
        host: ws.host.to_string(),
        kind: if as_sp { PrincipalKind::ServicePrincipal } else { PrincipalKind::User },
        application_id: as_sp.then(|| me.application_id.clone().unwrap_or_else(|| user_name.clone())),
        user_name,
        display_name: me.display_name,
        groups: me.groups.into_iter().filter_map(|g| g.display).collect(),
    })
}
