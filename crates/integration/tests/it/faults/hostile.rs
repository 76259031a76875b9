//! Servers that answer, but answer what a hostile or broken server would: absurd lifetimes,
//! tokens without a token, HTML from a proxy, endless bodies, and discovery documents that point
//! secrets elsewhere. What was held is kept, nothing is sent where it should not go, and the
//! user is told what the server did.

use lakepass_devstack::{FaultKind, FaultRule, Target};
use lakepass_engine::ErrorKind;
use lakepass_engine::status::TokenState;

use super::*;

fn body(code: u16, body: impl Into<String>, content_type: Option<&str>) -> FaultKind {
    FaultKind::Body { code, body: body.into(), content_type: content_type.map(String::from) }
}

/// A workspace answers the exchange with `expires_in` = `i64::MAX` (the review's finding 5: a
/// debug build panicked, a release build scheduled nonsense). The token's life is clamped to a
/// day and its refresh is planned inside that day.
#[tokio::test]
async fn an_overflowing_expires_in_from_the_workspace_is_clamped() {
    within(CASE_TIMEOUT, async {
        let f = fixture().await;
        let e = f.engine().await;
        f.sign_in(&e).await;
        let answer =
            r#"{"access_token":"dapi-hostile","token_type":"Bearer","expires_in":9223372036854775807}"#;
        f.faults().add(
            FaultRule::new(Target::WorkspaceToken, body(200, answer, None)).on_workspace("dev").times(1),
        );
        let t = e.refresh_workspace(&ws(&e, "dev"), true).await.unwrap();
        let now = f.clock.now();
        assert_eq!(t.expires_at, now + 24 * 3600, "clamped to a day");
        let dev = status(&e, "dev");
        assert_eq!(dev.state, TokenState::Fresh);
        assert!(dev.refresh_due_at.unwrap() < t.expires_at && dev.refresh_due_at.unwrap() > now, "{dev:?}");
    })
    .await
}

/// A 200 without an `access_token`: the refresh fails as malformed and the token held before
/// stays in the vault, in `~/.databrickscfg` and in use.
#[tokio::test]
async fn a_token_answer_without_an_access_token_keeps_the_old_token() {
    within(CASE_TIMEOUT, async {
        let f = fixture().await;
        let e = f.engine().await;
        f.sign_in(&e).await;
        let before = e.token(&ws(&e, "dev")).await.unwrap();
        f.faults().add(
            FaultRule::new(Target::WorkspaceToken, body(200, r#"{"token_type":"Bearer"}"#, None))
                .on_workspace("dev")
                .times(1),
        );
        let err = e.refresh_workspace(&ws(&e, "dev"), true).await.unwrap_err();
        assert!(err.to_string().contains("without an access_token"), "{err}");
        assert_eq!(status(&e, "dev").state, TokenState::Failed);
        let after = e.token(&ws(&e, "dev")).await.unwrap();
        assert_eq!(after.access_token, before.access_token, "the held token stays");
        assert_eq!(f.file_token("dev").as_deref(), Some(before.access_token.secret()));
    })
    .await
}

/// A TLS-inspecting proxy answers the exchange with its own HTML error page. The user sees the
/// status and the start of the page, not a JSON parse error, and nothing is retried as if the
/// workspace had refused the token.
#[tokio::test]
async fn an_html_error_page_from_a_proxy_is_reported_with_its_status() {
    within(CASE_TIMEOUT, async {
        let f = fixture().await;
        let e = f.engine().await;
        f.sign_in(&e).await;
        let page = "<html><body><h1>Access denied by corporate proxy policy</h1></body></html>";
        f.faults().add(
            FaultRule::new(Target::WorkspaceToken, body(403, page, Some("text/html")))
                .on_workspace("dev")
                .times(1),
        );
        let err = e.refresh_workspace(&ws(&e, "dev"), true).await.unwrap_err();
        let text = err.to_string();
        assert!(text.contains("403") && text.contains("corporate proxy"), "{text}");
        assert_eq!(err.kind(), ErrorKind::FederationRejected, "{text}");
        assert_eq!(f.ds.stats().workspaces["dev"].exchanges_failed, 0, "the workspace itself never saw it");
    })
    .await
}

/// The IdP answers a refresh with an endless body. The refresh fails without reading it, and the
/// refresh token is not spent: the next refresh, once the IdP behaves, works with it.
#[tokio::test]
async fn an_oversized_refresh_answer_keeps_the_refresh_token() {
    within(CASE_TIMEOUT, async {
        let f = fixture().await;
        let e = f.engine().await;
        f.sign_in(&e).await;
        let held = e.stored_session("devstack").await.unwrap().unwrap();
        f.faults().add(FaultRule::new(Target::IdpToken, body(200, "x".repeat(3 << 20), None)).times(1));
        f.clock.advance(3500); // the IdP JWT and both workspace tokens are due
        let err = e.refresh_workspace(&ws(&e, "dev"), true).await.unwrap_err();
        assert!(err.to_string().contains("larger than 1 MiB"), "{err}");
        let kept = e.stored_session("devstack").await.unwrap().unwrap();
        assert_eq!(kept.refresh_token, held.refresh_token, "the refresh token is kept");
        e.refresh_workspace(&ws(&e, "dev"), true).await.expect("the next refresh works");
    })
    .await
}

/// A discovery document that names a plain-http token endpoint elsewhere: the code, the PKCE
/// verifier and later the refresh token would go there. The sign-in stops before the browser
/// opens, and nothing is sent.
#[tokio::test]
async fn a_discovery_document_naming_a_plain_http_endpoint_stops_the_sign_in() {
    within(CASE_TIMEOUT, async {
        let f = fixture().await;
        let e = f.engine().await;
        let issuer = f.ds.info().issuer.clone();
        let doc = serde_json::json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/authorize"),
            "token_endpoint": "http://collector.example/token",
            "jwks_uri": format!("{issuer}/jwks"),
        });
        f.faults().add(FaultRule::new(Target::IdpDiscovery, body(200, doc.to_string(), None)));
        let mut opened = false;
        let err = e.login("devstack", |_| opened = true, Duration::from_secs(5)).await.unwrap_err();
        assert!(err.to_string().contains("unsafe endpoint"), "{err}");
        assert!(!opened, "no browser was opened");
        assert_eq!(f.ds.stats().idp.authorization_code_grants, 0);
    })
    .await
}
