//! The refresh engine: keeps one Databricks token per workspace fresh.
//!
//! Per workspace a small state machine — Fresh → Expiring → Refreshing → Fresh | Failed |
//! NeedsLogin — driven by [`Engine::tick`], which the daemon (or the tray app) calls in a loop.
//! Decisions use the injected wall clock, and the loop never sleeps longer than
//! [`MAX_SLEEP`], so a laptop that slept past expiry refreshes as soon as it wakes.
//!
//! Refreshing is safe across processes: the IdP session is refreshed under a per-IdP file lock
//! and a per-workspace exchange under a per-workspace lock, each held only around
//! read → refresh → write. Whoever loses the race re-reads the vault and adopts the winner's
//! tokens, because two refreshes with a rotating refresh token revoke the whole family.
//! Every state change goes out on a `watch` channel ([`Engine::subscribe`]).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, Semaphore, watch};
use url::Url;

use crate::audit::{self, AuditEvent, EventKind};
use crate::clock::{SharedClock, UnixTime};
use crate::config::{Config, ConfigError, ProfileFlavour, SubjectTokenKind, Workspace};
use crate::databrickscfg::{self, CfgError, CfgFileError, ProfileUpdate};
use crate::exchange::{self, ExchangeError, ExchangeParams, WorkspaceToken};
use crate::http::Http;
use crate::idp::{self, Discovery, Grant, IdpError, IdpSession, Loopback, SignInRequest};
use crate::lock::{self, LockError};
use crate::paths::Paths;
use crate::roles::{self, RoleError};
use crate::secret::Secret;
use crate::store::{self, Snapshot, Store, StoreError, TokenState, WorkspaceStatus};

/// The longest the daemon loop sleeps before looking at the wall clock again.
pub const MAX_SLEEP: Duration = Duration::from_secs(30);
/// How long a cross-process lock is waited for.
const LOCK_TIMEOUT: Duration = Duration::from_secs(60);

/// Everything the engine can fail with; each says what to do next.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Bad config.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Vault trouble.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Never signed in, or the session is gone.
    #[error("not signed in to identity provider `{idp}`{}; run `lakepass login --idp {idp}`", reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default())]
    NeedsLogin {
        /// The IdP.
        idp: String,
        /// Why, when known (e.g. the refresh token was revoked).
        reason: Option<String>,
    },
    /// Talking to the IdP failed.
    #[error(transparent)]
    Idp(#[from] IdpError),
    /// The exchange failed.
    #[error(transparent)]
    Exchange(#[from] ExchangeError),
    /// Another process held a lock too long.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// Role mapping found no service principal for the user's roles.
    #[error(transparent)]
    NoMappedRole(#[from] RoleError),
    /// An M2M workspace whose client secret is not in the vault.
    #[error(
        "workspace `{workspace}` signs in as service principal `{client_id}`, but its client secret is \
         not in the vault; enter it with `lakepass workspace set-secret {workspace}` (it is read from \
         stdin or a prompt, never from the command line)"
    )]
    NeedsSecret {
        /// The workspace.
        workspace: String,
        /// The service principal's application id.
        client_id: String,
    },
}

impl EngineError {
    /// A stable kind, for exit codes and for the UI to act on.
    pub fn kind(&self) -> &'static str {
        match self {
            EngineError::Config(_) => "config",
            EngineError::Store(_) => "vault",
            EngineError::NeedsLogin { .. } => "needs_login",
            EngineError::Idp(e) if e.needs_login() => "needs_login",
            EngineError::Idp(IdpError::Http(_)) | EngineError::Exchange(ExchangeError::Http { .. }) => {
                "network"
            }
            EngineError::Idp(_) => "idp",
            EngineError::Exchange(_) => "federation_rejected",
            EngineError::Lock(_) => "lock",
            EngineError::NoMappedRole(_) => "no_mapped_role",
            EngineError::NeedsSecret { .. } => "needs_login",
        }
    }

    /// The server's OAuth error code (`invalid_grant`, `invalid_request`, …), when it sent one.
    pub fn error_code(&self) -> Option<&str> {
        match self {
            EngineError::Exchange(ExchangeError::Rejected { error, .. }) => Some(&error.error),
            EngineError::Idp(IdpError::Grant { error, .. }) => Some(&error.error),
            _ => None,
        }
    }
}

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
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            retry_base: Duration::from_secs(15),
            retry_max: Duration::from_secs(300),
            // Each workspace is its own host, so this bounds the engine's total, not one server's
            // load. bench/ measured 100 due workspaces (+50 ms/request): 16 at once took ~4× one
            // workspace's time, 64 about 2×.
            concurrency: 64,
            cli_helper_path: None,
        }
    }
}

