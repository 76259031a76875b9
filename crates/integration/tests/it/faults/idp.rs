//! Faults of the identity provider and of time: outages, JWKS trouble, rotating and revoked
//! refresh tokens, racing refreshers, and a laptop that slept.

use lakepass_devstack::{FaultKind, FaultRule, Target};
use lakepass_engine::ErrorKind;
use lakepass_engine::status::TokenState;

use super::*;

#[tokio::test]
async fn idp_down_during_refresh_keeps_the_old_token_until_expiry_then_says_so() {
    within(CASE_TIMEOUT, async {
        let f = fixture().await;
        let e = f.engine().await;
        f.sign_in(&e).await;
        let dev = ws(&e, "dev");
        let old = e.live_token(&dev).await.unwrap();
        f.faults().idp_down(true);
        f.sleep_laptop(3500); // due, 100 s before expiry; the IdP JWT is stale too
        e.tick().await;
        let s = status(&e, "dev");
        assert_eq!(s.state, TokenState::Failed, "a failed refresh, not a lost session: {s:?}");
        assert!(s.error_message().unwrap().contains("identity provider"), "{s:?}");
        let served = e.live_token(&dev).await.expect("the old token is served until it expires");
        assert_eq!(served.access_token, old.access_token);
        assert_eq!(f.file_token("dev").as_deref(), Some(old.access_token.secret()), "profile kept");
        let session = e.stored_session("devstack").await.unwrap().expect("session kept");
        assert!(session.refresh_token.is_some(), "the refresh token is not thrown away");
        // Past expiry: a clear error instead of an expired token.
        f.sleep_laptop(200);
        e.tick().await;
        let err = e.live_token(&dev).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Network, "{err}");
        let s = status(&e, "dev");
        assert_eq!((s.state, s.seconds_left(f.clock.now())), (TokenState::Failed, 0), "{s:?}");
        // The IdP comes back: the next due tick recovers without a new sign-in.
        f.faults().idp_down(false);
        f.clock.advance(60); // past the backoff of four failures (5, 10, 20, 40 s)
        e.tick().await;
        assert_eq!(state(&e, "dev"), TokenState::Fresh, "{:?}", status(&e, "dev"));
        assert_eq!(f.ds.stats().idp.refresh_failures, 0);
    })
    .await
}

/// The IdP's keys are kept between refreshes (a refresh is two round trips, not three), so a
/// JWKS outage with unchanged keys does not stop a refresh at all.
#[tokio::test]
async fn a_jwks_outage_with_unchanged_keys_does_not_stop_refreshes() {
    within(CASE_TIMEOUT, async {
        let f = fixture().await;
        let e = f.engine().await;
        f.sign_in(&e).await;
        f.faults()
            .add(FaultRule::new(Target::IdpKeys, FaultKind::Status { code: 503, retry_after_secs: None }));
        f.clock.advance(3500);
        e.tick().await;
        assert_eq!(state(&e, "dev"), TokenState::Fresh, "{:?}", status(&e, "dev"));
        assert_eq!(f.ds.stats().idp.refresh_grants, 1);
    })
    .await
}

#[tokio::test]
async fn jwks_down_while_keys_rotate_keeps_the_rotated_refresh_token() {
    // Regression: a grant with a rotating refresh token is spent the moment the IdP answers; when
    // the keys for its new id_token could not be fetched, the rotated refresh token was lost and
    // the next refresh presented the spent one, which revokes the whole family.
    within(CASE_TIMEOUT, async {
        let f = fixture().await;
        let e = f.engine().await;
        f.sign_in(&e).await;
        let spent = e.stored_session("devstack").await.unwrap().unwrap().refresh_token.unwrap();
        f.ds.rotate_signing_key().await;
        f.faults()
            .add(FaultRule::new(Target::IdpKeys, FaultKind::Status { code: 503, retry_after_secs: None }));
        f.clock.advance(3500);
        e.tick().await;
        let s = status(&e, "dev");
        assert_eq!(s.state, TokenState::Failed, "{s:?}");
        assert_eq!(s.error_kind(), Some(ErrorKind::Network), "{s:?}");
        // Each workspace's refresh spent a grant (the second with the first one's rotated token).
        let spent_grants = f.ds.stats().idp.refresh_grants;
        assert!(spent_grants >= 1, "the grant was spent");
        let kept = e.stored_session("devstack").await.unwrap().unwrap().refresh_token.unwrap();
        assert_ne!(kept, spent, "the rotated refresh token is kept");
        f.faults().clear();
        f.clock.advance(30);
        e.tick().await;
        assert_eq!(state(&e, "dev"), TokenState::Fresh);
        let stats = f.ds.stats();
        assert_eq!(
            (stats.idp.refresh_grants, stats.idp.refresh_failures),
            (spent_grants + 1, 0),
            "the kept token worked: no spent token was presented"
        );
    })
    .await
}

