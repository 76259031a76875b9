//! Least-privilege tokens for Databricks managed MCP servers: per workspace AND per scope.
//!
//! Each is its own RFC 8693 exchange (or client-credentials grant, for M2M workspaces) asking
//! for exactly one [`McpScope`], never a copy of the workspace's broader token. It follows the
//! workspace token's rules: served from the vault while not due, else exchanged under an
//! in-process and a cross-process lock keyed by workspace and scope (a loser adopts the winner's
//! token), refreshed by the run loop once someone asked for it, and audited. It goes to no sink:
//! `~/.databrickscfg` profiles hold the workspace token, and an MCP token there would narrow
//! every tool's access to one server's.

use std::sync::Arc;

use super::schedule::refresh_due_at;
use super::{Engine, EngineError, LOCK_TIMEOUT};
use crate::audit::{AuditEvent, EventKind};
use crate::error::Failure;
use crate::mcp::McpScope;
use crate::roles;
use crate::status::TokenState;
use crate::store::Store;
use lakepass_config::Workspace;
use lakepass_store::lock;
use lakepass_wire::clock::UnixTime;
use lakepass_wire::exchange::{self, ExchangeParams, WorkspaceToken};

/// What the engine holds for one workspace's scoped token.
#[derive(Debug, Default, Clone)]
pub(super) struct ScopedRuntime {
    pub(super) token: Option<WorkspaceToken>,
    pub(super) last_error: Option<Failure>,
}

/// One scoped token's state, for `status`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ScopedStatus {
    /// The workspace.
    pub workspace: String,
    /// The scope its token carries.
    pub scope: McpScope,
    /// When the held token expires, if one is held.
    pub expires_at: Option<UnixTime>,
    /// When the engine will refresh the held token (once someone asked for it).
    pub refresh_due_at: Option<UnixTime>,
    /// Why the last refresh failed, if it did.
    pub last_error: Option<Failure>,
}

impl ScopedStatus {
    /// Where this token stands at `now`, by the workspace token's rules: a failure that only a
    /// sign-in can fix is [`TokenState::NeedsLogin`], any other is [`TokenState::Failed`]; a held
    /// token not yet due is [`TokenState::Fresh`]; a due one, or none yet (exchanged on first
    /// use), is [`TokenState::Expiring`]. Front ends show this rather than judge the times.
    pub fn state(&self, now: UnixTime) -> TokenState {
        match (&self.last_error, self.refresh_due_at) {
            (Some(f), _) if f.kind.needs_login() => TokenState::NeedsLogin,
            (Some(_), _) => TokenState::Failed,
            (None, Some(due)) if now < due => TokenState::Fresh,
            (None, _) => TokenState::Expiring,
        }
    }
}

impl Engine {
    /// A valid token for `ws` carrying only `scope`: the vault's while not due, else a new one.
    pub async fn scoped_token(&self, ws: &Workspace, scope: McpScope) -> Result<WorkspaceToken, EngineError> {
        if let Some(t) = self.0.store.scoped_token(ws, scope).await?
            && self.now() < refresh_due_at(&t)
        {
            self.hold_scoped(ws, scope, Ok(&t));
            return Ok(t);
        }
        self.refresh_scoped(ws, scope, false).await
    }

    /// [`Engine::scoped_token`] for a long-running server (the IPC channel): the token held in
    /// memory while not due; when a refresh fails, the held one while it is still valid.
    pub async fn live_scoped_token(
        &self,
        ws: &Workspace,
        scope: McpScope,
    ) -> Result<WorkspaceToken, EngineError> {
        let now = self.now();
        let held = self.held_scoped(ws, scope);
        if let Some(t) = &held
            && now < refresh_due_at(t)
        {
            return Ok(t.clone());
        }
        match self.scoped_token(ws, scope).await {
            Ok(t) => Ok(t),
            Err(e) => match held {
                Some(t) if t.expires_at - now > 30 => Ok(t),
                _ => Err(e),
            },
        }
    }

