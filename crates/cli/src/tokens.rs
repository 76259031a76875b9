//! `status`, `token`, `refresh`, `whoami` and `daemon`: reading and refreshing workspace tokens.

use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use lakepass_core::config::Workspace;
use lakepass_core::engine::Engine;
use lakepass_core::store::{self, TokenState};
use lakepass_core::{Clock, Paths, SystemClock, VaultKind};
use serde::Serialize;

use crate::output::{self, Exit};
use crate::app;

/// `--workspace`.
#[derive(Args, Debug)]
pub struct WorkspaceArg {
    /// Workspace name from the config [default: the active workspace]
    #[arg(long, short = 'w')]
    pub workspace: Option<String>,
}

/// Arguments of `status`.
#[derive(Args, Debug)]
pub struct StatusArgs {
    /// Machine-readable output: per workspace name, host, state, expires_at, seconds_left.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `token`.
#[derive(Args, Debug)]
pub struct TokenArgs {
    #[command(flatten)]
    ws: WorkspaceArg,
    /// Print `{"token","expires_in","host"}`.
    #[arg(long, conflicts_with = "raw")]
    json: bool,
    /// Print the bare token (the default; for apiKeyHelper and scripts).
    #[arg(long)]
    raw: bool,
    /// Print nothing; exit 0 only if a valid token is cached (never refreshes), 6 otherwise.
    #[arg(long, conflicts_with_all = ["json", "raw"])]
    check: bool,
}

fn workspace(engine: &Engine, name: Option<&str>) -> anyhow::Result<Workspace> {
    Ok(engine.config().workspace(name)?)
}

#[derive(Serialize)]
struct StatusRow<'a> {
    name: &'a str,
    host: &'a str,
    profile: &'a str,
    state: TokenState,
    expires_at: Option<String>,
    seconds_left: i64,
    last_error: Option<&'a str>,
}

