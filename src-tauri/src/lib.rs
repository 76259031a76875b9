//! lakepass-tray: the Lakepass tray app, a thin shell over `lakepass-core`.
//!
//! The app hosts the engine (one tokio runtime, shared with Tauri) and owns refreshing; the tray
//! icon, its menu, the notifications and the dashboard all follow the engine's published state.
//! Decisions are pure functions over [`view::AppView`] — [`menu::menu`], [`look::icon_state`],
//! [`notices::decide`], [`events::diff`] — unit tested without a display; the Tauri parts
//! (`tray.rs`, `commands.rs`, [`run`]) only apply them.

pub mod app_error;
pub mod commands;
pub mod events;
pub mod forms;
pub mod hints;
pub mod host;
pub mod look;
pub mod menu;
pub mod notices;
pub mod onboarding;
pub mod platform;
pub mod sidecar;
mod tray;
pub mod view;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use lakepass_core::engine::EngineOptions;
use lakepass_core::{Clock, Paths, SystemClock};
use tauri::{AppHandle, Emitter, Manager, RunEvent, Runtime, WindowEvent};
use tauri_plugin_autostart::ManagerExt;

use crate::commands::AppState;
use crate::host::{Host, HostOptions};
use crate::menu::MenuAction;
use crate::notices::Conditions;
use crate::platform::{Autostart, DesktopNotifier, Notifier};
use crate::sidecar::SidecarLauncher;

/// The dashboard window's label.
pub const MAIN_WINDOW: &str = "main";
/// Event carrying a new [`view::AppView`] to the dashboard.
pub const VIEW_EVENT: &str = "lakepass://view";
/// Event carrying the recent events list to the dashboard.
pub const EVENTS_EVENT: &str = "lakepass://events";

/// Shows and focuses the dashboard, creating its window if it is closed. The window exists only
/// while it is open: a hidden webview would keep WebKit's processes (hundreds of MB) alive for
/// an app that mostly sits in the tray.
pub fn show_dashboard<R: Runtime>(app: &AppHandle<R>) {
    let window = match app.get_webview_window(MAIN_WINDOW) {
        Some(w) => w,
        None => {
            let Some(cfg) = app.config().app.windows.iter().find(|w| w.label == MAIN_WINDOW).cloned() else {
                return;
            };
            match tauri::WebviewWindowBuilder::from_config(app, &cfg).and_then(|b| b.build()) {
                Ok(w) => w,
                Err(e) => {
                    tracing::warn!(error = %e, "could not open the dashboard");
                    return;
                }
            }
        }
    };
    let _ = window.unminimize();
    let _ = window.show();
    let _ = window.set_focus();
}

struct PluginAutostart<R: Runtime>(AppHandle<R>);

