//! Driving a sign-in: `lakepass login --no-browser`, with the test playing the browser.

use std::time::Duration;

use url::Url;

use crate::{COMMAND_TIMEOUT, Output, Proc, Stream, TempHome, http, redact};

/// A `lakepass login --no-browser` waiting for the browser; the URL it printed.
pub struct PendingLogin {
    /// The running `lakepass login`.
    pub proc: Proc,
    /// The sign-in URL it printed on its own line: a one-time local link.
    pub url: Url,
    /// Where that link redirected (it has been used): the IdP's authorize URL.
    pub idp_url: Url,
}

impl PendingLogin {
    /// A query parameter of the IdP's authorize URL (`state`, `redirect_uri`, …).
    pub fn param(&self, name: &str) -> Option<String> {
        self.idp_url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
    }

    /// The loopback callback Lakepass listens on.
    pub fn redirect_uri(&self) -> Url {
        let r = self.param("redirect_uri").expect("sign-in URL has redirect_uri");
        Url::parse(&r).expect("redirect_uri is a URL")
    }

    /// Waits for `lakepass login` to exit.
    pub async fn finish(self) -> Output {
        self.proc.wait(COMMAND_TIMEOUT).await
    }
}

impl TempHome {
    /// Starts `lakepass login --no-browser <extra>` and waits for the sign-in URL.
    pub async fn start_login(&self, extra: &[&str]) -> PendingLogin {
        let mut args = vec!["login", "--no-browser", "--timeout", "60"];
        args.extend_from_slice(extra);
        self.start_sign_in(&args).await
    }

    /// Runs `lakepass <args>`, a command that signs in with `--no-browser` (`login`, `setup`),
    /// and waits for the sign-in URL it prints.
    pub async fn start_sign_in(&self, args: &[&str]) -> PendingLogin {
        let (mut proc, url) = Proc::spawn_until(
            format!("lakepass {}", args.join(" ")),
            self.lakepass(args),
            Stream::Stderr,
            Duration::from_secs(30),
            |line| Url::parse(line.trim()).ok().filter(|u| matches!(u.scheme(), "http" | "https")),
        )
        .await;
        proc.close_stdin();
        let idp_url = open_start_link(&url).await;
        PendingLogin { proc, url, idp_url }
    }

    /// Signs in against an auto-approving devstack: follows the sign-in URL like a browser
    /// (devstack → 302 → Lakepass's loopback callback) and waits for `login` to succeed.
    pub async fn login(&self, extra: &[&str]) -> Output {
        let pending = self.start_login(extra).await;
        let resp = http().get(pending.idp_url.clone()).send().await.expect("follow the sign-in URL");
        let status = resp.status();
        let page = resp.text().await.unwrap_or_default();
        let out = pending.finish().await;
        assert!(
            status.is_success() && page.contains("Signed in"),
            "the callback page should say `Signed in` (HTTP {status}): {}\n{out:?}",
            redact(&page)
        );
        out.success()
    }
}

/// Opens Lakepass's one-time start link as a browser's first request would, and returns where
/// it redirects: the IdP's authorize URL.
pub async fn open_start_link(url: &Url) -> Url {
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let resp = client.get(url.clone()).send().await.expect("open the start link");
    assert_eq!(resp.status().as_u16(), 302, "the start link redirects to the IdP");
    let location = resp.headers()["location"].to_str().expect("a text Location");
    Url::parse(location).expect("the Location is a URL")
}
