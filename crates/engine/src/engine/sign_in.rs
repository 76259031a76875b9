//! Signing in and out, from the tokens' side: the IdP session first (`session`), then every
//! token of the IdP's workspaces through the token path and its runtime transitions.

use std::time::Duration;

use url::Url;

use super::key::TokenKey;
use super::runtime::Due;
use super::{Engine, EngineError};
use crate::audit::EventKind;
use lakepass_wire::idp::IdpSession;

impl Engine {
    /// Interactive sign-in (the IdP session path's `sign_in`), then a first exchange for every workspace of
    /// the IdP. Returns the session and, per workspace, the exchange error if one failed.
    pub async fn login(
        &self,
        idp_name: &str,
        on_url: impl FnOnce(&Url),
        timeout: Duration,
    ) -> Result<(IdpSession, Vec<(String, EngineError)>), EngineError> {
        let started = std::time::Instant::now();
        let result = self.sign_in(idp_name, on_url, timeout).await;
        self.audit(EventKind::SignIn, None, Some(idp_name), started, result.as_ref().err()).await;
        let session = result?;
        let mut failures = Vec::new();
        for ws in self.workspaces_of(idp_name) {
            self.0.runtime.signed_in(&TokenKey::workspace(&ws));
            // A new sign-in asks again for the MCP scopes the workspace refused before.
            for scope in crate::mcp::McpScope::ALL {
                if self.0.store.scoped_fallback(&ws, scope).await?.is_some() {
                    self.0.store.delete_scoped_token(&ws, scope).await?;
                    self.0.runtime.fallback(&TokenKey::new(&ws, super::key::TokenScope::Mcp(scope)), None);
                }
            }
            if let Err(e) = self.refresh_workspace(&ws, true).await {
                failures.push((ws.name.clone(), e));
            }
        }
        // The run loop's sleep was planned before these tokens existed: re-plan now.
        self.refresh_now();
        Ok((session, failures))
    }

    /// Another process signed in to `idp_name` (`lakepass login`, or the tray while a daemon
    /// owns the engine socket): adopt that sign-in now rather than at the run loop's next pass,
    /// so the tokens it exchanged reach this engine's sinks (the `-live` profiles) at once, as a
    /// sign-out does. Returns the workspaces whose tokens are now served.
    pub async fn adopt_sign_in(&self, idp_name: &str) -> Vec<String> {
        let mut served = Vec::new();
        for (key, due) in self.0.runtime.due(self.now()) {
            let Some(ws) = self.workspace_named(&key.workspace).cloned() else { continue };
            if ws.idp != idp_name {
                continue;
            }
            if let Due::AfterSignInSince(since) = due
                && !self.signed_in_since(&ws, since).await
            {
                continue;
            }
            match self.refresh(&ws, key.scope, false).await {
                Ok(_) => served.push(ws.name.clone()),
                Err(e) => {
                    tracing::warn!(workspace = %ws.name, kind = %e.kind(), error = %e, "adopting a sign-in failed")
                }
            }
        }
        self.publish();
        self.refresh_now();
        served.sort();
        served.dedup();
        served
    }

    /// Signs out of an IdP: forgets its session and its workspaces' tokens at once (in memory
    /// and in the vault, MCP tokens included), and tells every sink, which remove what they
    /// wrote for them (the `~/.databrickscfg` profiles Lakepass made). Returns what the sinks
    /// removed.
    pub async fn logout(&self, idp_name: &str) -> Result<Vec<String>, EngineError> {
        let now = self.now();
        self.end_session(idp_name).await?;
        let workspaces = self.workspaces_of(idp_name);
        for ws in &workspaces {
            self.0.store.delete_workspace_token(ws).await?;
            for scope in crate::mcp::McpScope::ALL {
                self.0.store.delete_scoped_token(ws, scope).await?;
            }
            self.0.runtime.signed_out(ws, now);
        }
        let removed = self.hand_off_sign_out(&workspaces).await;
        self.publish();
        Ok(removed)
    }
}
