//! `workspace remove` and `idp remove` take away everything Lakepass made for what they remove
//! (its own `~/.databrickscfg` profiles and its vault entries), keep what the user wrote, and say
//! what they removed.

use std::time::Duration;

use lakepass_tests::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workspace_and_idp_remove_take_away_lakepass_profiles_and_secrets_only() {
    let ds = start_devstack(Duration::from_secs(600)).await;
    let home = TempHome::new();
    let port = free_port();
    home.write_config(&format!("{}\n[serve]\nport = {port}\n", devstack_config(&ds)));
    // The user's own profile that happens to have the -live name of `prod`: never Lakepass's.
    std::fs::write(home.databrickscfg(), "[devstack-prod-live]\nhost = https://mine.example\n").unwrap();
    home.login(&[]).await;
    let daemon = home.spawn(&["daemon"]);
    wait_for("the dev -live profile", Duration::from_secs(30), || {
        home.profile_value("devstack-dev-live", "metadata_service_url")
    })
    .await;
    // Killed, not stopped: a daemon stopped by SIGTERM removes its -live profiles itself (issue
    // 23, L2; e2e `faults_process::faults_sigterm_to_the_daemon_removes_its_live_profiles`), so
    // only a crash leaves one for `workspace remove` to take away (a deliberate change).
    let killed = std::process::Command::new("kill").args(["-KILL", &daemon.pid().to_string()]).status();
    assert!(killed.expect("run kill(1)").success());
    daemon.wait(Duration::from_secs(20)).await;
    assert!(home.profile_value("devstack-dev-live", "metadata_service_url").is_some(), "left by the crash");
    let dev = ws_host(&ds, "dev");
    let of = |host: &str| {
        let host = host.trim_end_matches('/');
        home.vault_keys().into_iter().filter(|k| k.trim_end_matches('/').ends_with(host)).collect::<Vec<_>>()
    };
    // The token; the live service's path secrets are made per bind and never stored.
    assert_eq!(of(&dev).len(), 1, "a token: {:?}", home.vault_keys());

    let out = home.run(&["workspace", "remove", "dev"]).await.success();
    for said in ["profile `devstack-dev`", "profile `devstack-dev-live`", "its token"] {
        assert!(out.stderr.contains(said), "says it removed {said}: {out:?}");
    }
    assert!(of(&dev).is_empty(), "no vault entry of dev is left: {:?}", home.vault_keys());
    assert_eq!(home.profile_value("devstack-dev", "host"), None);
    assert_eq!(home.profile_value("devstack-dev-live", "host"), None);
    assert!(home.profile_value("devstack-prod", "host").is_some(), "prod is untouched");

    home.run(&["workspace", "remove", "prod"]).await.success();
    assert_eq!(home.profile_value("devstack-prod-live", "host").as_deref(), Some("https://mine.example"));
    let out = home.run(&["idp", "remove", "devstack"]).await.success();
    assert!(out.stderr.contains("sign-in session"), "{out:?}");
    assert!(home.vault_keys().is_empty(), "nothing is left in the vault: {:?}", home.vault_keys());
}
