//! `launch claude`, `launch terminal`, `exec` and `env`: start tools already wired to a
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
    override_usage = "lakepass launch [OPTIONS] <COMMAND>"
)]
pub struct LaunchArgs {
    /// Carry out a launch plan made by `--new-terminal` or the tray (read, then deleted).
    #[arg(long, hide = true, value_name = "FILE")]
    plan: Option<PathBuf>,
    #[command(subcommand)]
    cmd: Option<LaunchCmd>,
}

/// `lakepass launch <agent>`.
#[derive(Subcommand, Debug)]
pub enum LaunchCmd {
    /// Claude Code through the workspace's AI Gateway; its token helper keeps it signed in for days.
    Claude(ClaudeArgs),
    /// Gemini CLI through the workspace's AI Gateway, via the engine's proxy (no token in it).
    Gemini(AgentArgs),
    /// A terminal window with DATABRICKS_HOST and the workspace's live profile preset.
    Terminal(WorkspaceArg),
}

/// Arguments of an agent launched through the engine's proxy (`launch gemini`).
#[derive(Args, Debug)]
pub struct AgentArgs {
    #[command(flatten)]
    ws: WorkspaceArg,
    /// Open the agent in a new terminal window (what the tray app does).
    #[arg(long)]
    new_terminal: bool,
    /// Arguments for the agent, after `--` (e.g. `-- -p "hello"`), passed on unchanged.
    #[arg(last = true, value_name = "AGENT_ARGS")]
    args: Vec<String>,
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

/// Runs `launch claude`, `launch terminal` or `launch --plan`.
pub async fn launch(paths: &Paths, a: LaunchArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    // The workspace the plan is for, when the config names one (for the audit log of a failure).
    let ws_name: Option<String>;
    let plan = match (a.plan, a.cmd) {
        (Some(file), _) => {
            let mut plan = launch::take_plan_file(&file)?;
            open_proxy(paths, &mut plan).await?;
            return carry_out(paths, &plan, started);
        }
        (None, Some(LaunchCmd::Terminal(w))) => {
            let config = app::load_config(paths)?;
            let req = LaunchRequest { workspace: w.workspace, new_terminal: true, ..Default::default() };
            ws_name = config.workspace(req.workspace.as_deref()).ok().map(|w| w.name);
            launch::plan_terminal(&config, paths, &req, &surroundings(paths)?)
        }
        (None, Some(LaunchCmd::Claude(c))) => {
            let engine = app::engine(paths).await?;
            let req = LaunchRequest {
                workspace: c.ws.workspace,
                new_terminal: c.new_terminal,
                write_settings: c.write_settings,
                args: c.args,
            };
            ws_name = engine.config().workspace(req.workspace.as_deref()).ok().map(|w| w.name);
            launch::plan_claude(&engine, paths, &req, &surroundings(paths)?).await
        }
        (None, Some(LaunchCmd::Gemini(g))) => {
            let engine = app::engine(paths).await?;
            let req = LaunchRequest {
                workspace: g.ws.workspace,
                new_terminal: g.new_terminal,
                write_settings: false,
                args: g.args,
            };
            ws_name = engine.config().workspace(req.workspace.as_deref()).ok().map(|w| w.name);
            launch::plan_gemini(&engine, paths, &req, &surroundings(paths)?).await
        }
        (None, None) => {
            anyhow::bail!(
                "name what to launch: `lakepass launch claude`, `lakepass launch gemini` or `lakepass launch terminal`"
            )
        }
    };
    let mut plan = plan.inspect_err(|e| {
        if let Some(ws) = &ws_name {
            launch::record(paths, ws, started, Err(e));
        }
    })?;
    open_proxy(paths, &mut plan).await?;
    carry_out(paths, &plan, started)
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