    /// Exchanges a new token for `ws` and `scope` (when `force`, even if the stored one is
    /// fresh) under the scope's locks, saves and holds it.
    pub async fn refresh_scoped(
        &self,
        ws: &Workspace,
        scope: McpScope,
        force: bool,
    ) -> Result<WorkspaceToken, EngineError> {
        let asked_at = self.now();
        let started = std::time::Instant::now();
        let result = self.refresh_scoped_locked(ws, scope, force, asked_at).await;
        if result.as_ref().map_or(true, |(_, adopted)| !adopted) {
            let (now, took) = (self.now(), started.elapsed());
            let event = match result.as_ref().err() {
                None => AuditEvent::ok(EventKind::Exchange, now, took),
                Some(e) => AuditEvent::failure(EventKind::Exchange, now, took, e.kind(), &e.to_string())
                    .error_code(e.error_code()),
            };
            let event = event.workspace(&ws.name).message(&format!("scope {scope} (managed MCP)"));
            self.record_audit(event).await;
        }
        let result = result.map(|(t, _)| t);
        self.hold_scoped(ws, scope, result.as_ref());
        result
    }

    async fn refresh_scoped_locked(
        &self,
        ws: &Workspace,
        scope: McpScope,
        force: bool,
        asked_at: UnixTime,
    ) -> Result<(WorkspaceToken, bool), EngineError> {
        let key = Store::scoped_key(ws, scope);
        let inproc =
            self.0.scoped_locks.lock().expect("scoped locks").entry(key.clone()).or_default().clone();
        let _inproc = inproc.lock().await;
        let _file = lock::acquire_async(self.0.paths.lock_file(&key), LOCK_TIMEOUT).await?;
        if let Some(t) = self.0.store.scoped_token(ws, scope).await? {
            let adopted = if force { t.issued_at > asked_at } else { self.now() < refresh_due_at(&t) };
            if adopted {
                return Ok((t, true));
            }
        }
        let scopes = [scope.as_str().to_string()];
        let token = if roles::is_m2m(ws) {
            let client_id = ws.client_id.clone().unwrap_or_default();
            let secret = roles::m2m_secret(&self.0.store, ws).await?.ok_or_else(|| {
                EngineError::NeedsSecret { workspace: ws.name.clone(), client_id: client_id.clone() }
            })?;
            let req = exchange::client_credentials_request(
                ws.host.join("/oidc/v1/token"),
                &client_id,
                &secret,
                &scopes,
            );
            exchange::client_credentials(&self.0.http, &ws.host, &ws.name, &req, self.now()).await?
        } else {
            let subject = self.subject_token(ws).await?;
            let client_id = roles::pick_client_id(ws, subject.secret())?;
            let params = ExchangeParams {
                host: &ws.host,
                workspace: &ws.name,
                scopes: &scopes,
                client_id: client_id.as_deref(),
            };
            exchange::exchange(&self.0.http, &params, &subject, self.now()).await?
        };
        self.0.store.save_scoped_token(ws, scope, &token).await?;
        tracing::info!(workspace = %ws.name, %scope, expires_at = token.expires_at, "scoped token exchanged");
        Ok((token, false))
    }

    fn held_scoped(&self, ws: &Workspace, scope: McpScope) -> Option<WorkspaceToken> {
        let held = self.0.scoped.lock().expect("scoped state");
        held.get(&(ws.name.clone(), scope)).and_then(|r| r.token.clone()).filter(|t| t.host == ws.host)
    }

    fn hold_scoped(&self, ws: &Workspace, scope: McpScope, result: Result<&WorkspaceToken, &EngineError>) {
        let mut held = self.0.scoped.lock().expect("scoped state");
        let r = held.entry((ws.name.clone(), scope)).or_default();
        match result {
            Ok(t) => {
                r.token = Some(t.clone());
                r.last_error = None;
            }
            Err(e) => r.last_error = Some(e.failure()),
        }
    }

