//! `state.json`: the non-secret status (state, expiry, last error per workspace) that lets
//! `status` and the tray answer without opening the keyring. A cache: losing it loses nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::{SinkError, TokenSink};
use crate::status::{Snapshot, TokenState, WorkspaceStatus};
use lakepass_store::group_commit::{GroupCommit, Queues, same_io_error};
use lakepass_wire::UnixTime;

/// Writes `state.json`. The process that owns refreshing (the daemon, the tray) writes the whole
/// settled view whenever it changes; a short-lived CLI call that refreshed one workspace merges
/// that one entry, so it never overwrites what the owner knows.
#[derive(Debug)]
pub struct StateFile {
    path: PathBuf,
    owner: bool,
    written: Mutex<Option<(Vec<WorkspaceStatus>, Vec<crate::error::Failure>)>>,
}

impl StateFile {
    /// The owner's sink: whole snapshots.
    pub fn owner(path: PathBuf) -> Self {
        StateFile { path, owner: true, written: Mutex::default() }
    }

    /// A CLI call's sink: one entry per refresh it made.
    pub fn entries(path: PathBuf) -> Self {
        StateFile { path, owner: false, written: Mutex::default() }
    }

    fn error(&self, source: std::io::Error) -> SinkError {
        SinkError::StateFile { path: self.path.clone(), source }
    }
}

impl TokenSink for StateFile {
    fn name(&self) -> &'static str {
        "state file"
    }

    fn shown_in_status(&self) -> bool {
        false
    }

    fn on_snapshot(&self, snap: &Snapshot) -> Result<(), SinkError> {
        // Written when the settled view changes, never for the transient `refreshing` flag: a
        // pass over 100 due workspaces would otherwise make 200 writes of the same file.
        if !self.owner || snap.workspaces.iter().any(|w| w.state == TokenState::Refreshing) {
            return Ok(());
        }
        let mut written = self.written.lock().expect("state file guard");
        let view = (snap.workspaces.clone(), snap.warnings.clone());
        if written.as_ref() == Some(&view) {
            return Ok(());
        }
        write_state_file(&self.path, snap).map_err(|e| self.error(e))?;
        *written = Some(view);
        Ok(())
    }

    fn on_refreshed(&self, status: &WorkspaceStatus, at: UnixTime) -> Result<(), SinkError> {
        if self.owner {
            return Ok(()); // the whole view follows in on_snapshot
        }
        merge_state_entry(&self.path, status.clone(), at).map_err(|e| self.error(e))
    }
}

/// Writes the snapshot as `state.json` (no secrets in it), atomically but without fsync: it is a
/// cache of what the engine knows.
pub(crate) fn write_state_file(path: &Path, snap: &Snapshot) -> std::io::Result<()> {
    let _lock = state_lock(path)?;
    let json = serde_json::to_vec_pretty(snap).expect("snapshot serializes");
    lakepass_store::atomic::write_cache(path, &json, 0o600)
}

/// The entry writers of one state file in this process.
type EntryQueue = GroupCommit<(WorkspaceStatus, UnixTime), std::io::Result<()>>;

static ENTRY_QUEUES: Queues<EntryQueue> = Queues::new();

/// Replaces one workspace's entry in `state.json`, keeping the others. Entries that arrive while
/// the file is being written (many workspaces refreshed by one call) go into its next write
/// together ([group commit](lakepass_store::group_commit)).
pub(crate) fn merge_state_entry(path: &Path, entry: WorkspaceStatus, now: UnixTime) -> std::io::Result<()> {
    ENTRY_QUEUES.of(path).submit((entry, now), |entries| {
        let n = entries.len();
        match merge_entries(path, entries) {
            Ok(()) => (0..n).map(|_| Ok(())).collect(),
            Err(e) => (0..n).map(|_| Err(same_io_error(&e))).collect(),
        }
    })
}

fn merge_entries(path: &Path, entries: Vec<(WorkspaceStatus, UnixTime)>) -> std::io::Result<()> {
    let _lock = state_lock(path)?;
    let mut snap = std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice::<Snapshot>(&b).ok())
        .unwrap_or_default();
    for (entry, now) in entries {
        match snap.workspaces.iter_mut().find(|w| w.name == entry.name) {
            Some(w) => *w = entry,
            None => snap.workspaces.push(entry),
        }
        snap.at = now;
    }
    let json = serde_json::to_vec_pretty(&snap).expect("snapshot serializes");
    lakepass_store::atomic::write_cache(path, &json, 0o600)
}

fn state_lock(path: &Path) -> std::io::Result<lakepass_store::lock::FileLock> {
    let lock_path = path.with_extension("json.lock");
    lakepass_store::lock::FileLock::acquire(&lock_path, std::time::Duration::from_secs(5))
        .map_err(|e| std::io::Error::other(e.to_string()))
}

/// Reads the whole `state.json`; missing or unreadable gives an empty snapshot.
pub fn read_state_snapshot(path: &Path) -> Snapshot {
    std::fs::read(path).ok().and_then(|b| serde_json::from_slice::<Snapshot>(&b).ok()).unwrap_or_default()
}

/// Reads `state.json`; missing or unreadable gives an empty map.
pub fn read_state_file(path: &Path) -> BTreeMap<String, WorkspaceStatus> {
    std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice::<Snapshot>(&b).ok())
        .map(|s| s.workspaces.into_iter().map(|w| (w.name.clone(), w)).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str) -> WorkspaceStatus {
        WorkspaceStatus {
            name: name.into(),
            host: format!("https://{name}.example"),
            profile: name.into(),
            state: TokenState::Fresh,
            expires_at: Some(2000),
            refresh_due_at: Some(1600),
            last_error: None,
        }
    }

    /// Many refreshes recorded at once by one process (held up by another process's write,
    /// played by holding the lock): one more write carries them all, each entry is in the file
    /// when its call returns, and entries already there are kept.
    #[test]
    fn entries_recorded_together_share_a_write_and_keep_the_others() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        merge_state_entry(&path, entry("kept"), 1).unwrap();
        let held = state_lock(&path).unwrap();
        let queue = ENTRY_QUEUES.of(&path);
        let before = queue.batches();
        let n = 12;
        let callers: Vec<_> = (0..n)
            .map(|i| {
                let path = path.clone();
                std::thread::spawn(move || {
                    let name = format!("ws{i}");
                    merge_state_entry(&path, entry(&name), 10 + i).unwrap();
                    assert!(read_state_file(&path).contains_key(&name), "{name} returned before its write");
                })
            })
            .collect();
        queue.wait_queued(n as usize - 1);
        drop(held);
        for c in callers {
            c.join().unwrap();
        }
        let all = read_state_file(&path);
        assert_eq!(all.len(), n as usize + 1, "{:?}", all.keys());
        assert!(all.contains_key("kept"));
        assert_eq!(queue.batches() - before, 2, "the leader's write and one for the rest");
    }
}
