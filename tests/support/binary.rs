//! The `lakepass` binary under test: where it is, and running it in a [`TempHome`].
//!
//! A test crate cannot depend on a bin target, so `.ci/run` builds it first (`cargo build -p
//! lakepass-cli`); `LAKEPASS_BIN` overrides. A missing binary fails with a message saying so,
//! rather than building behind your back, and a stale one is warned about.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use tokio::process::Command;

use crate::{COMMAND_TIMEOUT, Output, Proc, TempHome};

/// The workspace root (the parent of this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
}

/// The `lakepass` binary under test: `$LAKEPASS_BIN`, else `<target dir>/debug/lakepass`.
///
/// Panics with instructions when it is missing, and warns once when it is older than the CLI or
/// core sources (a stale binary tests yesterday's code).
pub fn lakepass_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let bin = match std::env::var_os("LAKEPASS_BIN").filter(|v| !v.is_empty()) {
            Some(p) => PathBuf::from(p),
            None => {
                let target = std::env::var_os("CARGO_TARGET_DIR")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| workspace_root().join("target"));
                target.join("debug").join("lakepass")
            }
        };
        assert!(
            bin.is_file(),
            "the lakepass binary is not at {}: build it first with `cargo build -p lakepass-cli` \
             (the e2e tests run the built binary; .ci/run builds it), or set LAKEPASS_BIN",
            bin.display()
        );
        warn_if_stale(&bin);
        bin
    })
    .clone()
}

fn warn_if_stale(bin: &Path) {
    let Ok(built) = bin.metadata().and_then(|m| m.modified()) else {
        return;
    };
    let root = workspace_root();
    // The binary is built from the CLI and every library crate it links.
    let sources =
        ["cli", "linux-tray", "app", "wire", "store", "config", "engine", "launch", "doctor", "admin"];
    let newest = sources.iter().filter_map(|c| newest_mtime(&root.join("crates").join(c).join("src"))).max();
    if newest.is_some_and(|n| n > built) {
        eprintln!(
            "warning: {} is older than the sources in crates/; run \
             `cargo build -p lakepass-cli` to test the current code",
            bin.display()
        );
    }
}

fn newest_mtime(dir: &Path) -> Option<SystemTime> {
    let mut newest = None;
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        let t = if path.is_dir() {
            newest_mtime(&path)
        } else {
            entry.metadata().ok().and_then(|m| m.modified().ok())
        };
        newest = newest.max(t);
    }
    newest
}

impl TempHome {
    /// `lakepass <args>` with this home's environment.
    pub fn lakepass(&self, args: &[&str]) -> Command {
        let mut cmd = self.command(lakepass_bin());
        cmd.args(args);
        cmd
    }

    /// Runs `lakepass <args>` to completion (bounded by [`COMMAND_TIMEOUT`]).
    pub async fn run(&self, args: &[&str]) -> Output {
        self.run_timeout(args, COMMAND_TIMEOUT).await
    }

    /// Runs `lakepass <args>` to completion within `timeout`.
    pub async fn run_timeout(&self, args: &[&str], timeout: Duration) -> Output {
        let what = format!("lakepass {}", args.join(" "));
        let mut p = Proc::spawn(what, self.lakepass(args));
        p.close_stdin();
        p.wait(timeout).await
    }

    /// Starts `lakepass <args>` in the background (e.g. the daemon).
    pub fn spawn(&self, args: &[&str]) -> Proc {
        let mut p = Proc::spawn(format!("lakepass {}", args.join(" ")), self.lakepass(args));
        p.close_stdin();
        p
    }
}
