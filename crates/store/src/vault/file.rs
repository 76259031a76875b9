//! The file backend: `<data dir>/vault.json`, a JSON object `{ key: value }`.
//!
//! Plain text, protected only by its mode (0600, folder 0700): see the module docs of
//! [`crate::vault`] for why it exists. Writers hold `vault.json.lock` across read → modify →
//! write, so two processes adding different keys both keep theirs, and write through
//! [`write_atomic`] (temp file, fsync, rename), so a crash leaves the old file or the new one.
//! Readers need no lock: a rename is atomic. A file that does not parse is never overwritten.
//!
//! Writers inside one process share writes ([group commit](crate::group_commit)): when many
//! workspaces refresh at once, the changes that arrive while the file is being written go into
//! the next single write, and each `set` or `delete` returns once the write carrying it is
//! durable (or with that write's error).

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use zeroize::Zeroizing;

use super::VaultError;
use crate::atomic::write_atomic;
use crate::group_commit::{GroupCommit, Queues, same_io_error};
use crate::lock::FileLock;
use lakepass_wire::Secret;

/// The file's name inside the data dir.
pub(super) const FILE_NAME: &str = "vault.json";

/// How long a writer waits for another process to finish its write.
const LOCK_TIMEOUT: Duration = Duration::from_secs(10);

/// Key → secret, ordered so the file diffs and reads predictably.
type Entries = BTreeMap<String, Secret>;

/// One caller's change to the file.
enum Change {
    Set(String, Secret),
    Delete(String),
}

/// The writers of one vault file in this process.
type WriteQueue = GroupCommit<Change, Result<(), VaultError>>;

static QUEUES: Queues<WriteQueue> = Queues::new();

/// Paths of the vault file, its lock and its folder, and this process's queue of writes to it.
/// All methods block: call them off the async threads.
#[derive(Clone)]
pub(super) struct FileStore {
    dir: PathBuf,
    path: PathBuf,
    lock_path: PathBuf,
    writes: Arc<WriteQueue>,
}

impl std::fmt::Debug for FileStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileStore").field("path", &self.path).finish()
    }
}

impl FileStore {
    pub(super) fn new(data_dir: &Path) -> Self {
        FileStore {
            dir: data_dir.to_owned(),
            path: data_dir.join(FILE_NAME),
            lock_path: data_dir.join(format!("{FILE_NAME}.lock")),
            writes: QUEUES.of(&data_dir.join(FILE_NAME)),
        }
    }

    /// The vault file.
    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// Creates the data dir, 0700, if it is missing. An existing folder is left as it is.
    pub(super) fn ensure_dir(&self) -> Result<(), VaultError> {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(&self.dir).map_err(|source| VaultError::Io { path: self.dir.clone(), source })
    }

    pub(super) fn get(&self, key: &str) -> Result<Option<Secret>, VaultError> {
        Ok(self.read()?.remove(key))
    }

    /// Stores `value` under `key`; returns once the file holding it is durable.
    pub(super) fn set(&self, key: &str, value: Secret) -> Result<(), VaultError> {
        self.writes.submit(Change::Set(key.to_owned(), value), |batch| self.commit(batch))
    }

    /// Removes `key`; returns once the file without it is durable. A missing key (or folder)
    /// is no change.
    pub(super) fn delete(&self, key: &str) -> Result<(), VaultError> {
        self.writes.submit(Change::Delete(key.to_owned()), |batch| self.commit(batch))
    }

    /// One locked read → apply every change in order → one atomic, durable write (none when
    /// nothing changed). Every change gets the same outcome: they share the write.
    fn commit(&self, batch: Vec<Change>) -> Vec<Result<(), VaultError>> {
        let n = batch.len();
        match self.apply(batch) {
            Ok(()) => (0..n).map(|_| Ok(())).collect(),
            Err(e) => (0..n).map(|_| Err(same_error(&e))).collect(),
        }
    }

