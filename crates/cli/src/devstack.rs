//! `lakepass devstack` and `lakepass demo`: Lakepass on its embedded default, no account needed.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use lakepass_config::{ConfigDoc, IdpConfig, SubjectTokenKind, WorkspaceConfig};
use lakepass_devstack::{Devstack, DevstackOptions};
use lakepass_engine::{Daemon, DaemonOptions};
use lakepass_store::Paths;

use crate::{app, output};

/// Arguments of `devstack`.
#[derive(Args, Debug)]
pub struct DevstackArgs {
    /// Where the IdP listens; workspaces `dev` and `prod` take the next two ports (all
    /// ephemeral with port 0). Always a loopback address.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub addr: SocketAddr,
    /// Approve every sign-in as this email, with no login page (for scripts: follow the sign-in
    /// URL with `curl -L`).
    #[arg(long, value_name = "EMAIL")]
    pub auto_approve: Option<String>,
    /// Lifetime of IdP tokens and exchanged workspace tokens, in seconds.
    #[arg(long, default_value_t = 3600, value_name = "SECS")]
    pub token_ttl: u64,
    /// Lifetime of the IdP's id and access tokens, in seconds [default: --token-ttl]
    #[arg(long, value_name = "SECS")]
    pub idp_token_ttl: Option<u64>,
    /// Serve HTTPS with a CA made at start (its PEM is printed with the info and, with
    /// --write-config, saved next to the config and set as `ca_file`).
    #[arg(long)]
    pub tls: bool,
    /// Serve each workspace and the account console on its own loopback address at port 443
    /// (127.x.y.2, .3, …), as real workspace URLs have no port: for clients that drop a URL's
    /// port (the JavaScript SDK). Needs --tls, and root or CAP_NET_BIND_SERVICE.
    #[arg(long, requires = "tls")]
    pub port_443: bool,
    /// Write a Lakepass config pointing at this devstack (IdP `devstack`, workspaces `dev`, `prod`).
    #[arg(long, value_name = "PATH")]
    pub write_config: Option<PathBuf>,
}

/// Arguments of `demo`.
#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Print the sign-in URL instead of opening a browser.
    #[arg(long)]
    pub no_browser: bool,
    /// Sign in without a browser at all: Lakepass follows the sign-in URL itself, as a browser
    /// would. The default when no display is available.
    #[arg(long)]
    pub headless: bool,
    /// Token lifetime in the demo, in seconds (short, so refreshes are visible).
    #[arg(long, default_value_t = 90, value_name = "SECS")]
    pub token_ttl: u64,
    /// Stop after this many seconds [default: run until Ctrl-C]
    #[arg(long, value_name = "SECS")]
    pub duration: Option<u64>,
}

fn options(addr: SocketAddr, auto_approve: Option<String>, ttl: u64) -> anyhow::Result<DevstackOptions> {
    if !addr.ip().is_loopback() {
        return Err(crate::output::usage(format!(
            "the devstack listens on loopback only ({addr} is not); use --addr 127.0.0.1:<port>"
        )));
    }
    Ok(DevstackOptions {
        addr,
        auto_approve,
        idp_token_ttl: Duration::from_secs(ttl),
        workspace_token_ttl: Duration::from_secs(ttl),
        ..DevstackOptions::default()
    })
}

/// Where `--write-config` saves the devstack's CA: next to the config it writes.
fn ca_path(config: &Path) -> PathBuf {
    config.with_file_name("devstack-ca.pem")
}

/// Writes (or updates) a config that points at `ds`, keeping whatever else the file holds.
pub fn write_config(ds: &Devstack, path: &Path) -> anyhow::Result<()> {
    let info = ds.info();
    let ca_file = match &info.ca_pem {
        Some(pem) => {
            let ca = ca_path(path);
            if let Some(dir) = ca.parent() {
                std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            }
            std::fs::write(&ca, pem).with_context(|| format!("writing {}", ca.display()))?;
            Some(ca)
        }
        None => None,
    };
    let mut doc = ConfigDoc::load(path)?;
    doc.add_idp(
        "devstack",
        &IdpConfig {
            issuer: info.issuer.clone(),
            client_id: info.client_id.clone(),
            scopes: ["openid", "email", "profile", "offline_access"].map(String::from).to_vec(),
            redirect_port: 0,
            auth_params: Default::default(),
            ca_file: ca_file.clone(),
        },
        true,
    )?;
    for ws in &info.workspaces {
        doc.add_workspace(
            &ws.name,
            &WorkspaceConfig {
                scopes: vec!["all-apis".into()],
                token: SubjectTokenKind::IdToken,
                client_id: None,
                profile: Some(format!("devstack-{}", ws.name)),
                account_id: Some(info.account_id.clone()),
                // The devstack's account console has its own address, as Databricks' does.
                account_host: Some(info.account_host.clone()).filter(|h| !h.is_empty()),
                ca_file: ca_file.clone(),
                ..WorkspaceConfig::new("devstack", ws.host.clone())
            },
            true,
        )?;
    }
    doc.set_active("dev")?;
    doc.save(path)?;
    Ok(())
}

fn print_info(ds: &Devstack) {
    let info = ds.info();
    eprintln!("devstack IdP:      {}  (client id {})", info.issuer, info.client_id);
    for ws in &info.workspaces {
        eprintln!("devstack workspace {:<5} {}", ws.name, ws.host);
    }
    eprintln!("devstack accounts: {}  (account id {})", info.account_host, info.account_id);
}

