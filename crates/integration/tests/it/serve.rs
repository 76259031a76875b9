//! The live token service over real loopback HTTP against an engine signed in to a real
//! devstack: it answers the metadata-service protocol with the engine's current token, follows
//! rotations, refreshes when due, refuses every request it must refuse (with no token in the
//! body), keeps its URLs across restarts, writes the `-live` profiles, reports a taken port
//! clearly, and holds its memory flat under load.

use std::time::Duration;

use lakepass_devstack::{FaultKind, FaultRule, Target};
use lakepass_engine::engine::EngineOptions;
use lakepass_engine::serve::{LiveService, ServeError};
use lakepass_engine::sink::LiveProfiles;
use lakepass_store::databrickscfg;
use lakepass_wire::Clock;
use lakepass_wire::http::{Http, RetryPolicy};

#[cfg(target_os = "linux")]
use crate::support::live::rss_kib;
use crate::support::live::sdk_get;
use crate::support::{Fixture, Setup};

/// Engines retry twice within a second, on the manual clock.
async fn fixture() -> Fixture {
    Fixture::start(Setup {
        retry: Some(RetryPolicy {
            max_attempts: 2,
            base_delay: Duration::from_millis(50),
            max_delay: Duration::from_secs(1),
            ..RetryPolicy::DEFAULT
        }),
        ..Setup::default()
    })
    .await
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(20)).build().unwrap()
}

#[derive(serde::Deserialize)]
struct TokenReply {
    access_token: String,
    token_type: String,
    expires_on: i64,
}

async fn token_of(resp: reqwest::Response) -> TokenReply {
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    resp.json().await.unwrap()
}

#[tokio::test]
async fn serves_the_engines_token_and_the_next_one_after_a_rotation() {
    let f = fixture().await;
    let e = f.signed_in_engine().await;
    let svc = LiveService::start(e.clone(), 0).await.unwrap();
    assert!(svc.local_addr().ip().is_loopback());
    let dev = e.config().workspace(Some("dev")).unwrap();
    let url = svc.url_for("dev").unwrap().secret().to_string();
    assert!(url.starts_with(&format!("http://127.0.0.1:{}/dev/", svc.local_addr().port())), "{url}");

    let first = token_of(sdk_get(&url, &f.host("dev")).await).await;
    let held = e.token(&dev).await.unwrap();
    assert_eq!(first.access_token, held.access_token.secret());
    assert_eq!(first.token_type, "Bearer");
    assert_eq!(first.expires_on, held.expires_at);

    let rotated = e.refresh_workspace(&dev, true).await.unwrap();
    let second = token_of(sdk_get(&url, &f.host("dev")).await).await;
    assert_eq!(second.access_token, rotated.access_token.secret());
    assert_ne!(second.access_token, first.access_token);

    // The SDKs send the host as written in the profile: a trailing slash is the same host.
    token_of(sdk_get(&url, &format!("{}/", f.host("dev"))).await).await;
    // Each workspace gets its own token from its own URL, never the other's.
    let prod = token_of(sdk_get(svc.url_for("prod").unwrap().secret(), &f.host("prod")).await).await;
    assert_ne!(prod.access_token, second.access_token);
    svc.shutdown().await;
}

#[tokio::test]
async fn a_due_token_is_refreshed_through_the_engine() {
    let f = fixture().await;
    let e = f.signed_in_engine().await;
    let svc = LiveService::start(e.clone(), 0).await.unwrap();
    let url = svc.url_for("dev").unwrap().secret().to_string();
    let before = token_of(sdk_get(&url, &f.host("dev")).await).await;
    let exchanges = f.ds.stats().workspaces["dev"].exchanges_ok;
    // Two hours pass (the laptop slept): the held token is expired by the wall clock.
    f.clock.advance(2 * 3600);
    f.ds.faults().add(FaultRule::new(Target::Any, FaultKind::ClockSkew(2 * 3600)));
    let after = token_of(sdk_get(&url, &f.host("dev")).await).await;
    assert_ne!(after.access_token, before.access_token);
    assert!(after.expires_on > f.clock.now() + 3000);
    assert_eq!(f.ds.stats().workspaces["dev"].exchanges_ok, exchanges + 1);
    // Served from memory now: no second exchange.
    token_of(sdk_get(&url, &f.host("dev")).await).await;
    assert_eq!(f.ds.stats().workspaces["dev"].exchanges_ok, exchanges + 1);
}