#[tokio::test]
async fn a_signing_key_rotation_between_refreshes_is_followed() {
    within(CASE_TIMEOUT, async {
        let f = fixture().await;
        let e = f.engine().await;
        f.sign_in(&e).await;
        let old_kid = lakepass_wire::jwt::decode_unverified(
            e.stored_session("devstack").await.unwrap().unwrap().id_token.secret(),
        )
        .unwrap()
        .kid()
        .map(String::from);
        let new_kid = f.ds.rotate_signing_key().await;
        assert_ne!(old_kid.as_deref(), Some(new_kid.as_str()));
        f.clock.advance(3500);
        e.tick().await;
        assert_eq!(state(&e, "dev"), TokenState::Fresh);
        let session = e.stored_session("devstack").await.unwrap().unwrap();
        let kid =
            lakepass_wire::jwt::decode_unverified(session.id_token.secret()).unwrap().kid().map(String::from);
        assert_eq!(kid.as_deref(), Some(new_kid.as_str()), "the new session is signed by the new key");
        let t = e.token(&ws(&e, "prod")).await.unwrap();
        assert!(accepted(&f.host("prod"), t.access_token.secret()).await);
    })
    .await
}

#[tokio::test]
async fn a_dropped_refresh_request_is_retried_without_spending_the_token() {
    within(CASE_TIMEOUT, async {
        let f = fixture().await;
        let e = f.engine().await;
        f.sign_in(&e).await;
        f.faults().add(FaultRule::new(Target::IdpToken, FaultKind::Drop).times(2));
        f.clock.advance(3500);
        e.tick().await;
        assert_eq!(state(&e, "dev"), TokenState::Fresh);
        let stats = f.ds.stats();
        assert_eq!((stats.idp.refresh_grants, stats.idp.refresh_failures), (1, 0));
    })
    .await
}

#[tokio::test]
async fn a_reset_refresh_answer_without_rotation_is_retried() {
    within(CASE_TIMEOUT, async {
        let mut knobs = setup();
        knobs.devstack.rotate_refresh_tokens = false;
        let f = Fixture::start(knobs).await;
        let e = f.engine().await;
        f.sign_in(&e).await;
        f.faults().add(FaultRule::new(Target::IdpToken, FaultKind::ResetMidBody).times(1));
        f.clock.advance(3500);
        e.tick().await;
        assert_eq!(state(&e, "dev"), TokenState::Fresh);
        assert_eq!(f.ds.stats().idp.refresh_grants, 2, "the reset answer, then the whole one");
    })
    .await
}

#[tokio::test]
async fn a_lost_refresh_answer_after_rotation_asks_for_sign_in_once_and_keeps_serving() {
    // The IdP rotated the refresh token but its answer never arrived; presenting the old one
    // again is reuse, and a strict IdP revokes the family. Nothing on our side can undo that, so
    // the promise is: one clear NeedsLogin, no hammering, the held tokens served to expiry.
    within(CASE_TIMEOUT, async {
        let f = fixture().await;
        let e = f.engine().await;
        f.sign_in(&e).await;
        let dev = ws(&e, "dev");
        let held = e.live_token(&dev).await.unwrap();
        f.faults().add(FaultRule::new(Target::IdpToken, FaultKind::LostResponse).times(1));
        f.sleep_laptop(3500);
        e.tick().await;
        let s = status(&e, "dev");
        assert_eq!(s.state, TokenState::NeedsLogin, "{s:?}");
        assert!(s.error_message().unwrap().contains("lakepass login"), "{s:?}");
        assert_eq!(e.live_token(&dev).await.unwrap().access_token, held.access_token);
        let failures = f.ds.stats().idp.refresh_failures;
        for _ in 0..5 {
            f.sleep_laptop(60);
            e.tick().await;
        }
        assert_eq!(f.ds.stats().idp.refresh_failures, failures, "no retry loop on a revoked family");
        f.sign_in(&e).await;
        assert_eq!(state(&e, "dev"), TokenState::Fresh);
    })
    .await
}

