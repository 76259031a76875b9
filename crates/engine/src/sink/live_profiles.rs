//! The `<profile>-live` profiles: `auth_type = metadata-service` entries that send SDKs to the
//! live token service, so a long-running process never holds a stale token.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Mutex;

use super::{SinkError, TokenSink};
use lakepass_config::Workspace;
use lakepass_store::databrickscfg::{self, ProfileUpdate};
use lakepass_wire::exchange::WorkspaceToken;
use lakepass_wire::secret::Secret;

/// The name of a workspace's live profile: `<profile>-live`.
pub fn live_profile_name(ws: &Workspace) -> String {
    format!("{}-live", ws.profile)
}

/// Writes the `-live` profiles while a live token service runs, and removes the ones Lakepass
/// made on sign-out. A user's own profile of the same name is never touched, nor a `-live` name
/// that is another workspace's own profile.
#[derive(Debug)]
pub struct LiveProfiles {
    path: PathBuf,
    /// Workspace name → the service URL for it; empty when no service runs in this process.
    urls: Vec<(String, Secret)>,
    /// Every workspace's own profile name: a `-live` name equal to one is skipped.
    taken: Vec<String>,
    /// The profiles written since the last sign-out: a new token re-writes only missing ones.
    written: Mutex<BTreeSet<String>>,
}

impl LiveProfiles {
    /// For a process with no live service: it only removes `-live` profiles on sign-out.
    pub(crate) fn remover(path: PathBuf) -> Self {
        LiveProfiles { path, urls: Vec::new(), taken: Vec::new(), written: Mutex::default() }
    }

    /// For the process serving `urls` (workspace name → URL) over `workspaces`.
    pub fn serving(path: PathBuf, workspaces: &[Workspace], urls: Vec<(String, Secret)>) -> Self {
        let taken = workspaces.iter().map(|w| w.profile.clone()).collect();
        LiveProfiles { path, urls, taken, written: Mutex::default() }
    }

    fn update_for(&self, ws: &Workspace) -> Option<ProfileUpdate> {
        let url = self.urls.iter().find(|(n, _)| *n == ws.name).map(|(_, u)| u)?;
        let profile = live_profile_name(ws);
        if self.taken.contains(&profile) {
            tracing::warn!(workspace = %ws.name, profile, "not writing the live profile: another workspace uses that profile name");
            return None;
        }
        Some(ProfileUpdate {
            profile,
            entries: vec![
                ("host".to_string(), ws.host.to_string()),
                ("metadata_service_url".to_string(), url.secret().to_string()),
                ("auth_type".to_string(), "metadata-service".to_string()),
            ],
        })
    }

    /// Writes (or updates) the `-live` profile of every workspace in `workspaces` that has a
    /// URL, in one locked edit. Returns the profile names written.
    pub fn write(&self, workspaces: &[Workspace]) -> Result<Vec<String>, SinkError> {
        let updates: Vec<ProfileUpdate> = workspaces.iter().filter_map(|w| self.update_for(w)).collect();
        if updates.is_empty() {
            return Ok(Vec::new());
        }
        let mut written = Vec::new();
        databrickscfg::update_file(&self.path, |text| {
            written.clear(); // the edit runs again if another program saved meanwhile
            let owned = databrickscfg::owned_profiles(text)?;
            updates.iter().try_fold(text.to_string(), |text, u| {
                // A user's own `dev-live` is theirs: skip it, write the others.
                if !owned.contains(&u.profile) && databrickscfg::read_profile(&text, &u.profile)?.is_some() {
                    tracing::warn!(profile = %u.profile, "not writing this live profile: a profile of that name exists and was not made by Lakepass");
                    return Ok(text);
                }
                written.push(u.profile.clone());
                super::exact_profile(&text, u)
            })
        })?;
        self.written.lock().expect("written set").extend(written.iter().cloned());
        Ok(written)
    }
}

impl TokenSink for LiveProfiles {
    fn name(&self) -> &'static str {
        "live profiles"
    }

    fn on_token(&self, ws: &Workspace, _token: &WorkspaceToken) -> Result<(), SinkError> {
        // After a sign-out removed it, the first new token brings the profile back.
        if self.urls.is_empty() || self.written.lock().expect("written set").contains(&live_profile_name(ws))
        {
            return Ok(());
        }
        self.write(std::slice::from_ref(ws)).map(drop)
    }

    fn on_sign_out(&self, workspaces: &[Workspace]) -> Result<Vec<String>, SinkError> {
        let live: Vec<String> = workspaces.iter().map(live_profile_name).collect();
        let mut removed = Vec::new();
        databrickscfg::update_file(&self.path, |text| {
            let owned = databrickscfg::owned_profiles(text)?;
            removed = live.iter().filter(|p| owned.contains(*p)).cloned().collect();
            removed.iter().try_fold(text.to_string(), |acc, p| databrickscfg::remove_profile(&acc, p))
        })?;
        let mut written = self.written.lock().expect("written set");
        for p in &live {
            written.remove(p);
        }
        Ok(removed)
    }
}
