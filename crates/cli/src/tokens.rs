//! `status`, `token`, `refresh`, `whoami` and `daemon`: reading and refreshing workspace tokens.

use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use lakepass_config::Workspace;
use lakepass_engine::engine::Engine;
use lakepass_engine::mcp::McpScope;
use lakepass_engine::sink::read_state_snapshot;
use lakepass_engine::{Daemon, DaemonOptions, ErrorKind, TokenState, ipc};
use lakepass_store::{Paths, VaultKind};
use lakepass_wire::{Clock, Secret, SystemClock, UnixTime};
use serde::Serialize;

use crate::app;
use crate::args::WorkspaceArg;
use crate::output::{self, Exit};

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
    /// A token carrying only this managed-MCP scope (`sql`, `genie`, `unity-catalog`,
    /// `ai-search`), exchanged and kept apart from the workspace's own token.
    #[arg(long, value_parser = parse_scope)]
    scope: Option<McpScope>,
    /// Print `{"Authorization": "Bearer …"}`: Claude Code's MCP `headersHelper` output.
    #[arg(long, conflicts_with_all = ["json", "raw", "check"])]
    headers_json: bool,
}

fn parse_scope(s: &str) -> Result<McpScope, String> {
    s.parse().map_err(|e: lakepass_engine::mcp::UnknownScope| e.to_string())
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
    error_kind: Option<ErrorKind>,
}

