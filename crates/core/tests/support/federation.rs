//! Shared by the doctor, roles and admin tests: a devstack, a temp home with a config pointing at
//! it, engines over that home, and a "browser" that signs in as any email on the login page.

#![allow(dead_code, missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use lakepass_core::config::Config;
use lakepass_core::engine::{Engine, EngineOptions};
use lakepass_core::http::{Http, RetryPolicy};
use lakepass_core::store::Store;
use lakepass_core::{Clock, ManualClock, Paths, SystemClock, Vault, VaultKind};
use lakepass_devstack::{Devstack, DevstackOptions};

pub struct Home {
    pub dir: tempfile::TempDir,
    pub paths: Paths,
    pub clock: ManualClock,
}

pub async fn devstack(auto_approve: Option<&str>) -> Devstack {
    lakepass_devstack::start(DevstackOptions {
        auto_approve: auto_approve.map(String::from),
        ..Default::default()
    })
    .await
    .expect("devstack starts")
}

/// The devstack IdP and workspaces `dev`/`prod`, plus `extra` TOML appended.
pub fn home(ds: &Devstack, extra: &str) -> Home {
    let dir = tempfile::tempdir().unwrap();
    let paths = Paths::under(dir.path());
    let info = ds.info();
    let text = format!(
        "active = \"dev\"\n[idp.devstack]\nissuer = \"{}\"\nclient_id = \"{}\"\n\n\
         [workspace.dev]\nidp = \"devstack\"\nhost = \"{}\"\naccount_id = \"{}\"\n\n\
         [workspace.prod]\nidp = \"devstack\"\nhost = \"{}\"\n{extra}",
        info.issuer, info.client_id, info.workspaces[0].host, info.account_id, info.workspaces[1].host
    );
    std::fs::write(&paths.config, text).unwrap();
    Home { dir, paths, clock: ManualClock::new(SystemClock.now()) }
}

pub fn http() -> Http {
    Http::with_policy(RetryPolicy {
        max_attempts: 2,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(200),
    })
}

impl Home {
    pub async fn store(&self) -> Store {
        Store::new(Vault::open(&self.paths.data_dir, Some(VaultKind::File)).await.unwrap())
    }

    pub async fn engine(&self) -> Engine {
        let config = Config::load(&self.paths.config).unwrap();
        let e = Engine::new(
            config,
            self.paths.clone(),
            self.store().await,
            http(),
            Arc::new(self.clock.clone()),
            EngineOptions::default(),
        )
        .unwrap();
        e.load().await.unwrap();
        e
    }

    /// Signs in through the devstack: auto-approved, or as `email` on the login page.
    pub async fn login(&self, engine: &Engine, email: Option<&str>) -> Result<(), String> {
        let (tx, rx) = tokio::sync::oneshot::channel::<url::Url>();
        let email = email.map(String::from);
        let browser = tokio::spawn(async move {
            let url = rx.await.unwrap();
            let client = reqwest::Client::new();
            let page = client.get(url.clone()).send().await.unwrap();
            let Some(email) = email else {
                return page.status().as_u16();
            };
            let html = page.text().await.unwrap();
            let id = html
                .split("name=\"request_id\" value=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap()
                .to_string();
            let login = format!("{}://{}/authorize/login", url.scheme(), url.authority());
            let resp = client
                .post(login)
                .form(&[("request_id", id.as_str()), ("email", email.as_str())])
                .send()
                .await
                .unwrap();
            resp.status().as_u16()
        });
        let result =
            engine.login("devstack", move |u| tx.send(u.clone()).unwrap(), Duration::from_secs(20)).await;
        let status = browser.await.unwrap();
        assert_eq!(status, 200, "the browser leg ends on the callback page");
        match result {
            Ok((_, failures)) if failures.is_empty() => Ok(()),
            Ok((_, failures)) => {
                Err(failures.iter().map(|(w, e)| format!("{w}: {e}")).collect::<Vec<_>>().join("; "))
            }
            Err(e) => Err(e.to_string()),
        }
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }
}
