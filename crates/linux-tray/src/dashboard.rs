//! The dashboard as its own process: `lakepass-tray --dashboard`, so WebKit's memory is spent
//! only while the dashboard is on screen or about to be. It reaches this tray's host over
//! `app.sock` and closes itself when the tray quits.
//!
//! Starting WebKit costs about a quarter of a second (docs/benchmarks.md, figure 4), so the tray
//! starts the dashboard **before** the click: when its menu opens ([`Dashboards::warm`]), a
//! `--dashboard --preload` process loads the page into a hidden window, and "Open dashboard"
//! then only maps it. Unused, it is let go [`Dashboards::linger`] after the menu last opened, so
//! the tray that sits in memory all day holds no WebKit.
//!
//! There is at most one dashboard process, and the tray talks to it over its stdin, one line per
//! request: `show` shows (or raises) the window. The end of stdin tells a preloaded, never shown
//! dashboard to exit; a shown one lives until its window closes. A pipe, not a signal: a `show`
//! written before the process reads it waits in the pipe, and a process that died (crashed,
//! closed) fails the write, so the click starts a new one instead.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::process::Command;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

/// How long a dashboard may take to close by itself once the tray stopped serving it or let it go.
const CLOSE_GRACE: Duration = Duration::from_secs(3);

/// How long a preloaded dashboard waits for the click after the menu last opened, by default.
pub(crate) const DEFAULT_LINGER: Duration = Duration::from_secs(60);

/// The one dashboard process, while it runs.
#[derive(Debug)]
struct Current {
    /// Which start this is (the reaper and the linger timer of an older one leave it alone).
    id: u64,
    /// Its stdin: one request per line.
    requests: std::io::PipeWriter,
    /// Asked to show its window (it then lives until the window closes).
    shown: bool,
    /// When a preloaded, never shown dashboard is let go.
    release_at: Instant,
    /// Dropped to tell the reaper to end the process if it does not exit by itself.
    _let_go: oneshot::Sender<()>,
}

#[derive(Debug, Default)]
struct State {
    started: u64,
    current: Option<Current>,
}

/// Starts the dashboard process (ahead of the click, or on it), hands it clicks, lets an unused
/// one go, and reaps it.
#[derive(Debug)]
pub(crate) struct Dashboards {
    program: PathBuf,
    config: PathBuf,
    linger: Duration,
    state: Arc<Mutex<State>>,
    running: Mutex<JoinSet<()>>,
    stop: watch::Sender<bool>,
}

impl Dashboards {
    /// Dashboards of `program` (the Lakepass app) over the config at `config`; a preloaded one
    /// is let go `linger` after the menu last opened (zero: never preload).
    pub fn new(program: PathBuf, config: PathBuf, linger: Duration) -> Dashboards {
        Dashboards {
            program,
            config,
            linger,
            state: Arc::default(),
            running: Mutex::new(JoinSet::new()),
            stop: watch::channel(false).0,
        }
    }

    /// The program that shows the dashboard.
    pub fn program(&self) -> &Path {
        &self.program
    }

    /// The tray's menu opened: have a dashboard loaded for a click that may follow (or keep the
    /// loaded one another `linger`). Call inside the runtime.
    pub fn warm(&self) {
        if self.linger.is_zero() {
            return;
        }
        let mut state = self.state.lock().expect("dashboards");
        if let Some(c) = state.current.as_mut() {
            if !c.shown {
                c.release_at = Instant::now() + self.linger;
            }
            return;
        }
        if let Some(id) = self.start(&mut state, true) {
            tokio::spawn(release_when_unused(self.state.clone(), id));
        }
    }

    /// Opens the dashboard: shows the preloaded one, raises the open one, or starts one. Call
    /// inside the runtime.
    pub fn open(&self) {
        let mut state = self.state.lock().expect("dashboards");
        if let Some(c) = state.current.as_mut() {
            // A dashboard that died (crashed, or its window just closed) fails this write.
            if c.requests.write_all(b"show\n").is_ok() {
                c.shown = true;
                return;
            }
            tracing::debug!("dashboard: the running one is gone; starting another");
            state.current = None;
        }
        if self.start(&mut state, false).is_some()
            && let Some(c) = state.current.as_mut()
        {
            c.shown = true;
        }
    }

    /// Starts `--dashboard` (`preload`: hidden, with `--preload`) as the current dashboard and
    /// its reaper; its id, or `None` if it could not start (said in the log).
    fn start(&self, state: &mut State, preload: bool) -> Option<u64> {
        let (stdin, requests) = match std::io::pipe() {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "cannot start the dashboard: no pipe");
                return None;
            }
        };
        let mut cmd = Command::new(&self.program);
        cmd.arg("--dashboard");
        if preload {
            cmd.arg("--preload");
        }
        let spawned = cmd.arg("--config").arg(&self.config).stdin(stdin).spawn();
        let mut child = match spawned {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(
                    error = %e,
                    program = %self.program.display(),
                    "cannot start the dashboard; is the Lakepass app installed beside this program?"
                );
                return None;
            }
        };
        state.started += 1;
        let id = state.started;
        let (let_go, mut gone) = oneshot::channel();
        state.current = Some(Current {
            id,
            requests,
            shown: false,
            release_at: Instant::now() + self.linger,
            _let_go: let_go,
        });
        tracing::debug!(preload, "dashboard: started");

        let mut stop = self.stop.subscribe();
        let shared = self.state.clone();
        let mut running = self.running.lock().expect("dashboards");
        while running.try_join_next().is_some() {}
        running.spawn(async move {
            let exited = tokio::select! {
                _ = child.wait() => true,
                _ = stop.wait_for(|s| *s) => false,
                _ = &mut gone => false,
            };
            if !exited && tokio::time::timeout(CLOSE_GRACE, child.wait()).await.is_err() {
                tracing::warn!("the dashboard did not close when asked; stopping it");
                let _ = child.kill().await;
            }
            let mut state = shared.lock().expect("dashboards");
            if state.current.as_ref().is_some_and(|c| c.id == id) {
                state.current = None;
            }
        });
        Some(id)
    }

    /// After the tray stopped serving: waits (bounded) for the dashboard to close by itself,
    /// and stops it if it does not.
    pub async fn close(&self) {
        // Its stdin ends too: a preloaded dashboard exits on that alone.
        drop(self.state.lock().expect("dashboards").current.take());
        let _ = self.stop.send(true);
        let mut running = std::mem::take(&mut *self.running.lock().expect("dashboards"));
        while running.join_next().await.is_some() {}
    }
}

/// Lets the preloaded dashboard `id` go once its time is up, unless it was shown or replaced:
/// its stdin ends (it exits by itself) and its reaper ends it if it does not.
async fn release_when_unused(state: Arc<Mutex<State>>, id: u64) {
    loop {
        let at = {
            let mut s = state.lock().expect("dashboards");
            match s.current.as_ref() {
                Some(c) if c.id == id && !c.shown => {
                    if Instant::now() >= c.release_at {
                        tracing::debug!("dashboard: unused; letting the preloaded one go");
                        s.current = None;
                        return;
                    }
                    c.release_at
                }
                _ => return,
            }
        };
        tokio::time::sleep_until(at).await;
    }
}

#[cfg(test)]
mod tests;
