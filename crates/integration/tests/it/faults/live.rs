//! The live token service under a burst: 10 000 requests, every answer the right token, no
//! refresh storm, and memory flat.
//!
//! The service runs in a second process (this test binary again, `support::child`) and its
//! resident set is read from `/proc/<pid>` before and after the burst. Measuring this process
//! instead would count the devstack, the 32 clients and, under `cargo test`, every other case
//! running as a thread beside it.

use lakepass_engine::serve::LiveService;

use super::*;
#[cfg(target_os = "linux")]
use crate::support::live::rss_kib_of;

#[cfg(target_os = "linux")]
const BURST: &str = "faults::live::a_burst_of_ten_thousand_live_requests_is_answered_right_with_flat_memory";

/// The case's second process: an engine on the parent's home and clock behind a live service;
/// it says the service's URL, serves until the parent says go, then stops.
#[cfg(target_os = "linux")]
async fn live_service_in_a_second_process() {
    let home = std::env::var("LAKEPASS_IT_HOME").unwrap();
    let now: i64 = std::env::var("LAKEPASS_IT_NOW").unwrap().parse().unwrap();
    let e = crate::support::engine_at(std::path::Path::new(&home), &setup(), now).await;
    let svc = LiveService::start(e.clone(), 0).await.unwrap();
    // The URL holds the service's path secret: it goes to the parent over a pipe, nowhere else.
    crate::support::child::say(&format!("url {}", svc.url_for("dev").unwrap().secret()));
    crate::support::child::ready_then_wait_for_go().await;
    svc.shutdown().await;
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_ten_thousand_live_requests_is_answered_right_with_flat_memory() {
    if crate::support::child::role().is_some() {
        return live_service_in_a_second_process().await;
    }
    within(std::time::Duration::from_secs(240), async {
        let f = fixture().await;
        let e = f.engine().await;
        f.sign_in(&e).await;
        let expected = e.live_token(&ws(&e, "dev")).await.unwrap().access_token.secret().to_string();
        let exchanges = f.ds.stats().workspaces["dev"].exchanges_ok;
        let env = [
            ("LAKEPASS_IT_HOME", f.dir.path().display().to_string()),
            ("LAKEPASS_IT_NOW", f.now().to_string()),
        ];
        let mut service = crate::support::child::Child::spawn(BURST, "live-service", &env);
        let url = service.line("url ").await;
        let pid = service.pid().to_string();
        let client = reqwest::Client::builder().no_proxy().pool_max_idle_per_host(64).build().unwrap();
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
        let before = rss_kib_of(&pid);
        let answered = burst(10_016).await;
        let after = rss_kib_of(&pid);
        eprintln!("live service (pid {pid}): {answered} requests answered; RSS {before} KiB -> {after} KiB");
        assert_eq!(answered, 10_016);
        assert!(after.saturating_sub(before) < 8 * 1024, "RSS grew {} KiB", after - before);
        assert_eq!(f.ds.stats().workspaces["dev"].exchanges_ok, exchanges, "served from memory, no exchange");
        service.start().await; // the service's cue to stop
        service.finish().await;
    })
    .await
}
