//! Wall-clock time, injected.
//!
//! The engine never reads the clock itself: it asks a [`Clock`]. Scheduling is done against the
//! wall clock (UNIX seconds), not a monotonic one, because a laptop that slept for eight hours
//! must notice on wake that its tokens expired. Tests use [`ManualClock`] to jump time.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the UNIX epoch.
pub type UnixTime = i64;

/// A source of wall-clock time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now, in whole seconds since the UNIX epoch.
    fn now(&self) -> UnixTime;
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> UnixTime {
        SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
    }
}

/// A clock tests move by hand: it starts at the real time and jumps when told.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    /// A clock reading `start`.
    pub fn new(start: UnixTime) -> Self {
        ManualClock(Arc::new(AtomicI64::new(start)))
    }

    /// Moves the clock forward (or back, with a negative value) by `secs`.
    pub fn advance(&self, secs: i64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> UnixTime {
        self.0.load(Ordering::SeqCst)
    }
}

/// The shared clock handle the engine holds.
pub type SharedClock = Arc<dyn Clock>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_jumps() {
        let c = ManualClock::new(1_000);
        c.advance(8 * 3600);
        assert_eq!(c.now(), 1_000 + 8 * 3600);
        assert!(SystemClock.now() > 1_700_000_000);
    }
}

/// The longest lifetime Lakepass believes a server: a day. Tokens here live about an hour.
pub(crate) const MAX_SERVER_LIFETIME: i64 = 24 * 3600;

/// When something a server says lives `seconds` (default `default`) expires, counted from `now`:
/// clamped to 1 s ..= [`MAX_SERVER_LIFETIME`] with saturating arithmetic, so a hostile or broken
/// `expires_in` (negative, zero, `i64::MAX`) can neither panic nor schedule nonsense.
pub(crate) fn expires_after(now: UnixTime, seconds: Option<i64>, default: i64) -> UnixTime {
    now.saturating_add(seconds.unwrap_or(default).clamp(1, MAX_SERVER_LIFETIME))
}

/// A server-given absolute expiry (a JWT's `exp`), kept within [`MAX_SERVER_LIFETIME`] of `now`.
pub(crate) fn clamp_expiry(now: UnixTime, exp: UnixTime) -> UnixTime {
    exp.min(now.saturating_add(MAX_SERVER_LIFETIME))
}

#[cfg(test)]
mod lifetime_tests {
    use super::*;

    #[test]
    fn server_lifetimes_are_clamped_and_never_overflow() {
        assert_eq!(expires_after(100, Some(3600), 60), 3700);
        assert_eq!(expires_after(100, None, 60), 160);
        assert_eq!(expires_after(100, Some(i64::MAX), 60), 100 + MAX_SERVER_LIFETIME);
        assert_eq!(expires_after(100, Some(-5), 60), 101);
        assert_eq!(expires_after(i64::MAX, Some(10), 60), i64::MAX);
        assert_eq!(clamp_expiry(100, i64::MAX), 100 + MAX_SERVER_LIFETIME);
        assert_eq!(clamp_expiry(100, 200), 200);
    }
}
