//! The dashboard as its own process: `lakepass-tray --dashboard`, started when the user opens
//! it and gone when its window closes, so WebKit's memory is spent only while it is on screen.
//! It reaches this tray's host over `app.sock` and closes itself when the tray quits. A second
//! open while one runs starts the program again, whose single-instance check hands over to the
//! running window (it comes to the front) and exits.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Starts and tracks dashboard processes.
#[derive(Debug)]
pub struct Dashboards {
    program: PathBuf,
    config: PathBuf,
    running: Mutex<Vec<Child>>,
}

impl Dashboards {
    /// Dashboards of `program` (the Lakepass app) over the config at `config`.
    pub fn new(program: PathBuf, config: PathBuf) -> Dashboards {
        Dashboards { program, config, running: Mutex::new(Vec::new()) }
    }

    /// The program that shows the dashboard.
    pub fn program(&self) -> &std::path::Path {
        &self.program
    }

    /// Opens the dashboard (or brings the open one to the front).
    pub fn open(&self) {
        let mut running = self.running.lock().expect("dashboards");
        running.retain_mut(|c| matches!(c.try_wait(), Ok(None)));
        match Command::new(&self.program)
            .arg("--dashboard")
            .arg("--config")
            .arg(&self.config)
            .stdin(Stdio::null())
            .spawn()
        {
            Ok(child) => running.push(child),
            Err(e) => tracing::warn!(
                error = %e,
                program = %self.program.display(),
                "cannot start the dashboard; is the Lakepass app installed beside this program?"
            ),
        }
    }

    /// Waits (bounded) for open dashboards to close after the tray stopped serving them, and
    /// stops any that do not.
    pub fn close(&self) {
        let mut running = self.running.lock().expect("dashboards");
        let deadline = Instant::now() + Duration::from_secs(3);
        while running.iter_mut().any(|c| matches!(c.try_wait(), Ok(None))) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        for c in running.iter_mut() {
            if matches!(c.try_wait(), Ok(None)) {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
        running.clear();
    }
}
