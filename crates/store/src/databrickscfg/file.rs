//! The edge where the text edits meet the disk: a cross-process lock, a re-read before the
//! rename in case another program saved the file meanwhile, and an atomic `0600` write.
//!
//! It takes the edit as a closure over the text, so the locking and retry logic is written
//! once for every caller (sign-in, refresh, logout). Refreshes write through
//! [`update_file_shared`]: edits that arrive while the file is being written are applied
//! together in its next write ([group commit](crate::group_commit)), so a hundred workspaces
//! refreshed at once do not rewrite and fsync the file a hundred times in a row.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::edit::{CfgError, ProfileUpdate, remove_profile, upsert_profile};
use crate::atomic::write_atomic_with;
use crate::group_commit::{GroupCommit, Queues, same_io_error};
use crate::lock::{FileLock, LockError};

/// How long [`update_file`] waits for another process editing the same file.
const LOCK_TIMEOUT: Duration = Duration::from_secs(10);

/// Why reading, locking or writing the file failed. Names the file.
#[derive(Debug, thiserror::Error)]
pub enum CfgFileError {
    /// The content was refused; the file was not changed.
    #[error("{path}: {source}")]
    Edit {
        /// The file.
        path: PathBuf,
        /// What was refused.
        #[source]
        source: CfgError,
    },
    /// The file exists but could not be read.
    #[error("cannot read {path}: {source}; check that you can read it")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The new content could not be written; the old file is intact.
    #[error(
        "cannot write {path}: {source}; the file was left as it was; check free space and the \
         permissions of its folder"
    )]
    Write {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Another process kept the file locked.
    #[error("cannot edit {path}: {source}")]
    Lock {
        /// The file.
        path: PathBuf,
        /// Why the lock was not taken.
        #[source]
        source: LockError,
    },
}

