//! The one process that owns refreshing: the engine's run loop plus everything it serves.
//!
//! `lakepass daemon`, the tray app and the demo all run the same thing: the engine loop, the
//! engine socket (so `lakepass token` asks this engine instead of refreshing by itself), the live
//! token service and the `-live` profiles that name it, and the whole-view state file. They used
//! to assemble it each in their own way; [`Daemon::start`] is that assembly, once. A part that
//! cannot start (a port in use, a socket folder that is not ours) does not stop the others: it
//! is reported as a [`Notice`] for the front end to print or show.
//!
//! A live service that cannot bind its port is a security matter, not only a convenience: the
//! `-live` profiles would send every SDK's request, path secret included, to whoever holds the
//! port. So a failed bind removes the `-live` profiles at once, raises a warning every front end
//! shows (status, tray, daemon output), and retries the bind every [`LIVE_RETRY`]; the first bind
//! that succeeds writes the profiles again with new path secrets.
//!
//! For the same reason the profiles do not outlive the service: [`Daemon::shutdown`] (every
//! stop goes through it: `lakepass daemon` on SIGTERM or SIGINT, the tray's quit, a reload) and
//! a daemon dropped without it remove the `-live` profiles once the port is closed, so an SDK
//! finds no profile rather than a port anyone may take (issue 23, L2).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::engine::{Engine, WarningSource};
use crate::error::{ErrorKind, Failure};
use crate::ipc::{self, IpcError, IpcServer};
use crate::serve::LiveService;
use crate::sink::{LiveProfiles, TokenSink};

/// How often a live service that could not bind tries again, by default.
pub(crate) const LIVE_RETRY: Duration = Duration::from_secs(15);

/// Which parts to run. The defaults are what users get.
#[derive(Debug, Clone, Copy)]
pub struct DaemonOptions {
    /// Serve the engine socket.
    pub socket: bool,
    /// Serve live tokens and write the `-live` profiles.
    pub live_service: bool,
    /// Refuse to start when another engine already owns the socket (the CLI's daemon); the
    /// tray instead runs on without the socket and says so.
    pub exclusive: bool,
    /// How often a live service that could not bind tries again.
    pub live_retry: Duration,
}

impl Default for DaemonOptions {
    fn default() -> Self {
        DaemonOptions { socket: true, live_service: true, exclusive: true, live_retry: LIVE_RETRY }
    }
}

/// Something a front end should tell the user about the daemon's parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// The engine socket listens here.
    SocketListening(PathBuf),
    /// The engine socket did not start: `lakepass token` refreshes by itself.
    SocketFailed(Failure),
    /// Another engine (a `lakepass daemon`) already serves the socket, and so the live token
    /// service: this one (a non-exclusive tray) leaves both to it. Not a problem.
    SocketOwnedElsewhere(PathBuf),
    /// The live token service listens here; these `-live` profiles name it.
    LiveServing {
        /// Where.
        addr: SocketAddr,
        /// The profiles written.
        profiles: Vec<String>,
    },
    /// The live token service did not start: the `-live` profiles were removed, and the bind
    /// is retried.
    LiveFailed(Failure),
    /// The service runs, but the `-live` profiles could not be written.
    LiveProfilesFailed(Failure),
}

impl Notice {
    /// True for a part that failed.
    pub fn is_problem(&self) -> bool {
        self.failure().is_some()
    }

    /// Why a part failed, with its kind (`live_service`, `credentials_file`, …), for a front end
    /// to act on.
    pub fn failure(&self) -> Option<&Failure> {
        match self {
            Notice::SocketFailed(f) | Notice::LiveFailed(f) | Notice::LiveProfilesFailed(f) => Some(f),
            _ => None,
        }
    }
}

