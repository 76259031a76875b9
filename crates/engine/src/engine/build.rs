//! Building an engine the way every front end does: config, vault, HTTP client, clock, loaded.
//!
//! The CLI, the daemon, the tray and the benchmarks all need the same steps in the same order;
//! they used to repeat them. [`EngineBuilder`] is those steps, with knobs for what tests and the
//! tray change (a vault kind, a clock, tunables).

use std::sync::Arc;

use super::{Engine, EngineError, EngineOptions};
use crate::error::ErrorKind;
use crate::store::Store;
use lakepass_config::{Config, ConfigError};
use lakepass_store::paths::Paths;
use lakepass_store::vault::{Vault, VaultError, VaultKind};
use lakepass_wire::clock::{SharedClock, SystemClock};
use lakepass_wire::http::Http;

/// Why an engine could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The config file is missing or broken.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// `LAKEPASS_VAULT` names no vault kind.
    #[error("LAKEPASS_VAULT must be `keyring` or `file`, not `{0}`")]
    VaultSetting(String),
    /// The vault could not be opened.
    #[error("opening the secret vault: {0}")]
    Vault(#[from] VaultError),
    /// The engine could not load what the vault holds.
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl BuildError {
    /// Its kind, for exit codes and the UI.
    pub fn kind(&self) -> ErrorKind {
        match self {
            BuildError::Config(_) | BuildError::VaultSetting(_) => ErrorKind::Config,
            BuildError::Vault(_) => ErrorKind::Vault,
            BuildError::Engine(e) => e.kind(),
        }
    }
}

/// `LAKEPASS_VAULT=keyring|file` forces a vault kind; unset or empty lets Lakepass choose.
pub fn vault_kind_from_env() -> Result<Option<VaultKind>, BuildError> {
    match std::env::var("LAKEPASS_VAULT") {
        Ok(v) if !v.is_empty() => v.parse().map(Some).map_err(|_| BuildError::VaultSetting(v)),
        _ => Ok(None),
    }
}

/// Builds an [`Engine`]: loads the config, opens the vault (unless given one), and loads the
/// tokens the vault holds so the first snapshot is right.
#[derive(Debug)]
pub struct EngineBuilder {
    paths: Paths,
    config: Option<Config>,
    vault: Option<Vault>,
    vault_kind: Option<VaultKind>,
    http: Option<Http>,
    clock: SharedClock,
    opts: EngineOptions,
}

impl EngineBuilder {
    /// A builder over the files at `paths`, with the defaults users get.
    pub fn new(paths: Paths) -> Self {
        EngineBuilder {
            paths,
            config: None,
            vault: None,
            vault_kind: None,
            http: None,
            clock: Arc::new(SystemClock),
            opts: EngineOptions::default(),
        }
    }

    /// Use this config instead of loading `paths.config`.
    pub fn config(mut self, config: Config) -> Self {
        self.config = Some(config);
        self
    }

    /// Use this opened vault.
    pub fn vault(mut self, vault: Vault) -> Self {
        self.vault = Some(vault);
        self
    }

    /// Force a vault kind (`None`: the keyring, falling back to a file).
    pub fn vault_kind(mut self, kind: Option<VaultKind>) -> Self {
        self.vault_kind = kind;
        self
    }

    /// Use this HTTP client.
    pub fn http(mut self, http: Http) -> Self {
        self.http = Some(http);
        self
    }

    /// Use this clock.
    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// Use these tunables.
    pub fn options(mut self, opts: EngineOptions) -> Self {
        self.opts = opts;
        self
    }

    /// Loads, opens and builds.
    pub async fn build(self) -> Result<Engine, BuildError> {
        let config = match self.config {
            Some(c) => c,
            None => Config::load(&self.paths.config)?,
        };
        let vault = match self.vault {
            Some(v) => v,
            None => Vault::open(&self.paths.data_dir, self.vault_kind).await?,
        };
        let http = self.http.unwrap_or_else(|| Http::with_trust(&config.trust()));
        let engine = Engine::new(config, self.paths, Store::new(vault), http, self.clock, self.opts)?;
        engine.load().await?;
        Ok(engine)
    }
}
