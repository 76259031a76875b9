//! When to refresh: the due time of a token, the staleness of an IdP JWT, and the run loop that
//! wakes for whichever comes first (never sleeping past [`MAX_SLEEP`], so a laptop that slept
//! past expiry refreshes as soon as it wakes).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use super::{Engine, EngineError};
use crate::clock::UnixTime;
use crate::exchange::WorkspaceToken;
use crate::roles;

/// The longest the daemon loop sleeps before looking at the wall clock again.
pub const MAX_SLEEP: Duration = Duration::from_secs(30);

/// When a token should be refreshed: about 10% of its lifetime before expiry, at least a
/// minute (but never more than half the lifetime, for short demo TTLs), minus a per-workspace
/// jitter of up to 5% so many workspaces do not refresh in the same second.
pub fn refresh_due_at(t: &WorkspaceToken) -> UnixTime {
    let lifetime = t.expires_at.saturating_sub(t.issued_at).max(0);
    let margin = (lifetime / 10).max(60).min(lifetime / 2);
    let span = (lifetime / 20).max(1);
    let jitter = (fnv1a(t.host.as_str().as_bytes()) ^ t.issued_at as u64) % span as u64;
    t.expires_at.saturating_sub(margin).saturating_sub(jitter as i64)
}

/// True when an IdP JWT is too close to expiry to be exchanged.
pub(super) fn stale(exp: UnixTime, issued: UnixTime, now: UnixTime) -> bool {
    let lifetime = exp.saturating_sub(issued).max(0);
    exp.saturating_sub(now) < (lifetime / 2).min(120)
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325, |h, b| (h ^ *b as u64).wrapping_mul(0x100000001b3))
}

impl Engine {
    /// Loads what the vault holds, so the first snapshot is right before any refresh.
    pub async fn load(&self) -> Result<(), EngineError> {
        let now = self.now();
        for ws in &self.0.workspaces {
            let token = self.0.store.workspace_token(ws).await?;
            let signed_in = if roles::is_m2m(ws) {
                roles::m2m_secret(&self.0.store, ws).await?.is_some()
            } else {
                self.0.store.idp_session(&ws.idp).await?.is_some()
            };
            self.update(&ws.name, |r| {
                r.token = token;
                r.needs_login = !signed_in;
                r.needs_login_since = now;
            });
        }
        self.publish();
        Ok(())
    }

    /// One pass: refreshes every workspace that is due (and not backing off), publishes, and
    /// returns how long to sleep before the next pass.
    pub async fn tick(&self) -> Duration {
        let now = self.now();
        let sem = Arc::new(Semaphore::new(self.0.opts.concurrency.max(1)));
        let mut tasks = Vec::new();
        for ws in self.0.workspaces.clone() {
            let r = self.0.runtime.lock().expect("runtime state").get(&ws.name).cloned().unwrap_or_default();
            let due = r.token.as_ref().map(refresh_due_at).unwrap_or(now);
            // Only a new sign-in helps; when one happened, act on it at once (no backoff), and
            // hand its token to the sinks even when the signing-in process exchanged it.
            let signed_in_elsewhere = r.needs_login;
            if r.needs_login {
                if !self.signed_in_since(&ws, r.needs_login_since).await {
                    continue;
                }
            } else if now < due || now < r.next_retry_at {
                continue;
            }
            let (engine, sem) = (self.clone(), sem.clone());
            tasks.push(tokio::spawn(async move {
                let _permit = sem.acquire().await.expect("semaphore open");
                if let Err(e) = engine.refresh_with(&ws, false, signed_in_elsewhere).await {
                    tracing::warn!(workspace = %ws.name, kind = %e.kind(), error = %e, "refresh failed");
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
        let rt = self.0.runtime.lock().expect("runtime state");
        let next = rt
            .values()
            .filter(|r| !r.needs_login)
            .map(|r| r.token.as_ref().map(refresh_due_at).unwrap_or(now).max(r.next_retry_at))
            .min();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::WorkspaceHost;
    use crate::secret::Secret;

    fn tok(issued: i64, lifetime: i64, host: &str) -> WorkspaceToken {
        WorkspaceToken {
            host: WorkspaceHost::parse(host).unwrap(),
            access_token: Secret::new("t"),
            expires_at: issued + lifetime,
            issued_at: issued,
            scope: None,
        }
    }

    #[test]
    fn refresh_is_due_about_ten_percent_before_expiry_with_bounded_jitter() {
        let t = tok(1_000, 3600, "https://a.example");
        let due = refresh_due_at(&t);
        // margin 360 s, jitter < 180 s
        assert!(due <= 1_000 + 3600 - 360 && due > 1_000 + 3600 - 360 - 180, "{due}");
        // Short lifetimes: at least a minute, but never more than half.
        let short = tok(0, 90, "https://a.example");
        assert!(refresh_due_at(&short) <= 45 && refresh_due_at(&short) >= 40);
        let tiny = tok(0, 4, "https://a.example");
        assert_eq!(refresh_due_at(&tiny), 2);
    }

    #[test]
    fn jitter_spreads_workspaces() {
        let dues: std::collections::BTreeSet<_> =
            (0..50).map(|i| refresh_due_at(&tok(0, 3600, &format!("https://ws{i}.example")))).collect();
        assert!(dues.len() > 20, "jitter should spread 50 workspaces, got {} distinct", dues.len());
    }

    #[test]
    fn idp_jwt_staleness() {
        assert!(!stale(3600, 0, 0));
        assert!(stale(3600, 0, 3500));
        assert!(!stale(10, 0, 4)); // short demo lifetimes: half the lifetime
        assert!(stale(10, 0, 6));
    }
}
