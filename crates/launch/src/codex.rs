//! OpenAI's Codex CLI through a workspace's AI Gateway: the decisions of `launch codex` as pure
//! functions (the `-c` overrides, the environment, the argv).
//!
//! What Codex gets, each from its primary source:
//! - A model provider for the workspace, `[model_providers.lakepass-<ws>]`, with
//!   `base_url = <host>/ai-gateway/codex/v1` and `wire_api = "responses"`: Databricks'
//!   launcher writes exactly that provider (databricks/ucode `src/ucode/agents/codex.py`,
//!   `_provider_block`; `src/ucode/databricks.py`, `build_tool_base_url("codex", …)`), and Codex
//!   sends its requests to `<base_url>/responses`.
//! - Its credential as a command, `auth = { command, args, timeout_ms, refresh_interval_ms }`
//!   (openai/codex `codex-rs` `ModelProviderAuthInfo`, added in openai/codex#16267, `0` made
//!   "never refresh ahead" in #16480; present in codex 0.169.0, whose binary says "provider
//!   auth.command must not be empty"): Codex runs the command, uses its trimmed stdout as the
//!   Bearer token, keeps it at most `refresh_interval_ms`, and runs it again at once on a 401.
//!   The command is `lakepass token --raw --workspace <ws>` as an argv (no shell: ucode's note,
//!   "run the executable directly (not via `sh -c`) so the helper works on Windows"), the same
//!   helper Claude Code's `apiKeyHelper` runs ([`super::helper_argv`]). The interval is ucode's
//!   15 minutes, but never more than half the workspace token's lifetime
//!   ([`super::effective_ttl_ms`]), so a token is replaced before it expires, not after a 401.
//! - The model: `[agent.codex] model` (per workspace first), else the newest GPT model the
//!   workspace lists (`models.rs`); ucode pins the discovered id verbatim, "the gateway routes by
//!   that exact name" (`agents/codex.py`, `write_tool_config`).
//! - The workspace's managed MCP servers as local stdio servers, `[mcp_servers.<name>]` with
//!   `command`/`args` running `lakepass mcp-proxy` ([`super::mcp_proxy_argv`]), since Codex has
//!   no headers helper.
//!
//! How it is layered: as `-c key=value` overrides on Codex's command line ("Override a
//! configuration value that would otherwise be loaded from `~/.codex/config.toml` … The value
//! portion is parsed as TOML", `codex --help`), set first in the argv, before the user's
//! arguments and any subcommand. So the user's own `~/.codex` (`CODEX_HOME`) stays in effect:
//! their sign-in, projects, trust decisions, MCP servers, profiles and history; only the keys
//! below are set for this run, and nothing is written to their files unless `--write-settings`.
//! The overrides hold commands, URLs and names, never a token (a `-c` value is visible to local
//! users in the process list, so nothing else may go there).

use std::path::Path;

use toml_edit::{Array, InlineTable, Value};

use super::environment::{EnvChanges, workspace_env};
use lakepass_config::Workspace;
use lakepass_engine::mcp::McpServer;

/// AI Gateway's path for Codex (databricks/ucode `build_tool_base_url("codex", …)`).
pub const CODEX_BASE_PATH: &str = "/ai-gateway/codex/v1";
/// The path on a workspace without AI Gateway: what ucode used before AI Gateway v2
/// (`build_tool_base_url(…, use_ai_gateway_v2=False)` → `/serving-endpoints/codex/v1`, in
/// databricks/ucode's history). Not checked against a live workspace: an assumption.
pub const CODEX_SERVING_BASE_PATH: &str = "/serving-endpoints/codex/v1";
/// How long Codex may keep a token from the helper unless the token lives shorter: ucode's
/// `refresh_interval_ms`.
pub const CODEX_REFRESH_INTERVAL_MS: u64 = 900_000;
/// How long the helper may take: ucode's `timeout_ms`.
pub const CODEX_AUTH_TIMEOUT_MS: u64 = 5_000;
/// Variables Codex would take an OpenAI credential from; a launch removes them so nothing but
/// the helper's token reaches the gateway (and no OpenAI key follows the user there).
pub const CODEX_OVERRIDING_VARS: &[&str] = &["OPENAI_API_KEY", "CODEX_API_KEY", "OPENAI_BASE_URL"];

/// The model provider id for workspace `ws`: `lakepass-<ws>` (a workspace name is letters,
/// digits, `-` and `_`, so this is a bare TOML key).
pub fn codex_provider_id(ws: &str) -> String {
    format!("lakepass-{ws}")
}

/// What `launch codex` decides: the environment changes, the overrides, Codex's argv.
#[derive(Debug, Clone, PartialEq)]
pub struct CodexPlan {
    /// Environment changes: the workspace's variables; OpenAI credentials removed.
    pub env: EnvChanges,
    /// The `(dotted key, TOML value)` overrides, in the order they are passed.
    pub overrides: Vec<(String, String)>,
    /// Codex's arguments: `-c key=value` for each override, then the user's.
    pub args: Vec<String>,
}

