//! `lakepass daemon` keeps tokens fresh: with 5-second lifetimes it must re-exchange several
//! times, refresh the IdP session (rotating refresh token) on the way, keep every new token
//! working, and stop cleanly on SIGTERM.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use lakepass_tests::*;

const TTL: Duration = Duration::from_secs(5);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemon_rotates_tokens_and_refreshes_the_idp_session() {
    let ds = start_devstack(TTL).await;
    let home = TempHome::new();
    home.write_devstack_config(&ds);
    let dev = ws_host(&ds, "dev");
    home.login(&[]).await;
    let after_login = ds.stats();
    let first = home.profile_value("devstack-dev", "token").expect("dev token after login");

    let daemon = home.spawn(&["daemon"]);
    // Watch ~/.databrickscfg: every distinct dev token, each checked against the workspace
    // while it is new.
    let mut seen = vec![fingerprint(&first)];
    let mut accepted = 0;
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Some(t) = home.profile_value("devstack-dev", "token")
            && !seen.contains(&fingerprint(&t))
        {
            seen.push(fingerprint(&t));
            let (code, me) = scim_me(&dev, &t).await;
            assert_eq!(code, 200, "a freshly written token works: {me}");
            accepted += 1;
        }
        let stats = ds.stats();
        if seen.len() >= 4 && stats.idp.refresh_grants >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    let before_stop = ds.stats();
    daemon.sigterm();
    let out = daemon.wait(Duration::from_secs(10)).await;
    assert_eq!(out.code, Some(0), "the daemon exits 0 on SIGTERM: {out:?}");
    assert!(out.stderr.contains("lakepass daemon: stopped"), "{out:?}");

    let distinct: BTreeSet<_> = seen.iter().collect();
    assert!(
        distinct.len() >= 3,
        "the dev token in ~/.databrickscfg changed at least twice in 20 s (saw {} tokens): {out:?}",
        distinct.len()
    );
    assert_eq!(accepted, seen.len() - 1, "every new token was accepted by SCIM Me");
    assert!(
        before_stop.idp.refresh_grants >= 1,
        "the IdP session was refreshed with its refresh token: {before_stop:?}"
    );
    assert_eq!(
        before_stop.idp.refresh_failures, 0,
        "no refresh was refused (a reused rotating refresh token revokes the family): {before_stop:?}"
    );
    for ws in ["dev", "prod"] {
        assert!(
            before_stop.workspaces[ws].exchanges_ok >= after_login.workspaces[ws].exchanges_ok + 2,
            "the daemon re-exchanged for {ws}: {before_stop:?}"
        );
        assert_eq!(before_stop.workspaces[ws].exchanges_failed, 0, "{before_stop:?}");
    }

    // The first token has expired by now: the workspace refuses it, so rotation was needed.
    let (code, _) = scim_me(&dev, &first).await;
    assert_eq!(code, 401, "the login-time token expired after {TTL:?}");
    // And the last one written still works after the daemon stopped.
    let last = home.profile_value("devstack-dev", "token").expect("dev token");
    let (code, me) = scim_me(&dev, &last).await;
    assert_eq!(code, 200, "{me}");
    assert_eq!(me["userName"], USER_EMAIL);
}