/// Shows every workspace.
pub async fn status(paths: &Paths, a: StatusArgs) -> anyhow::Result<ExitCode> {
    let engine = app::engine(paths).await?;
    let now = SystemClock.now();
    let mut snap = engine.snapshot();
    // A running daemon knows more (its last error); merge that in.
    let published = store::read_state_file(&paths.state_file());
    for w in &mut snap.workspaces {
        if let Some(p) = published.get(&w.name)
            && w.last_error.is_none()
            && p.expires_at == w.expires_at
        {
            w.last_error = p.last_error.clone();
            if p.state == TokenState::Failed {
                w.state = TokenState::Failed;
            }
        }
    }
    let vault = engine.store().vault();
    if a.json {
        let rows: Vec<StatusRow> = snap
            .workspaces
            .iter()
            .map(|w| StatusRow {
                name: &w.name,
                host: &w.host,
                profile: &w.profile,
                state: w.state,
                expires_at: w.expires_at.map(output::rfc3339),
                seconds_left: w.seconds_left(now),
                last_error: w.last_error.as_deref(),
            })
            .collect();
        let out = serde_json::json!({
            "workspaces": rows,
            "vault": { "kind": vault.kind(), "location": vault.location(), "fallback_reason": vault.fallback_reason() },
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    let active = engine.config().active.clone();
    println!("  {:<14} {:<12} {:<10} {:<38} PROFILE", "WORKSPACE", "STATE", "LEFT", "HOST");
    for w in &snap.workspaces {
        let mark = if active.as_deref() == Some(&w.name) { "*" } else { "" };
        let state = serde_json::to_value(w.state)?.as_str().unwrap_or("").to_string();
        println!(
            "{:<2}{:<14} {:<12} {:<10} {:<38} {}",
            mark,
            w.name,
            state,
            if w.expires_at.is_some() { output::time_left(w.seconds_left(now)) } else { "-".into() },
            w.host,
            w.profile
        );
        if let Some(e) = &w.last_error {
            println!("    last error: {e}");
        }
    }
    match (vault.kind(), vault.fallback_reason()) {
        (VaultKind::File, Some(why)) => {
            println!("\nSecrets: stored in a file, {} (the OS keyring is unavailable: {why})", vault.location())
        }
        (VaultKind::File, None) => {
            println!("\nSecrets: stored in a file, {} (LAKEPASS_VAULT=file)", vault.location())
        }
        (VaultKind::Keyring, _) => println!("\nSecrets: {}", vault.location()),
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints a valid token.
pub async fn token(paths: &Paths, a: TokenArgs) -> anyhow::Result<ExitCode> {
    let engine = app::engine(paths).await?;
    let ws = workspace(&engine, a.ws.workspace.as_deref())?;
    let now = SystemClock.now();
    if a.check {
        let cached = engine.store().workspace_token(&ws).await?;
        return match cached {
            Some(t) if t.expires_at > now + 30 => Ok(ExitCode::SUCCESS),
            _ => Err(Exit(6).into()),
        };
    }
    let t = engine.token(&ws).await.with_context(|| format!("no token for workspace `{}`", ws.name))?;
    if a.json {
        let out = serde_json::json!({
            "token": t.access_token.secret(),
            "expires_in": (t.expires_at - now).max(0),
            "host": t.host.as_str(),
        });
        println!("{out}");
    } else {
        println!("{}", t.access_token.secret());
    }
    Ok(ExitCode::SUCCESS)
}

/// Forces a new exchange.
pub async fn refresh(paths: &Paths, a: WorkspaceArg) -> anyhow::Result<ExitCode> {
    let engine = app::engine(paths).await?;
    let targets: Vec<Workspace> = match a.workspace {
        Some(n) => vec![workspace(&engine, Some(&n))?],
        None => engine.workspaces().to_vec(),
    };
    let mut first_err = None;
    for ws in targets {
        match output::with_spinner(&format!("Refreshing {}…", ws.name), engine.refresh_workspace(&ws, true)).await {
            Ok(t) => eprintln!("✓ {}: new token, {} left", ws.name, output::time_left(t.expires_at - SystemClock.now())),
            Err(e) => {
                eprintln!("✗ {}: {e}", ws.name);
                first_err.get_or_insert(e);
            }
        }
    }
    match first_err {
        Some(e) => {
            let code = output::code_for(&anyhow::Error::new(e));
            Err(Exit(code).into())
        }
        None => Ok(ExitCode::SUCCESS),
    }
}

#[derive(serde::Deserialize)]
struct ScimMe {
    #[serde(rename = "userName")]
    user_name: Option<String>,
    #[serde(rename = "displayName")]
    display_name: Option<String>,
    #[serde(default)]
    groups: Vec<ScimGroup>,
}

#[derive(serde::Deserialize)]
struct ScimGroup {
    display: Option<String>,
}

/// Asks the workspace who we are.
pub async fn whoami(paths: &Paths, a: WorkspaceArg) -> anyhow::Result<ExitCode> {
    let engine = app::engine(paths).await?;
    let ws = workspace(&engine, a.workspace.as_deref())?;
    let t = engine.token(&ws).await?;
    let http = lakepass_core::http::Http::new();
    let resp = http.get(&ws.host.join("/api/2.0/preview/scim/v2/Me"), Some(&t.access_token)).await?;
    if !resp.is_success() {
        anyhow::bail!("{} answered HTTP {} to SCIM Me: {}", ws.host, resp.status.as_u16(), resp.body_excerpt());
    }
    let me: ScimMe = resp.json()?;
    println!("workspace: {} ({})", ws.name, ws.host);
    println!("user:      {}", me.user_name.as_deref().unwrap_or("?"));
    if let Some(d) = me.display_name {
        println!("name:      {d}");
    }
    let groups: Vec<String> = me.groups.into_iter().filter_map(|g| g.display).collect();
    println!("groups:    {}", if groups.is_empty() { "-".into() } else { groups.join(", ") });
    Ok(ExitCode::SUCCESS)
}

/// Runs the engine in the foreground until Ctrl-C / SIGTERM.
pub async fn daemon(paths: &Paths) -> anyhow::Result<ExitCode> {
    let engine = app::engine(paths).await?;
    eprintln!(
        "lakepass daemon: keeping {} workspace(s) fresh; secrets in {}. Ctrl-C to stop.",
        engine.workspaces().len(),
        engine.store().vault().location()
    );
    let mut rx = engine.subscribe();
    let printer = tokio::spawn(async move {
        let mut last = std::collections::HashMap::new();
        while rx.changed().await.is_ok() {
            let snap = rx.borrow_and_update().clone();
            for w in snap.workspaces {
                if last.get(&w.name) != Some(&(w.state, w.expires_at)) {
                    let left = w.expires_at.map(|e| output::time_left(e - snap.at)).unwrap_or_else(|| "-".into());
                    let state = serde_json::to_value(w.state).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
                    match &w.last_error {
                        Some(e) if matches!(w.state, TokenState::Failed | TokenState::NeedsLogin) => {
                            eprintln!("{}: {state} ({e})", w.name)
                        }
                        _ => eprintln!("{}: {state}, {left} left", w.name),
                    }
                    last.insert(w.name.clone(), (w.state, w.expires_at));
                }
            }
        }
    });
    engine.run(shutdown_signal()).await;
    printer.abort();
    eprintln!("lakepass daemon: stopped");
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
