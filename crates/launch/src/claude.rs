//! Claude Code through a Databricks workspace: the environment, the `--settings` JSON with its
//! `apiKeyHelper`, and the optional lossless edit of `~/.claude/settings.json`.
//!
//! Facts this relies on (DESIGN.md, "Where tokens go"; TESTING.md, "Claude Code, for real"):
//! Claude Code runs `apiKeyHelper` with `/bin/sh -c` and sends its output as both `X-Api-Key` and
//! `Authorization: Bearer`; it re-runs it after `CLAUDE_CODE_API_KEY_HELPER_TTL_MS` and at once on
//! a 401. `ANTHROPIC_AUTH_TOKEN` (and `ANTHROPIC_API_KEY`) win over the helper, so a launch that
//! wants refresh removes them. Claude Code rejects raw Databricks model ids in `ANTHROPIC_MODEL`,
//! so the three `ANTHROPIC_DEFAULT_*_MODEL` are pinned instead: the newest model of each family
//! the workspace lists (`launch/models.rs`), unless `[claude.<ws>]` names one. A settings file's
//! `env` is applied over the process environment, so the gateway variables also go into the
//! `--settings` JSON, whose flag-level settings outrank the user's own files.
//!
//! WebSearch is denied there too (`permissions.deny: ["WebSearch"]`): Claude Code's WebSearch
//! declares Anthropic's hosted `web_search_20250305` server tool, which the Databricks gateway
//! rejects with a 400, so the model would waste a turn on it. A bare tool name in
//! `permissions.deny` removes the tool from Claude's context (Databricks' ucode does the same,
//! databricks/unity-gateway `src/ucode/agents/claude.py`; the key is Claude Code's own
//! `permissions.deny` array, as its settings validation names it).

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use lakepass_config::{Config, Workspace};
use lakepass_store::atomic::write_atomic;

use super::claude_version::{ClaudeCode, ClaudeFeature};
use super::environment::{EnvChanges, workspace_env};
use super::models::{DiscoveredModels, Family, GATEWAY_BASE_PATH};
use super::{LaunchError, utf8};
use lakepass_engine::sink::sh_quote;

/// The gateway path of current workspaces (AI Gateway).
pub(crate) const DEFAULT_BASE_PATH: &str = GATEWAY_BASE_PATH;
/// Claude Code tools the Databricks gateway rejects; the launch denies them.
pub const DENIED_TOOLS: &[&str] = &["WebSearch"];
/// The version pinned when the workspace could not be asked which models it serves.
const FALLBACK_VERSION: &str = "4-5";
/// Headers sent unless the config says otherwise: Databricks' coding-agent mode.
pub const DEFAULT_HEADERS: &[&str] = &["x-databricks-use-coding-agent-mode: true"];
/// How long Claude Code reuses a helper token unless configured: 15 minutes.
pub const DEFAULT_HELPER_TTL_MS: u64 = 900_000;
/// Variables that would win over `apiKeyHelper`: a launch removes them.
pub const OVERRIDING_VARS: &[&str] = &["ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_API_KEY"];

/// One workspace's Claude Code gateway settings, defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaudeGateway {
    /// Path of the Anthropic API on the host, e.g. `/ai-gateway/anthropic`.
    pub base_path: String,
    /// `ANTHROPIC_DEFAULT_OPUS_MODEL`.
    pub opus_model: String,
    /// `ANTHROPIC_DEFAULT_SONNET_MODEL`.
    pub sonnet_model: String,
    /// `ANTHROPIC_DEFAULT_HAIKU_MODEL`.
    pub haiku_model: String,
    /// `name: value` header lines for `ANTHROPIC_CUSTOM_HEADERS`.
    pub headers: Vec<String>,
    /// The configured helper TTL (see [`effective_ttl_ms`] for what is used).
    pub helper_ttl_ms: u64,
    /// Claude Code settings for the gateway that its version supports
    /// ([`ClaudeGateway::for_claude_code`]): `ENABLE_TOOL_SEARCH`, `ENABLE_PROMPT_CACHING_1H`.
    pub client_env: Vec<(String, String)>,
}

impl ClaudeGateway {
    /// The settings of workspace `name` without asking the workspace: what `[claude.<name>]`
    /// sets, the last-resort model names for the rest (see [`ClaudeGateway::resolve`]).
    pub(crate) fn for_workspace(config: &Config, name: &str) -> Self {
        Self::resolve(config, name, None).0
    }

    /// True when `[claude.<name>]` names all three models, so there is nothing to ask.
    pub(crate) fn models_all_configured(config: &Config, name: &str) -> bool {
        config
            .claude
            .get(name)
            .is_some_and(|c| c.opus_model.is_some() && c.sonnet_model.is_some() && c.haiku_model.is_some())
    }