/// Shows every workspace.
pub async fn status(paths: &Paths, a: StatusArgs) -> anyhow::Result<ExitCode> {
    let engine = app::engine(paths).await?;
    let now = SystemClock.now();
    let mut snap = engine.snapshot();
    // A running daemon knows more (its last error); merge that in.
    let published_snapshot = read_state_snapshot(&paths.state_file());
    let published: std::collections::BTreeMap<_, _> =
        published_snapshot.workspaces.iter().map(|w| (w.name.clone(), w.clone())).collect();
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
    let scoped = engine.scoped_status();
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
                last_error: w.error_message(),
                error_kind: w.error_kind(),
            })
            .collect();
        let out = serde_json::json!({
            "workspaces": rows,
            "mcp": crate::mcp::status_rows(&engine, &scoped, now),
            "warnings": published_snapshot.warnings,
            "vault": { "kind": vault.kind(), "location": vault.location(), "fallback_reason": vault.fallback_reason() },
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    for w in &published_snapshot.warnings {
        println!("⚠ {}\n  {}", w.kind.hint(), w.message);
    }
    let active = engine.config().active.clone();
    println!("  {:<14} {:<12} {:<12} {:<38} PROFILE", "WORKSPACE", "STATE", "LEFT", "HOST");
    for w in &snap.workspaces {
        let mark = if active.as_deref() == Some(&w.name) { "*" } else { "" };
        println!(
            "{:<2}{:<14} {:<12} {:<12} {:<38} {}",
            mark,
            w.name,
            w.state,
            w.time_left(now),
            w.host,
            w.profile
        );
        if let Some(e) = w.error_message() {
            println!("    last error: {e}");
        }
        crate::mcp::print_status(&engine, &w.name, &scoped, now);
    }
    match (vault.kind(), vault.fallback_reason()) {
        (VaultKind::File, Some(why)) => {
            println!("\nSecrets: in a {} (the OS keyring is unavailable: {why})", vault.location())
        }
        (VaultKind::File, None) => println!("\nSecrets: in a {} (LAKEPASS_VAULT=file)", vault.location()),
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
        let store = engine.store();
        let cached = match a.scope {
            // A scope the workspace refused is served by the workspace's own token.
            Some(scope) => match store.scoped_token(&ws, scope).await? {
                None if !lakepass_engine::mcp::least_privilege(engine.config(), &ws)
                    && store.scoped_fallback(&ws, scope).await?.is_some_and(|f| f.stands(now)) =>
                {
                    store.workspace_token(&ws).await?
                }
                held => held,
            },
            None => store.workspace_token(&ws).await?,
        };
        return match cached {
            Some(t) if t.expires_at > now + 30 => Ok(ExitCode::SUCCESS),
            _ => Err(Exit(6).into()),
        };
    }
    let config = app::load_config(paths)?;
    let ws = config.workspace(a.ws.workspace.as_deref())?;
    let t = match a.scope {
        Some(scope) => fresh_scoped_token(paths, &ws, scope)
            .await
            .with_context(|| format!("no `{scope}` token for workspace `{}`", ws.name))?,
        None => {
            fresh_token(paths, &ws).await.with_context(|| format!("no token for workspace `{}`", ws.name))?
        }
    };
    if a.headers_json {
        let value = Secret::new(format!("Bearer {}", t.token.secret()));
        let out = Secret::new(serde_json::json!({ "Authorization": value.secret() }).to_string());
        println!("{}", out.secret());
    } else if a.json {
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
        Ok(ipc::Reply::Ok { access_token, expires_at, host, scope: None }) if host == ws.host.as_str() => {
            return Ok(Fresh { token: access_token, expires_at, host });
        }
        Ok(
            ipc::Reply::Ok { .. }
            | ipc::Reply::SignedOut { .. }
            | ipc::Reply::SignedIn { .. }
            | ipc::Reply::ProxyGrant { .. },
        ) => {
            tracing::warn!(workspace = %ws.name, "the engine answered for another host; ignored")
        }
        Ok(ipc::Reply::Error { kind: ErrorKind::UnknownWorkspace, .. }) => {
            tracing::debug!(workspace = %ws.name, "the running engine does not know this workspace")
        }
        Ok(ipc::Reply::Error { kind, message }) => {
            eprintln!("lakepass: {message}");
            return Err(Exit(kind.exit_code()).into());
        }
        Err(ipc::IpcError::NoServer { .. }) => {}
        Err(e) => tracing::warn!(error = %e, "not using the engine socket"),
    }
    let engine = app::engine(paths).await?;
    let t = engine.token(ws).await?;
    Ok(Fresh { token: t.access_token.clone(), expires_at: t.expires_at, host: t.host.to_string() })
}

/// [`fresh_token`] for a token carrying only `scope`: the engine's over the socket when it
/// answers for that workspace AND scope (anything else is ignored: an older engine would answer
/// with the broad workspace token), else the vault's, exchanged under the scope's lock.
pub async fn fresh_scoped_token(paths: &Paths, ws: &Workspace, scope: McpScope) -> anyhow::Result<Fresh> {
    let req = ipc::ScopedTokenRequest { workspace: ws.name.clone(), host: ws.host.to_string(), scope };
    match ipc::ask_scoped(&ipc::socket_path(paths), &req).await {
        Ok(ipc::Reply::Ok { access_token, expires_at, host, scope: Some(s) })
            if host == ws.host.as_str() && s == scope =>
        {
            return Ok(Fresh { token: access_token, expires_at, host });
        }
        Ok(
            ipc::Reply::Ok { .. }
            | ipc::Reply::SignedOut { .. }
            | ipc::Reply::SignedIn { .. }
            | ipc::Reply::ProxyGrant { .. },
        ) => {
            tracing::warn!(workspace = %ws.name, %scope, "the engine answered without that scope; ignored")
        }
        Ok(ipc::Reply::Error { kind: ErrorKind::UnknownWorkspace | ErrorKind::BadRequest, .. }) => {
            tracing::debug!(workspace = %ws.name, "the running engine cannot answer this; asking the vault")
        }
        Ok(ipc::Reply::Error { kind, message }) => {
            eprintln!("lakepass: {message}");
            return Err(Exit(kind.exit_code()).into());
        }
        Err(ipc::IpcError::NoServer { .. }) => {}
        Err(e) => tracing::warn!(error = %e, "not using the engine socket"),
    }
    let engine = app::engine(paths).await?;
    let t = engine.scoped_token(ws, scope).await?;
    Ok(Fresh { token: t.access_token.clone(), expires_at: t.expires_at, host: t.host.to_string() })
}

/// Arguments of `refresh`: unlike the other commands, no `-w` means every workspace.
#[derive(Args, Debug)]
pub struct RefreshArgs {
    /// Refresh only this workspace [default: every workspace]
    #[arg(long, short = 'w')]
    pub workspace: Option<String>,
    /// Refresh the workspace's token for this managed-MCP scope instead of its own token.
    #[arg(long, value_parser = parse_scope)]
    pub scope: Option<McpScope>,
}

/// Forces a new exchange.
pub async fn refresh(paths: &Paths, a: RefreshArgs) -> anyhow::Result<ExitCode> {
    let engine = app::engine(paths).await?;
    let targets: Vec<Workspace> = match a.workspace {
        Some(n) => vec![workspace(&engine, Some(&n))?],
        None => engine.workspaces().to_vec(),
    };
    if let Some(scope) = a.scope {
        return crate::mcp::refresh_scoped(&engine, &targets, scope).await;
    }
    let mut code = None;
    for ws in targets {
        match output::with_spinner(&format!("Refreshing {}…", ws.name), engine.refresh_workspace(&ws, true))
            .await
        {
            Ok(t) => match engine.sink_failures(&ws.name).into_values().next() {
                None => eprintln!(
                    "✓ {}: new token, {} left",
                    ws.name,
                    output::time_left(t.expires_at - SystemClock.now())
                ),
                Some(e) => {
                    // The token is good and `lakepass token` serves it, but tools reading the
                    // credentials file would get a stale one: that is a failure to report.
                    eprintln!("✗ {}: new token, but the credentials file was not updated: {e}", ws.name);
                    code.get_or_insert(e.kind.exit_code());
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

/// Runs the engine in the foreground until Ctrl-C / SIGTERM: the core's [`Daemon`], printing
/// what started and every state change.
pub async fn daemon(paths: &Paths) -> anyhow::Result<ExitCode> {
    let stop = shutdown_signal();
    let engine = app::engine(paths).await?;
    let daemon = Daemon::start(engine, DaemonOptions::default()).await?;
    for n in daemon.notices() {
        eprintln!("lakepass daemon: {n}");
    }
    let engine = daemon.engine().clone();
    eprintln!(
        "lakepass daemon: keeping {} workspace(s) fresh; secrets in {}. Ctrl-C to stop.",
        engine.workspaces().len(),
        engine.store().vault().location()
    );
    let mut rx = engine.subscribe();
    let printer = tokio::spawn(async move {
        let mut last = std::collections::HashMap::new();
        let mut warned = Vec::new();
        while rx.changed().await.is_ok() {
            let snap = rx.borrow_and_update().clone();
            if snap.warnings != warned {
                for w in &snap.warnings {
                    eprintln!("lakepass daemon: WARNING: {}", w.message);
                    eprintln!("lakepass daemon: {}", w.kind.hint());
                }
                warned = snap.warnings.clone();
            }
            for w in snap.workspaces {
                if last.get(&w.name) != Some(&(w.state, w.expires_at)) {
                    match w.error_message() {
                        Some(_) if matches!(w.state, TokenState::Failed | TokenState::NeedsLogin) => {
                            eprintln!("{w}")
                        }
                        _ => eprintln!("{}: {}, {} left", w.name, w.state, w.time_left(snap.at)),
                    }
                    last.insert(w.name.clone(), (w.state, w.expires_at));
                }
            }
        }
    });
    stop.await;
    printer.abort();
    daemon.shutdown().await;
    eprintln!("lakepass daemon: stopped");
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send {
    // The handlers are installed now, not when the future is first polled: a SIGTERM that
    // arrives while the daemon is still starting must stop it through `Daemon::shutdown` (which
    // removes the `-live` profiles), not kill it with the default action.
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
        let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
        async move {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
