//! Faults on the wire between Lakepass and a workspace: rate limits, 5xx, resets, slow and
//! stalled bodies, latency, and errors that must not be retried.

use lakepass_engine::ErrorKind;
use std::time::{Duration, Instant};

use lakepass_devstack::{FaultKind, FaultRule, Target};
use lakepass_engine::status::TokenState;
use lakepass_wire::http::RetryPolicy;

use super::*;

fn status_rule(code: u16, retry_after: Option<u64>) -> FaultKind {
    FaultKind::Status { code, retry_after_secs: retry_after }
}

#[tokio::test]
async fn a_429_storm_backs_off_honours_retry_after_and_never_hot_loops() {
    within(CASE_TIMEOUT, async {
        let f = fixture().await;
        let e = f.engine().await;
        f.sign_in(&e).await;
        let budget = 1000;
        f.faults().add(
            FaultRule::new(Target::WorkspaceToken, status_rule(429, Some(1)))
                .on_workspace("dev")
                .times(budget),
        );
        f.clock.advance(3500); // dev and prod are due
        let started = Instant::now();
        e.tick().await;
        assert_eq!(consumed(&f.faults(), budget, Target::WorkspaceToken), 4, "one round = 4 attempts");
        assert!(started.elapsed() >= Duration::from_secs(3), "Retry-After: 1 honoured between attempts");
        let dev = status(&e, "dev");
        assert_eq!(dev.state, TokenState::Failed, "{dev:?}");
        assert!(dev.error_message().unwrap().contains("429"), "{dev:?}");
        assert_eq!(state(&e, "prod"), TokenState::Fresh, "the storm on dev does not touch prod");
        // No hot loop: ticking again before the backoff is over makes no request at all.
        for _ in 0..20 {
            e.tick().await;
        }
        assert_eq!(consumed(&f.faults(), budget, Target::WorkspaceToken), 4, "no request while backing off");
        f.clock.advance(5);
        e.tick().await;
        assert_eq!(
            consumed(&f.faults(), budget, Target::WorkspaceToken),
            8,
            "one more round after the backoff"
        );
        // The storm passes: the next due tick recovers, and the old token was never dropped.
        f.faults().clear();
        f.clock.advance(10);
        e.tick().await;
        assert_eq!(state(&e, "dev"), TokenState::Fresh);
        let t = e.token(&ws(&e, "dev")).await.unwrap();
        assert_eq!(f.file_token("dev").as_deref(), Some(t.access_token.secret()));
    })
    .await
}

#[tokio::test]
async fn a_retry_after_of_an_hour_is_capped_not_obeyed_blindly() {
    within(CASE_TIMEOUT, async {
        let f = fixture().await;
        let e = f.engine().await;
        f.sign_in(&e).await;
        f.faults().add(FaultRule::new(Target::WorkspaceToken, status_rule(429, Some(3600))).times(1));
        let started = Instant::now();
        let t = e.refresh_workspace(&ws(&e, "dev"), true).await.expect("second attempt succeeds");
        assert!(started.elapsed() < Duration::from_secs(10), "waited {:?}", started.elapsed());
        assert!(accepted(&f.host("dev"), t.access_token.secret()).await);
    })
    .await
}

#[tokio::test]
async fn every_5xx_is_transient_and_retried_to_success() {
    within(CASE_TIMEOUT, async {
        let f = fixture().await;
        let e = f.engine().await;
        f.sign_in(&e).await;
        for code in [500, 502, 503, 504] {
            f.faults().add(FaultRule::new(Target::WorkspaceToken, status_rule(code, None)).times(1));
            let t = e.refresh_workspace(&ws(&e, "dev"), true).await.unwrap_or_else(|e| panic!("{code}: {e}"));
            assert!(f.faults().rules().is_empty(), "{code} was met exactly once");
            assert_eq!(f.file_token("dev").as_deref(), Some(t.access_token.secret()), "{code}");
        }
        assert_eq!(state(&e, "dev"), TokenState::Fresh);
    })
    .await
}

#[tokio::test]
async fn a_401_from_the_workspace_is_not_retried_and_the_old_token_stays() {
    within(CASE_TIMEOUT, async {
        let f = fixture().await;
        let e = f.engine().await;
        f.sign_in(&e).await;
        let before = f.file_token("dev").unwrap();
        f.faults().add(FaultRule::new(Target::WorkspaceToken, status_rule(401, None)).times(5));
        let err = e.refresh_workspace(&ws(&e, "dev"), true).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::FederationRejected, "{err}");
        assert_eq!(consumed(&f.faults(), 5, Target::WorkspaceToken), 1, "a 401 is final: one request");
        assert_eq!(f.file_token("dev").as_deref(), Some(before.as_str()), "nothing lost");
        assert_eq!(state(&e, "dev"), TokenState::Failed);
    })
    .await
}

