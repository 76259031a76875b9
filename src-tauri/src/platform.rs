//! The small seams between the app and the desktop: launching, autostart, notifications and
//! opening the browser. Each is a trait so the host and the IPC commands can be tested with
//! fakes; the real implementations are thin.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use lakepass_core::Paths;

use crate::notices::Notice;

/// Launch actions for a workspace.
pub trait Launcher: Send + Sync {
    /// Opens Claude Code inside a new terminal window, set up for `workspace`.
    fn launch_claude(&self, paths: &Paths, workspace: &str) -> Result<(), String>;
    /// Opens the user's terminal with `workspace`'s environment preset.
    fn open_terminal(&self, paths: &Paths, workspace: &str) -> Result<(), String>;
}

/// Launches through the `lakepass` CLI (`lakepass launch claude --new-terminal`, `lakepass
/// launch terminal`), which owns the launch logic in `lakepass_core::launch`: one implementation
/// for the CLI and the tray. The CLI is looked for next to this executable (where the bundle
/// puts it), then on `PATH`.
#[derive(Debug, Clone, Default)]
pub struct CliLauncher {
    /// An explicit `lakepass` program (`LAKEPASS_CLI`), for development and tests.
    pub program: Option<PathBuf>,
}

impl CliLauncher {
    /// The `lakepass` program: `LAKEPASS_CLI`, else next to this executable, else on `PATH`.
    pub fn program(&self) -> Result<PathBuf, String> {
        if let Some(p) = self.program.clone().or_else(|| std::env::var_os("LAKEPASS_CLI").map(PathBuf::from))
        {
            return Ok(p);
        }
        let name = if cfg!(windows) { "lakepass.exe" } else { "lakepass" };
        let beside = std::env::current_exe().ok().and_then(|e| e.parent().map(|d| d.join(name)));
        if let Some(p) = beside.filter(|p| p.is_file()) {
            return Ok(p);
        }
        lakepass_core::launch::find_program(std::path::Path::new(name), std::env::var_os("PATH").as_deref())
            .ok_or_else(|| {
                "the `lakepass` command was not found next to the app or on PATH; install the Lakepass CLI"
                    .to_string()
            })
    }

    fn run(&self, paths: &Paths, args: &[&str]) -> Result<(), String> {
        let program = self.program()?;
        let out = std::process::Command::new(&program)
            .arg("--config")
            .arg(&paths.config)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot start {}: {e}", program.display()))?;
        if out.status.success() {
            return Ok(());
        }
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("it failed without a message");
        Err(last.trim().trim_start_matches("error: ").to_string())
    }
}

impl Launcher for CliLauncher {
    fn launch_claude(&self, paths: &Paths, workspace: &str) -> Result<(), String> {
        self.run(paths, &["launch", "claude", "--new-terminal", "--workspace", workspace])
    }

    fn open_terminal(&self, paths: &Paths, workspace: &str) -> Result<(), String> {
        self.run(paths, &["launch", "terminal", "--workspace", workspace])
    }
}

/// Start at login, or not. Off unless the user turns it on in the dashboard.
pub trait Autostart: Send + Sync {
    /// Whether the app starts at login.
    fn is_enabled(&self) -> Result<bool, String>;
    /// Turns it on or off.
    fn set_enabled(&self, on: bool) -> Result<(), String>;
}

/// Shows desktop notifications.
pub trait Notifier: Send + Sync {
    /// Shows one; failures (no notification server) are logged, never raised.
    fn notify(&self, n: &Notice);
}

/// Notifications through the desktop's notification server (notify-rust), off the async
/// threads and bounded in time: with no server the call can hang on D-Bus activation.
#[derive(Debug, Clone, Default)]
pub struct DesktopNotifier;

impl Notifier for DesktopNotifier {
    fn notify(&self, n: &Notice) {
        let n = n.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let r = notify_rust::Notification::new()
                .appname("Lakepass")
                .summary(&n.summary)
                .body(&n.body)
                .timeout(notify_rust::Timeout::Milliseconds(8_000))
                .show();
            let _ = tx.send(r.map(|_| ()).map_err(|e| e.to_string()));
        });
        std::thread::spawn(move || match rx.recv_timeout(Duration::from_secs(5)) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::debug!(error = %e, "no notification shown"),
            Err(_) => tracing::debug!("the notification server did not answer in time"),
        });
    }
}

/// Opens the sign-in URL; injected so tests can play the browser.
pub type OpenUrl = Arc<dyn Fn(&url::Url) -> Result<(), String> + Send + Sync>;

/// The system browser (honours `$BROWSER` on Linux).
pub fn system_browser() -> OpenUrl {
    Arc::new(|url: &url::Url| webbrowser::open(url.as_str()).map_err(|e| e.to_string()))
}

/// Whether the desktop uses a dark theme, for the tray icon variant: `GTK_THEME` (`Adwaita:dark`,
/// `*-dark`), else GNOME's `color-scheme` setting (asked with a short timeout). Elsewhere: no.
pub fn desktop_prefers_dark() -> bool {
    if !cfg!(target_os = "linux") {
        return false;
    }
    if let Ok(t) = std::env::var("GTK_THEME") {
        let t = t.to_ascii_lowercase();
        return t.ends_with(":dark") || t.ends_with("-dark");
    }
    let Ok(mut child) = std::process::Command::new("gsettings")
        .args(["get", "org.gnome.desktop.interface", "color-scheme"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
    else {
        return false;
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(1);
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if std::time::Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return false;
            }
        }
    }
    let mut out = String::new();
    if let Some(mut so) = child.stdout.take() {
        use std::io::Read;
        let _ = so.read_to_string(&mut out);
    }
    out.contains("prefer-dark")
}
