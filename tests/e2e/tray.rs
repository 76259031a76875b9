//! `lakepass tray`, the Linux tray, as real processes with no display and no session bus (its
//! engine runs regardless; the icon waits for a bus): one per user, a second start asks the
//! running one for its dashboard, which the tray starts as a process of the app (here a stand-in
//! program that records how it was started), and SIGTERM stops it cleanly, sockets removed.

use std::time::Duration;

use lakepass_tests::*;

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_start_opens_the_running_trays_dashboard_and_sigterm_stops_it_cleanly() {
    use std::os::unix::fs::PermissionsExt as _;

    let ds = start_devstack(Duration::from_secs(600)).await;
    let home = TempHome::new();
    home.write_config(&format!("{}\n[serve]\nport = {}\n", devstack_config(&ds), free_port()));
    home.login(&[]).await;
    let record = home.root().join("dashboards");
    let dashboard = home.root().join("dashboard.sh");
    std::fs::write(&dashboard, format!("#!/bin/sh\necho \"$@\" >> '{}'\n", record.display())).unwrap();
    std::fs::set_permissions(&dashboard, std::fs::Permissions::from_mode(0o755)).unwrap();
    let dash = dashboard.to_str().unwrap();

    let (tray, _) = Proc::spawn_until(
        "lakepass tray",
        home.lakepass(&["-v", "tray", "--hidden", "--dashboard-bin", dash]),
        Stream::Stderr,
        Duration::from_secs(30),
        |l| l.contains("tray running").then_some(()),
    )
    .await;
    let (app_sock, engine_sock) = (home.data_dir().join("app.sock"), home.data_dir().join("lakepass.sock"));
    assert!(app_sock.exists() && engine_sock.exists(), "the tray serves the dashboard and the engine socket");
    assert!(!record.exists(), "--hidden: no dashboard at start");
    // The tray's engine answers the credential helper.
    let token = home.run(&["token", "--workspace", "dev"]).await.success();
    assert!(!token.stdout.trim().is_empty());

    // A second start (what the applications menu does) opens the running one's dashboard.
    let second = home.run(&["tray", "--dashboard-bin", "/nonexistent"]).await.success();
    assert!(second.stderr.contains("already running; showing its dashboard"), "{second:?}");
    let config = home.config_path().display().to_string();
    let started = wait_for("the dashboard to be started", Duration::from_secs(15), || {
        std::fs::read_to_string(&record).ok().filter(|t| !t.is_empty())
    })
    .await;
    assert_eq!(
        started.trim(),
        format!("--dashboard --config {config}"),
        "the running tray's own program and config"
    );
    // A second --hidden start (start at login twice) just ends.
    let hidden = home.run(&["tray", "--hidden"]).await.success();
    assert!(
        hidden.stderr.contains("already running") && !hidden.stderr.contains("showing its dashboard"),
        "{hidden:?}"
    );
    // An event instead of a pause: one more showing start after it. The tray answers its
    // clients in turn, so once that one's dashboard is recorded, a dashboard the --hidden start
    // had asked for would be recorded too: exactly two lines means it asked for none.
    home.run(&["tray", "--dashboard-bin", "/nonexistent"]).await.success();
    let lines = wait_for("the third start's dashboard", Duration::from_secs(15), || {
        let n = std::fs::read_to_string(&record).ok()?.lines().count();
        (n >= 2).then_some(n)
    })
    .await;
    assert_eq!(lines, 2, "no dashboard for --hidden, one for each showing start");

    tray.sigterm();
    let out = tray.wait(Duration::from_secs(20)).await;
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(!app_sock.exists() && !engine_sock.exists(), "both sockets removed on a clean stop");
}
