//! The app's host for the engine: builds it exactly as the CLI does, runs it, rebuilds it when
//! the config changes, and publishes one [`AppView`] for the tray, the dashboard and the
//! notifications to follow.
//!
//! The engine is built over one config and never changes it, so an edit made in the dashboard
//! (add a workspace, change an IdP) saves the file through [`ConfigDoc`] (validated first,
//! written atomically, comments kept), stops the running engine and starts a new one over the
//! new file. Tokens live in the vault, so nothing is lost across a rebuild. The active workspace
//! is host state, saved to the config's `active` so the CLI agrees, without a rebuild.
//!
//! Front ends never poll the engine: a forwarder task waits on the engine's watch channel and
//! republishes on the host's own channel ([`Host::subscribe`]), which outlives engine rebuilds.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lakepass_core::config::{Config, ConfigDoc, ConfigError, IdpConfig, SubjectTokenKind, WorkspaceConfig};
use lakepass_core::doctor::{self, DoctorOptions};
use lakepass_core::engine::{Engine, EngineError, EngineOptions};
use lakepass_core::http::Http;
use lakepass_core::ipc::{self, IpcServer};
use lakepass_core::serve::LiveService;
use lakepass_core::status::{Snapshot, TokenState};
use lakepass_core::store::Store;
use lakepass_core::vault::{Vault, VaultKind};
use lakepass_core::{Paths, SharedClock, SystemClock};
use serde::{Deserialize, Serialize};
use tokio::sync::{oneshot, watch};

use crate::events::{self, Event, EventLog, Level};
use crate::platform::{Launcher, OpenUrl};
use crate::view::{self, AppView};

/// An error as it crosses IPC: a stable kind the UI can act on, a message for people, and the
/// config field at fault when there is one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct AppError {
    /// `needs_login`, `network`, `federation_rejected`, `invalid`, `config`, `launch`, …
    pub kind: String,
    /// What happened and what to do.
    pub message: String,
    /// The dotted config field at fault, e.g. `workspace.dev.host`.
    pub field: Option<String>,
}

impl AppError {
    /// An error of `kind`.
    pub fn new(kind: &str, message: impl Into<String>) -> Self {
        AppError { kind: kind.into(), message: message.into(), field: None }
    }
}

impl From<EngineError> for AppError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Config(c) => c.into(),
            e => AppError::new(e.kind(), e.to_string()),
        }
    }
}

impl From<ConfigError> for AppError {
    fn from(e: ConfigError) -> Self {
        let field = match &e {
            ConfigError::Invalid { field, .. } if !field.is_empty() => Some(field.clone()),
            _ => None,
        };
        let kind = match &e {
            ConfigError::Invalid { .. } | ConfigError::Exists { .. } | ConfigError::IdpInUse { .. } => {
                "invalid"
            }
            _ => "config",
        };
        // The message for a form: the field's own problem, without the file and line prefix.
        let message = match &e {
            ConfigError::Invalid { message, .. } => message.clone(),
            e => e.to_string(),
        };
        AppError { kind: kind.into(), message, field }
    }
}

/// A workspace as the dashboard's form sends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkspaceForm {
    /// IdP name.
    pub idp: String,
    /// Workspace URL.
    pub host: String,
    /// Scopes; empty means the default (`all-apis`).
    #[serde(default)]
    pub scopes: Vec<String>,
    /// `id_token` (default) or `access_token`.
    #[serde(default)]
    pub token: Option<String>,
    /// Service principal id, for service-principal federation.
    #[serde(default)]
    pub client_id: Option<String>,
    /// `~/.databrickscfg` profile; empty means the workspace name.
    #[serde(default)]
    pub profile: Option<String>,
}

/// An IdP as the dashboard's form sends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdpForm {
    /// Issuer URL, exactly as in the id_token.
    pub issuer: String,
    /// OAuth client id.
    pub client_id: String,
    /// Scopes; empty means the default.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Loopback redirect port, 0 or none for any.
    #[serde(default)]
    pub redirect_port: Option<u16>,
}

