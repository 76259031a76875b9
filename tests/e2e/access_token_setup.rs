//! An IdP that never renews the id_token on refresh (OIDC Core §12.2 allows it), set up the way
//! the README says, with the CLI alone: `idp add --resource` (RFC 8707: the access token's
//! audience), `workspace add --token access_token --account-host`. The config then has the
//! fields, a sign-in and an IdP refresh (which brings no id_token) keep the access-token
//! workspace exchanging, and the doctor tells the id-token workspace why it needs a sign-in and
//! which set-up avoids it.

use std::time::Duration;

use lakepass_devstack::{DevstackOptions, FederationPolicy};
use lakepass_tests::*;

/// The audience the federation policy expects of the access token.
const RESOURCE: &str = "api://lakepass-e2e-databricks";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_access_token_exchange_is_set_up_from_the_cli_and_survives_a_refresh_without_id_token() {
    // IdP tokens live 5 s, so a refresh is due a second after each sign-in (IdP JWTs go stale
    // after a fifth of their life); the IdP answers refreshes without an id_token.
    let ds = lakepass_devstack::start(DevstackOptions {
        auto_approve: Some(USER_EMAIL.to_string()),
        idp_token_ttl: Duration::from_secs(5),
        id_token_on_refresh: false,
        ..DevstackOptions::default()
    })
    .await
    .expect("start the devstack");
    let info = ds.info().clone();
    ds.add_federation_policy("dev", FederationPolicy::new(&info.issuer, vec![RESOURCE.into()]));
    let home = TempHome::new();

    // The default scopes include `offline_access`, so the IdP issues a refresh token.
    let added = home
        .run(&["idp", "add", "devstack", "--issuer", &info.issuer, "--client-id", &info.client_id])
        .await
        .success();
    assert!(added.stderr.contains("http://127.0.0.1/callback"), "{added:?}");
    let dev = ws_host(&ds, "dev");
    let out = home
        .run(&[
            "workspace",
            "add",
            "dev",
            "--host",
            &dev,
            "--token",
            "access_token",
            "--resource",
            RESOURCE,
            "--account-host",
            &info.account_host,
        ])
        .await
        .success();
    assert!(!out.stderr.contains("Note:"), "the resource is set, so no hint: {out:?}");
    home.run(&["workspace", "add", "prod", "--host", &ws_host(&ds, "prod")]).await.success();
    let config = std::fs::read_to_string(home.config_path()).unwrap();
    let dev_table =
        config.split("[workspace.dev]").nth(1).and_then(|t| t.split("\n[").next()).unwrap_or_default();
    assert!(dev_table.contains("token = \"access_token\""), "{config}");
    assert!(dev_table.contains(&format!("account_host = \"{}\"", info.account_host)), "{config}");
    assert!(config.contains(&format!("auth_params = {{ resource = \"{RESOURCE}\" }}")), "{config}");
    let prod_table = config.split("[workspace.prod]").nth(1).unwrap_or_default();
    assert!(prod_table.contains("token = \"id_token\""), "{config}");

    // The sign-in asks for the resource; the access token carries it as `aud`, which only the
    // policy added above accepts.
    home.login(&[]).await;
    let token = home.run(&["token", "--raw", "-w", "dev"]).await.success().stdout.trim().to_string();
    assert_eq!(scim_me(&dev, &token).await.0, 200);

    // Refresh until the IdP session itself was refreshed (it is stale a second after sign-in):
    // the refresh brought no id_token, and dev still exchanges.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let refreshed = loop {
        let run = home.run(&["refresh", "-w", "dev"]).await;
        if ds.stats().idp.refresh_grants >= 1 {
            break run;
        }
        assert!(std::time::Instant::now() < deadline, "no IdP refresh within 30 s: {run:?}");
    };
    refreshed.success();
    let after = home.run(&["token", "--raw", "-w", "dev"]).await.success().stdout.trim().to_string();
    assert_ne!(after, token, "a new exchange with the refreshed access token");
    assert_eq!(scim_me(&dev, &after).await.0, 200);

    // prod exchanges the id_token, which the refresh did not renew: the doctor says so and
    // shows the set-up that avoids hourly sign-ins. While the kept id_token still has most of
    // its life that is a warning (exit 0); once it is stale, the broken link (exit 3, sign in).
    let doc = home.run(&["doctor", "-w", "prod"]).await;
    assert!(matches!(doc.code, Some(0 | 3)), "{doc:?}");
    assert!(doc.stdout.contains("refreshed the session without a new id_token"), "{doc:?}");
    assert!(doc.stdout.contains("--token access_token --resource"), "{doc:?}");
    let out = home.run(&["doctor", "-w", "prod", "--json"]).await;
    let json = out.json();
    let session = json["steps"].as_array().unwrap().iter().find(|s| s["id"] == "session").unwrap().clone();
    match session["status"].as_str() {
        Some("failed") => assert_eq!(session["problem"]["kind"], "id_token_not_renewed", "{json}"),
        Some("warning") => {
            assert!(session["detail"].as_str().unwrap().contains("without a new id_token"), "{json}")
        }
        other => panic!("the session step is {other:?}: {json}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idp_add_prints_the_redirect_uri_it_configured() {
    let home = TempHome::new();
    // A preset with a fixed port (8400), overridden: the URI printed is the configured one.
    let out = home
        .run(&[
            "idp",
            "add",
            "corp",
            "--preset",
            "okta",
            "--domain",
            "acme.okta.com",
            "--client-id",
            "c",
            "--redirect-port",
            "9123",
        ])
        .await
        .success();
    assert!(out.stderr.contains("http://127.0.0.1:9123/callback"), "{out:?}");
    assert!(!out.stderr.contains(":8400"), "not the preset's port: {out:?}");
    let text = std::fs::read_to_string(home.config_path()).unwrap();
    assert!(text.contains("redirect_port = 9123"), "{text}");
    // A resource that is not an absolute URI is refused before anything is written.
    let bad = home
        .run(&[
            "idp",
            "add",
            "x",
            "--issuer",
            "https://x.example",
            "--client-id",
            "c",
            "--resource",
            "databricks",
        ])
        .await;
    assert_eq!(bad.code, Some(2), "{bad:?}");
    assert!(!std::fs::read_to_string(home.config_path()).unwrap().contains("[idp.x]"));
}
