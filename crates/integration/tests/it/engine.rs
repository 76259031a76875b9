//! The engine against a real devstack over loopback: sign-in, exchange, wake from sleep,
//! one IdP refresh per session, racing refreshers, revocation, 429 storms, isolation.

use std::time::Duration;

use lakepass_devstack::{DevstackOptions, FaultKind, FaultRule, Target, fingerprint};
use lakepass_engine::engine::{Engine, EngineOptions};
use lakepass_engine::status::TokenState;
use lakepass_store::databrickscfg;

use crate::support::{Fixture, RETRY_4_FAST, Setup};

/// Tokens that live `ttl` seconds; engines retry 4 times fast and back off from 5 s.
async fn fixture(ttl: u64) -> Fixture {
    let setup = Setup::default();
    Fixture::start(Setup {
        devstack: DevstackOptions {
            idp_token_ttl: Duration::from_secs(ttl),
            workspace_token_ttl: Duration::from_secs(ttl),
            ..setup.devstack
        },
        retry: Some(RETRY_4_FAST),
        engine: EngineOptions { retry_base: Duration::from_secs(5), ..Default::default() },
        ..setup
    })
    .await
}

/// Signs in as the user, with a refresh token, and the browser sees the success page.
async fn login(f: &Fixture, engine: &Engine) {
    let (session, page) = f.sign_in(engine).await;
    assert_eq!(session.username.as_deref(), Some("ada@example.com"));
    assert!(session.refresh_token.is_some());
    assert!(page.contains("You can close this tab"), "{page}");
}

fn state(e: &Engine, ws: &str) -> TokenState {
    e.snapshot().workspaces.iter().find(|w| w.name == ws).unwrap().state
}

#[tokio::test]
async fn login_makes_both_workspaces_fresh_and_writes_their_profiles() {
    let f = fixture(3600).await;
    let e = f.engine().await;
    assert_eq!(state(&e, "dev"), TokenState::NeedsLogin);
    login(&f, &e).await;
    assert_eq!(state(&e, "dev"), TokenState::Fresh);
    assert_eq!(state(&e, "prod"), TokenState::Fresh);
    let stats = f.ds.stats();
    assert_eq!(stats.idp.authorization_code_grants, 1);
    assert_eq!(stats.workspaces["dev"].exchanges_ok, 1);
    assert_eq!(stats.workspaces["prod"].exchanges_ok, 1);
    let ini = std::fs::read_to_string(&f.paths.databrickscfg).unwrap();
    let dev = databrickscfg::read_profile(&ini, "dev").unwrap().expect("dev profile");
    let dev_token = e.token(&e.config().workspace(Some("dev")).unwrap()).await.unwrap();
    assert!(dev.contains(&("host".into(), f.ds.info().workspaces[0].host.clone())));
    assert!(dev.contains(&("token".into(), dev_token.access_token.secret().to_string())));
    assert!(databrickscfg::read_profile(&ini, "prod").unwrap().is_some());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&f.paths.databrickscfg).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    // A cached, fresh token is answered without another exchange.
    e.token(&e.config().workspace(Some("dev")).unwrap()).await.unwrap();
    assert_eq!(f.ds.stats().workspaces["dev"].exchanges_ok, 1);
}

#[tokio::test]
async fn waking_after_a_night_refreshes_at_once_with_one_idp_refresh_for_all_workspaces() {
    let f = fixture(3600).await;
    let e = f.engine().await;
    login(&f, &e).await;
    let before = e.snapshot();
    f.sleep_laptop(8 * 3600);
    // Every token is long expired by the wall clock: the next tick refreshes them, no waiting.
    let sleep = e.tick().await;
    let after = e.snapshot();
    for (b, a) in before.workspaces.iter().zip(&after.workspaces) {
        assert_eq!(a.state, TokenState::Fresh, "{a:?}");
        // A token a whole night newer. An exchanged token never outlives its subject JWT, so the
        // wall-clock seconds between the IdP's answer and the exchange (a loaded machine) may
        // shorten it by a few seconds: that is not what this test is about.
        assert!(a.expires_at.unwrap() >= b.expires_at.unwrap() + 8 * 3600 - 5, "{b:?} → {a:?}");
    }
    let stats = f.ds.stats();
    assert_eq!(stats.idp.refresh_grants, 1, "one IdP refresh serves both workspaces");
    assert_eq!(stats.workspaces["dev"].exchanges_ok, 2);
    assert_eq!(stats.workspaces["prod"].exchanges_ok, 2);
    assert!(sleep <= lakepass_engine::engine::MAX_SLEEP);
    // Nothing is due now: another tick makes no request.
    e.tick().await;
    assert_eq!(f.ds.stats().workspaces["dev"].exchanges_ok, 2);
}

