//! Building the engine a command runs on, the one way the core builds it.

use lakepass_config::Config;
use lakepass_engine::engine::vault_kind_from_env;
use lakepass_engine::{Engine, EngineBuilder};
use lakepass_store::{Paths, VaultKind};

/// Loads the config file.
pub fn load_config(paths: &Paths) -> anyhow::Result<Config> {
    Ok(Config::load(&paths.config)?)
}

/// Config + vault (honouring `LAKEPASS_VAULT=keyring|file`) + HTTP + system clock, loaded.
pub async fn engine(paths: &Paths) -> anyhow::Result<Engine> {
    engine_with_vault(paths, vault_kind_from_env()?).await
}

/// Like [`engine`], with a given vault kind.
pub async fn engine_with_vault(paths: &Paths, kind: Option<VaultKind>) -> anyhow::Result<Engine> {
    let engine = EngineBuilder::new(paths.clone()).vault_kind(kind).build().await?;
    if let Some(why) = engine.store().vault().fallback_reason() {
        tracing::info!(reason = why, "OS keyring unavailable; secrets are stored in a file");
    }
    Ok(engine)
}

/// Opens the vault alone (for commands that need no engine), honouring `LAKEPASS_VAULT`.
pub async fn open_vault(paths: &Paths) -> anyhow::Result<lakepass_store::Vault> {
    Ok(lakepass_store::Vault::open(&paths.data_dir, vault_kind_from_env()?)
        .await
        .map_err(lakepass_engine::BuildError::from)?)
}