/// When no token can be had, the answer says whose move it is: 401 when the user must sign in
/// (an SDK then reports an auth problem), 503 when the workspace cannot be reached (a retry may
/// help).
#[tokio::test]
async fn no_token_is_401_when_sign_in_is_needed_and_503_when_the_workspace_is_down() {
    let f = fixture().await;
    let e = f.signed_in_engine().await;
    let svc = LiveService::start(e.clone(), 0).await.unwrap();
    let (dev_url, dev_host) = (svc.url_for("dev").unwrap().secret().to_string(), f.host("dev"));
    let (prod_url, prod_host) = (svc.url_for("prod").unwrap().secret().to_string(), f.host("prod"));
    // Every held token is long expired, and the workspace token endpoints answer 503.
    f.clock.advance(2 * 3600);
    f.ds.faults().add(FaultRule::new(Target::Any, FaultKind::ClockSkew(2 * 3600)));
    f.ds.faults()
        .add(FaultRule::new(Target::WorkspaceToken, FaultKind::Status { code: 503, retry_after_secs: None }));
    let down = sdk_get(&dev_url, &dev_host).await;
    assert_eq!(down.status().as_u16(), 503);
    let body: serde_json::Value = down.json().await.unwrap();
    assert_eq!(body["error"], "network", "{body}");
    // Signed out: sign in again, not retry.
    e.logout("devstack").await.unwrap();
    let signed_out = sdk_get(&prod_url, &prod_host).await;
    assert_eq!(signed_out.status().as_u16(), 401);
    let body: serde_json::Value = signed_out.json().await.unwrap();
    assert_eq!(body["error"], "needs_login", "{body}");
}

