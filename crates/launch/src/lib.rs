//! Launchers: Claude Code through a workspace's AI Gateway, and terminals or commands with a
//! workspace's environment preset.
//!
//! Why this shape: a token copied into an environment variable or a file is stale in an hour,
//! while Claude Code sessions and shells live for days. So nothing launched here is handed a
//! token. Claude Code gets an `apiKeyHelper` that runs `lakepass token --raw` (re-run after a
//! TTL well inside the token's lifetime, and at once on a 401), and never
//! `ANTHROPIC_AUTH_TOKEN`, which would win over the helper. Shells get `DATABRICKS_HOST` and the
//! workspace's `<profile>-live` profile, which the live token service keeps fresh. Tokens never
//! go in argv, where every user of the machine can read them.
//!
//! A launch is planned once, as a value ([`LaunchPlan`], `plan.rs`), by one planning function
//! per [`Agent`] (`planner.rs`), and carried out by one executor, here or in a new terminal
//! (`execute.rs`, whose docs say how a plan crosses into the terminal). The CLI and the tray
//! host both plan in their own process and call the same executor.
//!
//! Every decision is a pure function over plain values, unit-tested on every platform's table:
//! [`claude_plan`] (environment, `--settings` JSON, arguments), [`merge_settings`] (the lossless
//! `~/.claude/settings.json` edit), [`terminal_candidates`] and [`terminal_invocation`] (which
//! terminal emulator, with which argv), [`workspace_env`] and [`export_lines`]. The IO is thin and
//! sits at the edges: [`find_program`], [`write_claude_settings`], [`spawn_detached`] and
//! [`hand_over`], whose platform parts live in `launch/platform/{linux,macos,windows}.rs`.
//!
//! lakepass-launch: start tools already wired to a workspace. What it may use: `lakepass-wire`,
//! `lakepass-store`, `lakepass-config`, `lakepass-engine` (the live profile names, the scopes of
//! the MCP servers, the failure vocabulary).

mod claude;
mod claude_version;
mod codex;
mod copilot;
mod environment;
mod execute;
mod gemini;
mod installed;
mod mcp;
pub mod mcp_relay;
pub mod models;
mod offered;
mod opencode;
mod pi;
mod plan;
mod planner;
mod platform;
mod proxy;

mod terminal;

use std::path::{Path, PathBuf};

pub use claude::{
    ClaudeGateway, ClaudePlan, DEFAULT_HEADERS, DEFAULT_HELPER_TTL_MS, DENIED_TOOLS, OVERRIDING_VARS,
    claude_plan, claude_settings_path, effective_ttl_ms, helper_argv, helper_command, merge_settings,
    settings_conflicts, write_claude_settings,
};
pub use claude_version::{ClaudeCode, ClaudeFeature, ClaudeVersion, installed_claude};
pub use codex::{
    CODEX_BASE_PATH, CODEX_OVERRIDING_VARS, CODEX_REFRESH_INTERVAL_MS, CodexPlan, codex_config_path,
    codex_plan, codex_provider_id, merge_codex_config,
};
pub use copilot::{
    COPILOT_BASE_PATH, COPILOT_OVERRIDING_VARS, COPILOT_SERVING_BASE_PATH, CopilotPlan, copilot_mcp_config,
    copilot_plan,
};
pub use environment::{
    CA_VARS, CaFiles, EnvChanges, ca_bundle, ca_files_to_write, export_lines, pass_on_ca, workspace_ca_files,
    workspace_env, write_ca_files,
};
pub use execute::{Carried, carry_out, record, removed_notes, save_plan_file, take_plan_file};
pub use gemini::{
    FALLBACK_GEMINI_MODEL, GEMINI_GATEWAY_PATH, GeminiPlan, PLACEHOLDER_KEY, gemini_model, gemini_plan,
};
pub use installed::{InstalledAgent, installed_agents};
pub use mcp::{
    add_mcp_config, headers_helper_command, mcp_config, mcp_proxy_argv, merge_mcp_json, write_mcp_json,
};
pub use offered::{default_agent, offered_agents};
pub use opencode::{
    OPENCODE_BASE_PATH, OPENCODE_BASE_URL_VAR, OPENCODE_CONFIG_VAR, OPENCODE_SERVING_BASE_PATH, OpenCodePlan,
    opencode_plan, opencode_provider_id,
};
pub use pi::{
    PI_AGENT_DIR_VAR, PI_SESSION_DIR_VAR, PiGateway, PiPlan, merge_pi_json, pi_plan, pi_provider_id,
};
pub use plan::{Agent, LaunchPlan, LaunchRequest, PlannedFile, TerminalChoice};
pub use planner::{
    Surroundings, claude_code_of, explicit_config, launch_mcp_config, plan, plan_claude, plan_codex,
    plan_copilot, plan_gemini, plan_opencode, plan_pi, plan_terminal,
};
pub use platform::{CURRENT_PLATFORM, hand_over, spawn_detached};
pub use proxy::{ProxyEnv, open_proxy_env};

