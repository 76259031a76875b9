//! The environment a launched program gets: what is set, what is removed from the inherited
//! environment, and how that reads as shell `export` lines.
//!
//! A workspace's environment names the workspace (`DATABRICKS_HOST`) and its `<profile>-live`
//! profile (`DATABRICKS_CONFIG_PROFILE`), which the live token service keeps fresh: no token.
//! Only when asked (`lakepass env --with-token`) does a token go in, as `DATABRICKS_TOKEN`, and
//! then the profile is unset, because the SDKs would otherwise see two ways to sign in.

use crate::config::Workspace;
use crate::secret::Secret;
use crate::sink::live_profile_name;

use super::shell::sh_quote;

/// Changes to an inherited environment. Secret values are kept apart so that `Debug` (and any
/// log line) shows their names only.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvChanges {
    /// Variables to set, in order.
    pub set: Vec<(String, String)>,
    /// Variables to set whose values are secrets (`DATABRICKS_TOKEN` with `--with-token`).
    pub secrets: Vec<(String, Secret)>,
    /// Variables to remove from the inherited environment.
    pub remove: Vec<String>,
}

impl EnvChanges {
    /// Sets `key` (replacing an earlier setting of it).
    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        self.set.retain(|(k, _)| k != key);
        self.remove.retain(|k| k != key);
        self.set.push((key.to_string(), value.into()));
    }

    /// Removes `key` from what is inherited (and from what was set).
    pub fn remove(&mut self, key: &str) {
        self.set.retain(|(k, _)| k != key);
        self.secrets.retain(|(k, _)| k != key);
        if !self.remove.iter().any(|k| k == key) {
            self.remove.push(key.to_string());
        }
    }

    /// The plain value set for `key`, if any.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.set.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// Applies the changes to a command.
    pub fn apply(&self, cmd: &mut std::process::Command) {
        for k in &self.remove {
            cmd.env_remove(k);
        }
        for (k, v) in &self.set {
            cmd.env(k, v);
        }
        for (k, v) in &self.secrets {
            cmd.env(k, v.secret());
        }
    }

    /// The removed variables that `inherited` (a lookup into the current environment) has: what
    /// the launch takes away from the user, to be told.
    pub fn removed_present(&self, inherited: impl Fn(&str) -> bool) -> Vec<&str> {
        self.remove.iter().map(String::as_str).filter(|k| inherited(k)).collect()
    }
}

/// The environment for working with `ws`: `DATABRICKS_HOST` and `DATABRICKS_CONFIG_PROFILE`
/// (the live profile), with an inherited `DATABRICKS_TOKEN` removed; or, given a token,
/// `DATABRICKS_HOST` and `DATABRICKS_TOKEN` with `DATABRICKS_CONFIG_PROFILE` removed.
pub fn workspace_env(ws: &Workspace, token: Option<&Secret>) -> EnvChanges {
    let mut env = EnvChanges::default();
    env.set("DATABRICKS_HOST", ws.host.as_str());
    match token {
        None => {
            env.set("DATABRICKS_CONFIG_PROFILE", live_profile_name(ws));
            env.remove("DATABRICKS_TOKEN");
        }
        Some(t) => {
            env.remove("DATABRICKS_CONFIG_PROFILE");
            env.secrets.push(("DATABRICKS_TOKEN".into(), t.clone()));
        }
    }
    env
}

/// POSIX shell lines for `eval "$(lakepass env)"`: `unset` for removals, `export K='v'` for the
/// rest.
pub fn export_lines(env: &EnvChanges) -> String {
    let mut out = String::new();
    for k in &env.remove {
        out.push_str(&format!("unset {k}\n"));
    }
    for (k, v) in &env.set {
        out.push_str(&format!("export {k}={}\n", sh_quote(v)));
    }
    for (k, v) in &env.secrets {
        out.push_str(&format!("export {k}={}\n", sh_quote(v.secret())));
    }
    out
}