    /// The settings of workspace `name`. What `[claude.<name>]` sets wins. The rest comes from
    /// what the workspace said it serves (`discovered`): its gateway path and the newest model
    /// of each family; a family it does not serve takes a neighbour's model (a workspace
    /// without Haiku runs Haiku's work on Sonnet). Only when nothing is known does a family get
    /// the last-resort `*-4-5` name (`system.ai.claude-*` on AI Gateway, `databricks-claude-*`
    /// on serving endpoints). Returns the notes to tell the user about substitutions.
    pub fn resolve(
        config: &Config,
        name: &str,
        discovered: Option<&DiscoveredModels>,
    ) -> (Self, Vec<String>) {
        let c = config.claude.get(name).cloned().unwrap_or_default();
        let base_path = c
            .base_path
            .clone()
            .or_else(|| discovered.map(|d| d.base_path.clone()))
            .unwrap_or_else(|| DEFAULT_BASE_PATH.into());
        let prefix = if base_path.starts_with("/serving-endpoints") {
            "databricks-claude"
        } else {
            "system.ai.claude"
        };
        let mut notes = Vec::new();
        let mut pick = |family: Family, configured: Option<String>| -> String {
            if let Some(m) = configured {
                return m;
            }
            let served = discovered.map(|d| &d.models);
            if let Some(m) = served.and_then(|s| s.get(family)) {
                return m.to_string();
            }
            let neighbours = match family {
                Family::Opus => [Family::Sonnet, Family::Haiku],
                Family::Sonnet => [Family::Opus, Family::Haiku],
                Family::Haiku => [Family::Sonnet, Family::Opus],
            };
            if let Some(m) = served.and_then(|s| neighbours.iter().find_map(|f| s.get(*f))) {
                notes.push(format!(
                    "workspace `{name}` serves no {} model; Claude Code's {} work goes to {m}",
                    family.name(),
                    family.name()
                ));
                return m.to_string();
            }
            format!("{prefix}-{}-{FALLBACK_VERSION}", family.name())
        };
        let gw = ClaudeGateway {
            opus_model: pick(Family::Opus, c.opus_model),
            sonnet_model: pick(Family::Sonnet, c.sonnet_model),
            haiku_model: pick(Family::Haiku, c.haiku_model),
            headers: c.headers.unwrap_or_else(|| DEFAULT_HEADERS.iter().map(|h| h.to_string()).collect()),
            helper_ttl_ms: c.helper_ttl_ms.unwrap_or(DEFAULT_HELPER_TTL_MS),
            base_path,
            client_env: Vec::new(),
        };
        (gw, notes)
    }

    /// Adopts what Databricks' ucode sets for Claude Code (databricks/ucode
    /// `src/ucode/agents/claude.py`, `render_overlay`) where the installed Claude Code has it
    /// (`claude_version.rs`): `ENABLE_TOOL_SEARCH=1`, `ENABLE_PROMPT_CACHING_1H=1`, and on AI
    /// Gateway a `[1m]` suffix on the discovered Opus and Sonnet from 4.6 on (ucode's
    /// `_maybe_add_1m_suffix`; a model named in `[claude.<ws>]` is used as written). Left out:
    /// `CLAUDE_CODE_USE_GATEWAY`, which in Claude Code's binary turns on its own "Claude apps
    /// gateway" sign-in and wants `ANTHROPIC_AUTH_TOKEN`, the fixed credential that would win
    /// over the refreshing `apiKeyHelper` (README, "Claude Code").
    pub fn for_claude_code(mut self, config: &Config, name: &str, claude: &ClaudeCode) -> Self {
        if claude.has(ClaudeFeature::ToolSearch) {
            self.client_env.push(("ENABLE_TOOL_SEARCH".into(), "1".into()));
        }
        if claude.has(ClaudeFeature::PromptCaching1h) {
            self.client_env.push(("ENABLE_PROMPT_CACHING_1H".into(), "1".into()));
        }
        if claude.has(ClaudeFeature::OneMillionContext) && self.base_path == GATEWAY_BASE_PATH {
            let c = config.claude.get(name);
            if c.is_none_or(|c| c.opus_model.is_none()) {
                self.opus_model = with_1m_suffix(&self.opus_model);
            }
            if c.is_none_or(|c| c.sonnet_model.is_none()) {
                self.sonnet_model = with_1m_suffix(&self.sonnet_model);
            }
        }
        self
    }

