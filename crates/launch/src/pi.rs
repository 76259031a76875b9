//! Pi (`@mariozechner/pi-coding-agent`) through a workspace's AI Gateway: the decisions of
//! `launch pi` as pure functions (its `models.json` and `settings.json`, the environment, the
//! argv).
//!
//! What Pi gets, each from its primary source:
//! - A provider `lakepass-<ws>` in its `models.json` speaking `anthropic-messages` to
//!   `<host>/ai-gateway/anthropic` (Pi appends `/v1/messages`), with `authHeader: true` and
//!   `compat.supportsEagerToolInputStreaming: false`: Databricks' launcher registers the same
//!   (databricks/ucode `src/ucode/agents/pi.py`, `render_overlay`, provider
//!   `databricks-claude`: "the Anthropic translator rejects `tools[].eager_input_streaming`";
//!   `src/ucode/databricks.py`, `build_pi_base_urls`: "anthropic-messages appends
//!   `/v1/messages`"). A workspace without AI Gateway gets `/serving-endpoints/anthropic`, as
//!   Claude Code does (`models.rs`). Provider fields as Pi documents them
//!   (pi-coding-agent 0.73.1 `docs/models.md`, "Provider Configuration").
//! - Its key as Pi's shell-command form, `"apiKey": "!<lakepass token --raw --workspace ws>"`
//!   ([`super::helper_command`], the command Claude Code's `apiKeyHelper` runs). ucode writes
//!   the token itself into this file and rewrites it from a thread, which is what dies after an
//!   hour; a command is never stale. Verified in Pi 0.73.1's source: a request's key comes from
//!   `ModelRegistry.getApiKeyAndHeaders` (`dist/core/model-registry.js`), which resolves a
//!   `models.json` provider's `apiKey` with `resolveConfigValueOrThrow` →
//!   `resolveConfigValueUncached` (`dist/core/resolve-config-value.js`): a `!`-prefixed value is
//!   run through the shell (`execSync`, 10 s timeout) on every request, uncached, and with
//!   `authHeader` sent as `Authorization: Bearer <stdout, trimmed>`. Its docs say the same:
//!   "For `models.json`, shell commands are resolved at request time". So each turn asks the
//!   engine, which hands out its current token.
//! - The model: `[agent.pi] model` (per workspace first), else the newest Claude the workspace
//!   serves, Opus before Sonnet before Haiku (ucode `agents/pi.py`, `default_model`), pinned as
//!   `defaultProvider`/`defaultModel` in `settings.json` ("so Pi doesn't fall through to an
//!   env-key-backed provider", ucode `_write_settings`). The user's `--model`/`--provider`
//!   still win: they are Pi's own arguments, passed through.
//!
//! Where: Pi reads its config from `$PI_CODING_AGENT_DIR`, default `~/.pi/agent`
//! (`dist/config.js`, `getAgentDir`; ucode sets the same variable to its own overlay). A launch
//! points it at an overlay under Lakepass's data folder (`launch/pi/<ws>/agent`, 0700, files
//! 0600) holding only our `models.json` and `settings.json`, and keeps the user's sessions by
//! setting `PI_CODING_AGENT_SESSION_DIR` to their sessions folder (unless they set it). What the
//! user does not get in such a session: the rest of their Pi folder (their own providers and
//! keys, `auth.json` sign-ins, themes, prompts, extensions). `--write-settings` instead merges our
//! provider and default model into their own `models.json`/`settings.json` (keeping theirs) and
//! uses their folder. Pi has no MCP client, so it gets no MCP servers (neither does ucode's).

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use super::environment::{EnvChanges, workspace_env};
use lakepass_config::Workspace;

/// The variable Pi reads its config folder from.
pub const PI_AGENT_DIR_VAR: &str = "PI_CODING_AGENT_DIR";
/// The variable Pi reads its sessions folder from.
pub const PI_SESSION_DIR_VAR: &str = "PI_CODING_AGENT_SESSION_DIR";
/// Credentials Pi's built-in Anthropic provider would pick up; removed so no Anthropic key of
/// the user's goes along (our provider names its own key).
pub const PI_OVERRIDING_VARS: &[&str] = &["ANTHROPIC_API_KEY", "ANTHROPIC_OAUTH_TOKEN"];

