//! The dashboard's forms, as they arrive over IPC, turned into config entries (checked by the
//! core's own parsing, so the form and the config file accept exactly the same values).

use lakepass_core::ErrorKind;
use lakepass_core::config::{IdpConfig, SubjectTokenKind, UnknownValue, WorkspaceConfig};
use serde::{Deserialize, Serialize};

use crate::app_error::AppError;

/// A workspace as the dashboard's form sends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct WorkspaceForm {
    /// IdP name.
    pub idp: String,
    /// Workspace URL.
    pub host: String,
    /// Scopes; empty means the default (`all-apis`).
    #[serde(default)]
    pub scopes: Vec<String>,
    /// `id_token` (default) or `access_token`.
    #[serde(default)]
    pub token: Option<String>,
    /// Service principal id, for service-principal federation.
    #[serde(default)]
    pub client_id: Option<String>,
    /// `~/.databrickscfg` profile; empty means the workspace name.
    #[serde(default)]
    pub profile: Option<String>,
}

/// An IdP as the dashboard's form sends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct IdpForm {
    /// Issuer URL, exactly as in the id_token.
    pub issuer: String,
    /// OAuth client id.
    pub client_id: String,
    /// Scopes; empty means the default.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Loopback redirect port, 0 or none for any.
    #[serde(default)]
    pub redirect_port: Option<u16>,
}

fn blank_to_none(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

impl WorkspaceForm {
    pub(crate) fn to_config(&self) -> Result<WorkspaceConfig, AppError> {
        let mut w = WorkspaceConfig::new(self.idp.trim(), self.host.trim());
        let scopes: Vec<String> =
            self.scopes.iter().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
        if !scopes.is_empty() {
            w.scopes = scopes;
        }
        w.token = match blank_to_none(self.token.clone()) {
            None => SubjectTokenKind::default(),
            Some(t) => t.parse().map_err(|e: UnknownValue| AppError {
                field: Some("token".into()),
                ..AppError::new(ErrorKind::Invalid, e.to_string())
            })?,
        };
        w.client_id = blank_to_none(self.client_id.clone());
        w.profile = blank_to_none(self.profile.clone());
        Ok(w)
    }
}

impl IdpForm {
    pub(crate) fn to_config(&self) -> IdpConfig {
        let mut i = IdpConfig::new(self.issuer.trim(), self.client_id.trim());
        let scopes: Vec<String> =
            self.scopes.iter().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
        if !scopes.is_empty() {
            i.scopes = scopes;
        }
        i.redirect_port = self.redirect_port.unwrap_or(0);
        i
    }
}
