//! What every Unix shares: `exec` to replace this process, and a new process group so that a
//! terminal we open does not get the Ctrl-C or hang-up meant for the shell that ran us.

use std::os::unix::process::CommandExt as _;
use std::process::{Command, ExitStatus};

/// Replaces this process with `cmd`; returns only if that failed.
pub fn hand_over(cmd: &mut Command) -> std::io::Result<ExitStatus> {
    Err(cmd.exec())
}

/// Puts the child in its own process group (a console of its own is a Windows notion).
pub fn detach(cmd: &mut Command, _new_console: bool) {
    cmd.process_group(0);
}
