//! The user's side of a sign-in: a "browser" that follows the engine's sign-in URL, either to
//! the devstack's auto-approval or through its login page as some email.

use std::time::Duration;

use lakepass_engine::engine::Engine;
use lakepass_wire::idp::IdpSession;

use super::Fixture;

impl Fixture {
    /// Signs `engine` in through an auto-approving devstack; every workspace's first exchange
    /// must succeed. Returns the session and the page the browser was shown.
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

    /// Signs in through the devstack: auto-approved, or as `email` on the login page. The
    /// browser leg must end on the callback page; the error lists the workspaces that failed.
    pub async fn login_as(&self, engine: &Engine, email: Option<&str>) -> Result<(), String> {
        let (tx, rx) = tokio::sync::oneshot::channel::<url::Url>();
        let email = email.map(String::from);
        let browser = tokio::spawn(async move {
            let url = rx.await.unwrap();
            let client = reqwest::Client::new();
            let page = client.get(url.clone()).send().await.unwrap();
            let Some(email) = email else {
                return page.status().as_u16();
            };
            // The engine's URL is a one-time local link that redirected to the IdP's page.
            let url = page.url().clone();
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
}
