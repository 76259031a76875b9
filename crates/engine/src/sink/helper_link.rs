//! The `databricks_cli_path` of a `cli-helper` profile written by a Lakepass on a config other
//! than the default: a per-config link to the `lakepass` program itself, with a small file
//! beside it naming the config.
//!
//! Why a link and not a script: the Databricks SDKs run `<databricks_cli_path> auth token
//! --host …` with their own environment, so the path must carry the config; and databricks-sdk-go
//! (v0.104 on) refuses any `databricks_cli_path` smaller than 1 MiB as the legacy Python CLI
//! (`validateCliPath`: `os.Stat` — links followed — then `info.Size() < databricksCliMinSize`
//! (1024 * 1024) → `ErrLegacyCliDetected`; databricks/databricks-sdk-go
//! `config/cli_token_source.go`). A ~200-byte wrapper script is refused there; a symbolic link to
//! the `lakepass` binary (many MiB) is accepted, and is still the binary after an upgrade.
//!
//! How the link reaches its config: both SDKs start the program with `argv[0]` set to the path
//! they were given (Go `exec.CommandContext(ctx, cliPath, …)`, Python `subprocess.run([cli_path,
//! …])`, databricks/databricks-sdk-py `databricks/sdk/credentials_provider.py`), and `argv[0]`
//! keeps the link's own name, while `/proc/self/exe` would name the target. So `lakepass` started
//! as `<data dir>/helpers/<16 hex>/lakepass` reads `config.json` in that folder
//! ([`helper_invocation`]): `{"config": …, "data_dir": …}`.
//!
//! Trust: that file decides which config (and so which IdP and workspaces) the process uses, so
//! it is honoured only where Lakepass itself would have written it: `argv[0]` absolute and named
//! `lakepass` in a `helpers/<16 hex>` folder, the folder and the file owned by this user and
//! writable by no one else, and the file's `data_dir` naming that very folder. A program that can
//! start us with another `argv[0]` can pass `--config` anyway.
//!
//! Older databricks-sdk-go (before v0.61.0) resolved links first (`filepath.EvalSymlinks`) and
//! ran the target, so the link's name is lost there; those versions, like v0.61–v0.103 (which never
//! run `databricks_cli_path`), are pointed at the `-live` profile in the README.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[cfg(unix)]
use lakepass_store::atomic::{create_private_dirs, write_atomic};

/// The link's file name.
pub(crate) const LINK_NAME: &str = "lakepass";
/// The file beside the link naming its config.
#[cfg(unix)]
pub(crate) const TARGET_FILE: &str = "config.json";

/// The config (and data folder) a helper link runs Lakepass on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HelperTarget {
    /// The config file.
    pub config: PathBuf,
    /// The data folder (the one the link lives in).
    pub data_dir: PathBuf,
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325, |h, b| (h ^ *b as u64).wrapping_mul(0x100000001b3))
}

/// The folder of the link for `config` under `data_dir`: `<data_dir>/helpers/<16 hex>`.
pub(crate) fn link_dir(data_dir: &Path, config: &Path) -> PathBuf {
    data_dir.join("helpers").join(format!("{:016x}", fnv1a(config.to_string_lossy().as_bytes())))
}

/// The wrapper script earlier versions wrote for `config` (removed when the link is made).
#[cfg(unix)]
pub(crate) fn old_script(data_dir: &Path, config: &Path) -> PathBuf {
    data_dir
        .join("helpers")
        .join(format!("databricks-cli-{:016x}", fnv1a(config.to_string_lossy().as_bytes())))
}

