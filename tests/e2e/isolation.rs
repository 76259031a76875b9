//! Workspace isolation: a token minted by one workspace is never sent to another, and the
//! other refuses it anyway.

use std::time::Duration;

use lakepass_tests::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_never_cross_workspaces() {
    let ds = start_devstack(Duration::from_secs(3600)).await;
    let home = TempHome::new();
    home.write_devstack_config(&ds);
    let (dev, prod) = (ws_host(&ds, "dev"), ws_host(&ds, "prod"));
    home.login(&[]).await;

    let who_prod = home.run(&["whoami", "-w", "prod"]).await.success();
    assert!(who_prod.stdout.contains(&prod), "{who_prod:?}");
    let who_dev = home.run(&["whoami", "-w", "dev"]).await.success();
    assert!(who_dev.stdout.contains(&dev), "{who_dev:?}");
    let prod_tok = home.run(&["token", "-w", "prod"]).await.success().stdout.trim().to_string();
    let dev_tok = home.run(&["token", "-w", "dev"]).await.success().stdout.trim().to_string();
    let (dev_fp, prod_fp) = (fingerprint(&dev_tok), fingerprint(&prod_tok));
    assert_ne!(dev_fp, prod_fp);

    // What Lakepass sent, as each workspace saw it (before this test sends anything itself).
    let stats = ds.stats();
    let dev_seen = &stats.workspaces["dev"].seen_token_fingerprints;
    let prod_seen = &stats.workspaces["prod"].seen_token_fingerprints;
    assert!(dev_seen.contains(&dev_fp), "whoami -w dev sent dev's token to dev");
    assert!(prod_seen.contains(&prod_fp), "whoami -w prod sent prod's token to prod");
    assert!(!prod_seen.contains(&dev_fp), "dev's token was never sent to prod");
    assert!(!dev_seen.contains(&prod_fp), "prod's token was never sent to dev");
    assert_eq!(stats.workspaces["dev"].api_calls_unauthorized, 0, "{stats:?}");
    assert_eq!(stats.workspaces["prod"].api_calls_unauthorized, 0, "{stats:?}");

    // And the workspaces refuse each other's tokens.
    let (code, body) = scim_me(&prod, &dev_tok).await;
    assert_eq!(code, 401, "prod refuses dev's token: {body}");
    assert_eq!(body["error_code"], "UNAUTHENTICATED");
    let (code, _) = scim_me(&dev, &prod_tok).await;
    assert_eq!(code, 401, "dev refuses prod's token");
    let (code, _) = scim_me(&dev, &dev_tok).await;
    assert_eq!(code, 200, "dev accepts its own token");
}