#[tokio::test]
async fn racing_refreshers_make_one_refresh_and_adopt_the_winners_token() {
    let f = fixture(3600).await;
    let a = f.engine().await;
    login(&f, &a).await;
    // A second engine in this process, sharing vault and locks; the same race between two real
    // processes is `faults::idp::rotation_racing_four_refreshers_in_two_processes_makes_one_grant`.
    let b = f.engine().await;
    f.sleep_laptop(2 * 3600);
    let dev = a.config().workspace(Some("dev")).unwrap();
    let (ta, tb) = tokio::join!(a.token(&dev), b.token(&dev));
    let (ta, tb) = (ta.unwrap(), tb.unwrap());
    assert_eq!(ta.access_token, tb.access_token, "the loser adopts the winner's token");
    let stats = f.ds.stats();
    assert_eq!(stats.idp.refresh_grants, 1);
    assert_eq!(stats.idp.refresh_failures, 0, "no refresh-token reuse, so no revoked family");
    assert_eq!(stats.workspaces["dev"].exchanges_ok, 2);
}

#[tokio::test]
async fn a_revoked_refresh_token_needs_login_and_is_not_hammered() {
    let f = fixture(3600).await;
    let e = f.engine().await;
    login(&f, &e).await;
    f.ds.revoke_refresh_tokens();
    f.sleep_laptop(2 * 3600);
    e.tick().await;
    let snap = e.snapshot();
    for w in &snap.workspaces {
        assert_eq!(w.state, TokenState::NeedsLogin, "{w:?}");
        assert!(w.error_message().unwrap().contains("lakepass login"), "{w:?}");
    }
    let failures = f.ds.stats().idp.refresh_failures;
    assert!(failures >= 1);
    for _ in 0..3 {
        e.tick().await;
    }
    assert_eq!(f.ds.stats().idp.refresh_failures, failures, "no retry loop against a revoked session");
    // Signing in again clears it.
    login(&f, &e).await;
    assert_eq!(state(&e, "prod"), TokenState::Fresh);
}

#[tokio::test]
async fn a_429_storm_is_retried_with_retry_after_and_then_succeeds() {
    let f = fixture(3600).await;
    let e = f.engine().await;
    login(&f, &e).await;
    f.ds.faults().add(
        FaultRule::new(Target::WorkspaceToken, FaultKind::Status { code: 429, retry_after_secs: Some(1) })
            .on_workspace("dev")
            .times(2),
    );
    let dev = e.config().workspace(Some("dev")).unwrap();
    let started = std::time::Instant::now();
    let t = e.refresh_workspace(&dev, true).await.expect("third attempt succeeds");
    assert!(started.elapsed() >= Duration::from_secs(2), "Retry-After honoured twice");
    assert!(f.ds.faults().rules().is_empty(), "both 429s were consumed: exactly 3 requests");
    assert_eq!(t.host.as_str(), f.ds.info().workspaces[0].host);
}

