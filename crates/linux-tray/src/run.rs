//! The tray's life: one instance per user, the host and its engine, the dashboard socket, the
//! item, and a clean stop on Quit or a signal.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use lakepass_app::follow::{act, follow};
use lakepass_app::host::{Host, HostOptions};
use lakepass_app::menu::MenuAction;
use lakepass_app::onboarding;
use lakepass_app::platform::{self, DesktopNotifier, Notifier, TerminalLauncher};
use lakepass_app::remote::{self, Call, OnShow, RemoteHost, Server};
use lakepass_engine::engine::{EngineOptions, vault_kind_from_env};
use lakepass_store::Paths;
use tokio::sync::mpsc;

use crate::dashboard::Dashboards;
use crate::sni::SniSurface;
use crate::{TrayError, TrayExit, TrayOptions};

/// Which icon variant: `LAKEPASS_TRAY_THEME=light|dark`, else the desktop's theme.
fn dark_panel() -> bool {
    match std::env::var("LAKEPASS_TRAY_THEME").as_deref() {
        Ok("dark") => true,
        Ok("light") => false,
        _ => platform::desktop_prefers_dark(),
    }
}

/// How long a preloaded dashboard waits for the click after the menu last opened:
/// `LAKEPASS_DASHBOARD_LINGER_MS` (0: never preload; tests use a short one), else a minute.
fn dashboard_linger() -> Duration {
    std::env::var("LAKEPASS_DASHBOARD_LINGER_MS")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .map_or(crate::dashboard::DEFAULT_LINGER, Duration::from_millis)
}

/// How long after start the code start-up touched is given back: the item is registered and
/// the engine's first pass done well before.
const FIRST_TRIM: Duration = Duration::from_secs(5);
/// How often after that: a refresh pass or an opened menu touches code the idle loop does not
/// use again for a long while.
const TRIM_EVERY: Duration = Duration::from_secs(15 * 60);

/// Gives back the binary's code pages the tray is not using, after start and then now and then
/// (`lakepass-pagetrim`): the idle tray keeps only what its loop runs. A failure is logged once
/// and ends the trimming; nothing depends on it.
async fn trim_code_while_idle() {
    tokio::time::sleep(FIRST_TRIM).await;
    loop {
        let resident = lakepass_pagetrim::own_code_resident();
        match lakepass_pagetrim::trim_own_code() {
            Ok(advised) => tracing::debug!(advised, resident, "tray: gave back unused code pages"),
            Err(e) => {
                tracing::info!(error = %e, "tray: cannot give back unused code pages; not trying again");
                return;
            }
        }
        tokio::time::sleep(TRIM_EVERY).await;
    }
}

/// Runs the tray until Quit or `stop` (the binary's Ctrl-C / SIGTERM). A second start finds
/// the running tray on its dashboard socket, asks it to show the dashboard (unless
/// `hidden`) and ends at once.
pub async fn run(
    paths: &Paths,
    args: TrayOptions,
    stop: impl Future<Output = ()>,
) -> Result<TrayExit, TrayError> {
    let socket = remote::app_socket_path(paths);
    // One tray per user: a second start asks the running one for its dashboard and ends.
    let running = RemoteHost::new(socket.clone());
    let ask = if args.hidden { Call::Ping } else { Call::ShowDashboard };
    if running.call(&ask).await.is_ok() {
        return Ok(TrayExit::AlreadyRunning { showed_dashboard: !args.hidden });
    }

    let exe = std::env::current_exe().map_err(TrayError::OwnPath)?;
    let dashboards = Arc::new(Dashboards::new(
        args.dashboard_bin.unwrap_or_else(|| exe.with_file_name("lakepass-tray")),
        paths.config.clone(),
        dashboard_linger(),
    ));
    let opts = HostOptions {
        open_url: platform::system_browser(),
        launcher: Arc::new(TerminalLauncher),
        // The profiles' helper and the launches name this program (it is the bundled CLI).
        engine: EngineOptions { cli_helper_path: Some(exe), ..EngineOptions::default() },
        vault_kind: vault_kind_from_env()?,
        sign_in_timeout: Duration::from_secs(300),
        sinks: true,
    };
    let host = Host::start(paths.clone(), opts).await;
    let show: OnShow = {
        let d = dashboards.clone();
        Arc::new(move || d.open())
    };
    let server = Server::start(host.clone(), socket.clone(), show).await?;

    let (clicks, mut clicked) = mpsc::unbounded_channel::<MenuAction>();
    let (menu_opens, mut menu_opened) = mpsc::unbounded_channel::<()>();
    let icons = socket.with_file_name("icons");
    let surface = SniSurface::start(icons, dark_panel(), clicks, menu_opens).await;
    let notifier: Arc<dyn Notifier> = Arc::new(DesktopNotifier);
    let follower = tokio::spawn(follow(host.clone(), surface, notifier.clone()));

    // First run, nothing set up, or asked to: show the dashboard; otherwise live in the tray.
    if args.show || (host.view().needs_user() && !args.hidden) {
        dashboards.open();
    }
    tracing::info!(dashboard = %dashboards.program().display(), "tray running");
    let trimmer = tokio::spawn(trim_code_while_idle());

    let rt = tokio::runtime::Handle::current();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            Some(action) = clicked.recv() => match act(&rt, &host, &notifier, action) {
                Some(MenuAction::OpenDashboard) => dashboards.open(),
                Some(MenuAction::Quit) => break,
                _ => {}
            },
            // The menu is opening: load the dashboard now, so a click on "Open dashboard" only
            // has to show it.
            Some(()) = menu_opened.recv() => dashboards.warm(),
            _ = &mut stop => break,
        }
    }

    // Stop serving first: open dashboards see their link end and close themselves.
    drop(server);
    follower.abort();
    trimmer.abort();
    dashboards.close().await;
    let _ = tokio::time::timeout(Duration::from_secs(3), host.shutdown()).await;
    onboarding::stop_local_devstack();
    Ok(TrayExit::Stopped)
}
