//! The one token path: every token the engine keeps, whatever its scope, is served, refreshed,
//! locked, cached and handed on here.
//!
//! A token is named by a [`TokenKey`]: a workspace and a [`TokenScope`] (the workspace's own
//! token, the one `~/.databrickscfg` holds, or a least-privilege token for one managed MCP
//! scope). All of them: served from the vault while not due, else exchanged (RFC 8693, or
//! client credentials for an M2M workspace) under an in-process and a cross-process lock keyed
//! by the token's vault key, held only around read → exchange → write, so a loser re-reads and
//! adopts the winner's token; audited; recorded in the [runtime](super::runtime); handed to the
//! sinks, which take only what the scope allows ([`TokenScope::reaches_sinks`]). What is
//! genuinely scope-specific stays with the scope: the scopes asked for, the vault key, and for
//! an MCP scope the judgement of the answer ([`crate::mcp::scope_answer`]): the scope asked is
//! kept; a refusal of it, or an `all-apis` answer, makes the workspace's own token serve that
//! scope (an [`McpFallback`], remembered in the scope's vault entry and said in its status)
//! unless `least_privilege` forbids it; any other scope is refused and never cached.
//!
//! This path calls the IdP session path (`session`) for a subject token; never the reverse.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::key::{TokenKey, TokenScope};
use super::timing::refresh_due_at;
use super::{Engine, EngineError, LOCK_TIMEOUT};
use crate::audit::{AuditEvent, EventKind};
use crate::mcp::{McpFallback, McpScope, ScopeAnswer};
use crate::roles;
use lakepass_config::Workspace;
use lakepass_store::lock;
use lakepass_wire::clock::UnixTime;
use lakepass_wire::exchange::{self, ExchangeParams, WorkspaceToken};

/// The in-process locks of exchanges, by vault key, made on first use.
pub(super) type TokenLocks = Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>;

/// What the workspace's answer to a request for one MCP scope comes to.
enum Scoped {
    /// A token of that scope alone: kept.
    Own(WorkspaceToken),
    /// The scope was refused (or answered with `all-apis`): why.
    Refused(String),
}

impl Engine {
    /// A valid token for `ws` and `scope`: the vault's while it is not due, else a new one. An
    /// MCP scope the workspace refused is served by the workspace's own token while the
    /// remembered fallback stands.
    pub async fn token_for(&self, ws: &Workspace, scope: TokenScope) -> Result<WorkspaceToken, EngineError> {
        if let TokenScope::Mcp(s) = scope
            && let Some(fallback) = self.standing_fallback(ws, s).await?
        {
            let t = self.token_for_key(ws, TokenScope::Workspace).await?;
            let key = TokenKey::new(ws, scope);
            self.0.runtime.fallback(&key, Some(fallback));
            self.0.runtime.found(&key, &t);
            return Ok(t);
        }
        self.token_for_key(ws, scope).await
    }

    /// The fallback of `ws`'s MCP `scope` if it stands and may be used.
    async fn standing_fallback(
        &self,
        ws: &Workspace,
        scope: McpScope,
    ) -> Result<Option<McpFallback>, EngineError> {
        if crate::mcp::least_privilege(&self.0.config, ws) || !crate::mcp::workspace_token_serves(ws, scope) {
            return Ok(None);
        }
        let now = self.now();
        Ok(self.0.store.scoped_fallback(ws, scope).await?.filter(|f| f.stands(now)))
    }

    /// [`Engine::token_for`] the token `scope` names itself, with no fallback.
    async fn token_for_key(&self, ws: &Workspace, scope: TokenScope) -> Result<WorkspaceToken, EngineError> {
        if let Some(t) = self.stored(ws, scope).await?
            && self.now() < refresh_due_at(&t)
        {
            self.0.runtime.found(&TokenKey::new(ws, scope), &t);
            return Ok(t);
        }
        self.refresh(ws, scope, false).await
    }

    /// [`Engine::token_for`] for a long-running server (the live token service, the IPC
    /// channel): the token held in memory while it is not due; when a refresh fails but the
    /// held token is still valid for a while, the held one: a consumer keeps working through a
    /// short outage.
    pub(crate) async fn live_token_for(
        &self,
        ws: &Workspace,
        scope: TokenScope,
    ) -> Result<WorkspaceToken, EngineError> {
        let now = self.now();
        let held = self.0.runtime.held(&TokenKey::new(ws, scope), ws);
        if let Some(t) = &held
            && now < refresh_due_at(t)
        {
            return Ok(t.clone());
        }
        match self.token_for(ws, scope).await {
            Ok(t) => Ok(t),
            Err(e) => match held {
                Some(t) if t.expires_at - now > 30 => {
                    tracing::warn!(workspace = %ws.name, %scope, kind = %e.kind(), "refresh failed; serving the held token until it expires");
                    Ok(t)
                }
                _ => Err(e),
            },
        }
    }

