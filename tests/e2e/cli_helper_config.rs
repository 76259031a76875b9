//! A `cli-helper` profile written by a Lakepass running on a config other than the default
//! (`--config PATH`) still works for the Databricks SDKs, whose environment knows nothing of that
//! path: the profile names a per-config link to the `lakepass` binary, which databricks-sdk-go
//! accepts (it refuses any `databricks_cli_path` under 1 MiB as the legacy CLI), and which finds
//! its config by the name it is started under.

use std::time::Duration;

use lakepass_tests::*;

/// databricks-sdk-go's `validateCliPath` (databricks/databricks-sdk-go
/// `config/cli_token_source.go`): a path with a separator is `os.Stat`ed, links followed; a
/// folder or a missing file is "not found", and `Size() < 1024 * 1024` is `ErrLegacyCliDetected`.
/// `exec` then needs it executable.
fn sdk_go_accepts(cli_path: &str) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt as _;
    if !cli_path.contains('/') {
        return Err("not a path: the SDK would look it up on PATH".into());
    }
    let info = std::fs::metadata(cli_path).map_err(|e| format!("ErrCliNotFound: {e}"))?;
    if info.is_dir() {
        return Err("ErrCliNotFound: a folder".into());
    }
    if info.len() < 1024 * 1024 {
        return Err(format!("ErrLegacyCliDetected: {} bytes", info.len()));
    }
    if info.permissions().mode() & 0o111 == 0 {
        return Err("not executable".into());
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_helper_profile_carries_the_config_it_was_written_from() {
    let Some(python) = peer_python() else { return };
    let ds = start_devstack(Duration::from_secs(600)).await;
    let home = TempHome::new();
    let elsewhere = home.root().join("elsewhere").join("lakepass.toml");
    std::fs::create_dir_all(elsewhere.parent().unwrap()).unwrap();
    std::fs::write(&elsewhere, format!("profile_flavour = \"cli-helper\"\n{}", devstack_config(&ds)))
        .unwrap();
    let config = elsewhere.display().to_string();
    home.login(&["--config", &config]).await;

    let cli_path =
        home.profile_value("devstack-dev-helper", "databricks_cli_path").expect("a cli-helper profile");
    // Regression: this was a ~200-byte wrapper script, which databricks-sdk-go refuses.
    sdk_go_accepts(&cli_path).unwrap_or_else(|e| panic!("databricks-sdk-go would refuse {cli_path}: {e}"));
    let link = std::path::PathBuf::from(&cli_path);
    assert!(link.starts_with(home.data_dir()), "the link lives in the data dir: {}", link.display());
    assert_eq!(mode(link.parent().unwrap()), 0o700, "its folder is private");
    assert_eq!(
        std::fs::canonicalize(&link).unwrap(),
        std::fs::canonicalize(lakepass_bin()).unwrap(),
        "the link is the lakepass binary itself"
    );

    // The SDK, with neither LAKEPASS_CONFIG nor LAKEPASS_DATA_DIR in its environment, gets a
    // token through the link.
    let mut cmd = home.command(&python);
    cmd.env_remove("LAKEPASS_DATA_DIR");
    cmd.arg(peers_dir().join("sdk_me.py")).arg("devstack-dev-helper");
    let mut p = Proc::spawn("python sdk_me.py devstack-dev-helper", cmd);
    p.close_stdin();
    let out = p.wait(Duration::from_secs(60)).await.success();
    assert_eq!(out.json()["userName"], USER_EMAIL, "SCIM Me through the SDK: {out:?}");
    // Plain `lakepass` on the default config knows no such workspace: the link made the difference.
    home.run(&["auth", "token", "--host", &ws_host(&ds, "dev")]).await.code(2);
}