/// When a token should be refreshed: about 10% of its lifetime before expiry, at least a
/// minute (but never more than half the lifetime, for short demo TTLs), minus a per-workspace
/// jitter of up to 5% so many workspaces do not refresh in the same second.
pub fn refresh_due_at(t: &WorkspaceToken) -> UnixTime {
    let lifetime = (t.expires_at - t.issued_at).max(0);
    let margin = (lifetime / 10).max(60).min(lifetime / 2);
    let span = (lifetime / 20).max(1);
    let jitter = (fnv1a(t.host.as_str().as_bytes()) ^ t.issued_at as u64) % span as u64;
    t.expires_at - margin - jitter as i64
}

/// True when an IdP JWT is too close to expiry to be exchanged.
fn stale(exp: UnixTime, issued: UnixTime, now: UnixTime) -> bool {
    let lifetime = (exp - issued).max(0);
    exp - now < (lifetime / 2).min(120)
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325, |h, b| (h ^ *b as u64).wrapping_mul(0x100000001b3))
}

#[derive(Debug, Default, Clone)]
struct Runtime {
    token: Option<WorkspaceToken>,
    refreshing: bool,
    needs_login: bool,
    needs_login_since: UnixTime,
    /// The last `~/.databrickscfg` write failed: shown in status, kept apart from refresh errors.
    sink_error: Option<String>,
    failures: u32,
    next_retry_at: UnixTime,
    last_error: Option<String>,
}