pub use terminal::{
    Platform, TerminalCandidate, TerminalContext, TerminalInvocation, TerminalKind, terminal_candidates,
    terminal_invocation,
};

/// Why a launch could not happen; each says what to do next.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// Claude Code is not installed (or not where the config says).
    #[error("{}", claude_missing(configured))]
    ClaudeNotFound {
        /// The configured `claude_path`, when one was set.
        configured: Option<PathBuf>,
    },
    /// An agent other than Claude Code is not installed (or not where the config says).
    #[error("{}", agent_missing(*agent, configured))]
    AgentNotFound {
        /// Which agent.
        agent: Agent,
        /// The configured `[agent.<name>] path`, when one was set.
        configured: Option<PathBuf>,
    },
    /// No terminal emulator was found.
    #[error(
        "no terminal emulator found (tried {}); set `terminal = \"<program>\"` in the Lakepass config \
         or the TERMINAL environment variable",
        tried.join(", ")
    )]
    NoTerminal {
        /// The programs looked for, in order.
        tried: Vec<String>,
    },
    /// A path Lakepass must put into a shell command or JSON is not UTF-8.
    #[error("the path {} is not valid UTF-8; move it to a path without such characters", path.display())]
    NotUtf8 {
        /// The path.
        path: PathBuf,
    },
    /// The Claude Code settings file is not a JSON object, so merging into it could lose data.
    #[error(
        "{} is not a JSON object ({reason}); it was left as it was: fix it, or launch without \
         --write-settings",
        path.display()
    )]
    BadSettings {
        /// The settings file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Reading or writing a file failed.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done (`read`, `write`).
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The program could not be started.
    #[error("cannot start {program}: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The workspace is unknown, or the config names none.
    #[error(transparent)]
    Config(Box<lakepass_config::ConfigError>),
    /// No token for the workspace: most often a sign-in is needed. Its kind is the engine's.
    #[error("cannot launch {} for workspace `{workspace}`: {error}", agent.title())]
    SignIn {
        /// What was to be launched.
        agent: Agent,
        /// The workspace.
        workspace: String,
        /// Why there is no token.
        error: Box<lakepass_engine::engine::EngineError>,
    },
    /// The configured launch folder is not there.
    #[error(
        "the launch folder {} does not exist; create it, or change `launch_dir` in {}",
        dir.display(),
        config.display()
    )]
    NoLaunchDir {
        /// The folder.
        dir: PathBuf,
        /// The config file that names it.
        config: PathBuf,
    },
    /// A plan handed to `lakepass launch --plan` cannot be used.
    #[error("cannot carry out the launch plan {}: {reason}", path.display())]
    PlanFile {
        /// The plan file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The terminal emulator started but failed at once (e.g. no display).
    #[error(
        "{program} exited at once with {status}; if it cannot open a window here (no display?), set \
         `terminal` in the Lakepass config to one that can"
    )]
    TerminalFailed {
        /// The terminal program.
        program: String,
        /// How it exited.
        status: std::process::ExitStatus,
    },
}