#[tokio::test]
async fn a_connection_reset_mid_exchange_is_retried_and_no_half_token_is_kept() {
    within(CASE_TIMEOUT, async {
        let f = fixture().await;
        let e = f.engine().await;
        f.sign_in(&e).await;
        let before = f.ds.stats().workspaces["dev"].exchanges_ok;
        f.faults().add(FaultRule::new(Target::WorkspaceToken, FaultKind::ResetMidBody).times(1));
        let t = e.refresh_workspace(&ws(&e, "dev"), true).await.expect("the retry succeeds");
        assert!(f.faults().rules().is_empty(), "the reset happened");
        assert_eq!(f.ds.stats().workspaces["dev"].exchanges_ok, before + 2, "reset answer, then a whole one");
        assert!(accepted(&f.host("dev"), t.access_token.secret()).await, "the kept token is whole");
        assert_eq!(f.file_token("dev").as_deref(), Some(t.access_token.secret()));
    })
    .await
}

#[tokio::test]
async fn a_dropped_connection_before_any_answer_is_retried() {
    within(CASE_TIMEOUT, async {
        let f = fixture().await;
        let e = f.engine().await;
        f.sign_in(&e).await;
        f.faults().add(FaultRule::new(Target::WorkspaceToken, FaultKind::Drop).times(2));
        let t = e.refresh_workspace(&ws(&e, "dev"), true).await.expect("third attempt succeeds");
        assert!(f.faults().rules().is_empty());
        assert!(accepted(&f.host("dev"), t.access_token.secret()).await);
    })
    .await
}

#[tokio::test]
async fn a_slow_loris_token_response_is_read_to_the_end() {
    within(CASE_TIMEOUT, async {
        let f = fixture().await;
        let e = f.engine().await;
        f.sign_in(&e).await;
        f.faults().add(FaultRule::new(Target::WorkspaceToken, FaultKind::SlowBody(2500)).times(1));
        let before = f.ds.stats().workspaces["dev"].exchanges_ok;
        let started = Instant::now();
        let t = e.refresh_workspace(&ws(&e, "dev"), true).await.expect("a slow answer is still an answer");
        assert!(started.elapsed() >= Duration::from_secs(2), "the body really dribbled");
        // Exactly one exchange: the dribbled answer itself was read, not a retry after a timeout.
        assert_eq!(f.ds.stats().workspaces["dev"].exchanges_ok, before + 1, "one exchange, read to the end");
        assert!(f.faults().rules().is_empty(), "the slow rule was used");
        assert!(accepted(&f.host("dev"), t.access_token.secret()).await);
    })
    .await
}

#[tokio::test]
async fn a_stalled_response_times_out_and_the_retry_succeeds() {
    // The attempt's 20 s timeout ends the stall, inside the request's 30 s deadline: this case
    // needs more time.
    within(Duration::from_secs(150), async {
        let f = fixture().await;
        let e = f.engine().await;
        f.sign_in(&e).await;
        f.faults().add(FaultRule::new(Target::WorkspaceToken, FaultKind::SlowBody(600_000)).times(1));
        let started = Instant::now();
        let t =
            e.refresh_workspace(&ws(&e, "dev"), true).await.expect("the retry after the timeout succeeds");
        let took = started.elapsed();
        assert!(took >= Duration::from_secs(15) && took < Duration::from_secs(30), "took {took:?}");
        assert!(accepted(&f.host("dev"), t.access_token.secret()).await);
    })
    .await
}