/// Edits the file at `path` under a lock on the sibling `<path>.lock`: reads it (missing =
/// empty), applies `edit`, and writes the result atomically with mode `0600` if it changed.
///
/// A symlinked file (dotfile managers) is written through to its target, keeping the link.
///
/// Other programs (an editor, `databricks configure`) do not take our lock, so just before the
/// rename the file is read once more: if someone saved it since we read it, `edit` runs again on
/// their version instead of overwriting it (at most [`EDIT_ATTEMPTS`] times). Only a save landing
/// in the microseconds between that check and the rename can still be lost.
pub fn update_file(
    path: &Path,
    mut edit: impl FnMut(&str) -> Result<String, CfgError>,
) -> Result<(), CfgFileError> {
    let mut lock_path = path.as_os_str().to_owned();
    lock_path.push(".lock");
    let _lock = FileLock::acquire(Path::new(&lock_path), LOCK_TIMEOUT)
        .map_err(|source| CfgFileError::Lock { path: path.into(), source })?;
    let target = match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => {
            std::fs::canonicalize(path).map_err(|source| CfgFileError::Read { path: path.into(), source })?
        }
        _ => path.to_path_buf(),
    };
    let mut attempt = 1;
    loop {
        match edit_once(path, &target, &mut edit) {
            Err(CfgFileError::Write { source, .. })
                if source.get_ref().is_some_and(|e| e.is::<ChangedMeanwhile>())
                    && attempt < EDIT_ATTEMPTS =>
            {
                tracing::debug!(path = %path.display(), attempt, "file changed while we edited it; editing again");
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// One caller's edit, run by whichever caller writes the batch it is in.
type SharedEdit = Box<dyn FnMut(&str) -> Result<String, CfgError> + Send>;

/// The writers of one credentials file in this process.
type EditQueue = GroupCommit<SharedEdit, Result<(), CfgFileError>>;

static QUEUES: Queues<EditQueue> = Queues::new();

/// [`update_file`] for edits that may be merged: `edit` runs in the next write of the file made
/// by this process, after the edits queued before it, and this returns once that write is
/// durable, with its outcome. An edit that fails leaves the file as the other edits make it and
/// fails only its own caller; a write that fails fails every caller whose edit it carried.
pub fn update_file_shared(
    path: &Path,
    edit: impl FnMut(&str) -> Result<String, CfgError> + Send + 'static,
) -> Result<(), CfgFileError> {
    QUEUES.of(path).submit(Box::new(edit), |edits| commit_edits(path, edits))
}

/// One [`update_file`] applying every edit of the batch in order; one outcome per edit.
fn commit_edits(path: &Path, mut edits: Vec<SharedEdit>) -> Vec<Result<(), CfgFileError>> {
    let mut refused: Vec<Option<CfgError>> = vec![None; edits.len()];
    let written = update_file(path, |text| {
        let mut text = text.to_string();
        for (edit, refused) in edits.iter_mut().zip(refused.iter_mut()) {
            *refused = match edit(&text) {
                Ok(new) => {
                    text = new;
                    None
                }
                Err(e) => Some(e),
            };
        }
        Ok(text)
    });
    refused
        .into_iter()
        .map(|refused| match (refused, &written) {
            (Some(source), _) => Err(CfgFileError::Edit { path: path.into(), source }),
            (None, Ok(())) => Ok(()),
            (None, Err(e)) => Err(same_error(e)),
        })
        .collect()
}

/// The same error again, for the next caller a shared write failed for.
fn same_error(e: &CfgFileError) -> CfgFileError {
    match e {
        CfgFileError::Edit { path, source } => {
            CfgFileError::Edit { path: path.clone(), source: source.clone() }
        }
        CfgFileError::Read { path, source } => {
            CfgFileError::Read { path: path.clone(), source: same_io_error(source) }
        }
        CfgFileError::Write { path, source } => {
            CfgFileError::Write { path: path.clone(), source: same_io_error(source) }
        }
        CfgFileError::Lock { path, source } => {
            CfgFileError::Lock { path: path.clone(), source: source.again() }
        }
    }
}

/// How often [`update_file`] re-runs its edit when another program keeps saving the file.
pub const EDIT_ATTEMPTS: u32 = 5;

#[derive(Debug, thiserror::Error)]
#[error("the file was changed by another program while Lakepass edited it; try again")]
struct ChangedMeanwhile;

/// The largest credentials file Lakepass reads: real ones are a few KiB. A file (or a symlink to
/// `/dev/zero`) past this is refused instead of read into memory.
pub(crate) const MAX_FILE: u64 = 4 * 1024 * 1024;

fn read_or_empty(target: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read as _;
    let file = match std::fs::File::open(target) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut bytes = Vec::new();
    file.take(MAX_FILE + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE {
        return Err(std::io::Error::other(format!(
            "it is larger than {} MiB, which no credentials file is; refusing to read it",
            MAX_FILE / (1024 * 1024)
        )));
    }
    Ok(bytes)
}

/// One read → edit → checked atomic write.
fn edit_once(
    path: &Path,
    target: &Path,
    edit: &mut impl FnMut(&str) -> Result<String, CfgError>,
) -> Result<(), CfgFileError> {
    let bytes = read_or_empty(target).map_err(|source| CfgFileError::Read { path: path.into(), source })?;
    let edit_err = |source| CfgFileError::Edit { path: path.into(), source };
    let text = std::str::from_utf8(&bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()].iter().filter(|b| **b == b'\n').count() + 1;
        edit_err(CfgError::Parse { line, message: "the line is not valid UTF-8".into() })
    })?;
    let new = edit(text).map_err(edit_err)?;
    if new == text {
        return Ok(());
    }
    let unchanged = || match read_or_empty(target) {
        Ok(now) if now == bytes => Ok(()),
        Ok(_) => Err(std::io::Error::other(ChangedMeanwhile)),
        Err(e) => Err(e),
    };
    write_atomic_with(target, new.as_bytes(), 0o600, unchanged)
        .map_err(|source| CfgFileError::Write { path: path.into(), source })
}

/// Upserts every profile in `updates` in one locked read → write (see [`upsert_profile`]).
pub fn set_profiles(path: &Path, updates: &[ProfileUpdate]) -> Result<(), CfgFileError> {
    update_file(path, |text| {
        let mut text = text.to_string();
        for u in updates {
            let entries: Vec<(&str, &str)> =
                u.entries.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            text = upsert_profile(&text, &u.profile, &entries)?;
        }
        Ok(text)
    })
}

/// Removes every Lakepass-owned profile in `profiles` in one locked read → write (see
/// [`remove_profile`]); absent ones are skipped, foreign ones refused.
pub fn remove_profiles(path: &Path, profiles: &[String]) -> Result<(), CfgFileError> {
    update_file(path, |text| profiles.iter().try_fold(text.to_string(), |acc, p| remove_profile(&acc, p)))
}

/// Removes those of `profiles` that Lakepass made (carrying the marker), leaving a user's own
/// profile of the same name alone. Returns the names removed.
pub fn remove_owned_profiles(path: &Path, profiles: &[String]) -> Result<Vec<String>, CfgFileError> {
    let mut removed = Vec::new();
    update_file(path, |text| {
        let owned = super::owned_profiles(text)?;
        removed = profiles.iter().filter(|p| owned.contains(p)).cloned().collect();
        removed.iter().try_fold(text.to_string(), |acc, p| remove_profile(&acc, p))
    })?;
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::databrickscfg::{owned_profiles, read_profile, remove_profile, upsert_profile};

    #[test]
    fn update_file_creates_a_private_file_and_skips_needless_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".databrickscfg");
        let update = ProfileUpdate {
            profile: "dev".into(),
            entries: vec![("host".into(), "https://h".into()), ("token".into(), "t".into())],
        };
        set_profiles(&path, std::slice::from_ref(&update)).unwrap();
        assert_eq!(read_profile(&std::fs::read_to_string(&path).unwrap(), "dev").unwrap().unwrap().len(), 2);
        assert!(dir.path().join(".databrickscfg.lock").exists());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let before = std::fs::metadata(&path).unwrap().modified().unwrap();
        set_profiles(&path, &[update]).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().modified().unwrap(), before);
        remove_profiles(&path, &["dev".into(), "absent".into()]).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "");
    }

    #[test]
    fn remove_owned_profiles_says_which_it_removed_and_keeps_the_users_own() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".databrickscfg");
        let ours =
            |p: &str| ProfileUpdate { profile: p.into(), entries: vec![("host".into(), "https://h".into())] };
        set_profiles(&path, &[ours("dev"), ours("dev-live")]).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, format!("{text}\n[mine]\nhost = https://mine\n")).unwrap();
        let asked = ["dev".to_string(), "mine".into(), "absent".into(), "dev-live".into()];
        let removed = remove_owned_profiles(&path, &asked).unwrap();
        assert_eq!(removed, vec!["dev".to_string(), "dev-live".into()]);
        let left = std::fs::read_to_string(&path).unwrap();
        assert!(owned_profiles(&left).unwrap().is_empty(), "{left}");
        assert_eq!(read_profile(&left, "mine").unwrap().unwrap().len(), 1, "{left}");
        assert_eq!(remove_owned_profiles(&path, &asked).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn update_file_leaves_a_file_it_cannot_parse() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cfg");
        let bad = "[a]\nhost = h\nnot a pair\n";
        std::fs::write(&path, bad).unwrap();
        let err =
            set_profiles(&path, &[ProfileUpdate { profile: "dev".into(), entries: vec![] }]).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains(&path.display().to_string()) && msg.contains("line 3"), "{msg}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), bad);
        std::fs::write(&path, b"[a]\nx = \xff\n").unwrap();
        let err = update_file(&path, |t| Ok(t.to_string())).unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn a_symlinked_file_is_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("dotfiles").join("databrickscfg");
        std::fs::create_dir_all(real.parent().unwrap()).unwrap();
        std::fs::write(&real, "[mine]\nhost = h\n").unwrap();
        let link = dir.path().join(".databrickscfg");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        set_profiles(
            &link,
            &[ProfileUpdate { profile: "dev".into(), entries: vec![("host".into(), "x".into())] }],
        )
        .unwrap();
        assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
        assert!(std::fs::read_to_string(&real).unwrap().starts_with("[mine]\nhost = h\n\n[dev]\n"));
    }

    /// Profile writes that arrive while another process holds the file (played by holding its
    /// lock) go out together in one more write; each caller returns once its profile is in the
    /// file, and an edit that is refused fails only its own caller.
    #[test]
    fn shared_edits_are_merged_and_a_refused_one_fails_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".databrickscfg");
        std::fs::write(&path, "; keep me\n[foreign]\nhost = f\n").unwrap();
        let held = FileLock::acquire(&dir.path().join(".databrickscfg.lock"), LOCK_TIMEOUT).unwrap();
        let queue = QUEUES.of(&path);
        let n = 16;
        let start = std::sync::Arc::new(std::sync::Barrier::new(n));
        let callers: Vec<_> = (0..n)
            .map(|i| {
                let (path, start) = (path.clone(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    let out = if i == 5 {
                        // Not ours to remove: refused.
                        update_file_shared(&path, |t| remove_profile(t, "foreign"))
                    } else {
                        let profile = format!("p{i}");
                        update_file_shared(&path, move |t| upsert_profile(t, &profile, &[("host", "h")]))
                    };
                    if out.is_ok() {
                        let text = std::fs::read_to_string(&path).unwrap();
                        assert!(
                            read_profile(&text, &format!("p{i}")).unwrap().is_some(),
                            "p{i} returned early"
                        );
                    }
                    (i, out)
                })
            })
            .collect();
        queue.wait_queued(n - 1);
        drop(held);
        for c in callers {
            match c.join().unwrap() {
                (5, out) => assert!(matches!(out, Err(CfgFileError::Edit { .. })), "{out:?}"),
                (i, out) => assert!(out.is_ok(), "p{i}: {out:?}"),
            }
        }
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("; keep me\n[foreign]\nhost = f\n"), "{text}");
        assert_eq!(owned_profiles(&text).unwrap().len(), n - 1);
        assert_eq!(queue.batches(), 2, "the leader's write and one for the rest");
    }

    #[test]
    fn a_shared_write_that_fails_fails_every_caller_it_carried() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".databrickscfg");
        let held = FileLock::acquire(&dir.path().join(".databrickscfg.lock"), LOCK_TIMEOUT).unwrap();
        let n = 6;
        let callers: Vec<_> = (0..n)
            .map(|i| {
                let path = path.clone();
                std::thread::spawn(move || {
                    let profile = format!("p{i}");
                    update_file_shared(&path, move |t| upsert_profile(t, &profile, &[("host", "h")]))
                })
            })
            .collect();
        QUEUES.of(&path).wait_queued(n - 1);
        // A folder where the file should be: it can be neither read nor replaced.
        std::fs::create_dir(&path).unwrap();
        std::fs::write(path.join("occupied"), b"").unwrap();
        drop(held);
        for c in callers {
            let out = c.join().unwrap();
            assert!(matches!(out, Err(CfgFileError::Read { .. } | CfgFileError::Write { .. })), "{out:?}");
        }
        assert!(path.join("occupied").exists());
    }

    #[test]
    fn concurrent_writers_lose_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".databrickscfg");
        std::fs::write(&path, "; keep me\n[foreign]\nhost = f\n").unwrap();
        let workers: Vec<_> = (0..2)
            .map(|t| {
                let path = path.clone();
                std::thread::spawn(move || {
                    for i in 0..50 {
                        let profile = format!("t{t}-p{i}");
                        update_file(&path, |text| upsert_profile(text, &profile, &[("host", "h")])).unwrap();
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("; keep me\n[foreign]\nhost = f\n"));
        assert_eq!(owned_profiles(&text).unwrap().len(), 100);
    }
}