/// A service dropped without `stop` stops listening too: no orphan task keeps handing out
/// tokens on a port nobody owns any more.
#[tokio::test]
async fn a_dropped_service_stops_listening() {
    let f = fixture().await;
    let e = f.signed_in_engine().await;
    let svc = LiveService::start(e.clone(), 0).await.unwrap();
    let port = svc.local_addr().port();
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
    // Its Debug form (what a log line or panic would show) names the address, never a URL secret.
    let shown = format!("{svc:?}");
    let secret = svc.url_for("dev").unwrap().secret().rsplit('/').next().unwrap().to_string();
    assert!(shown.contains(&format!("127.0.0.1:{port}")) && shown.contains("workspaces: 2"), "{shown}");
    assert!(!shown.contains(&secret), "{shown}");
    drop(svc);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "port {port} still accepts after the service was dropped"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn refuses_what_it_must_and_never_leaks_a_token() {
    let f = fixture().await;
    let e = f.signed_in_engine().await;
    let svc = LiveService::start(e.clone(), 0).await.unwrap();
    let dev_url = svc.url_for("dev").unwrap().secret().to_string();
    let prod_url = svc.url_for("prod").unwrap().secret().to_string();
    let (dev_host, prod_host) = (f.host("dev"), f.host("prod"));
    let port = svc.local_addr().port();
    let base = format!("http://127.0.0.1:{port}");
    let dev_secret = dev_url.rsplit('/').next().unwrap().to_string();
    let prod_secret = prod_url.rsplit('/').next().unwrap().to_string();
    assert_ne!(dev_secret, prod_secret, "one secret per workspace");
    let tokens: Vec<String> = [
        e.token(&e.config().workspace(Some("dev")).unwrap()).await.unwrap(),
        e.token(&e.config().workspace(Some("prod")).unwrap()).await.unwrap(),
    ]
    .iter()
    .map(|t| t.access_token.secret().to_string())
    .collect();

    let c = client();
    let get = |url: &str| c.get(url.to_string());
    let cases: Vec<(&str, reqwest::RequestBuilder, u16, &str)> = vec![
        (
            "no version header",
            get(&dev_url).header("X-Databricks-Host", &dev_host),
            400,
            "unsupported_metadata_version",
        ),
        (
            "wrong version header",
            get(&dev_url).header("X-Databricks-Metadata-Version", "2").header("X-Databricks-Host", &dev_host),
            400,
            "unsupported_metadata_version",
        ),
        (
            "no X-Databricks-Host",
            get(&dev_url).header("X-Databricks-Metadata-Version", "1"),
            400,
            "missing_databricks_host",
        ),
        (
            "another workspace's host on this URL",
            get(&dev_url)
                .header("X-Databricks-Metadata-Version", "1")
                .header("X-Databricks-Host", &prod_host),
            403,
            "host_mismatch",
        ),
        (
            "a foreign host",
            get(&dev_url)
                .header("X-Databricks-Metadata-Version", "1")
                .header("X-Databricks-Host", "https://evil.example"),
            403,
            "host_mismatch",
        ),
        (
            "a browser Origin",
            get(&dev_url)
                .header("X-Databricks-Metadata-Version", "1")
                .header("X-Databricks-Host", &dev_host)
                .header("Origin", "https://evil.example"),
            403,
            "browser_request",
        ),
        (
            "a same-origin browser fetch",
            get(&dev_url)
                .header("X-Databricks-Metadata-Version", "1")
                .header("X-Databricks-Host", &dev_host)
                .header("Sec-Fetch-Site", "same-origin"),
            403,
            "browser_request",
        ),
        (
            "a non-loopback Host (DNS rebinding)",
            get(&dev_url)
                .header("Host", format!("rebind.evil.example:{port}"))
                .header("X-Databricks-Metadata-Version", "1")
                .header("X-Databricks-Host", &dev_host),
            403,
            "non_loopback_host",
        ),
        (
            "an unknown path secret",
            get(&format!("{base}/dev/{}", "A".repeat(43)))
                .header("X-Databricks-Metadata-Version", "1")
                .header("X-Databricks-Host", &dev_host),
            404,
            "not_found",
        ),
        (
            "another workspace's secret under this workspace",
            get(&format!("{base}/dev/{prod_secret}"))
                .header("X-Databricks-Metadata-Version", "1")
                .header("X-Databricks-Host", &dev_host),
            404,
            "not_found",
        ),
        (
            "this workspace's secret under another workspace",
            get(&format!("{base}/prod/{dev_secret}"))
                .header("X-Databricks-Metadata-Version", "1")
                .header("X-Databricks-Host", &prod_host),
            404,
            "not_found",
        ),
        (
            "the secret alone",
            get(&format!("{base}/{dev_secret}"))
                .header("X-Databricks-Metadata-Version", "1")
                .header("X-Databricks-Host", &dev_host),
            404,
            "not_found",
        ),
        (
            "a POST",
            c.post(&dev_url)
                .header("X-Databricks-Metadata-Version", "1")
                .header("X-Databricks-Host", &dev_host),
            405,
            "method_not_allowed",
        ),
        (
            "a CORS preflight",
            c.request(reqwest::Method::OPTIONS, &dev_url)
                .header("Origin", "https://evil.example")
                .header("Access-Control-Request-Method", "GET"),
            405,
            "method_not_allowed",
        ),
    ];
    for (what, req, status, code) in cases {
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status().as_u16(), status, "{what}");
        assert!(resp.headers().get("access-control-allow-origin").is_none(), "{what}");
        let body = resp.text().await.unwrap();
        for t in &tokens {
            assert!(!body.contains(t.as_str()), "{what}: the refusal carries a token");
        }
        assert!(!body.contains(&dev_secret) && !body.contains(&prod_secret), "{what}: echoes a secret");
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(json["error"], code, "{what}: {json}");
        // The message tells the caller what to fix, in words about what was wrong.
        let fix = match code {
            "unsupported_metadata_version" => "X-Databricks-Metadata-Version",
            "missing_databricks_host" | "host_mismatch" => "X-Databricks-Host",
            "browser_request" => "web pages",
            "non_loopback_host" => "Host header",
            "not_found" => "metadata_service_url",
            "method_not_allowed" => "GET",
            other => panic!("{what}: no expectation for {other}"),
        };
        assert!(json["message"].as_str().is_some_and(|m| m.contains(fix)), "{what}: {json}");
    }
    // And the right request still works.
    token_of(sdk_get(&dev_url, &dev_host).await).await;
}

