//! Commands do what the README and their `--help` say: the demo's printed command works as
//! printed, a new workspace says "no token yet", a bad `--host` suggests the cleaned one, a
//! shared host is warned about, a forced keyring that is not there fails clearly, the keyring
//! fallback is said in `status` and not before every answer, and errors say each cause once.

use std::time::Duration;

use lakepass_tests::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demos_status_command_works_as_printed() {
    let home = TempHome::new();
    let (demo, line) = Proc::spawn_until(
        "lakepass demo --headless",
        home.lakepass(&["demo", "--headless", "--duration", "20", "--token-ttl", "60"]),
        Stream::Stderr,
        Duration::from_secs(40),
        |l| l.contains("lakepass status").then(|| l.trim().to_string()),
    )
    .await;
    // Run it as a person would paste it: `lakepass` from PATH, and none of the test home's
    // LAKEPASS_*/DATABRICKS_* variables (the printed line must carry what it needs).
    let bin_dir = lakepass_bin().parent().unwrap().to_path_buf();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    let mut cmd = home.command("sh");
    cmd.arg("-c").arg(&line).env("PATH", path);
    for k in ["LAKEPASS_DATA_DIR", "LAKEPASS_VAULT", "DATABRICKS_CONFIG_FILE"] {
        cmd.env_remove(k);
    }
    let out = Proc::spawn(format!("sh -c {line}"), cmd).wait(COMMAND_TIMEOUT).await.success();
    for ws in ["dev", "prod"] {
        let row = out.stdout.lines().find(|l| l.split_whitespace().any(|w| w == ws));
        let row = row.unwrap_or_else(|| panic!("`{ws}` is listed: {out:?}"));
        assert!(row.contains("fresh"), "`{ws}` is fresh: {out:?}");
    }
    demo.wait(Duration::from_secs(40)).await.success();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workspace_add_checks_the_host_first_and_warns_about_a_shared_one() {
    let ds = start_devstack(Duration::from_secs(600)).await;
    let home = TempHome::new();
    home.write_devstack_config(&ds);
    // A URL as the browser shows it: the host is kept, `?o=` becomes the workspace id.
    for (name, pasted, host, id) in [
        (
            "w",
            "https://adb-123.4.azuredatabricks.net/?o=123#job/5",
            "https://adb-123.4.azuredatabricks.net",
            Some(123),
        ),
        (
            "aws",
            "https://x.cloud.databricks.com/browse/folders/1?o=42",
            "https://x.cloud.databricks.com",
            Some(42),
        ),
        ("bare", "x2.cloud.databricks.com/sql/editor", "https://x2.cloud.databricks.com", None),
    ] {
        home.run(&["workspace", "add", name, "--host", pasted]).await.success();
        let text = std::fs::read_to_string(home.config_path()).unwrap();
        let table = text.split(&format!("[workspace.{name}]")).nth(1).unwrap_or_default();
        let table = table.split("\n[").next().unwrap_or_default();
        assert!(table.contains(&format!("host = \"{host}\"")), "{text}");
        match id {
            Some(id) => assert!(table.contains(&format!("workspace_id = {id}")), "{text}"),
            None => assert!(!table.contains("workspace_id"), "{text}"),
        }
    }
    // Otherwise as strict as ever: plain http, user info, an `o` that is no id.
    let out = home
        .run(&["workspace", "add", "h", "--host", "http://adb-1.2.azuredatabricks.net/?o=1"])
        .await
        .code(2);
    assert!(out.stderr.contains("did you mean --host https://adb-1.2.azuredatabricks.net?"), "{out:?}");
    assert!(!out.stderr.contains("config.toml:"), "no line of a file that was never written: {out:?}");
    home.run(&["workspace", "add", "u", "--host", "https://me@adb-1.2.azuredatabricks.net/"]).await.code(2);
    let out = home
        .run(&["workspace", "add", "o", "--host", "https://adb-1.2.azuredatabricks.net/?o=abc"])
        .await
        .code(2);
    assert!(out.stderr.contains("workspace id"), "{out:?}");

    let dev = ws_host(&ds, "dev");
    let out = home.run(&["workspace", "add", "twin", "--host", &dev]).await.success();
    assert!(out.stderr.contains("`dev` has the same host"), "{out:?}");

    // A workspace with no token yet says so, instead of a bare `-`.
    let status = home.run(&["status"]).await.success();
    let row = status.stdout.lines().find(|l| l.contains("twin")).expect("twin listed");
    assert!(row.contains("no token yet"), "{status:?}");

    let help = home.run(&["refresh", "--help"]).await.success();
    assert!(help.stdout.contains("[default: every workspace]"), "{help:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_keyring_fallback_is_said_in_status_and_a_forced_keyring_fails_clearly() {
    let ds = start_devstack(Duration::from_secs(600)).await;
    let mut home = TempHome::new();
    home.write_devstack_config(&ds);
    // No D-Bus in the test home: no keyring. Not forced: the file, said in `status` only.
    home.set_env("LAKEPASS_VAULT", "");
    let out = home.run(&["token", "--check"]).await.code(6);
    assert!(!out.stderr.contains("WARN") && !out.stderr.contains("keyring"), "{out:?}");
    let status = home.run(&["status"]).await.success();
    assert!(status.stdout.contains("the OS keyring is unavailable"), "{status:?}");
    assert!(!status.stderr.contains("WARN"), "{status:?}");

    home.set_env("LAKEPASS_VAULT", "keyring");
    let out = home.run(&["status"]).await;
    assert_ne!(out.code, Some(0), "{out:?}");
    assert!(out.stderr.contains("LAKEPASS_VAULT=keyring, but the OS keyring cannot be used"), "{out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_say_each_cause_once_and_doctor_fixes_fit_the_problem() {
    let ds = start_devstack(Duration::from_secs(600)).await;
    let home = TempHome::new();
    home.write_devstack_config(&ds);
    let out = home.run(&["doctor", "-w", "nope"]).await.code(2);
    assert!(!out.stdout.contains("Fix the config file"), "{out:?}");
    assert!(out.stdout.contains("lakepass workspace list"), "{out:?}");

    ds.shutdown().await;
    let out = home.run(&["login", "--no-browser", "--timeout", "10"]).await.code(4);
    assert_eq!(out.stderr.matches("could not reach").count(), 1, "{out:?}");
}
