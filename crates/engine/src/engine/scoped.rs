//! What is particular to the tokens of Databricks managed MCP servers: their status shape.
//!
//! An MCP token is one [`TokenKey`](super::TokenKey) among others (a workspace and one
//! [`McpScope`]), refreshed, locked, cached and scheduled by the one token path
//! ([`super::refresh`]), its runtime kept by [`super::runtime`]. It asks for exactly one scope
//! and goes to no sink: `~/.databrickscfg` profiles hold the workspace token, and an MCP token
//! there would narrow every tool's access to one server's. Where the workspace will not grant
//! that scope, the workspace's own token serves it ([`crate::mcp::McpFallback`]), which its
//! status says. What stays here is how front ends see one.

use super::Engine;
use crate::error::Failure;
use crate::mcp::{McpScope, McpServer};
use crate::status::TokenState;
use lakepass_config::Workspace;
use lakepass_wire::clock::UnixTime;

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
    /// Set when the workspace refused this scope and its servers use the workspace's token.
    pub fallback: Option<crate::mcp::McpFallback>,
}

impl ScopedStatus {
    /// The one line front ends show for a fallback, if there is one.
    pub fn fallback_note(&self) -> Option<String> {
        self.fallback.as_ref().map(|f| {
            format!(
                "uses the workspace's all-apis token: `{}` refused scope `{}` ({}); set `[mcp.{}] \
                 least_privilege = true` to refuse instead",
                self.workspace, self.scope, f.reason, self.workspace
            )
        })
    }
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
    /// Every MCP token this engine holds or failed to get, by workspace then scope.
    pub fn scoped_status(&self) -> Vec<ScopedStatus> {
        self.0.runtime.scoped_status()
    }

    /// `ws`'s managed MCP servers ([`crate::mcp::servers`]), each at the URL the workspace
    /// serves: a server with an [`McpServer::alternate_url`] whose URL is not found (404) while
    /// the alternate is found gets the alternate. The probe is a `GET` with the server's token
    /// (a served MCP endpoint answers it, e.g. 405 where no SSE stream is offered; an unknown
    /// path is Databricks' 404 `ENDPOINT_NOT_FOUND`). A server that cannot be probed (no token,
    /// a network error) keeps its URL: Claude Code then reports what it finds there.
    pub async fn mcp_servers(&self, ws: &Workspace) -> Vec<McpServer> {
        let mut servers = crate::mcp::servers(&self.0.config, ws);
        for server in &mut servers {
            let Some(alternate) = server.alternate_url.clone() else { continue };
            let Ok(token) = self.scoped_token(ws, server.scope).await else { continue };
            let status = |url: String| {
                let (http, token) = (&self.0.http, &token);
                async move { http.get(&url, Some(&token.access_token)).await.ok().map(|r| r.status.as_u16()) }
            };
            if status(server.url.clone()).await == Some(404) {
                let other = status(alternate.clone()).await;
                if other.is_some_and(|s| s != 404) {
                    tracing::info!(workspace = %ws.name, server = %server.name, "MCP URL not found; its other spelling answers");
                    server.alternate_url = Some(std::mem::replace(&mut server.url, alternate));
                }
            }
        }
        servers
    }
}

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
            fallback: None,
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
