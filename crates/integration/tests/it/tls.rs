//! Lakepass over HTTPS against a devstack with its own CA (`DevstackOptions::tls`): trusted
//! through `ca_file`, and refused, named and not retried without it.
//!
//! The environment's ways of trusting a CA (`SSL_CERT_FILE`, the system store) and the proxy are
//! tested end to end in `tests/e2e/tls.rs`, in processes of their own.

use std::sync::Arc;
use std::time::Duration;

use lakepass_config::Config;
use lakepass_devstack::{ClientConfigOptions, Devstack, DevstackOptions};
use lakepass_engine::ErrorKind;
use lakepass_engine::engine::Engine;
use lakepass_wire::SystemClock;
use lakepass_wire::http::Http;

use crate::support::{Fixture, Setup, USER};

pub(crate) async fn tls_devstack() -> Arc<Devstack> {
    let opts = DevstackOptions { auto_approve: Some(USER.into()), tls: true, ..Default::default() };
    Arc::new(lakepass_devstack::start(opts).await.expect("devstack starts"))
}

/// A home over `ds` whose config names the devstack's CA as `ca_file` when `with_ca` is set.
fn home(ds: &Arc<Devstack>, with_ca: bool) -> Fixture {
    let ca_dir = tempfile::tempdir().unwrap().keep();
    let ca = ca_dir.join("devstack-ca.pem");
    std::fs::write(&ca, ds.info().ca_pem.as_deref().expect("a TLS devstack has a CA")).unwrap();
    let config =
        ClientConfigOptions { ca_file: with_ca.then(|| ca.display().to_string()), ..Default::default() };
    Fixture::over(ds.clone(), Setup { config, ..Setup::default() })
}

/// An engine whose HTTP client trusts what the home's config says, as `EngineBuilder` builds it.
async fn engine(fx: &Fixture) -> Engine {
    let config = Config::load(&fx.paths.config).unwrap();
    fx.engine_with(Http::with_trust(&config.trust()), Arc::new(SystemClock), Default::default()).await
}

/// Signs in with a browser that trusts the devstack's CA (the IdP's pages are HTTPS too).
pub(crate) async fn sign_in(
    ds: &Devstack,
    engine: &Engine,
) -> Result<(), lakepass_engine::engine::EngineError> {
    let failures = sign_in_leaving(ds, engine).await?;
    assert!(failures.is_empty(), "{failures:?}");
    Ok(())
}

/// [`sign_in`], returning the workspaces whose first exchange failed.
pub(crate) async fn sign_in_leaving(
    ds: &Devstack,
    engine: &Engine,
) -> Result<Vec<(String, lakepass_engine::engine::EngineError)>, lakepass_engine::engine::EngineError> {
    let root = reqwest::Certificate::from_pem(ds.info().ca_pem.as_deref().unwrap().as_bytes()).unwrap();
    let browser = reqwest::Client::builder().add_root_certificate(root).build().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<url::Url>();
    let leg = tokio::spawn(async move {
        let Ok(url) = rx.await else { return };
        let resp = browser.get(url).send().await.unwrap();
        assert!(resp.status().is_success(), "callback page: {}", resp.status());
    });
    let result =
        engine.login("devstack", move |u| tx.send(u.clone()).unwrap(), Duration::from_secs(20)).await;
    leg.await.unwrap();
    Ok(result?.1)
}

#[tokio::test]
async fn with_ca_file_sign_in_and_exchange_work_over_https() {
    let ds = tls_devstack().await;
    assert!(ds.info().issuer.starts_with("https://127.0.0.1:"), "{}", ds.info().issuer);
    let fx = home(&ds, true);
    let e = engine(&fx).await;
    sign_in(&ds, &e).await.expect("sign-in over HTTPS");
    let stats = ds.stats();
    assert_eq!(stats.workspaces["dev"].exchanges_ok, 1, "{stats:?}");
    assert_eq!(stats.workspaces["prod"].exchanges_ok, 1, "{stats:?}");
}

#[tokio::test]
async fn without_the_ca_the_certificate_is_untrusted_named_and_not_retried() {
    let ds = tls_devstack().await;
    let fx = home(&ds, false);
    let e = engine(&fx).await;
    let before = ds.connections().accepted;
    let err = e
        .login("devstack", |_| panic!("no sign-in URL before discovery"), Duration::from_secs(20))
        .await
        .expect_err("the devstack's CA is not trusted");
    assert_eq!(err.kind(), ErrorKind::UntrustedCertificate, "{err}");
    assert_eq!(err.kind().exit_code(), 4);
    let msg = err.to_string();
    assert!(msg.contains(lakepass_devstack::CA_NAME), "names the CA: {msg}");
    assert!(msg.contains("ca_file"), "says what to set: {msg}");
    assert!(!msg.contains("unreachable"), "not a network problem: {msg}");
    assert_eq!(ds.connections().accepted - before, 1, "one attempt, no retries");
}

#[tokio::test]
async fn the_doctor_names_an_untrusted_certificate() {
    let ds = tls_devstack().await;
    let fx = home(&ds, false);
    let report = lakepass_doctor::run(
        &fx.paths,
        fx.store().await,
        Http::new(),
        Arc::new(SystemClock),
        Some("dev"),
        &Default::default(),
    )
    .await;
    let problem = report.problem().expect("the doctor finds a problem");
    assert_eq!(problem.kind(), ErrorKind::UntrustedCertificate, "{problem:?}");
    let json = serde_json::to_value(problem).unwrap();
    assert_eq!(json["kind"], "untrusted_certificate", "{json}");
    assert!(json["issuer"].as_str().unwrap().contains(lakepass_devstack::CA_NAME), "{json}");
}
