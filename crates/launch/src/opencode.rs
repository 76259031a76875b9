//! OpenCode (`opencode-ai`) through a workspace's AI Gateway: the decisions of `launch opencode`
//! as pure functions (its config overlay, the environment, the argv).
//!
//! OpenCode has no credential command: a provider's `apiKey` and `headers` are read once, from
//! its config. ucode writes the token itself into `opencode.json` and rewrites the file from a
//! thread (databricks/ucode `src/ucode/agents/opencode.py`, `render_overlay` and
//! `_refresh_forever`), which a running OpenCode does not read again, so its session fails
//! within the hour. Here OpenCode gets no token at all: its provider's base URL is a grant on
//! the engine's authenticating proxy (`lakepass_engine::proxy`, `http://127.0.0.1:<port>/<key>`),
//! which puts the engine's current token on every request it forwards to the workspace. The
//! grant is opened as OpenCode starts and reaches it in [`OPENCODE_BASE_URL_VAR`], which the
//! overlay names as `{env:…}` (OpenCode 1.18.33 substitutes `{env:NAME}` in its config text:
//! the `text.replace(/\{env:([^}]+)\}/g, …)` of its config loader), so the overlay file holds
//! no key.
//!
//! What OpenCode gets, each from its primary source:
//! - A provider `lakepass-<ws>` using the npm package `@ai-sdk/anthropic` with
//!   `options.baseURL = <grant>/ai-gateway/anthropic/v1` (the AI SDK appends `/messages`): ucode's
//!   `databricks-anthropic` provider is the same package at `<host>/ai-gateway/anthropic/v1`
//!   (`agents/opencode.py`; `src/ucode/databricks.py`, `build_opencode_base_urls`). A workspace
//!   without AI Gateway gets `/serving-endpoints/anthropic/v1`, as Claude Code does
//!   (`models.rs`). `@ai-sdk/anthropic` is bundled in OpenCode 1.18.33 (a launch against the
//!   devstack installs nothing), so no npm registry is needed.
//! - `options.apiKey` a placeholder: the AI SDK sends it as `x-api-key`, which the proxy drops
//!   (it strips the agent's own credential headers) before setting `Authorization: Bearer`.
//!   Without a key the SDK would read `ANTHROPIC_API_KEY` or refuse to start.
//! - Each model with `options.toolStreaming = false`: "@ai-sdk/anthropic injects
//!   `eager_input_streaming: true` on tool defs; the Databricks gateway's strict validator
//!   rejects it", and OpenCode reads the setting from `models.<m>.options` (ucode
//!   `render_overlay`).
//! - The model: `[agent.opencode] model`, else the workspace's newest Claude, Opus before Sonnet
//!   before Haiku (ucode `default_model`: the Anthropic models first), as `"model":
//!   "lakepass-<ws>/<model>"`.
//! - The managed MCP servers as `mcp` entries `{"type": "local", "command": [argv…], "enabled":
//!   true}` running `lakepass mcp-proxy` ([`super::mcp_proxy_argv`]): ucode's
//!   `build_mcp_server_entry` registers its `ucode mcp-proxy` bridge the same way ("`command` is
//!   the full argv").
//!
//! Where: the overlay is `opencode.json` under Lakepass's data folder
//! (`launch/opencode/<ws>/`, 0700, the file 0600), named by
//! `OPENCODE_CONFIG`. OpenCode 1.18.33 loads the user's global config
//! (`~/.config/opencode/{config.json,opencode.json,opencode.jsonc}`), then the `OPENCODE_CONFIG`
//! file, then the project's, and merges them (its `--print-logs` shows the `loading path=` of
//! each in that order), so the user's own providers, MCP servers and settings stay.
//! `--write-settings` writes nothing into the user's config: the key in the base URL lives only
//! as long as the engine, and a file the user keeps must not hold it.
//!
//! Offline: OpenCode needs no network to start. It fetches `https://models.opencode.ai/api.json`
//! in the background and logs "Failed to fetch models.dev" when it cannot; our provider names
//! its models itself, so that list is not needed (`OPENCODE_DISABLE_MODELS_FETCH` would skip the
//! fetch; it is left to the user).

use std::path::Path;

use serde_json::{Map, Value, json};

use super::environment::{EnvChanges, workspace_env};
use lakepass_config::Workspace;
use lakepass_engine::mcp::McpServer;

/// The variable OpenCode reads an extra config file from.
pub const OPENCODE_CONFIG_VAR: &str = "OPENCODE_CONFIG";