impl LaunchError {
    /// What kind of failure: something missing that the config (or the environment) must name
    /// is a usage error (exit 2); a program that failed to start is a launch failure.
    pub fn kind(&self) -> lakepass_engine::error::ErrorKind {
        use lakepass_engine::error::ErrorKind;
        match self {
            LaunchError::ClaudeNotFound { .. }
            | LaunchError::AgentNotFound { .. }
            | LaunchError::NoTerminal { .. }
            | LaunchError::Config(_)
            | LaunchError::NoLaunchDir { .. } => ErrorKind::Config,
            LaunchError::SignIn { error, .. } => error.kind(),
            LaunchError::NotUtf8 { .. } | LaunchError::BadSettings { .. } => ErrorKind::Invalid,
            LaunchError::Io { .. }
            | LaunchError::Spawn { .. }
            | LaunchError::TerminalFailed { .. }
            | LaunchError::PlanFile { .. } => ErrorKind::Launch,
        }
    }
}

impl From<lakepass_config::ConfigError> for LaunchError {
    fn from(e: lakepass_config::ConfigError) -> Self {
        LaunchError::Config(Box::new(e))
    }
}

fn claude_missing(configured: &Option<PathBuf>) -> String {
    match configured {
        Some(p) => format!(
            "Claude Code is not at {} (`claude_path` in the Lakepass config); fix the path, or remove \
             the line to use `claude` from PATH",
            p.display()
        ),
        None => "Claude Code (`claude`) is not on PATH; install it with `npm install -g \
                 @anthropic-ai/claude-code`, or set `claude_path` in the Lakepass config"
            .into(),
    }
}

fn agent_missing(agent: Agent, configured: &Option<PathBuf>) -> String {
    match configured {
        Some(p) => format!(
            "{} is not at {} (`[agent.{}] path` in the Lakepass config); fix the path, or remove the \
             line to use `{}` from PATH",
            agent.title(),
            p.display(),
            agent.as_str(),
            agent.as_str()
        ),
        None => format!(
            "{} (`{}`) is not on PATH; install it with `{}`, or set `path` under [agent.{}] in the \
             Lakepass config (`lakepass launch --list` shows every agent)",
            agent.title(),
            agent.as_str(),
            agent.install_hint().unwrap_or("its installer"),
            agent.as_str()
        ),
    }
}

/// Finds `name` like a shell would: a name with a path separator is checked as is; a bare name
/// is looked up in `path` (a `PATH` value), with Windows' executable extensions where needed.
pub(crate) fn find_program(name: &Path, path: Option<&std::ffi::OsStr>) -> Option<PathBuf> {
    let has_dir = name.components().count() > 1 || name.is_absolute();
    let candidates = |p: PathBuf| -> Vec<PathBuf> {
        let mut out = vec![p.clone()];
        if CURRENT_PLATFORM == Platform::Windows && p.extension().is_none() {
            out.extend(["exe", "cmd", "bat"].iter().map(|ext| p.with_extension(ext)));
        }
        out
    };
    if has_dir {
        return candidates(name.to_path_buf()).into_iter().find(|p| is_executable(p));
    }
    std::env::split_paths(path?)
        .filter(|dir| !dir.as_os_str().is_empty())
        .flat_map(|dir| candidates(dir.join(name)))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    match std::fs::metadata(p) {
        #[cfg(unix)]
        Ok(m) => {
            use std::os::unix::fs::PermissionsExt as _;
            m.is_file() && m.permissions().mode() & 0o111 != 0
        }
        #[cfg(not(unix))]
        Ok(m) => m.is_file(),
        Err(_) => false,
    }
}

/// `~` and `~/…` expanded against `home`; anything else as written.
pub fn expand_home(dir: &str, home: Option<&Path>) -> PathBuf {
    match (dir.strip_prefix('~'), home) {
        (Some(""), Some(h)) => h.to_path_buf(),
        (Some(rest), Some(h)) if rest.starts_with(['/', '\\']) => h.join(&rest[1..]),
        _ => PathBuf::from(dir),
    }
}

/// The user's home folder.
pub fn user_home() -> Option<PathBuf> {
    dirs::home_dir()
}

/// A path as UTF-8, for shell commands and JSON.
pub(crate) fn utf8(path: &Path) -> Result<&str, LaunchError> {
    path.to_str().ok_or_else(|| LaunchError::NotUtf8 { path: path.into() })
}

#[cfg(test)]
mod tests;
