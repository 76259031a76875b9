//! `launch claude`, `launch terminal`, `exec` and `env`: start tools already wired to a
//! workspace. The decisions (environment, settings, which terminal with which argv) are pure
//! functions in `lakepass_launch`; this file only gathers inputs (config, environment,
//! PATH), tells the user what it changed, and hands over.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, ExitStatus};
use std::time::Instant;

use anyhow::Context;
use clap::{Args, Subcommand};
use lakepass_config::{Config, Workspace};
use lakepass_engine::ErrorKind;
use lakepass_engine::audit::{self, AuditEvent, EventKind};
use lakepass_engine::sink::live_profile_name;
use lakepass_launch::models::cached_or_discover;
use lakepass_launch::{
    self as launch, CURRENT_PLATFORM, ClaudeGateway, EnvChanges, LaunchError, TerminalContext, claude_plan,
    claude_settings_path, effective_ttl_ms, export_lines, helper_command, pass_on_ca, settings_conflicts,
    terminal_candidates, terminal_invocation, workspace_ca_files, workspace_env, write_ca_files,
};
use lakepass_store::Paths;
use lakepass_wire::secret::Secret;
use lakepass_wire::{Clock, SystemClock};

use crate::app;
use crate::args::WorkspaceArg;

/// `lakepass launch …`.
#[derive(Subcommand, Debug)]
pub enum LaunchCmd {
    /// Claude Code through the workspace's AI Gateway; its token helper keeps it signed in for days.
    Claude(ClaudeArgs),
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

/// Runs `launch claude` or `launch terminal`.
pub async fn launch(paths: &Paths, cmd: LaunchCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        LaunchCmd::Claude(a) => claude(paths, a).await,
        LaunchCmd::Terminal(a) => {
            let started = Instant::now();
            let config = app::load_config(paths)?;
            let ws = config.workspace(a.workspace.as_deref())?;
            hint_live_profile(paths, &ws);
            let opened = open_terminal(paths, &config, &ws, None);
            record(paths, &ws, started, opened.as_ref().map(|t| format!("terminal {t}")));
            let opened = opened?;
            eprintln!(
                "Opened {opened} for workspace `{}` (DATABRICKS_CONFIG_PROFILE={}).",
                ws.name,
                live_profile_name(&ws)
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn claude(paths: &Paths, a: ClaudeArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let engine = app::engine(paths).await?;
    let config = engine.config();
    let ws = config.workspace(a.ws.workspace.as_deref())?;
    let program = find_claude(config)?;
    // A sign-in problem is reported here, plainly, not as Claude Code retrying 401s for minutes.
    let token = engine
        .token(&ws)
        .await
        .with_context(|| format!("cannot launch Claude Code for workspace `{}`", ws.name));
    if let Err(e) = &token {
        record(paths, &ws, started, Err(e));
    }
    let token = token?;
    let lifetime = token.expires_at - token.issued_at;
    let gateway = claude_gateway(paths, &engine, &ws, &token.access_token).await;
    drop(token);

    let me =
        std::env::current_exe().context("cannot find the lakepass program for Claude Code's apiKeyHelper")?;
    let config_arg = explicit_config(paths);
    let helper = helper_command(&me, config_arg.as_deref(), &ws.name)?;
    let mut plan =
        claude_plan(&ws, &gateway, &helper, effective_ttl_ms(gateway.helper_ttl_ms, lifetime), &a.args);
    pass_ca_on(paths, config, &ws, &mut plan.env);
    let mcp = crate::mcp::launch_config(config, &ws, &me, config_arg.as_deref())?;
    if let Some(mcp) = &mcp {
        launch::add_mcp_config(&mut plan, mcp);
        let names: Vec<&String> =
            mcp["mcpServers"].as_object().map(|m| m.keys().collect()).unwrap_or_default();
        let names: Vec<&str> = names.into_iter().map(String::as_str).collect();
        eprintln!(
            "Claude Code gets the managed MCP servers of `{}`: {} (each with its own scoped token).",
            ws.name,
            names.join(", ")
        );
    }

    let home = launch::user_home().unwrap_or_default();
    let claude_dir = std::env::var_os("CLAUDE_CONFIG_DIR").filter(|v| !v.is_empty()).map(PathBuf::from);
    let user_settings = claude_settings_path(&home, claude_dir.as_deref());
    if a.write_settings {
        let removed = launch::write_claude_settings(&user_settings, &plan.settings)?;
        eprintln!(
            "Wrote apiKeyHelper and the gateway settings for `{}` into {} (other settings kept).",
            ws.name,
            user_settings.display()
        );
        for var in removed {
            eprintln!("Removed env.{var} from it: it would win over the refreshing apiKeyHelper.");
        }
        if let Some(mcp) = &mcp {
            let file = std::env::current_dir().unwrap_or_default().join(".mcp.json");
            launch::write_mcp_json(&file, mcp)?;
            eprintln!(
                "Wrote the managed MCP servers of `{}` into {} (other servers kept).",
                ws.name,
                file.display()
            );
        }
    }
    let here = std::env::current_dir().unwrap_or_default();
    let mut files =
        vec![user_settings, here.join(".claude/settings.json"), here.join(".claude/settings.local.json")];
    files.dedup();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        for var in settings_conflicts(&text) {
            eprintln!(
                "warning: {} sets env.{var}; Claude Code will use that fixed credential instead of \
                 Lakepass's refreshing helper, and fail within the hour: remove it (or run with --write-settings)",
                file.display()
            );
        }
    }

    if a.new_terminal {
        let mut inner = vec![launch::utf8(&me)?.to_string()];
        if let Some(c) = &config_arg {
            inner.extend(["--config".to_string(), launch::utf8(c)?.to_string()]);
        }
        inner.extend(["launch", "claude", "--workspace", &ws.name, "--"].map(String::from));
        inner.extend(a.args.iter().cloned());
        let opened = open_terminal(paths, config, &ws, Some(&inner));
        record(paths, &ws, started, opened.as_ref().map(|t| format!("claude in a new terminal ({t})")));
        let opened = opened?;
        eprintln!("Opened Claude Code for workspace `{}` in {opened}.", ws.name);
        return Ok(ExitCode::SUCCESS);
    }
    tell_removed(&plan.env, &ws);
    record(paths, &ws, started, Ok(format!("claude ({})", program.display())));
    let mut cmd = Command::new(&program);
    cmd.args(&plan.args);
    plan.env.apply(&mut cmd);
    let status = launch::hand_over(&mut cmd)?;
    Ok(exit_code(status))
}

/// The gateway settings for `ws`: `[claude.<ws>]` first, then the models the workspace lists
/// (cached a day), and only when it cannot be asked the last-resort names, said in a warning.
async fn claude_gateway(
    paths: &Paths,
    engine: &lakepass_engine::Engine,
    ws: &Workspace,
    token: &Secret,
) -> ClaudeGateway {
    let config = engine.config();
    if ClaudeGateway::models_all_configured(config, &ws.name) {
        return ClaudeGateway::for_workspace(config, &ws.name);
    }
    let configured_base = config.claude.get(&ws.name).and_then(|c| c.base_path.as_deref());
    let now = SystemClock.now();
    let found =
        cached_or_discover(engine.http(), &paths.data_dir, &ws.name, &ws.host, token, configured_base, now)
            .await;
    let (gateway, notes) = match &found {
        Ok(d) => ClaudeGateway::resolve(config, &ws.name, Some(d)),
        Err(e) => {
            let (gw, notes) = ClaudeGateway::resolve(config, &ws.name, None);
            eprintln!(
                "warning: could not ask workspace `{}` which Claude models it serves ({e}); pinned the \
                 fallback models {}, {} and {}, which it may not serve: if Claude Code answers \
                 \"does not exist\", set opus_model, sonnet_model and haiku_model under [claude.{}] in {}",
                ws.name,
                gw.opus_model,
                gw.sonnet_model,
                gw.haiku_model,
                ws.name,
                paths.config.display()
            );
            (gw, notes)
        }
    };
    for note in notes {
        eprintln!("note: {note}.");
    }
    gateway
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

/// Opens the user's terminal in the launch folder with `ws`'s environment, running `command`
/// (or a shell). Returns the terminal program that was started.
fn open_terminal(
    paths: &Paths,
    config: &Config,
    ws: &Workspace,
    command: Option<&[String]>,
) -> anyhow::Result<String> {
    let mut env = workspace_env(ws, None);
    pass_ca_on(paths, config, ws, &mut env);
    let dir = match &config.launch_dir {
        Some(d) => launch::expand_home(d, launch::user_home().as_deref()),
        None => std::env::current_dir().context("cannot read the current folder")?,
    };
    if !dir.is_dir() {
        return Err(crate::output::problem(
            lakepass_engine::ErrorKind::Config,
            format!(
                "the launch folder {} does not exist; create it, or change `launch_dir` in {}",
                dir.display(),
                paths.config.display()
            ),
        ));
    }
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let (env_terminal, term_program, shell) = (var("TERMINAL"), var("TERM_PROGRAM"), var("SHELL"));
    let ctx = TerminalContext {
        configured: config.terminal.as_ref(),
        env_terminal: env_terminal.as_deref(),
        term_program: term_program.as_deref(),
        shell: shell.as_deref(),
    };
    let candidates = terminal_candidates(CURRENT_PLATFORM, &ctx);
    let path_var = std::env::var_os("PATH");
    let (candidate, found) = candidates
        .iter()
        .find_map(|c| launch::find_program(Path::new(&c.program), path_var.as_deref()).map(|p| (c, p)))
        .ok_or_else(|| LaunchError::NoTerminal {
            tried: candidates.iter().map(|c| c.program.clone()).collect(),
        })?;
    let stamp =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
    let script =
        paths.data_dir.join("launch").join(format!("terminal-{}-{stamp}.command", std::process::id()));
    let found = launch::utf8(&found)?.to_string();
    let inv = terminal_invocation(candidate, &found, &ctx, &dir, command, &env, &script);
    launch::spawn_detached(&inv, &dir, &env, &script)?;
    Ok(found)
}

fn find_claude(config: &Config) -> Result<PathBuf, LaunchError> {
    let wanted = config.claude_path.clone().unwrap_or_else(|| PathBuf::from("claude"));
    launch::find_program(&wanted, std::env::var_os("PATH").as_deref())
        .ok_or(LaunchError::ClaudeNotFound { configured: config.claude_path.clone() })
}

/// The config file to name in commands we hand to other programs, when it is not the one they
/// would find anyway (`--config`, or `LAKEPASS_CONFIG`, which a settings file does not carry).
fn explicit_config(paths: &Paths) -> Option<PathBuf> {
    let from_env = std::env::var_os("LAKEPASS_CONFIG").is_some_and(|v| !v.is_empty());
    let explicit = from_env || paths.config != Paths::from_env(None).config;
    explicit.then(|| std::path::absolute(&paths.config).unwrap_or_else(|_| paths.config.clone()))
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

/// Writes the launch to the audit log (best effort; never a token: none is at hand here).
fn record(paths: &Paths, ws: &Workspace, started: Instant, what: Result<String, &anyhow::Error>) {
    let now = SystemClock.now();
    let event = match what {
        Ok(what) => AuditEvent::ok(EventKind::Launch, now, started.elapsed()).message(&what),
        Err(e) => {
            let kind = crate::output::kind_of(e).unwrap_or(ErrorKind::Launch);
            AuditEvent::failure(EventKind::Launch, now, started.elapsed(), kind, &format!("{e:#}"))
        }
    };
    audit::record(paths, &event.workspace(&ws.name));
}

fn exit_code(status: ExitStatus) -> ExitCode {
    match status.code() {
        Some(c) => ExitCode::from(u8::try_from(c).unwrap_or(1)),
        None => ExitCode::from(1),
    }
}
