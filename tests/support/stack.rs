//! The devstack side of an e2e test: starting one, the config pointing at it, and the test's
//! own requests to its workspaces.

use std::time::Duration;

use lakepass_devstack::{ClientConfigOptions, Devstack, DevstackOptions};

use crate::{TempHome, USER_EMAIL};

/// A config pointing at `ds`: IdP `devstack`, workspaces `dev` (active) and `prod` with
/// profiles `devstack-dev` and `devstack-prod` ([`Devstack::client_config`], as the CLI writes).
pub fn devstack_config(ds: &Devstack) -> String {
    ds.client_config(&ClientConfigOptions {
        comment: Some("written by the e2e tests".into()),
        ..ClientConfigOptions::like_the_cli()
    })
}

impl TempHome {
    /// Writes a config pointing at `ds` (IdP `devstack`, workspaces `dev` and `prod`).
    pub fn write_devstack_config(&self, ds: &Devstack) {
        self.write_config(&devstack_config(ds));
    }
}

/// The base URL of devstack workspace `name`.
pub fn ws_host(ds: &Devstack, name: &str) -> String {
    ds.info()
        .workspaces
        .iter()
        .find(|w| w.name == name)
        .unwrap_or_else(|| panic!("no devstack workspace {name}"))
        .host
        .clone()
}

/// Starts a devstack that approves every sign-in as [`USER_EMAIL`], with `ttl` for IdP and
/// workspace tokens alike.
pub async fn start_devstack(ttl: Duration) -> Devstack {
    lakepass_devstack::start(DevstackOptions {
        auto_approve: Some(USER_EMAIL.to_string()),
        idp_token_ttl: ttl,
        workspace_token_ttl: ttl,
        ..DevstackOptions::default()
    })
    .await
    .expect("start the devstack")
}

/// An HTTP client for the test's own requests: loopback only, no proxy, bounded.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(20)).build().expect("http client")
}

/// `GET <host>/api/2.0/preview/scim/v2/Me` with `token`: the status and the JSON body.
pub async fn scim_me(host: &str, token: &str) -> (u16, serde_json::Value) {
    let resp = http()
        .get(format!("{host}/api/2.0/preview/scim/v2/Me"))
        .bearer_auth(token)
        .send()
        .await
        .expect("SCIM Me request");
    let status = resp.status().as_u16();
    let body = resp.json().await.unwrap_or(serde_json::Value::Null);
    (status, body)
}
