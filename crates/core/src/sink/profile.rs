//! The workspace's own `~/.databrickscfg` profile: what the Databricks CLI and SDKs read.
//!
//! The `cli-helper` flavour names a program the SDKs run as `<program> auth token --host …`,
//! with their own environment, not ours. When this Lakepass runs on a config other than the
//! default one (`--config PATH`, `$LAKEPASS_CONFIG`), plain `lakepass` there would read the
//! wrong config; so the profile names a small script in the data dir (0700) that runs
//! `lakepass --config PATH "$@"` (and keeps an explicit `$LAKEPASS_DATA_DIR`) instead.

use std::path::{Path, PathBuf};

use super::{SinkError, TokenSink};
use crate::config::{ProfileFlavour, Workspace};
use crate::databrickscfg::{self, ProfileUpdate};
use crate::exchange::WorkspaceToken;
use crate::launch::sh_quote;
use crate::paths::Paths;

/// The script that runs `lakepass` on `config` (and `data_dir`, when given) with the SDK's
/// arguments.
fn helper_script(lakepass: &str, config: &Path, data_dir: Option<&PathBuf>) -> String {
    let env = data_dir
        .map(|d| format!("LAKEPASS_DATA_DIR={} ", sh_quote(&d.display().to_string())))
        .unwrap_or_default();
    format!(
        "#!/bin/sh\n# Written by Lakepass: the `databricks_cli_path` of its cli-helper profiles, so the\n\
         # Databricks SDKs get tokens from the same config.\n\
         {env}exec {} --config {} \"$@\"\n",
        sh_quote(lakepass),
        sh_quote(&config.display().to_string())
    )
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325, |h, b| (h ^ *b as u64).wrapping_mul(0x100000001b3))
}

/// Writes `[<profile>]` on every new token: `host` plus `token` (the static flavour) or the
/// `databricks-cli` helper entries (the `cli-helper` flavour), and removes it on sign-out.
#[derive(Debug, Clone)]
pub struct CredentialsProfile {
    path: PathBuf,
    flavour: ProfileFlavour,
    cli_helper_path: String,
    /// The wrapper script to write first, when the profile names one: its path and text.
    helper_script: Option<(PathBuf, String)>,
}

impl CredentialsProfile {
    /// The sink for the credentials file at `path`. `cli_helper` is the `lakepass` program the
    /// `cli-helper` flavour names (`None`: the running executable).
    pub fn new(path: PathBuf, flavour: ProfileFlavour, cli_helper: Option<PathBuf>) -> Self {
        let helper = cli_helper.or_else(|| std::env::current_exe().ok());
        let helper = helper.map(|p| std::fs::canonicalize(&p).unwrap_or(p));
        let cli_helper_path = helper.map(|p| p.display().to_string()).unwrap_or_else(|| "lakepass".into());
        CredentialsProfile { path, flavour, cli_helper_path, helper_script: None }
    }

    /// Makes the `cli-helper` profile run Lakepass on `paths.config` when that is not the
    /// default config (see the module docs). `data_dir_explicit`: `$LAKEPASS_DATA_DIR` was set,
    /// so the helper must use it too.
    pub fn for_config(mut self, paths: &Paths, data_dir_explicit: bool) -> Self {
        if self.flavour != ProfileFlavour::CliHelper || !cfg!(unix) || paths.config == Paths::default_config()
        {
            return self;
        }
        let script =
            helper_script(&self.cli_helper_path, &paths.config, data_dir_explicit.then_some(&paths.data_dir));
        let name = format!("databricks-cli-{:016x}", fnv1a(paths.config.to_string_lossy().as_bytes()));
        let at = paths.data_dir.join("helpers").join(name);
        self.cli_helper_path = at.display().to_string();
        self.helper_script = Some((at, script));
        self
    }

    fn write_helper_script(&self) -> Result<(), SinkError> {
        let Some((path, text)) = &self.helper_script else { return Ok(()) };
        if std::fs::read_to_string(path).is_ok_and(|t| t == *text) {
            return Ok(());
        }
        let failed = |source| SinkError::HelperScript { path: path.clone(), source };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(failed)?;
        }
        crate::atomic::write_atomic(path, text.as_bytes(), 0o700).map_err(failed)
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
        self.write_helper_script()?;
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
