//! The live token service under a burst: 10 000 requests, every answer the right token, no
//! refresh storm, and memory flat (resident set measured before and after, in this process).

use std::time::Duration;

use lakepass_core::serve::LiveService;
use lakepass_core::{Daemon, DaemonOptions, ErrorKind, Notice};

use super::*;

#[cfg(target_os = "linux")]
fn rss_kib() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_ten_thousand_live_requests_is_answered_right_with_flat_memory() {
    within(std::time::Duration::from_secs(240), async {
        let f = fixture().await;
        let e = f.engine().await;
        f.sign_in(&e).await;
        let svc = LiveService::start(e.clone(), 0).await.unwrap();
        let url = svc.url_for("dev").unwrap().secret().to_string();
        let expected = e.live_token(&ws(&e, "dev")).await.unwrap().access_token.secret().to_string();
        let exchanges = f.ds.stats().workspaces["dev"].exchanges_ok;
        let client = reqwest::Client::builder().pool_max_idle_per_host(64).build().unwrap();
        let burst = |n: usize| {
            let (client, url, host, expected) =
                (client.clone(), url.clone(), f.host("dev"), expected.clone());
            async move {
                let mut tasks = tokio::task::JoinSet::new();
                let workers = 32;
                for _ in 0..workers {
                    let (client, url, host, expected) =
                        (client.clone(), url.clone(), host.clone(), expected.clone());
                    tasks.spawn(async move {
                        for _ in 0..n / workers {
                            let resp = client
                                .get(&url)
                                .header("X-Databricks-Metadata-Version", "1")
                                .header("X-Databricks-Host", &host)
                                .send()
                                .await
                                .unwrap();
                            assert_eq!(resp.status(), 200);
                            let body: serde_json::Value = resp.json().await.unwrap();
                            assert_eq!(body["access_token"], expected.as_str());
                        }
                        n / workers
                    });
                }
                let mut answered = 0;
                while let Some(r) = tasks.join_next().await {
                    answered += r.unwrap();
                }
                answered
            }
        };
        burst(1024).await; // warm-up: pools, allocator arenas
        let before = rss_kib();
        let answered = burst(10_016).await;
        let after = rss_kib();
        eprintln!("live service: {answered} requests answered; RSS {before} KiB -> {after} KiB");
        assert_eq!(answered, 10_016);
        assert!(after.saturating_sub(before) < 8 * 1024, "RSS grew {} KiB", after - before);
        assert_eq!(f.ds.stats().workspaces["dev"].exchanges_ok, exchanges, "served from memory, no exchange");
        svc.shutdown().await;
    })
    .await
}

/// Another local user opens 200 idle sockets to the live service (the review's exhaustion:
/// with 80 idle sockets a good request waited 4.7 s). Idle sockets hold no request slot, so the
/// SDK's request is answered while they stay open; the deadline sits below the header timeout
/// that used to be the only way a slot came back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_idle_sockets_do_not_starve_a_good_request() {
    within(CASE_TIMEOUT, async {
        let f = fixture().await;
        let e = f.engine().await;
        f.sign_in(&e).await;
        let svc = LiveService::start(e.clone(), 0).await.unwrap();
        let mut idle = Vec::new();
        for _ in 0..200 {
            idle.push(tokio::net::TcpStream::connect(svc.local_addr()).await.unwrap());
        }
        let url = svc.url_for("dev").unwrap().secret().to_string();
        let deadline = lakepass_core::serve::HEADER_TIMEOUT - std::time::Duration::from_millis(500);
        let resp = tokio::time::timeout(
            deadline,
            reqwest::Client::new()
                .get(&url)
                .header("X-Databricks-Metadata-Version", "1")
                .header("X-Databricks-Host", f.host("dev"))
                .send(),
        )
        .await
        .expect("answered while 200 idle sockets are open")
        .unwrap();
        assert_eq!(resp.status(), 200);
        drop(idle);
        svc.shutdown().await;
    })
    .await
}

/// Another local user squats the live service's port while Lakepass is stopped (the review's
/// medium finding). The next start cannot bind: it removes the `-live` profiles, so no SDK sends
/// its request (and path secret) to the squatter, warns in every snapshot, and binds as soon as
/// the port is free again, with new path secrets; a URL the squatter collected is worthless.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_squatted_port_removes_the_live_profiles_and_the_service_comes_back() {
    within(CASE_TIMEOUT, async {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut setup = setup();
        setup.config.serve_port = Some(port);
        let f = Fixture::start(setup).await;
        let e = f.engine().await;
        f.sign_in(&e).await;
        let opts =
            DaemonOptions { socket: false, live_retry: Duration::from_millis(200), ..Default::default() };
        let first = Daemon::start(e, opts).await.unwrap();
        let live = |f: &Fixture| {
            let ini = std::fs::read_to_string(&f.paths.databrickscfg).unwrap_or_default();
            lakepass_core::databrickscfg::read_profile(&ini, "dev-live").unwrap()
        };
        let old_url = live(&f)
            .expect("the first start writes dev-live")
            .into_iter()
            .find(|(k, _)| k == "metadata_service_url")
            .unwrap()
            .1;
        first.shutdown().await;

        // Lakepass is stopped; someone else takes the port.
        let squatter = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let e = f.engine().await;
        let second = Daemon::start(e.clone(), opts).await.unwrap();
        assert!(
            second.notices().iter().any(|n| matches!(n, Notice::LiveFailed(_))),
            "{:?}",
            second.notices()
        );
        wait_until(|| live(&f).is_none()).await;
        let warned = e.snapshot().warnings;
        assert!(warned.iter().any(|w| w.kind == ErrorKind::LiveService), "{warned:?}");

        // The port comes free: the service binds, writes new URLs, and the warning goes.
        drop(squatter);
        wait_until(|| live(&f).is_some()).await;
        wait_until(|| e.snapshot().warnings.is_empty()).await;
        let new_url = live(&f).unwrap().into_iter().find(|(k, _)| k == "metadata_service_url").unwrap().1;
        assert_ne!(new_url, old_url, "a URL the squatter may have collected must not work again");
        let ask = |url: String| {
            let host = f.host("dev");
            async move {
                reqwest::Client::new()
                    .get(url)
                    .header("X-Databricks-Metadata-Version", "1")
                    .header("X-Databricks-Host", host)
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            }
        };
        assert_eq!(ask(old_url).await, 404);
        assert_eq!(ask(new_url).await, 200);
        second.shutdown().await;
    })
    .await
}

/// Polls `done` every 50 ms until it holds; the case's own deadline bounds the wait.
async fn wait_until(mut done: impl FnMut() -> bool) {
    while !done() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
