//! Per-workspace runtime state, the snapshots made from it, and handing both to the sinks.

use std::collections::BTreeMap;

use super::schedule::refresh_due_at;
use super::{Engine, EngineError};
use crate::error::Failure;
use crate::sink::SharedSink;
use crate::status::{Snapshot, TokenState, WorkspaceStatus};
use lakepass_config::Workspace;
use lakepass_wire::clock::UnixTime;
use lakepass_wire::exchange::WorkspaceToken;

/// Per sink name, why it could not write a workspace's last token.
pub type SinkFailures = BTreeMap<&'static str, Failure>;

#[derive(Debug, Default, Clone)]
pub(super) struct Runtime {
    pub(super) token: Option<WorkspaceToken>,
    pub(super) refreshing: bool,
    pub(super) needs_login: bool,
    pub(super) needs_login_since: UnixTime,
    /// Sinks that failed on the last token: shown in status, kept apart from refresh errors.
    pub(super) sink_failures: SinkFailures,
    pub(super) failures: u32,
    pub(super) next_retry_at: UnixTime,
    pub(super) last_error: Option<Failure>,
}

impl Engine {
    pub(super) fn update(&self, ws: &str, f: impl FnOnce(&mut Runtime)) {
        let mut rt = self.0.runtime.lock().expect("runtime state");
        f(rt.entry(ws.to_string()).or_default());
    }

    /// The token this engine holds in memory for `ws`, if it was minted by `ws`'s host.
    pub(super) fn held_token(&self, ws: &Workspace) -> Option<WorkspaceToken> {
        let rt = self.0.runtime.lock().expect("runtime state");
        rt.get(&ws.name).and_then(|r| r.token.clone()).filter(|t| t.host == ws.host)
    }

    /// The sinks that could not write `ws`'s last token, and why. The token itself is good.
    pub fn sink_failures(&self, ws: &str) -> SinkFailures {
        let rt = self.0.runtime.lock().expect("runtime state");
        rt.get(ws).map(|r| r.sink_failures.clone()).unwrap_or_default()
    }

    /// The current view of every workspace.
    pub fn snapshot(&self) -> Snapshot {
        let now = self.now();
        let rt = self.0.runtime.lock().expect("runtime state");
        let workspaces = self
            .0
            .workspaces
            .iter()
            .map(|ws| status_of(ws, &rt.get(&ws.name).cloned().unwrap_or_default(), now))
            .collect();
        let warnings = self.0.warnings.lock().expect("warnings").values().cloned().collect();
        Snapshot { workspaces, at: now, warnings }
    }

    /// Sets (or, with `None`, clears) a process-wide warning from `source` and publishes it.
    pub fn set_warning(&self, source: &'static str, warning: Option<Failure>) {
        {
            let mut w = self.0.warnings.lock().expect("warnings");
            match warning {
                Some(f) => w.insert(source, f),
                None => w.remove(source),
            };
        }
        self.publish();
    }

    /// Sends the snapshot to subscribers when it changed, and to every sink.
    pub(super) fn publish(&self) {
        let snap = self.snapshot();
        self.0.tx.send_if_modified(|old| {
            let changed = old.workspaces != snap.workspaces || old.warnings != snap.warnings;
            if changed {
                *old = snap.clone();
            }
            changed
        });
        for sink in self.sinks() {
            if let Err(e) = sink.on_snapshot(&snap) {
                tracing::debug!(sink = sink.name(), error = %e, "sink could not take the snapshot");
            }
        }
    }

    /// Hands every token this engine holds to the sinks once: what the owning process does when
    /// it starts, so a workspace whose token was minted elsewhere (another process, or another
    /// workspace on the same host, which shares its vault key) has its profile written now, not
    /// at its next refresh. Profiles that already hold the token are not rewritten.
    pub async fn sync_sinks(&self) {
        for ws in self.0.workspaces.clone() {
            if let Some(t) = self.held_token(&ws).filter(|t| t.expires_at > self.now()) {
                self.deliver(&ws, &t).await;
            }
        }
        self.publish();
    }

