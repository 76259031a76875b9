//! The published, non-secret view of the engine: per workspace, where its token stands.
//!
//! These types are what every front end reads (the CLI's `status`, the tray and its dashboard,
//! the state file other processes read), so they carry no secret and serialize to a stable
//! shape. They are not storage: the state file that persists them is a sink
//! ([`crate::sink::StateFile`]).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{ErrorKind, Failure};
use lakepass_wire::clock::UnixTime;

/// Where a workspace's token stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum TokenState {
    /// Valid, not due for refresh.
    Fresh,
    /// Inside the refresh window, or no token yet but signed in.
    Expiring,
    /// A refresh is under way.
    Refreshing,
    /// The last refresh failed; retrying with backoff. The old token may still be valid.
    Failed,
    /// Only an interactive sign-in can help.
    NeedsLogin,
}

impl TokenState {
    /// The stable name, as serialized (`needs_login`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            TokenState::Fresh => "fresh",
            TokenState::Expiring => "expiring",
            TokenState::Refreshing => "refreshing",
            TokenState::Failed => "failed",
            TokenState::NeedsLogin => "needs_login",
        }
    }
}

impl fmt::Display for TokenState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The published, non-secret view of one workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkspaceStatus {
    /// Name in config.
    pub name: String,
    /// The workspace host.
    pub host: String,
    /// Its `~/.databrickscfg` profile.
    pub profile: String,
    /// The state.
    pub state: TokenState,
    /// When the current token expires, if there is one.
    pub expires_at: Option<UnixTime>,
    /// When the engine will refresh it.
    pub refresh_due_at: Option<UnixTime>,
    /// The last error (never a token): a refresh that failed, else a sink that could not write.
    pub last_error: Option<Failure>,
}

impl WorkspaceStatus {
    /// Seconds of validity left at `now` (0 when expired or no token).
    pub fn seconds_left(&self, now: UnixTime) -> i64 {
        self.expires_at.map(|e| e.saturating_sub(now).max(0)).unwrap_or(0)
    }

    /// The last error's message, if any.
    pub fn error_message(&self) -> Option<&str> {
        self.last_error.as_ref().map(|f| f.message.as_str())
    }

    /// The last error's kind, if any.
    pub fn error_kind(&self) -> Option<ErrorKind> {
        self.last_error.as_ref().map(|f| f.kind)
    }

    /// How long the token has left at `now`, in words: "59m 12s", "3h 02m", "expired", or
    /// "no token yet" when there is none. Every front end shows the same words.
    pub fn time_left(&self, now: UnixTime) -> String {
        match self.expires_at {
            None => "no token yet".into(),
            Some(_) => time_left(self.seconds_left(now)),
        }
    }
}

/// Seconds in words: "42s", "59m 12s", "3h 02m", "expired".
pub fn time_left(secs: i64) -> String {
    match secs {
        s if s <= 0 => "expired".into(),
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m {:02}s", s / 60, s % 60),
        s => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// Seconds in coarse words, for surfaces that are not redrawn every second (a tray menu, a
/// notification): "52 min", "1 h 05 min", "<1 min", "expired".
pub fn time_left_coarse(secs: i64) -> String {
    match secs {
        s if s <= 0 => "expired".into(),
        s if s < 60 => "<1 min".into(),
        s if s < 3600 => format!("{} min", s / 60),
        s => format!("{} h {:02} min", s / 3600, (s % 3600) / 60),
    }
}

impl fmt::Display for WorkspaceStatus {
    /// One line: `dev: fresh, 59m 12s left` at the snapshot's own time is not known here, so
    /// this shows the state and, when failing, the error.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name, self.state)?;
        if let Some(e) = &self.last_error
            && matches!(self.state, TokenState::Failed | TokenState::NeedsLogin)
        {
            write!(f, " ({e})")?;
        }
        Ok(())
    }
}

/// Everything the engine publishes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Per workspace, in config order.
    pub workspaces: Vec<WorkspaceStatus>,
    /// When this snapshot was taken.
    pub at: UnixTime,
    /// Problems of the process as a whole (the live token service cannot take its port, …):
    /// every front end shows them prominently.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<Failure>,
}

impl Snapshot {
    /// The entry of workspace `name`.
    pub fn workspace(&self, name: &str) -> Option<&WorkspaceStatus> {
        self.workspaces.iter().find(|w| w.name == name)
    }
}

impl fmt::Display for Snapshot {
    /// One line per warning, then one per workspace, with the time left at the snapshot's time.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for w in &self.warnings {
            writeln!(f, "warning: {w}")?;
        }
        for w in &self.workspaces {
            match &w.last_error {
                Some(_) if matches!(w.state, TokenState::Failed | TokenState::NeedsLogin) => {
                    writeln!(f, "{w}")?
                }
                _ => writeln!(f, "{}: {}, {} left", w.name, w.state, w.time_left(self.at))?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(state: TokenState, expires_at: Option<i64>, err: Option<Failure>) -> WorkspaceStatus {
        WorkspaceStatus {
            name: "dev".into(),
            host: "https://dev.example".into(),
            profile: "dev".into(),
            state,
            expires_at,
            refresh_due_at: None,
            last_error: err,
        }
    }

    #[test]
    fn time_left_reads_naturally() {
        assert_eq!(time_left(-5), "expired");
        assert_eq!(time_left(42), "42s");
        assert_eq!(time_left(3599), "59m 59s");
        assert_eq!(time_left(7325), "2h 02m");
        assert_eq!(status(TokenState::Expiring, None, None).time_left(0), "no token yet");
        assert_eq!(time_left_coarse(-5), "expired");
        assert_eq!(time_left_coarse(30), "<1 min");
        assert_eq!(time_left_coarse(52 * 60 + 10), "52 min");
        assert_eq!(time_left_coarse(3600 + 5 * 60), "1 h 05 min");
    }

    #[test]
    fn display_shows_the_error_only_when_failing() {
        let e = Failure::new(ErrorKind::Network, "could not reach x");
        assert_eq!(
            status(TokenState::Failed, None, Some(e.clone())).to_string(),
            "dev: failed (could not reach x)"
        );
        let snap = Snapshot {
            workspaces: vec![status(TokenState::Fresh, Some(100), Some(e))],
            at: 40,
            warnings: vec![],
        };
        assert_eq!(snap.to_string(), "dev: fresh, 1m 00s left\n");
    }

    #[test]
    fn states_serialize_snake_case() {
        for s in [
            TokenState::Fresh,
            TokenState::Expiring,
            TokenState::Refreshing,
            TokenState::Failed,
            TokenState::NeedsLogin,
        ] {
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{s}\""));
        }
    }
}