/// The provider table for `ws`: base URL, wire API and the helper as `auth`.
pub fn codex_provider(
    ws: &Workspace,
    base_path: &str,
    helper: &[String],
    refresh_interval_ms: u64,
) -> InlineTable {
    let mut auth = InlineTable::new();
    if let Some((command, args)) = helper.split_first() {
        auth.insert("command", command.as_str().into());
        auth.insert("args", Value::Array(args.iter().map(String::as_str).collect::<Array>()));
    }
    auth.insert("timeout_ms", (CODEX_AUTH_TIMEOUT_MS as i64).into());
    auth.insert("refresh_interval_ms", (refresh_interval_ms as i64).into());
    let mut provider = InlineTable::new();
    provider.insert("name", format!("Databricks AI Gateway ({}, via Lakepass)", ws.name).into());
    provider.insert("base_url", ws.host.join(base_path).into());
    provider.insert("wire_api", "responses".into());
    provider.insert("auth", Value::InlineTable(auth));
    provider
}

/// One `[mcp_servers.<name>]` table: the stdio server's command and arguments.
fn mcp_server_table(argv: &[String]) -> InlineTable {
    let mut t = InlineTable::new();
    if let Some((command, args)) = argv.split_first() {
        t.insert("command", command.as_str().into());
        t.insert("args", Value::Array(args.iter().map(String::as_str).collect::<Array>()));
    }
    t
}

/// Plans a Codex launch for `ws` (pure: no IO, no token). `helper` is the token command's argv;
/// `mcp` each managed MCP server with its `lakepass mcp-proxy` argv.
pub fn codex_plan(
    ws: &Workspace,
    base_path: &str,
    model: Option<&str>,
    helper: &[String],
    refresh_interval_ms: u64,
    mcp: &[(McpServer, Vec<String>)],
    user_args: &[String],
) -> CodexPlan {
    let id = codex_provider_id(&ws.name);
    let mut overrides: Vec<(String, String)> = vec![
        (
            format!("model_providers.{id}"),
            Value::InlineTable(codex_provider(ws, base_path, helper, refresh_interval_ms)).to_string(),
        ),
        ("model_provider".into(), Value::from(id.as_str()).to_string()),
    ];
    if let Some(m) = model {
        overrides.push(("model".into(), Value::from(m).to_string()));
    }
    for (server, argv) in mcp {
        overrides.push((
            format!("mcp_servers.{}", server.name),
            Value::InlineTable(mcp_server_table(argv)).to_string(),
        ));
    }
    for (_, v) in &mut overrides {
        *v = v.trim().to_string();
    }
    let mut args = Vec::new();
    for (k, v) in &overrides {
        args.push("-c".to_string());
        args.push(format!("{k}={v}"));
    }
    args.extend(user_args.iter().cloned());
    let mut env = workspace_env(ws, None);
    for k in CODEX_OVERRIDING_VARS {
        env.remove(k);
    }
    CodexPlan { env, overrides, args }
}

/// Where Codex keeps the user's config: `$CODEX_HOME/config.toml`, else `~/.codex/config.toml`.
pub fn codex_config_path(home: &Path, codex_home: Option<&Path>) -> std::path::PathBuf {
    codex_home.map(Path::to_path_buf).unwrap_or_else(|| home.join(".codex")).join("config.toml")
}

