//! The dashboard's forms, as they arrive over IPC, turned into config entries (checked by the
//! core's own parsing, so the form and the config file accept exactly the same values), and the
//! first-run set-up's helpers: the IdP presets, a pasted workspace URL, a team file's plan.

use std::collections::BTreeMap;
use std::path::Path;

use lakepass_admin::presets::{self, Preset};
use lakepass_config::{
    ConfigDoc, IdpConfig, SubjectTokenKind, TeamFile, TeamPlan, UnknownValue, WorkspaceConfig,
};
use lakepass_engine::ErrorKind;
use lakepass_wire::{HostError, WorkspaceHost};
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

/// An IdP preset as the first-run set-up offers it: the admin crate's table
/// ([`lakepass_admin::presets::PRESETS`]), so the dashboard holds no IdP rules of its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct PresetView {
    /// `entra`, `okta`, `auth0`, `keycloak` or `generic`.
    pub name: String,
    /// The IdP's product name.
    pub label: String,
    /// The values it needs besides the client id.
    pub fields: Vec<PresetFieldView>,
    /// The redirect URI to register at the IdP for Lakepass.
    pub redirect_uri: String,
}

/// One value a preset needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct PresetFieldView {
    /// The form field's name, e.g. `tenant`.
    pub key: String,
    /// Its label.
    pub label: String,
    /// An example value.
    pub placeholder: String,
    /// False for an optional value.
    pub required: bool,
}

/// Every IdP preset, for the first-run set-up.
pub fn presets() -> Vec<PresetView> {
    presets::PRESETS
        .iter()
        .map(|p| {
            let example = |k: &str| p.fields.iter().find(|f| f.key == k).map(|f| f.placeholder.to_string());
            let redirect_uri = Preset::from_values(p.name, example)
                .map(|preset| preset.redirect_uri_to_register())
                .unwrap_or_default();
            PresetView {
                name: p.name.into(),
                label: p.label.into(),
                fields: p
                    .fields
                    .iter()
                    .map(|f| PresetFieldView {
                        key: f.key.into(),
                        label: f.label.into(),
                        placeholder: f.placeholder.into(),
                        required: f.required,
                    })
                    .collect(),
                redirect_uri,
            }
        })
        .collect()
}

/// An IdP chosen by preset, as the first-run set-up sends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct PresetForm {
    /// The preset's name.
    pub preset: String,
    /// Its values by [`PresetFieldView::key`].
    pub values: BTreeMap<String, String>,
    /// The client id of Lakepass's app registration at the IdP.
    pub client_id: String,
}

fn field_error(field: &str, message: impl Into<String>) -> AppError {
    AppError { field: Some(field.into()), ..AppError::new(ErrorKind::Invalid, message) }
}

impl PresetForm {
    /// The IdP form the preset makes (issuer, scopes, redirect port by the core's rules).
    pub(crate) fn to_idp_form(&self) -> Result<IdpForm, AppError> {
        let info = presets::PRESETS
            .iter()
            .find(|p| p.name == self.preset)
            .ok_or_else(|| field_error("preset", "Choose your identity provider from the list."))?;
        let given = |k: &str| self.values.get(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        if let Some(f) = info.fields.iter().find(|f| f.required && given(f.key).is_none()) {
            return Err(field_error(
                f.key,
                format!("Enter the {} (for example {}).", f.label, f.placeholder),
            ));
        }
        if self.client_id.trim().is_empty() {
            return Err(field_error(
                "client_id",
                "Enter the client (application) ID of the app your company registered for Lakepass.",
            ));
        }
        let preset =
            Preset::from_values(&self.preset, given).map_err(|e| AppError::new(e.kind(), e.to_string()))?;
        let idp = preset.idp_config(self.client_id.trim());
        Ok(IdpForm {
            issuer: idp.issuer,
            client_id: idp.client_id,
            scopes: idp.scopes,
            redirect_port: Some(idp.redirect_port),
        })
    }
}

/// A workspace URL as pasted from the browser (a path or `?o=` included), as the host Lakepass
/// uses: the core's parser decides, and its error is the message.
pub fn workspace_host(url: &str) -> Result<String, AppError> {
    WorkspaceHost::parse(url)
        .or_else(|e| match e {
            // Only the page part (path, `?o=`, fragment) is dropped, never a scheme changed.
            HostError::Path { .. } => WorkspaceHost::cleaned(url).filter(|h| same_scheme(url, h)).ok_or(e),
            e => Err(e),
        })
        .map(|h| h.to_string())
        .map_err(|e| field_error("host", format!("{e}. Paste the address of a page of your workspace.")))
}

/// `url` has the scheme of `host`, or none (a bare name gets `https://`).
fn same_scheme(url: &str, host: &WorkspaceHost) -> bool {
    let scheme = host.as_str().split("://").next().unwrap_or_default();
    match url.trim().split_once("://") {
        Some((s, _)) => s.eq_ignore_ascii_case(scheme),
        None => scheme == "https",
    }
}

/// What importing the team file `text` (named `name`) into the config at `config` will do.
pub(crate) fn team_plan(
    config: &Path,
    name: &str,
    text: &str,
) -> Result<(TeamFile, ConfigDoc, TeamPlan), AppError> {
    // The file's own name in messages, with its line: `acme.toml:12: workspace.x.password: …`.
    let team = TeamFile::parse(text, Path::new(name))
        .map_err(|e| AppError::new(ErrorKind::Invalid, e.to_string()))?;
    let doc = ConfigDoc::load(config)?;
    let plan = team.plan(&doc.to_config(config)?);
    Ok((team, doc, plan))
}