    /// Every scoped token this engine holds or failed to get, by workspace then scope.
    pub fn scoped_status(&self) -> Vec<ScopedStatus> {
        let held = self.0.scoped.lock().expect("scoped state");
        held.iter()
            .map(|((ws, scope), r)| ScopedStatus {
                workspace: ws.clone(),
                scope: *scope,
                expires_at: r.token.as_ref().map(|t| t.expires_at),
                refresh_due_at: r.token.as_ref().map(refresh_due_at),
                last_error: r.last_error.clone(),
            })
            .collect()
    }

    /// Loads the scoped tokens the vault holds for the scopes `[mcp.*]` lists, so status shows
    /// them and the run loop keeps them fresh.
    pub(super) async fn load_scoped(&self) -> Result<(), EngineError> {
        for ws in self.0.workspaces.clone() {
            for scope in crate::mcp::scopes(&self.0.config, &ws) {
                if let Some(t) = self.0.store.scoped_token(&ws, scope).await? {
                    self.hold_scoped(&ws, scope, Ok(&t));
                }
            }
        }
        Ok(())
    }

    /// Refreshes every held scoped token that is due (the run loop's share of the work): a
    /// token someone asked for stays fresh, so the next `headersHelper` run answers at once.
    /// One whose last refresh failed waits for the next ask (which retries and, on success,
    /// rejoins the loop), so a scope the workspace refuses is not re-exchanged every pass.
    pub(super) async fn refresh_due_scoped(&self) {
        let now = self.now();
        let due: Vec<(String, McpScope)> = {
            let held = self.0.scoped.lock().expect("scoped state");
            held.iter()
                .filter(|(_, r)| {
                    r.last_error.is_none() && r.token.as_ref().is_some_and(|t| now >= refresh_due_at(t))
                })
                .map(|(k, _)| k.clone())
                .collect()
        };
        for (name, scope) in due {
            let Some(ws) = self.workspace_named(&name).cloned() else { continue };
            if let Err(e) = self.refresh_scoped(&ws, scope, false).await {
                tracing::warn!(workspace = %name, %scope, kind = %e.kind(), "scoped refresh failed");
            }
        }
    }

    /// The earliest refresh due time of a held scoped token, for the run loop's sleep.
    pub(super) fn next_scoped_due(&self) -> Option<UnixTime> {
        let held = self.0.scoped.lock().expect("scoped state");
        held.values()
            .filter(|r| r.last_error.is_none())
            .filter_map(|r| r.token.as_ref().map(refresh_due_at))
            .min()
    }

    /// Forgets the scoped tokens of `ws` (vault and memory): on sign-out.
    pub(super) async fn forget_scoped(&self, ws: &Workspace) -> Result<(), EngineError> {
        for scope in McpScope::ALL {
            self.0.store.delete_scoped_token(ws, scope).await?;
        }
        self.0.scoped.lock().expect("scoped state").retain(|(name, _), _| name != &ws.name);
        Ok(())
    }
}

/// The in-process locks of scoped exchanges, made on first use (scopes are few and fixed).
pub(super) type ScopedLocks =
    std::sync::Mutex<std::collections::HashMap<String, Arc<tokio::sync::Mutex<()>>>>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn status(refresh_due_at: Option<UnixTime>, last_error: Option<ErrorKind>) -> ScopedStatus {
        ScopedStatus {
            workspace: "dev".into(),
            scope: McpScope::Sql,
            expires_at: refresh_due_at.map(|d| d + 300),
            refresh_due_at,
            last_error: last_error.map(|k| Failure::new(k, "it went wrong")),
        }
    }

    #[test]
    fn a_scoped_token_state_follows_the_workspace_token_rules() {
        assert_eq!(status(Some(1_000), None).state(999), TokenState::Fresh);
        assert_eq!(status(Some(1_000), None).state(1_000), TokenState::Expiring, "due at the second");
        assert_eq!(status(None, None).state(0), TokenState::Expiring, "none yet: exchanged on first use");
        assert_eq!(status(Some(1_000), Some(ErrorKind::Network)).state(0), TokenState::Failed);
        assert!(ErrorKind::NeedsLogin.needs_login());
        assert_eq!(status(None, Some(ErrorKind::NeedsLogin)).state(0), TokenState::NeedsLogin);
    }
}
