//! `lakepass doctor`: prints the core's federation report (or serializes it with `--json`).

use std::io::Read;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use lakepass_admin as admin;
use lakepass_config::Config;
use lakepass_doctor::{self as doctor, DoctorOptions, Report, StepStatus};
use lakepass_engine::store::Store;
use lakepass_store::Paths;
use lakepass_wire::http::Http;
use lakepass_wire::{Secret, SystemClock};

use crate::app;
use crate::output::Exit;

/// Arguments of `doctor`.
#[derive(Args, Debug)]
pub struct DoctorArgs {
    /// Workspace name from the config [default: the active workspace]
    #[arg(long, short = 'w')]
    pub workspace: Option<String>,
    /// Print the report as JSON (for scripts and the dashboard).
    #[arg(long)]
    pub json: bool,
    /// Diagnose an IdP JWT read from stdin instead of the signed-in session's.
    #[arg(long)]
    pub jwt_stdin: bool,
    /// Fetch the federation policies to compare with from the account API (the account's and
    /// those of the workspace's service principals), with this M2M workspace's account token; a
    /// lookup that fails is reported and the other checks go on.
    #[arg(long, value_name = "WORKSPACE")]
    pub admin_workspace: Option<String>,
    /// Check the workspace's managed MCP servers instead: each server's scoped token, then an
    /// MCP `initialize` with it.
    #[arg(long, conflicts_with_all = ["jwt_stdin", "admin_workspace"])]
    pub mcp: bool,
}

/// Runs the doctor.
pub async fn doctor(paths: &Paths, a: DoctorArgs) -> anyhow::Result<ExitCode> {
    if a.mcp {
        return crate::mcp::doctor(paths, a.workspace.as_deref(), a.json).await;
    }
    let mut opts = DoctorOptions::default();
    if a.jwt_stdin {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s)?;
        opts.subject_token = Some(Secret::new(s.trim()));
    }
    if let Some(admin_ws) = &a.admin_workspace {
        // A lookup that fails is reported, and the other checks still run.
        match fetch_policies(paths, a.workspace.as_deref(), admin_ws).await {
            Ok(f) => {
                opts.policies = f.policies;
                opts.policies_fetched = f.account_listed;
                opts.policy_lookup_failures = f.failures;
            }
            Err(e) => opts.policy_lookup_failures.push(format!("{e:#}")),
        }
    }
    let vault = app::open_vault(paths).await?;
    let mut report = doctor::run(
        paths,
        Store::new(vault),
        Http::with_trust(&Config::load(&paths.config).map(|c| c.trust()).unwrap_or_default()),
        Arc::new(SystemClock),
        a.workspace.as_deref(),
        &opts,
    )
    .await;
    report.claude_code = claude_code(paths);
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print(&report);
    }
    match report.problem() {
        None if report.ok => Ok(ExitCode::SUCCESS),
        Some(p) => Err(Exit(p.kind().exit_code()).into()),
        None => Err(Exit(5).into()),
    }
}

async fn fetch_policies(
    paths: &Paths,
    target: Option<&str>,
    admin_ws: &str,
) -> anyhow::Result<admin::FetchedPolicies> {
    let config = Config::load(&paths.config)?;
    let ws = config.workspace(target)?;
    let admin_ws = config.workspace(Some(admin_ws))?;
    let engine = app::engine(paths).await?;
    // The admin workspace knows where its account console is; the workspace under diagnosis may
    // name the account id.
    let account = admin::Account::of(&admin_ws, ws.account_id.as_deref().or(admin_ws.account_id.as_deref()))?;
    let token = admin::m2m_token(&engine, &admin_ws, Some(&account)).await?;
    Ok(admin::policies_for(&admin::AdminClient::with_trust(&config.trust()), &account, &ws, &token).await)
}

/// The Claude Code a launch would start, its version and what it lacks; `None` when the config
/// cannot be read or Claude Code is not installed.
fn claude_code(paths: &Paths) -> Option<doctor::ClaudeCodeFacts> {
    let config = Config::load(&paths.config).ok()?;
    let found =
        lakepass_launch::claude_code_of(&config, std::env::var_os("PATH").as_deref(), &paths.data_dir)?;
    Some(doctor::ClaudeCodeFacts {
        program: found.program.display().to_string(),
        version: found.version.map(|v| v.to_string()),
        shortfalls: found.shortfalls(),
    })
}

fn print(r: &Report) {
    match (&r.workspace, &r.host) {
        (Some(w), Some(h)) => println!("lakepass doctor: workspace `{w}` ({h})"),
        (Some(w), None) => println!("lakepass doctor: workspace `{w}`"),
        _ => println!("lakepass doctor"),
    }
    for s in &r.steps {
        let mark = match s.status {
            StepStatus::Ok => "✓",
            StepStatus::Warning => "!",
            StepStatus::Failed => "✗",
            StepStatus::Skipped => "–",
        };
        println!("{mark} {}: {}", s.title, s.detail);
        if let Some(fix) = &s.fix {
            println!("    fix: {fix}");
        }
    }
    if let Some(c) = &r.claude_code {
        let version = c.version.as_deref().unwrap_or("of unknown version");
        let mark = if c.shortfalls.is_empty() { "✓" } else { "!" };
        println!("{mark} Claude Code: {version} ({})", c.program);
        for s in &c.shortfalls {
            println!("    {s}; update it with `claude update`");
        }
    }
    if r.ok {
        println!("\nEverything checks out.");
    } else {
        println!("\nStopped at the first broken link; fix it and run `lakepass doctor` again.");
    }
}
