//! The hand-off: snapshots made from the runtime state, and tokens and statuses handed to the
//! sinks. Which tokens a sink sees is decided here, by the token's scope, in one place
//! ([`Engine::sinks_for`]).

use std::sync::Mutex;

use super::key::{TokenKey, TokenScope};
use super::runtime::SinkFailures;
use super::{Engine, EngineError};
use crate::error::Failure;
use crate::sink::SharedSink;
use crate::status::Snapshot;
use lakepass_config::Workspace;
use lakepass_wire::exchange::WorkspaceToken;

/// The engine's sinks. The state file is held apart because the process that owns refreshing
/// swaps it for the whole-view writer ([`Engine::own_state_file`]).
pub(super) struct Sinks {
    others: Vec<SharedSink>,
    state_file: SharedSink,
}

impl Sinks {
    pub(super) fn new(others: Vec<SharedSink>, state_file: SharedSink) -> Mutex<Self> {
        Mutex::new(Sinks { others, state_file })
    }
}

/// What raises a process-wide warning (one at most per source, shown until it clears).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum WarningSource {
    /// The live token service (its port is taken, it stopped).
    LiveService,
}

impl Engine {
    /// Adds a sink; it hears of every token and status from now on.
    pub(crate) fn add_sink(&self, sink: SharedSink) {
        self.0.sinks.lock().expect("sinks").others.push(sink);
    }

    /// Replaces the state-file sink with the owner's, which writes the whole settled view: for
    /// the one process that owns refreshing.
    pub(crate) fn own_state_file(&self) {
        let owner = std::sync::Arc::new(crate::sink::StateFile::owner(self.0.paths.state_file()));
        self.0.sinks.lock().expect("sinks").state_file = owner;
    }

    /// Every sink, the state file last.
    fn sinks(&self) -> Vec<SharedSink> {
        let s = self.0.sinks.lock().expect("sinks");
        s.others.iter().chain(std::iter::once(&s.state_file)).cloned().collect()
    }

    /// The sinks a token of `scope` and its refreshes go to: all of them for the workspace's
    /// own token, none for an MCP token (no profile or state-file entry may hold it).
    fn sinks_for(&self, scope: TokenScope) -> Vec<SharedSink> {
        if scope.reaches_sinks() { self.sinks() } else { Vec::new() }
    }

    /// The sinks that could not write `ws`'s last token, and why. The token itself is good.
    pub fn sink_failures(&self, ws: &str) -> SinkFailures {
        let key = TokenKey { workspace: ws.to_string(), scope: TokenScope::Workspace };
        self.0.runtime.sink_failures(&key)
    }

    /// The current view of every workspace.
    pub fn snapshot(&self) -> Snapshot {
        let now = self.now();
        let workspaces =
            self.0.workspaces.iter().map(|ws| self.0.runtime.workspace_status(ws, now)).collect();
        let warnings = self.0.warnings.lock().expect("warnings").values().cloned().collect();
        Snapshot { workspaces, at: now, warnings }
    }

    /// Sets (or, with `None`, clears) a process-wide warning from `source` and publishes it.
    pub(crate) fn set_warning(&self, source: WarningSource, warning: Option<Failure>) {
        {
            let mut w = self.0.warnings.lock().expect("warnings");
            match warning {
                Some(f) => w.insert(source, f),
                None => w.remove(&source),
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

    /// Hands every workspace token this engine holds to the sinks once: what the owning process
    /// does when it starts, so a workspace whose token was minted elsewhere (another process,
    /// or another workspace on the same host, which shares its vault key) has its profile
    /// written now, not at its next refresh. Profiles that already hold the token are not
    /// rewritten.
    pub(crate) async fn sync_sinks(&self) {
        for ws in self.0.workspaces.clone() {
            let held = self.0.runtime.held(&TokenKey::workspace(&ws), &ws);
            if let Some(t) = held.filter(|t| t.expires_at > self.now()) {
                self.hand_off(&ws, TokenScope::Workspace, &t).await;
            }
        }
        self.publish();
    }

    /// Hands a new token to every sink its scope reaches, in order, on one blocking thread,
    /// recording each one's outcome.
    pub(super) async fn hand_off(&self, ws: &Workspace, scope: TokenScope, token: &WorkspaceToken) {
        let sinks = self.sinks_for(scope);
        if sinks.is_empty() {
            return;
        }
        let (w, t, s) = (ws.clone(), token.clone(), sinks.clone());
        let outcomes = tokio::task::spawn_blocking(move || {
            s.iter().map(|s| s.on_token(&w, &t).map_err(|e| Failure::new(e.kind(), e.to_string()))).collect()
        });
        let outcomes: Vec<Result<(), Failure>> = outcomes.await.expect("sink task");
        let key = TokenKey::new(ws, scope);
        for (sink, res) in sinks.iter().zip(outcomes) {
            if let Err(f) = &res {
                tracing::warn!(workspace = %ws.name, sink = sink.name(), error = %f, "could not write the new token");
            }
            self.0.runtime.sink_result(&key, sink.name(), res, sink.shown_in_status());
        }
    }

    /// Records how a refresh of `ws`'s `scope` token ended, publishes, and tells the sinks its
    /// scope reaches that keep per-refresh records (a CLI call's state-file entry), on a
    /// blocking thread like [`Engine::hand_off`]: they rewrite files under a lock.
    pub(super) async fn settle(
        &self,
        ws: &Workspace,
        scope: TokenScope,
        result: &Result<WorkspaceToken, EngineError>,
    ) {
        let now = self.now();
        let key = TokenKey::new(ws, scope);
        match result {
            Ok(t) => self.0.runtime.token(&key, t),
            Err(e) => self.0.runtime.failure(&key, e.failure(), now, &self.0.opts),
        }
        self.publish();
        let sinks = self.sinks_for(scope);
        if sinks.is_empty() {
            return;
        }
        let entry = self.0.runtime.workspace_status(ws, now);
        let recorded = tokio::task::spawn_blocking(move || {
            for sink in sinks {
                if let Err(e) = sink.on_refreshed(&entry, now) {
                    tracing::debug!(sink = sink.name(), error = %e, "sink could not record the refresh");
                }
            }
        });
        recorded.await.expect("sink task");
    }

    /// Tells every sink that `workspaces` were signed out of; returns what they removed.
    pub(super) async fn hand_off_sign_out(&self, workspaces: &[Workspace]) -> Vec<String> {
        let mut removed = Vec::new();
        for sink in self.sinks() {
            let signed_out = workspaces.to_vec();
            let done =
                tokio::task::spawn_blocking(move || sink.on_sign_out(&signed_out).map_err(|e| (sink, e)))
                    .await
                    .expect("sink task");
            match done {
                Ok(names) => removed.extend(names),
                Err((sink, e)) => {
                    tracing::warn!(sink = sink.name(), error = %e, "could not remove what this sink wrote")
                }
            }
        }
        removed
    }
}
