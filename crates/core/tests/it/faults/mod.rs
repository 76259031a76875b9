//! The fault suite: Lakepass against a devstack that misbehaves on demand, one named case per
//! fault, each asserting what the user sees and that nothing is lost.
//!
//! Why a suite of its own: a credential tool is trusted only if it keeps working when the
//! network, the IdP, the keyring, the disk or the laptop misbehaves, and each of those promises
//! needs a test that could fail. Faults come over the wire where they can (devstack rules:
//! latency, 429 + Retry-After, 5xx, resets mid-body, slow-loris bodies, lost responses, skewed
//! server clocks, JWKS rotation, revoked and rotating refresh tokens); the rest use real
//! mechanisms in this process (a 64 KiB tmpfs for a full disk, the keyring crate's own
//! credential-store hook for a keyring that vanishes, a second engine for a second process).
//! Every case has its own timeout ([`CASE_TIMEOUT`] unless it says otherwise) and a temp home.
//! `scripts/faults.sh` counts the cases that passed: "faults survived".

mod files;
mod idp;
mod live;
mod network;
mod vault;

use std::sync::Arc;
use std::time::Duration;

use lakepass_core::config::{Config, Workspace};
use lakepass_core::engine::{Engine, EngineOptions};
use lakepass_core::http::{Http, RetryPolicy};
use lakepass_core::status::{TokenState, WorkspaceStatus};
use lakepass_core::store::Store;
use lakepass_core::{Clock, ManualClock, Paths, SystemClock, Vault, VaultKind};
use lakepass_devstack::{Devstack, DevstackOptions, FaultKind, FaultRule, Faults, Target};

/// The longest any one case may take, unless it names its own limit.
pub(crate) const CASE_TIMEOUT: Duration = Duration::from_secs(120);

/// Runs one case's body under its own deadline, so a hang fails that case, not the suite.
pub(crate) async fn within<T>(limit: Duration, case: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(limit, case).await.unwrap_or_else(|_| panic!("the case did not finish in {limit:?}"))
}

/// A devstack, a temp home whose config points at it, and the engines' shared manual clock.
pub(crate) struct Fixture {
    pub(crate) ds: Devstack,
    _dir: tempfile::TempDir,
    pub(crate) paths: Paths,
    pub(crate) clock: ManualClock,
}

/// Knobs of one fixture.
#[derive(Clone, Copy)]
pub(crate) struct Setup {
    pub(crate) ttl: u64,
    pub(crate) rotate_refresh_tokens: bool,
}

impl Default for Setup {
    fn default() -> Self {
        Setup { ttl: 3600, rotate_refresh_tokens: true }
    }
}

pub(crate) async fn fixture() -> Fixture {
    fixture_with(Setup::default()).await
}

pub(crate) async fn fixture_with(setup: Setup) -> Fixture {
    let ds = lakepass_devstack::start(DevstackOptions {
        auto_approve: Some("ada@example.com".into()),
        idp_token_ttl: Duration::from_secs(setup.ttl),
        workspace_token_ttl: Duration::from_secs(setup.ttl),
        rotate_refresh_tokens: setup.rotate_refresh_tokens,
        ..Default::default()
    })
    .await
    .expect("devstack starts");
    let dir = tempfile::tempdir().unwrap();
    let paths = Paths::under(dir.path());
    let info = ds.info();
    let text = format!(
        "active = \"dev\"\n[idp.devstack]\nissuer = \"{}\"\nclient_id = \"{}\"\n\n\
         [workspace.dev]\nidp = \"devstack\"\nhost = \"{}\"\n\n\
         [workspace.prod]\nidp = \"devstack\"\nhost = \"{}\"\n",
        info.issuer, info.client_id, info.workspaces[0].host, info.workspaces[1].host
    );
    std::fs::write(&paths.config, text).unwrap();
    Fixture { ds, _dir: dir, paths, clock: ManualClock::new(SystemClock.now()) }
}

/// Retries fast enough for tests: 4 attempts, 50 ms doubling, Retry-After capped at 2 s.
pub(crate) fn test_http() -> Http {
    Http::with_policy(RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(50),
        max_delay: Duration::from_secs(2),
    })
}

impl Fixture {
    /// An engine over this home with the file vault (a second call is a second process).
    pub(crate) async fn engine(&self) -> Engine {
        let vault = Vault::open(&self.paths.data_dir, Some(VaultKind::File)).await.unwrap();
        self.engine_with(vault).await
    }

    pub(crate) async fn engine_with(&self, vault: Vault) -> Engine {
        let config = Config::load(&self.paths.config).unwrap();
        let opts = EngineOptions { retry_base: Duration::from_secs(5), ..Default::default() };
        let e = Engine::new(
            config,
            self.paths.clone(),
            Store::new(vault),
            test_http(),
            Arc::new(self.clock.clone()),
            opts,
        )
        .unwrap();
        e.load().await.unwrap();
        e
    }

    /// Signs in through the devstack's auto-approving IdP; every workspace gets its token.
    pub(crate) async fn login(&self, engine: &Engine) {
        let (tx, rx) = tokio::sync::oneshot::channel::<url::Url>();
        let browser = tokio::spawn(async move {
            let resp = reqwest::get(rx.await.unwrap()).await.unwrap();
            resp.status()
        });
        let (_, failures) = engine
            .login("devstack", move |u| tx.send(u.clone()).unwrap(), Duration::from_secs(20))
            .await
            .expect("login succeeds");
        assert!(failures.is_empty(), "{failures:?}");
        assert!(browser.await.unwrap().is_success());
    }

    /// Moves the engines' clock and the devstack's clock forward together: a laptop asleep.
    pub(crate) fn sleep_laptop(&self, secs: i64) {
        self.clock.advance(secs);
        self.ds.faults().add(FaultRule::new(Target::Any, FaultKind::ClockSkew(secs)));
    }

    pub(crate) fn faults(&self) -> Faults {
        self.ds.faults()
    }

    pub(crate) fn host(&self, ws: &str) -> String {
        self.ds.info().workspaces.iter().find(|w| w.name == ws).unwrap().host.clone()
    }

    /// The token `~/.databrickscfg` holds for `profile`.
    pub(crate) fn file_token(&self, profile: &str) -> Option<String> {
        let text = std::fs::read_to_string(&self.paths.databrickscfg).ok()?;
        lakepass_core::databrickscfg::read_profile(&text, profile)
            .unwrap()?
            .into_iter()
            .find(|(k, _)| k == "token")
            .map(|(_, v)| v)
    }
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
