//! Windows: there is no `exec`, so the program runs as our child and we pass its exit code on;
//! a terminal is started as a new process group without our console.

use std::os::windows::process::CommandExt as _;
use std::process::{Command, ExitStatus};

use super::Platform;

/// This platform.
pub(crate) const PLATFORM: Platform = Platform::Windows;

const CREATE_NEW_PROCESS_GROUP: u32 = 0x0000_0200;
const DETACHED_PROCESS: u32 = 0x0000_0008;
const CREATE_NEW_CONSOLE: u32 = 0x0000_0010;

/// Runs `cmd` to its end with our console and returns its status.
pub fn hand_over(cmd: &mut Command) -> std::io::Result<ExitStatus> {
    cmd.status()
}

/// Starts the child in its own process group, without our console: with a console window of
/// its own when it is the program to show (the fallback terminal), else with none.
pub fn detach(cmd: &mut Command, new_console: bool) {
    let console = if new_console { CREATE_NEW_CONSOLE } else { DETACHED_PROCESS };
    cmd.creation_flags(CREATE_NEW_PROCESS_GROUP | console);
}