#[tokio::test]
async fn a_revoked_refresh_token_is_one_state_change_to_needs_login() {
    within(CASE_TIMEOUT, async {
        let f = fixture().await;
        let e = f.engine().await;
        f.sign_in(&e).await;
        let mut rx = e.subscribe();
        rx.borrow_and_update();
        f.ds.revoke_refresh_tokens();
        f.sleep_laptop(2 * 3600);
        e.tick().await;
        assert!(rx.has_changed().unwrap(), "the change was published");
        let snap = rx.borrow_and_update().clone();
        for w in &snap.workspaces {
            assert_eq!(w.state, TokenState::NeedsLogin, "{w:?}");
            assert!(w.error_message().unwrap().contains("lakepass login --idp devstack"), "{w:?}");
        }
        let failures = f.ds.stats().idp.refresh_failures;
        for _ in 0..4 {
            f.clock.advance(120);
            e.tick().await;
        }
        assert!(!rx.has_changed().unwrap(), "no further state change: one notification, not one per tick");
        assert_eq!(f.ds.stats().idp.refresh_failures, failures);
    })
    .await
}

#[tokio::test]
async fn a_laptop_sleeping_past_expiry_refreshes_at_once_on_wake() {
    within(CASE_TIMEOUT, async {
        let f = fixture().await;
        let e = f.engine().await;
        f.sign_in(&e).await;
        let slept_at = f.clock.now();
        f.sleep_laptop(9 * 3600);
        // What the tray shows the moment it looks, before any refresh: not "fresh".
        assert_eq!(state(&e, "dev"), TokenState::Expiring);
        let sleep = e.tick().await;
        for w in e.snapshot().workspaces {
            assert_eq!(w.state, TokenState::Fresh, "{w:?}");
            assert!(w.expires_at.unwrap() > slept_at + 9 * 3600, "{w:?}");
        }
        assert!(sleep <= lakepass_engine::engine::MAX_SLEEP, "the loop looks at the wall clock again soon");
        let stats = f.ds.stats();
        assert_eq!(stats.idp.refresh_grants, 1, "one IdP refresh for both workspaces");
        assert_eq!(
            f.file_token("prod").as_deref(),
            Some(e.token(&ws(&e, "prod")).await.unwrap().access_token.secret())
        );
    })
    .await
}

const RACE: &str = "faults::idp::rotation_racing_four_refreshers_in_two_processes_makes_one_grant";