/// The provider id for workspace `ws`: `lakepass-<ws>`.
pub fn pi_provider_id(ws: &str) -> String {
    format!("lakepass-{ws}")
}

/// The user's own Pi folder: `$PI_CODING_AGENT_DIR` when they set it, else `~/.pi/agent`.
pub fn pi_user_dir(home: &Path, agent_dir_var: Option<&Path>) -> PathBuf {
    agent_dir_var.map(Path::to_path_buf).unwrap_or_else(|| home.join(".pi").join("agent"))
}

/// What `launch pi` decides.
#[derive(Debug, Clone, PartialEq)]
pub struct PiPlan {
    /// Environment changes: the workspace's variables, Pi's folders, Anthropic keys removed.
    pub env: EnvChanges,
    /// Our part of `models.json`: `{"providers": {"lakepass-<ws>": …}}`.
    pub models: Value,
    /// Our part of `settings.json`: `defaultProvider`, `defaultModel`.
    pub settings: Value,
    /// Pi's arguments: the user's, unchanged.
    pub args: Vec<String>,
}

/// The inputs of a Pi plan, beside the workspace.
#[derive(Debug, Clone, PartialEq)]
pub struct PiGateway<'a> {
    /// The Anthropic API's path on the host (`/ai-gateway/anthropic`).
    pub base_path: &'a str,
    /// The models to offer; the first is the default.
    pub models: &'a [String],
    /// The shell command printing the token.
    pub helper: &'a str,
    /// The folder Pi reads (the overlay, or the user's own with `--write-settings`).
    pub agent_dir: &'a Path,
    /// Where Pi keeps sessions, when we must say it (the overlay keeps the user's).
    pub session_dir: Option<&'a Path>,
}

/// Plans a Pi launch for `ws` (pure: no IO, no token).
pub fn pi_plan(ws: &Workspace, gw: &PiGateway<'_>, user_args: &[String]) -> PiPlan {
    let id = pi_provider_id(&ws.name);
    let models: Vec<Value> = gw.models.iter().map(|m| json!({ "id": m })).collect();
    let provider = json!({
        "baseUrl": ws.host.join(gw.base_path),
        "api": "anthropic-messages",
        "apiKey": format!("!{}", gw.helper),
        "authHeader": true,
        "compat": { "supportsEagerToolInputStreaming": false },
        "models": models,
    });
    let mut settings = json!({ "defaultProvider": id });
    if let Some(first) = gw.models.first() {
        settings["defaultModel"] = Value::from(first.as_str());
    }
    let mut env = workspace_env(ws, None);
    env.set(PI_AGENT_DIR_VAR, gw.agent_dir.to_string_lossy());
    if let Some(s) = gw.session_dir {
        env.set(PI_SESSION_DIR_VAR, s.to_string_lossy());
    }
    for k in PI_OVERRIDING_VARS {
        env.remove(k);
    }
    PiPlan { env, models: json!({ "providers": { id: provider } }), settings, args: user_args.to_vec() }
}

