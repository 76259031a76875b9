//! Secrets that cannot be logged by accident.
//!
//! Access tokens, refresh tokens, client secrets and path secrets are all [`Secret`]s. `Debug`
//! prints `[redacted]`, there is no `Display`, and reading the value takes an explicit
//! [`Secret::secret`] call, which is easy to grep for in review. Memory is zeroed on drop.
//! (Pattern from oauth2-rs.)

use serde::{Deserialize, Serialize};
use zeroize::Zeroize;

/// A secret string: a token, a refresh token, a client secret.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret value. Every call site is a place a token may leak: keep them few.
    pub fn secret(&self) -> &str {
        &self.0
    }

    /// Whether `given` is this secret, compared in constant time (for equal lengths: the secrets
    /// compared this way, `state` and path secrets, have a fixed length, so it says nothing).
    pub fn matches(&self, given: &str) -> bool {
        constant_time_eq(self.0.as_bytes(), given.as_bytes())
    }

    /// True when the secret is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// Equal in constant time for equal lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let s = Secret::new("dapi-very-secret");
        let shown = format!("{s:?} {:?}", Some(&s));
        assert!(!shown.contains("very-secret"), "{shown}");
        assert_eq!(shown, "[redacted] Some([redacted])");
        assert_eq!(s.secret(), "dapi-very-secret");
    }
}
