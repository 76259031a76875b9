//! The one fixture of the engine, live-service, socket, fault, doctor, roles and admin tests:
//! an in-process devstack, a temp home whose config points at it, and engines over that home.
//!
//! Why one: each suite used to carry its own copy (devstack, home, config text, sign-in), and
//! they drifted. What differs between suites is a handful of knobs, so those are fields of
//! [`Setup`] (devstack options, config, HTTP retries, engine options, clock, vault), and the
//! rest is shared: [`Fixture`] builds engines and moves clocks, `browser` plays the user.

#![allow(dead_code)]

mod browser;
pub mod child;
mod fixture;
pub mod live;

pub use fixture::{Fixture, Setup, engine_at};

use std::sync::Arc;
use std::time::Duration;

use lakepass_devstack::{ClientConfigOptions, Devstack, DevstackOptions};
use lakepass_wire::http::RetryPolicy;

/// Whether a test may pass without testing: the e2e tests' one rule (`lakepass_tests::may_skip`:
/// under CI, `CI` set to anything but empty, `0` or `false`, nothing may skip), so the two
/// suites cannot drift apart again.
pub use lakepass_tests::may_skip;

/// The email the devstack approves sign-ins as, unless a test says otherwise.
pub const USER: &str = "ada@example.com";

/// 4 attempts, 50 ms doubling, Retry-After capped at 2 s: retries fast enough for tests.
pub const RETRY_4_FAST: RetryPolicy = RetryPolicy {
    max_attempts: 4,
    base_delay: Duration::from_millis(50),
    max_delay: Duration::from_secs(2),
    ..RetryPolicy::DEFAULT
};

/// A devstack on its own, for tests that set it up (policies, roles) before writing homes:
/// auto-approving `auto_approve`, or showing its login page when `None`.
pub async fn devstack(auto_approve: Option<&str>) -> Arc<Devstack> {
    let ds = lakepass_devstack::start(DevstackOptions {
        auto_approve: auto_approve.map(String::from),
        ..Default::default()
    })
    .await
    .expect("devstack starts");
    Arc::new(ds)
}

/// The doctor, roles and admin tests' home on `ds`: `dev` names the devstack's account id,
/// `extra` TOML is appended, engines retry twice within 200 ms.
pub fn home(ds: &Arc<Devstack>, extra: &str) -> Fixture {
    Fixture::over(
        ds.clone(),
        Setup {
            config: ClientConfigOptions {
                account_id_on: vec!["dev".into()],
                extra: extra.into(),
                ..Default::default()
            },
            retry: Some(RetryPolicy {
                max_attempts: 2,
                base_delay: Duration::from_millis(20),
                max_delay: Duration::from_millis(200),
                ..RetryPolicy::DEFAULT
            }),
            ..Setup::default()
        },
    )
}

/// Held by every test that touches the keyring crate's process-wide credential store (the
/// vanishing-keyring fault replaces it; the real-keyring test needs the real one). Under
/// `cargo test` all tests share this one process; under nextest each has its own anyway.
pub async fn keyring_store_lock() -> tokio::sync::MutexGuard<'static, ()> {
    static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    LOCK.lock().await
}
