//! A cross-process exclusive lock on a file, held only around a read → modify → write.
//!
//! Several Lakepass processes may run at once (the tray app, a daemon, ten CLI calls from
//! Claude Code sessions). Whoever rewrites a shared file or refreshes a rotating refresh token
//! must be alone, or writes get lost and refresh-token families get revoked. OS advisory locks
//! (`flock` on unix, `LockFileEx` on Windows, through `fs4`) are released by the kernel when a
//! process dies, so a crash never leaves a stale lock behind; that is why this is not a
//! "lock file exists" scheme. Waiting is a poll with short sleeps and a deadline, so a stuck
//! peer turns into a clear [`LockError::Timeout`] instead of a hang. The lock file itself is
//! never deleted: removing it while another process waits on it would let two holders in.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use fs4::fs_std::FileExt;

/// Why a lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Someone else held the lock for the whole wait.
    #[error(
        "timed out after {waited:?} waiting for the lock {path}: another Lakepass process holds it \
         (a tray app, daemon or CLI call); wait for it to finish and try again, or stop the stuck \
         process"
    )]
    Timeout {
        /// The lock file.
        path: PathBuf,
        /// How long we waited.
        waited: Duration,
    },
    /// The lock file or its folder could not be created or locked.
    #[error(
        "cannot open or lock {path}: {source}; check that its folder exists and is writable by \
         you"
    )]
    Io {
        /// The lock file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The blocking task that waited for the lock was cancelled or panicked.
    #[error("the task waiting for the lock {path} stopped unexpectedly: {reason}; try again")]
    Interrupted {
        /// The lock file.
        path: PathBuf,
        /// What the runtime said.
        reason: String,
    },
}

impl LockError {
    /// The same error again (`io::Error` is not `Clone`): for every caller of a shared write
    /// that could not take the lock.
    pub(crate) fn again(&self) -> LockError {
        match self {
            LockError::Timeout { path, waited } => LockError::Timeout { path: path.clone(), waited: *waited },
            LockError::Io { path, source } => {
                LockError::Io { path: path.clone(), source: crate::group_commit::same_io_error(source) }
            }
            LockError::Interrupted { path, reason } => {
                LockError::Interrupted { path: path.clone(), reason: reason.clone() }
            }
        }
    }
}

/// A held exclusive lock; released when dropped.
#[derive(Debug)]
pub struct FileLock {
    file: File,
    path: PathBuf,
    _local: LocalHold,
}

/// Paths held by this process, so waiters inside one process queue on a condition variable
/// and are woken the moment the holder lets go, instead of polling `flock` with sleeps of up
/// to 50 ms. Measured (bench, 100 workspaces refreshing at once): the polling waiters, not
/// the disk, made the pass ~7× slower than one workspace. Only other processes are polled.
fn local_holds() -> &'static (Mutex<HashSet<PathBuf>>, Condvar) {
    static HOLDS: OnceLock<(Mutex<HashSet<PathBuf>>, Condvar)> = OnceLock::new();
    HOLDS.get_or_init(|| (Mutex::new(HashSet::new()), Condvar::new()))
}

/// This process's hold on a path; released (and waiters woken) on drop.
#[derive(Debug)]
struct LocalHold(PathBuf);

impl LocalHold {
    fn acquire(path: &Path, deadline: Instant) -> Option<LocalHold> {
        let (set, cv) = local_holds();
        let mut held = set.lock().unwrap_or_else(|e| e.into_inner());
        while held.contains(path) {
            let left = deadline.checked_duration_since(Instant::now())?;
            held = cv.wait_timeout(held, left).unwrap_or_else(|e| e.into_inner()).0;
        }
        held.insert(path.to_path_buf());
        Some(LocalHold(path.to_path_buf()))
    }
}

impl Drop for LocalHold {
    fn drop(&mut self) {
        let (set, cv) = local_holds();
        set.lock().unwrap_or_else(|e| e.into_inner()).remove(&self.0);
        cv.notify_all();
    }
}

