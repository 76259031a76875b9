//! Gemini CLI through the workspace's AI Gateway, by way of the engine's proxy: the decisions
//! (environment, settings overlay, model), pure.
//!
//! Where each setting comes from:
//! - `GOOGLE_GEMINI_BASE_URL`: Gemini CLI's base URL for `gemini-api-key` auth; `http` is
//!   accepted for `127.0.0.1` (@google/gemini-cli 0.61.0 `bundle/docs/reference/configuration.md`,
//!   "GOOGLE_GEMINI_BASE_URL … must use HTTPS unless pointing to localhost (or 127.0.0.1 /
//!   [::1])"). It is the proxy grant's URL + `/ai-gateway/gemini`, the AI Gateway root ucode
//!   uses for Gemini (databricks/unity-gateway `src/ucode/agents/gemini.py`,
//!   `render_env_overlay`: `GOOGLE_GEMINI_BASE_URL = build_tool_base_url("gemini", …)`).
//! - `GEMINI_API_KEY`: required for `gemini-api-key` auth; here a placeholder with no power
//!   ([`PLACEHOLDER_KEY`]): the proxy drops the agent's credential headers and puts the engine's
//!   token on each request. `GEMINI_API_KEY_AUTH_MECHANISM=bearer` as ucode sets it (0.61.0's
//!   bundle reads `GEMINI_API_KEY_AUTH_MECHANISM` and defaults to `x-goog-api-key`).
//! - `GEMINI_MODEL` (configuration.md: "Specifies the default Gemini model to use").
//! - The settings overlay through `GEMINI_CLI_HOME` (configuration.md: "the root directory for
//!   Gemini CLI's user-level configuration and storage … The CLI will create a `.gemini` folder
//!   inside this directory"), as ucode does (gemini.py `build_runtime_env`: `GEMINI_CLI_HOME =
//!   <ucode's app dir>/.gemini-home`), so the user's own `~/.gemini` is never written. (Not
//!   `GEMINI_CLI_SYSTEM_SETTINGS_PATH`: 0.61.0 skips a system settings file unless every folder
//!   above it is closed to other users, so it is ignored under `/tmp`, and it would also replace
//!   an administrator's system settings.) ucode writes `security.auth.selectedType = "gemini-api-key"` so Gemini CLI does not ask for
//!   a Google login (gemini.py `_ensure_local_settings_selected_type`); `mcpServers` entries
//!   are `{command, args}` (Gemini CLI docs, "MCP servers with the Gemini CLI").
//! - Variables that would switch Gemini CLI to another auth or endpoint are removed
//!   ([`OVERRIDING_VARS`]).

use std::path::Path;

use serde_json::{Value, json};

use super::LaunchError;
use super::environment::EnvChanges;

/// The AI Gateway's root for Gemini's native API.
pub const GEMINI_GATEWAY_PATH: &str = "/ai-gateway/gemini";

/// What Gemini CLI is given as its API key: not a credential (the proxy replaces it).
pub const PLACEHOLDER_KEY: &str = "lakepass-proxy";

/// The model when the workspace could not be asked: Databricks' pay-per-token Gemini Pro.
pub const FALLBACK_GEMINI_MODEL: &str = "databricks-gemini-2-5-pro";

/// Variables that would make Gemini CLI use another credential or endpoint than the proxy.
pub const OVERRIDING_VARS: &[&str] = &[
    "GOOGLE_API_KEY",
    "GOOGLE_GENAI_USE_VERTEXAI",
    "GOOGLE_GENAI_USE_GCA",
    "GOOGLE_VERTEX_BASE_URL",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "GEMINI_CLI_CUSTOM_HEADERS",
];

/// Gemini CLI's launch, decided.
#[derive(Debug, Clone, PartialEq)]
pub struct GeminiPlan {
    /// Plain environment (the proxy URL is not here: it is set when the grant is opened).
    pub env: EnvChanges,
    /// The settings overlay's JSON.
    pub settings: Value,
    /// Gemini CLI's arguments: the user's, unchanged.
    pub args: Vec<String>,
}

