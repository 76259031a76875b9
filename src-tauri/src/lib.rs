//! lakepass-tray: the Lakepass app, a thin Tauri shell over `lakepass-app`.
//!
//! Two shapes, one program:
//! - **in process** (macOS, Windows): the app hosts the engine (one tokio runtime, shared with
//!   Tauri), draws the tray with Tauri's tray icon and opens the dashboard window on demand;
//! - **split** (Linux): started as the tray, it hands over at once to `lakepass tray` (the
//!   bundled CLI: engine, StatusNotifierItem, no GTK or WebKit, see [`split`]); that tray starts
//!   this program again with `--dashboard` when the dashboard is opened, and the dashboard then
//!   reaches the tray's host over its socket and exits when its window closes.
//!
//! Decisions are pure functions in `lakepass-app` over [`AppView`], unit tested without a
//! display; the Tauri parts (`tray.rs`, `commands.rs`, [`run`]) only apply them.

pub mod commands;
pub mod sidecar;
mod split;
mod tray;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use lakepass_app::events::Event;
use lakepass_app::follow::{self, Surface};
use lakepass_app::host::{Host, HostOptions};
use lakepass_app::menu::MenuAction;
use lakepass_app::onboarding;
use lakepass_app::platform::{self, Autostart, DesktopNotifier, Notifier, TerminalLauncher};
use lakepass_app::view::AppView;
use lakepass_engine::engine::EngineOptions;
use lakepass_store::Paths;
use lakepass_wire::UnixTime;
use tauri::{AppHandle, Emitter, Manager, RunEvent, Runtime, WindowEvent};
use tauri_plugin_autostart::ManagerExt;

use crate::commands::{AppState, Backend};

/// The dashboard window's label.
pub const MAIN_WINDOW: &str = "main";
/// Event carrying a new [`AppView`] to the dashboard.
pub const VIEW_EVENT: &str = "lakepass://view";
/// Event carrying the recent events list to the dashboard.
pub const EVENTS_EVENT: &str = "lakepass://events";

/// The dashboard's window, created (hidden: the config says `visible: false`) if it is closed.
/// In the app's own process it exists only while it is open: a hidden webview would keep
/// WebKit's processes (hundreds of MB) alive for an app that mostly sits in the tray. The Linux
/// tray's preloaded dashboard ([`run_dashboard`]) is such a hidden window, for a minute at most.
fn dashboard_window<R: Runtime>(app: &AppHandle<R>) -> Option<tauri::WebviewWindow<R>> {
    if let Some(w) = app.get_webview_window(MAIN_WINDOW) {
        return Some(w);
    }
    let cfg = app.config().app.windows.iter().find(|w| w.label == MAIN_WINDOW).cloned()?;
    tracing::debug!("dashboard: creating the window");
    match tauri::WebviewWindowBuilder::from_config(app, &cfg).and_then(|b| b.build()) {
        Ok(w) => {
            tracing::debug!("dashboard: window created");
            Some(w)
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not open the dashboard");
            None
        }
    }
}

/// Shows and focuses the dashboard, creating its window if it is closed.
pub fn show_dashboard<R: Runtime>(app: &AppHandle<R>) {
    let Some(window) = dashboard_window(app) else { return };
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
            && let Some(home) = lakepass_launch::user_home()
        {
            let dir = home.join(".config").join("autostart");
            std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        let a = self.0.autolaunch();
        if on { a.enable() } else { a.disable() }.map_err(|e| e.to_string())
    }
}

/// Runs a menu click (on the toolkit's thread; the work goes to `rt`).
fn on_menu<R: Runtime>(
    app: &AppHandle<R>,
    rt: &tokio::runtime::Handle,
    host: &Arc<Host>,
    notifier: &Arc<dyn Notifier>,
    id: &str,
) {
    let Some(action) = MenuAction::parse(id) else { return };
    match follow::act(rt, host, notifier, action) {
        Some(MenuAction::OpenDashboard) => show_dashboard(app),
        Some(MenuAction::Quit) => app.exit(0),
        _ => {}
    }
}

/// The in-process app's [`Surface`]: the Tauri tray, and the dashboard's pushed view and events.
struct TauriSurface<R: Runtime> {
    app: AppHandle<R>,
    tray: Option<tray::Tray<R>>,
    dark_panel: Arc<Mutex<bool>>,
}

