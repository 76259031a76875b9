//! The fault suite: Lakepass against a devstack that misbehaves on demand, one named case per
//! fault, each asserting what the user sees and that nothing is lost.
//!
//! Why a suite of its own: a credential tool is trusted only if it keeps working when the
//! network, the IdP, the keyring, the disk or the laptop misbehaves, and each of those promises
//! needs a test that could fail. Faults come over the wire where they can (devstack rules:
//! latency, 429 + Retry-After, 5xx, resets mid-body, slow-loris bodies, lost responses, skewed
//! server clocks, JWKS rotation, revoked and rotating refresh tokens); the rest use real
//! mechanisms in this process (a 64 KiB tmpfs for a full disk, the keyring crate's own
//! credential-store hook for a keyring that vanishes) or real second processes (this test
//! binary run again, `support::child`, and util-linux `flock` in a script), because `lock.rs`
//! serialises one process's holders before `flock` and only a second process reaches the file
//! lock.
//! Every case has its own timeout ([`CASE_TIMEOUT`] unless it says otherwise) and a temp home.
//! `scripts/faults.sh` counts the cases that passed: "faults survived".

mod files;
mod hostile;
mod idp;
mod live;
mod local;
mod mcp_scope;
mod network;
mod proxy;
mod session;
mod vault;

use std::time::Duration;

use lakepass_config::Workspace;
use lakepass_devstack::{Faults, Target};
use lakepass_engine::engine::{Engine, EngineOptions};
use lakepass_engine::status::{TokenState, WorkspaceStatus};
use lakepass_wire::Clock as _;

pub(crate) use crate::support::{Fixture, RETRY_4_FAST, Setup};

/// The longest any one case may take, unless it names its own limit.
pub(crate) const CASE_TIMEOUT: Duration = Duration::from_secs(120);

/// Runs one case's body under its own deadline, so a hang fails that case, not the suite.
pub(crate) async fn within<T>(limit: Duration, case: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(limit, case).await.unwrap_or_else(|_| panic!("the case did not finish in {limit:?}"))
}

/// The suite's knobs: tokens live an hour and refresh tokens rotate (the devstack's defaults),
/// engines retry 4 times fast and back off from 5 s, on the manual clock, with the file vault.
pub(crate) fn setup() -> Setup {
    Setup {
        retry: Some(RETRY_4_FAST),
        engine: EngineOptions { retry_base: Duration::from_secs(5), ..Default::default() },
        ..Setup::default()
    }
}

/// A fixture with the suite's knobs.
pub(crate) async fn fixture() -> Fixture {
    Fixture::start(setup()).await
}

pub(crate) fn ws(e: &Engine, name: &str) -> Workspace {
    e.config().workspace(Some(name)).unwrap()
}

pub(crate) fn status(e: &Engine, name: &str) -> WorkspaceStatus {
    e.snapshot().workspaces.into_iter().find(|w| w.name == name).unwrap()
}

pub(crate) fn state(e: &Engine, name: &str) -> TokenState {
    status(e, name).state
}

/// How many requests a counted rule (added with `times(budget)`) has hit so far.
pub(crate) fn consumed(faults: &Faults, budget: u32, target: Target) -> u32 {
    let left: u32 = faults.rules().iter().filter(|r| r.target == target).map(|r| r.times).sum();
    budget - left
}

/// Does the workspace accept this token? (`GET /api/2.0/preview/scim/v2/Me`)
pub(crate) async fn accepted(host: &str, token: &str) -> bool {
    reqwest::Client::new()
        .get(format!("{host}/api/2.0/preview/scim/v2/Me"))
        .bearer_auth(token)
        .send()
        .await
        .map(|r| r.status().is_success())
        .unwrap_or(false)
}