    fn apply(&self, batch: Vec<Change>) -> Result<(), VaultError> {
        let only_deletes = batch.iter().all(|c| matches!(c, Change::Delete(_)));
        if only_deletes && !self.dir.exists() {
            return Ok(());
        }
        self.ensure_dir()?;
        let _lock = FileLock::acquire(&self.lock_path, LOCK_TIMEOUT)?;
        let mut entries = self.read()?;
        let mut changed = false;
        for change in batch {
            changed |= match change {
                Change::Set(key, value) => {
                    entries.insert(key, value);
                    true
                }
                Change::Delete(key) => entries.remove(&key).is_some(),
            };
        }
        if changed { self.write(&entries) } else { Ok(()) }
    }

    /// All entries; a missing file is an empty vault.
    fn read(&self) -> Result<Entries, VaultError> {
        match std::fs::read(&self.path) {
            Ok(bytes) => parse(&Zeroizing::new(bytes), &self.path),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(Entries::new()),
            Err(source) => Err(VaultError::Io { path: self.path.clone(), source }),
        }
    }

    fn write(&self, entries: &Entries) -> Result<(), VaultError> {
        write_atomic(&self.path, &render(entries), 0o600)
            .map_err(|source| VaultError::Io { path: self.path.clone(), source })
    }
}

/// The same error again, for the next caller a shared write failed for.
fn same_error(e: &VaultError) -> VaultError {
    match e {
        VaultError::Io { path, source } => {
            VaultError::Io { path: path.clone(), source: same_io_error(source) }
        }
        VaultError::Corrupt { path, message } => {
            VaultError::Corrupt { path: path.clone(), message: message.clone() }
        }
        VaultError::Lock(l) => VaultError::Lock(l.again()),
        VaultError::Timeout { op } => VaultError::Timeout { op: op.clone() },
        VaultError::Keyring { message } => VaultError::Keyring { message: message.clone() },
        VaultError::KeyringForced { message } => VaultError::KeyringForced { message: message.clone() },
    }
}

/// Parses the file. An empty file holds nothing (there is nothing left to lose by writing it);
/// anything else that is not an object of strings is [`VaultError::Corrupt`].
fn parse(bytes: &[u8], path: &Path) -> Result<Entries, VaultError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Entries::new());
    }
    serde_json::from_slice(bytes)
        .map_err(|e| VaultError::Corrupt { path: path.to_owned(), message: describe_json_error(&e) })
}

/// Where and what kind of error, without serde_json's message: that can quote the file's
/// content (`invalid type: string "<a token>"`), and the content is secrets.
fn describe_json_error(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let what = match e.classify() {
        Category::Syntax => "not valid JSON",
        Category::Eof => "JSON cut short",
        Category::Data => "not a JSON object of string values",
        Category::Io => "unreadable",
    };
    format!("{what} at line {} column {}", e.line(), e.column())
}