#[tokio::test]
async fn a_token_minted_for_dev_is_never_sent_to_prod() {
    let f = fixture(3600).await;
    let e = f.engine().await;
    login(&f, &e).await;
    let dev = e.config().workspace(Some("dev")).unwrap();
    let prod = e.config().workspace(Some("prod")).unwrap();
    let dt = e.token(&dev).await.unwrap();
    let pt = e.token(&prod).await.unwrap();
    assert_ne!(dt.access_token, pt.access_token);
    assert_eq!(pt.host, prod.host);
    let seen_at = |ws: &str| f.ds.stats().workspaces[ws].seen_token_fingerprints.clone();
    // What prod has seen after sign-in and both tokens: the exchanges' subject token, not dev's.
    let before = seen_at("prod");
    assert!(!before.is_empty(), "the exchange presented the IdP token to prod");
    assert!(!before.contains(&fingerprint(dt.access_token.secret())), "dev's token reached prod");
    // More of the engine's own work: both workspaces refresh.
    let dt2 = e.refresh_workspace(&dev, true).await.unwrap();
    let pt2 = e.refresh_workspace(&prod, true).await.unwrap();
    let after = seen_at("prod");
    for t in [&dt, &dt2] {
        assert!(
            !after.contains(&fingerprint(t.access_token.secret())),
            "the engine sent dev's token to prod"
        );
    }
    for t in [&pt, &pt2] {
        assert!(!seen_at("dev").contains(&fingerprint(t.access_token.secret())), "prod's token reached dev");
    }
    // prod refuses dev's token outright, and its record would have shown a leak: the probe is
    // recorded.
    let resp = reqwest::Client::new()
        .get(format!("{}/api/2.0/preview/scim/v2/Me", prod.host))
        .bearer_auth(dt.access_token.secret())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert!(
        seen_at("prod").contains(&fingerprint(dt.access_token.secret())),
        "prod records what it is shown"
    );
    drop(f.dir);
}

#[tokio::test]
async fn a_sign_in_from_another_process_clears_needs_login_without_a_restart() {
    let f = fixture(3600).await;
    let daemon = f.engine().await;
    login(&f, &daemon).await;
    f.ds.revoke_refresh_tokens();
    f.sleep_laptop(2 * 3600);
    daemon.tick().await;
    assert_eq!(state(&daemon, "dev"), TokenState::NeedsLogin);
    f.clock.advance(1);
    let cli = f.engine().await; // `lakepass login` in a terminal
    login(&f, &cli).await;
    let exchanges = f.ds.stats().workspaces["dev"].exchanges_ok;
    daemon.tick().await;
    assert_eq!(state(&daemon, "dev"), TokenState::Fresh);
    assert_eq!(state(&daemon, "prod"), TokenState::Fresh);
    // The daemon adopted the tokens the sign-in exchanged instead of exchanging again.
    assert_eq!(f.ds.stats().workspaces["dev"].exchanges_ok, exchanges);
}

/// Issue 11 point 4: Databricks caps an exchanged token at its subject JWT's remaining life, so
/// with five-minute IdP tokens (Keycloak's default) and one-hour workspace tokens, the engine
/// must refresh the IdP session before exchanging a JWT that has aged. Through many refreshes,
/// scheduled and forced (`lakepass refresh` mid-life), every token handed out was minted from
/// a nearly fresh JWT: at least 80% of its five minutes, never a two-minute token.
#[tokio::test]
async fn five_minute_idp_tokens_never_mint_short_workspace_tokens() {
    const IDP_TTL: i64 = 300;
    let setup = Setup::default();
    let f = Fixture::start(Setup {
        devstack: DevstackOptions {
            idp_token_ttl: Duration::from_secs(IDP_TTL as u64),
            workspace_token_ttl: Duration::from_secs(3600),
            ..setup.devstack
        },
        retry: Some(RETRY_4_FAST),
        ..setup
    })
    .await;
    let e = f.engine().await;
    login(&f, &e).await;
    let dev = e.config().workspace(Some("dev")).unwrap();
    let prod = e.config().workspace(Some("prod")).unwrap();
    let mut minted = std::collections::HashSet::new();
    for step in 0..30 {
        f.sleep_laptop(37);
        e.tick().await;
        let mut handed = vec![e.live_token(&dev).await.unwrap(), e.token(&prod).await.unwrap()];
        if step % 3 == 1 {
            handed.push(e.refresh_workspace(&prod, true).await.unwrap());
        }
        for t in handed {
            let lifetime = t.expires_at - t.issued_at;
            // 80% of the JWT's life, less a few seconds of wall-clock drift between the
            // devstack's clock and the engine's manual one.
            assert!(lifetime >= IDP_TTL * 4 / 5 - 10, "step {step}: a {lifetime} s token");
            assert!(lifetime <= IDP_TTL + 10, "step {step}: a token outlived its JWT: {lifetime} s");
            assert!(t.expires_at - f.now() > 45, "step {step}: handed out a dying token");
            minted.insert(t.access_token.secret().to_string());
        }
    }
    let stats = f.ds.stats();
    assert!(minted.len() >= 8, "several refreshes happened: {} tokens", minted.len());
    assert!(stats.idp.refresh_grants >= 4, "the IdP session was refreshed: {stats:?}");
}

