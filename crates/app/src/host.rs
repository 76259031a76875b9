//! The app's host for the engine: builds it with the core's [`EngineBuilder`], runs it as the
//! core's [`Daemon`] (exactly what `lakepass daemon` runs), rebuilds it when the config changes,
//! and publishes one [`AppView`] for the tray, the dashboard and the notifications to follow.
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

use lakepass_config::{Config, ConfigDoc, ConfigError};
use lakepass_doctor::{self as doctor, DoctorOptions};
use lakepass_engine::engine::{Engine, EngineOptions};
use lakepass_engine::status::{Snapshot, TokenState};
use lakepass_engine::{Daemon, DaemonOptions, EngineBuilder, ErrorKind, Notice};
use lakepass_launch::{self as launch, Agent};
use lakepass_store::Paths;
use lakepass_store::vault::{Vault, VaultKind};
use lakepass_wire::{SharedClock, SystemClock};
use tokio::sync::watch;

pub use crate::app_error::AppError;
pub use crate::forms::{IdpForm, WorkspaceForm};

use crate::events::{self, Event, EventLog, Level};
use crate::platform::{Launcher, OpenUrl};
use crate::view::{self, AppView};

/// How often the view is rebuilt to pick up managed-MCP token changes, which the engine does
/// not announce.
const SCOPED_POLL: Duration = Duration::from_secs(2);

/// How long the installed agents found along PATH are offered before PATH is looked at again:
/// an agent installed while the tray runs shows within this. Looking on every view rebuild
/// (every [`SCOPED_POLL`]) was a fifth of the idle tray's CPU.
const AGENTS_LOOKED_FOR: Duration = Duration::from_secs(30);

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
    /// Run the daemon's engine socket and live token service. Tests that run hosts in
    /// parallel turn them off: the service's port is fixed by the config.
    pub sinks: bool,
}

#[derive(Default)]
struct State {
    config: Option<Config>,
    config_error: Option<String>,
    generation: Option<Daemon>,
    active: Option<String>,
    sessions: BTreeMap<String, bool>,
    signing_in: BTreeSet<String>,
    snapshot: Snapshot,
    events: EventLog,
    /// The agents offered, and when PATH was looked at for them; `None` after a config change.
    offered: Option<(std::time::Instant, Vec<Agent>)>,
    /// `config`'s workspaces, resolved once per config (every view rebuild used to).
    resolved: Vec<lakepass_config::Workspace>,
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

    /// The `lakepass` CLI this host runs for launches and "Try it locally" (the engine's
    /// helper path); `None` when the front end could not find it.
    pub(crate) fn cli_program(&self) -> Option<std::path::PathBuf> {
        self.opts.engine.cli_helper_path.clone()
    }

    /// Follows every view the host publishes.
    pub fn subscribe(&self) -> watch::Receiver<AppView> {
        self.view_tx.subscribe()
    }

