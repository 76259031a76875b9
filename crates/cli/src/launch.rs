//! `launch <agent>`, `launch --list`, `exec` and `env`: start tools already wired to a
//! workspace. A launch is planned once (`lakepass_launch::plan_*`) and carried out by the
//! core's one executor (`launch::carry_out`); this file only gathers the process's surroundings,
//! prints what the plan and the executor tell, and sets the exit code. `launch --plan <file>`
//! (hidden) is the far end of a new-terminal launch: it carries out a plan made elsewhere (by
//! `--new-terminal` here, or by the tray), without planning again.

use std::path::PathBuf;
use std::process::{Command, ExitCode, ExitStatus};
use std::time::Instant;

use anyhow::Context;
use clap::{Args, Subcommand};
use lakepass_config::{Config, Workspace};
use lakepass_engine::sink::live_profile_name;
use lakepass_launch::EnvChanges;
use lakepass_launch::{
    self as launch, Agent, Carried, LaunchPlan, LaunchRequest, Surroundings, export_lines, pass_on_ca,
    workspace_ca_files, workspace_env, write_ca_files,
};
use lakepass_store::Paths;
use lakepass_wire::{Clock, SystemClock};

use crate::app;
use crate::args::WorkspaceArg;

/// `lakepass launch …`.
#[derive(Args, Debug)]
#[command(
    subcommand_required = false,
    arg_required_else_help = true,
    args_conflicts_with_subcommands = true,
    override_usage = "lakepass launch [OPTIONS] <AGENT> [-- <AGENT ARGS>...]\n       lakepass launch --list",
    after_help = LAUNCH_HELP
)]
pub struct LaunchArgs {
    /// List the coding agents: which are installed (and where, which version), how to install
    /// the others.
    #[arg(long)]
    list: bool,
    /// Carry out a launch plan made by `--new-terminal` or the tray (read, then deleted).
    #[arg(long, hide = true, value_name = "FILE")]
    plan: Option<PathBuf>,
    #[command(subcommand)]
    cmd: Option<LaunchCmd>,
}

const LAUNCH_HELP: &str = "\
Each agent is preset for the workspace's AI Gateway and never holds a token: it runs
`lakepass token` whenever it needs one, so a session lasts as long as your sign-in.
Everything after `--` goes to the agent unchanged.

Examples:
  lakepass launch --list                         which agents are installed
  lakepass launch claude                         Claude Code, interactive
  lakepass launch codex -- exec \"fix the tests\"  Codex, non-interactive
  lakepass launch pi -w prod -- -p \"say hi\"      Pi for workspace `prod`, print mode
  lakepass launch opencode -- run \"say hi\"       OpenCode, non-interactive
  lakepass launch copilot -- -p \"say hi\"         Copilot CLI, print mode
  lakepass launch codex --new-terminal           in a new terminal window

Per agent settings go in the Lakepass config: [agent.<name>] path = \"…\", model = \"…\",
and per workspace [agent.<name>.workspace.<ws>] model = \"…\".";

/// `lakepass launch <agent>`.
#[derive(Subcommand, Debug)]
pub enum LaunchCmd {
    /// Claude Code through the workspace's AI Gateway; its token helper keeps it signed in for days.
    Claude(ClaudeArgs),
    /// OpenAI's Codex CLI through AI Gateway's Responses API; its provider's token command keeps it signed in.
    Codex(CodexArgs),
    /// Gemini CLI through AI Gateway's native Gemini API, by way of the engine's local proxy that adds a fresh token.
    Gemini(GeminiArgs),
    /// OpenCode through AI Gateway's Anthropic API, by way of the engine's local proxy that adds a fresh token.
    #[command(name = "opencode")]
    OpenCode(OpenCodeArgs),
    /// GitHub Copilot CLI through AI Gateway's Chat Completions API; its key command asks Lakepass per request.
    Copilot(CopilotArgs),
    /// Pi through AI Gateway's Anthropic API; its API key is a command that asks Lakepass on every request.
    Pi(PiArgs),
    /// A terminal window with DATABRICKS_HOST and the workspace's live profile preset.
    Terminal(WorkspaceArg),
}