impl FileLock {
    /// Takes the exclusive lock on `path` (created, with its folders, if missing), waiting up to
    /// `timeout`. Blocks the calling thread: in async code use [`acquire_async`].
    pub fn acquire(path: &Path, timeout: Duration) -> Result<FileLock, LockError> {
        let io_err = |source| LockError::Io { path: path.to_path_buf(), source };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            // 0700: which resources are being refreshed, and when, is nobody else's business.
            crate::atomic::create_private_dirs(dir).map_err(io_err)?;
        }
        let file = open_lock_file(path).map_err(io_err)?;
        let start = Instant::now();
        let local = LocalHold::acquire(path, start + timeout)
            .ok_or_else(|| LockError::Timeout { path: path.to_path_buf(), waited: start.elapsed() })?;
        let mut pause = Duration::from_millis(2);
        loop {
            if FileExt::try_lock_exclusive(&file).map_err(io_err)? {
                return Ok(FileLock { file, path: path.to_path_buf(), _local: local });
            }
            let waited = start.elapsed();
            if waited >= timeout {
                return Err(LockError::Timeout { path: path.to_path_buf(), waited });
            }
            std::thread::sleep(pause.min(timeout - waited));
            pause = (pause * 2).min(Duration::from_millis(50));
        }
    }

    /// The lock file this guard holds.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        // Closing the file releases the lock too; unlocking first makes it prompt and explicit.
        if let Err(e) = FileExt::unlock(&self.file) {
            tracing::debug!(path = %self.path.display(), error = %e, "unlocking failed; closing releases it");
        }
    }
}

/// [`FileLock::acquire`] for async code: the wait runs on tokio's blocking pool.
pub async fn acquire_async(path: PathBuf, timeout: Duration) -> Result<FileLock, LockError> {
    let for_err = path.clone();
    tokio::task::spawn_blocking(move || FileLock::acquire(&path, timeout))
        .await
        .map_err(|e| LockError::Interrupted { path: for_err, reason: e.to_string() })?
}

fn open_lock_file(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn second_holder_waits_for_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("locks").join("ws.lock");
        let first = FileLock::acquire(&path, Duration::from_secs(1)).unwrap();
        let (tx, rx) = mpsc::channel();
        let p = path.clone();
        let waiter = std::thread::spawn(move || {
            let guard = FileLock::acquire(&p, Duration::from_secs(10)).unwrap();
            tx.send(Instant::now()).unwrap();
            drop(guard);
        });
        std::thread::sleep(Duration::from_millis(200));
        assert!(rx.try_recv().is_err(), "second holder got in while the first held the lock");
        let released = Instant::now();
        drop(first);
        let got = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert!(got >= released);
        waiter.join().unwrap();
    }

    #[test]
    fn timeout_names_the_lock_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("held.lock");
        let _held = FileLock::acquire(&path, Duration::from_secs(1)).unwrap();
        let p = path.clone();
        let err = std::thread::spawn(move || FileLock::acquire(&p, Duration::from_millis(100)))
            .join()
            .unwrap()
            .unwrap_err();
        assert!(matches!(err, LockError::Timeout { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        assert!(msg.contains("another Lakepass process"), "{msg}");
    }

    /// A holder is registered with this process's queue while it holds the path, so in-process
    /// waiters wait on the condition variable instead of polling `flock`; release unregisters it.
    #[test]
    fn a_holder_is_queued_in_process_until_it_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("queued.lock");
        let held = |p: &Path| local_holds().0.lock().unwrap().contains(p);
        assert!(!held(&path));
        let guard = FileLock::acquire(&path, Duration::from_secs(1)).unwrap();
        assert!(held(&path), "the holder is not in the process's queue");
        drop(guard);
        assert!(!held(&path), "release left the path queued");
    }

    #[tokio::test]
    async fn async_acquire_and_release() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.lock");
        let g = acquire_async(path.clone(), Duration::from_secs(1)).await.unwrap();
        assert_eq!(g.path(), path);
        let err = acquire_async(path.clone(), Duration::from_millis(50)).await.unwrap_err();
        assert!(matches!(err, LockError::Timeout { .. }));
        drop(g);
        acquire_async(path, Duration::from_secs(1)).await.unwrap();
    }
}
