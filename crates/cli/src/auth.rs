//! `lakepass login` and `lakepass logout`.

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use lakepass_engine::ipc;
use lakepass_store::Paths;

use crate::{app, output};

/// Arguments of `login`.
#[derive(Args, Debug)]
pub struct LoginArgs {
    /// The identity provider to sign in to [default: the active workspace's IdP, or the only one]
    #[arg(long)]
    pub idp: Option<String>,
    /// Do not open a browser: print the sign-in URL on its own line on stderr and wait.
    #[arg(long)]
    pub no_browser: bool,
    /// Give up waiting for the browser after this many seconds.
    #[arg(long, default_value_t = 300, value_name = "SECS")]
    pub timeout: u64,
}

/// Arguments of `logout`.
#[derive(Args, Debug)]
pub struct LogoutArgs {
    /// The identity provider to sign out of [default: every configured IdP]
    #[arg(long)]
    pub idp: Option<String>,
}

/// Picks the IdP: the named one, else the active workspace's, else the only one.
pub fn pick_idp(config: &lakepass_config::Config, name: Option<String>) -> anyhow::Result<String> {
    if let Some(n) = name {
        config.idp(&n)?;
        return Ok(n);
    }
    if let Ok(ws) = config.workspace(None) {
        return Ok(ws.idp);
    }
    match config.idp.keys().collect::<Vec<_>>().as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(output::usage("no identity provider is configured; add one with `lakepass idp add`")),
        many => Err(output::usage(format!(
            "several identity providers are configured ({}); choose one with --idp",
            many.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
        ))),
    }
}

/// Signs in.
pub async fn login(paths: &Paths, a: LoginArgs) -> anyhow::Result<ExitCode> {
    let engine = app::engine(paths).await?;
    let idp = pick_idp(engine.config(), a.idp)?;
    let no_browser = a.no_browser;
    let on_url = move |url: &url::Url| {
        if no_browser || webbrowser::open(url.as_str()).is_err() {
            eprintln!("Open this URL in a browser to sign in:");
            eprintln!("{url}");
        } else {
            eprintln!("Opened the browser to sign in. If nothing appeared, open:");
            eprintln!("{url}");
        }
    };
    let (session, failures) = output::with_spinner(
        "Waiting for the browser sign-in…",
        engine.login(&idp, on_url, Duration::from_secs(a.timeout)),
    )
    .await?;
    eprintln!("Signed in to `{idp}` as {}.", session.who());
    // A running engine (the daemon, the tray) would otherwise notice only at its next pass.
    tell_running_engine_signed_in(paths, &idp, &engine.config().idp(&idp)?.issuer).await;
    let snap = engine.snapshot();
    for ws in snap
        .workspaces
        .iter()
        .filter(|w| engine.workspaces().iter().any(|c| c.name == w.name && c.idp == idp))
    {
        match failures.iter().find(|(n, _)| *n == ws.name) {
            Some((_, e)) => eprintln!("  ✗ {}: {e}", ws.name),
            None => match engine.sink_failures(&ws.name).into_values().next() {
                None => eprintln!("  ✓ {} ({}): token written to profile `{}`", ws.name, ws.host, ws.profile),
                Some(e) => eprintln!(
                    "  ✗ {}: token exchanged, but profile `{}` was not written: {e}",
                    ws.name, ws.profile
                ),
            },
        }
    }
    if let Some((_, e)) = failures.into_iter().next() {
        return Err(anyhow::Error::new(e).context("signed in, but a token exchange failed"));
    }
    Ok(ExitCode::SUCCESS)
}

/// Signs out: tells the running engine (the daemon or the tray app) first, so it stops serving
/// the tokens it holds in memory, then forgets the session here too.
pub async fn logout(paths: &Paths, a: LogoutArgs) -> anyhow::Result<ExitCode> {
    let engine = app::engine(paths).await?;
    let idps: Vec<String> = match a.idp {
        Some(n) => {
            engine.config().idp(&n)?;
            vec![n]
        }
        None => engine.config().idp.keys().cloned().collect(),
    };
    for idp in idps {
        let issuer = engine.config().idp(&idp)?.issuer.clone();
        let mut profiles = tell_running_engine(paths, &idp, &issuer).await;
        profiles.extend(engine.logout(&idp).await?);
        profiles.sort();
        profiles.dedup();
        eprintln!(
            "Signed out of `{idp}`; removed profiles: {}",
            if profiles.is_empty() { "none".into() } else { profiles.join(", ") }
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Tells the engine on the socket, if one runs, that we signed in to `idp`; it adopts the new
/// tokens (and rewrites its `-live` profiles) before answering.
async fn tell_running_engine_signed_in(paths: &Paths, idp: &str, issuer: &str) {
    let req = ipc::SignedInRequest { idp: idp.into(), issuer: issuer.into() };
    match ipc::signed_in(&ipc::socket_path(paths), &req).await {
        Ok(ipc::Reply::SignedIn { workspaces }) => {
            tracing::info!(idp, ?workspaces, "the running engine adopted the sign-in")
        }
        Ok(ipc::Reply::Error { message, .. }) => {
            tracing::info!(idp, message, "the running engine did not adopt the sign-in")
        }
        Ok(_) | Err(ipc::IpcError::NoServer { .. }) => {}
        Err(e) => eprintln!(
            "lakepass: could not tell the running engine about the sign-in ({e}); it picks it up within a minute"
        ),
    }
}

/// Asks the engine on the socket, if one runs, to sign out of `idp`; returns what it removed.
async fn tell_running_engine(paths: &Paths, idp: &str, issuer: &str) -> Vec<String> {
    let req = ipc::SignOutRequest { idp: idp.into(), issuer: issuer.into() };
    match ipc::sign_out(&ipc::socket_path(paths), &req).await {
        Ok(ipc::Reply::SignedOut { removed }) => {
            tracing::info!(idp, "the running engine signed out");
            removed
        }
        Ok(ipc::Reply::Error { message, .. }) => {
            tracing::info!(idp, message, "the running engine did not sign out");
            Vec::new()
        }
        Ok(ipc::Reply::Ok { .. } | ipc::Reply::SignedIn { .. } | ipc::Reply::ProxyGrant { .. }) => Vec::new(),
        Err(ipc::IpcError::NoServer { .. }) => Vec::new(),
        Err(e) => {
            eprintln!("lakepass: could not tell the running engine to sign out ({e}); restart it");
            Vec::new()
        }
    }
}
