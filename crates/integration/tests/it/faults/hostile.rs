//! Servers that answer, but answer what a hostile or broken server would: absurd lifetimes,
//! tokens without a token, HTML from a proxy, endless bodies, and discovery documents that point
//! secrets elsewhere. What was held is kept, nothing is sent where it should not go, and the
//! user is told what the server did.

use lakepass_devstack::{FaultKind, FaultRule, Target};
use std::time::Duration;

use lakepass_engine::ErrorKind;
use lakepass_engine::engine::Engine;
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

/// The control characters a hostile `error_description` carried, as raw bytes and as JSON
/// escapes (a JSON file escapes them, and `lakepass log` prints them back raw).
fn has_control_text(text: &str) -> bool {
    text.contains('\u{1b}')
        || text.contains('\u{7}')
        || text.contains('\u{202e}')
        || ["\\u001b", "\\u0007", "\\u202e"].iter().any(|e| text.to_lowercase().contains(e))
}

/// A workspace (and then the IdP) answers with an `error_description` full of terminal escapes:
/// `ESC[2J` (clear the screen), an OSC 8 hyperlink whose text hides its target, and a bidi
/// override. The error, the status, `audit.jsonl` and `state.json` carry the text with every
/// control character made visible, never the escapes themselves.
#[tokio::test]
async fn escape_sequences_in_a_servers_error_text_never_reach_the_terminal_or_the_files() {
    within(CASE_TIMEOUT, async {
        let f = fixture().await;
        let e = f.engine().await;
        f.sign_in(&e).await;
        let hostile = serde_json::json!({
            "error": "invalid_request\u{1b}[31m",
            "error_description":
                "\u{1b}[2Jcall \u{1b}]8;;https://evil.example\u{7}your admin\u{1b}]8;;\u{7} \u{202e}gnp.exe",
        })
        .to_string();
        f.faults().add(
            FaultRule::new(Target::WorkspaceToken, body(400, hostile.clone(), None))
                .on_workspace("dev")
                .times(1),
        );
        let err = e.refresh_workspace(&ws(&e, "dev"), true).await.unwrap_err();
        let shown = err.to_string();
        assert!(!has_control_text(&shown), "{shown:?}");
        assert!(shown.contains("\\u{1b}[2Jcall"), "the text is kept, made visible: {shown}");
        let dev = status(&e, "dev");
        assert!(!has_control_text(dev.error_message().unwrap()), "{dev:?}");

        // The IdP's refresh grant, the other door for server text.
        f.faults().add(FaultRule::new(Target::IdpToken, body(400, hostile, None)).times(1));
        f.sleep_laptop(2 * 3600);
        let err = e.refresh_workspace(&ws(&e, "prod"), true).await.unwrap_err();
        assert!(!has_control_text(&err.to_string()), "{err}");

        let audit = std::fs::read_to_string(f.paths.data_dir.join("audit.jsonl")).unwrap();
        assert!(audit.contains("\\\\u{1b}[2Jcall"), "the audit log has the failure: {audit}");
        assert!(!has_control_text(&audit), "{audit}");
        let state = std::fs::read_to_string(f.paths.state_file()).unwrap();
        assert!(state.contains("2Jcall"), "state.json has the failure: {state}");
        assert!(!has_control_text(&state), "{state}");
    })
    .await
}

/// A home over the TLS devstack `ds` whose workspace `dev` is reached as `https://localhost:…`
/// (the IdP stays at `127.0.0.1`, so the two are different names to TLS), with the devstack's CA
/// as the IdP's `ca_file` and/or dev's, and an engine trusting what that config says.
async fn scoped_ca_home(
    ds: &std::sync::Arc<lakepass_devstack::Devstack>,
    idp_ca: bool,
    ws_ca: bool,
) -> (Fixture, Engine) {
    use lakepass_devstack::ClientConfigOptions;
    let ca = tempfile::tempdir().unwrap().keep().join("devstack-ca.pem");
    std::fs::write(&ca, ds.info().ca_pem.as_deref().unwrap()).unwrap();
    let ca_line =
        |on: bool| if on { format!("ca_file = {:?}\n", ca.display().to_string()) } else { String::new() };
    let dev = ds.info().workspaces.iter().find(|w| w.name == "dev").unwrap();
    let localhost = dev.host.replace("127.0.0.1", "localhost");
    let dev_table =
        format!("\n[workspace.dev]\nidp = \"devstack\"\nhost = \"{localhost}\"\n{}", ca_line(ws_ca));
    let text = ds
        .info()
        .client_config(&ClientConfigOptions {
            workspaces: vec!["none".into()], // only dev, as written here
            active: Some("dev".into()),
            extra: dev_table,
            ..Default::default()
        })
        .replacen("client_id = ", &format!("{}client_id = ", ca_line(idp_ca)), 1);
    let fx = Fixture::over(ds.clone(), Setup::default());
    std::fs::write(&fx.paths.config, text).unwrap();
    let config = lakepass_config::Config::load(&fx.paths.config).unwrap();
    let http = lakepass_wire::http::Http::with_trust(&config.trust());
    let e = fx.engine_with(http, std::sync::Arc::new(lakepass_wire::SystemClock), Default::default()).await;
    (fx, e)
}

/// A workspace's `ca_file` (from a team file, say) vouches for that workspace only: the IdP,
/// where the refresh token goes, is not trusted through it. Here the workspace names the CA
/// that also signed the "IdP"'s certificate; sign-in refuses the IdP's certificate, naming it.
#[tokio::test]
async fn a_workspaces_ca_file_is_not_trusted_for_the_idp() {
    within(CASE_TIMEOUT, async {
        let ds = crate::tls::tls_devstack().await;
        let (_fx, e) = scoped_ca_home(&ds, false, true).await;
        let err = e
            .login("devstack", |_| panic!("no sign-in URL: discovery is refused"), Duration::from_secs(20))
            .await
            .expect_err("the IdP's certificate is not vouched for by dev's CA");
        assert_eq!(err.kind(), ErrorKind::UntrustedCertificate, "{err}");
        assert!(err.to_string().contains(lakepass_devstack::CA_NAME), "{err}");
    })
    .await
}

/// The converse: the IdP's `ca_file` vouches for the IdP's hosts only, not for a workspace.
/// Sign-in works; the exchange at `localhost` refuses the certificate.
#[tokio::test]
async fn an_idps_ca_file_is_not_trusted_for_a_workspace() {
    within(CASE_TIMEOUT, async {
        let ds = crate::tls::tls_devstack().await;
        let (_fx, e) = scoped_ca_home(&ds, true, false).await;
        let failures = crate::tls::sign_in_leaving(&ds, &e).await.expect("the IdP is vouched for");
        let [(ws, err)] = &failures[..] else { panic!("dev's exchange fails: {failures:?}") };
        assert_eq!((ws.as_str(), err.kind()), ("dev", ErrorKind::UntrustedCertificate), "{err}");
        assert!(err.to_string().contains(lakepass_devstack::CA_NAME), "{err}");
        assert_eq!(ds.stats().workspaces["dev"].exchanges_ok, 0);
        // With dev's own CA too, the same sign-in reaches dev.
        let (_fx, e) = scoped_ca_home(&ds, true, true).await;
        crate::tls::sign_in(&ds, &e).await.expect("each CA for its own hosts");
        assert_eq!(ds.stats().workspaces["dev"].exchanges_ok, 1);
    })
    .await
}
