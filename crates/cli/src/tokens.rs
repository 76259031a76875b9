//! `status`, `token`, `refresh`, `whoami` and `daemon`: reading and refreshing workspace tokens.

use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use lakepass_core::config::Workspace;
use lakepass_core::engine::Engine;
use lakepass_core::serve::LiveService;
use lakepass_core::store::{self, TokenState};
use lakepass_core::{Clock, Paths, SystemClock, VaultKind};
use lakepass_core::{Secret, UnixTime, ipc};
use serde::Serialize;

use crate::app;
use crate::output::{self, Exit};

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
            if matches!(p.state, TokenState::Failed | TokenState::NeedsLogin) {
                w.state = p.state;
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
            println!(
                "\nSecrets: stored in a file, {} (the OS keyring is unavailable: {why})",
                vault.location()
            )
        }
        (VaultKind::File, None) => {
            println!("\nSecrets: stored in a file, {} (LAKEPASS_VAULT=file)", vault.location())
        }
        (VaultKind::Keyring, _) => println!("\nSecrets: {}", vault.location()),
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints a valid token: from the running engine over the local socket when one answers (a
/// few milliseconds, no vault opened), else from the vault, refreshing under the workspace lock.
pub async fn token(paths: &Paths, a: TokenArgs) -> anyhow::Result<ExitCode> {
    let now = SystemClock.now();
    if a.check {
        let engine = app::engine(paths).await?;
        let ws = workspace(&engine, a.ws.workspace.as_deref())?;
        let cached = engine.store().workspace_token(&ws).await?;
        return match cached {
            Some(t) if t.expires_at > now + 30 => Ok(ExitCode::SUCCESS),
            _ => Err(Exit(6).into()),
        };
    }
    let config = app::load_config(paths)?;
    let ws = config.workspace(a.ws.workspace.as_deref())?;
    let t = fresh_token(paths, &ws).await.with_context(|| format!("no token for workspace `{}`", ws.name))?;
    if a.json {
        let out = serde_json::json!({
            "token": t.token.secret(),
            "expires_in": (t.expires_at - now).max(0),
            "host": t.host,
        });
        println!("{out}");
    } else {
        println!("{}", t.token.secret());
    }
    Ok(ExitCode::SUCCESS)
}

/// A valid token for one workspace, wherever it came from.
pub struct Fresh {
    /// The bearer token.
    pub token: Secret,
    /// When it expires.
    pub expires_at: UnixTime,
    /// The workspace that minted it.
    pub host: String,
}

/// The running engine's token for `ws` over the local socket; with no engine (or one running
/// another config), the vault's, refreshed under the per-workspace lock when due, so parallel
/// callers cause one exchange. An engine's refusal (`needs_login`, …) is final: falling back
/// would fail the same way.
pub async fn fresh_token(paths: &Paths, ws: &Workspace) -> anyhow::Result<Fresh> {
    let req = ipc::TokenRequest { workspace: ws.name.clone(), host: ws.host.to_string() };
    match ipc::ask(&ipc::socket_path(paths), &req).await {
        Ok(ipc::Reply::Ok { access_token, expires_at, host }) if host == ws.host.as_str() => {
            return Ok(Fresh { token: access_token, expires_at, host });
        }
        Ok(ipc::Reply::Ok { .. }) => {
            tracing::warn!(workspace = %ws.name, "the engine answered for another host; ignored")
        }
        Ok(ipc::Reply::Error { kind, .. }) if kind == "unknown_workspace" => {
            tracing::debug!(workspace = %ws.name, "the running engine does not know this workspace")
        }
        Ok(ipc::Reply::Error { kind, message }) => {
            eprintln!("lakepass: {message}");
            return Err(Exit(exit_code_for_kind(&kind)).into());
        }
        Err(ipc::IpcError::NoServer { .. }) => {}
        Err(e) => tracing::warn!(error = %e, "not using the engine socket"),
    }
    let engine = app::engine(paths).await?;
    let t = engine.token(ws).await?;
    Ok(Fresh { token: t.access_token.clone(), expires_at: t.expires_at, host: t.host.to_string() })
}

/// The exit code for an engine error kind (see `lakepass --help`).
fn exit_code_for_kind(kind: &str) -> u8 {
    match kind {
        "config" => 2,
        "needs_login" => 3,
        "network" => 4,
        "federation_rejected" => 5,
        _ => 1,
    }
}

/// Forces a new exchange.
pub async fn refresh(paths: &Paths, a: WorkspaceArg) -> anyhow::Result<ExitCode> {
    let engine = app::engine(paths).await?;
    let targets: Vec<Workspace> = match a.workspace {
        Some(n) => vec![workspace(&engine, Some(&n))?],
        None => engine.workspaces().to_vec(),
    };
    let mut code = None;
    for ws in targets {
        match output::with_spinner(&format!("Refreshing {}…", ws.name), engine.refresh_workspace(&ws, true))
            .await
        {
            Ok(t) => match engine.profile_error(&ws.name) {
                None => eprintln!(
                    "✓ {}: new token, {} left",
                    ws.name,
                    output::time_left(t.expires_at - SystemClock.now())
                ),
                Some(e) => {
                    // The token is good and `lakepass token` serves it, but tools reading the
                    // credentials file would get a stale one: that is a failure to report.
                    eprintln!("✗ {}: new token, but the credentials file was not updated: {e}", ws.name);
                    code.get_or_insert(2);
                }
            },
            Err(e) => {
                eprintln!("✗ {}: {e}", ws.name);
                code.get_or_insert(output::code_for(&anyhow::Error::new(e)));
            }
        }
    }
    match code {
        Some(c) => Err(Exit(c).into()),
        None => Ok(ExitCode::SUCCESS),
    }
}

/// Runs the engine in the foreground until Ctrl-C / SIGTERM.
pub async fn daemon(paths: &Paths) -> anyhow::Result<ExitCode> {
    let engine = app::engine(paths).await?;
    // The engine socket first: it also tells us when another engine already runs.
    let _socket = match ipc::IpcServer::start(engine.clone(), ipc::socket_path(paths)).await {
        Ok(s) => Some(s),
        Err(e @ ipc::IpcError::AlreadyRunning { .. }) => return Err(e.into()),
        Err(e) => {
            eprintln!("lakepass daemon: {e}; `lakepass token` will refresh by itself");
            None
        }
    };
    let _live = start_live_service(&engine).await;
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
                    let left =
                        w.expires_at.map(|e| output::time_left(e - snap.at)).unwrap_or_else(|| "-".into());
                    let state = serde_json::to_value(w.state)
                        .ok()
                        .and_then(|v| v.as_str().map(String::from))
                        .unwrap_or_default();
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

/// Starts the live token service and writes the `<profile>-live` profiles that name it. Its
/// failure (a taken port) is reported and the daemon keeps refreshing without it.
async fn start_live_service(engine: &Engine) -> Option<LiveService> {
    let port = engine.config().serve.port;
    let service = match LiveService::start(engine.clone(), port).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "lakepass daemon: {e}. Continuing without the live token service: the `-live` profiles will not answer."
            );
            return None;
        }
    };
    match engine.write_live_profiles(service.urls()).await {
        Ok(names) if !names.is_empty() => eprintln!(
            "lakepass daemon: live token service on {}; always-fresh profiles: {}",
            service.local_addr(),
            names.join(", ")
        ),
        Ok(_) => {}
        Err(e) => eprintln!("lakepass daemon: could not write the -live profiles: {e}"),
    }
    Some(service)
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
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