/// Makes (or mends) the link at `dir/lakepass` to `program` and the file naming `target`.
/// Idempotent: what is already right is left alone.
#[cfg(unix)]
pub(crate) fn write_link(dir: &Path, program: &Path, target: &HelperTarget) -> std::io::Result<PathBuf> {
    create_private_dirs(dir)?;
    let mut text = serde_json::to_vec_pretty(target).map_err(std::io::Error::other)?;
    text.push(b'\n');
    let file = dir.join(TARGET_FILE);
    if std::fs::read(&file).ok().as_deref() != Some(text.as_slice()) {
        write_atomic(&file, &text, 0o600)?;
    }
    let link = dir.join(LINK_NAME);
    if std::fs::read_link(&link).ok().as_deref() != Some(program) {
        // A new link beside it, renamed over the old one: a running SDK never sees no link.
        let tmp = dir.join(format!(".{LINK_NAME}.{}", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        std::os::unix::fs::symlink(program, &tmp)?;
        std::fs::rename(&tmp, &link)?;
    }
    Ok(link)
}

/// The config and data folder to use when this process was started through a helper link
/// (`argv0` is its `argv[0]`); `None` for any other start. See the module docs for the checks.
#[cfg(unix)]
pub fn helper_invocation(argv0: &Path) -> Option<HelperTarget> {
    use std::os::unix::fs::MetadataExt as _;
    if !argv0.is_absolute() || argv0.file_name()? != LINK_NAME {
        return None;
    }
    let dir = argv0.parent()?;
    let hex = dir.file_name()?.to_str()?;
    if hex.len() != 16
        || !hex.bytes().all(|b| b.is_ascii_hexdigit())
        || dir.parent()?.file_name()? != "helpers"
    {
        return None;
    }
    let me = rustix::process::geteuid().as_raw();
    let private = |m: &std::fs::Metadata| m.uid() == me && m.mode() & 0o022 == 0;
    let dir_meta = std::fs::symlink_metadata(dir).ok()?;
    let file = dir.join(TARGET_FILE);
    let file_meta = std::fs::symlink_metadata(&file).ok()?;
    if !dir_meta.is_dir() || !private(&dir_meta) || !file_meta.is_file() || !private(&file_meta) {
        tracing::warn!(dir = %dir.display(), "ignoring a helper link whose folder or config.json others could change");
        return None;
    }
    let target: HelperTarget = serde_json::from_slice(&std::fs::read(&file).ok()?).ok()?;
    let consistent = target.config.is_absolute() && link_dir(&target.data_dir, &target.config) == dir;
    consistent.then_some(target)
}

/// Helper links are a Unix mechanism (the profile names the program itself elsewhere).
#[cfg(not(unix))]
pub fn helper_invocation(_argv0: &Path) -> Option<HelperTarget> {
    None
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn a_written_link_is_recognised_and_a_tampered_one_is_not() {
        let home = tempfile::tempdir().unwrap();
        let data = home.path().join("data");
        let config = home.path().join("elsewhere/lakepass.toml");
        let program = home.path().join("bin/lakepass-real");
        std::fs::create_dir_all(program.parent().unwrap()).unwrap();
        std::fs::write(&program, b"#!/bin/sh\n").unwrap();
        let target = HelperTarget { config: config.clone(), data_dir: data.clone() };
        let dir = link_dir(&data, &config);
        let link = write_link(&dir, &program, &target).unwrap();
        assert_eq!(std::fs::read_link(&link).unwrap(), program);
        assert_eq!(helper_invocation(&link), Some(target.clone()));
        // Written again: unchanged, still recognised.
        assert_eq!(write_link(&dir, &program, &target).unwrap(), link);
        assert_eq!(helper_invocation(&link), Some(target.clone()));

        // The plain program, a relative argv[0], another name: no helper start.
        assert_eq!(helper_invocation(&program), None);
        assert_eq!(helper_invocation(Path::new("lakepass")), None);
        assert_eq!(helper_invocation(&dir.join("other")), None);

        // A config.json that names another data folder does not fit where it lies.
        let moved = HelperTarget { config, data_dir: home.path().join("other-data") };
        std::fs::write(dir.join(TARGET_FILE), serde_json::to_vec(&moved).unwrap()).unwrap();
        assert_eq!(helper_invocation(&link), None);

        // A folder others may write to is not trusted.
        write_link(&dir, &program, &target).unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert_eq!(helper_invocation(&link), None);
    }
}
