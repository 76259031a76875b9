//! `lakepass`: sign in to your identity provider once, and keep Databricks tokens fresh for
//! every tool — headless, scriptable, and the same engine the tray app runs.

mod admin;
mod app;
mod args;
mod auth;
mod devstack;
mod doctor;
mod edit;
mod helper;
mod launch;
mod log;
mod mcp;
mod mcp_proxy;
mod output;
mod setup;
mod tokens;
mod tray;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  an unexpected error
  2  bad usage or a broken config file
  3  sign-in needed (run `lakepass login`)
  4  the identity provider or workspace could not be reached
  5  the workspace refused the token exchange (run `lakepass doctor`)
  6  `token --check`: no valid token is cached";

/// Lakepass keeps short-lived Databricks tokens fresh, traded from your company's identity
/// provider, and puts them where the Databricks CLI, the SDKs and Claude Code read them.
#[derive(Parser, Debug)]
#[command(name = "lakepass", version, about, after_help = EXIT_CODES)]
struct Cli {
    /// Config file [default: $LAKEPASS_CONFIG or <config dir>/lakepass/config.toml]
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    /// More log output on stderr (-v info, -vv debug, -vvv trace). Tokens are never logged.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Sign in to an identity provider in the browser (PKCE), then exchange tokens for its workspaces.
    Login(auth::LoginArgs),
    /// Sign out: forget the IdP session, its tokens, and the ~/.databrickscfg profiles Lakepass made.
    Logout(auth::LogoutArgs),
    /// Show every workspace: state, time left, where secrets are stored.
    Status(tokens::StatusArgs),
    /// Print a valid Databricks token for a workspace, refreshing it if needed (a credential helper).
    Token(tokens::TokenArgs),
    /// Exchange new tokens now for every workspace (or the one given), even if the cached ones are fresh.
    Refresh(tokens::RefreshArgs),
    /// Show who each workspace thinks you are (SCIM Me): user name, or the SP's application id.
    Whoami(admin::WhoamiArgs),
    /// Explain a failing sign-in or token exchange link by link, claim by claim, with fixes.
    Doctor(doctor::DoctorArgs),
    /// Admin set-up: federation policies, Anthropic gateway endpoints, AI Gateway options.
    Admin(admin::AdminArgs),
    /// Show the audit log: sign-ins, exchanges, refreshes, failures and launches.
    Log(log::LogArgs),
    /// Keep every workspace's token fresh in the foreground (for headless machines).
    Daemon,
    /// The Linux tray: the engine plus a tray icon and menu; opens the dashboard on demand.
    Tray(tray::TrayArgs),
    /// Run the local development stack: an IdP and two workspace emulators on 127.0.0.1.
    Devstack(devstack::DevstackArgs),
    /// See Lakepass work in a minute with no Databricks account: devstack, sign-in, live refresh.
    Demo(devstack::DemoArgs),
    /// Set up from a team file (IdPs, workspaces, Claude settings; no secrets): show, merge, sign in.
    Setup(setup::SetupArgs),
    /// Add, remove or list workspaces in the config (comments are kept).
    #[command(subcommand)]
    Workspace(edit::WorkspaceCmd),
    /// Add, remove or list identity providers in the config (comments are kept).
    #[command(subcommand)]
    Idp(edit::IdpCmd),
    /// Open a coding agent (Claude Code, Codex, Pi, …) or a terminal wired to a workspace; `--list` shows them.
    Launch(launch::LaunchArgs),
    /// List the Databricks managed MCP servers Claude Code gets, each with its own scoped token.
    #[command(subcommand)]
    Mcp(mcp::McpCmd),
    /// A stdio MCP server relaying to one managed MCP server with its refreshing scoped token (agents run it).
    McpProxy(mcp_proxy::McpProxyArgs),
    /// Run a command with the workspace's environment (DATABRICKS_HOST, live profile), like aws-vault exec.
    Exec(launch::ExecArgs),
    /// Print shell `export` lines for the workspace (`eval "$(lakepass env)"`); no token unless asked.
    Env(launch::EnvArgs),
    /// Databricks-SDK credential interface: `auth token --host URL` prints a fresh token as JSON.
    #[command(subcommand)]
    Auth(helper::AuthCmd),
    /// Print Lakepass's version (`--output json` for tools).
    Version(helper::VersionArgs),
}

/// The paths this process works with: `--config` first; then, when started through a
/// `cli-helper` profile's link (`argv[0]`, see `lakepass_engine::sink::helper_invocation`), the
/// config and data dir the link stands for; else the environment's.
fn paths(config: Option<&std::path::Path>) -> lakepass_store::Paths {
    let from_link = std::env::args_os()
        .next()
        .and_then(|argv0| lakepass_engine::sink::helper_invocation(std::path::Path::new(&argv0)));
    match (config, from_link) {
        (None, Some(t)) => lakepass_store::Paths {
            config: t.config,
            data_dir: t.data_dir,
            ..lakepass_store::Paths::from_env(None)
        },
        (config, _) => lakepass_store::Paths::from_env(config),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    output::init_logging(cli.verbose);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        // File writes (merged by group commit, so a few threads carry any number of them) and
        // keyring calls run on blocking threads. Unbounded, a wave of 100 refreshes grew the
        // pool to ~150 threads whose allocator arenas kept the daemon's memory climbing over a
        // simulated day (bench figure 6c).
        .max_blocking_threads(16)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let paths = paths(cli.config.as_deref());
    let result = rt.block_on(async move {
        match cli.command {
            Command::Login(a) => auth::login(&paths, a).await,
            Command::Logout(a) => auth::logout(&paths, a).await,
            Command::Status(a) => tokens::status(&paths, a).await,
            Command::Token(a) => tokens::token(&paths, a).await,
            Command::Refresh(a) => tokens::refresh(&paths, a).await,
            Command::Whoami(a) => admin::whoami(&paths, a).await,
            Command::Doctor(a) => doctor::doctor(&paths, a).await,
            Command::Admin(a) => admin::admin(&paths, a).await,
            Command::Log(a) => log::log(&paths, a),
            Command::Daemon => tokens::daemon(&paths).await,
            Command::Tray(a) => tray::tray(&paths, a).await,
            Command::Devstack(a) => devstack::devstack(a).await,
            Command::Demo(a) => devstack::demo(&paths, a).await,
            Command::Setup(a) => setup::setup(&paths, a).await,
            Command::Workspace(c) => edit::workspace(&paths, c).await,
            Command::Idp(c) => edit::idp(&paths, c).await,
            Command::Launch(c) => launch::launch(&paths, c).await,
            Command::Mcp(c) => mcp::mcp(&paths, c).await,
            Command::McpProxy(a) => mcp_proxy::mcp_proxy(&paths, a).await,
            Command::Exec(a) => launch::exec(&paths, a),
            Command::Env(a) => launch::env(&paths, a).await,
            Command::Auth(c) => helper::auth(&paths, c).await,
            Command::Version(a) => helper::version(a),
        }
    });
    // A keyring call that timed out may still sit in a blocking thread until D-Bus gives up;
    // do not let it hold the process (a credential helper must exit at once).
    rt.shutdown_timeout(std::time::Duration::from_millis(100));
    match result {
        Ok(code) => code,
        Err(e) => output::report(&e),
    }
}
