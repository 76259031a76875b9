//! Where tokens go once the engine has them: one seam, [`TokenSink`], many destinations.
//!
//! The engine mints and refreshes tokens; what other programs read is a sink's business. A sink
//! hears of a new token, of a settled status, of a refresh this process finished, and of a
//! sign-out; it writes wherever it writes and reports a failure as a [`SinkError`]. The engine
//! records each sink's last failure per workspace (shown in `status` and the tray, apart from
//! refresh errors) and knows nothing else about them.
//!
//! The sinks Lakepass ships:
//! - [`CredentialsProfile`]: the workspace's `~/.databrickscfg` profile (static token, or the
//!   `cli-helper` flavour);
//! - [`LiveProfiles`]: the `<profile>-live` profiles that point SDKs at the live token service;
//! - [`StateFile`]: `state.json`, the non-secret status other processes read, written whole by
//!   the process that owns refreshing, or one entry at a time by a CLI call that refreshed.
//!
//! Adding one: implement [`TokenSink`] (every method has a no-op default), then add it to the
//! list [`crate::EngineBuilder`] installs (or call [`crate::engine::Engine::add_sink`] from the
//! component that owns it, as the daemon does for the live profiles). Sinks run on a blocking
//! thread: plain file IO is fine, and they must not block for long.

mod helper_link;
mod live_profiles;
mod profile;
mod shell;
mod state_file;

use std::sync::Arc;

pub use helper_link::{HelperTarget, helper_invocation};
pub use live_profiles::{LiveProfiles, live_profile_name};
pub use profile::{CredentialsProfile, helper_profile_name};
pub use shell::sh_quote;
pub use state_file::{StateFile, read_state_file, read_state_snapshot};

use crate::error::ErrorKind;
use crate::status::{Snapshot, WorkspaceStatus};
use lakepass_config::Workspace;
use lakepass_store::databrickscfg::CfgFileError;
use lakepass_wire::exchange::WorkspaceToken;

/// Why a sink could not write.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// `~/.databrickscfg` could not be read or written.
    #[error(transparent)]
    CredentialsFile(#[from] CfgFileError),
    /// The state file could not be written.
    #[error("could not write the state file {path}: {source}")]
    StateFile {
        /// The file.
        path: std::path::PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The `databricks-cli` helper link (or the file naming its config) could not be written.
    #[error("could not write the Databricks CLI helper link in {path}: {source}")]
    HelperLink {
        /// The link's folder.
        path: std::path::PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

impl SinkError {
    /// The kind a front end shows it as.
    pub fn kind(&self) -> ErrorKind {
        match self {
            SinkError::CredentialsFile(_) | SinkError::HelperLink { .. } => ErrorKind::CredentialsFile,
            SinkError::StateFile { .. } => ErrorKind::Unexpected,
        }
    }
}

/// A destination for tokens and status. Every method has a no-op default.
pub(crate) trait TokenSink: Send + Sync + 'static {
    /// A short name for logs ("credentials profile", "state file", …).
    fn name(&self) -> &'static str;

    /// Whether a failure of this sink is shown on the workspace (a profile other tools read
    /// that went stale) or only logged (a cache).
    fn shown_in_status(&self) -> bool {
        true
    }

    /// A new token for `ws`.
    fn on_token(&self, _ws: &Workspace, _token: &WorkspaceToken) -> Result<(), SinkError> {
        Ok(())
    }

    /// This process finished a refresh of one workspace (successful or not): its new status.
    fn on_refreshed(&self, _status: &WorkspaceStatus, _at: lakepass_wire::UnixTime) -> Result<(), SinkError> {
        Ok(())
    }

    /// The settled view changed (no refresh under way).
    fn on_snapshot(&self, _snapshot: &Snapshot) -> Result<(), SinkError> {
        Ok(())
    }

    /// The user signed out of the IdP of `workspaces`: forget what was written for them.
    /// Returns what was removed, in words the user knows (profile names).
    fn on_sign_out(&self, _workspaces: &[Workspace]) -> Result<Vec<String>, SinkError> {
        Ok(Vec::new())
    }
}

/// A shared sink.
pub(crate) type SharedSink = Arc<dyn TokenSink>;

/// Upserts `u` so the profile holds exactly its entries: a Lakepass-owned profile with keys it
/// should no longer have (a `token` left from the static flavour) is rewritten whole.
fn exact_profile(
    text: &str,
    u: &lakepass_store::databrickscfg::ProfileUpdate,
) -> Result<String, lakepass_store::databrickscfg::CfgError> {
    use lakepass_store::databrickscfg;
    let entries: Vec<(&str, &str)> = u.entries.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let stale = databrickscfg::read_profile(text, &u.profile)?
        .is_some_and(|old| old.iter().any(|(k, _)| !entries.iter().any(|(n, _)| n.eq_ignore_ascii_case(k))));
    let text = if stale { databrickscfg::remove_profile(text, &u.profile)? } else { text.to_string() };
    databrickscfg::upsert_profile(&text, &u.profile, &entries)
}