    /// Ticks whenever an event is added.
    pub(crate) fn subscribe_events(&self) -> watch::Receiver<u64> {
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
        self.lock().generation.as_ref().map(|d| d.engine().clone())
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

    /// The agents to offer: looked for along PATH at most every [`AGENTS_LOOKED_FOR`], and again
    /// after the config changed (it can name an agent's program).
    fn offered_agents(&self) -> Vec<Agent> {
        let config = {
            let s = self.lock();
            if let Some((at, agents)) = &s.offered
                && at.elapsed() < AGENTS_LOOKED_FOR
            {
                return agents.clone();
            }
            s.config.clone()
        };
        let Some(config) = config else { return Vec::new() };
        let path = std::env::var_os("PATH");
        let agents: Vec<Agent> =
            launch::offered_agents(&config, path.as_deref()).into_iter().map(|(a, _)| a).collect();
        self.lock().offered = Some((std::time::Instant::now(), agents.clone()));
        agents
    }

    fn publish(&self) {
        let installed = self.offered_agents();
        let view = {
            let s = self.lock();
            let scoped = s.generation.as_ref().map(|d| d.engine().scoped_status()).unwrap_or_default();
            let cx = view::Context {
                config: s.config.as_ref(),
                active: s.active.as_deref(),
                sessions: &s.sessions,
                signing_in: &s.signing_in,
                scoped: &scoped,
                now: self.now(),
                installed: &installed,
                workspaces: Some(&s.resolved),
            };
            let mut v = view::build(&cx, &s.snapshot);
            v.config_path = self.paths.config.display().to_string();
            v.config_error = s.config_error.clone();
            v.first_run = !self.paths.config.exists()
                || s.config.as_ref().is_some_and(|c| c.idp.is_empty() && c.workspace.is_empty());
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
    pub(crate) async fn reload(self: &Arc<Self>) {
        let _g = self.rebuild.lock().await;
        let old = self.lock().generation.take();
        if let Some(d) = old {
            d.shutdown().await;
        }
        match self.build_engine().await {
            Ok((engine, sessions)) => {
                let config = engine.config().clone();
                let opts = DaemonOptions {
                    socket: self.opts.sinks,
                    live_service: self.opts.sinks,
                    // A `lakepass daemon` already owns the socket: run on without it.
                    exclusive: false,
                    ..DaemonOptions::default()
                };
                let daemon =
                    Daemon::start(engine.clone(), opts).await.expect("a non-exclusive daemon starts");
                for n in daemon.notices().iter().filter(|n| n.is_problem()) {
                    self.log(Level::Warn, None, notice_text(n));
                }
                let snap = engine.snapshot();
                {
                    let mut s = self.lock();
                    s.active = s
                        .active
                        .clone()
                        .filter(|a| config.workspace.contains_key(a))
                        .or_else(|| config.default_workspace_name().map(String::from));
                    s.resolved = config.workspaces().unwrap_or_default();
                    s.config = Some(config);
                    s.offered = None;
                    s.config_error = None;
                    s.sessions = sessions;
                    s.snapshot = snap;
                    s.generation = Some(daemon);
                }
                self.forward(engine);
            }
            Err(message) => {
                let mut s = self.lock();
                s.config = None;
                s.resolved = Vec::new();
                s.offered = None;
                s.config_error = Some(message);
                s.snapshot = Snapshot::default();
            }
        }
        self.publish();
    }

    async fn build_engine(&self) -> Result<(Engine, BTreeMap<String, bool>), String> {
        let vault = self.open_vault().await?;
        let engine = EngineBuilder::new(self.paths.clone())
            .vault(vault)
            .clock(self.clock.clone())
            .options(self.opts.engine.clone())
            .build()
            .await
            .map_err(|e| e.to_string())?;
        let mut sessions = BTreeMap::new();
        for idp in engine.config().idp.keys() {
            let signed_in = matches!(engine.stored_session(idp).await, Ok(Some(_)));
            sessions.insert(idp.clone(), signed_in);
        }
        Ok((engine, sessions))
    }

    /// Republishes the engine's snapshots on the host's channel until the engine is dropped.
    ///
    /// The engine publishes no snapshot when a managed-MCP token changes (Claude Code asked
    /// the engine socket for one, or its refresh came due), so the view is also rebuilt every
    /// [`SCOPED_POLL`]; it is only sent on when something in it changed.
    fn forward(self: &Arc<Self>, engine: Engine) {
        let host = Arc::downgrade(self);
        let mut rx = engine.subscribe();
        drop(engine);
        tokio::spawn(async move {
            let mut poll = tokio::time::interval(SCOPED_POLL);
            poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                let snap = tokio::select! {
                    changed = rx.changed() => match changed {
                        Ok(()) => Some(rx.borrow_and_update().clone()),
                        Err(_) => break,
                    },
                    _ = poll.tick() => None,
                };
                match (host.upgrade(), snap) {
                    (Some(h), Some(snap)) => h.on_snapshot(snap),
                    (Some(h), None) => h.publish(),
                    (None, _) => break,
                }
            }
        });
    }

    /// Stops the engine and its sinks for good (on quit).
    pub async fn shutdown(&self) {
        let d = self.lock().generation.take();
        if let Some(d) = d {
            d.shutdown().await;
        }
    }

    fn require_engine(&self) -> Result<Engine, AppError> {
        self.engine().ok_or_else(|| {
            let why = self.lock().config_error.clone().unwrap_or_else(|| "no config".into());
            AppError::new(ErrorKind::Config, why)
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

    /// The browser sign-in for `idp`; returns when it is done (or timed out), with who signed in
    /// (from the verified id_token: email, else preferred_username, else sub).
    pub async fn sign_in(&self, idp: &str) -> Result<String, AppError> {
        let engine = self.require_engine()?;
        if !self.lock().signing_in.insert(idp.to_string()) {
            return Err(AppError::new(
                ErrorKind::Busy,
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
                let owns_socket = self.lock().generation.as_ref().is_some_and(Daemon::owns_socket);
                if !owns_socket && let Ok(i) = engine.config().idp(idp) {
                    // Another engine (a `lakepass daemon`) owns the socket: it adopts the tokens
                    // now instead of at its next pass, as for a sign-out.
                    let req =
                        lakepass_engine::ipc::SignedInRequest { idp: idp.into(), issuer: i.issuer.clone() };
                    let socket = lakepass_engine::ipc::socket_path(engine.paths());
                    let _ = lakepass_engine::ipc::signed_in(&socket, &req).await;
                }
                self.lock().sessions.insert(idp.to_string(), true);
                self.sync(&engine);
                let who = session.who().to_string();
                self.log(Level::Info, None, format!("Signed in to {idp} as {who}"));
                for (ws, e) in &failures {
                    self.log(Level::Warn, Some(ws), format!("Exchange failed after sign-in: {e}"));
                }
                self.publish();
                Ok(who)
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
        let owns_socket = self.lock().generation.as_ref().is_some_and(Daemon::owns_socket);
        let mut profiles = Vec::new();
        if !owns_socket && let Ok(i) = engine.config().idp(idp) {
            // Another engine (a `lakepass daemon`) owns the socket and holds tokens too.
            let req = lakepass_engine::ipc::SignOutRequest { idp: idp.into(), issuer: i.issuer.clone() };
            let socket = lakepass_engine::ipc::socket_path(engine.paths());
            if let Ok(lakepass_engine::ipc::Reply::SignedOut { removed }) =
                lakepass_engine::ipc::sign_out(&socket, &req).await
            {
                profiles = removed;
            }
        }
        profiles.extend(engine.logout(idp).await?);
        profiles.sort();
        profiles.dedup();
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
        let before = doc.to_config(path)?;
        edit(&mut doc)?;
        // Validate the whole result before anything is written; save() checks again.
        let after = doc.to_config(path)?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| {
                AppError::new(ErrorKind::Config, format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        doc.save(path)?;
        self.forget_replaced_sessions(&before, &after).await;
        self.reload().await;
        Ok(())
    }

    /// Forgets the sessions of IdPs an edit removed or gave another issuer or client, so none
    /// outlives the IdP it was made for; says so in the log.
    pub(crate) async fn forget_replaced_sessions(
        &self,
        before: &lakepass_config::Config,
        after: &lakepass_config::Config,
    ) {
        let forgotten = match self.open_vault().await {
            Ok(vault) => lakepass_engine::Store::new(vault)
                .forget_replaced_idps(before, after)
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e),
        };
        match forgotten {
            Ok(names) => {
                for name in names {
                    self.log(
                        Level::Info,
                        None,
                        format!("Removed the sign-in session of {name}: its issuer or client changed; sign in again"),
                    );
                }
            }
            Err(e) => self.log(Level::Warn, None, format!("Could not remove a replaced IdP's session: {e}")),
        }
    }

    /// Runs `lakepass doctor` for a workspace: the chain a token travels, link by link, with the
    /// first broken one named and a fix. The report never holds the JWT itself.
    pub async fn diagnose(&self, workspace: &str) -> Result<doctor::Report, AppError> {
        let engine = self.require_engine()?;
        let ws = engine.config().workspace(Some(workspace))?;
        let report = doctor::diagnose(&engine, &ws, &DoctorOptions::default()).await;
        let verdict = match report.failure() {
            Some(step) => format!("Diagnosis: {}: {}", step.title, step.detail),
            None => "Diagnosis: every check passed".to_string(),
        };
        self.log(if report.ok { Level::Info } else { Level::Warn }, Some(workspace), verdict);
        Ok(report)
    }

    /// The workspace an action applies to: the named one, else the active one.
    fn target(&self, workspace: Option<&str>) -> Result<String, AppError> {
        workspace
            .map(String::from)
            .or_else(|| self.view().active)
            .ok_or_else(|| AppError::new(ErrorKind::Invalid, "no workspace is active; pick one first"))
    }

    /// Launches `agent` for a workspace (default: the active one) in a terminal; the terminal
    /// agent opens a terminal with the workspace's environment.
    ///
    /// Plans the launch here, once, with the running engine (the token for model discovery
    /// comes from it, not from a subprocess), then hands the plan to the launcher, which opens
    /// the terminal. A failure keeps its kind: no token is `needs_login`, not "launch failed".
    pub async fn launch(&self, agent: Agent, workspace: Option<&str>) -> Result<(), AppError> {
        let ws = self.target(workspace)?;
        let what = launch_words(agent);
        match self.plan_and_carry_out(&ws, agent).await {
            Ok(()) => {
                self.log(Level::Info, Some(&ws), format!("Asked to {what}"));
                Ok(())
            }
            Err(e) => {
                self.log(Level::Warn, Some(&ws), format!("Could not {what}: {}", e.message));
                Err(e)
            }
        }
    }

    async fn plan_and_carry_out(&self, ws: &str, agent: Agent) -> Result<(), AppError> {
        let started = std::time::Instant::now();
        let engine = self.require_engine()?;
        let lakepass = self.cli_program().ok_or_else(|| {
            AppError::new(
                ErrorKind::Launch,
                "the bundled `lakepass` command cannot be found; reinstall Lakepass",
            )
        })?;
        let env = launch::Surroundings::of_this_process(lakepass, &self.paths, self.clock.now());
        let req = launch::LaunchRequest {
            workspace: Some(ws.to_string()),
            new_terminal: true,
            ..Default::default()
        };
        let plan = launch::plan(&engine, &self.paths, agent, &req, &env).await.inspect_err(|e| {
            launch::record(&self.paths, ws, started, Err(e));
        })?;
        let (launcher, paths) = (self.opts.launcher.clone(), self.paths.clone());
        tokio::task::spawn_blocking(move || launcher.carry_out(&plan, &paths, started))
            .await
            .map_err(|e| AppError::new(ErrorKind::Launch, format!("the launch task failed: {e}")))??;
        Ok(())
    }
}

/// What launching `agent` is, in the events list and notifications: "launch Codex", "open a
/// terminal".
pub fn launch_words(agent: Agent) -> String {
    match agent {
        Agent::Terminal => "open a terminal".into(),
        a => format!("launch {}", a.title()),
    }
}

/// A daemon part that did not start, as the recent-events list says it.
fn notice_text(n: &Notice) -> String {
    match n {
        Notice::SocketFailed(e) => format!("Engine socket not started: {e}"),
        Notice::LiveFailed(e) => format!("Live token service not started: {e}"),
        n => n.to_string(),
    }
}

#[cfg(test)]
pub(crate) mod tests;
