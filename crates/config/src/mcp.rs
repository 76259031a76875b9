//! `[mcp.<workspace>]`: which of a workspace's Databricks managed MCP servers Claude Code gets.
//!
//! Kept in its own table, like `[claude.<workspace>]`, so code building a workspace need not
//! know about MCP. A workspace without the table offers no MCP servers: adding servers to every
//! launch would make Claude Code connect to endpoints a workspace may not have enabled. In the
//! table, the SQL server is on unless `sql = false`; Genie spaces, Unity Catalog function
//! schemas and AI Search indexes are listed by id or dotted name. What the table becomes (URLs
//! and OAuth scopes) is [`lakepass_engine::mcp`].

use serde::{Deserialize, Serialize};

/// `[mcp.<workspace>]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct McpConfig {
    /// The Databricks SQL server (`/api/2.0/mcp/sql`); on by default.
    #[serde(default = "yes")]
    pub sql: bool,
    /// Genie space ids (`/api/2.0/mcp/genie/{space_id}`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub genie: Vec<String>,
    /// Unity Catalog function schemas, `catalog.schema` (`/api/2.0/mcp/functions/{c}/{s}`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub functions: Vec<String>,
    /// AI (Vector) Search: a schema, `catalog.schema` (every index in it), or one index,
    /// `catalog.schema.index` (`/api/2.0/mcp/vector-search/{c}/{s}[/{i}]`, or the `ai-search`
    /// spelling where that one is not found; see [`lakepass_engine::mcp`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub search: Vec<String>,
    /// Whether each server must get a token carrying only its own scope. Off (the default),
    /// a workspace whose token exchange refuses a server's scope serves that server with the
    /// workspace's `all-apis` token instead (said in `status`, the tray and `doctor`); on, such
    /// a server gets no token and the refusal is the error.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub least_privilege: bool,
}

impl Default for McpConfig {
    fn default() -> Self {
        McpConfig {
            sql: true,
            genie: Vec::new(),
            functions: Vec::new(),
            search: Vec::new(),
            least_privilege: false,
        }
    }
}

fn yes() -> bool {
    true
}

/// One path segment of a managed-MCP URL: what Unity Catalog names and Genie space ids use.
pub(crate) fn is_segment(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
}

/// Whether `name` is `parts` segments joined by dots.
pub fn dotted(name: &str, parts: usize) -> Option<Vec<&str>> {
    let v: Vec<&str> = name.split('.').collect();
    (v.len() == parts && v.iter().all(|s| is_segment(s))).then_some(v)
}

#[cfg(test)]
mod tests {
    use super::super::Config;
    use super::super::fixtures::{MINIMAL, invalid, path};

    #[test]
    fn sql_is_on_by_default_and_names_are_checked() {
        let c = Config::parse(&format!("{MINIMAL}[mcp.a]\ngenie = [\"01ef\"]\n"), path()).unwrap();
        assert!(c.mcp["a"].sql);
        assert_eq!(c.mcp["a"].genie, ["01ef"]);
        assert_eq!(Config::parse(&toml::to_string(&c).unwrap(), path()).unwrap(), c, "round-trips");
        let (msg, _, field) = invalid(&format!("{MINIMAL}[mcp.a]\nfunctions = [\"main\"]\n"));
        assert_eq!(field, "mcp.a.functions", "{msg}");
        let (msg, _, field) = invalid(&format!("{MINIMAL}[mcp.a]\nsearch = [\"a.b/c.d\"]\n"));
        assert_eq!(field, "mcp.a.search", "{msg}");
        let (msg, _, field) = invalid(&format!("{MINIMAL}[mcp.a]\nsearch = [\"a\"]\n"));
        assert_eq!(field, "mcp.a.search", "{msg}");
        let two_and_three = format!(
            "{MINIMAL}[mcp.a]\nsearch = [\"main.docs\", \"main.docs.faq\"]\nleast_privilege = true\n"
        );
        let c = Config::parse(&two_and_three, path()).unwrap();
        assert!(c.mcp["a"].least_privilege && c.mcp["a"].search.len() == 2);
        let (msg, _, field) = invalid(&format!("{MINIMAL}[mcp.zz]\n"));
        assert!(field.starts_with("mcp.zz") && msg.contains("not defined"), "{msg}");
        let (msg, _, _) = invalid(&format!("{MINIMAL}[mcp.a]\nsql = false\n"));
        assert!(msg.contains("no server"), "{msg}");
        let (msg, _, _) = invalid(&format!("{MINIMAL}[mcp.a]\nvector = []\n"));
        assert!(msg.contains("vector"), "{msg}");
    }

    #[test]
    fn removing_a_workspace_removes_its_mcp_table() {
        let text =
            format!("{MINIMAL}\n[claude.a]\nhelper_ttl_ms = 60000\n\n[mcp.a]\ngenie = [\"g\"]\n\n[mcp.b]\n");
        let mut doc = super::super::ConfigDoc::parse(&text, path()).unwrap();
        doc.remove_workspace("a").unwrap();
        let c = doc.to_config(path()).expect("still valid");
        assert!(!c.mcp.contains_key("a") && c.mcp.contains_key("b") && c.claude.is_empty());
    }
}
