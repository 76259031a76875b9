//! When a token is due, as pure functions of its times: the due time of a workspace or MCP
//! token ([`refresh_due_at`]) and the staleness of an IdP JWT ([`stale`]). The run loop
//! (`schedule`), the token path (`refresh`), the runtime's views (`runtime`) and the IdP session
//! (`session`) all ask here, so none of them imports another for it.
//!
//! Why an IdP JWT goes stale long before it expires: Databricks derives an exchanged token's
//! lifetime from the subject JWT's (the workspace token never outlives it), so exchanging a JWT
//! with two minutes left buys a two-minute workspace token and another exchange soon after. The
//! rule ([`stale`]): a JWT is too old to exchange once it has less left than
//! `min(target, 4/5 of its own lifetime)`, where `target` is the workspace token lifetime we want
//! ([`EngineOptions::target_token_lifetime`](super::EngineOptions::target_token_lifetime), one
//! hour by default). A JWT longer than the target is refreshed once it could no longer back a
//! full-length token. A JWT shorter than the target (Keycloak's five-minute id_token) can never
//! back one, so it is refreshed once a fifth of its life has passed: every exchange starts from
//! at least 80% of a fresh JWT. The 4/5 bound also keeps a JWT exactly as long as the target
//! from being refreshed for every workspace a second after it was issued.

use lakepass_wire::clock::UnixTime;
use lakepass_wire::exchange::WorkspaceToken;

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

/// True when an IdP JWT (issued at `issued`, expiring at `exp`) has too little life left at `now`
/// to back a workspace token of `target` seconds: less than `min(target, 4/5 of its lifetime)`,
/// or none at all.
pub(super) fn stale(exp: UnixTime, issued: UnixTime, now: UnixTime, target: i64) -> bool {
    let lifetime = exp.saturating_sub(issued).max(0);
    let left = exp.saturating_sub(now);
    left <= 0 || left < (lifetime.saturating_mul(4) / 5).min(target)
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325, |h, b| (h ^ *b as u64).wrapping_mul(0x100000001b3))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lakepass_wire::host::WorkspaceHost;
    use lakepass_wire::secret::Secret;

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
        const HOUR: i64 = 3600;
        assert!(!stale(3600, 0, 0, HOUR));
        assert!(stale(3600, 0, 3500, HOUR));
        // A JWT as long as the target: good until a fifth of it is gone, not refreshed at once.
        assert!(!stale(3600, 0, 720, HOUR));
        assert!(stale(3600, 0, 721, HOUR));
        // A longer JWT: refreshed once it has less than the target left.
        assert!(!stale(8 * HOUR, 0, 7 * HOUR, HOUR));
        assert!(stale(8 * HOUR, 0, 7 * HOUR + 1, HOUR));
        // Short lifetimes (a 5-minute Keycloak id_token, demo TTLs): 80% of their own life.
        assert!(!stale(300, 0, 60, HOUR));
        assert!(stale(300, 0, 61, HOUR));
        assert!(!stale(10, 0, 2, HOUR));
        assert!(stale(10, 0, 3, HOUR));
        // A shorter target lowers the bar.
        assert!(!stale(3600, 0, 3000, 600));
        assert!(stale(3600, 0, 3001, 600));
        // Expired, even when the issue time is nonsense (after the expiry): stale.
        assert!(stale(10, 0, 11, HOUR));
        assert!(stale(10, 20, 10, HOUR));
    }
}