impl<R: Runtime> Autostart for PluginAutostart<R> {
    fn is_enabled(&self) -> Result<bool, String> {
        self.0.autolaunch().is_enabled().map_err(|e| e.to_string())
    }
    fn set_enabled(&self, on: bool) -> Result<(), String> {
        // On Linux the plugin (auto-launch 0.5) creates ~/.config/autostart but not ~/.config,
        // so on a fresh account turning it on failed with "No such file or directory".
        if on
            && cfg!(target_os = "linux")
            && let Some(home) = lakepass_core::launch::user_home()
        {
            let dir = home.join(".config").join("autostart");
            std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        let a = self.0.autolaunch();
        if on { a.enable() } else { a.disable() }.map_err(|e| e.to_string())
    }
}

/// Runs a menu click.
fn on_menu<R: Runtime>(app: &AppHandle<R>, host: &Arc<Host>, notifier: &Arc<dyn Notifier>, id: &str) {
    let Some(action) = MenuAction::parse(id) else { return };
    let (host, notifier) = (host.clone(), notifier.clone());
    match action {
        MenuAction::OpenDashboard => show_dashboard(app),
        MenuAction::Quit => app.exit(0),
        MenuAction::SwitchWorkspace(w) => {
            if let Err(e) = host.set_active(&w) {
                tracing::warn!(error = %e, "could not switch workspace");
            }
        }
        MenuAction::RefreshNow => {
            tauri::async_runtime::spawn(async move {
                let _ = host.refresh_now().await;
            });
        }
        MenuAction::SignIn(idp) => {
            tauri::async_runtime::spawn(async move {
                let _ = host.sign_in(&idp).await;
            });
        }
        MenuAction::SignOut(idp) => {
            tauri::async_runtime::spawn(async move {
                let _ = host.sign_out(&idp).await;
            });
        }
        MenuAction::LaunchClaude | MenuAction::OpenTerminal => {
            tauri::async_runtime::spawn(async move {
                let claude = action == MenuAction::LaunchClaude;
                let r = if claude { host.launch_claude(None).await } else { host.open_terminal(None).await };
                if let Err(e) = r {
                    let ws = host.view().active.unwrap_or_default();
                    let what = if claude { "launch Claude Code" } else { "open a terminal" };
                    notifier.notify(&notices::launch_failed(what, &ws, &e.message));
                }
            });
        }
    }
}

/// Follows the host: applies every new view to the tray, decides notifications, pushes the
/// view and the events to the dashboard. A 30 s clock tick only re-renders time-dependent text
/// (and notices a token that expired meanwhile); it never asks the engine anything.
async fn follow<R: Runtime>(
    app: AppHandle<R>,
    host: Arc<Host>,
    tray: Option<tray::Tray<R>>,
    notifier: Arc<dyn Notifier>,
    dark_panel: Arc<Mutex<bool>>,
) {
    let tray = Arc::new(Mutex::new(tray));
    let mut views = host.subscribe();
    let mut events = host.subscribe_events();
    let mut clock = tokio::time::interval(Duration::from_secs(30));
    let mut conditions = Conditions::new();
    views.mark_changed();
    loop {
        let view_changed = tokio::select! {
            r = views.changed() => { if r.is_err() { break } true }
            r = events.changed() => {
                if r.is_err() { break }
                events.borrow_and_update();
                let _ = app.emit(EVENTS_EVENT, host.events());
                continue;
            }
            _ = clock.tick() => false,
        };
        let view = views.borrow_and_update().clone();
        let now = SystemClock.now();
        let dark = *dark_panel.lock().expect("theme");
        if let Some(t) = tray.lock().expect("tray").as_mut()
            && let Err(e) = t.apply(&app, &view, now, dark)
        {
            tracing::warn!(error = %e, "could not update the tray");
        }
        let (next, notes) = notices::decide(&conditions, &view, now);
        conditions = next;
        for n in &notes {
            notifier.notify(n);
        }
        if view_changed {
            let _ = app.emit(VIEW_EVENT, &view);
        }
    }
}

fn init_logging() {
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("LAKEPASS_LOG").unwrap_or_else(|_| "info".into());
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

/// Command-line flags: `--config PATH`, `--show` (open the dashboard at start), `--hidden`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Flags {
    /// `--config PATH`.
    pub config: Option<std::path::PathBuf>,
    /// `--show`.
    pub show: bool,
    /// `--hidden` (or `--autostart`).
    pub hidden: bool,
}

/// What the command line asks for, decided before any GTK or engine work.
#[derive(Debug, PartialEq, Eq)]
pub enum Start {
    /// Run the app.
    Run(Flags),
    /// Print this and exit 0 (`--help`, `--version`).
    Print(String),
    /// Print this one sentence and exit 2 (a bad flag).
    Usage(String),
}

/// `--help` text.
pub const HELP: &str = "\
lakepass-tray: the Lakepass tray app (token state, workspace switcher, sign-in, dashboard).

Usage: lakepass-tray [--config PATH] [--show | --hidden]

Options:
  --config PATH  Config file [default: $LAKEPASS_CONFIG or <config dir>/lakepass/config.toml]
  --show         Open the dashboard at start
  --hidden       Start in the tray only (what start-at-login uses)
  -h, --help     Print this help
  -V, --version  Print the version

Starting it again while it runs shows the running one's dashboard. On a machine without a
display, run `lakepass daemon` instead.";

/// Parses the arguments (without the program name).
pub fn parse_args(args: impl IntoIterator<Item = String>) -> Start {
    let mut f = Flags::default();
    let mut args = args.into_iter();
    while let Some(a) = args.next() {
        match a.as_str() {
            "-h" | "--help" => return Start::Print(HELP.into()),
            "-V" | "--version" => {
                return Start::Print(format!("lakepass-tray {}", env!("CARGO_PKG_VERSION")));
            }
            "--config" => match args.next() {
                Some(p) => f.config = Some(p.into()),
                None => return Start::Usage("--config needs a path; see `lakepass-tray --help`.".into()),
            },
            "--show" => f.show = true,
            "--hidden" | "--autostart" => f.hidden = true,
            // Desktop launchers and the OS may pass extra arguments (e.g. macOS `-psn_…`).
            other if other.starts_with("-psn_") => {}
            other => return Start::Usage(format!("unknown argument `{other}`; see `lakepass-tray --help`.")),
        }
    }
    Start::Run(f)
}

/// Why the app cannot show anything here, in one sentence: Linux without a display server.
fn no_display() -> Option<&'static str> {
    let set = |k: &str| std::env::var_os(k).is_some_and(|v| !v.is_empty());
    (cfg!(all(unix, not(target_os = "macos"))) && !set("DISPLAY") && !set("WAYLAND_DISPLAY")).then_some(
        "lakepass-tray: no graphical display here (DISPLAY and WAYLAND_DISPLAY are unset); \
         on a headless machine run `lakepass daemon` instead.",
    )
}

