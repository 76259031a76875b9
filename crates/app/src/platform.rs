//! The small seams between the app and the desktop: launching, autostart, notifications and
//! opening the browser. Each is a trait so the host and the IPC commands can be tested with
//! fakes; the real implementations are thin.

use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lakepass_launch::{self as launch, Carried, LaunchError, LaunchPlan};
use lakepass_store::Paths;

use crate::notices::Notice;

/// Carries out launch plans. The host plans a launch in process (it has the engine, so the
/// token for model discovery needs no subprocess); this seam opens it on the desktop, so tests
/// can record the plans instead of opening windows.
pub trait Launcher: Send + Sync {
    /// Carries out `plan` (which opens a new terminal window); returns the terminal program.
    /// `started` is when the click arrived, for the audit log.
    fn carry_out(&self, plan: &LaunchPlan, paths: &Paths, started: Instant) -> Result<String, LaunchError>;
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
pub(crate) type OpenUrl = Arc<dyn Fn(&url::Url) -> Result<(), String> + Send + Sync>;

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

/// Carries plans out with the core's one executor (`lakepass_launch::carry_out`): the
/// terminal opens with `lakepass launch --plan <file>` for an agent, which becomes the agent.
/// Nothing between the click and the terminal is a subprocess of ours.
#[derive(Debug, Clone, Default)]
pub struct TerminalLauncher;

impl Launcher for TerminalLauncher {
    fn carry_out(&self, plan: &LaunchPlan, paths: &Paths, started: Instant) -> Result<String, LaunchError> {
        let mut tell = |line: &str| tracing::info!(workspace = %plan.workspace, "{line}");
        match launch::carry_out(plan, paths, started, &mut tell)? {
            Carried::Opened(terminal) => Ok(terminal),
            // A plan the host makes always opens a terminal; this is what ran instead.
            Carried::Exited(status) => Ok(format!("{} ({status})", plan.agent.as_str())),
        }
    }
}
