//! Crash-safe file replacement: temp file in the same folder → mode → write → fsync → rename.
//!
//! Every file Lakepass writes (`~/.databrickscfg`, its config, the vault file fallback, state)
//! goes through [`write_atomic`], because a plain `fs::write` that is interrupted (power loss, a
//! full disk, a killed process) leaves a truncated file behind; a store plugin once corrupted its
//! users' data exactly so. The temp file lives in the target's own folder so the final `rename`
//! stays on one file system and is atomic. Its mode is set before any byte is written, so a
//! token is never readable by others, not even for a moment. Readers see either the old file or
//! the new one, never a mix; on any failure the old file is untouched and the temp file removed.
//!
//! Debug builds have one test hook, [`PAUSE_IN_WRITE`]: a test that kills the process to prove
//! the above can stop it between the complete temp file and the rename, and kill it exactly
//! there, instead of hoping a timed kill lands inside a write.

use std::io::{self, Write};
use std::path::Path;

/// Replaces `path` with `bytes`, atomically, with permission bits `mode` (unix; ignored
/// elsewhere).
///
/// Missing parent folders are created (mode `0700` on unix). On error the previous content of
/// `path`, if any, is left as it was and no temp file remains.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    write_atomic_with(path, bytes, mode, || Ok(()))
}

/// [`write_atomic`] without the fsyncs, for caches (`state.json`): readers still see the old file
/// or the new one, never a mix, but a power loss may leave the old one (or, on some file systems,
/// an empty one), which a cache can afford. Saves two disk flushes per write.
pub fn write_cache(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    replace(path, bytes, mode, false, || Ok(()))
}

/// [`write_atomic`] with a hook run just before the rename: tests use it to fail at the last
/// moment and check that nothing leaked.
pub(crate) fn write_atomic_with(
    path: &Path,
    bytes: &[u8],
    mode: u32,
    before_rename: impl FnOnce() -> io::Result<()>,
) -> io::Result<()> {
    replace(path, bytes, mode, true, before_rename)
}

/// Test hook, read only in debug builds: the path of a FIFO. A write whose target is named
/// [`PAUSE_IN_WRITE_OF`] (any write when that is unset) stops between the complete, synced temp
/// file and the rename: it writes the target's path and a newline to the FIFO (blocking until
/// the test opens it), then waits for a line back on the same FIFO before it goes on. A test
/// kills the process in that wait.
pub const PAUSE_IN_WRITE: &str = "LAKEPASS_TEST_PAUSE_IN_WRITE";
/// Test hook: the file name whose writes [`PAUSE_IN_WRITE`] stops (`vault.json`, …).
pub const PAUSE_IN_WRITE_OF: &str = "LAKEPASS_TEST_PAUSE_IN_WRITE_OF";

#[cfg(debug_assertions)]
fn pause_in_write(path: &Path) -> io::Result<()> {
    use io::BufRead as _;
    let Some(fifo) = std::env::var_os(PAUSE_IN_WRITE) else {
        return Ok(());
    };
    let wanted = std::env::var_os(PAUSE_IN_WRITE_OF);
    if wanted.is_some_and(|w| path.file_name() != Some(w.as_os_str())) {
        return Ok(());
    }
    writeln!(std::fs::OpenOptions::new().write(true).open(&fifo)?, "{}", path.display())?;
    let mut go = String::new();
    io::BufReader::new(std::fs::File::open(&fifo)?).read_line(&mut go)?;
    Ok(())
}

#[cfg(not(debug_assertions))]
fn pause_in_write(_path: &Path) -> io::Result<()> {
    Ok(())
}

fn replace(
    path: &Path,
    bytes: &[u8],
    mode: u32,
    durable: bool,
    before_rename: impl FnOnce() -> io::Result<()>,
) -> io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    create_private_dirs(dir)?;
    let file_name =
        path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "file".into());
    // Dropping `tmp` on any early return deletes the temp file.
    let mut tmp =
        tempfile::Builder::new().prefix(&format!(".{file_name}.")).suffix(".tmp").tempfile_in(dir)?;
    set_mode(tmp.as_file(), mode)?;
    tmp.write_all(bytes)?;
    tmp.flush()?;
    if durable {
        tmp.as_file().sync_all()?;
    }
    pause_in_write(path)?;
    before_rename()?;
    tmp.persist(path).map_err(|e| e.error)?;
    if durable { sync_dir(dir) } else { Ok(()) }
}

/// Creates `dir` and its missing parents, each new one 0700 on Unix (only this user may enter).
#[cfg(unix)]
pub fn create_private_dirs(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

/// Creates `dir` and its missing parents (the user's profile folder is private on Windows).
#[cfg(not(unix))]
pub fn create_private_dirs(dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)
}

#[cfg(unix)]
fn set_mode(file: &std::fs::File, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_file: &std::fs::File, _mode: u32) -> io::Result<()> {
    Ok(())
}

/// Makes the rename itself durable: without it a crash can forget the new directory entry.
#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leftovers(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect()
    }

    #[test]
    fn replaces_content_and_creates_parents() {
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join("a").join("b").join("cfg");
        write_atomic(&path, b"one", 0o600).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"one");
        write_atomic(&path, b"two, longer", 0o600).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two, longer");
        assert!(leftovers(path.parent().unwrap()).is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn sets_mode_and_private_parents() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join("new").join("secret");
        write_atomic(&path, b"x", 0o600).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
        // Replacing a world-readable file tightens it.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_atomic(&path, b"y", 0o600).unwrap();
        assert_eq!(mode(&path), 0o600);
    }

    #[test]
    fn failure_before_rename_keeps_old_file_and_removes_temp() {
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join("cfg");
        std::fs::write(&path, b"old").unwrap();
        let err = write_atomic_with(&path, b"new", 0o600, || Err(io::Error::other("boom")));
        assert_eq!(err.unwrap_err().to_string(), "boom");
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        assert!(leftovers(root.path()).is_empty());
    }

    #[test]
    fn target_that_is_a_directory_is_left_alone() {
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join("cfg");
        std::fs::create_dir(&path).unwrap();
        std::fs::write(path.join("inner"), b"keep").unwrap();
        assert!(write_atomic(&path, b"new", 0o600).is_err());
        assert_eq!(std::fs::read(path.join("inner")).unwrap(), b"keep");
        assert!(leftovers(root.path()).is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn read_only_folder_keeps_old_file() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join("cfg");
        std::fs::write(&path, b"old").unwrap();
        std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o500)).unwrap();
        // root ignores folder permissions; the test means nothing there.
        let probe = root.path().join("probe");
        if std::fs::write(&probe, b"").is_ok() {
            std::fs::remove_file(&probe).unwrap();
        } else {
            assert!(write_atomic(&path, b"new", 0o600).is_err());
            assert_eq!(std::fs::read(&path).unwrap(), b"old");
            assert!(leftovers(root.path()).is_empty());
        }
        std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    }
}
