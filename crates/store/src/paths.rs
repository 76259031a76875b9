//! Where Lakepass keeps its files, per platform, with the overrides tests and users need.
//!
//! Config: `--config`, else `$LAKEPASS_CONFIG`, else `<config dir>/lakepass/config.toml`
//! (`$XDG_CONFIG_HOME` on Linux, `~/Library/Application Support` on macOS, `%APPDATA%` on
//! Windows). Data (vault file fallback, state, locks, audit log): `$LAKEPASS_DATA_DIR`, else
//! `<data dir>/lakepass`. The shared credentials file: `$DATABRICKS_CONFIG_FILE`, else
//! `~/.databrickscfg`, as the Databricks CLI and SDKs read it.

use std::path::{Path, PathBuf};

/// The set of paths one Lakepass process works with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    /// The TOML config file.
    pub config: PathBuf,
    /// Folder for state, locks, the vault file fallback and logs.
    pub data_dir: PathBuf,
    /// The shared credentials file other tools read.
    pub databrickscfg: PathBuf,
}

impl Paths {
    /// Resolves paths from the environment; `config_override` is `--config`.
    pub fn from_env(config_override: Option<&Path>) -> Self {
        let config = config_override
            .map(Path::to_path_buf)
            .or_else(|| env_path("LAKEPASS_CONFIG"))
            .unwrap_or_else(Self::default_config);
        let data_dir = env_path("LAKEPASS_DATA_DIR").unwrap_or_else(Self::default_data_dir);
        let databrickscfg =
            env_path("DATABRICKS_CONFIG_FILE").unwrap_or_else(|| home().join(".databrickscfg"));
        Paths { config, data_dir, databrickscfg }
    }

    /// The config file used when neither `--config` nor `$LAKEPASS_CONFIG` names one.
    pub fn default_config() -> PathBuf {
        base_config_dir().join("lakepass").join("config.toml")
    }

    /// The data folder used when `$LAKEPASS_DATA_DIR` names none.
    pub fn default_data_dir() -> PathBuf {
        base_data_dir().join("lakepass")
    }

    /// Paths all under one folder: for tests and the demo.
    pub fn under(root: &Path) -> Self {
        Paths {
            config: root.join("config.toml"),
            data_dir: root.join("data"),
            databrickscfg: root.join(".databrickscfg"),
        }
    }

    /// Lock file guarding one named resource (an IdP session, a workspace token).
    pub fn lock_file(&self, name: &str) -> PathBuf {
        self.data_dir.join("locks").join(format!("{}.lock", sanitize(name)))
    }

    /// The non-secret state file (expiry times, last errors) the engine publishes.
    pub fn state_file(&self) -> PathBuf {
        self.data_dir.join("state.json")
    }
}

/// Turns a name (an IdP name, a host URL) into a safe file name.
pub fn sanitize(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect()
}

fn env_path(var: &str) -> Option<PathBuf> {
    std::env::var_os(var).filter(|v| !v.is_empty()).map(PathBuf::from)
}

fn home() -> PathBuf {
    dirs::home_dir().unwrap_or_else(|| PathBuf::from("."))
}

fn base_config_dir() -> PathBuf {
    dirs::config_dir().unwrap_or_else(|| home().join(".config"))
}

fn base_data_dir() -> PathBuf {
    dirs::data_dir().unwrap_or_else(|| home().join(".local").join("share"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn under_keeps_everything_in_one_folder() {
        let p = Paths::under(Path::new("/t"));
        assert_eq!(p.config, Path::new("/t/config.toml"));
        assert_eq!(p.lock_file("https://a.b:1"), Path::new("/t/data/locks/https___a_b_1.lock"));
    }
}
