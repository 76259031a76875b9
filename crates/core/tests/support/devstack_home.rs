//! Shared by the engine, live-service and socket tests: an in-process devstack that approves
//! every sign-in as ada@example.com, a temp home whose config names its `dev` and `prod`
//! workspaces, engines over that home with a file vault, and a "browser" that signs in.
//! Each test file picks its own HTTP retry policy, clock and engine options.

#![allow(dead_code, missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use lakepass_core::config::Config;
use lakepass_core::engine::{Engine, EngineOptions};
use lakepass_core::http::Http;
use lakepass_core::idp::IdpSession;
use lakepass_core::store::Store;
use lakepass_core::{Clock, ManualClock, Paths, SharedClock, SystemClock, Vault, VaultKind};
use lakepass_devstack::{Devstack, DevstackOptions};

pub struct Fixture {
    pub ds: Devstack,
    pub dir: tempfile::TempDir,
    pub paths: Paths,
    /// Starts at the real time; moves only when a test says so.
    pub clock: ManualClock,
}

impl Fixture {
    /// A devstack with `opts` (auto-approving ada@example.com) and a home pointing at it.
    pub async fn start(opts: DevstackOptions) -> Fixture {
        let ds = lakepass_devstack::start(DevstackOptions {
            auto_approve: Some("ada@example.com".into()),
            ..opts
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
        Fixture { ds, dir, paths, clock: ManualClock::new(SystemClock.now()) }
    }

    /// An engine over this home (a second call is a second process sharing vault and locks).
    pub async fn engine_with(&self, http: Http, clock: SharedClock, opts: EngineOptions) -> Engine {
        let config = Config::load(&self.paths.config).unwrap();
        let vault = Vault::open(&self.paths.data_dir, Some(VaultKind::File)).await.unwrap();
        let e = Engine::new(config, self.paths.clone(), Store::new(vault), http, clock, opts).unwrap();
        e.load().await.unwrap();
        e
    }

    /// The manual clock, as the engine's clock.
    pub fn manual_clock(&self) -> SharedClock {
        Arc::new(self.clock.clone())
    }

    /// Signs `engine` in through the devstack, playing the browser; every workspace's first
    /// exchange must succeed. Returns the session and the page the browser was shown.
    pub async fn sign_in(&self, engine: &Engine) -> (IdpSession, String) {
        let (tx, rx) = tokio::sync::oneshot::channel::<url::Url>();
        let browser = tokio::spawn(async move {
            let resp = reqwest::get(rx.await.unwrap()).await.unwrap();
            assert!(resp.status().is_success(), "callback page: {}", resp.status());
            resp.text().await.unwrap()
        });
        let (session, failures) = engine
            .login("devstack", move |u| tx.send(u.clone()).unwrap(), Duration::from_secs(20))
            .await
            .expect("login succeeds");
        assert!(failures.is_empty(), "{failures:?}");
        (session, browser.await.unwrap())
    }

    /// The URL of workspace `ws`.
    pub fn host(&self, ws: &str) -> String {
        self.ds.info().workspaces.iter().find(|w| w.name == ws).unwrap().host.clone()
    }
}
