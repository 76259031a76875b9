//! Databricks managed MCP servers: which ones a workspace offers Claude Code, at which URL, and
//! with which OAuth scope.
//!
//! Each server's token is first asked for with that server's scope alone, kept apart per
//! workspace and per scope (vault keys in [`crate::store`]). Whether a workspace's RFC 8693
//! exchange grants those scopes is not published (the federation docs only ever send
//! `all-apis`), while Databricks' own clients send the workspace's `all-apis` token to these
//! servers (databricks/ucode `src/ucode/mcp_proxy.py`, databricks-ai-bridge
//! `databricks_mcp/tests/integration_tests/conftest.py`). So when the exchange refuses the
//! narrow scope (`invalid_scope`, or a 400 naming it) or answers with `all-apis`, the server is
//! served with the workspace's own token instead, remembered per workspace as an
//! [`McpFallback`] and re-probed after [`FALLBACK_REPROBE_SECS`] or a new sign-in; with
//! `[mcp.<ws>] least_privilege = true` that is refused instead. An answer carrying any other
//! scope than the one asked is never used ([`scope_answer`]).
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
//! | AI Search | `/api/2.0/mcp/vector-search/{catalog}/{schema}[/{index}]` | `ai-search` |
//!
//! Search: Databricks' current clients build `/api/2.0/mcp/vector-search/{catalog}/{schema}`
//! and `…/{index}` (databricks/ucode `src/ucode/mcp.py`; databricks-ai-bridge
//! `databricks_mcp/src/databricks_mcp/mcp.py` and its integration tests), so that is the URL
//! Claude Code gets; the current docs list `/api/2.0/mcp/ai-search/{catalog}/{schema}/{index}`
//! with scope `ai-search` (older revisions paired `vector-search` with a `vector-search` scope),
//! so an index server carries that spelling as [`McpServer::alternate_url`], used where the
//! first is not found ([`crate::engine::Engine::mcp_servers`]).

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use lakepass_config::{Config, Workspace, dotted};
use lakepass_wire::clock::UnixTime;
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
    /// The other spelling of its URL, tried where [`McpServer::url`] is not found (404): the
    /// `ai-search` form of a search index server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alternate_url: Option<String>,
}

/// The managed MCP servers `[mcp.<ws>]` offers for `ws`, in a stable order (none without the
/// table). Names are made only of URL-safe segments, so they are safe as JSON keys and in shells.
pub fn servers(config: &Config, ws: &Workspace) -> Vec<McpServer> {
    let Some(m) = config.mcp.get(&ws.name) else {
        return Vec::new();
    };
    let server = |name: String, path: String, scope| McpServer {
        name,
        url: ws.host.join(&path),
        scope,
        alternate_url: None,
    };
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
            out.push(McpServer {
                alternate_url: Some(
                    ws.host.join(&format!("/api/2.0/mcp/ai-search/{}/{}/{}", p[0], p[1], p[2])),
                ),
                ..server(
                    format!("databricks-search-{}-{}-{}", p[0], p[1], p[2]),
                    format!("/api/2.0/mcp/vector-search/{}/{}/{}", p[0], p[1], p[2]),
                    McpScope::AiSearch,
                )
            });
        } else if let Some(p) = dotted(name, 2) {
            // The docs show no schema-level `ai-search` form: no alternate.
            out.push(server(
                format!("databricks-search-{}-{}", p[0], p[1]),
                format!("/api/2.0/mcp/vector-search/{}/{}", p[0], p[1]),
                McpScope::AiSearch,
            ));
        }
    }
    out
}

/// What a workspace's answer to a request for one MCP scope carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScopeAnswer {
    /// The scope asked for, alone; or no `scope` at all, which RFC 6749 §5.1 (and RFC 8693
    /// §2.2.1) let a server leave out only when it granted exactly what was asked.
    AsAsked,
    /// `all-apis`: the workspace's broad scope, not the narrow one asked for.
    AllApis,
    /// Anything else (another scope, or more than the one asked): never used.
    Other(String),
}