/// Two workspaces on one host share a token (it is keyed by the host that minted it), but each
/// has its own `~/.databrickscfg` profile, and both are written. Regression: a workspace added
/// after sign-in on the host of another adopted that one's token and its profile was never
/// written (found by the dashboard's WebDriver check against `~/.databrickscfg`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workspace_added_on_a_signed_in_host_gets_its_profile() {
    let f = fixture(3600).await;
    let e = f.engine().await;
    login(&f, &e).await;
    drop(e);
    // The dashboard adds `twin` on dev's host; the engine is rebuilt over the new config.
    let text = std::fs::read_to_string(&f.paths.config).unwrap();
    let twin =
        format!("\n[workspace.twin]\nidp = \"devstack\"\nhost = \"{}\"\nprofile = \"twin\"\n", f.host("dev"));
    std::fs::write(&f.paths.config, text + &twin).unwrap();
    let e = f.engine().await;
    let opts = lakepass_engine::DaemonOptions { socket: false, live_service: false, ..Default::default() };
    let daemon = lakepass_engine::Daemon::start(e.clone(), opts).await.unwrap();
    assert_eq!(state(&e, "twin"), TokenState::Fresh);
    daemon.shutdown().await;
    let ini = std::fs::read_to_string(&f.paths.databrickscfg).unwrap();
    let token = |p: &str| {
        databrickscfg::read_profile(&ini, p)
            .unwrap()
            .unwrap_or_else(|| panic!("no [{p}] in {ini}"))
            .into_iter()
            .find(|(k, _)| k == "token")
            .map(|(_, v)| v)
    };
    assert!(token("dev").is_some());
    assert_eq!(token("twin"), token("dev"), "one host, one token, two profiles");
    assert_eq!(f.ds.stats().workspaces["dev"].exchanges_ok, 1, "the twin adopted dev's token");
}

