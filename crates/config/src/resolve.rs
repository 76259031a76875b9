//! From the raw [`Config`] to what the engine uses: [`Workspace`] (host normalised, profile
//! defaulted, IdP checked), and the rules that pick defaults.
//!
//! The defaulting rules live here as plain functions ([`Config::default_workspace_name`],
//! [`WorkspaceConfig::profile_name`]) so the CLI and the tray apply the same ones instead of
//! re-deriving them. Nothing here reads the clock or the disk.

use std::path::{Path, PathBuf};

use serde::Serialize;

use lakepass_wire::WorkspaceHost;
use lakepass_wire::tls::Trust;

use super::error::ConfigError;
use super::model::{
    Config, ExpectedPolicy, IdpConfig, RoleMapping, SubjectTokenKind, WorkspaceAuth, WorkspaceConfig,
};

/// A workspace with everything resolved: the form the engine works with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Workspace {
    /// The workspace's name in the config.
    pub name: String,
    /// Name of its identity provider.
    pub idp: String,
    /// The validated, normalised host.
    pub host: WorkspaceHost,
    /// Databricks OAuth scopes.
    pub scopes: Vec<String>,
    /// Which IdP token is exchanged.
    pub token: SubjectTokenKind,
    /// Service principal application id, for service-principal federation.
    pub client_id: Option<String>,
    /// The `~/.databrickscfg` profile.
    pub profile: String,
    /// Federation or M2M.
    pub auth: WorkspaceAuth,
    /// Role → service principal mapping, if any.
    pub roles: Option<RoleMapping>,
    /// The expected federation policy, if configured.
    pub policy: Option<ExpectedPolicy>,
    /// The Databricks account id, if configured.
    pub account_id: Option<String>,
    /// The account console host, if configured.
    pub account_host: Option<String>,
    /// The numeric workspace id, if known.
    pub workspace_id: Option<u64>,
}

impl Config {
    /// The CAs to trust beyond the system's store, each for the hosts of the entry that names
    /// it: the top-level `ca_file` for every host, an IdP's for its issuer's host (and, once
    /// discovered, its endpoints' hosts), a workspace's for its host and `account_host`. One
    /// workspace's CA (a team file's, say) must not vouch for the IdP, where the refresh token
    /// goes. `~/` is the home folder.
    pub fn trust(&self) -> Trust {
        let mut trust = Trust::with_ca_files(self.ca_file.iter().map(|p| expand_home(p)));
        for idp in self.idp.values() {
            if let Some(file) = &idp.ca_file {
                trust = trust.scoped_to(expand_home(file), [idp.issuer.as_str()]);
            }
        }
        for ws in self.workspace.values() {
            if let Some(file) = &ws.ca_file {
                let hosts: Vec<String> = std::iter::once(&ws.host)
                    .chain(ws.account_host.as_ref())
                    .filter_map(|h| WorkspaceHost::parse(h).ok())
                    .map(|h| h.as_str().to_owned())
                    .collect();
                trust = trust.scoped_to(expand_home(file), hosts.iter().map(String::as_str));
            }
        }
        trust
    }

    /// Every workspace, resolved, in name order.
    pub fn workspaces(&self) -> Result<Vec<Workspace>, ConfigError> {
        self.workspace.keys().map(|name| self.resolve(name)).collect()
    }

    /// The workspace called `name`; with `None`, the active one, else the only one.
    pub fn workspace(&self, name: Option<&str>) -> Result<Workspace, ConfigError> {
        let known = || self.workspace.keys().cloned().collect::<Vec<_>>();
        let Some(name) = name.or_else(|| self.default_workspace_name()) else {
            return Err(ConfigError::NoActiveWorkspace { known: known() });
        };
        if !self.workspace.contains_key(name) {
            return Err(ConfigError::UnknownWorkspace { name: name.into(), known: known() });
        }
        self.resolve(name)
    }

    /// The workspace commands use when none is named: `active`, else the only workspace, else
    /// none. `active` is returned as written; [`Config::parse`] has checked that it exists.
    pub fn default_workspace_name(&self) -> Option<&str> {
        match &self.active {
            Some(active) => Some(active),
            None if self.workspace.len() == 1 => self.workspace.keys().next().map(String::as_str),
            None => None,
        }
    }

    /// The identity provider called `name`.
    pub fn idp(&self, name: &str) -> Result<&IdpConfig, ConfigError> {
        self.idp.get(name).ok_or_else(|| ConfigError::UnknownIdp {
            name: name.into(),
            known: self.idp.keys().cloned().collect(),
        })
    }

