//! Linux: the tray is the bundled CLI's `lakepass tray`, not this process.
//!
//! This program links GTK and WebKitGTK; started, it costs over 120 MB resident before any
//! window exists (GDK probes GL at display open, which loads Mesa and LLVM; WebKit's libraries
//! are relocated into memory; docs/benchmarks.md, figure 4). A tray sits in memory all day, so
//! on Linux this program replaces itself (`exec`, same process id) with the CLI beside it
//! running `tray`, which draws the icon over D-Bus and starts this program again with
//! `--dashboard` only while the dashboard is open. `LAKEPASS_TRAY_IN_PROCESS=1` keeps the old
//! shape (one process), for desktops where that is wanted and as the benchmark's baseline.

use crate::Flags;

/// Whether to hand over to `lakepass tray`.
pub fn wanted() -> bool {
    cfg!(target_os = "linux")
        && std::env::var_os("LAKEPASS_TRAY_IN_PROCESS").is_none_or(|v| v.is_empty() || v == "0")
}

/// The arguments `lakepass` gets: the same config, the same start mode, and this program as the
/// dashboard.
pub fn tray_args(flags: &Flags, dashboard: &std::path::Path) -> Vec<std::ffi::OsString> {
    let mut args: Vec<std::ffi::OsString> = Vec::new();
    if let Some(c) = &flags.config {
        args.push("--config".into());
        args.push(c.into());
    }
    args.push("tray".into());
    args.push("--dashboard-bin".into());
    args.push(dashboard.into());
    if flags.show {
        args.push("--show".into());
    }
    if flags.hidden {
        args.push("--hidden".into());
    }
    args
}

/// Replaces this process with `lakepass tray` (the CLI beside this program, where the bundle
/// and cargo both put it). Returns only on failure.
#[cfg(unix)]
pub fn exec_tray(flags: &Flags) -> std::io::Error {
    use std::os::unix::process::CommandExt as _;
    let me = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => return e,
    };
    let cli = me.with_file_name(crate::sidecar::CLI_SIDECAR);
    if !cli.is_file() {
        return std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("no {} beside this program", cli.display()),
        );
    }
    std::process::Command::new(&cli).args(tray_args(flags, &me)).exec()
}

/// Not used off Unix ([`wanted`] is false there).
#[cfg(not(unix))]
pub fn exec_tray(_flags: &Flags) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::Unsupported, "the split tray is Linux only")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tray_gets_the_config_the_mode_and_this_program_as_the_dashboard() {
        let flags = Flags { config: Some("/c/config.toml".into()), hidden: true, ..Flags::default() };
        let args = tray_args(&flags, std::path::Path::new("/usr/bin/lakepass-tray"));
        assert_eq!(
            args,
            ["--config", "/c/config.toml", "tray", "--dashboard-bin", "/usr/bin/lakepass-tray", "--hidden"]
                .map(std::ffi::OsString::from)
        );
        let show = tray_args(&Flags { show: true, ..Flags::default() }, std::path::Path::new("/a"));
        assert_eq!(show, ["tray", "--dashboard-bin", "/a", "--show"].map(std::ffi::OsString::from));
    }
}
