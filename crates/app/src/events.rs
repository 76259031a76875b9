//! The dashboard's "recent events": refreshes, failures, sign-ins, launches. Never a token.
//!
//! Engine-side events are derived from consecutive snapshots by a pure function; the host adds
//! its own (sign-in, launch, config saved) as they happen.

use std::collections::VecDeque;

use lakepass_engine::status::{Snapshot, TokenState};
use lakepass_wire::UnixTime;
use serde::{Deserialize, Serialize};

use crate::view::time_left;

/// How the dashboard should colour an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Routine.
    Info,
    /// Needs the user, or something went wrong.
    Warn,
}

/// One line in the list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct Event {
    /// When (unix seconds).
    pub at: UnixTime,
    /// Info or warning.
    pub level: Level,
    /// The workspace concerned, if one.
    pub workspace: Option<String>,
    /// What happened, in words.
    pub text: String,
}

impl Event {
    /// An event now.
    pub fn new(at: UnixTime, level: Level, workspace: Option<&str>, text: impl Into<String>) -> Self {
        Event { at, level, workspace: workspace.map(String::from), text: text.into() }
    }
}

/// The events that going from `prev` to `next` tells of.
pub fn diff(prev: &Snapshot, next: &Snapshot) -> Vec<Event> {
    let mut out = Vec::new();
    for w in &next.workspaces {
        let old = prev.workspaces.iter().find(|o| o.name == w.name);
        let ws = Some(w.name.as_str());
        let new_token = w.expires_at.is_some() && old.is_none_or(|o| o.expires_at < w.expires_at);
        if new_token && old.is_some() {
            let left = time_left(w.expires_at.unwrap_or(0) - next.at);
            out.push(Event::new(next.at, Level::Info, ws, format!("New token, valid for {left}")));
        }
        let was = old.map(|o| o.state);
        if was != Some(w.state) {
            match w.state {
                TokenState::Failed
                    if was != Some(TokenState::Refreshing)
                        || old.and_then(|o| o.last_error.as_ref()) != w.last_error.as_ref() =>
                {
                    let why = w.error_message().unwrap_or("unknown error");
                    out.push(Event::new(next.at, Level::Warn, ws, format!("Refresh failed: {why}")));
                }
                TokenState::NeedsLogin if old.is_some() => {
                    let why = w.error_message().map(|e| format!(" ({e})")).unwrap_or_default();
                    out.push(Event::new(next.at, Level::Warn, ws, format!("Sign-in needed{why}")));
                }
                _ => {}
            }
        }
    }
    out
}

/// The last [`EventLog::CAPACITY`] events, newest last.
#[derive(Debug, Default, Clone)]
pub(crate) struct EventLog {
    events: VecDeque<Event>,
}

impl EventLog {
    /// How many events are kept.
    pub(crate) const CAPACITY: usize = 100;

    /// Appends, dropping the oldest beyond capacity.
    pub fn push(&mut self, e: Event) {
        tracing::info!(workspace = e.workspace.as_deref().unwrap_or("-"), "{}", e.text);
        self.events.push_back(e);
        while self.events.len() > Self::CAPACITY {
            self.events.pop_front();
        }
    }

    /// Newest first.
    pub fn recent(&self) -> Vec<Event> {
        self.events.iter().rev().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::tests::status;

    fn snap(at: i64, ws: Vec<lakepass_engine::status::WorkspaceStatus>) -> Snapshot {
        Snapshot { workspaces: ws, at, warnings: vec![] }
    }

    #[test]
    fn refresh_failure_and_sign_in_needed_are_logged() {
        let a = snap(0, vec![status("dev", TokenState::Fresh, Some(3600))]);
        let b = snap(10, vec![status("dev", TokenState::Refreshing, Some(3600))]);
        assert!(diff(&a, &b).is_empty());
        let c = snap(11, vec![status("dev", TokenState::Fresh, Some(7200))]);
        let e = diff(&b, &c);
        assert_eq!(e.len(), 1);
        assert!(e[0].text.starts_with("New token, valid for 1 h"), "{}", e[0].text);
        let d = snap(12, vec![status("dev", TokenState::Failed, Some(7200))]);
        assert_eq!(diff(&c, &d)[0].text, "Refresh failed: the workspace did not answer");
        assert_eq!(diff(&c, &d)[0].level, Level::Warn);
        let f = snap(13, vec![status("dev", TokenState::NeedsLogin, None)]);
        assert!(diff(&d, &f)[0].text.starts_with("Sign-in needed"));
    }

    #[test]
    fn startup_is_quiet_and_the_log_is_bounded() {
        let first = snap(0, vec![status("dev", TokenState::NeedsLogin, None)]);
        assert!(diff(&Snapshot::default(), &first).is_empty());
        let mut log = EventLog::default();
        for i in 0..150 {
            log.push(Event::new(i, Level::Info, None, format!("e{i}")));
        }
        let r = log.recent();
        assert_eq!(r.len(), EventLog::CAPACITY);
        assert_eq!(r[0].text, "e149");
    }
}