/// Arguments of `launch claude`.
#[derive(Args, Debug)]
pub struct ClaudeArgs {
    #[command(flatten)]
    ws: WorkspaceArg,
    /// Open Claude Code in a new terminal window (what the tray app does).
    #[arg(long)]
    new_terminal: bool,
    /// Also merge the gateway settings and apiKeyHelper into ~/.claude/settings.json, and the
    /// workspace's managed MCP servers into ./.mcp.json (other keys are kept), so a plain
    /// `claude` uses them too.
    #[arg(long)]
    write_settings: bool,
    /// Arguments for Claude Code, after `--` (e.g. `-- -p "hello"`).
    #[arg(last = true, value_name = "CLAUDE_ARGS")]
    args: Vec<String>,
}

/// Arguments of `launch codex`.
#[derive(Args, Debug)]
pub struct CodexArgs {
    #[command(flatten)]
    ws: WorkspaceArg,
    /// Open Codex in a new terminal window.
    #[arg(long)]
    new_terminal: bool,
    /// Also merge the workspace's model provider (its token command, model and MCP servers) into
    /// your ~/.codex/config.toml and make it the default (other settings are kept), so a plain
    /// `codex` uses it too. Without it, your Codex config is left as it is and the provider is
    /// set for this run only (`codex -c …`).
    #[arg(long)]
    write_settings: bool,
    /// Arguments for Codex, after `--` (e.g. `-- exec "say hello"`).
    #[arg(last = true, value_name = "CODEX_ARGS")]
    args: Vec<String>,
}

/// Arguments of `launch gemini`.
#[derive(Args, Debug)]
pub struct GeminiArgs {
    #[command(flatten)]
    ws: WorkspaceArg,
    /// Open Gemini CLI in a new terminal window.
    #[arg(long)]
    new_terminal: bool,
    /// Accepted for symmetry; writes nothing: Gemini CLI's gateway goes through this launch's proxy
    /// key, which must not be kept in your own settings.
    #[arg(long)]
    write_settings: bool,
    /// Arguments for Gemini CLI, after `--` (e.g. `-- -p "say hello"`).
    #[arg(last = true, value_name = "GEMINI_ARGS")]
    args: Vec<String>,
}

/// Arguments of `launch opencode`.
#[derive(Args, Debug)]
pub struct OpenCodeArgs {
    #[command(flatten)]
    ws: WorkspaceArg,
    /// Open OpenCode in a new terminal window.
    #[arg(long)]
    new_terminal: bool,
    /// Accepted for symmetry; writes nothing: OpenCode's provider goes through this launch's proxy
    /// key, which must not be kept in your own config.
    #[arg(long)]
    write_settings: bool,
    /// Arguments for OpenCode, after `--` (e.g. `-- run "say hello"`).
    #[arg(last = true, value_name = "OPENCODE_ARGS")]
    args: Vec<String>,
}

/// Arguments of `launch copilot`.
#[derive(Args, Debug)]
pub struct CopilotArgs {
    #[command(flatten)]
    ws: WorkspaceArg,
    /// Open Copilot CLI in a new terminal window.
    #[arg(long)]
    new_terminal: bool,
    /// Accepted for symmetry; writes nothing: Copilot CLI's provider settings are environment
    /// variables, set for this run.
    #[arg(long)]
    write_settings: bool,
    /// Arguments for Copilot CLI, after `--` (e.g. `-- -p "say hello"`).
    #[arg(last = true, value_name = "COPILOT_ARGS")]
    args: Vec<String>,
}