impl std::fmt::Display for Notice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Notice::SocketListening(p) => write!(f, "engine socket on {}", p.display()),
            Notice::SocketFailed(e) => write!(f, "{e}; `lakepass token` will refresh by itself"),
            Notice::SocketOwnedElsewhere(p) => write!(
                f,
                "another Lakepass engine serves {} and the live token service; using that one",
                p.display()
            ),
            Notice::LiveServing { addr, profiles } if profiles.is_empty() => {
                write!(f, "live token service on {addr}")
            }
            Notice::LiveServing { addr, profiles } => {
                write!(f, "live token service on {addr}; always-fresh profiles: {}", profiles.join(", "))
            }
            Notice::LiveFailed(e) => write!(
                f,
                "{e}. The -live profiles were removed so that no SDK sends its request to whatever \
                 holds the port; retrying every {} s.",
                LIVE_RETRY.as_secs().max(1)
            ),
            Notice::LiveProfilesFailed(e) => write!(f, "could not write the -live profiles: {e}"),
        }
    }
}

/// A running daemon. [`Daemon::shutdown`] stops every part; dropping it stops them too.
pub struct Daemon {
    engine: Engine,
    socket: Option<IpcServer>,
    live: Arc<Mutex<Option<LiveService>>>,
    live_retry: Option<JoinHandle<()>>,
    stop: Option<oneshot::Sender<()>>,
    run: Option<JoinHandle<()>>,
    notices: Vec<Notice>,
    /// This daemon wrote (or may write, on a retried bind) the `-live` profiles, so it removes
    /// them when it stops; false once removed, and for a daemon that left the service to another.
    owns_live_profiles: bool,
}

impl std::fmt::Debug for Daemon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Daemon").field("engine", &self.engine).field("notices", &self.notices).finish()
    }
}

impl Daemon {
    /// Takes ownership of refreshing for `engine`: socket first (it also tells whether another
    /// engine runs), then the live service and its profiles, then the run loop.
    pub async fn start(engine: Engine, opts: DaemonOptions) -> Result<Daemon, IpcError> {
        let mut notices = Vec::new();
        let socket = if opts.socket {
            match IpcServer::start(engine.clone(), ipc::socket_path(engine.paths())).await {
                Ok(s) => {
                    notices.push(Notice::SocketListening(s.path().to_path_buf()));
                    Some(s)
                }
                Err(e @ IpcError::AlreadyRunning { .. }) if opts.exclusive => return Err(e),
                Err(IpcError::AlreadyRunning { path }) => {
                    notices.push(Notice::SocketOwnedElsewhere(path));
                    None
                }
                Err(e) => {
                    notices.push(Notice::SocketFailed(Failure::new(ErrorKind::Unexpected, e.to_string())));
                    None
                }
            }
        } else {
            None
        };
        engine.own_state_file();
        engine.sync_sinks().await;
        let elsewhere = notices.iter().any(|n| matches!(n, Notice::SocketOwnedElsewhere(_)));
        let live = Arc::new(Mutex::new(None));
        let mut live_retry = None;
        let owns_live_profiles = opts.live_service && !elsewhere;
        if owns_live_profiles {
            match start_live(&engine).await {
                Ok((service, notice)) => {
                    notices.push(notice);
                    *live.lock().expect("live service") = Some(service);
                }
                Err(e) => {
                    notices.push(Notice::LiveFailed(e.clone()));
                    let retry = retry_live(engine.clone(), live.clone(), e, opts.live_retry);
                    live_retry = Some(tokio::spawn(retry));
                }
            }
        }
        let (stop, stopped) = oneshot::channel::<()>();
        let runner = engine.clone();
        let run = tokio::spawn(async move {
            runner
                .run(async {
                    let _ = stopped.await;
                })
                .await
        });
        Ok(Daemon {
            engine,
            socket,
            live,
            live_retry,
            stop: Some(stop),
            run: Some(run),
            notices,
            owns_live_profiles,
        })
    }

    /// The engine it runs.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// What started and what did not.
    pub fn notices(&self) -> &[Notice] {
        &self.notices
    }

    /// True when this daemon serves the engine socket; false when another engine owns it
    /// (then a sign-out here must also be sent there: [`crate::ipc::sign_out`]).
    pub fn owns_socket(&self) -> bool {
        self.socket.is_some()
    }

    /// Where the live token service listens, when it runs.
    pub fn live_addr(&self) -> Option<SocketAddr> {
        self.live.lock().expect("live service").as_ref().map(LiveService::local_addr)
    }