#[tokio::test]
async fn each_start_makes_new_urls_and_the_live_profiles_name_them() {
    let f = fixture().await;
    std::fs::write(&f.paths.databrickscfg, "; mine\n[dev-live]\nhost = https://mine.example\n").unwrap();
    let e = f.signed_in_engine().await;
    let svc = LiveService::start(e.clone(), 0).await.unwrap();
    let urls: Vec<(String, String)> =
        svc.urls().iter().map(|(n, u)| (n.clone(), u.secret().to_string())).collect();
    let port = svc.local_addr().port();
    svc.shutdown().await;

    // A new process on the same vault and port makes new URLs: one that outlived its service
    // (and was sent to whoever squatted the port meanwhile) is refused.
    let again = LiveService::start(f.engine().await, port).await.unwrap();
    let urls2: Vec<(String, String)> =
        again.urls().iter().map(|(n, u)| (n.clone(), u.secret().to_string())).collect();
    for ((n1, u1), (n2, u2)) in urls.iter().zip(&urls2) {
        assert_eq!(n1, n2);
        assert_ne!(u1, u2, "a restart must not reuse a path secret");
    }
    let old = sdk_get(&urls[0].1, &f.host("dev")).await;
    assert_eq!(old.status().as_u16(), 404, "the old URL is worthless to the new service");
    token_of(sdk_get(&urls2[0].1, &f.host("dev")).await).await;

    // `dev-live` belongs to the user: Lakepass leaves it as it is and writes the others.
    let sink = LiveProfiles::serving(f.paths.databrickscfg.clone(), e.workspaces(), again.urls().to_vec());
    let written = sink.write(e.workspaces()).unwrap();
    assert_eq!(written, ["prod-live"]);
    let ini = std::fs::read_to_string(&f.paths.databrickscfg).unwrap();
    assert!(ini.starts_with("; mine\n[dev-live]\nhost = https://mine.example\n"), "{ini}");
    assert!(databrickscfg::read_profile(&ini, "prod-live").unwrap().is_some());
    std::fs::write(&f.paths.databrickscfg, "; mine\n[other]\nhost = https://mine.example\n").unwrap();
    let written = sink.write(e.workspaces()).unwrap();
    assert_eq!(written, ["dev-live", "prod-live"]);
    let ini = std::fs::read_to_string(&f.paths.databrickscfg).unwrap();
    assert!(ini.starts_with("; mine\n[other]\nhost = https://mine.example\n"), "{ini}");
    let live = databrickscfg::read_profile(&ini, "dev-live").unwrap().unwrap();
    assert_eq!(
        live,
        vec![
            ("host".to_string(), f.host("dev")),
            ("metadata_service_url".to_string(), again.url_for("dev").unwrap().secret().to_string()),
            ("auth_type".to_string(), "metadata-service".to_string()),
        ]
    );
    // Signing out removes the live profiles Lakepass made, and leaves the user's alone.
    let removed = e.logout("devstack").await.unwrap();
    assert!(
        removed.contains(&"dev-live".to_string()) && removed.contains(&"prod-live".to_string()),
        "{removed:?}"
    );
    let ini = std::fs::read_to_string(&f.paths.databrickscfg).unwrap();
    assert_eq!(ini, "; mine\n[other]\nhost = https://mine.example\n");
}

