//! Claude Code's MCP config for a workspace's Databricks managed MCP servers: one `"http"`
//! server per [`McpServer`], each with a `headersHelper` that prints that server's own,
//! least-privilege, refreshing token as `{"Authorization": "Bearer …"}`.
//!
//! The `headersHelper` contract, as read in Claude Code 2.1.330 (its bundled CLI, the MCP config
//! schema and the helper runner): an `http`/`sse` server entry may carry `headersHelper`, a
//! command run through a shell whose stdout must be a JSON object of string values; those
//! headers are merged over static `headers` on every connection, and on a 401 from a tool call
//! the helper is run again and the call retried once. The runner sets
//! `CLAUDE_CODE_MCP_SERVER_NAME` and `CLAUDE_CODE_MCP_SERVER_URL`; a helper in a project's
//! `.mcp.json` runs only once the user trusted the folder. So no token is ever in the config,
//! argv, the environment or a file: only the command that asks the engine for one.
//!
//! Agents without a headers helper (Codex, Gemini CLI, OpenCode, Copilot CLI) get each server as
//! a local stdio server instead: [`mcp_proxy_argv`], `lakepass mcp-proxy`, which asks the engine
//! for the scoped token on every request it relays. Its argv names the workspace, the scope and
//! the URL only: never a token.
//!
//! `--mcp-config` takes several values, so it goes first in Claude's argv (before `--settings`):
//! a user's prompt after it would otherwise be read as one more config.

use std::path::Path;

use serde_json::{Map, Value, json};

use lakepass_engine::mcp::{McpScope, McpServer};
use lakepass_store::atomic::write_atomic;

use super::{ClaudePlan, LaunchError, utf8};
use lakepass_engine::sink::sh_quote;

/// The `headersHelper` command for one scope: `'<lakepass>' [--config '<file>'] token
/// --workspace '<name>' --scope <scope> --headers-json`, every path and name quoted for the shell.
pub fn headers_helper_command(
    lakepass: &Path,
    config: Option<&Path>,
    workspace: &str,
    scope: McpScope,
) -> Result<String, LaunchError> {
    let mut words = vec![sh_quote(utf8(lakepass)?)];
    if let Some(c) = config {
        words.push("--config".into());
        words.push(sh_quote(utf8(c)?));
    }
    words.extend(["token", "--workspace"].map(String::from));
    words.push(sh_quote(workspace));
    words.extend(["--scope".to_string(), scope.to_string(), "--headers-json".to_string()]);
    Ok(words.join(" "))
}

/// The argv (program first) of the stdio MCP server that relays to `server` with its scope's
/// refreshing token: `<lakepass> [--config <file>] mcp-proxy --workspace <ws> --scope <scope>
/// --url <url>`. No shell ever reads it (agents spawn it as a command and its args), so nothing
/// is quoted; paths must be UTF-8 because every agent's config is JSON or TOML.
pub fn mcp_proxy_argv(
    lakepass: &Path,
    config: Option<&Path>,
    workspace: &str,
    server: &McpServer,
) -> Result<Vec<String>, LaunchError> {
    let mut argv = vec![utf8(lakepass)?.to_string()];
    if let Some(c) = config {
        argv.extend(["--config".to_string(), utf8(c)?.to_string()]);
    }
    argv.extend(
        ["mcp-proxy", "--workspace", workspace, "--scope", server.scope.as_str(), "--url", &server.url]
            .map(String::from),
    );
    Ok(argv)
}

/// `{"mcpServers": {<name>: {"type": "http", "url", "headersHelper"}}}` for `servers`, the
/// helper of each made by `helper` from its scope.
pub fn mcp_config(servers: &[McpServer], helper: impl Fn(McpScope) -> String) -> Value {
    let entries: Map<String, Value> = servers
        .iter()
        .map(|s| (s.name.clone(), json!({ "type": "http", "url": s.url, "headersHelper": helper(s.scope) })))
        .collect();
    json!({ "mcpServers": entries })
}

/// Adds `--mcp-config <json>` to a planned launch, first in Claude's argv (see the module docs).
pub fn add_mcp_config(plan: &mut ClaudePlan, config: &Value) {
    plan.args.splice(0..0, ["--mcp-config".to_string(), config.to_string()]);
}