    fn resolve(&self, name: &str) -> Result<Workspace, ConfigError> {
        let w = &self.workspace[name];
        let host = WorkspaceHost::parse(&w.host).map_err(|e| ConfigError::Invalid {
            path: PathBuf::new(),
            line: None,
            field: format!("workspace.{name}.host"),
            message: e.to_string(),
        })?;
        if w.auth == WorkspaceAuth::Federation {
            self.idp(&w.idp)?;
        }
        Ok(Workspace {
            name: name.into(),
            idp: w.idp.clone(),
            host,
            scopes: w.scopes.clone(),
            token: w.token,
            client_id: w.client_id.clone(),
            profile: w.profile_name(name).to_string(),
            auth: w.auth,
            roles: w.roles.clone(),
            policy: w.policy.clone(),
            account_id: w.account_id.clone(),
            account_host: w.account_host.clone(),
            workspace_id: w.workspace_id,
        })
    }
}

impl WorkspaceConfig {
    /// The `~/.databrickscfg` profile this workspace (called `name` in the config) writes: its
    /// `profile`, else the workspace name.
    pub(crate) fn profile_name<'a>(&'a self, name: &'a str) -> &'a str {
        self.profile.as_deref().unwrap_or(name)
    }
}

fn expand_home(p: &Path) -> PathBuf {
    match (p.strip_prefix("~"), dirs::home_dir()) {
        (Ok(rest), Some(home)) => home.join(rest),
        _ => p.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{MINIMAL, path};
    use super::*;

    #[test]
    fn every_ca_file_is_trusted_once() {
        let toml = format!(
            "ca_file = \"/etc/corp.pem\"\n{}",
            MINIMAL.replacen("[workspace.b]", "[workspace.b]\nca_file = \"/etc/corp.pem\"", 1).replacen(
                "[workspace.a]",
                "[workspace.a]\nca_file = \"~/ws.pem\"",
                1
            )
        );
        let c = Config::parse(&toml, path()).unwrap();
        let home = dirs::home_dir().unwrap();
        let trust = c.trust();
        assert_eq!(trust.ca_files, vec![PathBuf::from("/etc/corp.pem")], "the top-level one, for every host");
        let scoped: Vec<_> = trust.scoped.iter().map(|s| (s.file.clone(), s.hosts.clone())).collect();
        let hosts = |h: &[&str]| h.iter().map(|h| h.to_string()).collect::<std::collections::BTreeSet<_>>();
        assert_eq!(
            scoped,
            [
                (home.join("ws.pem"), hosts(&["adb-1.azuredatabricks.net"])),
                (PathBuf::from("/etc/corp.pem"), hosts(&["localhost"])),
            ],
            "a workspace's own for its host only"
        );
        assert_eq!(Config::parse(&toml::to_string(&c).unwrap(), path()).unwrap(), c, "round-trips");
        let empty = toml.replacen("/etc/corp.pem", "", 1);
        let err = Config::parse(&empty, path()).unwrap_err().to_string();
        assert!(err.contains("ca_file"), "{err}");
    }

    #[test]
    fn choosing_a_workspace() {
        let c = Config::parse(MINIMAL, path()).unwrap();
        assert_eq!(c.workspace(Some("b")).unwrap().name, "b");
        let err = c.workspace(None).unwrap_err().to_string();
        assert!(err.contains("`a`, `b`") && err.contains("none is active"), "{err}");
        let err = c.workspace(Some("zz")).unwrap_err().to_string();
        assert!(err.contains("`zz`") && err.contains("`a`, `b`"), "{err}");
        let one = MINIMAL.split("[workspace.b]").next().unwrap();
        assert_eq!(Config::parse(one, path()).unwrap().workspace(None).unwrap().name, "a");
        let err = Config::default().workspace(None).unwrap_err().to_string();
        assert!(err.contains("lakepass workspace add"), "{err}");
        assert!(c.idp("nope").unwrap_err().to_string().contains("`okta`"));
    }

    #[test]
    fn default_workspace_and_profile_rules() {
        let c = Config::parse(MINIMAL, path()).unwrap();
        assert_eq!(c.default_workspace_name(), None, "two workspaces, none active");
        let active = Config { active: Some("b".into()), ..c.clone() };
        assert_eq!(active.default_workspace_name(), Some("b"));
        let mut one = c.clone();
        one.workspace.remove("b");
        assert_eq!(one.default_workspace_name(), Some("a"), "the only workspace is the default");
        assert_eq!(Config::default().default_workspace_name(), None);

        let mut ws = c.workspace["a"].clone();
        assert_eq!(ws.profile_name("a"), "a");
        ws.profile = Some("a-lakepass".into());
        assert_eq!(ws.profile_name("a"), "a-lakepass");
    }
}