    /// Hands a new token to every sink, in order, on one blocking thread, recording each one's
    /// outcome.
    pub(super) async fn deliver(&self, ws: &Workspace, token: &WorkspaceToken) {
        let sinks = self.sinks();
        let (w, t, s) = (ws.clone(), token.clone(), sinks.clone());
        let outcomes = tokio::task::spawn_blocking(move || {
            s.iter().map(|s| s.on_token(&w, &t).map_err(|e| Failure::new(e.kind(), e.to_string()))).collect()
        });
        let outcomes: Vec<_> = outcomes.await.expect("sink task");
        for (sink, res) in sinks.iter().zip(outcomes) {
            self.record_sink(ws, sink, res);
        }
    }

    fn record_sink(&self, ws: &Workspace, sink: &SharedSink, res: Result<(), Failure>) {
        match res {
            Ok(()) => self.update(&ws.name, |r| {
                r.sink_failures.remove(sink.name());
            }),
            Err(f) => {
                tracing::warn!(workspace = %ws.name, sink = sink.name(), error = %f, "could not write the new token");
                if sink.shown_in_status() {
                    self.update(&ws.name, |r| {
                        r.sink_failures.insert(sink.name(), f);
                    });
                }
            }
        }
    }

    /// Records how a refresh of `ws` ended, publishes, and tells the sinks that keep per-refresh
    /// records (a CLI call's state-file entry), on a blocking thread like [`Engine::deliver`]:
    /// they rewrite files under a lock.
    pub(super) async fn settle(&self, ws: &Workspace, result: &Result<WorkspaceToken, EngineError>) {
        let now = self.now();
        let opts = &self.0.opts;
        self.update(&ws.name, |r| {
            r.refreshing = false;
            match result {
                Ok(t) => {
                    r.token = Some(t.clone());
                    r.failures = 0;
                    r.next_retry_at = 0;
                    r.needs_login = false;
                    r.last_error = None;
                }
                Err(e) => {
                    r.failures += 1;
                    let needs_login = e.kind().needs_login();
                    if needs_login && !r.needs_login {
                        r.needs_login_since = now;
                    }
                    r.needs_login = needs_login;
                    let backoff =
                        opts.retry_base.saturating_mul(1 << (r.failures - 1).min(10)).min(opts.retry_max);
                    r.next_retry_at = now.saturating_add(backoff.as_secs() as i64);
                    r.last_error = Some(e.failure());
                }
            }
        });
        self.publish();
        let Some(entry) = self.snapshot().workspaces.into_iter().find(|w| w.name == ws.name) else {
            return;
        };
        let sinks = self.sinks();
        let recorded = tokio::task::spawn_blocking(move || {
            for sink in sinks {
                if let Err(e) = sink.on_refreshed(&entry, now) {
                    tracing::debug!(sink = sink.name(), error = %e, "sink could not record the refresh");
                }
            }
        });
        recorded.await.expect("sink task");
    }
}

fn status_of(ws: &Workspace, r: &Runtime, now: UnixTime) -> WorkspaceStatus {
    let state = if r.refreshing {
        TokenState::Refreshing
    } else if r.needs_login {
        TokenState::NeedsLogin
    } else if r.last_error.is_some() && r.failures > 0 {
        TokenState::Failed
    } else {
        match &r.token {
            Some(t) if now < refresh_due_at(t) => TokenState::Fresh,
            _ => TokenState::Expiring,
        }
    };
    WorkspaceStatus {
        name: ws.name.clone(),
        host: ws.host.to_string(),
        profile: ws.profile.clone(),
        state,
        expires_at: r.token.as_ref().map(|t| t.expires_at),
        refresh_due_at: r.token.as_ref().map(refresh_due_at),
        last_error: r.last_error.clone().or_else(|| r.sink_failures.values().next().cloned()),
    }
}