/// The variable that carries the proxy grant's URL to OpenCode (named in the overlay as
/// `{env:…}`; set when OpenCode starts).
pub const OPENCODE_BASE_URL_VAR: &str = "LAKEPASS_OPENCODE_BASE_URL";
/// AI Gateway's Anthropic API, as `@ai-sdk/anthropic`'s base URL (it appends `/messages`).
pub const OPENCODE_BASE_PATH: &str = "/ai-gateway/anthropic/v1";
/// The same for workspaces without AI Gateway.
pub const OPENCODE_SERVING_BASE_PATH: &str = "/serving-endpoints/anthropic/v1";
/// The npm provider package (bundled in OpenCode).
pub const OPENCODE_PROVIDER_NPM: &str = "@ai-sdk/anthropic";
/// What `apiKey` says: not a credential (the proxy drops it and sets the token).
pub const PLACEHOLDER_KEY: &str = "lakepass-proxy-sets-the-token";

/// The provider id for workspace `ws`: `lakepass-<ws>`.
pub fn opencode_provider_id(ws: &str) -> String {
    format!("lakepass-{ws}")
}

/// What `launch opencode` runs.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenCodePlan {
    /// `OPENCODE_CONFIG` and the workspace's variables.
    pub env: EnvChanges,
    /// The overlay's JSON (holds the grant's key: a 0600 file).
    pub config: Value,
    /// The user's arguments.
    pub args: Vec<String>,
}

/// The plan for `ws`: `gateway_url` is the grant's URL of the gateway root (`<grant><base
/// path>`), `models` the models to offer (the first is the default), `mcp` each server with its
/// `lakepass mcp-proxy` argv, `config_file` where the overlay goes.
pub fn opencode_plan(
    ws: &Workspace,
    gateway_url: &str,
    models: &[String],
    mcp: &[(McpServer, Vec<String>)],
    config_file: &Path,
    user_args: &[String],
) -> OpenCodePlan {
    let provider = opencode_provider_id(&ws.name);
    let model_entries: Map<String, Value> =
        models.iter().map(|m| (m.clone(), json!({"options": {"toolStreaming": false}}))).collect();
    let mut config = json!({
        "$schema": "https://opencode.ai/config.json",
        "provider": {
            provider.clone(): {
                "npm": OPENCODE_PROVIDER_NPM,
                "name": format!("Databricks {} (Lakepass)", ws.name),
                "options": {"baseURL": gateway_url, "apiKey": PLACEHOLDER_KEY},
                "models": model_entries,
            }
        },
    });
    if let Some(first) = models.first() {
        config["model"] = json!(format!("{provider}/{first}"));
    }
    if !mcp.is_empty() {
        let servers: Map<String, Value> = mcp
            .iter()
            .map(|(s, argv)| (s.name.clone(), json!({"type": "local", "command": argv, "enabled": true})))
            .collect();
        config["mcp"] = Value::Object(servers);
    }
    let mut env = workspace_env(ws, None);
    env.set(OPENCODE_CONFIG_VAR, config_file.display().to_string());
    OpenCodePlan { env, config, args: user_args.to_vec() }
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
    fn the_provider_goes_through_the_grant_with_no_token_and_mcp_through_the_proxy_command() {
        let sql = McpServer {
            name: "databricks-sql".into(),
            url: "https://adb-1.example.net/api/2.0/mcp/sql".into(),
            scope: McpScope::Sql,
            alternate_url: None,
        };
        let argv = vec!["/bin/lakepass".to_string(), "mcp-proxy".into()];
        let models = ["databricks-claude-opus-4-6".to_string(), "databricks-claude-sonnet-4-6".into()];
        let plan = opencode_plan(
            &ws(),
            "http://127.0.0.1:4000/KEY/ai-gateway/anthropic/v1",
            &models,
            &[(sql, argv)],
            Path::new("/data/launch/opencode/dev/opencode.json"),
            &["run".into(), "say pong".into()],
        );
        let c = &plan.config;
        let p = &c["provider"]["lakepass-dev"];
        assert_eq!(p["npm"], "@ai-sdk/anthropic");
        assert_eq!(p["options"]["baseURL"], "http://127.0.0.1:4000/KEY/ai-gateway/anthropic/v1");
        assert_eq!(p["options"]["apiKey"], PLACEHOLDER_KEY);
        assert!(p["options"].get("headers").is_none(), "no Authorization of ours: the proxy sets it");
        assert_eq!(p["models"]["databricks-claude-sonnet-4-6"]["options"]["toolStreaming"], false);
        assert_eq!(c["model"], "lakepass-dev/databricks-claude-opus-4-6");
        assert_eq!(
            c["mcp"]["databricks-sql"],
            json!({"type": "local", "command": ["/bin/lakepass", "mcp-proxy"], "enabled": true})
        );
        assert_eq!(plan.env.get("OPENCODE_CONFIG").unwrap(), "/data/launch/opencode/dev/opencode.json");
        assert_eq!(plan.env.get("DATABRICKS_HOST").unwrap(), "https://adb-1.example.net");
        assert_eq!(plan.args, ["run", "say pong"]);
        let none = opencode_plan(&ws(), "u", &[], &[], Path::new("/x"), &[]);
        assert!(none.config.get("model").is_none() && none.config.get("mcp").is_none());
    }
}
