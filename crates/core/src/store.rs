//! What Lakepass remembers: secrets in the vault, everything else in a small state file.
//!
//! The vault keys are `idp:<name>` for an IdP session and `ws:<host>[|<client_id>]` for a
//! workspace token, so a token is keyed by the workspace that minted it and is re-checked
//! against that host when read. The non-secret state file (`state.json`: expiry, state, last
//! error per workspace) lets `status` and the tray answer without touching the keyring.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::clock::UnixTime;
use crate::config::Workspace;
use crate::exchange::WorkspaceToken;
use crate::idp::IdpSession;
use crate::secret::Secret;
use crate::vault::{Vault, VaultError};

/// Secrets and state for one Lakepass installation.
#[derive(Debug, Clone)]
pub struct Store {
    vault: Vault,
}

/// A stored value that no longer parses (an older format, a hand edit).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The vault failed.
    #[error(transparent)]
    Vault(#[from] VaultError),
}

impl Store {
    /// Wraps an opened vault.
    pub fn new(vault: Vault) -> Self {
        Store { vault }
    }

    /// The vault underneath (for `status`: where secrets live).
    pub fn vault(&self) -> &Vault {
        &self.vault
    }

    /// The vault key of an IdP session.
    pub fn idp_key(idp: &str) -> String {
        format!("idp:{idp}")
    }

    /// The vault key of a workspace's token: its host, and the service principal if any.
    pub fn workspace_key(ws: &Workspace) -> String {
        match &ws.client_id {
            Some(id) => format!("ws:{}|{id}", ws.host),
            None => format!("ws:{}", ws.host),
        }
    }

    /// The IdP session, if signed in. An unreadable entry counts as signed out.
    pub async fn idp_session(&self, idp: &str) -> Result<Option<IdpSession>, StoreError> {
        Ok(self.vault.get(&Self::idp_key(idp)).await?.and_then(|s| {
            serde_json::from_str(s.secret())
                .inspect_err(
                    |e| tracing::warn!(idp, error = %e, "stored IdP session unreadable; sign in again"),
                )
                .ok()
        }))
    }

    /// Saves an IdP session.
    pub async fn save_idp_session(&self, idp: &str, s: &IdpSession) -> Result<(), StoreError> {
        let json = Secret::new(serde_json::to_string(s).expect("session serializes"));
        Ok(self.vault.set(&Self::idp_key(idp), &json).await?)
    }

    /// Forgets an IdP session.
    pub async fn delete_idp_session(&self, idp: &str) -> Result<(), StoreError> {
        Ok(self.vault.delete(&Self::idp_key(idp)).await?)
    }

    /// The workspace's token, if any, and only if it was minted by that workspace's host.
    pub async fn workspace_token(&self, ws: &Workspace) -> Result<Option<WorkspaceToken>, StoreError> {
        let Some(raw) = self.vault.get(&Self::workspace_key(ws)).await? else {
            return Ok(None);
        };
        let token: Option<WorkspaceToken> = serde_json::from_str(raw.secret()).ok();
        Ok(token.filter(|t| t.host == ws.host))
    }

    /// Saves a workspace token.
    pub async fn save_workspace_token(&self, ws: &Workspace, t: &WorkspaceToken) -> Result<(), StoreError> {
        debug_assert_eq!(t.host, ws.host);
        let json = Secret::new(serde_json::to_string(t).expect("token serializes"));
        Ok(self.vault.set(&Self::workspace_key(ws), &json).await?)
    }

    /// Forgets a workspace token.
    pub async fn delete_workspace_token(&self, ws: &Workspace) -> Result<(), StoreError> {
        Ok(self.vault.delete(&Self::workspace_key(ws)).await?)
    }
}

/// Where a workspace's token stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenState {
    /// Valid, not due for refresh.
    Fresh,
    /// Inside the refresh window, or no token yet but signed in.
    Expiring,
    /// A refresh is under way.
    Refreshing,
    /// The last refresh failed; retrying with backoff. The old token may still be valid.
    Failed,
    /// Only an interactive sign-in can help.
    NeedsLogin,
}

/// The published, non-secret view of one workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkspaceStatus {
    /// Name in config.
    pub name: String,
    /// The workspace host.
    pub host: String,
    /// Its `~/.databrickscfg` profile.
    pub profile: String,
    /// The state.
    pub state: TokenState,
    /// When the current token expires, if there is one.
    pub expires_at: Option<UnixTime>,
    /// When the engine will refresh it.
    pub refresh_due_at: Option<UnixTime>,
    /// The last error, in words (never a token).
    pub last_error: Option<String>,
}

impl WorkspaceStatus {
    /// Seconds of validity left at `now` (0 when expired or no token).
    pub fn seconds_left(&self, now: UnixTime) -> i64 {
        self.expires_at.map(|e| (e - now).max(0)).unwrap_or(0)
    }
}

/// Everything the engine publishes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Per workspace, in config order.
    pub workspaces: Vec<WorkspaceStatus>,
    /// When this snapshot was taken.
    pub at: UnixTime,
}

/// Writes the snapshot as `state.json` (no secrets in it), atomically.
pub fn write_state_file(path: &Path, snap: &Snapshot) -> std::io::Result<()> {
    let _lock = state_lock(path)?;
    let json = serde_json::to_vec_pretty(snap).expect("snapshot serializes");
    crate::atomic::write_atomic(path, &json, 0o600)
}

/// Replaces one workspace's entry in `state.json`, keeping the others: what a short-lived
/// process that refreshed one workspace publishes.
pub fn merge_state_entry(
    path: &Path,
    entry: WorkspaceStatus,
    now: crate::clock::UnixTime,
) -> std::io::Result<()> {
    let _lock = state_lock(path)?;
    let mut snap = std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice::<Snapshot>(&b).ok())
        .unwrap_or_default();
    match snap.workspaces.iter_mut().find(|w| w.name == entry.name) {
        Some(w) => *w = entry,
        None => snap.workspaces.push(entry),
    }
    snap.at = now;
    let json = serde_json::to_vec_pretty(&snap).expect("snapshot serializes");
    crate::atomic::write_atomic(path, &json, 0o600)
}

fn state_lock(path: &Path) -> std::io::Result<crate::lock::FileLock> {
    let lock_path = path.with_extension("json.lock");
    crate::lock::FileLock::acquire(&lock_path, std::time::Duration::from_secs(5))
        .map_err(|e| std::io::Error::other(e.to_string()))
}

/// Reads `state.json`; missing or unreadable gives an empty map.
pub fn read_state_file(path: &Path) -> BTreeMap<String, WorkspaceStatus> {
    std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice::<Snapshot>(&b).ok())
        .map(|s| s.workspaces.into_iter().map(|w| (w.name.clone(), w)).collect())
        .unwrap_or_default()
}
