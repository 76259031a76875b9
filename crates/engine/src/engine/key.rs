//! What names a token the engine keeps: a [`TokenKey`] (a workspace and a [`TokenScope`]), and
//! what follows from the scope alone (the scopes asked for, the vault key, whether the token
//! reaches the sinks and is refreshed in the background). Every other engine file names tokens
//! with it; it names none of them.

use crate::mcp::McpScope;
use crate::store::Store;
use lakepass_config::Workspace;

/// Which of a workspace's tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TokenScope {
    /// The workspace's own token, with the scopes its config lists (`all-apis` by default):
    /// the one in `~/.databrickscfg`, the live service and `lakepass token`.
    Workspace,
    /// A token carrying only this scope, for the workspace's managed MCP servers. It goes to
    /// no sink: a profile holding it would narrow every tool's access to one server's.
    Mcp(McpScope),
}

impl TokenScope {
    /// Whether the token goes to the sinks (`~/.databrickscfg`, the state file): the one
    /// place that decides the hand-off.
    pub(crate) fn reaches_sinks(self) -> bool {
        matches!(self, TokenScope::Workspace)
    }

    /// Whether the run loop exchanges this token before anyone asked and retries a failed
    /// refresh with backoff. An MCP token is refreshed only once asked for, and after a
    /// failure waits for the next ask.
    pub(crate) fn refreshed_in_background(self) -> bool {
        matches!(self, TokenScope::Workspace)
    }

    /// The scopes the exchange asks for.
    pub(super) fn scopes(self, ws: &Workspace) -> Vec<String> {
        match self {
            TokenScope::Workspace => ws.scopes.clone(),
            TokenScope::Mcp(s) => vec![s.as_str().to_string()],
        }
    }

    /// The vault key of the token: also what its locks are keyed by (workspaces on one host
    /// and client id share it, and so share one exchange).
    pub(super) fn vault_key(self, ws: &Workspace) -> String {
        match self {
            TokenScope::Workspace => Store::workspace_key(ws),
            TokenScope::Mcp(s) => Store::scoped_key(ws, s),
        }
    }
}

impl std::fmt::Display for TokenScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenScope::Workspace => f.write_str("workspace"),
            TokenScope::Mcp(s) => write!(f, "{s}"),
        }
    }
}

/// One token the engine keeps: a workspace (by its config name) and a scope.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TokenKey {
    /// The workspace's name in the config.
    pub workspace: String,
    /// Which of its tokens.
    pub scope: TokenScope,
}

impl TokenKey {
    /// `ws`'s token of `scope`.
    pub fn new(ws: &Workspace, scope: TokenScope) -> Self {
        TokenKey { workspace: ws.name.clone(), scope }
    }

    /// `ws`'s own token.
    pub fn workspace(ws: &Workspace) -> Self {
        Self::new(ws, TokenScope::Workspace)
    }
}
