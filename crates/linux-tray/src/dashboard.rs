//! The dashboard as its own process: `lakepass-tray --dashboard`, started when the user opens
//! it and gone when its window closes, so WebKit's memory is spent only while it is on screen.
//! It reaches this tray's host over `app.sock` and closes itself when the tray quits. A second
//! open while one runs starts the program again, whose single-instance check hands over to the
//! running window (it comes to the front) and exits.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use tokio::process::Command;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// How long a dashboard may take to close by itself once the tray stopped serving it.
const CLOSE_GRACE: Duration = Duration::from_secs(3);

/// Starts dashboard processes and reaps them as they exit.
#[derive(Debug)]
pub(crate) struct Dashboards {
    program: PathBuf,
    config: PathBuf,
    running: Mutex<JoinSet<()>>,
    stop: watch::Sender<bool>,
}

impl Dashboards {
    /// Dashboards of `program` (the Lakepass app) over the config at `config`.
    pub fn new(program: PathBuf, config: PathBuf) -> Dashboards {
        Dashboards { program, config, running: Mutex::new(JoinSet::new()), stop: watch::channel(false).0 }
    }

    /// The program that shows the dashboard.
    pub fn program(&self) -> &Path {
        &self.program
    }

    /// Opens the dashboard (or brings the open one to the front). Call inside the runtime.
    pub fn open(&self) {
        let spawned = Command::new(&self.program)
            .arg("--dashboard")
            .arg("--config")
            .arg(&self.config)
            .stdin(std::process::Stdio::null())
            .spawn();
        let mut child = match spawned {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(
                    error = %e,
                    program = %self.program.display(),
                    "cannot start the dashboard; is the Lakepass app installed beside this program?"
                );
                return;
            }
        };
        let mut stop = self.stop.subscribe();
        let mut running = self.running.lock().expect("dashboards");
        while running.try_join_next().is_some() {}
        running.spawn(async move {
            tokio::select! {
                _ = child.wait() => return,
                _ = stop.wait_for(|s| *s) => {}
            }
            if tokio::time::timeout(CLOSE_GRACE, child.wait()).await.is_err() {
                tracing::warn!("the dashboard did not close with the tray; stopping it");
                let _ = child.kill().await;
            }
        });
    }

    /// After the tray stopped serving: waits (bounded) for open dashboards to close by
    /// themselves, and stops any that do not.
    pub async fn close(&self) {
        let _ = self.stop.send(true);
        let mut running = std::mem::take(&mut *self.running.lock().expect("dashboards"));
        while running.join_next().await.is_some() {}
    }
}