impl<R: Runtime> Surface for TauriSurface<R> {
    fn apply(&mut self, view: &AppView, now: UnixTime) {
        let dark = *self.dark_panel.lock().expect("theme");
        if let Some(t) = self.tray.as_mut()
            && let Err(e) = t.apply(&self.app, view, now, dark)
        {
            tracing::warn!(error = %e, "could not update the tray");
        }
    }
    fn view_changed(&mut self, view: &AppView) {
        let _ = self.app.emit(VIEW_EVENT, view);
    }
    fn events_changed(&mut self, events: Vec<Event>) {
        let _ = self.app.emit(EVENTS_EVENT, events);
    }
}

/// The split dashboard's follower: pushes the tray's views and events to the page, and closes
/// the app when the tray goes away (quit, crashed).
#[cfg(unix)]
async fn follow_remote<R: Runtime>(app: AppHandle<R>, remote: lakepass_app::remote::RemoteHost) {
    use lakepass_app::remote::Update;
    match remote.follow().await {
        Ok(mut f) => {
            while let Some(u) = f.next().await {
                let _ = match u {
                    Update::View(v) => app.emit(VIEW_EVENT, &*v),
                    Update::Events(e) => app.emit(EVENTS_EVENT, e),
                };
            }
            tracing::info!("the tray stopped; closing the dashboard");
        }
        Err(e) => tracing::warn!(error = %e.message, "cannot follow the tray"),
    }
    app.exit(0);
}

fn init_logging() {
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("LAKEPASS_LOG").unwrap_or_else(|_| "info".into());
    // Colour only on a terminal: a log file (the tray's, a test's) gets plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr()) && std::env::var_os("NO_COLOR").is_none();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .try_init();
}

/// Command-line flags: `--config PATH`, `--show` (open the dashboard at start), `--hidden`,
/// `--dashboard` (the split dashboard process), `--preload` (that process, hidden until asked).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Flags {
    /// `--dashboard`: only the dashboard window, over the running Linux tray's host.
    pub dashboard: bool,
    /// `--preload` (implies `--dashboard`): load the dashboard in a hidden window and show it
    /// when `show` arrives on stdin; exit if stdin ends first (the tray let it go).
    pub preload: bool,
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

Usage: lakepass-tray [--config PATH] [--show | --hidden | --dashboard [--preload]]

Options:
  --config PATH  Config file [default: $LAKEPASS_CONFIG or <config dir>/lakepass/config.toml]
  --show         Open the dashboard at start
  --hidden       Start in the tray only (what start-at-login uses)
  --dashboard    Only the dashboard window, for the running tray (the tray starts this)
  --preload      With --dashboard: load it hidden; a `show` line on stdin shows it, the end of
                 stdin before that ends it (the tray starts this when its menu opens)
  -h, --help     Print this help
  -V, --version  Print the version

Starting it again while it runs shows the running one's dashboard. On Linux the tray itself is
the bundled `lakepass tray` (no GTK or WebKit in it), which this starts; set
LAKEPASS_TRAY_IN_PROCESS=1 to run the tray inside this app instead. On a machine without a
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
            "--dashboard" => f.dashboard = true,
            "--preload" => (f.dashboard, f.preload) = (true, true),
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
    if !flags.dashboard && split::wanted() {
        // Returns only when the tray could not be started; the app then runs it itself.
        let e = split::exec_tray(&flags);
        tracing::warn!(error = %e, "cannot start `lakepass tray`; running the tray in this app");
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("lakepass")
        .build()
        .expect("tokio runtime");
    tauri::async_runtime::set(rt.handle().clone());
    let paths = Paths::from_env(flags.config.as_deref());
    let code = if flags.dashboard {
        run_dashboard(&rt, paths, flags.preload)
    } else {
        run_in_process(&rt, paths, &flags)
    };
    onboarding::stop_local_devstack();
    rt.shutdown_timeout(Duration::from_millis(200));
    std::process::exit(code);
}

fn builder<R: Runtime>() -> tauri::Builder<R> {
    tauri::Builder::<R>::new()
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| show_dashboard(app)))
        .plugin(tauri_plugin_shell::init())
        .plugin(tauri_plugin_autostart::init(
            tauri_plugin_autostart::MacosLauncher::LaunchAgent,
            Some(vec!["--hidden"]),
        ))
}

