//! Databricks managed MCP servers: which ones a workspace offers Claude Code, at which URL, and
//! with which OAuth scope.
//!
//! Each server's token is its own RFC 8693 exchange carrying only that server's scope, kept
//! apart per workspace and per scope (the engine's `scoped` module, vault keys in
//! [`crate::store`]). A token for the SQL server cannot ask Genie anything, and none of them is
//! the workspace's broad `all-apis` token.
//!
//! URLs and scopes, as Databricks documents them ("Databricks managed MCP servers",
//! docs.databricks.com/aws/en/agents/mcp/managed-mcp, and the same table on
//! learn.microsoft.com/azure/databricks/agents/mcp-tools/managed-mcp):
//!
//! | server | URL | scope |
//! |---|---|---|
//! | Databricks SQL | `/api/2.0/mcp/sql` | `sql` |
//! | Genie space | `/api/2.0/mcp/genie/{space_id}` | `genie` |
//! | Unity Catalog functions | `/api/2.0/mcp/functions/{catalog}/{schema}` | `unity-catalog` |
//! | AI Search | `/api/2.0/mcp/ai-search/{catalog}/{schema}/{index}` | `ai-search` |

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use lakepass_config::{Config, Workspace, dotted};
use lakepass_wire::exchange::WorkspaceToken;

/// The OAuth scope one managed MCP server needs: the only scope its token carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum McpScope {
    /// `sql`: the Databricks SQL server.
    Sql,
    /// `genie`: Genie spaces.
    Genie,
    /// `unity-catalog`: Unity Catalog functions.
    UnityCatalog,
    /// `ai-search`: AI (Vector) Search indexes.
    AiSearch,
}

impl McpScope {
    /// Every scope, in the order servers are listed.
    pub const ALL: [McpScope; 4] =
        [McpScope::Sql, McpScope::Genie, McpScope::UnityCatalog, McpScope::AiSearch];

    /// The OAuth scope as Databricks spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            McpScope::Sql => "sql",
            McpScope::Genie => "genie",
            McpScope::UnityCatalog => "unity-catalog",
            McpScope::AiSearch => "ai-search",
        }
    }
}

impl std::fmt::Display for McpScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A scope that is not one of the managed MCP servers'.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a managed MCP scope; use one of `sql`, `genie`, `unity-catalog`, `ai-search`")]
pub struct UnknownScope(pub String);

impl FromStr for McpScope {
    type Err = UnknownScope;

    fn from_str(s: &str) -> Result<Self, UnknownScope> {
        McpScope::ALL.into_iter().find(|m| m.as_str() == s).ok_or_else(|| UnknownScope(s.to_string()))
    }
}

/// One managed MCP server Claude Code will get.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct McpServer {
    /// Its name in Claude Code's MCP config: `databricks-sql`, `databricks-genie-<id>`, …
    pub name: String,
    /// Its full URL on the workspace host.
    pub url: String,
    /// The one scope its token carries.
    pub scope: McpScope,
}

/// The managed MCP servers `[mcp.<ws>]` offers for `ws`, in a stable order (none without the
/// table). Names are made only of URL-safe segments, so they are safe as JSON keys and in shells.
pub fn servers(config: &Config, ws: &Workspace) -> Vec<McpServer> {
    let Some(m) = config.mcp.get(&ws.name) else {
        return Vec::new();
    };
    let server = |name: String, path: String, scope| McpServer { name, url: ws.host.join(&path), scope };
    let mut out = Vec::new();
    if m.sql {
        out.push(server("databricks-sql".into(), "/api/2.0/mcp/sql".into(), McpScope::Sql));
    }
    for id in &m.genie {
        out.push(server(
            format!("databricks-genie-{id}"),
            format!("/api/2.0/mcp/genie/{id}"),
            McpScope::Genie,
        ));
    }
    for name in &m.functions {
        if let Some(p) = dotted(name, 2) {
            out.push(server(
                format!("databricks-functions-{}-{}", p[0], p[1]),
                format!("/api/2.0/mcp/functions/{}/{}", p[0], p[1]),
                McpScope::UnityCatalog,
            ));
        }
    }
    for name in &m.search {
        if let Some(p) = dotted(name, 3) {
            out.push(server(
                format!("databricks-search-{}-{}-{}", p[0], p[1], p[2]),
                format!("/api/2.0/mcp/ai-search/{}/{}/{}", p[0], p[1], p[2]),
                McpScope::AiSearch,
            ));
        }
    }
    out
}

/// Whether `t` may serve `scope`: the workspace said it granted that scope (or said nothing).
pub fn grants(t: &WorkspaceToken, scope: McpScope) -> bool {
    t.scope.as_deref().is_none_or(|s| s.split_whitespace().any(|g| g == scope.as_str()))
}

/// The distinct scopes `ws`'s servers need: one token each.
pub fn scopes(config: &Config, ws: &Workspace) -> Vec<McpScope> {
    let mut s: Vec<McpScope> = servers(config, ws).into_iter().map(|s| s.scope).collect();
    s.sort();
    s.dedup();
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(mcp: &str) -> Config {
        let text = format!(
            "[idp.i]\nissuer = \"https://idp.example\"\nclient_id = \"c\"\n[workspace.dev]\nidp = \"i\"\n\
             host = \"https://adb-1.example.net\"\n[workspace.other]\nidp = \"i\"\nhost = \"https://o.example\"\n{mcp}"
        );
        Config::parse(&text, std::path::Path::new("t.toml")).unwrap()
    }

    #[test]
    fn servers_have_the_documented_urls_and_one_scope_each() {
        let c = config(
            "[mcp.dev]\ngenie = [\"01ef\"]\nfunctions = [\"main.tools\"]\nsearch = [\"main.docs.idx\"]\n",
        );
        let ws = c.workspace(Some("dev")).unwrap();
        let got: Vec<(String, String, &str)> =
            servers(&c, &ws).into_iter().map(|s| (s.name, s.url, s.scope.as_str())).collect();
        let h = "https://adb-1.example.net";
        assert_eq!(
            got,
            [
                ("databricks-sql".into(), format!("{h}/api/2.0/mcp/sql"), "sql"),
                ("databricks-genie-01ef".into(), format!("{h}/api/2.0/mcp/genie/01ef"), "genie"),
                (
                    "databricks-functions-main-tools".into(),
                    format!("{h}/api/2.0/mcp/functions/main/tools"),
                    "unity-catalog"
                ),
                (
                    "databricks-search-main-docs-idx".into(),
                    format!("{h}/api/2.0/mcp/ai-search/main/docs/idx"),
                    "ai-search"
                ),
            ]
        );
        assert_eq!(scopes(&c, &ws), McpScope::ALL);
        // A workspace without the table offers nothing.
        assert!(servers(&c, &c.workspace(Some("other")).unwrap()).is_empty());
    }

    #[test]
    fn scope_spellings() {
        for s in McpScope::ALL {
            assert_eq!(s.as_str().parse::<McpScope>().unwrap(), s);
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        assert!("all-apis".parse::<McpScope>().is_err());
        assert!("SQL".parse::<McpScope>().is_err());
    }
}