/// OIDC Core §12.2 lets an IdP answer a refresh without an id_token (Entra does when the refresh
/// names no `openid`; the devstack's client can be set so). The engine copes: the rotated
/// refresh token and the new access token are kept; a workspace exchanging the access token
/// goes on; one exchanging the id_token asks for a sign-in once, saying why, without asking the
/// IdP again and again; and a new sign-in mends it.
#[tokio::test]
async fn a_refresh_without_an_id_token_keeps_the_session_and_asks_only_id_token_workspaces_to_sign_in() {
    let setup = Setup::default();
    let ds =
        lakepass_devstack::start(DevstackOptions { id_token_on_refresh: false, ..setup.devstack.clone() })
            .await
            .unwrap();
    // prod trusts the IdP's access token (audience `api://lakepass-dev`) and exchanges that.
    let issuer = ds.info().issuer.clone();
    ds.add_federation_policy(
        "prod",
        lakepass_devstack::FederationPolicy::new(issuer, vec!["api://lakepass-dev".into()]),
    );
    let config =
        lakepass_devstack::ClientConfigOptions { access_token_on: vec!["prod".into()], ..Default::default() };
    let f = Fixture::over(
        std::sync::Arc::new(ds),
        Setup {
            config,
            retry: Some(RETRY_4_FAST),
            engine: EngineOptions { retry_base: Duration::from_secs(5), ..Default::default() },
            ..setup
        },
    );
    let e = f.engine().await;
    login(&f, &e).await;
    let signed_in = e.stored_session("devstack").await.unwrap().unwrap();
    assert_eq!(signed_in.kept_id_token_received_at, None);

    f.sleep_laptop(3500); // both tokens due, the IdP's tokens stale
    e.tick().await;
    let stats = f.ds.stats();
    assert_eq!((stats.idp.refresh_grants, stats.idp.refresh_failures), (1, 0), "one refresh for both");
    let dev = e.snapshot().workspaces.into_iter().find(|w| w.name == "dev").unwrap();
    assert_eq!(dev.state, TokenState::NeedsLogin, "{dev:?}");
    assert_eq!(dev.error_kind(), Some(lakepass_engine::ErrorKind::NeedsLogin), "{dev:?}");
    assert!(dev.error_message().unwrap().contains("without a new id_token"), "{dev:?}");
    assert_eq!(state(&e, "prod"), TokenState::Fresh, "the access token was exchanged");
    let kept = e.stored_session("devstack").await.unwrap().unwrap();
    assert_eq!(kept.kept_id_token_received_at, Some(signed_in.refreshed_at));
    assert_eq!(kept.id_token.secret(), signed_in.id_token.secret(), "the old id_token stays");
    assert_ne!(
        kept.refresh_token.as_ref().unwrap().secret(),
        signed_in.refresh_token.as_ref().unwrap().secret(),
        "the rotated refresh token is kept"
    );
    assert_ne!(
        kept.access_token.as_ref().unwrap().secret(),
        signed_in.access_token.as_ref().unwrap().secret()
    );

    // The doctor names it for dev (decided on the kept id_token, not on the error's words) and
    // shows the access-token set-up that avoids hourly sign-ins.
    let dev_ws = e.config().workspace(Some("dev")).unwrap();
    let report = lakepass_doctor::diagnose(&e, &dev_ws, &Default::default()).await;
    let broken = report.failure().expect("the session is the broken link");
    assert_eq!(broken.id, lakepass_doctor::StepId::Session, "{report:#?}");
    assert!(
        matches!(&broken.problem, Some(lakepass_doctor::Problem::IdTokenNotRenewed { idp, .. }) if idp == "devstack"),
        "{report:#?}"
    );
    assert!(broken.fix.as_deref().unwrap().contains("--token access_token --resource"), "{report:#?}");
    assert_eq!(f.ds.stats().idp.refresh_grants, 1, "the doctor did not ask the IdP again");

    // Later passes neither ask the IdP again for dev nor lose its state.
    for _ in 0..3 {
        f.clock.advance(60);
        e.tick().await;
    }
    assert_eq!(f.ds.stats().idp.refresh_grants, 1, "dev does not hammer the IdP");
    assert_eq!(state(&e, "dev"), TokenState::NeedsLogin);

    // prod's next refresh presents the rotated refresh token, which works.
    f.sleep_laptop(3500);
    e.tick().await;
    let stats = f.ds.stats();
    assert_eq!((stats.idp.refresh_grants, stats.idp.refresh_failures), (2, 0));
    assert_eq!(state(&e, "prod"), TokenState::Fresh);

    // A new sign-in brings a new id_token, and dev is fresh again.
    f.clock.advance(1);
    login(&f, &e).await;
    assert_eq!(state(&e, "dev"), TokenState::Fresh, "{:?}", e.snapshot());
    assert_eq!(e.stored_session("devstack").await.unwrap().unwrap().kept_id_token_received_at, None);
}