/// Arguments of `launch pi`.
#[derive(Args, Debug)]
pub struct PiArgs {
    #[command(flatten)]
    ws: WorkspaceArg,
    /// Open Pi in a new terminal window.
    #[arg(long)]
    new_terminal: bool,
    /// Also merge the workspace's provider and default model into your own Pi folder
    /// (~/.pi/agent/models.json and settings.json; other entries are kept) and run Pi with it.
    /// Without it, Pi runs with a Lakepass-owned settings folder (your sessions are kept).
    #[arg(long)]
    write_settings: bool,
    /// Arguments for Pi, after `--` (e.g. `-- -p "say hello"`).
    #[arg(last = true, value_name = "PI_ARGS")]
    args: Vec<String>,
}

/// Arguments of `exec`.
#[derive(Args, Debug)]
pub struct ExecArgs {
    #[command(flatten)]
    ws: WorkspaceArg,
    /// The command and its arguments.
    #[arg(trailing_var_arg = true, required = true, value_name = "CMD")]
    command: Vec<String>,
}

/// Arguments of `env`.
#[derive(Args, Debug)]
pub struct EnvArgs {
    #[command(flatten)]
    ws: WorkspaceArg,
    /// Export DATABRICKS_TOKEN (a copy that expires within the hour) instead of the live profile.
    #[arg(long)]
    with_token: bool,
}

/// Runs `launch <agent>`, `launch --list` or `launch --plan`.
pub async fn launch(paths: &Paths, a: LaunchArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    if a.list {
        return list(paths);
    }
    // The workspace the plan is for, when the config names one (for the audit log of a failure).
    let ws_name: Option<String>;
    let (agent, req) = match (a.plan, a.cmd) {
        (Some(file), _) => {
            let mut plan = launch::take_plan_file(&file)?;
            open_proxy(paths, &mut plan).await?;
            return carry_out(paths, &plan, started);
        }
        (None, Some(LaunchCmd::Terminal(w))) => {
            let config = app::load_config(paths)?;
            let req = LaunchRequest { workspace: w.workspace, new_terminal: true, ..Default::default() };
            ws_name = config.workspace(req.workspace.as_deref()).ok().map(|w| w.name);
            let plan = launch::plan_terminal(&config, paths, &req, &surroundings(paths)?);
            return finish(paths, ws_name, plan, started).await;
        }
        (None, Some(LaunchCmd::Claude(c))) => {
            (Agent::Claude, request(c.ws, c.new_terminal, c.write_settings, c.args))
        }
        (None, Some(LaunchCmd::Codex(c))) => {
            (Agent::Codex, request(c.ws, c.new_terminal, c.write_settings, c.args))
        }
        (None, Some(LaunchCmd::Gemini(c))) => {
            (Agent::Gemini, request(c.ws, c.new_terminal, c.write_settings, c.args))
        }
        (None, Some(LaunchCmd::OpenCode(c))) => {
            (Agent::OpenCode, request(c.ws, c.new_terminal, c.write_settings, c.args))
        }
        (None, Some(LaunchCmd::Copilot(c))) => {
            (Agent::Copilot, request(c.ws, c.new_terminal, c.write_settings, c.args))
        }
        (None, Some(LaunchCmd::Pi(c))) => {
            (Agent::Pi, request(c.ws, c.new_terminal, c.write_settings, c.args))
        }
        (None, None) => anyhow::bail!(
            "name what to launch: `lakepass launch <agent>` (`lakepass launch --list` shows them)"
        ),
    };
    let engine = app::engine(paths).await?;
    ws_name = engine.config().workspace(req.workspace.as_deref()).ok().map(|w| w.name);
    let plan = launch::plan(&engine, paths, agent, &req, &surroundings(paths)?).await;
    finish(paths, ws_name, plan, started).await
}

fn request(ws: WorkspaceArg, new_terminal: bool, write_settings: bool, args: Vec<String>) -> LaunchRequest {
    LaunchRequest { workspace: ws.workspace, new_terminal, write_settings, args }
}

