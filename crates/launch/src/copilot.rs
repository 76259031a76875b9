//! GitHub Copilot CLI (`@github/copilot`) through a workspace's AI Gateway: the decisions of
//! `launch copilot` as pure functions (its environment, its MCP config, its argv).
//!
//! What Copilot CLI gets, each from its primary source (Copilot CLI 1.0.102, its bundled
//! `cli-main.js`, `copilot help environment` and `copilot help providers`, quoted here):
//! - BYOK mode: `COPILOT_PROVIDER_BASE_URL` "API endpoint URL for a custom model provider
//!   (BYOK). When set, the CLI uses this provider instead of GitHub Copilot's model routing.
//!   GitHub authentication is not required." With `COPILOT_PROVIDER_TYPE=openai` ("Use
//!   "openai" for OpenAI-compatible endpoints") and `COPILOT_PROVIDER_WIRE_API=completions`
//!   (its default), requests go to `<base>/chat/completions`. The base is AI Gateway's unified
//!   OpenAI-compatible API, `<host>/ai-gateway/mlflow/v1` (databricks/ucode
//!   `src/ucode/databricks.py`, `build_copilot_base_url`: "Copilot CLI's `openai` provider
//!   appends `/chat/completions`"; Databricks' "Query AI Gateway endpoints", docs.databricks.com
//!   /aws/en/ai-gateway/query-endpoints-beta: `base_url="https://<ai-gateway-url>/mlflow/v1"`).
//!   A workspace without AI Gateway gets `<host>/serving-endpoints`, Databricks' older
//!   OpenAI-compatible root ("Query chat models", `base_url=".../serving-endpoints"`).
//! - Its key as a command: `COPILOT_PROVIDER_API_KEY_COMMAND`, "shell command that prints a
//!   fresh API key for each provider request. Takes precedence over COPILOT_PROVIDER_API_KEY",
//!   and "the API key (including command output) is sent as Authorization for openai" — as
//!   `Authorization: Bearer <key>`, the OpenAI client's scheme, which the devstack's strict
//!   Bearer-only Chat Completions path checks. The command is Claude Code's `apiKeyHelper`
//!   ([`super::helper_command`], `lakepass token --raw`), so every request asks the engine and
//!   no token is in the environment. ucode instead puts the token itself in
//!   `COPILOT_PROVIDER_BEARER_TOKEN` and `OAUTH_TOKEN` (`src/ucode/agents/copilot.py`,
//!   `render_env_overlay`), which is what dies after an hour (github/copilot-cli#3682).
//!   `COPILOT_PROVIDER_BEARER_TOKEN` "is always sent as Authorization" and would compete with the
//!   command, so it is removed from the environment, with `COPILOT_PROVIDER_API_KEY` and the
//!   model overrides (`COPILOT_PROVIDER_MODEL_ID`, `COPILOT_PROVIDER_WIRE_MODEL`).
//! - `COPILOT_OFFLINE=true`: "the CLI skips all network access: GitHub authentication,
//!   telemetry, web tools, GitHub MCP server, and auto-update are disabled. Requires a local
//!   model provider (COPILOT_PROVIDER_BASE_URL)." ucode sets the same. So no GitHub sign-in is
//!   needed or attempted.
//! - The model: `COPILOT_MODEL` ("sets both model ID and wire model"), `[agent.copilot] model`
//!   first, else the workspace's newest Claude Sonnet, then Opus, then Haiku, then its GPT model
//!   (ucode `agents/copilot.py`, `default_model`: "Prefer Claude sonnet, then opus/haiku, then
//!   codex").
//! - The managed MCP servers: `--additional-mcp-config @<file>` (the form ucode passes,
//!   `mcp_config_args`), the file `{"mcpServers": {<name>: {"type": "local", "command",
//!   "args", "tools": ["*"]}}}` with each server as `lakepass mcp-proxy` ([`super::mcp_proxy_argv`];
//!   ucode's `build_mcp_server_entry` registers its own `ucode mcp-proxy` bridge the same way).
//!   It goes first in the argv, before the user's own arguments.

use std::path::Path;

use serde_json::{Map, Value, json};

use super::environment::{EnvChanges, workspace_env};
use lakepass_config::Workspace;
use lakepass_engine::mcp::McpServer;

/// AI Gateway's unified OpenAI-compatible root: Copilot appends `/chat/completions`.
pub const COPILOT_BASE_PATH: &str = "/ai-gateway/mlflow/v1";
/// The OpenAI-compatible root of workspaces without AI Gateway.
pub const COPILOT_SERVING_BASE_PATH: &str = "/serving-endpoints";
/// Variables that would compete with the key command or the model we set: removed.
pub const COPILOT_OVERRIDING_VARS: &[&str] = &[
    "COPILOT_PROVIDER_BEARER_TOKEN",
    "COPILOT_PROVIDER_API_KEY",
    "COPILOT_PROVIDER_MODEL_ID",
    "COPILOT_PROVIDER_WIRE_MODEL",
];

/// What `launch copilot` runs: environment changes and the argv after the program.
#[derive(Debug, Clone, PartialEq)]
pub struct CopilotPlan {
    /// The BYOK variables, the workspace's, and the competing ones removed.
    pub env: EnvChanges,
    /// `--additional-mcp-config @<file>` when there are servers, then the user's arguments.
    pub args: Vec<String>,
    /// The MCP config file's JSON, when there are servers.
    pub mcp_config: Option<Value>,
}

