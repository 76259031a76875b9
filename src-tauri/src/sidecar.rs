//! The `lakepass` CLI as the app's sidecar: the program the launch actions run and the one
//! Claude Code's `apiKeyHelper` and the SDKs' helper profiles name.
//!
//! The bundle ships the CLI beside the app (`bundle.externalBin` in tauri.conf.json; the .deb puts
//! both in /usr/bin), and tauri-plugin-shell's sidecar API finds it there: next to this
//! executable, never by searching `PATH`, so an installed app always runs the CLI it was shipped
//! with. In a checkout, cargo builds both into the same target folder, which is the same layout.
//! The launch logic itself stays in the CLI (`lakepass launch …`, `lakepass_core::launch`): one
//! implementation for the CLI and the tray.

use std::path::PathBuf;

use lakepass_core::Paths;
use tauri::{AppHandle, Runtime};
use tauri_plugin_shell::ShellExt;

use crate::platform::Launcher;

/// The sidecar's name, as `bundle.externalBin` lists it (without the folder and target triple).
pub const CLI_SIDECAR: &str = "lakepass";

/// Where the sidecar is: the file the shell plugin runs for [`CLI_SIDECAR`]. `None` only when
/// the app cannot find its own executable.
pub fn cli_path<R: Runtime>(app: &AppHandle<R>) -> Option<PathBuf> {
    let cmd = app.shell().sidecar(CLI_SIDECAR).ok()?;
    Some(PathBuf::from(std::process::Command::from(cmd).get_program()))
}

/// Launches through the sidecar CLI: `lakepass --config <file> launch claude --new-terminal
/// --workspace W` and `… launch terminal --workspace W`. The CLI starts the terminal detached
/// and returns, so waiting for it is short.
pub struct SidecarLauncher<R: Runtime> {
    app: AppHandle<R>,
}

impl<R: Runtime> SidecarLauncher<R> {
    /// The launcher for this app.
    pub fn new(app: AppHandle<R>) -> Self {
        SidecarLauncher { app }
    }

    fn run(&self, paths: &Paths, args: &[&str]) -> Result<(), String> {
        let cmd = self.app.shell().sidecar(CLI_SIDECAR).map_err(|e| {
            format!("the bundled `lakepass` command cannot be found ({e}); reinstall Lakepass")
        })?;
        let cmd = cmd.arg("--config").arg(&paths.config).args(args);
        // Called from a blocking thread (the host's `spawn_blocking`), never from async code.
        let out = tauri::async_runtime::block_on(cmd.output()).map_err(|e| {
            let at = cli_path(&self.app).map(|p| p.display().to_string()).unwrap_or_default();
            format!("cannot start the bundled `lakepass` command {at}: {e}; reinstall Lakepass")
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

impl<R: Runtime> Launcher for SidecarLauncher<R> {
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
}