/// Merges our servers into the text of a project's `.mcp.json`: sets each of our
/// `mcpServers` entries by name and keeps every other server and key.
pub fn merge_mcp_json(existing: &str, ours: &Value) -> Result<String, String> {
    let mut root = if existing.trim().is_empty() {
        Value::Object(Map::new())
    } else {
        serde_json::from_str::<Value>(existing).map_err(|e| format!("not valid JSON: {e}"))?
    };
    let obj = root.as_object_mut().ok_or("the top level is not an object")?;
    let servers = obj.entry("mcpServers").or_insert_with(|| Value::Object(Map::new()));
    let servers = servers.as_object_mut().ok_or("its `mcpServers` is not an object")?;
    if let Some(Value::Object(new)) = ours.get("mcpServers") {
        for (name, entry) in new {
            servers.insert(name.clone(), entry.clone());
        }
    }
    let mut text = serde_json::to_string_pretty(&root).map_err(|e| e.to_string())?;
    text.push('\n');
    Ok(text)
}

/// Merges `ours` into the `.mcp.json` at `path` (created if missing), atomically. The file holds
/// no secret (only helper commands), so a new one is 0644 like the project's other files.
pub fn write_mcp_json(path: &Path, ours: &Value) -> Result<(), LaunchError> {
    let io = |action, source| LaunchError::Io { action, path: path.into(), source };
    let existing = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(io("read", e)),
    };
    let text = merge_mcp_json(&existing, ours)
        .map_err(|reason| LaunchError::BadSettings { path: path.into(), reason })?;
    write_atomic(path, text.as_bytes(), 0o644).map_err(|e| io("write", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sql_server() -> McpServer {
        McpServer {
            name: "databricks-sql".into(),
            url: "https://adb-1.example.net/api/2.0/mcp/sql".into(),
            scope: McpScope::Sql,
            alternate_url: None,
        }
    }

    #[test]
    fn helper_quotes_every_path_and_name() {
        let cmd = headers_helper_command(
            Path::new("/opt/my apps/lakepass"),
            Some(Path::new("/h/it's.toml")),
            "dev",
            McpScope::UnityCatalog,
        )
        .unwrap();
        assert_eq!(
            cmd,
            r#"'/opt/my apps/lakepass' --config '/h/it'\''s.toml' token --workspace 'dev' --scope unity-catalog --headers-json"#
        );
    }

    #[test]
    fn proxy_argv_names_workspace_scope_and_url_and_no_token() {
        let argv = mcp_proxy_argv(
            Path::new("/opt/my apps/lakepass"),
            Some(Path::new("/h/it's.toml")),
            "dev",
            &sql_server(),
        )
        .unwrap();
        assert_eq!(
            argv,
            [
                "/opt/my apps/lakepass",
                "--config",
                "/h/it's.toml",
                "mcp-proxy",
                "--workspace",
                "dev",
                "--scope",
                "sql",
                "--url",
                "https://adb-1.example.net/api/2.0/mcp/sql",
            ]
        );
        let bare = mcp_proxy_argv(Path::new("lakepass"), None, "dev", &sql_server()).unwrap();
        assert_eq!(bare[..2], ["lakepass", "mcp-proxy"]);
    }

    #[test]
    fn config_names_each_server_with_its_scopes_helper_and_goes_first() {
        let cfg = mcp_config(&[sql_server()], |s| format!("helper {s}"));
        assert_eq!(
            cfg,
            json!({"mcpServers": {"databricks-sql": {
                "type": "http",
                "url": "https://adb-1.example.net/api/2.0/mcp/sql",
                "headersHelper": "helper sql",
            }}})
        );
        let mut plan = ClaudePlan {
            env: Default::default(),
            settings: json!({}),
            args: vec!["--settings".into(), "{}".into(), "-p".into(), "hi".into()],
        };
        add_mcp_config(&mut plan, &cfg);
        assert_eq!(plan.args[0], "--mcp-config");
        assert_eq!(serde_json::from_str::<Value>(&plan.args[1]).unwrap(), cfg);
        assert_eq!(plan.args[2..], ["--settings", "{}", "-p", "hi"]);
        assert!(!plan.args.iter().any(|a| a.contains("Bearer")));
    }

    #[test]
    fn merging_keeps_other_servers_and_keys() {
        let existing =
            r#"{"mcpServers": {"mine": {"command": "x"}, "databricks-sql": {"url": "old"}}, "other": 1}"#;
        let ours = mcp_config(&[sql_server()], |_| "h".into());
        let merged: Value = serde_json::from_str(&merge_mcp_json(existing, &ours).unwrap()).unwrap();
        assert_eq!(merged["other"], 1);
        assert_eq!(merged["mcpServers"]["mine"], json!({"command": "x"}));
        assert_eq!(merged["mcpServers"]["databricks-sql"]["headersHelper"], "h");
        let fresh: Value = serde_json::from_str(&merge_mcp_json("", &ours).unwrap()).unwrap();
        assert_eq!(fresh, ours);
        assert!(merge_mcp_json("[1]", &ours).is_err());
        assert!(merge_mcp_json(r#"{"mcpServers": 3}"#, &ours).is_err());
    }
}