/// The plan for `ws`: `base_path` on its host, `model` (None: Copilot's own default, which the
/// gateway may not serve), `key_command` the shell command printing a token, `mcp` each server
/// with its `lakepass mcp-proxy` argv, written to `mcp_file`.
pub fn copilot_plan(
    ws: &Workspace,
    base_path: &str,
    model: Option<&str>,
    key_command: &str,
    mcp: &[(McpServer, Vec<String>)],
    mcp_file: &Path,
    user_args: &[String],
) -> CopilotPlan {
    let mut env = workspace_env(ws, None);
    env.set("COPILOT_PROVIDER_TYPE", "openai");
    env.set("COPILOT_PROVIDER_BASE_URL", ws.host.join(base_path));
    env.set("COPILOT_PROVIDER_WIRE_API", "completions");
    env.set("COPILOT_PROVIDER_API_KEY_COMMAND", key_command);
    env.set("COPILOT_OFFLINE", "true");
    if let Some(m) = model {
        env.set("COPILOT_MODEL", m);
    }
    for var in COPILOT_OVERRIDING_VARS {
        env.remove(var);
    }
    let mcp_config = (!mcp.is_empty()).then(|| copilot_mcp_config(mcp));
    let mut args = Vec::new();
    if mcp_config.is_some() {
        args.push("--additional-mcp-config".to_string());
        args.push(format!("@{}", mcp_file.display()));
    }
    args.extend(user_args.iter().cloned());
    CopilotPlan { env, args, mcp_config }
}

/// `{"mcpServers": {<name>: {"type": "local", "command", "args", "tools": ["*"]}}}`.
pub fn copilot_mcp_config(mcp: &[(McpServer, Vec<String>)]) -> Value {
    let servers: Map<String, Value> = mcp
        .iter()
        .map(|(s, argv)| {
            let (command, args) = argv.split_first().map_or(("", &[][..]), |(c, a)| (c.as_str(), a));
            (s.name.clone(), json!({"type": "local", "command": command, "args": args, "tools": ["*"]}))
        })
        .collect();
    json!({ "mcpServers": servers })
}

#[cfg(test)]
mod tests {
    use super::*;
    use lakepass_engine::mcp::McpScope;

    fn ws() -> Workspace {
        let text = "[idp.corp]\nissuer = \"https://idp.example.com\"\nclient_id = \"c\"\n\
                    [workspace.dev]\nidp = \"corp\"\nhost = \"https://adb-1.example.net\"\n";
        lakepass_config::Config::parse(text, Path::new("config.toml"))
            .unwrap()
            .workspace(Some("dev"))
            .unwrap()
    }

    #[test]
    fn byok_variables_a_key_command_and_no_token() {
        let sql = McpServer {
            name: "databricks-sql".into(),
            url: "https://adb-1.example.net/api/2.0/mcp/sql".into(),
            scope: McpScope::Sql,
            alternate_url: None,
        };
        let argv = vec!["/bin/lakepass".to_string(), "mcp-proxy".into(), "--scope".into(), "sql".into()];
        let plan = copilot_plan(
            &ws(),
            COPILOT_BASE_PATH,
            Some("databricks-claude-sonnet-4-5"),
            "'/bin/lakepass' token --raw --workspace 'dev'",
            &[(sql, argv)],
            Path::new("/data/launch/copilot/dev/mcp-config.json"),
            &["-p".into(), "say pong".into()],
        );
        let get = |k| plan.env.get(k).unwrap_or_default();
        assert_eq!(get("COPILOT_PROVIDER_BASE_URL"), "https://adb-1.example.net/ai-gateway/mlflow/v1");
        assert_eq!(get("COPILOT_PROVIDER_TYPE"), "openai");
        assert_eq!(get("COPILOT_PROVIDER_WIRE_API"), "completions");
        assert_eq!(get("COPILOT_PROVIDER_API_KEY_COMMAND"), "'/bin/lakepass' token --raw --workspace 'dev'");
        assert_eq!(get("COPILOT_MODEL"), "databricks-claude-sonnet-4-5");
        assert_eq!(get("COPILOT_OFFLINE"), "true");
        for var in COPILOT_OVERRIDING_VARS {
            assert!(plan.env.removed_present(|k| k == *var).contains(var), "{var} removed");
        }
        assert_eq!(
            plan.args,
            ["--additional-mcp-config", "@/data/launch/copilot/dev/mcp-config.json", "-p", "say pong"]
        );
        assert_eq!(
            plan.mcp_config.unwrap()["mcpServers"]["databricks-sql"],
            json!({"type": "local", "command": "/bin/lakepass", "args": ["mcp-proxy", "--scope", "sql"], "tools": ["*"]})
        );
    }

    #[test]
    fn no_servers_no_mcp_flag() {
        let plan = copilot_plan(&ws(), COPILOT_SERVING_BASE_PATH, None, "k", &[], Path::new("/x"), &[]);
        assert!(plan.args.is_empty() && plan.mcp_config.is_none());
        assert_eq!(
            plan.env.get("COPILOT_PROVIDER_BASE_URL").unwrap(),
            "https://adb-1.example.net/serving-endpoints"
        );
        assert!(plan.env.get("COPILOT_MODEL").is_none());
    }
}
