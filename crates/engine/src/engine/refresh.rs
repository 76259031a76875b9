//! One workspace's token: served from cache while fresh, else exchanged anew under the
//! workspace's in-process and cross-process locks, then handed to every sink.

use super::schedule::refresh_due_at;
use super::{Engine, EngineError, LOCK_TIMEOUT};
use crate::audit::EventKind;
use crate::roles;
use crate::store::Store;
use lakepass_config::Workspace;
use lakepass_store::lock;
use lakepass_wire::clock::UnixTime;
use lakepass_wire::exchange::{self, ExchangeParams, WorkspaceToken};

impl Engine {
    /// A valid token for `ws`: the cached one while it is not due for refresh, else a new one.
    pub async fn token(&self, ws: &Workspace) -> Result<WorkspaceToken, EngineError> {
        if let Some(t) = self.0.store.workspace_token(ws).await?
            && self.now() < refresh_due_at(&t)
        {
            return Ok(t);
        }
        self.refresh_workspace(ws, false).await
    }

    /// A valid token for `ws` for a long-running server (the live token service, the IPC
    /// channel): the token this engine holds in memory while it is not due, else
    /// [`Engine::token`]. When that refresh fails but the held token is still valid for a
    /// while, the held one is returned: a consumer keeps working through a short outage.
    pub async fn live_token(&self, ws: &Workspace) -> Result<WorkspaceToken, EngineError> {
        let now = self.now();
        let held = self.held_token(ws);
        if let Some(t) = &held
            && now < refresh_due_at(t)
        {
            return Ok(t.clone());
        }
        match self.token(ws).await {
            Ok(t) => {
                self.update(&ws.name, |r| r.token = Some(t.clone()));
                Ok(t)
            }
            Err(e) => match held {
                Some(t) if t.expires_at - now > 30 => {
                    tracing::warn!(workspace = %ws.name, kind = %e.kind(), "refresh failed; serving the held token until it expires");
                    Ok(t)
                }
                _ => Err(e),
            },
        }
    }

    /// Exchanges a new token for `ws` (when `force`, even if the cached one is fresh), under the
    /// workspace's lock, saves it in the vault and hands it to the sinks.
    ///
    /// A token adopted from another process (or from another workspace on the same host, which
    /// shares its vault key) goes to the sinks too: the other one wrote only its own profiles,
    /// and only this process serves the `-live` profiles a sign-out removed. Writing a profile
    /// that already holds the token changes nothing on disk.
    pub async fn refresh_workspace(
        &self,
        ws: &Workspace,
        force: bool,
    ) -> Result<WorkspaceToken, EngineError> {
        let asked_at = self.now();
        self.update(&ws.name, |r| r.refreshing = true);
        self.publish();
        let started = std::time::Instant::now();
        let result = self.refresh_locked(ws, force, asked_at).await;
        // A token adopted from another process was that process's exchange, not ours: ten
        // parallel callers make one exchange and one audit line.
        let ours = result.as_ref().map_or(true, |(_, adopted)| !adopted);
        if ours {
            self.audit(EventKind::Exchange, Some(&ws.name), None, started, result.as_ref().err()).await;
        } else if let Ok((t, _)) = &result {
            self.deliver(ws, t).await;
        }
        let result = result.map(|(t, _)| t);
        self.settle(ws, &result).await;
        result
    }

    /// Returns the token and whether it was adopted from another process (or task).
    async fn refresh_locked(
        &self,
        ws: &Workspace,
        force: bool,
        asked_at: UnixTime,
    ) -> Result<(WorkspaceToken, bool), EngineError> {
        let key = Store::workspace_key(ws);
        let _inproc = self.0.ws_locks[&key].lock().await;
        let _file = lock::acquire_async(self.0.paths.lock_file(&key), LOCK_TIMEOUT).await?;
        // Another process (or task) may have refreshed while we waited: adopt its token.
        if let Some(t) = self.0.store.workspace_token(ws).await? {
            let adopted = if force { t.issued_at > asked_at } else { self.now() < refresh_due_at(&t) };
            if adopted {
                return Ok((t, true));
            }
        }
        let token = if roles::is_m2m(ws) {
            self.m2m_token(ws).await?
        } else {
            let subject = self.subject_token(ws).await?;
            // Role mapping: the user's role claim picks the service principal.
            let client_id = roles::pick_client_id(ws, subject.secret())?;
            let params = ExchangeParams {
                host: &ws.host,
                workspace: &ws.name,
                scopes: &ws.scopes,
                client_id: client_id.as_deref(),
            };
            exchange::exchange(&self.0.http, &params, &subject, self.now()).await?
        };
        self.0.store.save_workspace_token(ws, &token).await?;
        tracing::info!(workspace = %ws.name, host = %ws.host, expires_at = token.expires_at, "token exchanged");
        self.deliver(ws, &token).await;
        Ok((token, false))
    }

    /// An M2M workspace's token: OAuth client credentials with the secret from the vault.
    async fn m2m_token(&self, ws: &Workspace) -> Result<WorkspaceToken, EngineError> {
        let client_id = ws.client_id.clone().unwrap_or_default();
        let secret = roles::m2m_secret(&self.0.store, ws).await?.ok_or_else(|| EngineError::NeedsSecret {
            workspace: ws.name.clone(),
            client_id: client_id.clone(),
        })?;
        let req = exchange::client_credentials_request(
            ws.host.join("/oidc/v1/token"),
            &client_id,
            &secret,
            &ws.scopes,
        );
        Ok(exchange::client_credentials(&self.0.http, &ws.host, &ws.name, &req, self.now()).await?)
    }
}
