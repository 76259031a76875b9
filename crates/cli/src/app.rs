//! Building the engine a command runs on: config, vault, HTTP client, clock.

use std::sync::Arc;

use anyhow::Context;
use lakepass_core::config::Config;
use lakepass_core::engine::{Engine, EngineOptions};
use lakepass_core::http::Http;
use lakepass_core::store::Store;
use lakepass_core::vault::{Vault, VaultKind};
use lakepass_core::{Paths, SystemClock};

/// Loads the config file.
pub fn load_config(paths: &Paths) -> anyhow::Result<Config> {
    Ok(Config::load(&paths.config)?)
}

/// Opens the vault, honouring `LAKEPASS_VAULT=keyring|file`.
pub async fn open_vault(paths: &Paths) -> anyhow::Result<Vault> {
    let forced = match std::env::var("LAKEPASS_VAULT") {
        Ok(v) if !v.is_empty() => Some(
            v.parse::<VaultKind>()
                .map_err(|_| anyhow::anyhow!("LAKEPASS_VAULT must be `keyring` or `file`, not `{v}`"))?,
        ),
        _ => None,
    };
    let vault = Vault::open(&paths.data_dir, forced).await.context("opening the secret vault")?;
    if let Some(why) = vault.fallback_reason() {
        tracing::info!(reason = why, "OS keyring unavailable; secrets are stored in a file");
    }
    Ok(vault)
}

/// Config + vault + HTTP + system clock, loaded.
pub async fn engine(paths: &Paths) -> anyhow::Result<Engine> {
    let vault = open_vault(paths).await?;
    build(paths, vault).await
}

/// Like [`engine`], with a given vault kind.
pub async fn engine_with_vault(paths: &Paths, kind: Option<VaultKind>) -> anyhow::Result<Engine> {
    let vault = Vault::open(&paths.data_dir, kind).await.context("opening the secret vault")?;
    build(paths, vault).await
}

async fn build(paths: &Paths, vault: Vault) -> anyhow::Result<Engine> {
    let config = load_config(paths)?;
    let engine = Engine::new(
        config,
        paths.clone(),
        Store::new(vault),
        Http::new(),
        Arc::new(SystemClock),
        EngineOptions::default(),
    )?;
    engine.load().await?;
    Ok(engine)
}