/// The environment, settings overlay and arguments for Gemini CLI on `model`, with
/// `GEMINI_CLI_HOME` at `overlay_home` (the settings go in `<overlay_home>/.gemini/settings.json`,
/// [`settings_file`]) and the workspace's MCP servers (`mcp_servers`: name → argv, program
/// first).
pub fn gemini_plan(
    model: &str,
    overlay_home: &Path,
    mcp_servers: &[(String, Vec<String>)],
    user_args: &[String],
) -> Result<GeminiPlan, LaunchError> {
    let mut env = EnvChanges::default();
    for var in OVERRIDING_VARS {
        env.remove(var);
    }
    env.set("GEMINI_API_KEY", PLACEHOLDER_KEY);
    env.set("GEMINI_API_KEY_AUTH_MECHANISM", "bearer");
    env.set("GEMINI_MODEL", model);
    env.set("GEMINI_CLI_HOME", super::utf8(overlay_home)?);
    let mut settings = json!({"security": {"auth": {"selectedType": "gemini-api-key"}}});
    if !mcp_servers.is_empty() {
        let mut servers = serde_json::Map::new();
        for (name, argv) in mcp_servers {
            let (program, args) = argv.split_first().expect("an argv has its program");
            servers.insert(name.clone(), json!({"command": program, "args": args}));
        }
        settings["mcpServers"] = Value::Object(servers);
    }
    Ok(GeminiPlan { env, settings, args: user_args.to_vec() })
}

/// Where Gemini CLI reads its user settings under `GEMINI_CLI_HOME`.
pub fn settings_file(overlay_home: &Path) -> std::path::PathBuf {
    overlay_home.join(".gemini").join("settings.json")
}

/// The Gemini model to use from the model ids a workspace serves (Unity Catalog names
/// `system.ai.gemini-…` or endpoint names `databricks-gemini-…`): the newest Pro, else the
/// newest of any Gemini. Newest by the version numbers in the id.
pub fn gemini_model(ids: &[String]) -> Option<String> {
    let gemini: Vec<&String> = ids.iter().filter(|id| id.contains("gemini-")).collect();
    let version =
        |id: &str| -> Vec<u32> { id.split(['-', '.']).filter_map(|p| p.parse::<u32>().ok()).collect() };
    let newest = |pred: &dyn Fn(&str) -> bool| {
        gemini.iter().filter(|id| pred(id)).max_by_key(|id| version(id)).map(|id| id.to_string())
    };
    newest(&|id| id.ends_with("-pro") || id.contains("-pro-")).or_else(|| newest(&|_| true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_points_at_nothing_but_the_proxy_and_holds_no_token() {
        let servers =
            vec![("databricks-sql".to_string(), vec!["/bin/lakepass".to_string(), "mcp-proxy".into()])];
        let p = gemini_plan(
            "system.ai.gemini-2-5-pro",
            Path::new("/d/launch/gemini/dev"),
            &servers,
            &["-p".into(), "hi".into()],
        )
        .unwrap();
        assert_eq!(p.env.get("GEMINI_API_KEY"), Some(PLACEHOLDER_KEY));
        assert_eq!(p.env.get("GEMINI_API_KEY_AUTH_MECHANISM"), Some("bearer"));
        assert_eq!(p.env.get("GEMINI_MODEL"), Some("system.ai.gemini-2-5-pro"));
        assert_eq!(p.env.get("GEMINI_CLI_HOME"), Some("/d/launch/gemini/dev"));
        assert_eq!(
            settings_file(Path::new("/d/launch/gemini/dev")),
            Path::new("/d/launch/gemini/dev/.gemini/settings.json")
        );
        assert!(p.env.secrets.is_empty(), "no secret in the plan itself");
        for var in OVERRIDING_VARS {
            assert!(p.env.remove.iter().any(|v| v == var), "{var}");
        }
        assert_eq!(p.settings["security"]["auth"]["selectedType"], "gemini-api-key");
        assert_eq!(p.settings["mcpServers"]["databricks-sql"]["command"], "/bin/lakepass");
        assert_eq!(p.settings["mcpServers"]["databricks-sql"]["args"], json!(["mcp-proxy"]));
        assert_eq!(p.args, ["-p", "hi"]);
    }

    #[test]
    fn the_newest_pro_is_chosen() {
        let ids: Vec<String> = [
            "system.ai.claude-opus-4-5",
            "system.ai.gemini-2-5-flash",
            "system.ai.gemini-2-5-pro",
            "system.ai.gemini-3-pro",
            "system.ai.gemini-3-5-flash",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(gemini_model(&ids).as_deref(), Some("system.ai.gemini-3-pro"));
        let flash_only: Vec<String> = vec!["system.ai.gemini-2-5-flash".into()];
        assert_eq!(gemini_model(&flash_only).as_deref(), Some("system.ai.gemini-2-5-flash"));
        assert_eq!(gemini_model(&["system.ai.claude-opus-4-5".to_string()]), None);
    }
}
