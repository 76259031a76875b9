//! [`TempHome`]: a throwaway home for one test, with every path Lakepass and the Databricks
//! tools read pointed into it, and the scrubbed environment its children get.
//!
//! Why scrubbed: a developer's own `DATABRICKS_*`, proxies, log settings or D-Bus address
//! would leak into the process under test and make a test pass or fail for reasons outside it.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use tokio::process::Command;

/// A throwaway home directory for one test, with every path Lakepass and the Databricks tools
/// read pointed into it. Deleted on drop.
pub struct TempHome {
    dir: tempfile::TempDir,
    extra_env: BTreeMap<String, OsString>,
}

impl Default for TempHome {
    fn default() -> Self {
        Self::new()
    }
}

impl TempHome {
    /// Creates the folders.
    pub fn new() -> Self {
        let dir = tempfile::Builder::new().prefix("lakepass-e2e-").tempdir().expect("create temp home");
        let home = TempHome { dir, extra_env: BTreeMap::new() };
        for d in [home.home(), home.xdg_config(), home.xdg_data()] {
            std::fs::create_dir_all(d).expect("create temp home folders");
        }
        home
    }

    /// The temp root (HOME is `<root>/home`).
    pub fn root(&self) -> &Path {
        self.dir.path()
    }
    /// `$HOME`.
    pub fn home(&self) -> PathBuf {
        self.root().join("home")
    }
    /// `$XDG_CONFIG_HOME`.
    pub fn xdg_config(&self) -> PathBuf {
        self.home().join(".config")
    }
    /// `$XDG_DATA_HOME`.
    pub fn xdg_data(&self) -> PathBuf {
        self.home().join(".local/share")
    }
    /// `$LAKEPASS_DATA_DIR`.
    pub fn data_dir(&self) -> PathBuf {
        self.root().join("lakepass-data")
    }
    /// The default config path (`$XDG_CONFIG_HOME/lakepass/config.toml`).
    pub fn config_path(&self) -> PathBuf {
        self.xdg_config().join("lakepass").join("config.toml")
    }
    /// `$DATABRICKS_CONFIG_FILE` (`~/.databrickscfg`).
    pub fn databrickscfg(&self) -> PathBuf {
        self.home().join(".databrickscfg")
    }
    /// The file vault (`$LAKEPASS_DATA_DIR/vault.json`).
    pub fn vault_path(&self) -> PathBuf {
        self.data_dir().join("vault.json")
    }

    /// The keys the file vault holds now (`idp:…`, `ws:…`, `live:ws:…`, `m2m:…`); never values.
    pub fn vault_keys(&self) -> std::collections::BTreeSet<String> {
        let Ok(raw) = std::fs::read_to_string(self.vault_path()) else { return Default::default() };
        let entries: BTreeMap<String, serde_json::Value> = serde_json::from_str(&raw).unwrap_or_default();
        entries.into_keys().collect()
    }

    /// Sets an extra environment variable for every later child (e.g. `LAKEPASS_LOG`).
    pub fn set_env(&mut self, key: &str, value: impl Into<OsString>) {
        self.extra_env.insert(key.to_string(), value.into());
    }

    /// The whole environment children get: `PATH` and the locale from ours, nothing else
    /// inherited (no `DATABRICKS_*`, proxies, `LAKEPASS_*` or D-Bus address).
    pub fn env(&self) -> Vec<(String, OsString)> {
        let mut env: Vec<(String, OsString)> = ["PATH", "LANG", "LC_ALL", "TZ"]
            .iter()
            .filter_map(|k| std::env::var_os(k).map(|v| (k.to_string(), v)))
            .collect();
        let own = [
            ("HOME", self.home()),
            ("XDG_CONFIG_HOME", self.xdg_config()),
            ("XDG_DATA_HOME", self.xdg_data()),
            ("XDG_CACHE_HOME", self.home().join(".cache")),
            ("LAKEPASS_DATA_DIR", self.data_dir()),
            ("DATABRICKS_CONFIG_FILE", self.databrickscfg()),
            ("TMPDIR", std::env::temp_dir()),
        ];
        env.extend(own.into_iter().map(|(k, v)| (k.to_string(), v.into_os_string())));
        env.push(("LAKEPASS_VAULT".into(), "file".into()));
        env.push(("NO_COLOR".into(), "1".into()));
        env.push(("RUST_BACKTRACE".into(), "1".into()));
        for (k, v) in &self.extra_env {
            env.retain(|(key, _)| key != k);
            env.push((k.clone(), v.clone()));
        }
        env
    }

    /// A command for `program` with this home's environment, run from the temp root.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.env_clear().envs(self.env()).current_dir(self.root());
        cmd
    }

    /// Writes the Lakepass config file.
    pub fn write_config(&self, toml: &str) {
        let path = self.config_path();
        std::fs::create_dir_all(path.parent().expect("config has a folder")).expect("mkdir");
        std::fs::write(&path, toml).expect("write config");
    }
}