/// A workspace sends its headers, then stalls the body on every attempt (the review's 123 s
/// `refresh`: 4 attempts × a 30 s timeout). The request has one deadline, retries included:
/// here 3 s, each attempt at most 2 s, so a 2 s attempt, a retry in the second left, and a
/// clear error that the server is stalled.
#[tokio::test]
async fn a_body_stalled_on_every_attempt_ends_at_the_requests_one_deadline() {
    within(CASE_TIMEOUT, async {
        let policy = RetryPolicy {
            deadline: Duration::from_secs(3),
            attempt_timeout: Duration::from_secs(2),
            ..crate::support::RETRY_4_FAST
        };
        let f = Fixture::start(Setup { retry: Some(policy), ..setup() }).await;
        let e = f.engine().await;
        f.sign_in(&e).await;
        let budget = 10;
        f.faults().add(
            FaultRule::new(Target::WorkspaceToken, FaultKind::SlowBody(600_000))
                .on_workspace("dev")
                .times(budget),
        );
        let started = Instant::now();
        let err = e.refresh_workspace(&ws(&e, "dev"), true).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Network, "{err}");
        assert!(err.to_string().contains("no complete answer within 3 s (2 attempt(s))"), "{err}");
        assert_eq!(
            consumed(&f.faults(), budget, Target::WorkspaceToken),
            2,
            "a 2 s attempt, then the second left"
        );
        assert!(
            started.elapsed() < Duration::from_secs(6),
            "within twice the deadline: {:?}",
            started.elapsed()
        );
        assert_eq!(status(&e, "dev").state, TokenState::Failed);
    })
    .await
}

#[tokio::test]
async fn latency_below_the_timeout_is_waited_out() {
    within(CASE_TIMEOUT, async {
        let f = fixture().await;
        let e = f.engine().await;
        f.sign_in(&e).await;
        f.faults().add(FaultRule::new(Target::Any, FaultKind::Latency(1500)).times(3));
        let started = Instant::now();
        let t = e.refresh_workspace(&ws(&e, "prod"), true).await.expect("slow, but fine");
        let took = started.elapsed();
        // Each request the refresh made waited 1.5 s, and was waited out, not given up and retried.
        let delayed = consumed(&f.faults(), 3, Target::Any);
        assert!(delayed >= 1, "the latency reached the refresh");
        assert!(
            took >= Duration::from_millis(1500) * delayed,
            "{delayed} delayed requests took only {took:?}"
        );
        assert!(took < Duration::from_millis(1500) * delayed + Duration::from_secs(5), "took {took:?}");
        assert!(accepted(&f.host("prod"), t.access_token.secret()).await);
        assert_eq!(state(&e, "prod"), TokenState::Fresh);
    })
    .await
}

#[tokio::test]
async fn a_workspace_outage_keeps_serving_the_held_token_then_recovers() {
    within(CASE_TIMEOUT, async {
        let f = fixture().await;
        let e = f.engine().await;
        f.sign_in(&e).await;
        let dev = ws(&e, "dev");
        let held = e.live_token(&dev).await.unwrap();
        f.faults().add(FaultRule::new(Target::WorkspaceToken, status_rule(503, None)).on_workspace("dev"));
        f.clock.advance(3400); // due, 200 s before expiry
        let served = e.live_token(&dev).await.expect("the held token is served through the outage");
        assert_eq!(served.access_token, held.access_token);
        e.tick().await;
        let s = status(&e, "dev");
        assert_eq!(s.state, TokenState::Failed, "{s:?}");
        assert!(s.error_message().unwrap().contains("503"), "{s:?}");
        assert_eq!(f.file_token("dev").as_deref(), Some(held.access_token.secret()), "old profile kept");
        f.faults().clear();
        f.clock.advance(10);
        e.tick().await;
        assert_eq!(state(&e, "dev"), TokenState::Fresh);
        assert_ne!(e.live_token(&dev).await.unwrap().access_token, held.access_token);
    })
    .await
}

#[tokio::test]
async fn a_server_clock_half_an_hour_behind_does_not_shift_our_schedule() {
    within(CASE_TIMEOUT, async {
        let f = fixture().await;
        f.faults().add(FaultRule::new(Target::Any, FaultKind::ClockSkew(-1800)));
        let e = f.engine().await;
        f.sign_in(&e).await;
        let s = status(&e, "dev");
        assert_eq!(s.state, TokenState::Fresh, "{s:?}");
        let left = s.expires_at.unwrap() - f.clock.now();
        assert!(
            (3590..=3600).contains(&left),
            "expiry comes from expires_in on our clock, not the server's Date: {left}"
        );
    })
    .await
}

#[tokio::test]
async fn a_server_clock_half_an_hour_ahead_still_signs_in_and_refreshes() {
    within(CASE_TIMEOUT, async {
        let f = fixture().await;
        f.faults().add(FaultRule::new(Target::Any, FaultKind::ClockSkew(1800)));
        let e = f.engine().await;
        f.sign_in(&e).await;
        assert_eq!(state(&e, "dev"), TokenState::Fresh);
        f.clock.advance(3500);
        e.tick().await;
        assert_eq!(state(&e, "dev"), TokenState::Fresh);
        assert_eq!(f.ds.stats().idp.refresh_failures, 0);
    })
    .await
}
