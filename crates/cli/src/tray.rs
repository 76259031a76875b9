//! `lakepass tray`: its options, handed to the Linux tray (`lakepass_linux_tray`), which runs
//! inside this binary. Elsewhere the Lakepass app has its own tray.

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

/// Runs the tray until Quit, Ctrl-C or SIGTERM.
#[cfg(target_os = "linux")]
pub async fn tray(paths: &lakepass_store::Paths, args: TrayArgs) -> anyhow::Result<ExitCode> {
    use lakepass_linux_tray::{TrayExit, TrayOptions};
    let opts = TrayOptions { show: args.show, hidden: args.hidden, dashboard_bin: args.dashboard_bin };
    match lakepass_linux_tray::run(paths, opts, crate::tokens::shutdown_signal()).await? {
        TrayExit::Stopped => {}
        TrayExit::AlreadyRunning { showed_dashboard } => eprintln!(
            "lakepass tray: already running{}",
            if showed_dashboard { "; showing its dashboard" } else { "" }
        ),
    }
    Ok(ExitCode::SUCCESS)
}

/// Elsewhere the Lakepass app has its own tray.
#[cfg(not(target_os = "linux"))]
pub async fn tray(_paths: &lakepass_store::Paths, _args: TrayArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`lakepass tray` is the Linux tray; on this system start the Lakepass app instead")
}