/// Merges a plan's overrides into the text of the user's Codex `config.toml`
/// (`--write-settings`): sets each overridden key (our provider, `model_provider`, `model`, our
/// MCP servers) and keeps every other key, table and comment.
pub fn merge_codex_config(existing: &str, overrides: &[(String, String)]) -> Result<String, String> {
    let mut doc: toml_edit::DocumentMut = existing.parse().map_err(|e| format!("not valid TOML: {e}"))?;
    for (key, value) in overrides {
        let value: Value = value.parse().map_err(|e| format!("{key}: {e}"))?;
        let parts: Vec<&str> = key.split('.').collect();
        let (last, parents) = parts.split_last().ok_or("an empty key")?;
        let mut table = doc.as_table_mut();
        for p in parents {
            let entry = table.entry(p).or_insert_with(|| {
                let mut t = toml_edit::Table::new();
                t.set_implicit(true);
                toml_edit::Item::Table(t)
            });
            table = entry.as_table_mut().ok_or_else(|| format!("`{p}` is not a table"))?;
        }
        let item = match value {
            Value::InlineTable(t) => toml_edit::Item::Table(t.into_table()),
            v => toml_edit::Item::Value(v),
        };
        // Assigning in place keeps the key and the comments above it.
        match table.get_mut(last) {
            Some(existing) => *existing = item,
            None => {
                table.insert(last, item);
            }
        }
    }
    Ok(doc.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use lakepass_engine::mcp::McpScope;

    fn ws() -> Workspace {
        let c = lakepass_config::Config::parse(
            "[idp.i]\nissuer = \"https://idp.example.com\"\nclient_id = \"c\"\n[workspace.dev]\nidp = \"i\"\nhost = \"https://adb-1.example.net\"\n",
            Path::new("c.toml"),
        )
        .unwrap();
        c.workspace(Some("dev")).unwrap()
    }

    fn helper() -> Vec<String> {
        ["/opt/my apps/lakepass", "token", "--raw", "--workspace", "dev"].map(String::from).to_vec()
    }

    #[test]
    fn overrides_define_the_provider_with_the_helper_and_come_first() {
        let sql = McpServer {
            name: "databricks-sql".into(),
            url: "https://adb-1.example.net/api/2.0/mcp/sql".into(),
            scope: McpScope::Sql,
            alternate_url: None,
        };
        let mcp_argv =
            ["/l", "mcp-proxy", "--workspace", "dev", "--scope", "sql", "--url", &sql.url].map(String::from);
        let plan = codex_plan(
            &ws(),
            CODEX_BASE_PATH,
            Some("databricks-gpt-5-2"),
            &helper(),
            30_000,
            &[(sql, mcp_argv.to_vec())],
            &["exec".into(), "say pong".into()],
        );
        let keys: Vec<&str> = plan.overrides.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            ["model_providers.lakepass-dev", "model_provider", "model", "mcp_servers.databricks-sql"]
        );
        // Each value parses as TOML as Codex reads it (`_x_ = <value>`).
        let parsed: Vec<toml::Value> = plan
            .overrides
            .iter()
            .map(|(_, v)| toml::from_str::<toml::Table>(&format!("x = {v}")).unwrap()["x"].clone())
            .collect();
        let provider = &parsed[0];
        assert_eq!(provider["base_url"].as_str(), Some("https://adb-1.example.net/ai-gateway/codex/v1"));
        assert_eq!(provider["wire_api"].as_str(), Some("responses"));
        let auth = &provider["auth"];
        assert_eq!(auth["command"].as_str(), Some("/opt/my apps/lakepass"));
        assert_eq!(
            auth["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect::<Vec<_>>(),
            ["token", "--raw", "--workspace", "dev"]
        );
        assert_eq!(
            (auth["timeout_ms"].as_integer(), auth["refresh_interval_ms"].as_integer()),
            (Some(5000), Some(30_000))
        );
        assert_eq!(parsed[1].as_str(), Some("lakepass-dev"));
        assert_eq!(parsed[2].as_str(), Some("databricks-gpt-5-2"));
        assert_eq!(parsed[3]["command"].as_str(), Some("/l"));
        // `-c` pairs first, then the user's arguments unchanged.
        assert_eq!(plan.args[0], "-c");
        assert!(plan.args[1].starts_with("model_providers.lakepass-dev={"), "{}", plan.args[1]);
        assert_eq!(plan.args[plan.args.len() - 2..], ["exec", "say pong"]);
        assert_eq!(plan.args.len(), 4 * 2 + 2);
        for k in CODEX_OVERRIDING_VARS {
            assert!(plan.env.remove.iter().any(|r| r == k), "{k}");
        }
        // No model known: none pinned (Codex's own default), the caller says so.
        let bare = codex_plan(&ws(), CODEX_BASE_PATH, None, &helper(), 30_000, &[], &[]);
        assert!(!bare.overrides.iter().any(|(k, _)| k == "model"));
    }

    #[test]
    fn write_settings_merges_into_the_users_config_keeping_theirs() {
        let plan =
            codex_plan(&ws(), CODEX_BASE_PATH, Some("databricks-gpt-5-2"), &helper(), 30_000, &[], &[]);
        let existing = "# mine\nmodel = \"o3\"\napproval_policy = \"never\"\n\n[mcp_servers.mine]\ncommand = \"x\"\n\n[model_providers.other]\nname = \"o\"\n";
        let merged = merge_codex_config(existing, &plan.overrides).unwrap();
        let v: toml::Table = toml::from_str(&merged).unwrap();
        assert!(merged.starts_with("# mine\n"), "{merged}");
        assert_eq!(v["model"].as_str(), Some("databricks-gpt-5-2"));
        assert_eq!(v["approval_policy"].as_str(), Some("never"));
        assert_eq!(v["model_provider"].as_str(), Some("lakepass-dev"));
        assert_eq!(v["mcp_servers"]["mine"]["command"].as_str(), Some("x"));
        assert_eq!(v["model_providers"]["other"]["name"].as_str(), Some("o"));
        assert_eq!(v["model_providers"]["lakepass-dev"]["auth"]["args"][0].as_str(), Some("token"));
        assert!(merge_codex_config("model = [", &plan.overrides).is_err());
        assert!(merge_codex_config("model_providers = 3\n", &plan.overrides).is_err());
        assert_eq!(codex_config_path(Path::new("/h"), None), Path::new("/h/.codex/config.toml"));
        assert_eq!(codex_config_path(Path::new("/h"), Some(Path::new("/c"))), Path::new("/c/config.toml"));
    }
}
