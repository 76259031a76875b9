//! Waiting in tests: polling for a condition, and sleeping until a wall-clock time.

use std::time::{Duration, Instant, SystemTime};

/// Polls `check` every 100 ms until it returns `Some`, or panics after `timeout` with `what`.
pub async fn wait_for<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Sleeps until the wall clock is at least `t` (UNIX seconds) plus `extra`.
pub async fn sleep_until_unix(t: i64, extra: Duration) {
    let now =
        SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).expect("clock after 1970").as_secs_f64();
    let wait = (t as f64 - now).max(0.0);
    tokio::time::sleep(Duration::from_secs_f64(wait) + extra).await;
}
