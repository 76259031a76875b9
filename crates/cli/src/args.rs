//! Arguments several commands share, so each command's module depends on this one and not on
//! another command's.

use clap::Args;

/// `--workspace`.
#[derive(Args, Debug)]
pub struct WorkspaceArg {
    /// Workspace name from the config [default: the active workspace]
    #[arg(long, short = 'w')]
    pub workspace: Option<String>,
}
