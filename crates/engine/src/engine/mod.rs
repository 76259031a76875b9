//! The refresh engine: keeps Databricks tokens fresh, each named by a [`TokenKey`] (a workspace
//! and a [`TokenScope`]: the workspace's own token, or a managed MCP server's one-scope token).
//!
//! Per token a small state machine — Fresh → Expiring → Refreshing → Fresh | Failed |
//! NeedsLogin — driven by [`Engine::tick`], which the daemon (or the tray app) calls in a loop.
//! Decisions use the injected wall clock, and the loop never sleeps longer than
//! [`MAX_SLEEP`], so a laptop that slept past expiry refreshes as soon as it wakes.
//!
//! Refreshing is safe across processes: the IdP session is refreshed under a per-IdP file lock
//! and a token's exchange under a lock keyed by its vault key, each held only around
//! read → refresh → write. Whoever loses the race re-reads the vault and adopts the winner's
//! tokens, because two refreshes with a rotating refresh token revoke the whole family.
//! Every state change goes out on a `watch` channel ([`Engine::subscribe`]); every new token
//! goes to the [sinks](crate::sink), which the engine knows only through their trait.
//!
//! The files, by job: `key` (what names a token, and what follows from its scope), `timing`
//! (when a token is due and when an IdP JWT is stale: pure functions), `schedule` (the run
//! loop), `sign_in` (sign-in and sign-out as the tokens see them), `refresh` (the one token
//! path: serve, exchange under the locks, cache, hand on, for every scope), `state` (the
//! hand-off: snapshots, sinks), `runtime` (a token's typed runtime state, and every transition
//! of it), `session` (the IdP session and its discovery), `scoped` (the status shape of managed
//! MCP tokens). Calls go one way: schedule and sign_in → refresh → state → runtime, and the
//! token path → session, which calls none of them; `key` and `timing` import no other engine
//! file, so every file may use them without an import circle.

mod build;
mod error;
mod key;
mod refresh;
mod runtime;
mod schedule;
mod scoped;
mod session;
mod sign_in;
mod state;
mod timing;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, watch};

use crate::audit::{self, AuditEvent, EventKind};
use crate::sink::{CredentialsProfile, LiveProfiles, SharedSink, StateFile};
use crate::status::Snapshot;
use crate::store::Store;
use lakepass_config::{Config, Workspace};
use lakepass_store::paths::Paths;
use lakepass_wire::clock::{SharedClock, UnixTime};
use lakepass_wire::http::Http;

pub use build::{BuildError, EngineBuilder, vault_kind_from_env};
pub use error::{EngineError, LoginCause};
pub use key::{TokenKey, TokenScope};
pub use runtime::SinkFailures;
pub use schedule::MAX_SLEEP;
pub use scoped::ScopedStatus;
pub use state::WarningSource;
pub use timing::refresh_due_at;

/// How long a cross-process lock is waited for.
const LOCK_TIMEOUT: Duration = Duration::from_secs(60);

/// Tunables; the defaults are what users get.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// First wait after a failed background refresh; doubles up to `retry_max`.
    pub retry_base: Duration,
    /// Longest wait between background retries.
    pub retry_max: Duration,
    /// How many workspaces refresh at once.
    pub concurrency: usize,
    /// The `lakepass` program the `cli-helper` profile flavour names as `databricks_cli_path`;
    /// `None` means the running executable (right for the CLI; the tray app sets its bundled
    /// `lakepass`).
    pub cli_helper_path: Option<PathBuf>,
    /// The workspace token lifetime the engine aims for ([`TARGET_TOKEN_LIFETIME`] by default).
    /// Databricks caps an exchanged token at its subject JWT's remaining life, so the IdP
    /// session is refreshed before an exchange whenever its JWT has less left than this (see
    /// the `schedule` module for the bound on short-lived JWTs).
    pub target_token_lifetime: Duration,
}

/// Databricks' default lifetime of a workspace OAuth token: one hour.
pub(crate) const TARGET_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            retry_base: Duration::from_secs(15),
            retry_max: Duration::from_secs(300),
            // Each workspace is its own host, so this bounds the engine's total (open connections),
            // not one server's load. bench/ measured 100 due workspaces (+50 ms/request): 16 at
            // once took ~4× one workspace's time, 64 about 1.9× (two waves of exchanges; 1.4× with
            // all 100 at once), since the vault and profile writes of workspaces finishing
            // together are merged.
            concurrency: 64,
            cli_helper_path: None,
            target_token_lifetime: TARGET_TOKEN_LIFETIME,
        }
    }
}

