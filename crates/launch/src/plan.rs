//! A launch as a value: [`LaunchPlan`] says everything a launch will do (the program and its
//! argv, the environment to set and remove, the files to write, the folder, the terminal to
//! open, the messages for the user), before any of it happens.
//!
//! Why a value: a launch used to be planned twice. The tray ran `lakepass launch claude
//! --new-terminal`, which computed the whole plan (a token, model discovery, the MCP config),
//! kept only the terminal, and the `lakepass launch claude` inside the terminal computed it all
//! again. Now the planner (`planner.rs`) builds the plan once, in whichever process was asked
//! (the CLI, or the tray host in process), and one executor (`execute.rs`) carries it out, here
//! or in a new terminal. For the new terminal, the executor hands the finished plan over in a
//! private file ([`LaunchPlan::for_inside_terminal`], `lakepass launch --plan <file>`), so the
//! one `lakepass` process in the terminal only reads it, deletes it, and becomes the agent.
//!
//! [`Agent`] is the seam for coding agents: what each one is called, how its program is found,
//! and (in `planner.rs`) one planning function per agent. Adding one is a variant here and a
//! function there.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::environment::EnvChanges;
use super::terminal::TerminalCandidate;
use lakepass_config::{Config, Workspace};

/// What a launch starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Agent {
    /// Claude Code through the workspace's AI Gateway.
    Claude,
    /// OpenAI's Codex CLI through AI Gateway's Responses API (`codex.rs`).
    Codex,
    /// Gemini CLI (`@google/gemini-cli`) through AI Gateway's native Gemini API, via the engine's
    /// proxy (`gemini.rs`).
    Gemini,
    /// OpenCode (`opencode-ai`) through AI Gateway's Anthropic API, via the engine's proxy
    /// (`opencode.rs`).
    OpenCode,
    /// GitHub Copilot CLI (`@github/copilot`) through AI Gateway's Chat Completions API
    /// (`copilot.rs`).
    Copilot,
    /// Pi (`@mariozechner/pi-coding-agent`) through AI Gateway's Anthropic API (`pi.rs`).
    Pi,
    /// The user's shell in a terminal window, with the workspace's environment.
    Terminal,
}

impl Agent {
    /// Every agent, in the order menus and `launch --list` show them.
    pub const ALL: [Agent; 7] = [
        Agent::Claude,
        Agent::Codex,
        Agent::Gemini,
        Agent::OpenCode,
        Agent::Copilot,
        Agent::Pi,
        Agent::Terminal,
    ];

    /// The stable name (`lakepass launch <name>`, `[agent.<name>]`, audit lines, plan files).
    pub fn as_str(self) -> &'static str {
        match self {
            Agent::Claude => "claude",
            Agent::Codex => "codex",
            Agent::Gemini => "gemini",
            Agent::OpenCode => "opencode",
            Agent::Copilot => "copilot",
            Agent::Pi => "pi",
            Agent::Terminal => "terminal",
        }
    }

    /// What it is called in messages.
    pub fn title(self) -> &'static str {
        match self {
            Agent::Claude => "Claude Code",
            Agent::Codex => "Codex",
            Agent::Gemini => "Gemini CLI",
            Agent::OpenCode => "OpenCode",
            Agent::Copilot => "Copilot CLI",
            Agent::Pi => "Pi",
            Agent::Terminal => "a terminal",
        }
    }

    /// The program to look for (`[agent.<name>] path`, or for Claude Code the older
    /// `claude_path`; else the agent's npm binary name, which is its `as_str`, on PATH), with
    /// the configured path when there is one; `None` for the terminal, whose program is the
    /// emulator and the user's shell.
    pub fn program(self, config: &Config) -> Option<(PathBuf, Option<PathBuf>)> {
        if self == Agent::Terminal {
            return None;
        }
        // `~/…` is the home folder, as the config's docs say.
        let configured = config.agent_path(self.as_str()).map(|p| match p.to_str() {
            Some(s) if s.starts_with('~') => super::expand_home(s, super::user_home().as_deref()),
            _ => p.to_path_buf(),
        });
        Some((configured.clone().unwrap_or_else(|| PathBuf::from(self.as_str())), configured))
    }

    /// How to install the agent when it is missing; `None` for the terminal.
    pub fn install_hint(self) -> Option<&'static str> {
        match self {
            // Claude Code's own installer (docs.anthropic.com, "Set up Claude Code"); the npm
            // package still works and is what ucode names.
            Agent::Claude => Some(
                "curl -fsSL https://claude.ai/install.sh | bash   (or: npm install -g @anthropic-ai/claude-code)",
            ),
            // The npm packages databricks/ucode installs (`agents/codex.py`, `agents/pi.py`
            // SPEC["package"]; Pi's is also published as `@mariozechner/pi-coding-agent`, the
            // one tests/peers pins).
            Agent::Codex => Some("npm install -g @openai/codex"),
            // databricks/unity-gateway `src/ucode/agents/gemini.py` SPEC["package"].
            Agent::Gemini => Some("npm install -g @google/gemini-cli"),
            // ucode `agents/opencode.py` and `agents/copilot.py` SPEC["package"].
            Agent::OpenCode => Some("npm install -g opencode-ai"),
            Agent::Copilot => Some("npm install -g @github/copilot"),
            Agent::Pi => Some("npm install -g @mariozechner/pi-coding-agent"),
            Agent::Terminal => None,
        }
    }
}

