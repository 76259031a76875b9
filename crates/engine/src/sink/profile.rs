//! The workspace's own `~/.databrickscfg` profile: what the Databricks CLI and SDKs read.
//!
//! The profile is always a token profile (`host` + `token`): since v0.290 the Databricks CLI's
//! `databricks-cli` auth reads its own token cache and ignores `databricks_cli_path`
//! (databricks/cli `libs/auth/credentials.go`, `CLICredentials`), so a helper entry in the
//! profile a user runs `databricks --profile dev` with would break the CLI. The `cli-helper`
//! flavour therefore writes a profile of its own beside it, `<profile>-helper`, for the SDKs
//! (Python, Go, JS), which do run `databricks_cli_path auth token --host …`.
//!
//! The `cli-helper` flavour names a program the SDKs run as `<program> auth token --host …`,
//! with their own environment, not ours. When this Lakepass runs on a config other than the
//! default one (`--config PATH`, `$LAKEPASS_CONFIG`), plain `lakepass` there would read the
//! wrong config; so the profile names a small script in the data dir (0700) that runs
//! `lakepass --config PATH "$@"` (and keeps an explicit `$LAKEPASS_DATA_DIR`) instead.

use std::path::{Path, PathBuf};

use super::sh_quote;
use super::{SinkError, TokenSink};
use lakepass_config::{ProfileFlavour, Workspace};
use lakepass_store::databrickscfg::{self, ProfileUpdate};
use lakepass_store::paths::Paths;
use lakepass_wire::exchange::WorkspaceToken;

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

/// The name of a workspace's helper profile (the `cli-helper` flavour): `<profile>-helper`.
pub fn helper_profile_name(ws: &Workspace) -> String {
    format!("{}-helper", ws.profile)
}

/// Writes `[<profile>]` (`host` + `token`) on every new token and, with the `cli-helper`
/// flavour, `[<profile>-helper]` with the `databricks-cli` entries; removes both on sign-out.
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
    pub(crate) fn for_config(mut self, paths: &Paths, data_dir_explicit: bool) -> Self {
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
        lakepass_store::atomic::write_atomic(path, text.as_bytes(), 0o700).map_err(failed)
    }

    fn token_profile(ws: &Workspace, t: &WorkspaceToken) -> ProfileUpdate {
        let entries = vec![
            ("host".to_string(), ws.host.to_string()),
            ("token".to_string(), t.access_token.secret().to_string()),
        ];
        ProfileUpdate { profile: ws.profile.clone(), entries }
    }

    fn helper_profile(&self, ws: &Workspace) -> ProfileUpdate {
        let entries = vec![
            ("host".to_string(), ws.host.to_string()),
            ("auth_type".to_string(), "databricks-cli".to_string()),
            ("databricks_cli_path".to_string(), self.cli_helper_path.clone()),
        ];
        ProfileUpdate { profile: helper_profile_name(ws), entries }
    }
}

impl TokenSink for CredentialsProfile {
    fn name(&self) -> &'static str {
        "credentials profile"
    }

    fn on_token(&self, ws: &Workspace, token: &WorkspaceToken) -> Result<(), SinkError> {
        let main = Self::token_profile(ws, token);
        let helper = (self.flavour == ProfileFlavour::CliHelper).then(|| self.helper_profile(ws));
        if helper.is_some() {
            self.write_helper_script()?;
        }
        // Shared: the profiles of workspaces refreshed at the same moment go in one write.
        databrickscfg::update_file_shared(&self.path, move |text| {
            let text = super::exact_profile(text, &main)?;
            let Some(helper) = &helper else { return Ok(text) };
            // A user's own profile of the helper's name is theirs: leave it.
            let theirs = !databrickscfg::owned_profiles(&text)?.contains(&helper.profile)
                && databrickscfg::read_profile(&text, &helper.profile)?.is_some();
            if theirs {
                tracing::warn!(profile = %helper.profile, "not writing the helper profile: a profile of that name exists and was not made by Lakepass");
                return Ok(text);
            }
            super::exact_profile(&text, helper)
        })?;
        Ok(())
    }

    fn on_sign_out(&self, workspaces: &[Workspace]) -> Result<Vec<String>, SinkError> {
        let mut removed = Vec::new();
        databrickscfg::update_file(&self.path, |text| {
            let owned = databrickscfg::owned_profiles(text)?;
            removed = workspaces.iter().map(|w| w.profile.clone()).collect();
            removed.extend(workspaces.iter().map(helper_profile_name).filter(|p| owned.contains(p)));
            removed.iter().try_fold(text.to_string(), |acc, p| databrickscfg::remove_profile(&acc, p))
        })?;
        Ok(removed)
    }
}