/// Reads the tray's requests, one line each on stdin (linux-tray's `dashboard.rs` writes them):
/// `show` shows and raises the window. When stdin ends before the window was ever shown, a
/// preloaded dashboard exits (the tray let it go unused); a shown one lives until its window
/// closes. A terminal on stdin is not the tray and is left alone.
#[cfg(unix)]
fn follow_requests<R: Runtime>(app: AppHandle<R>, preload: bool) {
    use std::io::BufRead as _;
    let stdin = std::io::stdin();
    if std::io::IsTerminal::is_terminal(&stdin) {
        return;
    }
    let shown = Arc::new(std::sync::atomic::AtomicBool::new(!preload));
    let _ = std::thread::Builder::new().name("tray-requests".into()).spawn(move || {
        for line in stdin.lock().lines() {
            let Ok(line) = line else { break };
            if line.trim() == "show" {
                tracing::debug!("dashboard: asked to show");
                shown.store(true, std::sync::atomic::Ordering::SeqCst);
                let h = app.clone();
                let _ = app.run_on_main_thread(move || show_dashboard(&h));
            }
        }
        if !shown.load(std::sync::atomic::Ordering::SeqCst) {
            tracing::debug!("dashboard: let go unused");
            app.exit(0);
        }
    });
}

/// The split dashboard: one window over the tray's host; the app ends with the window, or when
/// the tray quits. `preload`: the window is created hidden and shown when the tray asks
/// ([`follow_requests`]), so the click pays for no process or WebKit start.
fn run_dashboard(rt: &tokio::runtime::Runtime, paths: Paths, preload: bool) -> i32 {
    #[cfg(unix)]
    {
        let remote = lakepass_app::remote::RemoteHost::new(lakepass_app::remote::app_socket_path(&paths));
        if let Err(e) = rt.block_on(remote.call(&lakepass_app::remote::Call::Ping)) {
            eprintln!("lakepass-tray: {}; start Lakepass (`lakepass-tray`) first.", e.message);
            return 2;
        }
        tracing::debug!("dashboard: the tray answers; starting the toolkit");
        let app = builder::<tauri::Wry>()
            .invoke_handler(commands::handler())
            .setup(move |app| {
                tracing::debug!("dashboard: toolkit up");
                let handle = app.handle().clone();
                app.manage(AppState {
                    backend: Backend::Remote(remote.clone()),
                    autostart: Box::new(PluginAutostart(handle.clone())),
                });
                tauri::async_runtime::spawn(follow_remote(handle.clone(), remote));
                if preload {
                    let _ = dashboard_window(&handle);
                } else {
                    show_dashboard(&handle);
                }
                follow_requests(handle, preload);
                Ok(())
            })
            .build(tauri::generate_context!())
            .expect("the Tauri app builds");
        app.run_return(|_, _| {})
    }
    #[cfg(not(unix))]
    {
        let _ = (rt, paths, preload);
        eprintln!("lakepass-tray: --dashboard is for the Linux tray; start Lakepass without it.");
        2
    }
}

/// The app with the tray and the engine in this process.
fn run_in_process(rt: &tokio::runtime::Runtime, paths: Paths, flags: &Flags) -> i32 {
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
    let (show, hidden) = (flags.show, flags.hidden);
    let (n_setup, d_setup, d_events) = (notifier.clone(), dark.clone(), dark.clone());
    let started_setup = started.clone();
    let rt_handle = rt.handle().clone();
    let app = builder::<tauri::Wry>()
        .invoke_handler(commands::handler())
        .setup(move |app| {
            let handle = app.handle().clone();
            // The bundled CLI runs the launches and is the helper the profiles name (the
            // engine's default would be this executable, which is not a CLI).
            let cli = sidecar::cli_path(&handle);
            let opts = HostOptions {
                open_url: platform::system_browser(),
                launcher: Arc::new(TerminalLauncher),
                engine: EngineOptions { cli_helper_path: cli, ..EngineOptions::default() },
                vault_kind,
                sign_in_timeout: Duration::from_secs(300),
                sinks: true,
            };
            let h_setup = tauri::async_runtime::block_on(Host::start(paths, opts));
            let _ = started_setup.set(h_setup.clone());
            app.manage(AppState {
                backend: Backend::Local(h_setup.clone()),
                autostart: Box::new(PluginAutostart(handle.clone())),
            });
            if !fixed_theme {
                *d_setup.lock().expect("theme") = platform::desktop_prefers_dark();
            }
            let (h, n, rt) = (h_setup.clone(), n_setup.clone(), rt_handle.clone());
            let tray = match tray::Tray::create(&handle, move |app, id| on_menu(app, &rt, &h, &n, id)) {
                Ok(t) => Some(t),
                Err(e) => {
                    tracing::warn!(error = %e, "no tray icon; the dashboard stays reachable by starting Lakepass again");
                    None
                }
            };
            let surface = TauriSurface { app: handle.clone(), tray, dark_panel: d_setup.clone() };
            tauri::async_runtime::spawn(follow::follow(h_setup.clone(), surface, n_setup.clone()));
            // First run, nothing set up, or asked to: show the dashboard; otherwise live in the tray.
            if show || (h_setup.view().needs_user() && !hidden) {
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
    code
}