/// Runs the devstack until Ctrl-C.
pub async fn devstack(a: DevstackArgs) -> anyhow::Result<ExitCode> {
    let mut opts = options(a.addr, a.auto_approve, a.token_ttl)?;
    opts.tls = a.tls;
    opts.port_443 = a.port_443;
    if let Some(ttl) = a.idp_token_ttl {
        opts.idp_token_ttl = Duration::from_secs(ttl);
    }
    let ds = lakepass_devstack::start(opts).await?;
    print_info(&ds);
    if let Some(p) = &a.write_config {
        write_config(&ds, p)?;
        eprintln!("wrote Lakepass config: {}", p.display());
    }
    println!("{}", serde_json::to_string(ds.info())?);
    eprintln!("devstack running; Ctrl-C to stop.");
    tokio::signal::ctrl_c().await?;
    ds.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

fn has_display() -> bool {
    cfg!(any(target_os = "macos", target_os = "windows"))
        || std::env::var_os("DISPLAY").is_some()
        || std::env::var_os("WAYLAND_DISPLAY").is_some()
}

/// The demo: devstack in-process, a private config and credentials file, sign-in, live refresh.
pub async fn demo(user_paths: &Paths, a: DemoArgs) -> anyhow::Result<ExitCode> {
    let headless = a.headless || (!a.no_browser && !has_display());
    let auto = headless.then(|| "demo.user@example.com".to_string());
    let ds = lakepass_devstack::start(options("127.0.0.1:0".parse()?, auto, a.token_ttl)?).await?;
    // The demo never touches the user's own config or ~/.databrickscfg.
    let root = user_paths.data_dir.join("demo");
    std::fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
    let paths = Paths::under(&root);
    let _ = std::fs::remove_file(&paths.config);
    write_config(&ds, &paths.config)?;
    eprintln!("Lakepass demo: a local IdP and two workspaces, tokens living {} s.", a.token_ttl);
    print_info(&ds);
    eprintln!(
        "demo config: {}\ndemo credentials file: {}\n",
        paths.config.display(),
        paths.databrickscfg.display()
    );
    let engine = app::engine_with_vault(&paths, Some(lakepass_store::vault::VaultKind::File)).await?;
    let no_browser = a.no_browser;
    let (tx, rx) = tokio::sync::oneshot::channel::<url::Url>();
    let on_url = move |url: &url::Url| {
        if headless {
            eprintln!("Signing in headless (Lakepass plays the browser):\n{url}");
            let _ = tx.send(url.clone());
        } else if no_browser || webbrowser::open(url.as_str()).is_err() {
            eprintln!("Open this URL in a browser to sign in:\n{url}");
        } else {
            eprintln!("Opened the browser to sign in; if nothing appeared, open:\n{url}");
        }
    };
    let browser =
        tokio::spawn(async move { if let Ok(url) = rx.await { play_browser(url).await } else { Ok(()) } });
    let (session, failures) = output::with_spinner(
        "Waiting for sign-in…",
        engine.login("devstack", on_url, Duration::from_secs(300)),
    )
    .await?;
    browser.await.context("browser task")??;
    eprintln!("Signed in as {}.", session.username.as_deref().unwrap_or(&session.subject));
    if let Some((ws, e)) = failures.first() {
        anyhow::bail!("exchange for {ws} failed: {e}");
    }
    let q = |p: &Path| lakepass_engine::sink::sh_quote(&p.display().to_string());
    eprintln!(
        "Watching tokens refresh (each ~{} s before expiry). In another terminal:\n  LAKEPASS_VAULT=file LAKEPASS_DATA_DIR={} DATABRICKS_CONFIG_FILE={} lakepass status --config {}",
        (a.token_ttl / 2).min(60),
        q(&paths.data_dir),
        q(&paths.databrickscfg),
        q(&paths.config)
    );
    let mut rx = engine.subscribe();
    let printer = tokio::spawn(async move {
        while rx.changed().await.is_ok() {
            let snap = rx.borrow_and_update().clone();
            let line: Vec<String> = snap
                .workspaces
                .iter()
                .map(|w| format!("{} {} ({} left)", w.name, w.state, w.time_left(snap.at)))
                .collect();
            eprintln!("[{}] {}", output::rfc3339(snap.at), line.join(" | "));
        }
    });
    // The demo owns refreshing for its own config, but leaves the engine socket and the live
    // token service to a real daemon the user may be running.
    let opts = DaemonOptions { socket: false, live_service: false, exclusive: false, ..Default::default() };
    let daemon = Daemon::start(engine, opts).await?;
    match a.duration {
        Some(s) => tokio::time::sleep(Duration::from_secs(s)).await,
        None => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
    daemon.shutdown().await;
    printer.abort();
    let stats = ds.stats();
    eprintln!(
        "\nDemo over. The devstack saw {} token exchange(s) and {} IdP refresh(es).",
        stats.workspaces.values().map(|w| w.exchanges_ok).sum::<u64>(),
        stats.idp.refresh_grants
    );
    ds.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

/// Follows the sign-in URL the way a browser would (the devstack auto-approves), ending at our
/// own loopback callback.
async fn play_browser(url: url::Url) -> anyhow::Result<()> {
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::limited(5)).build()?;
    let resp = client.get(url).send().await.context("following the sign-in URL")?;
    anyhow::ensure!(resp.status().is_success(), "sign-in page answered HTTP {}", resp.status());
    Ok(())
}