/// What was asked for: which agent, for which workspace, how.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LaunchRequest {
    /// The workspace; `None`: the active one.
    pub workspace: Option<String>,
    /// Open it in a new terminal window (the terminal agent always is).
    pub new_terminal: bool,
    /// Also write the agent's settings into the user's own files (`--write-settings`).
    pub write_settings: bool,
    /// The user's arguments for the agent.
    pub args: Vec<String>,
}

/// One file the launch writes before the program starts: the whole new text, written
/// atomically with `mode` (0600 unless it keeps an existing file's mode).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedFile {
    /// Where.
    pub path: PathBuf,
    /// The whole text.
    pub contents: String,
    /// Its permission bits.
    pub mode: u32,
    /// What to tell the user once it is written.
    pub told: Vec<String>,
}

/// The terminal window a launch opens, chosen already.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TerminalChoice {
    /// Which terminal, and how it is told what to run.
    pub candidate: TerminalCandidate,
    /// Its program as found on PATH.
    pub program: String,
    /// The folder it starts in.
    pub dir: PathBuf,
    /// The terminal's own environment changes (the workspace's; never a secret).
    pub env: EnvChanges,
    /// `$SHELL`, for terminals that must be given a command.
    pub shell: Option<String>,
}

/// A launch, planned: everything it will do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LaunchPlan {
    /// The workspace it is for.
    pub workspace: String,
    /// What it starts.
    pub agent: Agent,
    /// The agent's program, found; `None` for the terminal agent (the user's shell).
    pub program: Option<PathBuf>,
    /// The program's arguments.
    pub args: Vec<String>,
    /// The program's environment changes.
    pub env: EnvChanges,
    /// Files to write first.
    #[serde(default)]
    pub files: Vec<PlannedFile>,
    /// The program's folder; `None`: the folder it is started from.
    pub dir: Option<PathBuf>,
    /// Lines to show the user before it starts (`note: …`, `warning: …`).
    #[serde(default)]
    pub messages: Vec<String>,
    /// Set when the launch opens a new terminal window.
    #[serde(skip)]
    pub terminal: Option<TerminalChoice>,
    /// The `lakepass` program, which runs the plan inside the terminal.
    pub lakepass: PathBuf,
    /// A variable that gets the engine proxy's grant URL when the agent starts (never in the
    /// plan itself: see `proxy.rs`).
    #[serde(default)]
    pub proxy: Option<super::proxy::ProxyEnv>,
}

impl LaunchPlan {
    /// A plan that runs `agent`'s `program` for `ws` in the folder it is started from, with no
    /// arguments, variables, files, messages, new terminal or proxy yet: each agent's planner
    /// fills in its own.
    pub(crate) fn of_agent(agent: Agent, ws: &Workspace, program: PathBuf, lakepass: &Path) -> LaunchPlan {
        LaunchPlan {
            workspace: ws.name.clone(),
            agent,
            program: Some(program),
            args: Vec::new(),
            env: EnvChanges::default(),
            files: Vec::new(),
            dir: None,
            messages: Vec::new(),
            terminal: None,
            lakepass: lakepass.to_path_buf(),
            proxy: None,
        }
    }

    /// What the `lakepass` inside the new terminal carries out: the program, its environment
    /// and arguments, and the messages to show there; the files are written already, and the
    /// terminal is the one it runs in.
    pub(crate) fn for_inside_terminal(&self) -> LaunchPlan {
        LaunchPlan { files: Vec::new(), terminal: None, dir: None, ..self.clone() }
    }

    /// The argv the terminal runs for this plan, given the plan file: `lakepass launch --plan
    /// <file>`; `None` for the terminal agent (the terminal runs the user's shell).
    pub(crate) fn terminal_command(&self, plan_file: &Path) -> Option<Vec<String>> {
        self.program.as_ref()?;
        Some(vec![
            self.lakepass.to_string_lossy().into_owned(),
            "launch".into(),
            "--plan".into(),
            plan_file.to_string_lossy().into_owned(),
        ])
    }
}
