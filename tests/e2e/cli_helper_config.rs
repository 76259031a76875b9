//! A `cli-helper` profile written by a Lakepass running on a config other than the default
//! (`--config PATH`) still works for the Databricks Python SDK, whose environment knows nothing
//! of that path: the profile names a 0700 script that runs `lakepass --config PATH`.

use std::time::Duration;

use lakepass_tests::*;

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

    let helper =
        home.profile_value("devstack-dev-helper", "databricks_cli_path").expect("a cli-helper profile");
    let helper = std::path::PathBuf::from(helper);
    assert!(helper.starts_with(home.data_dir()), "the script lives in the data dir: {}", helper.display());
    assert_eq!(mode(&helper), 0o700);
    let script = std::fs::read_to_string(&helper).unwrap();
    assert!(script.contains(&config) && script.contains("--config"), "{script}");

    // The SDK, with no LAKEPASS_CONFIG in its environment, gets a token through the script.
    let mut cmd = home.command(&python);
    cmd.arg(peers_dir().join("sdk_me.py")).arg("devstack-dev-helper");
    let mut p = Proc::spawn("python sdk_me.py devstack-dev-helper", cmd);
    p.close_stdin();
    let out = p.wait(Duration::from_secs(60)).await.success();
    assert_eq!(out.json()["userName"], USER_EMAIL, "SCIM Me through the SDK: {out:?}");
    // Plain `lakepass` on the default config knows no such workspace: the script made the difference.
    home.run(&["auth", "token", "--host", &ws_host(&ds, "dev")]).await.code(2);
}