/// The held token is answered up to the second before its refresh is due and replaced at that
/// second, by `token` (the CLI's path) and `live_token` (the servers' path) alike; and when a
/// refresh fails, a held token is served only while it has more than 30 s left. Boundaries by
/// the second, on the manual clock: cargo-mutants showed `<` and `<=` here were not told apart.
#[tokio::test]
async fn a_held_token_is_answered_until_the_second_its_refresh_is_due() {
    let f = fixture(3600).await;
    let e = f.engine().await;
    login(&f, &e).await;
    let (dev, prod) =
        (e.config().workspace(Some("dev")).unwrap(), e.config().workspace(Some("prod")).unwrap());
    let exchanges = |ws: &str| f.ds.stats().workspaces[ws].exchanges_ok;
    let first_dev = e.live_token(&dev).await.unwrap();
    let first_prod = e.token(&prod).await.unwrap();
    let due = lakepass_engine::engine::refresh_due_at(&first_dev)
        .min(lakepass_engine::engine::refresh_due_at(&first_prod));

    f.clock.advance(due - 1 - f.now());
    let secret = |t: &lakepass_wire::exchange::WorkspaceToken| t.access_token.secret().to_string();
    assert_eq!(
        secret(&e.live_token(&dev).await.unwrap()),
        secret(&first_dev),
        "live_token replaced a token not due"
    );
    assert_eq!(secret(&e.token(&prod).await.unwrap()), secret(&first_prod), "token replaced a token not due");
    assert_eq!((exchanges("dev"), exchanges("prod")), (1, 1), "a token not yet due was exchanged again");

    // Each exactly at its own due second (the earlier first): replaced.
    let (dev_due, prod_due) = (
        lakepass_engine::engine::refresh_due_at(&first_dev),
        lakepass_engine::engine::refresh_due_at(&first_prod),
    );
    let mut order = [("dev", dev_due), ("prod", prod_due)];
    order.sort_by_key(|o| o.1);
    for (ws, at) in order {
        f.clock.advance(at - f.now());
        if ws == "dev" {
            assert_ne!(
                secret(&e.live_token(&dev).await.unwrap()),
                secret(&first_dev),
                "live_token kept a due token"
            );
        } else {
            assert_ne!(secret(&e.token(&prod).await.unwrap()), secret(&first_prod), "token kept a due token");
        }
        assert_eq!(exchanges(ws), 2, "{ws} at its due second");
    }

    // A failing refresh: the held token is served with 31 s left, not with 30.
    let held = e.live_token(&dev).await.unwrap();
    f.ds.faults()
        .add(FaultRule::new(Target::WorkspaceToken, FaultKind::Status { code: 400, retry_after_secs: None }));
    f.clock.advance(held.expires_at - 31 - f.now());
    assert_eq!(secret(&e.live_token(&dev).await.expect("held token with 31 s left")), secret(&held));
    f.clock.advance(1);
    assert!(
        e.live_token(&dev).await.is_err(),
        "a held token with 30 s left was served through a failed refresh"
    );
}

/// Many workspaces due at once, refreshed by one pass in waves of a few (the vault,
/// `~/.databrickscfg` and `state.json` writes of workspaces finishing together are merged):
/// afterwards every workspace's token is the one in the vault file, in its profile and in
/// `state.json`, for a fresh reader, and one IdP refresh served them all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_workspaces_due_together_each_land_in_the_vault_profile_and_state_file() {
    let n = 24;
    let setup = Setup::default();
    let ds = lakepass_devstack::start(DevstackOptions { extra_workspaces: n, ..setup.devstack.clone() })
        .await
        .unwrap();
    let names: Vec<String> =
        ds.info().workspaces.iter().filter(|w| w.name.starts_with("ws")).map(|w| w.name.clone()).collect();
    assert_eq!(names.len(), n);
    let f = Fixture::over(
        std::sync::Arc::new(ds),
        Setup {
            config: lakepass_devstack::ClientConfigOptions {
                workspaces: names.clone(),
                ..Default::default()
            },
            engine: EngineOptions { concurrency: 5, ..Default::default() },
            ..setup
        },
    );
    let e = f.engine().await;
    login(&f, &e).await;
    let before = f.ds.stats();
    f.sleep_laptop(8 * 3600);
    e.tick().await;
    let stats = f.ds.stats();
    assert_eq!(stats.idp.refresh_grants - before.idp.refresh_grants, 1, "one IdP refresh for all");
    let store = f.store().await; // a fresh reader of the vault file
    let states = lakepass_engine::sink::read_state_file(&f.paths.state_file());
    for ws in e.workspaces() {
        assert_eq!(state(&e, &ws.name), TokenState::Fresh, "{}", ws.name);
        assert_eq!(stats.workspaces[&ws.name].exchanges_ok - before.workspaces[&ws.name].exchanges_ok, 1);
        let held = e.token(ws).await.unwrap();
        let stored = store.workspace_token(ws).await.unwrap().expect("in the vault");
        assert_eq!(stored.access_token, held.access_token, "{}: vault", ws.name);
        assert!(stored.expires_at > f.now(), "{}: the vault holds the new token", ws.name);
        let profile = f.file_token(&ws.profile).expect("a profile");
        assert_eq!(profile, held.access_token.secret(), "{}: ~/.databrickscfg", ws.name);
        assert_eq!(states[&ws.name].expires_at, Some(held.expires_at), "{}: state.json", ws.name);
    }
}