/// The racing case's second process: an engine on the parent's home and clock, refreshing
/// `dev` and ticking once the parent says go; it prints what it got (fingerprints, no tokens).
async fn racer_in_a_second_process() {
    use crate::support::child::say;
    let home = std::env::var("LAKEPASS_IT_HOME").unwrap();
    let now: i64 = std::env::var("LAKEPASS_IT_NOW").unwrap().parse().unwrap();
    let b = crate::support::engine_at(std::path::Path::new(&home), &setup(), now).await;
    let dev = ws(&b, "dev");
    crate::support::child::ready_then_wait_for_go().await;
    let (tb, _) = tokio::join!(b.token(&dev), b.tick());
    let tb = tb.unwrap();
    say(&format!("token {}", lakepass_devstack::fingerprint(tb.access_token.secret())));
    say(&format!("state {:?}", state(&b, "dev")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_racing_four_refreshers_in_two_processes_makes_one_grant() {
    if crate::support::child::role().is_some() {
        return racer_in_a_second_process().await;
    }
    within(CASE_TIMEOUT, async {
        let f = fixture().await;
        let a = f.engine().await;
        f.sign_in(&a).await;
        // A slow IdP widens the window in which the racers overlap.
        f.faults().add(FaultRule::new(Target::IdpToken, FaultKind::Latency(800)));
        f.clock.advance(3500);
        // The second process: this test binary again, on the same home, at the same time.
        let env = [
            ("LAKEPASS_IT_HOME", f.dir.path().display().to_string()),
            ("LAKEPASS_IT_NOW", f.now().to_string()),
        ];
        let mut b = crate::support::child::Child::spawn(RACE, "racer", &env);
        b.start().await;
        let (dev, prod) = (ws(&a, "dev"), ws(&a, "prod"));
        let (ta, pa) = tokio::join!(a.token(&dev), a.token(&prod));
        let (ta, pa) = (ta.unwrap(), pa.unwrap());
        let tb = b.line("token ").await;
        assert_eq!(
            lakepass_devstack::fingerprint(ta.access_token.secret()),
            tb,
            "the loser adopts the winner's token"
        );
        assert_eq!(b.line("state ").await, "Fresh");
        b.finish().await;
        let stats = f.ds.stats();
        assert_eq!(stats.idp.refresh_grants, 1, "one grant for four racers");
        assert_eq!(stats.idp.refresh_failures, 0, "no reuse of a rotated token, so no revoked family");
        assert!(accepted(&f.host("prod"), pa.access_token.secret()).await);
        assert_eq!(state(&a, "dev"), TokenState::Fresh);
    })
    .await
}

#[tokio::test]
async fn an_idp_outage_at_startup_does_not_block_cached_tokens() {
    within(CASE_TIMEOUT, async {
        let f = fixture().await;
        let first = f.engine().await;
        f.sign_in(&first).await;
        drop(first);
        f.faults().idp_down(true);
        let e = f.engine().await; // a new process: nothing discovered yet
        let t = e.token(&ws(&e, "dev")).await.expect("a fresh cached token needs no IdP");
        assert!(accepted(&f.host("dev"), t.access_token.secret()).await);
        e.tick().await;
        assert_eq!(state(&e, "dev"), TokenState::Fresh);
    })
    .await
}

/// The refresh names the configured scopes (as MSAL does for Entra). When the config gained a
/// scope since the sign-in, the IdP refuses the wider scope with `invalid_scope` (RFC 6749 §6):
/// only a new sign-in can grant it, so that is what the engine asks for, once.
#[tokio::test]
async fn a_scope_added_after_sign_in_asks_for_a_new_sign_in() {
    within(CASE_TIMEOUT, async {
        let f = fixture().await;
        let e = f.engine().await;
        f.sign_in(&e).await;
        let config = std::fs::read_to_string(&f.paths.config).unwrap();
        // Lakepass's default scopes, and one more.
        let wider = config.replace(
            "client_id = \"lakepass-dev\"\n",
            "client_id = \"lakepass-dev\"\nscopes = [\"openid\", \"profile\", \"email\", \"offline_access\", \"groups\"]\n",
        );
        assert_ne!(config, wider, "the fixture's config has the IdP's client_id line");
        std::fs::write(&f.paths.config, wider).unwrap();
        let e = f.engine().await;
        f.sleep_laptop(2 * 3600);
        e.tick().await;
        for w in &e.snapshot().workspaces {
            assert_eq!(w.state, TokenState::NeedsLogin, "{w:?}");
            assert!(w.error_message().unwrap().contains("lakepass login --idp devstack"), "{w:?}");
        }
        let idp = f.ds.stats().idp;
        // At most one refused refresh per workspace in that tick, as for a revoked token; none
        // after it.
        assert!(idp.refresh_grants == 0 && (1..=2).contains(&idp.refresh_failures), "{idp:?}");
        f.clock.advance(120);
        e.tick().await;
        assert_eq!(f.ds.stats().idp, idp, "no retry loop against a refused scope");
        // The old config's scopes still refresh: the refused request spent nothing.
        std::fs::write(&f.paths.config, config).unwrap();
        let e = f.engine().await;
        e.tick().await;
        assert_eq!(state(&e, "dev"), TokenState::Fresh, "{:?}", status(&e, "dev"));
    })
    .await
}