fn render(entries: &Entries) -> Zeroizing<Vec<u8>> {
    let mut bytes = serde_json::to_vec_pretty(entries).expect("a string map always serializes");
    bytes.push(b'\n');
    Zeroizing::new(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Barrier;

    /// The vault's entries as a fresh reader sees them on disk.
    fn on_disk(dir: &Path) -> Entries {
        parse(&std::fs::read(dir.join(FILE_NAME)).unwrap(), Path::new("v")).unwrap()
    }

    /// `n` threads each setting their own key while another process (played by holding the
    /// file lock) writes: the first becomes the leader and waits for the lock, the other n - 1
    /// queue behind it and go out together in one more write.
    fn queue_behind_a_held_lock(
        store: &FileStore,
        n: usize,
        change: impl Fn(&FileStore, usize) -> Result<(), VaultError> + Send + Sync + 'static,
        while_held: impl FnOnce(),
    ) -> Vec<(usize, Result<(), VaultError>)> {
        let held = FileLock::acquire(&store.lock_path, LOCK_TIMEOUT).unwrap();
        let change = Arc::new(change);
        let start = Arc::new(Barrier::new(n));
        let callers: Vec<_> = (0..n)
            .map(|i| {
                let (store, change, start) = (store.clone(), change.clone(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    let out = change(&store, i);
                    if out.is_ok() {
                        // Durable when the call returns: a fresh reader sees it now.
                        let key = format!("k{i}");
                        assert!(on_disk(&store.dir).contains_key(&key), "{key} returned before its write");
                    }
                    (i, out)
                })
            })
            .collect();
        // The leader holds the batch it took and waits for the lock; the others queue.
        store.writes.wait_queued(n - 1);
        while_held();
        drop(held);
        callers.into_iter().map(|c| c.join().unwrap()).collect()
    }

    #[test]
    fn concurrent_sets_share_writes_and_each_returns_once_its_value_is_in_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path());
        store.set("before", Secret::new("kept")).unwrap();
        let batches = store.writes.batches();
        let n = 24;
        let outs = queue_behind_a_held_lock(
            &store,
            n,
            |s, i| s.set(&format!("k{i}"), Secret::new(format!("v{i}"))),
            || {},
        );
        assert!(outs.iter().all(|(_, o)| o.is_ok()), "{outs:?}");
        let entries = on_disk(dir.path());
        for i in 0..n {
            assert_eq!(entries[&format!("k{i}")].secret(), format!("v{i}"));
        }
        assert_eq!(entries["before"].secret(), "kept");
        assert_eq!(store.writes.batches() - batches, 2, "{n} sets: the leader's write and one for the rest");
        // Deletes ride along the same way, and a delete of nothing writes nothing.
        store.delete("k0").unwrap();
        store.delete("absent").unwrap();
        assert!(!on_disk(dir.path()).contains_key("k0"));
    }

    #[test]
    fn debug_names_the_file_and_nothing_it_holds() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path());
        store.set("idp:corp", Secret::new("rt-secret")).unwrap();
        let shown = format!("{store:?}");
        assert!(shown.starts_with("FileStore") && shown.contains(FILE_NAME), "{shown}");
        assert!(!shown.contains("rt-secret") && !shown.contains("idp:corp"), "{shown}");
    }

    #[test]
    fn a_failing_write_fails_every_caller_it_carried_and_stores_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path());
        store.set("before", Secret::new("kept")).unwrap();
        let original = std::fs::read(dir.path().join(FILE_NAME)).unwrap();
        let n = 8;
        let path = dir.path().join(FILE_NAME);
        // While the callers wait, the file is replaced by something no write can go through.
        let aside = dir.path().join("aside");
        let outs = queue_behind_a_held_lock(
            &store,
            n,
            |s, i| s.set(&format!("k{i}"), Secret::new("v")),
            || {
                std::fs::rename(&path, &aside).unwrap();
                std::fs::create_dir(&path).unwrap();
                std::fs::write(path.join("occupied"), b"").unwrap();
            },
        );
        for (i, out) in &outs {
            assert!(matches!(out, Err(VaultError::Io { .. })), "caller {i} was told {out:?}");
        }
        std::fs::remove_dir_all(&path).unwrap();
        std::fs::rename(&aside, &path).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), original, "nothing of the failed batch was stored");
        store.set("after", Secret::new("v")).unwrap();
        assert!(on_disk(dir.path()).contains_key("after"));
    }

    #[test]
    fn corrupt_messages_never_quote_the_content() {
        let path = Path::new("/d/vault.json");
        for bad in [
            &br#"{"idp:corp": 42, "x": "rt-very-secret"}"#[..],
            br#"["rt-very-secret"]"#,
            br#""rt-very-secret""#,
            br#"{"idp:corp": "rt-very-secret""#,
            br#"{"idp:corp" "rt-very-secret"}"#,
        ] {
            let err = parse(bad, path).unwrap_err();
            let shown = format!("{err} {err:?}");
            assert!(matches!(err, VaultError::Corrupt { .. }), "{shown}");
            assert!(!shown.contains("very-secret"), "{shown}");
            assert!(shown.contains("/d/vault.json") && shown.contains("move it aside"), "{shown}");
        }
    }

    #[test]
    fn empty_file_is_an_empty_vault() {
        assert!(parse(b"", Path::new("v")).unwrap().is_empty());
        assert!(parse(b" \n", Path::new("v")).unwrap().is_empty());
    }

    #[test]
    fn render_round_trips() {
        let mut entries = Entries::new();
        entries.insert("ws:https://x.cloud.databricks.com".into(), Secret::new("{\"t\":\"a\"}"));
        entries.insert("idp:corp".into(), Secret::new("rt"));
        let back = parse(&render(&entries), Path::new("v")).unwrap();
        assert_eq!(back, entries);
    }
}
