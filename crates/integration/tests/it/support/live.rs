//! Talking to the live token service as the Databricks SDKs do, and reading a process's memory
//! for the cases that check it stays flat.

use std::time::Duration;

/// What an SDK sends for workspace `host` to a live-service `url`: its two headers, no proxy.
pub async fn sdk_get(url: &str, host: &str) -> reqwest::Response {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
        .get(url)
        .header("X-Databricks-Metadata-Version", "1")
        .header("X-Databricks-Host", host)
        .send()
        .await
        .unwrap()
}

/// [`sdk_get`], answered within `deadline` or the case fails, saying `while`.
pub async fn sdk_get_within(deadline: Duration, url: &str, host: &str, while_: &str) -> reqwest::Response {
    tokio::time::timeout(deadline, sdk_get(url, host))
        .await
        .unwrap_or_else(|_| panic!("the SDK's request was not answered in {deadline:?} {while_}"))
}

/// This process's resident set, in KiB.
#[cfg(target_os = "linux")]
pub fn rss_kib() -> u64 {
    rss_kib_of("self")
}

/// The resident set of process `pid` (a number, or `self`), in KiB.
#[cfg(target_os = "linux")]
pub fn rss_kib_of(pid: &str) -> u64 {
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4
}