    /// Exchanges a new token for `ws` and `scope` (when `force`, even if the stored one is
    /// fresh) under its locks, saves it in the vault, records it and hands it on.
    ///
    /// A token adopted from another process (or from another workspace on the same host, which
    /// shares its vault key) is handed on too: the other one wrote only its own profiles, and
    /// only this process serves the `-live` profiles a sign-out removed. Writing a profile
    /// that already holds the token changes nothing on disk.
    pub async fn refresh(
        &self,
        ws: &Workspace,
        scope: TokenScope,
        force: bool,
    ) -> Result<WorkspaceToken, EngineError> {
        let key = TokenKey::new(ws, scope);
        let asked_at = self.now();
        self.0.runtime.refresh_started(&key);
        self.publish();
        let started = std::time::Instant::now();
        let result = self.refresh_locked(ws, scope, force, asked_at).await;
        // A token adopted from another process was that process's exchange, not ours: ten
        // parallel callers make one exchange and one audit line.
        let ours = result.as_ref().map_or(true, |(_, adopted)| !adopted);
        if ours {
            self.audit_exchange(ws, scope, started, result.as_ref().err()).await;
        } else if let Ok((t, _)) = &result {
            self.hand_off(ws, scope, t).await;
        }
        let result = result.map(|(t, _)| t);
        self.settle(ws, scope, &result).await;
        result
    }

    /// Returns the token and whether it was adopted from another process (or task).
    async fn refresh_locked(
        &self,
        ws: &Workspace,
        scope: TokenScope,
        force: bool,
        asked_at: UnixTime,
    ) -> Result<(WorkspaceToken, bool), EngineError> {
        let vault_key = scope.vault_key(ws);
        let in_process =
            self.0.token_locks.lock().expect("token locks").entry(vault_key.clone()).or_default().clone();
        let _in_process = in_process.lock().await;
        let _file = lock::acquire_async(self.0.paths.lock_file(&vault_key), LOCK_TIMEOUT).await?;
        // Another process (or task) may have refreshed while we waited: adopt its token.
        if let Some(t) = self.stored(ws, scope).await? {
            let adopted = if force { t.issued_at > asked_at } else { self.now() < refresh_due_at(&t) };
            if adopted {
                return Ok((t, true));
            }
        }
        let token = match scope {
            TokenScope::Workspace => {
                let token = self.mint(ws, &scope.scopes(ws)).await?;
                self.0.store.save_workspace_token(ws, &token).await?;
                token
            }
            TokenScope::Mcp(s) => {
                // Another process (or task) may have just found the scope refused: adopt that
                // too, rather than ask again. A forced refresh asks again (a re-probe).
                if !force && let Some(f) = self.standing_fallback(ws, s).await? {
                    self.0.runtime.fallback(&TokenKey::new(ws, scope), Some(f));
                    return Ok((self.workspace_token_boxed(ws).await?, true));
                }
                match self.mint_scoped(ws, s).await? {
                    Scoped::Own(token) => {
                        self.0.store.save_scoped_token(ws, s, &token).await?;
                        self.0.runtime.fallback(&TokenKey::new(ws, scope), None);
                        token
                    }
                    Scoped::Refused(reason) => {
                        return self.fall_back(ws, s, reason).await.map(|t| (t, false));
                    }
                }
            }
        };
        tracing::info!(workspace = %ws.name, host = %ws.host, %scope, expires_at = token.expires_at, "token exchanged");
        self.hand_off(ws, scope, &token).await;
        Ok((token, false))
    }

    /// The vault's token for `ws` and `scope`, if that host minted it (for that scope).
    async fn stored(&self, ws: &Workspace, scope: TokenScope) -> Result<Option<WorkspaceToken>, EngineError> {
        Ok(match scope {
            TokenScope::Workspace => self.0.store.workspace_token(ws).await?,
            TokenScope::Mcp(s) => self.0.store.scoped_token(ws, s).await?,
        })
    }