/// Carries out a plan, or records why there is none.
async fn finish(
    paths: &Paths,
    ws_name: Option<String>,
    plan: Result<LaunchPlan, launch::LaunchError>,
    started: Instant,
) -> anyhow::Result<ExitCode> {
    let mut plan = plan.inspect_err(|e| {
        if let Some(ws) = &ws_name {
            launch::record(paths, ws, started, Err(e));
        }
    })?;
    open_proxy(paths, &mut plan).await?;
    carry_out(paths, &plan, started)
}

/// `launch --list`: every agent, installed or not, and how to install the missing ones. Works
/// without a config (then every agent is looked for on PATH).
fn list(paths: &Paths) -> anyhow::Result<ExitCode> {
    let config = match Config::load(&paths.config) {
        Ok(c) => c,
        Err(lakepass_config::ConfigError::Missing { .. }) => Config::default(),
        Err(e) => return Err(e.into()),
    };
    let path = std::env::var_os("PATH");
    let agents = launch::installed_agents(&config, path.as_deref(), &paths.data_dir, true);
    println!("Coding agents (`lakepass launch <agent>`):");
    for a in &agents {
        let name = a.agent.as_str();
        let title = a.agent.title();
        match &a.found {
            Some(p) => {
                let version = a.version.as_deref().map(|v| format!(" ({v})")).unwrap_or_default();
                let how = if a.configured { format!(", from [agent.{name}] path") } else { String::new() };
                println!("  {name:<9} {title:<12} installed: {}{version}{how}", p.display());
            }
            None if a.configured => println!(
                "  {name:<9} {title:<12} not found at {} ([agent.{name}] path in {})",
                a.wanted.display(),
                paths.config.display()
            ),
            None => println!(
                "  {name:<9} {title:<12} not installed; install: {}",
                a.agent.install_hint().unwrap_or("see its documentation")
            ),
        }
    }
    println!(
        "  {:<9} {:<12} your terminal emulator, with the workspace's environment",
        "terminal", "Terminal"
    );
    Ok(ExitCode::SUCCESS)
}

/// Opens the engine proxy's grant a plan asks for, when the agent starts here (a plan that
/// opens a terminal leaves it to the `lakepass launch --plan` inside, so the key is never in
/// a plan file); says when an engine had to be started for it.
async fn open_proxy(paths: &Paths, plan: &mut LaunchPlan) -> anyhow::Result<()> {
    if plan.terminal.is_some() {
        return Ok(());
    }
    let told = launch::open_proxy_env(plan, paths).await.inspect_err(|e| {
        launch::record(paths, &plan.workspace, Instant::now(), Err(e));
    })?;
    told.iter().for_each(|line| eprintln!("{line}"));
    Ok(())
}

