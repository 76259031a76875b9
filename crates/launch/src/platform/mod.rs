//! The platform-specific part of launching: replacing this process with another program, and
//! starting a terminal that outlives us. One small function set per OS, chosen by `cfg`:
//! `linux.rs` (and other freedesktop Unixes), `macos.rs`, `windows.rs`; the Unix ones share
//! `unix.rs`. Everything else in `launch` is platform-neutral and pure.

use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::LaunchError;
use super::environment::EnvChanges;
use super::terminal::{Platform, TerminalInvocation};

#[cfg(all(unix, not(target_os = "macos")))]
mod linux;
#[cfg(all(unix, not(target_os = "macos")))]
use linux as os;
#[cfg(target_os = "macos")]
mod macos;
#[cfg(target_os = "macos")]
use macos as os;
#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows as os;
#[cfg(unix)]
mod unix;

/// The platform this build runs on.
pub const CURRENT_PLATFORM: Platform = os::PLATFORM;

/// How long a just-started terminal is watched for an immediate failure (no display, bad flag).
const EARLY_EXIT_WATCH: Duration = Duration::from_millis(500);

/// Hands over to `cmd`. On Unix this process becomes `cmd` (exec: same pid, signals and exit
/// code go straight to it) and the call returns only on failure; on Windows `cmd` runs to its
/// end and its status is returned for the caller to exit with.
pub fn hand_over(cmd: &mut Command) -> Result<ExitStatus, LaunchError> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    os::hand_over(cmd).map_err(|source| LaunchError::Spawn { program, source })
}

/// Starts a terminal (writing its script first, if it has one) in `dir` with `env` applied,
/// detached from our terminal session and stdio, and watches it briefly for an early failure.
pub fn spawn_detached(
    inv: &TerminalInvocation,
    dir: &Path,
    env: &EnvChanges,
    script_path: &Path,
) -> Result<(), LaunchError> {
    if let Some(script) = &inv.script {
        lakepass_store::atomic::write_atomic(script_path, script.as_bytes(), 0o700)
            .map_err(|source| LaunchError::Io { action: "write", path: script_path.into(), source })?;
    }
    let mut cmd = Command::new(&inv.program);
    cmd.args(&inv.args).current_dir(dir).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    env.apply(&mut cmd);
    os::detach(&mut cmd, inv.new_console);
    let mut child =
        cmd.spawn().map_err(|source| LaunchError::Spawn { program: inv.program.clone(), source })?;
    let deadline = Instant::now() + EARLY_EXIT_WATCH;
    while Instant::now() < deadline {
        match child.try_wait() {
            Ok(Some(status)) if !status.success() => {
                return Err(LaunchError::TerminalFailed { program: inv.program.clone(), status });
            }
            Ok(Some(_)) | Err(_) => return Ok(()),
            Ok(None) => std::thread::sleep(Duration::from_millis(25)),
        }
    }
    Ok(())
}