#[tokio::test]
async fn a_taken_port_is_a_clear_error() {
    let f = fixture().await;
    let e = f.engine().await;
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let err = LiveService::start(e, port).await.unwrap_err();
    assert!(matches!(err, ServeError::PortInUse { port: p } if p == port), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains(&port.to_string()) && msg.contains("[serve] port"), "{msg}");
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_stays_flat_under_load() {
    let f = fixture().await;
    let e = f.signed_in_engine().await;
    let svc = LiveService::start(e.clone(), 0).await.unwrap();
    let url = svc.url_for("dev").unwrap().secret().to_string();
    let host = f.host("dev");
    let c = client();
    let burst = |n: usize| {
        let (c, url, host) = (c.clone(), url.clone(), host.clone());
        async move {
            let mut tasks = tokio::task::JoinSet::new();
            for worker in 0..16 {
                let (c, url, host) = (c.clone(), url.clone(), host.clone());
                tasks.spawn(async move {
                    for i in 0..n / 16 {
                        let mut req = c.get(&url).header("X-Databricks-Metadata-Version", "1");
                        // Mix answers and refusals.
                        if (i + worker) % 4 != 0 {
                            req = req.header("X-Databricks-Host", &host);
                        }
                        let resp = req.send().await.unwrap();
                        assert!(resp.status() == 200 || resp.status() == 400);
                        resp.bytes().await.unwrap();
                    }
                });
            }
            while let Some(r) = tasks.join_next().await {
                r.unwrap();
            }
        }
    };
    burst(2000).await;
    let warm = rss_kib();
    burst(4000).await;
    let mid = rss_kib();
    burst(4000).await;
    let end = rss_kib();
    eprintln!("RSS KiB: warm {warm}, after +4000 {mid}, after +8000 {end}");
    assert!(end.saturating_sub(mid) < 4 * 1024, "RSS grew {} KiB over 4000 requests", end - mid);
    assert!(end.saturating_sub(warm) < 8 * 1024, "RSS grew {} KiB over 8000 requests", end - warm);
}

#[tokio::test]
async fn the_cli_helper_flavour_writes_a_helper_profile_beside_the_token_profile() {
    let f = fixture().await;
    let e = f.signed_in_engine().await;
    let ini = std::fs::read_to_string(&f.paths.databrickscfg).unwrap();
    assert!(databrickscfg::read_profile(&ini, "dev").unwrap().unwrap().iter().any(|(k, _)| k == "token"));

    let text = std::fs::read_to_string(&f.paths.config).unwrap();
    std::fs::write(&f.paths.config, format!("profile_flavour = \"cli-helper\"\n{text}")).unwrap();
    let opts =
        EngineOptions { cli_helper_path: Some("/opt/lakepass/bin/lakepass".into()), ..Default::default() };
    let helper = f.engine_with(Http::new(), f.manual_clock(), opts).await;
    drop(e);
    let t = helper.refresh_workspace(&helper.config().workspace(Some("dev")).unwrap(), true).await.unwrap();
    let ini = std::fs::read_to_string(&f.paths.databrickscfg).unwrap();
    // The profile the Databricks CLI reads stays a token profile: its `databricks-cli` auth
    // ignores `databricks_cli_path` (CLI v0.290+).
    let main = databrickscfg::read_profile(&ini, "dev").unwrap().unwrap();
    assert_eq!(
        main,
        vec![("host".to_string(), f.host("dev")), ("token".to_string(), t.access_token.secret().to_string())]
    );
    let profile = databrickscfg::read_profile(&ini, "dev-helper").unwrap().unwrap();
    // This config is not the default one, so the profile names a script that runs the given
    // `lakepass` on it (an SDK's environment does not know the config path).
    let script = profile.iter().find(|(k, _)| k == "databricks_cli_path").map(|(_, v)| v.clone()).unwrap();
    assert!(std::path::Path::new(&script).starts_with(&f.paths.data_dir), "{script}");
    let text = std::fs::read_to_string(&script).unwrap();
    let config = f.paths.config.display().to_string();
    assert!(
        text.contains(&format!("exec '/opt/lakepass/bin/lakepass' --config '{config}' \"$@\"")),
        "{text}"
    );
    assert_eq!(
        profile,
        vec![
            ("host".to_string(), f.host("dev")),
            ("auth_type".to_string(), "databricks-cli".to_string()),
            ("databricks_cli_path".to_string(), script.clone()),
        ]
    );
    // `prod` was not refreshed yet: it has no helper profile until its next refresh.
    assert!(databrickscfg::read_profile(&ini, "prod").unwrap().unwrap().iter().any(|(k, _)| k == "token"));
    assert!(databrickscfg::read_profile(&ini, "prod-helper").unwrap().is_none());
}
