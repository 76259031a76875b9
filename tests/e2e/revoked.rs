//! A revoked refresh token: once the cached tokens expire, only a new sign-in can help, and
//! every command must say so (exit 3, "run `lakepass login`") instead of retrying forever.

use std::time::Duration;

use lakepass_tests::*;

const TTL: Duration = Duration::from_secs(4);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_refresh_token_means_needs_login() {
    let ds = start_devstack(TTL).await;
    let home = TempHome::new();
    home.write_devstack_config(&ds);
    home.login(&[]).await;
    let status = home.run(&["status", "--json"]).await.success().json();
    let expires_at = status["workspaces"][0]["expires_at"].as_str().expect("expires_at").to_string();
    assert_eq!(status["workspaces"][0]["state"], "fresh", "{status:#}");

    ds.revoke_refresh_tokens();
    tokio::time::sleep(TTL + Duration::from_secs(2)).await;

    let out = home.run(&["token", "-w", "dev"]).await;
    assert_eq!(out.code, Some(3), "sign-in needed: {out:?}");
    assert_eq!(out.stdout, "", "no token printed");
    assert!(out.stderr.contains("lakepass login"), "says what to do: {out:?}");
    assert!(out.stderr.contains("refresh token was refused"), "says why: {out:?}");
    let stats = ds.stats();
    assert_eq!(stats.idp.refresh_grants, 0, "{stats:?}");
    assert!(stats.idp.refresh_failures >= 1, "the revoked token was tried once: {stats:?}");

    // What the failing command published for other processes (the tray, `status`).
    let published: serde_json::Value =
        serde_json::from_slice(&std::fs::read(home.data_dir().join("state.json")).expect("state.json"))
            .expect("state.json is JSON");
    let dev = &published["workspaces"][0];
    assert_eq!(
        (dev["name"].as_str(), dev["state"].as_str()),
        (Some("dev"), Some("needs_login")),
        "{published:#}"
    );
    assert!(
        dev["last_error"]["message"].as_str().is_some_and(|e| e.contains("lakepass login")),
        "{published:#}"
    );
    assert_eq!(dev["last_error"]["kind"], "session_ended", "{published:#}");

    // A later `status` shows the workspace needs a sign-in, with the reason.
    let status = home.run(&["status", "--json"]).await.success().json();
    let dev = &status["workspaces"][0];
    assert_eq!(dev["name"], "dev");
    assert_eq!(dev["expires_at"].as_str(), Some(expires_at.as_str()), "{status:#}");
    assert_eq!(dev["seconds_left"], 0, "{status:#}");
    assert!(
        dev["last_error"].as_str().is_some_and(|e| e.contains("lakepass login")),
        "status carries the last error: {status:#}"
    );
    assert_eq!(dev["error_kind"], "session_ended", "{status:#}");
    assert_eq!(dev["state"], "needs_login", "{status:#}");

    // `token --check` never refreshes: nothing valid is cached.
    home.run(&["token", "--check", "-w", "dev"]).await.code(6);
    // Signing in again fixes it.
    home.login(&[]).await;
    let out = home.run(&["token", "--raw", "-w", "dev"]).await.success();
    let (code, _) = scim_me(&ws_host(&ds, "dev"), out.stdout.trim()).await;
    assert_eq!(code, 200);
}