    /// A new token for `ws` carrying MCP `scope` alone, judged: a refusal of the scope (HTTP 400
    /// `invalid_scope`, or a 400 whose description names it) or an `all-apis` answer is
    /// [`Scoped::Refused`]; an answer carrying any other scope is an error, and is not kept.
    async fn mint_scoped(&self, ws: &Workspace, scope: McpScope) -> Result<Scoped, EngineError> {
        use lakepass_wire::exchange::ExchangeError;
        use lakepass_wire::http::OAuthErrorCode;
        match self.mint(ws, &[scope.as_str().to_string()]).await {
            Ok(t) => match crate::mcp::scope_answer(&t, scope) {
                ScopeAnswer::AsAsked => Ok(Scoped::Own(t)),
                ScopeAnswer::AllApis => Ok(Scoped::Refused(format!(
                    "it answered a request for `{scope}` with an `{}` token",
                    t.scope.as_deref().unwrap_or_default()
                ))),
                ScopeAnswer::Other(got) => {
                    Err(EngineError::McpWrongScope { workspace: ws.name.clone(), asked: scope, got })
                }
            },
            Err(EngineError::Exchange(ExchangeError::Rejected { status: 400, error, .. }))
                if error.error == OAuthErrorCode::InvalidScope
                    || error.error_description.as_deref().is_some_and(|d| d.contains(scope.as_str())) =>
            {
                Ok(Scoped::Refused(error.to_string()))
            }
            Err(e) => Err(e),
        }
    }

    /// The workspace would not give MCP `scope` a token of its own (`reason`): its own token
    /// serves the scope, remembered as a fallback and said once in the log; or, where
    /// `least_privilege` forbids that or the workspace token lacks both `all-apis` and the
    /// scope, the refusal is the error.
    async fn fall_back(
        &self,
        ws: &Workspace,
        scope: McpScope,
        reason: String,
    ) -> Result<WorkspaceToken, EngineError> {
        let refused = |hint: String| EngineError::McpScopeRefused {
            workspace: ws.name.clone(),
            scope,
            reason: reason.clone(),
            hint,
        };
        if crate::mcp::least_privilege(&self.0.config, ws) {
            return Err(refused(format!(
                "`[mcp.{}] least_privilege = true` forbids serving it with the workspace's all-apis token; \
                 ask a workspace admin to allow scope `{scope}` for token exchange, or remove least_privilege",
                ws.name
            )));
        }
        if !crate::mcp::workspace_token_serves(ws, scope) {
            return Err(refused(format!(
                "the workspace's own token (scopes {}) carries neither `all-apis` nor `{scope}`, so it cannot \
                 stand in; add one of them to `[workspace.{}] scopes`",
                ws.scopes.join(" "),
                ws.name
            )));
        }
        let fallback = McpFallback { since: self.now(), reason };
        self.0.store.save_scoped_fallback(ws, scope, &fallback).await?;
        tracing::warn!(
            workspace = %ws.name, %scope, reason = %fallback.reason,
            "the workspace refused the managed MCP scope; its servers use the workspace's all-apis token"
        );
        self.0.runtime.fallback(&TokenKey::new(ws, TokenScope::Mcp(scope)), Some(fallback));
        self.workspace_token_boxed(ws).await
    }

    /// [`Engine::token_for_key`] `ws`'s own token, boxed: the MCP path reaches it from inside
    /// a refresh, which an `async fn` cycle cannot name without a box.
    fn workspace_token_boxed<'a>(
        &'a self,
        ws: &'a Workspace,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<WorkspaceToken, EngineError>> + Send + 'a>>
    {
        Box::pin(self.token_for_key(ws, TokenScope::Workspace))
    }

    /// A new token for `ws` carrying `scopes`: the user's IdP JWT exchanged (RFC 8693), with
    /// the service principal role mapping picks; or, for an M2M workspace, OAuth client
    /// credentials with the secret from the vault.
    async fn mint(&self, ws: &Workspace, scopes: &[String]) -> Result<WorkspaceToken, EngineError> {
        if roles::is_m2m(ws) {
            let client_id = ws.client_id.clone().unwrap_or_default();
            let secret = roles::m2m_secret(&self.0.store, ws).await?.ok_or_else(|| {
                EngineError::NeedsSecret { workspace: ws.name.clone(), client_id: client_id.clone() }
            })?;
            let req = exchange::client_credentials_request(
                ws.host.join("/oidc/v1/token"),
                &client_id,
                &secret,
                scopes,
            );
            return Ok(
                exchange::client_credentials(&self.0.http, &ws.host, &ws.name, &req, self.now()).await?
            );
        }
        let subject = self.subject_token(ws).await?;
        // Role mapping: the user's role claim picks the service principal.
        let client_id = roles::pick_client_id(ws, subject.secret())?;
        let params =
            ExchangeParams { host: &ws.host, workspace: &ws.name, scopes, client_id: client_id.as_deref() };
        Ok(exchange::exchange(&self.0.http, &params, &subject, self.now()).await?)
    }

