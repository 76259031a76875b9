//! The real Databricks Python SDK (PyPI `databricks-sdk`) reads the profiles Lakepass wrote
//! to `$DATABRICKS_CONFIG_FILE` and is recognised by the workspace.

use std::time::Duration;

use lakepass_tests::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn databricks_sdk_uses_the_profiles_lakepass_wrote() {
    let Some(python) = peer_python() else { return };
    let ds = start_devstack(Duration::from_secs(3600)).await;
    let home = TempHome::new();
    home.write_devstack_config(&ds);
    home.login(&[]).await;

    for ws in ["dev", "prod"] {
        let host = ws_host(&ds, ws);
        let token = home.profile_value(&format!("devstack-{ws}"), "token").expect("profile token");
        let mut cmd = home.command(&python);
        cmd.arg(peers_dir().join("sdk_me.py")).arg(format!("devstack-{ws}"));
        let mut p = Proc::spawn(format!("python sdk_me.py devstack-{ws}"), cmd);
        p.close_stdin();
        let out = p.wait(Duration::from_secs(60)).await.success();
        let me: serde_json::Value = out.json();
        assert_eq!(me["userName"], USER_EMAIL, "SCIM Me through the SDK: {out:?}");
        assert_eq!(me["host"].as_str(), Some(host.as_str()), "{out:?}");
        let seen = &ds.stats().workspaces[ws].seen_token_fingerprints;
        assert!(seen.contains(&fingerprint(&token)), "the SDK sent the profile's token to {ws}");
    }
}
