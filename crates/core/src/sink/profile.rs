//! The workspace's own `~/.databrickscfg` profile: what the Databricks CLI and SDKs read.

use std::path::PathBuf;

use super::{SinkError, TokenSink};
use crate::config::{ProfileFlavour, Workspace};
use crate::databrickscfg::{self, ProfileUpdate};
use crate::exchange::WorkspaceToken;

/// Writes `[<profile>]` on every new token: `host` plus `token` (the static flavour) or the
/// `databricks-cli` helper entries (the `cli-helper` flavour), and removes it on sign-out.
#[derive(Debug, Clone)]
pub struct CredentialsProfile {
    path: PathBuf,
    flavour: ProfileFlavour,
    cli_helper_path: String,
}

impl CredentialsProfile {
    /// The sink for the credentials file at `path`. `cli_helper` is the `lakepass` program the
    /// `cli-helper` flavour names (`None`: the running executable).
    pub fn new(path: PathBuf, flavour: ProfileFlavour, cli_helper: Option<PathBuf>) -> Self {
        let helper = cli_helper.or_else(|| std::env::current_exe().ok());
        let helper = helper.map(|p| std::fs::canonicalize(&p).unwrap_or(p));
        let cli_helper_path = helper.map(|p| p.display().to_string()).unwrap_or_else(|| "lakepass".into());
        CredentialsProfile { path, flavour, cli_helper_path }
    }

    fn update(&self, ws: &Workspace, t: &WorkspaceToken) -> ProfileUpdate {
        let host = ("host".to_string(), ws.host.to_string());
        let entries = match self.flavour {
            ProfileFlavour::Static => vec![host, ("token".to_string(), t.access_token.secret().to_string())],
            ProfileFlavour::CliHelper => vec![
                host,
                ("auth_type".to_string(), "databricks-cli".to_string()),
                ("databricks_cli_path".to_string(), self.cli_helper_path.clone()),
            ],
        };
        ProfileUpdate { profile: ws.profile.clone(), entries }
    }
}

impl TokenSink for CredentialsProfile {
    fn name(&self) -> &'static str {
        "credentials profile"
    }

    fn on_token(&self, ws: &Workspace, token: &WorkspaceToken) -> Result<(), SinkError> {
        let update = self.update(ws, token);
        databrickscfg::update_file(&self.path, |text| super::exact_profile(text, &update))?;
        Ok(())
    }

    fn on_sign_out(&self, workspaces: &[Workspace]) -> Result<Vec<String>, SinkError> {
        let names: Vec<String> = workspaces.iter().map(|w| w.profile.clone()).collect();
        databrickscfg::update_file(&self.path, |text| {
            names.iter().try_fold(text.to_string(), |acc, p| databrickscfg::remove_profile(&acc, p))
        })?;
        Ok(names)
    }
}