/// What `t`, the answer to a request for `scope`, carries.
pub fn scope_answer(t: &WorkspaceToken, scope: McpScope) -> ScopeAnswer {
    let Some(granted) = t.scope.as_deref().map(str::trim).filter(|s| !s.is_empty()) else {
        return ScopeAnswer::AsAsked;
    };
    let mut set: Vec<&str> = granted.split_whitespace().collect();
    set.sort_unstable();
    set.dedup();
    if set == [scope.as_str()] {
        ScopeAnswer::AsAsked
    } else if set.contains(&"all-apis") {
        ScopeAnswer::AllApis
    } else {
        ScopeAnswer::Other(granted.to_string())
    }
}

/// How long a remembered fallback stands before the narrow scope is asked for again (a new
/// sign-in asks at once).
pub const FALLBACK_REPROBE_SECS: i64 = 24 * 3600;

/// A workspace would not give one MCP scope a token of its own, so that scope's servers use the
/// workspace's token: when that was learnt and what the workspace said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct McpFallback {
    /// When the narrow scope was last refused.
    pub since: UnixTime,
    /// What the workspace said (its OAuth error, or the scope it answered with).
    pub reason: String,
}

impl McpFallback {
    /// Whether it still stands at `now` (else the narrow scope is asked for again).
    pub fn stands(&self, now: UnixTime) -> bool {
        now < self.since.saturating_add(FALLBACK_REPROBE_SECS)
    }
}

/// Whether `ws`'s `[mcp]` table asks every server to carry only its own scope.
pub fn least_privilege(config: &Config, ws: &Workspace) -> bool {
    config.mcp.get(&ws.name).is_some_and(|m| m.least_privilege)
}

/// Whether `ws`'s own token can stand in for `scope`: it carries `all-apis` or that scope.
pub fn workspace_token_serves(ws: &Workspace, scope: McpScope) -> bool {
    ws.scopes.iter().any(|s| s == "all-apis" || s == scope.as_str())
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
                    format!("{h}/api/2.0/mcp/vector-search/main/docs/idx"),
                    "ai-search"
                ),
            ]
        );
        let search = servers(&c, &ws).pop().unwrap();
        assert_eq!(
            search.alternate_url.as_deref(),
            Some(&*format!("{h}/api/2.0/mcp/ai-search/main/docs/idx"))
        );
        assert_eq!(scopes(&c, &ws), McpScope::ALL);
        // A workspace without the table offers nothing.
        assert!(servers(&c, &c.workspace(Some("other")).unwrap()).is_empty());
    }

    #[test]
    fn a_search_schema_is_one_server_with_no_alternate() {
        let c = config("[mcp.dev]\nsql = false\nsearch = [\"main.docs\"]\n");
        let got = servers(&c, &c.workspace(Some("dev")).unwrap());
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].name, "databricks-search-main-docs");
        assert_eq!(got[0].url, "https://adb-1.example.net/api/2.0/mcp/vector-search/main/docs");
        assert_eq!(got[0].alternate_url, None);
    }

    #[test]
    fn an_answer_is_the_scope_asked_all_apis_or_refused() {
        let t = |scope: Option<&str>| WorkspaceToken {
            host: lakepass_wire::host::WorkspaceHost::parse("https://adb-1.example.net").unwrap(),
            access_token: lakepass_wire::Secret::new("t".to_string()),
            expires_at: 100,
            issued_at: 0,
            scope: scope.map(String::from),
        };
        assert_eq!(scope_answer(&t(Some("sql")), McpScope::Sql), ScopeAnswer::AsAsked);
        assert_eq!(scope_answer(&t(None), McpScope::Sql), ScopeAnswer::AsAsked, "RFC 6749 §5.1");
        assert_eq!(scope_answer(&t(Some("all-apis")), McpScope::Sql), ScopeAnswer::AllApis);
        assert_eq!(scope_answer(&t(Some("sql all-apis")), McpScope::Sql), ScopeAnswer::AllApis);
        assert_eq!(
            scope_answer(&t(Some("sql genie")), McpScope::Sql),
            ScopeAnswer::Other("sql genie".into())
        );
        assert_eq!(scope_answer(&t(Some("genie")), McpScope::Sql), ScopeAnswer::Other("genie".into()));
        let f = McpFallback { since: 1_000, reason: "no".into() };
        assert!(f.stands(1_000 + FALLBACK_REPROBE_SECS - 1) && !f.stands(1_000 + FALLBACK_REPROBE_SECS));
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
