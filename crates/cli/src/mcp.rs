//! `lakepass mcp list`, and the MCP lines of `status`: which Databricks managed MCP servers
//! Claude Code gets for a workspace, at which URL, and the one scope each server's token carries.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use lakepass_engine::engine::{Engine, ScopedStatus};
use lakepass_store::Paths;
use lakepass_wire::UnixTime;
use serde_json::{Value, json};

use crate::args::WorkspaceArg;
use crate::{app, output};

/// `lakepass mcp …`.
#[derive(Subcommand, Debug)]
pub enum McpCmd {
    /// List the managed MCP servers Claude Code will get for a workspace: URL and token scope.
    List(ListArgs),
}

/// Arguments of `mcp list`.
#[derive(Args, Debug)]
pub struct ListArgs {
    #[command(flatten)]
    ws: WorkspaceArg,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

/// Runs `mcp …`.
pub async fn mcp(paths: &Paths, cmd: McpCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        McpCmd::List(a) => list(paths, a),
    }
}

fn list(paths: &Paths, a: ListArgs) -> anyhow::Result<ExitCode> {
    let config = app::load_config(paths)?;
    let ws = config.workspace(a.ws.workspace.as_deref())?;
    let servers = lakepass_engine::mcp::servers(&config, &ws);
    if a.json {
        println!("{}", serde_json::to_string_pretty(&json!({ "workspace": ws.name, "servers": servers }))?);
        return Ok(ExitCode::SUCCESS);
    }
    if servers.is_empty() {
        eprintln!(
            "Workspace `{}` offers Claude Code no managed MCP servers; add an [mcp.{}] table to {} \
             (`sql` is on in it by default).",
            ws.name,
            ws.name,
            paths.config.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!("{:<36} {:<14} URL", "SERVER", "TOKEN SCOPE");
    for s in &servers {
        println!("{:<36} {:<14} {}", s.name, s.scope, s.url);
        if let Some(alt) = &s.alternate_url {
            println!("{:<36} {:<14} (or {alt} where that is not found)", "", "");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The scoped tokens of `status --json`: per workspace and scope, its state (the core's rule),
/// its expiry and the servers it serves.
pub fn status_rows(engine: &Engine, scoped: &[ScopedStatus], now: UnixTime) -> Vec<Value> {
    scoped
        .iter()
        .map(|s| {
            let servers: Vec<String> = engine
                .workspace_named(&s.workspace)
                .map(|ws| lakepass_engine::mcp::servers(engine.config(), ws))
                .unwrap_or_default()
                .into_iter()
                .filter(|m| m.scope == s.scope)
                .map(|m| m.name)
                .collect();
            json!({
                "workspace": s.workspace,
                "scope": s.scope,
                "servers": servers,
                "state": s.state(now),
                "expires_at": s.expires_at.map(output::rfc3339),
                "seconds_left": s.expires_at.map(|e| (e - now).max(0)).unwrap_or(0),
                "last_error": s.last_error.as_ref().map(|f| f.message.clone()),
                "error_kind": s.last_error.as_ref().map(|f| f.kind),
                "fallback": s.fallback.as_ref().map(|f| json!({
                    "token": "workspace",
                    "since": output::rfc3339(f.since),
                    "reason": f.reason,
                })),
            })
        })
        .collect()
}

/// The `status` lines of `workspace`'s scoped tokens.
pub fn print_status(engine: &Engine, workspace: &str, scoped: &[ScopedStatus], now: UnixTime) {
    let Some(ws) = engine.workspace_named(workspace) else { return };
    for scope in lakepass_engine::mcp::scopes(engine.config(), ws) {
        let held = scoped.iter().find(|s| s.workspace == workspace && s.scope == scope);
        let left = match held.and_then(|s| s.expires_at) {
            Some(e) if e > now => format!("{} left", output::time_left(e - now)),
            Some(_) => "expired; refreshed on next use".into(),
            None => "none yet; exchanged on first use".into(),
        };
        println!("    mcp token `{scope}`: {left}");
        if let Some(note) = held.and_then(ScopedStatus::fallback_note) {
            println!("      {note}");
        }
        if let Some(e) = held.and_then(|s| s.last_error.as_ref()) {
            println!("      last error: {}", e.message);
        }
    }
}

/// `refresh --scope S`: a new token for scope `S` of each of `targets` that offers it.
pub async fn refresh_scoped(
    engine: &Engine,
    targets: &[lakepass_config::Workspace],
    scope: lakepass_engine::mcp::McpScope,
) -> anyhow::Result<ExitCode> {
    let mut code = None;
    for ws in targets {
        if !lakepass_engine::mcp::scopes(engine.config(), ws).contains(&scope) {
            continue;
        }
        match engine.refresh_scoped(ws, scope, true).await {
            Ok(t) => {
                eprintln!(
                    "✓ {} `{scope}`: new token, {} left",
                    ws.name,
                    output::time_left(t.expires_at - lakepass_wire::Clock::now(&lakepass_wire::SystemClock))
                );
                let held =
                    engine.scoped_status().into_iter().find(|s| s.workspace == ws.name && s.scope == scope);
                if let Some(note) = held.as_ref().and_then(ScopedStatus::fallback_note) {
                    eprintln!("  {note}");
                }
            }
            Err(e) => {
                eprintln!("✗ {} `{scope}`: {e}", ws.name);
                code.get_or_insert(e.kind().exit_code());
            }
        }
    }
    match code {
        Some(c) => Err(output::Exit(c).into()),
        None => Ok(ExitCode::SUCCESS),
    }
}

/// `doctor --mcp`: each managed server's token and `initialize`, with a fix for what is broken.
pub async fn doctor(paths: &Paths, workspace: Option<&str>, as_json: bool) -> anyhow::Result<ExitCode> {
    let engine = app::engine(paths).await?;
    let ws = engine.config().workspace(workspace)?;
    let report = lakepass_doctor::check_mcp(&engine, &ws).await;
    if as_json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else if report.checks.is_empty() {
        println!("Workspace `{}` offers no managed MCP servers (no [mcp.{}] table).", ws.name, ws.name);
    } else {
        for c in &report.checks {
            let mark = match &c.finding {
                lakepass_doctor::McpFinding::Ok => "✓",
                lakepass_doctor::McpFinding::WorkspaceToken { .. } => "!",
                _ => "✗",
            };
            println!("{mark} {} ({}, scope `{}`)", c.server.name, c.server.url, c.server.scope);
            if let Some(fix) = &c.fix {
                println!("    {}", describe(&c.finding));
                println!("    fix: {fix}");
            }
        }
    }
    if report.ok { Ok(ExitCode::SUCCESS) } else { Err(output::Exit(5).into()) }
}

fn describe(f: &lakepass_doctor::McpFinding) -> String {
    use lakepass_doctor::McpFinding as F;
    match f {
        F::Ok => "works".into(),
        F::WorkspaceToken { reason } => {
            format!("works with the workspace's all-apis token; its own scope was refused ({reason})")
        }
        F::ScopeRefused { reason, .. } => format!("the scope was refused ({reason})"),
        F::ScopeNotGranted { status, error, description } => format!(
            "the token exchange for this scope was refused (HTTP {status}, {error}{})",
            description.as_deref().map(|d| format!(": {d}")).unwrap_or_default()
        ),
        F::NoToken { message, .. } => format!("no token: {message}"),
        F::NotEnabled => "the server's URL answers 404 Not Found".into(),
        F::TokenRejected { message } => format!("the server refused its scoped token (403): {message}"),
        F::Unauthorized => "the server did not accept the token (401)".into(),
        F::Unexpected { status } => format!("unexpected HTTP {status}"),
        F::Unreachable { message } => format!("unreachable: {message}"),
    }
}
