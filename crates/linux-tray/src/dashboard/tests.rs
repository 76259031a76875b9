//! [`Dashboards`] against a real process: a stand-in dashboard program (a shell script) that
//! records its arguments, every request line it reads on stdin, and the end of stdin.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::Dashboards;

/// A stand-in for `lakepass-tray --dashboard` writing into `dir`: `args.<pid>`, `said.<pid>`
/// (one line per request read), `ended.<pid>` (stdin ended; it then exits).
fn stand_in(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt as _;
    let program = dir.join("dashboard.sh");
    let script = format!(
        "#!/bin/sh\nd='{}'\necho \"$@\" > \"$d/args.$$.tmp\" && mv \"$d/args.$$.tmp\" \"$d/args.$$\"\n\
         while IFS= read -r line; do echo \"$line\" >> \"$d/said.$$\"; done\necho end > \"$d/ended.$$\"\n",
        dir.display()
    );
    std::fs::write(&program, script).unwrap();
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
    program
}

/// The pids of the stand-ins started so far, by their `args.<pid>` files.
fn started(dir: &Path) -> Vec<u32> {
    let mut pids: Vec<u32> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.strip_prefix("args.")?.parse().ok())
        .collect();
    pids.sort_unstable();
    pids
}

fn read(dir: &Path, what: &str, pid: u32) -> Option<String> {
    std::fs::read_to_string(dir.join(format!("{what}.{pid}"))).ok()
}

/// Polls `f` until it gives a value (the stand-in writes files; there is nothing else to await).
async fn until<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    for _ in 0..400 {
        if let Some(v) = f() {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting for {what}");
}

fn dashboards(dir: &Path, linger: Duration) -> Dashboards {
    Dashboards::new(stand_in(dir), dir.join("config.toml"), linger)
}

#[tokio::test]
async fn the_menu_opening_preloads_one_dashboard_and_the_click_shows_that_one() {
    let dir = tempfile::tempdir().unwrap();
    let d = dashboards(dir.path(), Duration::from_secs(60));
    d.warm();
    let pid = until("a preloaded dashboard", || started(dir.path()).first().copied()).await;
    let args = read(dir.path(), "args", pid).unwrap();
    assert_eq!(
        args.trim(),
        format!("--dashboard --preload --config {}", dir.path().join("config.toml").display())
    );
    // The menu opens again (and again): still the one process.
    d.warm();
    d.warm();
    d.open();
    let said = until("the show request", || read(dir.path(), "said", pid)).await;
    assert_eq!(said, "show\n");
    assert_eq!(started(dir.path()), vec![pid], "no second dashboard");
    // A shown dashboard is not let go with the menu: opening the menu again starts nothing.
    d.warm();
    d.open();
    until("the raise request", || read(dir.path(), "said", pid).filter(|s| s == "show\nshow\n")).await;
    assert_eq!(started(dir.path()), vec![pid]);
    d.close().await;
    assert!(read(dir.path(), "ended", pid).is_some(), "the tray's stop ends its stdin");
}

#[tokio::test]
async fn an_unused_preloaded_dashboard_is_let_go() {
    let dir = tempfile::tempdir().unwrap();
    let d = dashboards(dir.path(), Duration::from_millis(200));
    d.warm();
    let pid = until("a preloaded dashboard", || started(dir.path()).first().copied()).await;
    until("the preloaded dashboard to be let go", || read(dir.path(), "ended", pid)).await;
    assert_eq!(read(dir.path(), "said", pid), None, "it was never asked to show");
    // The next menu opening preloads a new one.
    d.warm();
    until("a second preloaded dashboard", || (started(dir.path()).len() == 2).then_some(())).await;
    d.close().await;
}

#[tokio::test]
async fn a_crashed_preloaded_dashboard_costs_only_a_cold_start() {
    let dir = tempfile::tempdir().unwrap();
    let d = dashboards(dir.path(), Duration::from_secs(60));
    d.warm();
    let pid = until("a preloaded dashboard", || started(dir.path()).first().copied()).await;
    let killed = std::process::Command::new("kill").args(["-KILL", &pid.to_string()]).status().unwrap();
    assert!(killed.success());
    // Whether the reaper saw the crash first or the click finds the pipe broken, the click
    // starts a dashboard that shows itself (no --preload).
    until("the preloaded dashboard to die", || {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        (stat.is_empty() || stat.rsplit(')').next().is_some_and(|s| s.trim_start().starts_with('Z')))
            .then_some(())
    })
    .await;
    d.open();
    let second = until("a new dashboard", || started(dir.path()).into_iter().find(|p| *p != pid)).await;
    let args = read(dir.path(), "args", second).unwrap();
    assert!(args.starts_with("--dashboard --config "), "{args}");
    d.close().await;
}

#[tokio::test]
async fn a_click_with_nothing_preloaded_starts_a_shown_dashboard_and_a_second_click_raises_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dashboards(dir.path(), Duration::ZERO);
    d.warm();
    d.open();
    let pid = until("a dashboard", || started(dir.path()).first().copied()).await;
    assert!(read(dir.path(), "args", pid).unwrap().starts_with("--dashboard --config "));
    d.open();
    until("the raise request", || read(dir.path(), "said", pid)).await;
    assert_eq!(started(dir.path()), vec![pid], "with preloading off, the menu opening starts nothing");
    d.close().await;
}
