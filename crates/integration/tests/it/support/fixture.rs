//! [`Setup`], the knobs, and [`Fixture`], a devstack with a temp home and engines over it.

use std::sync::Arc;

use lakepass_config::Config;
use lakepass_devstack::{
    ClientConfigOptions, Devstack, DevstackOptions, FaultKind, FaultRule, Faults, Target,
};
use lakepass_engine::engine::{Engine, EngineOptions};
use lakepass_engine::store::Store;
use lakepass_store::{Paths, Vault, VaultKind};
use lakepass_wire::http::{Http, RetryPolicy};
use lakepass_wire::{Clock, ManualClock, SharedClock, SystemClock};

use super::USER;

/// What one fixture is made of. Start from `Setup::default()` and change what the suite needs.
#[derive(Debug, Clone)]
pub struct Setup {
    /// The devstack [`Fixture::start`] starts; by default it approves every sign-in as [`USER`].
    pub devstack: DevstackOptions,
    /// The home's `config.toml` ([`Devstack::client_config`]): by default IdP `devstack` and
    /// workspaces `dev` (active) and `prod`.
    pub config: ClientConfigOptions,
    /// The engines' HTTP retries; `None` is [`Http::new`]'s policy.
    pub retry: Option<RetryPolicy>,
    /// The engines' options.
    pub engine: EngineOptions,
    /// Engines run on the fixture's manual clock (`true`, the default) or the system clock.
    pub manual_clock: bool,
    /// The vault [`Fixture::engine`] opens.
    pub vault: VaultKind,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            devstack: DevstackOptions { auto_approve: Some(USER.into()), ..Default::default() },
            config: ClientConfigOptions::default(),
            retry: None,
            engine: EngineOptions::default(),
            manual_clock: true,
            vault: VaultKind::File,
        }
    }
}

/// A devstack (shared when several homes use one), a temp home whose config points at it, and
/// the engines' manual clock.
pub struct Fixture {
    /// The devstack: its info, faults, stats and policies.
    pub ds: Arc<Devstack>,
    /// The temp home; deleted on drop.
    pub dir: tempfile::TempDir,
    /// Lakepass's paths inside the temp home.
    pub paths: Paths,
    /// Starts at the real time; moves only when a test says so.
    pub clock: ManualClock,
    setup: Setup,
}

impl Fixture {
    /// Starts the devstack of `setup` and writes a home pointing at it.
    pub async fn start(setup: Setup) -> Fixture {
        let ds = lakepass_devstack::start(setup.devstack.clone()).await.expect("devstack starts");
        Fixture::over(Arc::new(ds), setup)
    }

    /// A new home pointing at the running `ds` (`setup.devstack` is not used).
    pub fn over(ds: Arc<Devstack>, setup: Setup) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::under(dir.path());
        std::fs::write(&paths.config, ds.client_config(&setup.config)).unwrap();
        Fixture { ds, dir, paths, clock: ManualClock::new(SystemClock.now()), setup }
    }

    /// An engine over this home as [`Setup`] says (a second call is a second engine in this
    /// process, sharing vault and locks; a real second process is `support::child`).
    pub async fn engine(&self) -> Engine {
        self.engine_on(self.vault().await).await
    }

    /// Like [`Fixture::engine`], on `vault`.
    pub async fn engine_on(&self, vault: Vault) -> Engine {
        self.build(vault, self.http(), self.engine_clock(), self.setup.engine.clone()).await
    }

    /// An engine over this home with its own HTTP client, clock and options.
    pub async fn engine_with(&self, http: Http, clock: SharedClock, opts: EngineOptions) -> Engine {
        self.build(self.vault().await, http, clock, opts).await
    }

    async fn build(&self, vault: Vault, http: Http, clock: SharedClock, opts: EngineOptions) -> Engine {
        build(&self.paths, vault, http, clock, opts).await
    }

    /// An engine that has signed in: every workspace holds its first token.
    pub async fn signed_in_engine(&self) -> Engine {
        let e = self.engine().await;
        self.sign_in(&e).await;
        e
    }

    /// The vault of [`Setup::vault`] in this home.
    pub async fn vault(&self) -> Vault {
        Vault::open(&self.paths.data_dir, Some(self.setup.vault)).await.unwrap()
    }

    /// A store over [`Fixture::vault`].
    pub async fn store(&self) -> Store {
        Store::new(self.vault().await)
    }

    fn http(&self) -> Http {
        http_of(&self.setup)
    }

    fn engine_clock(&self) -> SharedClock {
        if self.setup.manual_clock { self.manual_clock() } else { Arc::new(SystemClock) }
    }

    /// The manual clock, as an engine's clock.
    pub fn manual_clock(&self) -> SharedClock {
        Arc::new(self.clock.clone())
    }

    /// The manual clock's time.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// Moves the engines' clock and the devstack's clock forward together: a laptop asleep.
    pub fn sleep_laptop(&self, secs: i64) {
        self.clock.advance(secs);
        self.ds.faults().add(FaultRule::new(Target::Any, FaultKind::ClockSkew(secs)));
    }

    /// The devstack's fault-injection handle.
    pub fn faults(&self) -> Faults {
        self.ds.faults()
    }

    /// The URL of workspace `ws`.
    pub fn host(&self, ws: &str) -> String {
        self.ds.info().workspaces.iter().find(|w| w.name == ws).unwrap().host.clone()
    }

    /// The token `~/.databrickscfg` holds for `profile`.
    pub fn file_token(&self, profile: &str) -> Option<String> {
        let text = std::fs::read_to_string(&self.paths.databrickscfg).ok()?;
        lakepass_store::databrickscfg::read_profile(&text, profile)
            .unwrap()?
            .into_iter()
            .find(|(k, _)| k == "token")
            .map(|(_, v)| v)
    }
}

fn http_of(setup: &Setup) -> Http {
    match setup.retry {
        Some(policy) => Http::with_policy(policy),
        None => Http::new(),
    }
}

async fn build(paths: &Paths, vault: Vault, http: Http, clock: SharedClock, opts: EngineOptions) -> Engine {
    let config = Config::load(&paths.config).unwrap();
    let e = Engine::new(config, paths.clone(), Store::new(vault), http, clock, opts).unwrap();
    e.load().await.unwrap();
    e
}

/// An engine over the home at `home` (a [`Fixture`]'s `dir`, written by another process) as
/// `setup` says, on a manual clock at `now`: what a second process builds (`support::child`).
pub async fn engine_at(home: &std::path::Path, setup: &Setup, now: i64) -> Engine {
    let paths = Paths::under(home);
    let vault = Vault::open(&paths.data_dir, Some(setup.vault)).await.unwrap();
    let clock: SharedClock = Arc::new(ManualClock::new(now));
    build(&paths, vault, http_of(setup), clock, setup.engine.clone()).await
}
