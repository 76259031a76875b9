//! `lakepass logout` reaches the running `lakepass daemon` over the engine socket: the daemon
//! forgets the tokens it holds in memory at once, so `lakepass token`, `lakepass auth token` and
//! the live token service refuse for that IdP instead of serving a token until it expires. A
//! later `lakepass login` in another process brings the `-live` profiles back without a restart.

use std::time::Duration;

use lakepass_tests::*;

/// What the live token service answers for `url` (the workspace's `-live` profile URL).
async fn live_status(url: &str, host: &str) -> u16 {
    http()
        .get(url)
        .header("X-Databricks-Metadata-Version", "1")
        .header("X-Databricks-Host", host)
        .send()
        .await
        .expect("the live token service answers")
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_reaches_the_running_daemon_and_a_new_login_brings_the_live_profiles_back() {
    let ds = start_devstack(Duration::from_secs(600)).await;
    let home = TempHome::new();
    let port = free_port();
    home.write_config(&format!("{}\n[serve]\nport = {port}\n", devstack_config(&ds)));
    home.login(&[]).await;
    let host = ws_host(&ds, "dev");

    let (_daemon, _) = Proc::spawn_until(
        "lakepass daemon",
        home.lakepass(&["daemon"]),
        Stream::Stderr,
        Duration::from_secs(30),
        |l| l.contains("live token service on").then_some(()),
    )
    .await;
    let url = home.profile_value("devstack-dev-live", "metadata_service_url").expect("live profile");
    assert_eq!(live_status(&url, &host).await, 200);
    home.run(&["token"]).await.success();

    let out = home.run(&["logout"]).await.success();
    assert!(out.stderr.contains("devstack-dev-live"), "the daemon's -live profiles are named: {out:?}");
    assert_eq!(home.profile_value("devstack-dev-live", "metadata_service_url"), None);

    // The daemon holds no token any more: every way of asking is refused, with "sign in" (3).
    home.run(&["token"]).await.code(3);
    home.run(&["auth", "token", "--host", &host]).await.code(3);
    assert_eq!(live_status(&url, &host).await, 401, "the live URL refuses, it does not serve a token");

    // A sign-in in another process: the daemon notices, and its -live profile comes back.
    home.login(&[]).await;
    wait_for("the -live profile to come back", Duration::from_secs(45), || {
        home.profile_value("devstack-dev-live", "metadata_service_url")
    })
    .await;
    assert_eq!(live_status(&url, &host).await, 200, "the same live URL answers again");
    home.run(&["token"]).await.success();
}

/// Issue 26 item 8: `login` tells the running daemon at once, as `logout` does. Before, the
/// daemon noticed a sign-in made in another process only at its next pass, up to 30 s later,
/// and tools using the `-live` profiles failed meanwhile. Now `login` returns only after the
/// daemon adopted the new tokens: the profile and the live URL are back when it exits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_reaches_the_running_daemon_at_once() {
    let ds = start_devstack(Duration::from_secs(600)).await;
    let home = TempHome::new();
    let port = free_port();
    home.write_config(&format!("{}\n[serve]\nport = {port}\n", devstack_config(&ds)));
    home.login(&[]).await;
    let host = ws_host(&ds, "dev");
    let (_daemon, _) = Proc::spawn_until(
        "lakepass daemon",
        home.lakepass(&["daemon"]),
        Stream::Stderr,
        Duration::from_secs(30),
        |l| l.contains("live token service on").then_some(()),
    )
    .await;
    let url = home.profile_value("devstack-dev-live", "metadata_service_url").expect("live profile");
    home.run(&["logout"]).await.success();
    assert_eq!(home.profile_value("devstack-dev-live", "metadata_service_url"), None);
    assert_eq!(live_status(&url, &host).await, 401);

    home.login(&[]).await;
    // No waiting: `login` has exited, so the daemon has already taken the sign-in.
    assert_eq!(
        home.profile_value("devstack-dev-live", "metadata_service_url").as_deref(),
        Some(url.as_str()),
        "the -live profile is back as soon as `login` returns"
    );
    assert_eq!(live_status(&url, &host).await, 200, "the live URL serves the new token at once");
}
