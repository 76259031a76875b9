//! The workspace's own `~/.databrickscfg` profile: what the Databricks CLI and SDKs read.
//!
//! The profile is always a token profile (`host` + `token`): since v0.290 the Databricks CLI's
//! `databricks-cli` auth reads its own token cache and ignores `databricks_cli_path`
//! (databricks/cli `libs/auth/credentials.go`, `CLICredentials`), so a helper entry in the
//! profile a user runs `databricks --profile dev` with would break the CLI. The `cli-helper`
//! flavour therefore writes a profile of its own beside it, `<profile>-helper`, for the SDKs
//! that run `databricks_cli_path auth token --host …`: databricks-sdk-py, and databricks-sdk-go
//! from v0.104.0 (v0.61–v0.103 read the CLI's token cache instead; databricks/databricks-sdk-go
//! `config/auth_u2m.go` at v0.103.0, `config/cli_token_source.go` from v0.104.0).
//!
//! The `cli-helper` flavour names a program the SDKs run as `<program> auth token --host …`,
//! with their own environment, not ours. When this Lakepass runs on a config other than the
//! default one (`--config PATH`, `$LAKEPASS_CONFIG`), plain `lakepass` there would read the
//! wrong config; so the profile names a per-config link to the `lakepass` binary in the data dir
//! (0700), which finds its config by the name it was started under (`helper_link.rs`: a wrapper
//! script would be under the 1 MiB databricks-sdk-go requires of a `databricks_cli_path`).

use std::path::PathBuf;

use super::helper_link::{self, HelperTarget};
use super::{SinkError, TokenSink};
use lakepass_config::{ProfileFlavour, Workspace};
use lakepass_store::databrickscfg::{self, ProfileUpdate};
use lakepass_store::paths::Paths;
use lakepass_wire::exchange::WorkspaceToken;

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
    /// The helper link to make first, when the profile names one: its folder, the program it
    /// links to, and the config it stands for (Unix only).
    #[cfg_attr(not(unix), allow(dead_code))]
    helper_link: Option<(PathBuf, PathBuf, HelperTarget)>,
}

impl CredentialsProfile {
    /// The sink for the credentials file at `path`. `cli_helper` is the `lakepass` program the
    /// `cli-helper` flavour names (`None`: the running executable).
    pub fn new(path: PathBuf, flavour: ProfileFlavour, cli_helper: Option<PathBuf>) -> Self {
        let helper = cli_helper.or_else(|| std::env::current_exe().ok());
        let helper = helper.map(|p| std::fs::canonicalize(&p).unwrap_or(p));
        let cli_helper_path = helper.map(|p| p.display().to_string()).unwrap_or_else(|| "lakepass".into());
        CredentialsProfile { path, flavour, cli_helper_path, helper_link: None }
    }

    /// Makes the `cli-helper` profile run Lakepass on `paths.config` when that is not the
    /// default config (see the module docs): the profile names the config's helper link.
    pub(crate) fn for_config(mut self, paths: &Paths) -> Self {
        if self.flavour != ProfileFlavour::CliHelper || !cfg!(unix) || paths.config == Paths::default_config()
        {
            return self;
        }
        let config = std::path::absolute(&paths.config).unwrap_or_else(|_| paths.config.clone());
        let data_dir = std::path::absolute(&paths.data_dir).unwrap_or_else(|_| paths.data_dir.clone());
        let dir = helper_link::link_dir(&data_dir, &config);
        let program = PathBuf::from(&self.cli_helper_path);
        self.cli_helper_path = dir.join(helper_link::LINK_NAME).display().to_string();
        self.helper_link = Some((dir, program, HelperTarget { config, data_dir }));
        self
    }

    #[cfg(unix)]
    fn write_helper_link(&self) -> Result<(), SinkError> {
        let Some((dir, program, target)) = &self.helper_link else { return Ok(()) };
        let failed = |source| SinkError::HelperLink { path: dir.clone(), source };
        helper_link::write_link(dir, program, target).map_err(failed)?;
        // The wrapper script earlier versions named in the profile is replaced by the link.
        let _ = std::fs::remove_file(helper_link::old_script(&target.data_dir, &target.config));
        Ok(())
    }

    #[cfg(not(unix))]
    fn write_helper_link(&self) -> Result<(), SinkError> {
        Ok(())
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
            self.write_helper_link()?;
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