/// Runs the app until Quit.
pub fn run() {
    let flags = match parse_args(std::env::args().skip(1)) {
        Start::Run(f) => f,
        Start::Print(text) => {
            println!("{text}");
            std::process::exit(0);
        }
        Start::Usage(sentence) => {
            eprintln!("lakepass-tray: {sentence}");
            std::process::exit(2);
        }
    };
    if let Some(sentence) = no_display() {
        eprintln!("{sentence}");
        std::process::exit(2);
    }
    init_logging();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("lakepass")
        .build()
        .expect("tokio runtime");
    tauri::async_runtime::set(rt.handle().clone());
    let paths = Paths::from_env(flags.config.as_deref());
    let vault_kind = std::env::var("LAKEPASS_VAULT").ok().and_then(|v| v.parse().ok());
    // The host (and its engine) is built in `setup`, after the single-instance plugin: a second
    // start hands over to the running app and exits there, before building an engine of its own.
    let started: Arc<std::sync::OnceLock<Arc<Host>>> = Arc::default();
    let notifier: Arc<dyn Notifier> = Arc::new(DesktopNotifier);
    // Which tray icon variant: LAKEPASS_TRAY_THEME=light|dark, else the desktop theme.
    let forced_theme = match std::env::var("LAKEPASS_TRAY_THEME").as_deref() {
        Ok("dark") => Some(true),
        Ok("light") => Some(false),
        _ => None,
    };
    let fixed_theme = forced_theme.is_some();
    let dark = Arc::new(Mutex::new(forced_theme.unwrap_or(false)));

    let (n_setup, d_setup, d_events) = (notifier.clone(), dark.clone(), dark.clone());
    let started_setup = started.clone();
    let app = tauri::Builder::default()
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| show_dashboard(app)))
        .plugin(tauri_plugin_shell::init())
        .plugin(tauri_plugin_autostart::init(tauri_plugin_autostart::MacosLauncher::LaunchAgent, Some(vec!["--hidden"])))
        .invoke_handler(all_commands!())
        .setup(move |app| {
            let handle = app.handle().clone();
            // The bundled CLI runs the launches and is the helper the profiles name (the
            // engine's default would be this executable, which is not a CLI).
            let opts = HostOptions {
                open_url: platform::system_browser(),
                launcher: Arc::new(SidecarLauncher::new(handle.clone())),
                engine: EngineOptions { cli_helper_path: sidecar::cli_path(&handle), ..EngineOptions::default() },
                vault_kind,
                sign_in_timeout: Duration::from_secs(300),
                sinks: true,
            };
            let h_setup = tauri::async_runtime::block_on(Host::start(paths, opts));
            let _ = started_setup.set(h_setup.clone());
            app.manage(AppState { host: h_setup.clone(), autostart: Box::new(PluginAutostart(handle.clone())) });
            if !fixed_theme {
                *d_setup.lock().expect("theme") = platform::desktop_prefers_dark();
            }
            let (h, n) = (h_setup.clone(), n_setup.clone());
            let tray = match tray::Tray::create(&handle, move |app, id| on_menu(app, &h, &n, id)) {
                Ok(t) => Some(t),
                Err(e) => {
                    tracing::warn!(error = %e, "no tray icon; the dashboard stays reachable by starting Lakepass again");
                    None
                }
            };
            tauri::async_runtime::spawn(follow(handle.clone(), h_setup.clone(), tray, n_setup.clone(), d_setup.clone()));
            // First run, nothing set up, or asked to: show the dashboard; otherwise live in the tray.
            let v = h_setup.view();
            let needs_user = v.config_error.is_some() || v.workspaces.is_empty() || v.idps.iter().all(|i| !i.signed_in);
            if flags.show || (needs_user && !flags.hidden) {
                show_dashboard(&handle);
            }
            Ok(())
        })
        .on_window_event(move |_window, event| match event {
            // Closing the dashboard closes its window only; the app lives on in the tray (the
            // exit that would follow the last window is prevented below).
            WindowEvent::ThemeChanged(theme) if !fixed_theme => {
                *d_events.lock().expect("theme") = *theme == tauri::Theme::Dark;
            }
            _ => {}
        })
        .build(tauri::generate_context!())
        .expect("the Tauri app builds");
    let code = app.run_return(|_app, event| {
        if let RunEvent::ExitRequested { code: None, api, .. } = event {
            // The last window closing is not a reason to quit: the tray stays.
            api.prevent_exit();
        }
    });
    if let Some(host) = started.get() {
        rt.block_on(async {
            let _ = tokio::time::timeout(Duration::from_secs(3), host.shutdown()).await;
        });
    }
    onboarding::stop_local_devstack();
    rt.shutdown_timeout(Duration::from_millis(200));
    std::process::exit(code);
}
