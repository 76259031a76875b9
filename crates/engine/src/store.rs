//! What Lakepass keeps secret, and under which vault key: the one place that knows the keys.
//!
//! - `idp:<name>`: an IdP session (id_token, access and refresh tokens);
//! - `ws:<host>[|<client_id>]`: a workspace token, keyed by the workspace that minted it and
//!   re-checked against that host when read;
//! - `ws:<host>[|<client_id>]#<scope>`: a least-privilege token carrying only one managed MCP
//!   server's scope ([`McpScope`]); kept apart from the workspace's own token and from every
//!   other scope's, and re-checked against the host and the scope when read;
//! - `m2m:<host>|<client_id>`: a service principal's client secret;
//! - `live:ws:<host>[|<client_id>]`: a path secret an older version kept (now never stored;
//!   removed with its workspace).
//!
//! The non-secret status lives elsewhere ([`crate::status`], written by a sink).

use crate::mcp::McpScope;
use lakepass_config::Workspace;
use lakepass_store::vault::{Vault, VaultError};
use lakepass_wire::exchange::WorkspaceToken;
use lakepass_wire::idp::IdpSession;
use lakepass_wire::secret::Secret;

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
    pub(crate) fn idp_key(idp: &str) -> String {
        format!("idp:{idp}")
    }

    /// The vault key of a workspace's token: its host, and the service principal if any.
    pub(crate) fn workspace_key(ws: &Workspace) -> String {
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
    pub(crate) async fn delete_idp_session(&self, idp: &str) -> Result<(), StoreError> {
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
    pub(crate) async fn delete_workspace_token(&self, ws: &Workspace) -> Result<(), StoreError> {
        Ok(self.vault.delete(&Self::workspace_key(ws)).await?)
    }

    /// The vault key of `ws`'s token for one MCP scope: the workspace key, `#`, the scope.
    pub(crate) fn scoped_key(ws: &Workspace, scope: McpScope) -> String {
        format!("{}#{scope}", Self::workspace_key(ws))
    }

    /// `ws`'s token for `scope`, if any, and only if that host minted it for that scope alone.
    pub async fn scoped_token(
        &self,
        ws: &Workspace,
        scope: McpScope,
    ) -> Result<Option<WorkspaceToken>, StoreError> {
        let Some(raw) = self.vault.get(&Self::scoped_key(ws, scope)).await? else {
            return Ok(None);
        };
        let token: Option<WorkspaceToken> = serde_json::from_str(raw.secret()).ok();
        Ok(token.filter(|t| {
            t.host == ws.host && crate::mcp::scope_answer(t, scope) == crate::mcp::ScopeAnswer::AsAsked
        }))
    }

    /// The fallback remembered for `ws` and `scope`, if its vault entry holds one rather than a
    /// token: the workspace would not give that scope a token of its own.
    pub async fn scoped_fallback(
        &self,
        ws: &Workspace,
        scope: McpScope,
    ) -> Result<Option<crate::mcp::McpFallback>, StoreError> {
        let Some(raw) = self.vault.get(&Self::scoped_key(ws, scope)).await? else {
            return Ok(None);
        };
        Ok(serde_json::from_str::<FallbackEntry>(raw.secret()).ok().map(|e| e.fallback))
    }

    /// Remembers in `ws`'s entry for `scope` that the scope falls back to the workspace token
    /// (replacing any token held there). A sign-in deletes it with the scoped tokens.
    pub(crate) async fn save_scoped_fallback(
        &self,
        ws: &Workspace,
        scope: McpScope,
        fallback: &crate::mcp::McpFallback,
    ) -> Result<(), StoreError> {
        let entry = FallbackEntry { fallback: fallback.clone() };
        let json = Secret::new(serde_json::to_string(&entry).expect("fallback serializes"));
        Ok(self.vault.set(&Self::scoped_key(ws, scope), &json).await?)
    }

    /// Saves `ws`'s token for `scope`.
    pub(crate) async fn save_scoped_token(
        &self,
        ws: &Workspace,
        scope: McpScope,
        t: &WorkspaceToken,
    ) -> Result<(), StoreError> {
        debug_assert_eq!(t.host, ws.host);
        let json = Secret::new(serde_json::to_string(t).expect("token serializes"));
        Ok(self.vault.set(&Self::scoped_key(ws, scope), &json).await?)
    }

    /// Forgets `ws`'s token for `scope`.
    pub(crate) async fn delete_scoped_token(
        &self,
        ws: &Workspace,
        scope: McpScope,
    ) -> Result<(), StoreError> {
        Ok(self.vault.delete(&Self::scoped_key(ws, scope)).await?)
    }

    /// The vault key of an M2M workspace's client secret: `m2m:<host>|<client_id>`.
    pub(crate) fn m2m_secret_key(ws: &Workspace) -> String {
        format!("m2m:{}|{}", ws.host, ws.client_id.as_deref().unwrap_or(""))
    }

    /// The M2M client secret of `ws`, if one was stored.
    pub async fn m2m_secret(&self, ws: &Workspace) -> Result<Option<Secret>, StoreError> {
        Ok(self.vault.get(&Self::m2m_secret_key(ws)).await?)
    }

    /// Stores the M2M client secret of `ws` (and nowhere else).
    pub(crate) async fn save_m2m_secret(&self, ws: &Workspace, secret: &Secret) -> Result<(), StoreError> {
        Ok(self.vault.set(&Self::m2m_secret_key(ws), secret).await?)
    }

    /// Forgets the M2M client secret of `ws`.
    pub async fn delete_m2m_secret(&self, ws: &Workspace) -> Result<(), StoreError> {
        Ok(self.vault.delete(&Self::m2m_secret_key(ws)).await?)
    }

    /// The vault key under which earlier builds of Lakepass kept a workspace's live-service
    /// path secret. Path secrets are now made anew on every bind and never stored; the key is
    /// known only so that removing a workspace also removes what an older version left.
    pub(crate) fn legacy_path_secret_key(ws: &Workspace) -> String {
        format!("live:{}", Self::workspace_key(ws))
    }

    /// Forgets every secret Lakepass keeps for `ws` (its token, its MCP-scoped tokens, M2M
    /// secret and live-service path secret) that none of `remaining` shares (two workspaces on one host and client id
    /// share keys). Returns the keys that were there and are now gone.
    pub async fn forget_workspace(
        &self,
        ws: &Workspace,
        remaining: &[Workspace],
    ) -> Result<Vec<String>, StoreError> {
        let keys = |w: &Workspace| {
            let own = [Self::workspace_key(w), Self::m2m_secret_key(w), Self::legacy_path_secret_key(w)];
            own.into_iter().chain(McpScope::ALL.map(|s| Self::scoped_key(w, s))).collect::<Vec<_>>()
        };
        let shared: Vec<String> = remaining.iter().filter(|w| w.name != ws.name).flat_map(keys).collect();
        let mut removed = Vec::new();
        for key in keys(ws) {
            if shared.contains(&key) || self.vault.get(&key).await?.is_none() {
                continue;
            }
            self.vault.delete(&key).await?;
            removed.push(key);
        }
        Ok(removed)
    }

    /// Forgets the IdP session of `idp`; returns its key when there was one.
    pub async fn forget_idp(&self, idp: &str) -> Result<Option<String>, StoreError> {
        let key = Self::idp_key(idp);
        if self.vault.get(&key).await?.is_none() {
            return Ok(None);
        }
        self.vault.delete(&key).await?;
        Ok(Some(key))
    }
}

/// What a scoped vault entry holds instead of a token when its scope falls back.
#[derive(serde::Serialize, serde::Deserialize)]
struct FallbackEntry {
    fallback: crate::mcp::McpFallback,
}
