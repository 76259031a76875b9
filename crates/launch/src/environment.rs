//! The environment a launched program gets: what is set, what is removed from the inherited
//! environment, and how that reads as shell `export` lines.
//!
//! A workspace's environment names the workspace (`DATABRICKS_HOST`) and its `<profile>-live`
//! profile (`DATABRICKS_CONFIG_PROFILE`), which the live token service keeps fresh: no token.
//! Only when asked (`lakepass env --with-token`) does a token go in, as `DATABRICKS_TOKEN`, and
//! then the profile is unset, because the SDKs would otherwise see two ways to sign in.
//!
//! A company that inspects TLS needs its CA trusted by every tool, not only by Lakepass. When
//! the config names a `ca_file` for the workspace (or globally), the launch passes it on, each
//! variable only where the user has not set it already ([`pass_on_ca`]):
//! `NODE_EXTRA_CA_CERTS` (Node, hence Claude Code: added to its built-in roots, so it gets the
//! company CAs alone), and `REQUESTS_CA_BUNDLE` (Python requests, hence the Databricks SDK) and
//! `SSL_CERT_FILE` (OpenSSL, Go and others), which *replace* the default roots, so they get a
//! bundle of the system's roots plus the company CAs ([`write_ca_files`]): a tool that also
//! talks to uninspected hosts keeps trusting them.

use std::path::{Path, PathBuf};

use lakepass_config::{Config, Workspace};
use lakepass_engine::sink::live_profile_name;
use lakepass_store::atomic::{create_private_dirs, write_atomic};
use lakepass_store::paths::sanitize;
use lakepass_wire::secret::Secret;

use lakepass_engine::sink::sh_quote;

/// Changes to an inherited environment. Secret values are kept apart so that `Debug` (and any
/// log line) shows their names only.
///
/// Serialized (into a launch's plan file), only the names and plain values go: the secrets are
/// never written, and a plan that holds any is refused before it is saved.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EnvChanges {
    /// Variables to set, in order.
    pub set: Vec<(String, String)>,
    /// Variables to set whose values are secrets (`DATABRICKS_TOKEN` with `--with-token`).
    #[serde(skip)]
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

/// The variables that pass a CA on, in the order they are set.
pub const CA_VARS: [&str; 3] = ["NODE_EXTRA_CA_CERTS", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"];

/// Where the system keeps its CA bundle, by distribution (Debian/Ubuntu, Fedora/RHEL,
/// openSUSE, macOS/Alpine): the first that exists goes into the replacing bundle.
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// The CA files to hand to tools launched for workspace `workspace`: the global `ca_file`,
/// then the workspace's own (`~` expanded), without repeats.
pub fn workspace_ca_files(config: &Config, workspace: &str, home: Option<&Path>) -> Vec<PathBuf> {
    let own = config.workspace.get(workspace).and_then(|w| w.ca_file.as_ref());
    let mut out: Vec<PathBuf> = Vec::new();
    for p in config.ca_file.iter().chain(own) {
        let p = super::expand_home(&p.to_string_lossy(), home);
        if !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

/// The files the CA variables name: the company CAs alone, and the system's roots plus them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaFiles {
    /// For `NODE_EXTRA_CA_CERTS` (added to Node's roots).
    pub extra: PathBuf,
    /// For `REQUESTS_CA_BUNDLE` and `SSL_CERT_FILE` (replacing the default roots).
    pub bundle: PathBuf,
}

/// Sets the CA variables to `files`, each only where `user_has(var)` is false: a CA the user
/// chose for a tool stays theirs.
pub fn pass_on_ca(env: &mut EnvChanges, files: &CaFiles, user_has: impl Fn(&str) -> bool) {
    for var in CA_VARS {
        if user_has(var) {
            continue;
        }
        let file = if var == "NODE_EXTRA_CA_CERTS" { &files.extra } else { &files.bundle };
        env.set(var, file.to_string_lossy().into_owned());
    }
}

/// The PEM text of the replacing bundle: the system's bundle (if any), then each CA file.
pub fn ca_bundle(system: Option<&str>, cas: &[String]) -> String {
    let mut out = String::new();
    for pem in system.into_iter().map(str::to_string).chain(cas.iter().cloned()) {
        out.push_str(pem.trim_end());
        out.push('\n');
    }
    out
}

/// Writes the CA files for workspace `workspace` under `<data_dir>/launch` (atomically, 0600)
/// from `cas` (the `ca_file`s, which must be readable). With one CA file, `extra` is that file.
pub fn write_ca_files(data_dir: &Path, workspace: &str, cas: &[PathBuf]) -> std::io::Result<CaFiles> {
    let (files, writes) = ca_files_to_write(data_dir, workspace, cas)?;
    create_private_dirs(&data_dir.join("launch"))?;
    for (path, text) in writes {
        write_atomic(&path, text.as_bytes(), 0o600)?;
    }
    Ok(files)
}

/// The CA files for workspace `workspace` and the texts to write (0600, under
/// `<data_dir>/launch`) for them: reads `cas` and the system's bundle, writes nothing.
pub fn ca_files_to_write(
    data_dir: &Path,
    workspace: &str,
    cas: &[PathBuf],
) -> std::io::Result<(CaFiles, Vec<(PathBuf, String)>)> {
    // Capped and regular files only, as for Lakepass's own trust (`ca_file = "/dev/zero"`).
    let read = |p: &PathBuf| {
        let bytes = lakepass_wire::tls::read_ca_file(p).map_err(std::io::Error::other)?;
        String::from_utf8(bytes).map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{} is not PEM text", p.display()))
        })
    };
    let texts: Vec<String> = cas.iter().map(read).collect::<Result<_, _>>()?;
    let dir = data_dir.join("launch");
    let name = sanitize(workspace);
    let mut writes = Vec::new();
    let extra = match cas {
        [one] => one.clone(),
        _ => {
            let path = dir.join(format!("ca-extra-{name}.pem"));
            writes.push((path.clone(), ca_bundle(None, &texts)));
            path
        }
    };
    let system = SYSTEM_BUNDLES.iter().find_map(|p| std::fs::read_to_string(p).ok());
    let bundle = dir.join(format!("ca-bundle-{name}.pem"));
    writes.push((bundle.clone(), ca_bundle(system.as_deref(), &texts)));
    Ok((CaFiles { extra, bundle }, writes))
}