/// Merges `ours` into the text of a Pi JSON file (`models.json` or `settings.json`): our
/// `providers` entries set by name (the user's other providers kept), our other top-level keys
/// set, every other key kept.
pub fn merge_pi_json(existing: &str, ours: &Value) -> Result<String, String> {
    let mut root = if existing.trim().is_empty() {
        Value::Object(Map::new())
    } else {
        serde_json::from_str::<Value>(existing).map_err(|e| format!("not valid JSON: {e}"))?
    };
    let obj = root.as_object_mut().ok_or("the top level is not an object")?;
    for (key, value) in ours.as_object().into_iter().flatten() {
        match (key.as_str(), value) {
            ("providers", Value::Object(new)) => {
                let providers = obj.entry("providers").or_insert_with(|| Value::Object(Map::new()));
                let providers = providers.as_object_mut().ok_or("its `providers` is not an object")?;
                for (name, p) in new {
                    providers.insert(name.clone(), p.clone());
                }
            }
            _ => {
                obj.insert(key.clone(), value.clone());
            }
        }
    }
    let mut text = serde_json::to_string_pretty(&root).map_err(|e| e.to_string())?;
    text.push('\n');
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ws() -> Workspace {
        let c = lakepass_config::Config::parse(
            "[idp.i]\nissuer = \"https://idp.example.com\"\nclient_id = \"c\"\n[workspace.dev]\nidp = \"i\"\nhost = \"https://adb-1.example.net\"\n",
            Path::new("c.toml"),
        )
        .unwrap();
        c.workspace(Some("dev")).unwrap()
    }

    #[test]
    fn the_provider_runs_the_helper_as_its_key_and_the_first_model_is_the_default() {
        let models = ["system.ai.claude-opus-4-6".to_string(), "system.ai.claude-sonnet-4-6".to_string()];
        let gw = PiGateway {
            base_path: "/ai-gateway/anthropic",
            models: &models,
            helper: "'/opt/lakepass' token --raw --workspace 'dev'",
            agent_dir: Path::new("/d/launch/pi/dev/agent"),
            session_dir: Some(Path::new("/h/.pi/agent/sessions")),
        };
        let plan = pi_plan(&ws(), &gw, &["-p".into(), "say pong".into()]);
        let p = &plan.models["providers"]["lakepass-dev"];
        assert_eq!(p["baseUrl"], "https://adb-1.example.net/ai-gateway/anthropic");
        assert_eq!(p["api"], "anthropic-messages");
        assert_eq!(p["apiKey"], "!'/opt/lakepass' token --raw --workspace 'dev'");
        assert_eq!(p["authHeader"], true);
        assert_eq!(p["compat"]["supportsEagerToolInputStreaming"], false);
        assert_eq!(p["models"], json!([{"id": models[0]}, {"id": models[1]}]));
        assert_eq!(plan.settings, json!({"defaultProvider": "lakepass-dev", "defaultModel": models[0]}));
        assert_eq!(plan.env.get(PI_AGENT_DIR_VAR), Some("/d/launch/pi/dev/agent"));
        assert_eq!(plan.env.get(PI_SESSION_DIR_VAR), Some("/h/.pi/agent/sessions"));
        assert!(plan.env.remove.iter().any(|k| k == "ANTHROPIC_API_KEY"));
        assert_eq!(plan.args, ["-p", "say pong"]);
        assert_eq!(pi_user_dir(Path::new("/h"), None), Path::new("/h/.pi/agent"));
        assert_eq!(pi_user_dir(Path::new("/h"), Some(Path::new("/p"))), Path::new("/p"));
    }

    #[test]
    fn merging_keeps_the_users_providers_and_settings() {
        let ours = json!({"providers": {"lakepass-dev": {"api": "anthropic-messages"}}});
        let existing = r#"{"providers": {"mine": {"apiKey": "MY_KEY"}, "lakepass-dev": {"old": 1}}, "x": 1}"#;
        let merged: Value = serde_json::from_str(&merge_pi_json(existing, &ours).unwrap()).unwrap();
        assert_eq!(merged["providers"]["mine"]["apiKey"], "MY_KEY");
        assert_eq!(merged["providers"]["lakepass-dev"], json!({"api": "anthropic-messages"}));
        assert_eq!(merged["x"], 1);
        let settings = json!({"defaultProvider": "lakepass-dev", "defaultModel": "m"});
        let merged: Value = serde_json::from_str(
            &merge_pi_json(r#"{"theme": "dark", "defaultModel": "x"}"#, &settings).unwrap(),
        )
        .unwrap();
        assert_eq!(merged, json!({"theme": "dark", "defaultProvider": "lakepass-dev", "defaultModel": "m"}));
        assert_eq!(serde_json::from_str::<Value>(&merge_pi_json("", &ours).unwrap()).unwrap(), ours);
        assert!(merge_pi_json("[1]", &ours).is_err());
        assert!(merge_pi_json(r#"{"providers": 2}"#, &ours).is_err());
    }
}
