//! `lakepass-tray` answers `--help` and `--version` without GTK or a display, refuses a bad
//! flag with exit 2, and without a display says so in one sentence (exit 2) instead of a GTK
//! panic. Runs the built binary with DISPLAY and WAYLAND_DISPLAY removed.

use std::process::Command;

use lakepass_tray::{Start, parse_args};

fn tray(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_lakepass-tray"))
        .args(args)
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env("LAKEPASS_CONFIG", "/nonexistent/lakepass-tray-test.toml")
        .output()
        .expect("run lakepass-tray")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn help_and_version_answer_without_a_display() {
    let help = tray(&["--help"]);
    assert_eq!(help.status.code(), Some(0), "{}", text(&help.stderr));
    assert!(text(&help.stdout).contains("Usage: lakepass-tray"), "{}", text(&help.stdout));
    let version = tray(&["--version"]);
    assert_eq!(version.status.code(), Some(0));
    assert_eq!(text(&version.stdout).trim(), format!("lakepass-tray {}", env!("CARGO_PKG_VERSION")));
}

#[cfg(all(unix, not(target_os = "macos")))]
#[test]
fn no_display_is_one_plain_sentence_and_exit_2() {
    let out = tray(&["--hidden"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("no graphical display") && !stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_bad_flag_is_refused_with_exit_2() {
    let out = tray(&["--frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("unknown argument `--frobnicate`"));
    assert_eq!(
        parse_args(["--config".to_string()]),
        Start::Usage("--config needs a path; see `lakepass-tray --help`.".into())
    );
    assert!(matches!(parse_args(["--show".to_string()]), Start::Run(f) if f.show));
}

#[test]
fn preload_is_a_dashboard_started_hidden() {
    // What the Linux tray starts when its menu opens (crates/linux-tray, dashboard.rs).
    let args = ["--dashboard", "--preload", "--config", "/c/config.toml"].map(String::from);
    assert!(matches!(parse_args(args), Start::Run(f) if f.dashboard && f.preload && f.config.is_some()));
    assert!(matches!(parse_args(["--preload".to_string()]), Start::Run(f) if f.dashboard && f.preload));
    assert!(matches!(parse_args(["--dashboard".to_string()]), Start::Run(f) if f.dashboard && !f.preload));
}
