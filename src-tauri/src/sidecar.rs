//! The `lakepass` CLI as the app's sidecar: the program the launch actions run and the one
//! Claude Code's `apiKeyHelper` and the SDKs' helper profiles name.
//!
//! The bundle ships the CLI beside the app (`bundle.externalBin` in tauri.conf.json; the .deb puts
//! both in /usr/bin), and tauri-plugin-shell's sidecar API finds it there: next to this
//! executable, never by searching `PATH`, so an installed app always runs the CLI it was shipped
//! with. In a checkout, cargo builds both into the same target folder, which is the same layout.
//! The host plans launches in this process (the same code the Linux tray, `lakepass tray`,
//! runs); a new terminal then runs this CLI as `lakepass launch --plan <file>`, which becomes
//! the agent.

use std::path::PathBuf;

use tauri::{AppHandle, Runtime};
use tauri_plugin_shell::ShellExt;

/// The sidecar's name, as `bundle.externalBin` lists it (without the folder and target triple).
pub const CLI_SIDECAR: &str = "lakepass";

/// Where the sidecar is: the file the shell plugin runs for [`CLI_SIDECAR`]. `None` only when
/// the app cannot find its own executable.
pub fn cli_path<R: Runtime>(app: &AppHandle<R>) -> Option<PathBuf> {
    let cmd = app.shell().sidecar(CLI_SIDECAR).ok()?;
    Some(PathBuf::from(std::process::Command::from(cmd).get_program()))
}
