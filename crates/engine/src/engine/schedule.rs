//! The run loop: refreshes every due token, whatever its scope (which tokens are due is the
//! runtime's view, [`super::runtime::Runtimes::due`]; when one is due is `timing`'s rule), and
//! wakes for whichever comes first, never sleeping past [`MAX_SLEEP`], so a laptop that slept
//! past expiry refreshes as soon as it wakes.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use super::Engine;
use super::runtime::Due;

/// The longest the daemon loop sleeps before looking at the wall clock again.
pub const MAX_SLEEP: Duration = Duration::from_secs(30);

impl Engine {
    /// One pass: refreshes every token that is due (the workspaces' own, and the MCP tokens
    /// someone asked for; none backing off), publishes, and returns how long to sleep before the
    /// next pass.
    pub async fn tick(&self) -> Duration {
        let now = self.now();
        let sem = Arc::new(Semaphore::new(self.0.opts.concurrency.max(1)));
        let mut tasks = Vec::new();
        for (key, due) in self.0.runtime.due(now) {
            let Some(ws) = self.workspace_named(&key.workspace).cloned() else { continue };
            // Only a new sign-in helps; when one happened, act on it at once (no backoff). The
            // token the signing-in process exchanged is adopted and handed to this one's sinks.
            if let Due::AfterSignInSince(since) = due
                && !self.signed_in_since(&ws, since).await
            {
                continue;
            }
            let (engine, sem) = (self.clone(), sem.clone());
            tasks.push(tokio::spawn(async move {
                let _permit = sem.acquire().await.expect("semaphore open");
                if let Err(e) = engine.refresh(&ws, key.scope, false).await {
                    tracing::warn!(workspace = %ws.name, scope = %key.scope, kind = %e.kind(), error = %e, "refresh failed");
                }
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
        self.publish();
        self.next_sleep()
    }

    fn next_sleep(&self) -> Duration {
        let now = self.now();
        let next = self.0.runtime.next_due(now);
        let secs = next.map(|n| n.saturating_sub(now).max(1) as u64).unwrap_or(MAX_SLEEP.as_secs());
        Duration::from_secs(secs).min(MAX_SLEEP)
    }

    /// Runs until `shutdown` completes: tick, sleep (at most [`MAX_SLEEP`]), repeat.
    pub async fn run(&self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let sleep = self.tick().await;
            tokio::select! {
                _ = &mut shutdown => return,
                _ = tokio::time::sleep(sleep) => {}
                _ = self.0.wake.notified() => {}
            }
        }
    }
}