fn blank_to_none(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

impl WorkspaceForm {
    fn to_config(&self) -> Result<WorkspaceConfig, AppError> {
        let mut w = WorkspaceConfig::new(self.idp.trim(), self.host.trim());
        let scopes: Vec<String> =
            self.scopes.iter().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
        if !scopes.is_empty() {
            w.scopes = scopes;
        }
        w.token = match blank_to_none(self.token.clone()).as_deref() {
            None | Some("id_token") => SubjectTokenKind::IdToken,
            Some("access_token") => SubjectTokenKind::AccessToken,
            Some(other) => {
                return Err(AppError {
                    field: Some("token".into()),
                    ..AppError::new("invalid", format!("`{other}` is not `id_token` or `access_token`"))
                });
            }
        };
        w.client_id = blank_to_none(self.client_id.clone());
        w.profile = blank_to_none(self.profile.clone());
        Ok(w)
    }
}

impl IdpForm {
    fn to_config(&self) -> IdpConfig {
        let mut i = IdpConfig::new(self.issuer.trim(), self.client_id.trim());
        let scopes: Vec<String> =
            self.scopes.iter().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
        if !scopes.is_empty() {
            i.scopes = scopes;
        }
        i.redirect_port = self.redirect_port.unwrap_or(0);
        i
    }
}

/// How the host is set up; tests swap the browser, the launcher and the engine's tunables.
#[derive(Clone)]
pub struct HostOptions {
    /// Opens the sign-in URL.
    pub open_url: OpenUrl,
    /// Runs launches.
    pub launcher: Arc<dyn Launcher>,
    /// The engine's tunables (the defaults are what users get).
    pub engine: EngineOptions,
    /// `LAKEPASS_VAULT`, already parsed.
    pub vault_kind: Option<VaultKind>,
    /// How long a browser sign-in may take.
    pub sign_in_timeout: Duration,
    /// Run the daemon's sinks (engine socket, live token service). Tests that run hosts in
    /// parallel turn them off: the service's port is fixed by the config.
    pub sinks: bool,
}

/// One engine over one config, with the sinks the daemon also runs: the engine socket (so
/// `lakepass token` asks this engine instead of refreshing by itself) and the live token service
/// behind the `<profile>-live` profiles.
struct Generation {
    engine: Engine,
    stop: oneshot::Sender<()>,
    socket: Option<IpcServer>,
    live: Option<LiveService>,
}

impl Generation {
    /// Stops the loop and the sinks; the socket is gone when this returns, so a new generation
    /// can bind it again.
    async fn stop(self) {
        let _ = self.stop.send(());
        drop(self.socket);
        if let Some(live) = self.live {
            live.shutdown().await;
        }
    }
}

#[derive(Default)]
struct State {
    config: Option<Config>,
    config_error: Option<String>,
    generation: Option<Generation>,
    active: Option<String>,
    sessions: BTreeMap<String, bool>,
    signing_in: BTreeSet<String>,
    snapshot: Snapshot,
    events: EventLog,
}

/// Hosts the engine for the app. Cheap to share (`Arc<Host>`).
pub struct Host {
    paths: Paths,
    opts: HostOptions,
    clock: SharedClock,
    vault: Mutex<Option<Vault>>,
    state: Mutex<State>,
    view_tx: watch::Sender<AppView>,
    events_tx: watch::Sender<u64>,
    // Serialises rebuilds (config edits from two windows, or a click during a rebuild).
    rebuild: tokio::sync::Mutex<()>,
}

impl Host {
    /// Opens the vault, loads the config and starts the engine. A missing or broken config is
    /// not an error: the view says what is wrong and the dashboard offers to fix it.
    pub async fn start(paths: Paths, opts: HostOptions) -> Arc<Host> {
        let (view_tx, _) = watch::channel(AppView::default());
        let (events_tx, _) = watch::channel(0);
        let host = Arc::new(Host {
            paths,
            opts,
            clock: Arc::new(SystemClock),
            vault: Mutex::new(None),
            state: Mutex::new(State::default()),
            view_tx,
            events_tx,
            rebuild: tokio::sync::Mutex::new(()),
        });
        host.reload().await;
        host
    }

    /// The paths the app works with.
    pub fn paths(&self) -> &Paths {
        &self.paths
    }

    /// Follows every view the host publishes.
    pub fn subscribe(&self) -> watch::Receiver<AppView> {
        self.view_tx.subscribe()
    }

    /// Ticks whenever an event is added.
    pub fn subscribe_events(&self) -> watch::Receiver<u64> {
        self.events_tx.subscribe()
    }

    /// The current view.
    pub fn view(&self) -> AppView {
        self.view_tx.borrow().clone()
    }

    /// Recent events, newest first.
    pub fn events(&self) -> Vec<Event> {
        self.lock().events.recent()
    }

    /// The running engine, if the config allowed one.
    pub fn engine(&self) -> Option<Engine> {
        self.lock().generation.as_ref().map(|g| g.engine.clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("host state")
    }

    fn now(&self) -> i64 {
        self.clock.now()
    }

    /// Adds an event to the recent-events list.
    pub fn log(&self, level: Level, workspace: Option<&str>, text: impl Into<String>) {
        let e = Event::new(self.now(), level, workspace, text);
        self.lock().events.push(e);
        self.events_tx.send_modify(|n| *n += 1);
    }

    fn publish(&self) {
        let view = {
            let s = self.lock();
            let cx = view::Context {
                config: s.config.as_ref(),
                active: s.active.as_deref(),
                sessions: &s.sessions,
                signing_in: &s.signing_in,
            };
            let mut v = view::build(&cx, &s.snapshot);
            v.config_path = self.paths.config.display().to_string();
            v.config_error = s.config_error.clone();
            if let Some(vault) = self.vault.lock().expect("vault").as_ref() {
                v.vault = vault.location();
                v.vault_fallback = vault.fallback_reason().map(String::from);
            }
            if v.at == 0 {
                v.at = self.now();
            }
            v
        };
        self.view_tx.send_if_modified(|old| {
            let changed = *old != view;
            *old = view;
            changed
        });
    }

    fn on_snapshot(&self, snap: Snapshot) {
        let new_events = {
            let mut s = self.lock();
            let evs = events::diff(&s.snapshot, &snap);
            s.snapshot = snap;
            evs
        };
        for e in new_events {
            self.lock().events.push(e);
            self.events_tx.send_modify(|n| *n += 1);
        }
        self.publish();
    }

    /// Takes the engine's state now, so a view read right after an action reflects it (the
    /// forwarder delivers the same snapshot a moment later, which then changes nothing).
    fn sync(&self, engine: &Engine) {
        self.on_snapshot(engine.snapshot());
    }

    async fn open_vault(&self) -> Result<Vault, String> {
        if let Some(v) = self.vault.lock().expect("vault").clone() {
            return Ok(v);
        }
        let v = Vault::open(&self.paths.data_dir, self.opts.vault_kind).await.map_err(|e| e.to_string())?;
        if let Some(why) = v.fallback_reason() {
            self.log(
                Level::Warn,
                None,
                format!("OS keyring unavailable ({why}); secrets are kept in {}", v.location()),
            );
        }
        *self.vault.lock().expect("vault") = Some(v.clone());
        Ok(v)
    }

    /// Stops the engine (if any), re-reads the config and starts a new engine over it.
    pub async fn reload(self: &Arc<Self>) {
        let _g = self.rebuild.lock().await;
        let old = self.lock().generation.take();
        if let Some(g) = old {
            g.stop().await;
        }
        let built = self.build_engine().await;
        match built {
            Ok((config, engine, sessions)) => {
                let (stop_tx, stop_rx) = oneshot::channel();
                let (socket, live) =
                    if self.opts.sinks { self.start_sinks(&engine).await } else { (None, None) };
                let snap = engine.snapshot();
                {
                    let mut s = self.lock();
                    s.active = s
                        .active
                        .clone()
                        .filter(|a| config.workspace.contains_key(a))
                        .or_else(|| config.active.clone());
                    s.config = Some(config);
                    s.config_error = None;
                    s.sessions = sessions;
                    s.snapshot = snap;
                    s.generation = Some(Generation { engine: engine.clone(), stop: stop_tx, socket, live });
                }
                self.spawn_generation(engine, stop_rx);
            }
            Err(message) => {
                let mut s = self.lock();
                s.config = None;
                s.config_error = Some(message);
                s.snapshot = Snapshot::default();
            }
        }
        self.publish();
    }

    async fn build_engine(&self) -> Result<(Config, Engine, BTreeMap<String, bool>), String> {
        let config = Config::load(&self.paths.config).map_err(|e| e.to_string())?;
        let vault = self.open_vault().await?;
        let store = Store::new(vault);
        let engine = Engine::new(
            config.clone(),
            self.paths.clone(),
            store.clone(),
            Http::new(),
            self.clock.clone(),
            self.opts.engine.clone(),
        )
        .map_err(|e| e.to_string())?;
        engine.load().await.map_err(|e| e.to_string())?;
        let mut sessions = BTreeMap::new();
        for idp in config.idp.keys() {
            let signed_in = matches!(store.idp_session(idp).await, Ok(Some(_)));
            sessions.insert(idp.clone(), signed_in);
        }
        Ok((config, engine, sessions))
    }

    /// Starts the engine socket and the live token service, as `lakepass daemon` does. Either
    /// failing is reported in the events and the engine keeps refreshing without it.
    async fn start_sinks(&self, engine: &Engine) -> (Option<IpcServer>, Option<LiveService>) {
        let socket = match IpcServer::start(engine.clone(), ipc::socket_path(&self.paths)).await {
            Ok(s) => Some(s),
            Err(e) => {
                self.log(Level::Warn, None, format!("Engine socket not started: {e}"));
                None
            }
        };
        let live = match LiveService::start(engine.clone(), engine.config().serve.port).await {
            Ok(l) => {
                if let Err(e) = engine.write_live_profiles(l.urls()).await {
                    self.log(Level::Warn, None, format!("Could not write the -live profiles: {e}"));
                }
                Some(l)
            }
            Err(e) => {
                self.log(Level::Warn, None, format!("Live token service not started: {e}"));
                None
            }
        };
        (socket, live)
    }

    fn spawn_generation(self: &Arc<Self>, engine: Engine, stop: oneshot::Receiver<()>) {
        let (run_stop_tx, run_stop_rx) = oneshot::channel::<()>();
        let runner = engine.clone();
        tokio::spawn(async move {
            runner
                .run(async {
                    let _ = run_stop_rx.await;
                })
                .await;
        });
        let host = Arc::downgrade(self);
        let mut rx = engine.subscribe();
        tokio::spawn(async move {
            tokio::pin!(stop);
            loop {
                tokio::select! {
                    _ = &mut stop => break,
                    changed = rx.changed() => {
                        if changed.is_err() { break; }
                        let snap = rx.borrow_and_update().clone();
                        match host.upgrade() {
                            Some(h) => h.on_snapshot(snap),
                            None => break,
                        }
                    }
                }
            }
            let _ = run_stop_tx.send(());
        });
    }

    /// Stops the engine and its sinks for good (on quit).
    pub async fn shutdown(&self) {
        let g = self.lock().generation.take();
        if let Some(g) = g {
            g.stop().await;
        }
    }

    fn require_engine(&self) -> Result<Engine, AppError> {
        self.engine().ok_or_else(|| {
            let why = self.lock().config_error.clone().unwrap_or_else(|| "no config".into());
            AppError::new("config", why)
        })
    }

    /// Makes `name` the active workspace and saves it as the config's `active`.
    pub fn set_active(&self, name: &str) -> Result<(), AppError> {
        let mut doc = ConfigDoc::load(&self.paths.config)?;
        doc.set_active(name)?;
        doc.save(&self.paths.config)?;
        self.lock().active = Some(name.to_string());
        self.log(Level::Info, Some(name), "Made the active workspace");
        self.publish();
        Ok(())
    }

    /// Exchanges new tokens now for every signed-in workspace; returns once they are done.
    pub async fn refresh_now(&self) -> Result<(), AppError> {
        let engine = self.require_engine()?;
        let snap = engine.snapshot();
        let mut first_err = None;
        for ws in engine.workspaces() {
            let waiting =
                snap.workspaces.iter().any(|s| s.name == ws.name && s.state == TokenState::NeedsLogin);
            if waiting {
                continue;
            }
            if let Err(e) = engine.refresh_workspace(ws, true).await {
                first_err.get_or_insert(e);
            }
        }
        self.sync(&engine);
        match first_err {
            Some(e) => Err(e.into()),
            None => Ok(()),
        }
    }

    /// The browser sign-in for `idp`; returns when it is done (or timed out).
    pub async fn sign_in(&self, idp: &str) -> Result<(), AppError> {
        let engine = self.require_engine()?;
        if !self.lock().signing_in.insert(idp.to_string()) {
            return Err(AppError::new(
                "busy",
                format!("a sign-in to `{idp}` is already waiting for the browser"),
            ));
        }
        self.publish();
        let open = self.opts.open_url.clone();
        let opened = Arc::new(Mutex::new(None));
        let opened_in = opened.clone();
        let result = engine
            .login(
                idp,
                move |url| {
                    *opened_in.lock().expect("opened") = Some(open(url));
                },
                self.opts.sign_in_timeout,
            )
            .await;
        self.lock().signing_in.remove(idp);
        if let Some(Err(e)) = opened.lock().expect("opened").take() {
            self.log(Level::Warn, None, format!("Could not open a browser for the sign-in: {e}"));
        }
        match result {
            Ok((session, failures)) => {
                // The run loop may be sleeping on a schedule made before these tokens existed.
                engine.refresh_now();
                self.lock().sessions.insert(idp.to_string(), true);
                self.sync(&engine);
                let who = session.username.as_deref().unwrap_or(&session.subject).to_string();
                self.log(Level::Info, None, format!("Signed in to {idp} as {who}"));
                for (ws, e) in &failures {
                    self.log(Level::Warn, Some(ws), format!("Exchange failed after sign-in: {e}"));
                }
                self.publish();
                Ok(())
            }
            Err(e) => {
                self.log(Level::Warn, None, format!("Sign-in to {idp} failed: {e}"));
                self.publish();
                Err(e.into())
            }
        }
    }

    /// Signs out of `idp`: forgets its session and tokens, removes its profiles.
    pub async fn sign_out(&self, idp: &str) -> Result<(), AppError> {
        let engine = self.require_engine()?;
        let profiles = engine.logout(idp).await?;
        self.lock().sessions.insert(idp.to_string(), false);
        self.sync(&engine);
        let removed = if profiles.is_empty() {
            String::new()
        } else {
            format!("; removed profiles {}", profiles.join(", "))
        };
        self.log(Level::Info, None, format!("Signed out of {idp}{removed}"));
        self.publish();
        Ok(())
    }

    /// Adds or replaces a workspace (validated before saving), then restarts the engine.
    pub async fn save_workspace(
        self: &Arc<Self>,
        name: &str,
        form: &WorkspaceForm,
        replace: bool,
    ) -> Result<(), AppError> {
        let ws = form.to_config()?;
        self.edit_config(|doc| doc.add_workspace(name.trim(), &ws, replace)).await?;
        self.log(Level::Info, Some(name), if replace { "Workspace updated" } else { "Workspace added" });
        Ok(())
    }

    /// Removes a workspace, then restarts the engine.
    pub async fn remove_workspace(self: &Arc<Self>, name: &str) -> Result<(), AppError> {
        self.edit_config(|doc| doc.remove_workspace(name)).await?;
        self.log(Level::Info, Some(name), "Workspace removed");
        Ok(())
    }

    /// Adds or replaces an IdP (validated before saving), then restarts the engine.
    pub async fn save_idp(
        self: &Arc<Self>,
        name: &str,
        form: &IdpForm,
        replace: bool,
    ) -> Result<(), AppError> {
        let idp = form.to_config();
        self.edit_config(|doc| doc.add_idp(name.trim(), &idp, replace)).await?;
        self.log(
            Level::Info,
            None,
            format!("Identity provider {name} {}", if replace { "updated" } else { "added" }),
        );
        Ok(())
    }

    /// Removes an IdP no workspace uses, then restarts the engine.
    pub async fn remove_idp(self: &Arc<Self>, name: &str) -> Result<(), AppError> {
        self.edit_config(|doc| doc.remove_idp(name)).await?;
        self.log(Level::Info, None, format!("Identity provider {name} removed"));
        Ok(())
    }

    async fn edit_config(
        self: &Arc<Self>,
        edit: impl FnOnce(&mut ConfigDoc) -> Result<(), ConfigError>,
    ) -> Result<(), AppError> {
        let path = &self.paths.config;
        let mut doc = ConfigDoc::load(path)?;
        edit(&mut doc)?;
        // Validate the whole result before anything is written; save() checks again.
        doc.to_config(path)?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| AppError::new("config", format!("cannot create {}: {e}", dir.display())))?;
        }
        doc.save(path)?;
        self.reload().await;
        Ok(())
    }

    /// Runs `lakepass doctor` for a workspace: the chain a token travels, link by link, with the
    /// first broken one named and a fix. The report never holds the JWT itself.
    pub async fn diagnose(&self, workspace: &str) -> Result<serde_json::Value, AppError> {
        let engine = self.require_engine()?;
        let ws = engine.config().workspace(Some(workspace))?;
        let report = doctor::diagnose(&engine, &ws, &DoctorOptions::default()).await;
        let verdict = match report.failure() {
            Some(step) => format!("Diagnosis: {}: {}", step.title, step.detail),
            None => "Diagnosis: every check passed".to_string(),
        };
        self.log(if report.ok { Level::Info } else { Level::Warn }, Some(workspace), verdict);
        Ok(serde_json::to_value(report).expect("the doctor's report serializes"))
    }

    /// The workspace an action applies to: the named one, else the active one.
    fn target(&self, workspace: Option<&str>) -> Result<String, AppError> {
        workspace
            .map(String::from)
            .or_else(|| self.view().active)
            .ok_or_else(|| AppError::new("invalid", "no workspace is active; pick one first"))
    }

    /// Launches Claude Code for a workspace (default: the active one) in a terminal.
    pub async fn launch_claude(&self, workspace: Option<&str>) -> Result<(), AppError> {
        let ws = self.target(workspace)?;
        self.launch(&ws, "launch Claude Code", |l, p, w| l.launch_claude(p, w)).await
    }

    /// Opens a terminal for a workspace (default: the active one).
    pub async fn open_terminal(&self, workspace: Option<&str>) -> Result<(), AppError> {
        let ws = self.target(workspace)?;
        self.launch(&ws, "open a terminal", |l, p, w| l.open_terminal(p, w)).await
    }

    async fn launch(
        &self,
        ws: &str,
        what: &str,
        f: impl FnOnce(&dyn Launcher, &Paths, &str) -> Result<(), String> + Send + 'static,
    ) -> Result<(), AppError> {
        let (launcher, paths, name) = (self.opts.launcher.clone(), self.paths.clone(), ws.to_string());
        let r = tokio::task::spawn_blocking(move || f(launcher.as_ref(), &paths, &name))
            .await
            .unwrap_or_else(|e| Err(format!("the launch task failed: {e}")));
        match r {
            Ok(()) => {
                self.log(Level::Info, Some(ws), format!("Asked to {what}"));
                Ok(())
            }
            Err(e) => {
                self.log(Level::Warn, Some(ws), format!("Could not {what}: {e}"));
                Err(AppError::new("launch", e))
            }
        }
    }
}

#[cfg(test)]
mod tests;
