//! `lakepass tray`: the Linux tray. The engine (the same `Daemon` as `lakepass daemon`, with its
//! socket and live token service), a StatusNotifierItem with the tray menu, desktop
//! notifications, and the dashboard started as a separate process when opened.
//!
//! The Lakepass app (`lakepass-tray`) starts this on Linux: a tray that links GTK and WebKit
//! costs over 120 MB of memory all day for an icon and a menu (docs/benchmarks.md, figure 4);
//! this process holds none of it. macOS and Windows keep the app's own tray.

use std::path::PathBuf;
use std::process::ExitCode;

/// `lakepass tray` options.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Usually started by the Lakepass app (`lakepass-tray`), at login or from the applications menu.
Starting it again while it runs opens the running one's dashboard.")]
pub struct TrayArgs {
    /// Open the dashboard at start.
    #[arg(long, conflicts_with = "hidden")]
    pub show: bool,
    /// Start in the tray only, even on a first run (what start-at-login uses).
    #[arg(long)]
    pub hidden: bool,
    /// The program that shows the dashboard [default: `lakepass-tray` beside this program].
    #[arg(long, value_name = "PATH")]
    pub dashboard_bin: Option<PathBuf>,
}

#[cfg(target_os = "linux")]
mod dashboard;
#[cfg(target_os = "linux")]
mod run;
#[cfg(target_os = "linux")]
mod sni;

/// Runs the tray until Quit, Ctrl-C or SIGTERM.
#[cfg(target_os = "linux")]
pub async fn tray(paths: &lakepass_store::Paths, args: TrayArgs) -> anyhow::Result<ExitCode> {
    run::run(paths, args).await
}

/// Elsewhere the Lakepass app has its own tray.
#[cfg(not(target_os = "linux"))]
pub async fn tray(_paths: &lakepass_store::Paths, _args: TrayArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`lakepass tray` is the Linux tray; on this system start the Lakepass app instead")
}