    async fn audit_exchange(
        &self,
        ws: &Workspace,
        scope: TokenScope,
        started: std::time::Instant,
        error: Option<&EngineError>,
    ) {
        let (now, took) = (self.now(), started.elapsed());
        let event = match error {
            None => AuditEvent::ok(EventKind::Exchange, now, took),
            Some(e) => AuditEvent::failure(EventKind::Exchange, now, took, e.kind(), &e.to_string())
                .error_code(e.error_code()),
        };
        let event = event.workspace(&ws.name);
        let event = match scope {
            TokenScope::Workspace => event,
            TokenScope::Mcp(s) => match self.0.runtime.fallback_of(&TokenKey::new(ws, scope)) {
                Some(f) if error.is_none() => event.message(&format!(
                    "scope {s} (managed MCP) refused ({}); its servers use the workspace's all-apis token",
                    f.reason
                )),
                _ => event.message(&format!("scope {s} (managed MCP)")),
            },
        };
        self.record_audit(event).await;
    }

    /// Loads the tokens the vault holds: each workspace's own, and its MCP tokens for the
    /// scopes `[mcp.*]` lists (so status shows them and the run loop keeps them fresh).
    pub async fn load(&self) -> Result<(), EngineError> {
        let now = self.now();
        // Per IdP: whether a session is there, or why one was dropped (told once per
        // workspace; the store drops an unusable session on the first look).
        let mut sessions: HashMap<String, Result<(), Option<EngineError>>> = HashMap::new();
        for ws in self.0.workspaces.clone() {
            let mut dropped = None;
            let signed_in = if roles::is_m2m(&ws) {
                roles::m2m_secret(&self.0.store, &ws).await?.is_some()
            } else {
                if !sessions.contains_key(&ws.idp) {
                    let found = self.session_on_load(&ws.idp).await?;
                    sessions.insert(ws.idp.clone(), found);
                }
                match &sessions[&ws.idp] {
                    Ok(()) => true,
                    Err(why) => {
                        dropped = why.as_ref().map(EngineError::failure);
                        false
                    }
                }
            };
            let token = self.stored(&ws, TokenScope::Workspace).await?;
            self.0.runtime.loaded(&TokenKey::workspace(&ws), token, signed_in, now);
            if let Some(failure) = dropped {
                self.0.runtime.failure(&TokenKey::workspace(&ws), failure, now, &self.0.opts);
            }
            for scope in crate::mcp::scopes(&self.0.config, &ws).into_iter().map(TokenScope::Mcp) {
                if let Some(t) = self.stored(&ws, scope).await? {
                    self.0.runtime.loaded(&TokenKey::new(&ws, scope), Some(t), signed_in, now);
                }
            }
        }
        self.publish();
        Ok(())
    }

    // The names the front ends, tests and tools call, for the two kinds of scope.

    /// A valid token for `ws`: [`Engine::token_for`] its own scope.
    pub async fn token(&self, ws: &Workspace) -> Result<WorkspaceToken, EngineError> {
        self.token_for(ws, TokenScope::Workspace).await
    }

    /// [`Engine::live_token_for`] `ws`'s own token.
    pub async fn live_token(&self, ws: &Workspace) -> Result<WorkspaceToken, EngineError> {
        self.live_token_for(ws, TokenScope::Workspace).await
    }

    /// [`Engine::refresh`] `ws`'s own token.
    pub async fn refresh_workspace(
        &self,
        ws: &Workspace,
        force: bool,
    ) -> Result<WorkspaceToken, EngineError> {
        self.refresh(ws, TokenScope::Workspace, force).await
    }

    /// A valid token for `ws` carrying only `scope` ([`Engine::token_for`]).
    pub async fn scoped_token(&self, ws: &Workspace, scope: McpScope) -> Result<WorkspaceToken, EngineError> {
        self.token_for(ws, TokenScope::Mcp(scope)).await
    }

    /// [`Engine::live_token_for`] `ws`'s token for `scope`.
    pub async fn live_scoped_token(
        &self,
        ws: &Workspace,
        scope: McpScope,
    ) -> Result<WorkspaceToken, EngineError> {
        self.live_token_for(ws, TokenScope::Mcp(scope)).await
    }

    /// [`Engine::refresh`] `ws`'s token for `scope`.
    pub async fn refresh_scoped(
        &self,
        ws: &Workspace,
        scope: McpScope,
        force: bool,
    ) -> Result<WorkspaceToken, EngineError> {
        self.refresh(ws, TokenScope::Mcp(scope), force).await
    }
}
