//! The live token service under a burst: 10 000 requests, every answer the right token, no
//! refresh storm, and memory flat (resident set measured before and after, in this process).

use lakepass_core::serve::LiveService;

use super::*;
#[cfg(target_os = "linux")]
use crate::support::live::rss_kib;

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