    /// Stops the loop and every part; the socket is gone when this returns, so a new daemon can
    /// bind it again.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(run) = self.run.take() {
            let _ = run.await;
        }
        if let Some(retry) = self.live_retry.take() {
            retry.abort();
        }
        drop(self.socket.take());
        let live = self.live.lock().expect("live service").take();
        if let Some(live) = live {
            live.shutdown().await;
        }
        if std::mem::take(&mut self.owns_live_profiles) {
            let (remover, workspaces) = live_remover(&self.engine);
            let removed = tokio::task::spawn_blocking(move || remover.on_sign_out(&workspaces)).await;
            report_removed(removed.expect("live profiles task"));
        }
        // A stopped daemon serves nothing: its warning would mislead `status`.
        self.engine.set_warning(WarningSource::LiveService, None);
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(run) = self.run.take() {
            run.abort();
        }
        if let Some(retry) = self.live_retry.take() {
            retry.abort();
        }
        if std::mem::take(&mut self.owns_live_profiles) {
            // Dropped without `shutdown` (a panic, an early return): the service stops with the
            // runtime, so its profiles go now. A short locked file edit; no await is possible here.
            let (remover, workspaces) = live_remover(&self.engine);
            report_removed(remover.on_sign_out(&workspaces));
        }
    }
}

/// What removes this engine's `-live` profiles, and the workspaces whose they are.
fn live_remover(engine: &Engine) -> (LiveProfiles, Vec<lakepass_config::Workspace>) {
    (LiveProfiles::remover(engine.paths().databrickscfg.clone()), engine.workspaces().to_vec())
}

fn report_removed(removed: Result<Vec<String>, crate::sink::SinkError>) {
    match removed {
        Ok(names) if !names.is_empty() => {
            tracing::info!(profiles = %names.join(", "), "live token service stopped: removed the -live profiles")
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "could not remove the -live profiles"),
    }
}

/// Binds the live service and writes the `-live` profiles naming it.
async fn start_live(engine: &Engine) -> Result<(LiveService, Notice), Failure> {
    let service = LiveService::start(engine.clone(), engine.config().serve.port)
        .await
        .map_err(|e| Failure::new(ErrorKind::LiveService, e.to_string()))?;
    let sink = Arc::new(LiveProfiles::serving(
        engine.paths().databrickscfg.clone(),
        engine.workspaces(),
        service.urls().to_vec(),
    ));
    let (s, workspaces) = (sink.clone(), engine.workspaces().to_vec());
    let written =
        tokio::task::spawn_blocking(move || s.write(&workspaces)).await.expect("live profiles task");
    let notice = match written {
        Ok(profiles) => Notice::LiveServing { addr: service.local_addr(), profiles },
        Err(e) => Notice::LiveProfilesFailed(Failure::new(e.kind(), e.to_string())),
    };
    engine.add_sink(sink);
    engine.set_warning(WarningSource::LiveService, None);
    Ok((service, notice))
}

/// After a failed bind: remove the `-live` profiles, warn, and bind again until it works.
async fn retry_live(
    engine: Engine,
    slot: Arc<Mutex<Option<LiveService>>>,
    first_error: Failure,
    every: Duration,
) {
    // Warn first: by the time the profiles are gone, every front end already says why.
    engine.set_warning(WarningSource::LiveService, Some(first_error));
    let remover = LiveProfiles::remover(engine.paths().databrickscfg.clone());
    let workspaces = engine.workspaces().to_vec();
    let removed =
        tokio::task::spawn_blocking(move || remover.on_sign_out(&workspaces)).await.expect("remover");
    match removed {
        Ok(names) if !names.is_empty() => {
            tracing::warn!(profiles = %names.join(", "), "live token service down: removed the -live profiles")
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "could not remove the -live profiles"),
    }
    loop {
        tokio::time::sleep(every).await;
        match start_live(&engine).await {
            Ok((service, notice)) => {
                tracing::warn!("{notice}");
                *slot.lock().expect("live service") = Some(service);
                return;
            }
            Err(e) => {
                tracing::debug!(error = %e, "live token service: bind failed again");
                engine.set_warning(WarningSource::LiveService, Some(e));
            }
        }
    }
}
