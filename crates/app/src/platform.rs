//! The small seams between the app and the desktop: launching, autostart, notifications and
//! opening the browser. Each is a trait so the host and the IPC commands can be tested with
//! fakes; the real implementations are thin.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use lakepass_store::Paths;

use crate::notices::Notice;

/// Launch actions for a workspace.
pub trait Launcher: Send + Sync {
    /// Opens Claude Code inside a new terminal window, set up for `workspace`.
    fn launch_claude(&self, paths: &Paths, workspace: &str) -> Result<(), String>;
    /// Opens the user's terminal with `workspace`'s environment preset.
    fn open_terminal(&self, paths: &Paths, workspace: &str) -> Result<(), String>;
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

/// Launches through the `lakepass` CLI: `lakepass --config <file> launch claude --new-terminal
/// --workspace W` and `… launch terminal --workspace W`. The launch logic stays in the CLI
/// (`lakepass_launch`), one implementation for the CLI and both trays; the CLI starts the
/// terminal detached and returns, so waiting for it is short.
#[derive(Debug, Clone)]
pub struct CliLauncher {
    program: Option<std::path::PathBuf>,
}

impl CliLauncher {
    /// Runs `program`; `None` when the front end could not find the bundled CLI (each launch
    /// then says so).
    pub fn new(program: Option<std::path::PathBuf>) -> CliLauncher {
        CliLauncher { program }
    }

    fn run(&self, paths: &Paths, args: &[&str]) -> Result<(), String> {
        let program = self
            .program
            .as_ref()
            .ok_or("the bundled `lakepass` command cannot be found; reinstall Lakepass")?;
        let out = std::process::Command::new(program)
            .arg("--config")
            .arg(&paths.config)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| {
                format!(
                    "cannot start the bundled `lakepass` command {}: {e}; reinstall Lakepass",
                    program.display()
                )
            })?;
        if out.status.success() {
            return Ok(());
        }
        Err(last_error_line(&String::from_utf8_lossy(&out.stderr)))
    }
}

/// The CLI's error, as its last non-empty stderr line says it (without its `error: ` prefix).
fn last_error_line(stderr: &str) -> String {
    let last = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("it failed without a message");
    last.trim().trim_start_matches("error: ").to_string()
}

impl Launcher for CliLauncher {
    fn launch_claude(&self, paths: &Paths, workspace: &str) -> Result<(), String> {
        self.run(paths, &["launch", "claude", "--new-terminal", "--workspace", workspace])
    }

    fn open_terminal(&self, paths: &Paths, workspace: &str) -> Result<(), String> {
        self.run(paths, &["launch", "terminal", "--workspace", workspace])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_shown_is_the_clis_last_line_without_its_prefix() {
        assert_eq!(last_error_line("note: x\nerror: no terminal found\n\n"), "no terminal found");
        assert_eq!(last_error_line(""), "it failed without a message");
    }

    #[cfg(unix)]
    #[test]
    fn a_launch_runs_the_cli_with_the_config_and_reports_its_error_line() {
        // A real program standing in for the CLI: it prints its argv and fails like the CLI.
        let dir = tempfile::tempdir().unwrap();
        let cli = dir.path().join("lakepass");
        let argv = dir.path().join("argv");
        std::fs::write(
            &cli,
            format!(
                "#!/bin/sh\necho \"$@\" > {}\necho 'error: no terminal found' >&2\nexit 1\n",
                argv.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(
            &cli,
            <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o755),
        )
        .unwrap();
        let paths = Paths::under(dir.path());
        let err = CliLauncher::new(Some(cli)).open_terminal(&paths, "dev").unwrap_err();
        assert_eq!(err, "no terminal found");
        let args = std::fs::read_to_string(&argv).unwrap();
        assert_eq!(
            args.trim(),
            format!("--config {} launch terminal --workspace dev", paths.config.display())
        );
        let none = CliLauncher::new(None).launch_claude(&paths, "dev").unwrap_err();
        assert!(none.contains("cannot be found"), "{none}");
    }
}