/// The one executor, with its lines on stderr and the launch's outcome said.
fn carry_out(paths: &Paths, plan: &LaunchPlan, started: Instant) -> anyhow::Result<ExitCode> {
    let carried = launch::carry_out(plan, paths, started, &mut |line| eprintln!("{line}"))?;
    match carried {
        Carried::Opened(terminal) => {
            match plan.agent {
                Agent::Terminal => eprintln!(
                    "Opened {terminal} for workspace `{}` (DATABRICKS_CONFIG_PROFILE={}).",
                    plan.workspace,
                    plan.env.get("DATABRICKS_CONFIG_PROFILE").unwrap_or_default()
                ),
                agent => {
                    eprintln!("Opened {} for workspace `{}` in {terminal}.", agent.title(), plan.workspace)
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Carried::Exited(status) => Ok(exit_code(status)),
    }
}

/// This process's surroundings for a plan: the helpers and the terminal name this program.
fn surroundings(paths: &Paths) -> anyhow::Result<Surroundings> {
    let me =
        std::env::current_exe().context("cannot find the lakepass program for Claude Code's apiKeyHelper")?;
    Ok(Surroundings::of_this_process(me, paths, SystemClock.now()))
}

/// Passes the workspace's configured CA on to a launched tool (see `launch::pass_on_ca`); a CA
/// file that cannot be read is told, and the launch goes on without it.
fn pass_ca_on(paths: &Paths, config: &Config, ws: &Workspace, env: &mut EnvChanges) {
    let cas = workspace_ca_files(config, &ws.name, launch::user_home().as_deref());
    if cas.is_empty() {
        return;
    }
    match write_ca_files(&paths.data_dir, &ws.name, &cas) {
        Ok(files) => pass_on_ca(env, &files, |k| std::env::var_os(k).is_some_and(|v| !v.is_empty())),
        Err(e) => eprintln!(
            "warning: cannot pass the CA in `ca_file` on to the launched program ({e}); it may not \
             trust the workspace's certificate"
        ),
    }
}

/// Runs `exec`: the command with the workspace's environment; its exit code is ours.
pub fn exec(paths: &Paths, a: ExecArgs) -> anyhow::Result<ExitCode> {
    let config = app::load_config(paths)?;
    let ws = config.workspace(a.ws.workspace.as_deref())?;
    hint_live_profile(paths, &ws);
    let mut env = workspace_env(&ws, None);
    pass_ca_on(paths, &config, &ws, &mut env);
    tell_removed(&env, &ws);
    let (program, args) = a.command.split_first().context("no command given")?;
    let mut cmd = Command::new(program);
    cmd.args(args);
    env.apply(&mut cmd);
    match launch::hand_over(&mut cmd) {
        Ok(status) => Ok(exit_code(status)),
        Err(e) => {
            // As a shell says it: the command, not Lakepass, is what is missing.
            eprintln!("lakepass: {e}");
            Ok(ExitCode::from(127))
        }
    }
}

/// Runs `env`: prints POSIX `export` lines.
pub async fn env(paths: &Paths, a: EnvArgs) -> anyhow::Result<ExitCode> {
    let lines = if a.with_token {
        let engine = app::engine(paths).await?;
        let ws = engine.config().workspace(a.ws.workspace.as_deref())?;
        let token =
            engine.token(&ws).await.with_context(|| format!("no token for workspace `{}`", ws.name))?;
        export_lines(&workspace_env(&ws, Some(&token.access_token)))
    } else {
        let config = app::load_config(paths)?;
        let ws = config.workspace(a.ws.workspace.as_deref())?;
        hint_live_profile(paths, &ws);
        export_lines(&workspace_env(&ws, None))
    };
    print!("{lines}");
    Ok(ExitCode::SUCCESS)
}

/// Says which inherited variables the launched program will not see, and why.
fn tell_removed(env: &EnvChanges, ws: &Workspace) {
    for var in env.removed_present(|k| std::env::var_os(k).is_some()) {
        let why = if var.starts_with("ANTHROPIC_") {
            "it would win over the refreshing apiKeyHelper".to_string()
        } else {
            format!("the `{}` profile is used instead", live_profile_name(ws))
        };
        eprintln!("lakepass: not passing {var} on from your environment: {why}.");
    }
}

/// A note when the live profile the environment names is not in the credentials file yet.
fn hint_live_profile(paths: &Paths, ws: &Workspace) {
    let name = live_profile_name(ws);
    let text = std::fs::read_to_string(&paths.databrickscfg).unwrap_or_default();
    if !matches!(lakepass_store::databrickscfg::read_profile(&text, &name), Ok(Some(_))) {
        eprintln!(
            "note: profile `{name}` is not in {} yet; Lakepass writes it while `lakepass daemon` or the \
             Lakepass app runs, and the Databricks tools need it",
            paths.databrickscfg.display()
        );
    }
}

fn exit_code(status: ExitStatus) -> ExitCode {
    match status.code() {
        Some(c) => ExitCode::from(u8::try_from(c).unwrap_or(1)),
        None => ExitCode::from(1),
    }
}
