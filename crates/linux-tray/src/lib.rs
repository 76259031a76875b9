//! The Linux tray, what `lakepass tray` runs: the engine (the same `Daemon` as
//! `lakepass daemon`, with its socket and live token service) inside a `lakepass_app` host, a
//! StatusNotifierItem with the tray menu, desktop notifications, and the dashboard as a
//! separate process, preloaded when the menu opens and let go when unused.
//!
//! The Lakepass app (`lakepass-tray`) starts this on Linux: a tray that links GTK and WebKit
//! costs over 120 MB of memory all day for an icon and a menu (docs/benchmarks.md, figure 4);
//! this process holds none of it. macOS and Windows keep the app's own tray, so on those
//! systems this crate is empty.
//!
//! What it may use: the library crates (`lakepass-wire`, `-store`, `-engine`) and
//! `lakepass-app` (what the tray shows and does, with no toolkit), `ksni` for the D-Bus item,
//! tokio. Never GTK, WebKit or Tauri: that is the point of
//! the crate. It parses no arguments and installs no signal handlers; the `lakepass` binary
//! does both and hands over [`TrayOptions`] and a stop signal.

#[cfg(target_os = "linux")]
mod dashboard;
#[cfg(target_os = "linux")]
mod run;
#[cfg(target_os = "linux")]
mod sni;

#[cfg(target_os = "linux")]
pub use run::run;

use std::path::PathBuf;

/// How the tray starts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrayOptions {
    /// Open the dashboard at start.
    pub show: bool,
    /// Start in the tray only, even on a first run (what start-at-login uses).
    pub hidden: bool,
    /// The program that shows the dashboard; `None`: `lakepass-tray` beside this program.
    pub dashboard_bin: Option<PathBuf>,
}

/// How a tray run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrayExit {
    /// It ran until Quit or the stop signal.
    Stopped,
    /// Another tray already serves this user; it was asked to show its dashboard when
    /// `showed_dashboard`, else only pinged.
    AlreadyRunning {
        /// Whether the running tray was asked to show its dashboard.
        showed_dashboard: bool,
    },
}

/// Why the tray could not start.
#[derive(Debug, thiserror::Error)]
pub enum TrayError {
    /// The program's own path (to name in profiles and launches) is unknown.
    #[error("cannot find this program's own path: {0}")]
    OwnPath(#[source] std::io::Error),
    /// `LAKEPASS_VAULT` names no vault.
    #[error(transparent)]
    Vault(#[from] lakepass_engine::BuildError),
    /// The dashboard's socket could not be served.
    #[error(transparent)]
    DashboardSocket(#[from] lakepass_app::app_error::AppError),
}