    /// The variables Claude Code reads to reach the gateway (no credentials among them).
    pub fn env(&self, ws: &Workspace, ttl_ms: u64) -> Vec<(String, String)> {
        [
            ("ANTHROPIC_BASE_URL", ws.host.join(&self.base_path)),
            ("ANTHROPIC_DEFAULT_OPUS_MODEL", self.opus_model.clone()),
            ("ANTHROPIC_DEFAULT_SONNET_MODEL", self.sonnet_model.clone()),
            ("ANTHROPIC_DEFAULT_HAIKU_MODEL", self.haiku_model.clone()),
            ("ANTHROPIC_CUSTOM_HEADERS", self.headers.join("\n")),
            ("CLAUDE_CODE_API_KEY_HELPER_TTL_MS", ttl_ms.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .chain(self.client_env.iter().cloned())
        .collect()
    }
}

/// `model[1m]` for an Opus or Sonnet of version 4.6 or later (the two numbers after
/// `claude-<family>-`), else `model` unchanged: ucode's rule (`_maybe_add_1m_suffix`).
pub(crate) fn with_1m_suffix(model: &str) -> String {
    if model.ends_with("[1m]") {
        return model.to_string();
    }
    let newer = |family: &str| {
        let marker = format!("claude-{family}-");
        let Some(at) = model.find(&marker) else { return false };
        let v: Vec<u32> =
            model[at + marker.len()..].split('-').map_while(|p| p.parse::<u32>().ok()).take(2).collect();
        // Two numbers, as ucode's pattern `claude-(opus|sonnet)-(\d+)-(\d+)`: `opus-5` has 1M
        // context by default (Claude Code's changelog, "Added Claude Opus 5 … 1M context").
        matches!(v.as_slice(), [major, minor] if (*major, *minor) >= (4, 6))
    };
    if newer("opus") || newer("sonnet") { format!("{model}[1m]") } else { model.to_string() }
}

/// The helper TTL actually used: the configured one, but never more than half the lifetime of
/// the workspace's tokens (short in demos and tests), and at least a second.
pub fn effective_ttl_ms(configured_ms: u64, token_lifetime_secs: i64) -> u64 {
    let half_life_ms = (token_lifetime_secs.max(0) as u64).saturating_mul(1000) / 2;
    configured_ms.min(half_life_ms).max(1000)
}

/// The token helper as an argv (program first): `<lakepass> [--config <file>] token --raw
/// --workspace <name>`. Agents that run a command without a shell take this (Codex's provider
/// `auth.command`/`args`); [`helper_command`] is the same words quoted for `/bin/sh`.
pub fn helper_argv(
    lakepass: &Path,
    config: Option<&Path>,
    workspace: &str,
) -> Result<Vec<String>, LaunchError> {
    let mut argv = vec![utf8(lakepass)?.to_string()];
    if let Some(c) = config {
        argv.extend(["--config".to_string(), utf8(c)?.to_string()]);
    }
    argv.extend(["token", "--raw", "--workspace", workspace].map(String::from));
    Ok(argv)
}

/// The `apiKeyHelper` shell command: `'<lakepass>' [--config '<file>'] token --raw --workspace
/// '<name>'`, every path and name quoted for `/bin/sh` (the words of [`helper_argv`]).
pub fn helper_command(
    lakepass: &Path,
    config: Option<&Path>,
    workspace: &str,
) -> Result<String, LaunchError> {
    let mut words = vec![sh_quote(utf8(lakepass)?)];
    if let Some(c) = config {
        words.push("--config".into());
        words.push(sh_quote(utf8(c)?));
    }
    words.extend(["token", "--raw", "--workspace"].map(String::from));
    words.push(sh_quote(workspace));
    Ok(words.join(" "))
}

/// What `launch claude` runs: environment changes, the settings object, and Claude's argv
/// after the program (`--settings <json>` then the user's arguments).
#[derive(Debug, Clone, PartialEq)]
pub struct ClaudePlan {
    /// Environment changes: the gateway and workspace variables; credentials that would win
    /// over the helper removed.
    pub env: EnvChanges,
    /// `{"apiKeyHelper": …, "env": {…}, "permissions": {"deny": ["WebSearch"]}}`: passed with
    /// `--settings`, merged by `--write-settings`.
    pub settings: Value,
    /// Arguments for `claude`.
    pub args: Vec<String>,
}

/// Plans a Claude Code launch for `ws` (pure: no IO, no token).
pub fn claude_plan(
    ws: &Workspace,
    gw: &ClaudeGateway,
    helper: &str,
    ttl_ms: u64,
    user_args: &[String],
) -> ClaudePlan {
    let gateway = gw.env(ws, ttl_ms);
    let mut env = workspace_env(ws, None);
    for (k, v) in &gateway {
        env.set(k, v.clone());
    }
    for k in OVERRIDING_VARS {
        env.remove(k);
    }
    let env_json: Map<String, Value> = gateway.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
    let settings = json!({
        "apiKeyHelper": helper,
        "env": env_json,
        "permissions": { "deny": DENIED_TOOLS },
    });
    let mut args = vec!["--settings".to_string(), settings.to_string()];
    args.extend(user_args.iter().cloned());
    ClaudePlan { env, settings, args }
}

/// Where Claude Code keeps the user's settings: `$CLAUDE_CONFIG_DIR/settings.json`, else
/// `~/.claude/settings.json`.
pub fn claude_settings_path(home: &Path, claude_config_dir: Option<&Path>) -> PathBuf {
    claude_config_dir.map(Path::to_path_buf).unwrap_or_else(|| home.join(".claude")).join("settings.json")
}

/// Merges `ours` (the plan's settings) into the text of a settings file: sets `apiKeyHelper`
/// and our `env` keys, adds our `permissions.deny` entries to the user's (keeping theirs),
/// removes `env` credentials that would win over the helper, keeps every other key and value.
/// Returns the new text and the names of the removed variables.
pub fn merge_settings(existing: &str, ours: &Value) -> Result<(String, Vec<String>), String> {
    let mut root = if existing.trim().is_empty() {
        Value::Object(Map::new())
    } else {
        serde_json::from_str::<Value>(existing).map_err(|e| format!("not valid JSON: {e}"))?
    };
    let obj = root.as_object_mut().ok_or("the top level is not an object")?;
    if let Some(helper) = ours.get("apiKeyHelper") {
        obj.insert("apiKeyHelper".into(), helper.clone());
    }
    let env = obj.entry("env").or_insert_with(|| Value::Object(Map::new()));
    let env = env.as_object_mut().ok_or("its `env` is not an object")?;
    if let Some(Value::Object(vars)) = ours.get("env") {
        for (k, v) in vars {
            env.insert(k.clone(), v.clone());
        }
    }
    let removed: Vec<String> =
        OVERRIDING_VARS.iter().filter(|k| env.remove(**k).is_some()).map(|k| k.to_string()).collect();
    if let Some(Value::Array(ours_deny)) = ours.pointer("/permissions/deny") {
        let permissions = obj.entry("permissions").or_insert_with(|| Value::Object(Map::new()));
        let permissions = permissions.as_object_mut().ok_or("its `permissions` is not an object")?;
        let deny = permissions.entry("deny").or_insert_with(|| Value::Array(Vec::new()));
        let deny = deny.as_array_mut().ok_or("its `permissions.deny` is not an array")?;
        for rule in ours_deny {
            if !deny.contains(rule) {
                deny.push(rule.clone());
            }
        }
    }
    let mut text = serde_json::to_string_pretty(&root).map_err(|e| e.to_string())?;
    text.push('\n');
    Ok((text, removed))
}

/// The credentials a settings file's `env` sets that would win over the helper (a file that
/// cannot be parsed has none: Claude Code will complain about it itself).
pub fn settings_conflicts(text: &str) -> Vec<String> {
    let Ok(v) = serde_json::from_str::<Value>(text) else {
        return Vec::new();
    };
    OVERRIDING_VARS
        .iter()
        .filter(|k| v.get("env").and_then(|e| e.get(**k)).is_some())
        .map(|k| k.to_string())
        .collect()
}

/// Merges `ours` into the settings file at `path` (created if missing), atomically, keeping its
/// permission bits. Returns the removed credential variables.
pub fn write_claude_settings(path: &Path, ours: &Value) -> Result<Vec<String>, LaunchError> {
    let io = |action, source| LaunchError::Io { action, path: path.into(), source };
    let (existing, mode) = match std::fs::read_to_string(path) {
        Ok(text) => (text, file_mode(path).unwrap_or(0o600)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (String::new(), 0o600),
        Err(e) => return Err(io("read", e)),
    };
    let (text, removed) = merge_settings(&existing, ours)
        .map_err(|reason| LaunchError::BadSettings { path: path.into(), reason })?;
    write_atomic(path, text.as_bytes(), mode).map_err(|e| io("write", e))?;
    Ok(removed)
}

/// The permission bits of an existing file (`None` where there are none, or no file).
pub(super) fn existing_mode(path: &Path) -> Option<u32> {
    file_mode(path)
}

#[cfg(unix)]
fn file_mode(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).ok().map(|m| m.permissions().mode() & 0o777)
}

#[cfg(not(unix))]
fn file_mode(_: &Path) -> Option<u32> {
    None
}