struct Inner {
    config: Config,
    workspaces: Vec<Workspace>,
    paths: Paths,
    store: Store,
    http: Http,
    clock: SharedClock,
    opts: EngineOptions,
    discovery: Mutex<HashMap<String, Discovery>>,
    idp_locks: HashMap<String, tokio::sync::Mutex<()>>,
    ws_locks: HashMap<String, tokio::sync::Mutex<()>>,
    runtime: Mutex<HashMap<String, Runtime>>,
    tx: watch::Sender<Snapshot>,
    wake: Notify,
    owns_state_file: std::sync::atomic::AtomicBool,
    state_written: Mutex<Option<Vec<WorkspaceStatus>>>,
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
    /// Builds an engine over a validated config.
    pub fn new(
        config: Config,
        paths: Paths,
        store: Store,
        http: Http,
        clock: SharedClock,
        opts: EngineOptions,
    ) -> Result<Self, EngineError> {
        let workspaces = config.workspaces()?;
        let idp_locks = config.idp.keys().map(|k| (k.clone(), Default::default())).collect();
        let ws_locks = workspaces.iter().map(|w| (Store::workspace_key(w), Default::default())).collect();
        let runtime = workspaces.iter().map(|w| (w.name.clone(), Runtime::default())).collect();
        let (tx, _) = watch::channel(Snapshot::default());
        Ok(Engine(Arc::new(Inner {
            config,
            workspaces,
            paths,
            store,
            http,
            clock,
            opts,
            discovery: Mutex::new(HashMap::new()),
            idp_locks,
            ws_locks,
            runtime: Mutex::new(runtime),
            tx,
            wake: Notify::new(),
            owns_state_file: Default::default(),
            state_written: Mutex::new(None),
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

    fn now(&self) -> UnixTime {
        self.0.clock.now()
    }

    /// Interactive sign-in: discovery, loopback listener, browser (via `on_url`), code
    /// redemption, id_token validation; then a first exchange for every workspace of the IdP.
    /// Returns the session and, per workspace, the exchange error if one failed.
    pub async fn login(
        &self,
        idp_name: &str,
        on_url: impl FnOnce(&Url),
        timeout: Duration,
    ) -> Result<(IdpSession, Vec<(String, EngineError)>), EngineError> {
        let started = std::time::Instant::now();
        let result = self.login_inner(idp_name, on_url, timeout).await;
        self.audit(EventKind::SignIn, None, Some(idp_name), started, result.as_ref().err());
        // The run loop's sleep was planned before these tokens existed: re-plan now.
        self.refresh_now();
        result
    }

    async fn login_inner(
        &self,
        idp_name: &str,
        on_url: impl FnOnce(&Url),
        timeout: Duration,
    ) -> Result<(IdpSession, Vec<(String, EngineError)>), EngineError> {
        let idp_cfg = self.0.config.idp(idp_name)?.clone();
        let d = self.discovery(idp_name).await?;
        let lb = Loopback::bind(idp_cfg.redirect_port).await?;
        let req = SignInRequest::new(&d, &idp_cfg, &lb.redirect_uri)?;
        on_url(&req.url);
        let code = lb.wait(&req, &d.issuer, timeout).await?;
        let form = idp::code_request(&d, &idp_cfg, &req, &code);
        let session =
            idp::redeem(&self.0.http, &d, &idp_cfg, form, Grant::code(&req.nonce), self.now()).await?;
        {
            let _g = self.idp_lock(idp_name).await?;
            self.0.store.save_idp_session(idp_name, &session).await?;
        }
        tracing::info!(idp = idp_name, subject = %session.subject, "signed in");
        let mut failures = Vec::new();
        for ws in self.workspaces_of(idp_name) {
            self.update(&ws.name, |r| {
                r.needs_login = false;
                r.failures = 0;
                r.next_retry_at = 0;
                r.last_error = None;
            });
            if let Err(e) = self.refresh_workspace(&ws, true).await {
                failures.push((ws.name.clone(), e));
            }
        }
        Ok((session, failures))
    }

    /// Signs out of an IdP: forgets its session and its workspaces' tokens, and removes the
    /// `~/.databrickscfg` profiles Lakepass made for them. Returns the removed profile names.
    pub async fn logout(&self, idp_name: &str) -> Result<Vec<String>, EngineError> {
        let now = self.now();
        self.0.config.idp(idp_name)?;
        self.0.store.delete_idp_session(idp_name).await?;
        let (mut profiles, mut live) = (Vec::new(), Vec::new());
        for ws in self.workspaces_of(idp_name) {
            self.0.store.delete_workspace_token(&ws).await?;
            profiles.push(ws.profile.clone());
            live.push(live_profile_name(&ws));
            self.update(&ws.name, |r| {
                *r = Runtime { needs_login: true, needs_login_since: now, ..Runtime::default() };
            });
        }
        let path = self.0.paths.databrickscfg.clone();
        let names = profiles.clone();
        // The `-live` profiles go too, but only those Lakepass made: a user's own `dev-live` stays.
        let removed = tokio::task::spawn_blocking(move || {
            let mut live_removed = Vec::new();
            databrickscfg::update_file(&path, |text| {
                let owned = databrickscfg::owned_profiles(text)?;
                live_removed = live.iter().filter(|p| owned.contains(*p)).cloned().collect();
                names
                    .iter()
                    .chain(&live_removed)
                    .try_fold(text.to_string(), |acc, p| databrickscfg::remove_profile(&acc, p))
            })
            .map(|()| live_removed)
        })
        .await
        .expect("databrickscfg task");
        match removed {
            Ok(live_removed) => profiles.extend(live_removed),
            Err(e) => tracing::warn!(error = %e, "could not remove profiles from the credentials file"),
        }
        self.publish();
        Ok(profiles)
    }

    fn workspaces_of(&self, idp: &str) -> Vec<Workspace> {
        self.0.workspaces.iter().filter(|w| w.idp == idp).cloned().collect()
    }

    /// A valid token for `ws`: the cached one while it is not due for refresh, else a new one.
    pub async fn token(&self, ws: &Workspace) -> Result<WorkspaceToken, EngineError> {
        if let Some(t) = self.0.store.workspace_token(ws).await?
            && self.now() < refresh_due_at(&t)
        {
            return Ok(t);
        }
        self.refresh_workspace(ws, false).await
    }

    /// A valid token for `ws` for a long-running server (the live token service, the IPC
    /// channel): the token this engine holds in memory while it is not due, else
    /// [`Engine::token`]. When that refresh fails but the held token is still valid for a
    /// while, the held one is returned: a consumer keeps working through a short outage.
    pub async fn live_token(&self, ws: &Workspace) -> Result<WorkspaceToken, EngineError> {
        let now = self.now();
        let held = {
            let rt = self.0.runtime.lock().expect("runtime state");
            rt.get(&ws.name).and_then(|r| r.token.clone()).filter(|t| t.host == ws.host)
        };
        if let Some(t) = &held
            && now < refresh_due_at(t)
        {
            return Ok(t.clone());
        }
        match self.token(ws).await {
            Ok(t) => {
                self.update(&ws.name, |r| r.token = Some(t.clone()));
                Ok(t)
            }
            Err(e) => match held {
                Some(t) if t.expires_at - now > 30 => {
                    tracing::warn!(workspace = %ws.name, kind = e.kind(), "refresh failed; serving the held token until it expires");
                    Ok(t)
                }
                _ => Err(e),
            },
        }
    }

    /// Writes (or updates) the `<profile>-live` profile of every workspace in `urls`
    /// (workspace name → the live token service URL for it): `host`, `metadata_service_url`
    /// and `auth_type = metadata-service`, in one locked edit of `~/.databrickscfg`. A
    /// workspace whose `-live` name is another workspace's profile is skipped. Returns the
    /// profile names written.
    pub async fn write_live_profiles(&self, urls: &[(String, Secret)]) -> Result<Vec<String>, CfgFileError> {
        let taken: Vec<&str> = self.0.workspaces.iter().map(|w| w.profile.as_str()).collect();
        let mut updates = Vec::new();
        for (name, url) in urls {
            let Some(ws) = self.workspace_named(name) else { continue };
            let profile = live_profile_name(ws);
            if taken.contains(&profile.as_str()) {
                tracing::warn!(workspace = %ws.name, profile, "not writing the live profile: another workspace uses that profile name");
                continue;
            }
            updates.push(ProfileUpdate {
                profile,
                entries: vec![
                    ("host".to_string(), ws.host.to_string()),
                    ("metadata_service_url".to_string(), url.secret().to_string()),
                    ("auth_type".to_string(), "metadata-service".to_string()),
                ],
            });
        }
        let path = self.0.paths.databrickscfg.clone();
        tokio::task::spawn_blocking(move || {
            let mut written = Vec::new();
            databrickscfg::update_file(&path, |text| {
                written.clear(); // the edit runs again if another program saved meanwhile
                let owned = databrickscfg::owned_profiles(text)?;
                updates.iter().try_fold(text.to_string(), |text, u| {
                    // A user's own `dev-live` is theirs: skip it, write the others.
                    if !owned.contains(&u.profile) && databrickscfg::read_profile(&text, &u.profile)?.is_some() {
                        tracing::warn!(profile = %u.profile, "not writing this live profile: a profile of that name exists and was not made by Lakepass");
                        return Ok(text);
                    }
                    written.push(u.profile.clone());
                    exact_profile(&text, u)
                })
            })
            .map(|()| written)
        })
        .await
        .expect("databrickscfg task")
    }

    /// Exchanges a new token for `ws` (when `force`, even if the cached one is fresh), under the
    /// workspace's lock, and writes it to the vault and `~/.databrickscfg`.
    pub async fn refresh_workspace(
        &self,
        ws: &Workspace,
        force: bool,
    ) -> Result<WorkspaceToken, EngineError> {
        let asked_at = self.now();
        self.update(&ws.name, |r| r.refreshing = true);
        self.publish();
        let started = std::time::Instant::now();
        let result = self.refresh_locked(ws, force, asked_at).await;
        // A token adopted from another process was that process's exchange, not ours.
        if result.as_ref().map_or(true, |t| t.issued_at >= asked_at) {
            self.audit(EventKind::Exchange, Some(&ws.name), None, started, result.as_ref().err());
        }
        let now = self.now();
        let opts = &self.0.opts;
        self.update(&ws.name, |r| {
            r.refreshing = false;
            match &result {
                Ok(t) => {
                    r.token = Some(t.clone());
                    r.failures = 0;
                    r.next_retry_at = 0;
                    r.needs_login = false;
                    r.last_error = None;
                }
                Err(e) => {
                    r.failures += 1;
                    if e.kind() == "needs_login" && !r.needs_login {
                        r.needs_login_since = now;
                    }
                    r.needs_login = e.kind() == "needs_login";
                    let backoff =
                        opts.retry_base.saturating_mul(1 << (r.failures - 1).min(10)).min(opts.retry_max);
                    r.next_retry_at = now + backoff.as_secs() as i64;
                    r.last_error = Some(e.to_string());
                }
            }
        });
        self.publish();
        if !self.0.owns_state_file.load(std::sync::atomic::Ordering::Relaxed) {
            // A CLI call that refreshed tells `status` (and the tray) how it went.
            let entry = self.snapshot().workspaces.into_iter().find(|w| w.name == ws.name);
            if let Some(entry) = entry {
                let path = self.0.paths.state_file();
                let merged =
                    tokio::task::spawn_blocking(move || store::merge_state_entry(&path, entry, now)).await;
                if let Ok(Err(e)) = merged {
                    tracing::debug!(error = %e, "could not update the state file");
                }
            }
        }
        result
    }

    async fn refresh_locked(
        &self,
        ws: &Workspace,
        force: bool,
        asked_at: UnixTime,
    ) -> Result<WorkspaceToken, EngineError> {
        let key = Store::workspace_key(ws);
        let _inproc = self.0.ws_locks[&key].lock().await;
        let _file = lock::acquire_async(self.0.paths.lock_file(&key), LOCK_TIMEOUT).await?;
        // Another process (or task) may have refreshed while we waited: adopt its token.
        if let Some(t) = self.0.store.workspace_token(ws).await? {
            let adopted = if force { t.issued_at > asked_at } else { self.now() < refresh_due_at(&t) };
            if adopted {
                return Ok(t);
            }
        }
        let token = if roles::is_m2m(ws) {
            self.m2m_token(ws).await?
        } else {
            let subject = self.subject_token(ws).await?;
            // Role mapping: the user's role claim picks the service principal.
            let client_id = roles::pick_client_id(ws, subject.secret())?;
            let params = ExchangeParams {
                host: &ws.host,
                workspace: &ws.name,
                scopes: &ws.scopes,
                client_id: client_id.as_deref(),
            };
            exchange::exchange(&self.0.http, &params, &subject, self.now()).await?
        };
        self.0.store.save_workspace_token(ws, &token).await?;
        tracing::info!(workspace = %ws.name, host = %ws.host, expires_at = token.expires_at, "token exchanged");
        self.write_profile(ws, &token).await;
        Ok(token)
    }

    async fn write_profile(&self, ws: &Workspace, t: &WorkspaceToken) {
        let path = self.0.paths.databrickscfg.clone();
        let host = ("host".to_string(), ws.host.to_string());
        let update = match self.0.config.profile_flavour {
            ProfileFlavour::Static => ProfileUpdate {
                profile: ws.profile.clone(),
                entries: vec![host, ("token".to_string(), t.access_token.secret().to_string())],
            },
            ProfileFlavour::CliHelper => ProfileUpdate {
                profile: ws.profile.clone(),
                entries: vec![
                    host,
                    ("auth_type".to_string(), "databricks-cli".to_string()),
                    ("databricks_cli_path".to_string(), self.cli_helper_path()),
                ],
            },
        };
        let res = tokio::task::spawn_blocking(move || write_exact_profiles(&path, &[update]))
            .await
            .expect("databrickscfg task");
        if let Err(e) = res {
            tracing::warn!(workspace = %ws.name, error = %e, "could not update the credentials file");
            self.update(&ws.name, |r| r.sink_error = Some(e.to_string()));
        } else {
            self.update(&ws.name, |r| r.sink_error = None);
        }
    }

    /// Why the workspace's `~/.databrickscfg` profile could not be written on the last new
    /// token, if it could not. The token itself is good (it is in the vault).
    pub fn profile_error(&self, ws: &str) -> Option<String> {
        self.0.runtime.lock().expect("runtime state").get(ws).and_then(|r| r.sink_error.clone())
    }

    /// The absolute path of the `lakepass` program for `databricks_cli_path`.
    fn cli_helper_path(&self) -> String {
        let path = self.0.opts.cli_helper_path.clone().or_else(|| std::env::current_exe().ok());
        let path = path.map(|p| std::fs::canonicalize(&p).unwrap_or(p));
        path.map(|p| p.display().to_string()).unwrap_or_else(|| "lakepass".into())
    }

    /// An M2M workspace's token: OAuth client credentials with the secret from the vault.
    async fn m2m_token(&self, ws: &Workspace) -> Result<WorkspaceToken, EngineError> {
        let client_id = ws.client_id.clone().unwrap_or_default();
        let secret = roles::m2m_secret(&self.0.store, ws).await?.ok_or_else(|| EngineError::NeedsSecret {
            workspace: ws.name.clone(),
            client_id: client_id.clone(),
        })?;
        let req = exchange::client_credentials_request(
            ws.host.join("/oidc/v1/token"),
            &client_id,
            &secret,
            &ws.scopes,
        );
        Ok(exchange::client_credentials(&self.0.http, &ws.host, &ws.name, &req, self.now()).await?)
    }

    /// Appends one event to the audit log (best effort; never a token).
    fn audit(
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
        audit::record(&self.0.paths, &e);
    }

    /// The HTTP client the engine uses (for `doctor` and `admin`, which share its settings).
    pub fn http(&self) -> &Http {
        &self.0.http
    }

    /// The engine's clock.
    pub fn clock(&self) -> &SharedClock {
        &self.0.clock
    }

    /// The IdP JWT to exchange for `ws`, refreshing the IdP session first when it is stale.
    async fn subject_token(&self, ws: &Workspace) -> Result<Secret, EngineError> {
        let session = self.idp_session(&ws.idp).await?;
        pick_subject(&session, ws)
    }

    /// The IdP session, refreshed if its JWT is stale. One refresh serves every workspace.
    pub async fn idp_session(&self, idp_name: &str) -> Result<IdpSession, EngineError> {
        let not_signed_in = || EngineError::NeedsLogin { idp: idp_name.to_string(), reason: None };
        let session = self.0.store.idp_session(idp_name).await?.ok_or_else(not_signed_in)?;
        if !stale(session.id_token_exp, session.refreshed_at, self.now()) {
            return Ok(session);
        }
        let _g = self.idp_lock(idp_name).await?;
        let session = self.0.store.idp_session(idp_name).await?.ok_or_else(not_signed_in)?;
        let now = self.now();
        if !stale(session.id_token_exp, session.refreshed_at, now) {
            return Ok(session); // another process refreshed it while we waited
        }
        let Some(rt) = session.refresh_token.clone() else {
            return Err(EngineError::NeedsLogin {
                idp: idp_name.into(),
                reason: Some("the IdP issued no refresh token; add `offline_access` to its scopes".into()),
            });
        };
        let idp_cfg = self.0.config.idp(idp_name)?.clone();
        let d = self.discovery(idp_name).await?;
        let form = idp::refresh_request(&d, &idp_cfg, &rt);
        let started = std::time::Instant::now();
        let refreshed = idp::redeem(&self.0.http, &d, &idp_cfg, form, Grant::refresh(&rt), now).await;
        if let Err(e) = &refreshed {
            let kind = if e.needs_login() { "needs_login" } else { "idp" };
            let code = match e {
                IdpError::Grant { error, .. } => Some(error.error.as_str()),
                _ => None,
            };
            let event =
                AuditEvent::failure(EventKind::Refresh, self.now(), started.elapsed(), kind, &e.to_string());
            audit::record(&self.0.paths, &event.idp(idp_name).error_code(code));
        } else {
            self.audit(EventKind::Refresh, None, Some(idp_name), started, None);
        }
        match refreshed {
            Ok(new) => {
                self.0.store.save_idp_session(idp_name, &new).await?;
                tracing::info!(idp = idp_name, "IdP session refreshed");
                Ok(new)
            }
            Err(e) if e.needs_login() => Err(EngineError::NeedsLogin {
                idp: idp_name.into(),
                reason: Some(format!("the refresh token was refused: {e}")),
            }),
            Err(e) => Err(e.into()),
        }
    }

    async fn idp_lock(
        &self,
        idp_name: &str,
    ) -> Result<(tokio::sync::MutexGuard<'_, ()>, lock::FileLock), EngineError> {
        let m = self.0.idp_locks.get(idp_name).ok_or_else(|| EngineError::NeedsLogin {
            idp: idp_name.into(),
            reason: Some("no such IdP in the config".into()),
        })?;
        let g = m.lock().await;
        let f = lock::acquire_async(self.0.paths.lock_file(&format!("idp-{idp_name}")), LOCK_TIMEOUT).await?;
        Ok((g, f))
    }

    async fn discovery(&self, idp_name: &str) -> Result<Discovery, EngineError> {
        if let Some(d) = self.0.discovery.lock().expect("discovery cache").get(idp_name) {
            return Ok(d.clone());
        }
        let issuer = &self.0.config.idp(idp_name)?.issuer;
        let d = idp::discover(&self.0.http, issuer).await?;
        self.0.discovery.lock().expect("discovery cache").insert(idp_name.into(), d.clone());
        Ok(d)
    }

    fn update(&self, ws: &str, f: impl FnOnce(&mut Runtime)) {
        let mut rt = self.0.runtime.lock().expect("runtime state");
        f(rt.entry(ws.to_string()).or_default());
    }

    /// The current view of every workspace.
    pub fn snapshot(&self) -> Snapshot {
        let now = self.now();
        let rt = self.0.runtime.lock().expect("runtime state");
        let workspaces = self
            .0
            .workspaces
            .iter()
            .map(|ws| {
                let r = rt.get(&ws.name).cloned().unwrap_or_default();
                status_of(ws, &r, now)
            })
            .collect();
        Snapshot { workspaces, at: now }
    }

    fn publish(&self) {
        let snap = self.snapshot();
        self.0.tx.send_if_modified(|old| {
            let changed = old.workspaces != snap.workspaces;
            if changed {
                *old = snap.clone();
            }
            changed
        });
        // Only the process that owns refreshing (the one in `run`) publishes the state file;
        // a short-lived CLI call must not overwrite what the daemon knows. It is written when
        // the settled view changes, never for the transient `refreshing` flag: a pass over 100
        // due workspaces would otherwise make 200 durable writes of the same file.
        if !self.0.owns_state_file.load(std::sync::atomic::Ordering::Relaxed)
            || snap.workspaces.iter().any(|w| w.state == TokenState::Refreshing)
        {
            return;
        }
        let mut written = self.0.state_written.lock().expect("state file guard");
        if written.as_ref() == Some(&snap.workspaces) {
            return;
        }
        match store::write_state_file(&self.0.paths.state_file(), &snap) {
            Ok(()) => *written = Some(snap.workspaces),
            Err(e) => tracing::debug!(error = %e, "could not write the state file"),
        }
    }

    /// Loads what the vault holds, so the first snapshot is right before any refresh.
    pub async fn load(&self) -> Result<(), EngineError> {
        let now = self.now();
        for ws in &self.0.workspaces {
            let token = self.0.store.workspace_token(ws).await?;
            let signed_in = if roles::is_m2m(ws) {
                roles::m2m_secret(&self.0.store, ws).await?.is_some()
            } else {
                self.0.store.idp_session(&ws.idp).await?.is_some()
            };
            self.update(&ws.name, |r| {
                r.token = token;
                r.needs_login = !signed_in;
                r.needs_login_since = now;
            });
        }
        self.publish();
        Ok(())
    }

    /// One pass: refreshes every workspace that is due (and not backing off), publishes, and
    /// returns how long to sleep before the next pass.
    pub async fn tick(&self) -> Duration {
        let now = self.now();
        let sem = Arc::new(Semaphore::new(self.0.opts.concurrency.max(1)));
        let mut tasks = Vec::new();
        for ws in self.0.workspaces.clone() {
            let r = self.0.runtime.lock().expect("runtime state").get(&ws.name).cloned().unwrap_or_default();
            let due = r.token.as_ref().map(refresh_due_at).unwrap_or(now);
            if r.needs_login {
                // Only a new sign-in helps; when one happened, act on it at once (no backoff).
                if !self.signed_in_since_failure(&ws, r.needs_login_since).await {
                    continue;
                }
            } else if now < due || now < r.next_retry_at {
                continue;
            }
            let (engine, sem) = (self.clone(), sem.clone());
            tasks.push(tokio::spawn(async move {
                let _permit = sem.acquire().await.expect("semaphore open");
                if let Err(e) = engine.refresh_workspace(&ws, false).await {
                    tracing::warn!(workspace = %ws.name, kind = e.kind(), error = %e, "refresh failed");
                }
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
        self.publish();
        self.next_sleep()
    }

    /// A sign-in in another process (or the tray) clears NeedsLogin here without a restart:
    /// look for an IdP session newer than the moment we learned a sign-in was needed.
    async fn signed_in_since_failure(&self, ws: &Workspace, since: UnixTime) -> bool {
        if roles::is_m2m(ws) {
            return matches!(roles::m2m_secret(&self.0.store, ws).await, Ok(Some(_)));
        }
        matches!(self.0.store.idp_session(&ws.idp).await, Ok(Some(s)) if s.refreshed_at >= since)
    }

    fn next_sleep(&self) -> Duration {
        let now = self.now();
        let rt = self.0.runtime.lock().expect("runtime state");
        let next = rt
            .values()
            .filter(|r| !r.needs_login)
            .map(|r| r.token.as_ref().map(refresh_due_at).unwrap_or(now).max(r.next_retry_at))
            .min();
        let secs = next.map(|n| (n - now).max(1) as u64).unwrap_or(MAX_SLEEP.as_secs());
        Duration::from_secs(secs).min(MAX_SLEEP)
    }

    /// Runs until `shutdown` completes: tick, sleep (at most [`MAX_SLEEP`]), repeat.
    pub async fn run(&self, shutdown: impl std::future::Future<Output = ()>) {
        self.0.owns_state_file.store(true, std::sync::atomic::Ordering::Relaxed);
        tokio::pin!(shutdown);
        loop {
            let sleep = self.tick().await;
            tokio::select! {
                _ = &mut shutdown => return,
                _ = tokio::time::sleep(sleep) => {}
                _ = self.0.wake.notified() => {}
            }
        }
    }
}

/// The name of a workspace's live profile: `<profile>-live`.
pub fn live_profile_name(ws: &Workspace) -> String {
    format!("{}-live", ws.profile)
}

/// Upserts each profile so it holds exactly its entries (see [`exact_profile`]).
fn write_exact_profiles(path: &std::path::Path, updates: &[ProfileUpdate]) -> Result<(), CfgFileError> {
    databrickscfg::update_file(path, |text| {
        updates.iter().try_fold(text.to_string(), |text, u| exact_profile(&text, u))
    })
}

/// Upserts `u` so the profile holds exactly its entries: a Lakepass-owned profile with keys it
/// should no longer have (a `token` left from the static flavour) is rewritten whole.
fn exact_profile(text: &str, u: &ProfileUpdate) -> Result<String, CfgError> {
    let entries: Vec<(&str, &str)> = u.entries.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let stale = databrickscfg::read_profile(text, &u.profile)?
        .is_some_and(|old| old.iter().any(|(k, _)| !entries.iter().any(|(n, _)| n.eq_ignore_ascii_case(k))));
    let text = if stale { databrickscfg::remove_profile(text, &u.profile)? } else { text.to_string() };
    databrickscfg::upsert_profile(&text, &u.profile, &entries)
}

fn pick_subject(s: &IdpSession, ws: &Workspace) -> Result<Secret, EngineError> {
    match ws.token {
        SubjectTokenKind::IdToken => Ok(s.id_token.clone()),
        SubjectTokenKind::AccessToken => s.access_token.clone().ok_or_else(|| EngineError::NeedsLogin {
            idp: ws.idp.clone(),
            reason: Some(format!(
                "workspace `{}` exchanges the access_token, but the IdP issued none",
                ws.name
            )),
        }),
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
        last_error: r.last_error.clone().or_else(|| r.sink_error.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::WorkspaceHost;

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
        assert!(!stale(3600, 0, 0));
        assert!(stale(3600, 0, 3500));
        assert!(!stale(10, 0, 4)); // short demo lifetimes: half the lifetime
        assert!(stale(10, 0, 6));
    }
}