struct Inner {
    config: Config,
    workspaces: Vec<Workspace>,
    paths: Paths,
    store: Store,
    http: Http,
    clock: SharedClock,
    opts: EngineOptions,
    /// Per IdP: discovery, signing keys, the in-process session lock (see [`session`]).
    idps: session::Idps,
    /// In-process exchange locks, by the token's vault key (see [`refresh`]).
    token_locks: refresh::TokenLocks,
    /// Every token's runtime state; changed only through its transitions.
    runtime: runtime::Runtimes,
    sinks: Mutex<state::Sinks>,
    warnings: Mutex<std::collections::BTreeMap<WarningSource, crate::error::Failure>>,
    tx: watch::Sender<Snapshot>,
    wake: Notify,
}

/// The engine. Cheap to clone; all clones share state.
#[derive(Clone)]
pub struct Engine(Arc<Inner>);

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("workspaces", &self.0.workspaces.len()).finish()
    }
}

impl Engine {
    /// Builds an engine over a validated config, with the sinks of a process that does not own
    /// refreshing (a CLI call): the credentials profiles, removal of `-live` profiles on
    /// sign-out, and one state-file entry per refresh. [`crate::Daemon`] swaps in the owner's.
    pub fn new(
        config: Config,
        paths: Paths,
        store: Store,
        http: Http,
        clock: SharedClock,
        opts: EngineOptions,
    ) -> Result<Self, EngineError> {
        let workspaces = config.workspaces()?;
        let idps = session::Idps::new(&config);
        let runtime = runtime::Runtimes::new(&workspaces);
        let sinks: Vec<SharedSink> = vec![
            Arc::new(
                CredentialsProfile::new(
                    paths.databrickscfg.clone(),
                    config.profile_flavour,
                    opts.cli_helper_path.clone(),
                )
                .for_config(&paths),
            ),
            Arc::new(LiveProfiles::remover(paths.databrickscfg.clone())),
        ];
        let sinks = state::Sinks::new(sinks, Arc::new(StateFile::entries(paths.state_file())));
        let (tx, _) = watch::channel(Snapshot::default());
        Ok(Engine(Arc::new(Inner {
            config,
            workspaces,
            paths,
            store,
            http,
            clock,
            opts,
            idps,
            token_locks: Default::default(),
            runtime,
            sinks,
            warnings: Mutex::default(),
            tx,
            wake: Notify::new(),
        })))
    }

    /// The resolved workspaces, in config order.
    pub fn workspaces(&self) -> &[Workspace] {
        &self.0.workspaces
    }

    /// The config the engine runs on.
    pub fn config(&self) -> &Config {
        &self.0.config
    }

    /// The store (vault) the engine uses.
    pub fn store(&self) -> &Store {
        &self.0.store
    }

    /// The paths the engine writes to.
    pub fn paths(&self) -> &Paths {
        &self.0.paths
    }

    /// The HTTP client the engine uses (for `doctor` and `admin`, which share its settings).
    pub fn http(&self) -> &Http {
        &self.0.http
    }

    /// The engine's clock.
    pub fn clock(&self) -> &SharedClock {
        &self.0.clock
    }

    /// The configured workspace called `name`.
    pub fn workspace_named(&self, name: &str) -> Option<&Workspace> {
        self.0.workspaces.iter().find(|w| w.name == name)
    }

    /// A receiver that sees every published snapshot.
    pub fn subscribe(&self) -> watch::Receiver<Snapshot> {
        self.0.tx.subscribe()
    }

    /// Asks the run loop to look at every workspace now.
    pub fn refresh_now(&self) {
        self.0.wake.notify_one();
    }

    /// [`EngineOptions::target_token_lifetime`] in seconds.
    fn target_lifetime(&self) -> i64 {
        i64::try_from(self.0.opts.target_token_lifetime.as_secs()).unwrap_or(i64::MAX)
    }

    fn now(&self) -> UnixTime {
        self.0.clock.now()
    }

    fn workspaces_of(&self, idp: &str) -> Vec<Workspace> {
        self.0.workspaces.iter().filter(|w| w.idp == idp).cloned().collect()
    }

    /// Appends one event to the audit log (best effort; never a token).
    async fn audit(
        &self,
        event: EventKind,
        workspace: Option<&str>,
        idp: Option<&str>,
        started: std::time::Instant,
        error: Option<&EngineError>,
    ) {
        let mut e = match error {
            None => AuditEvent::ok(event, self.now(), started.elapsed()),
            Some(err) => {
                AuditEvent::failure(event, self.now(), started.elapsed(), err.kind(), &err.to_string())
                    .error_code(err.error_code())
            }
        };
        e.workspace = workspace.map(String::from);
        e.idp = idp.map(String::from);
        self.record_audit(e).await;
    }

    /// Appends `event` to the audit log on a blocking thread: the append may wait for the log's
    /// lock (rotation), and a pass over many workspaces must not stall the runtime's few worker
    /// threads, which also carry every other refresh's network IO.
    async fn record_audit(&self, event: AuditEvent) {
        let paths = self.0.paths.clone();
        if let Err(e) = tokio::task::spawn_blocking(move || audit::record(&paths, &event)).await {
            tracing::warn!(error = %e, "could not write the audit log");
        }
    }
}
