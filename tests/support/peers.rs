//! The third-party peers (npm `oidc-provider`, PyPI `databricks-sdk`) installed by
//! `scripts/ci-deps.sh`: where they are, and what a test does when they are missing (fail under
//! `CI`, skip elsewhere).

use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::workspace_root;

/// `tests/peers` with its installed dependencies: `$LAKEPASS_PEERS_DIR`, else the one in the
/// source tree.
pub fn peers_dir() -> PathBuf {
    std::env::var_os("LAKEPASS_PEERS_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("tests").join("peers"))
}

fn peer_missing(what: &str, looked_at: &Path) -> Option<PathBuf> {
    let msg = format!("{what} is not installed ({} is missing): run scripts/ci-deps.sh", looked_at.display());
    assert!(crate::may_skip(&msg));
    None
}

/// The peers folder if the npm peer (`oidc-provider`) and `node` are installed; else `None`
/// after printing "skipped" — or a panic when `CI` is set.
pub fn peer_node() -> Option<PathBuf> {
    let dir = peers_dir();
    let module = dir.join("node_modules").join("oidc-provider").join("package.json");
    if !module.is_file() {
        return peer_missing("the npm peer oidc-provider", &module);
    }
    let node_ok = std::process::Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !node_ok {
        return peer_missing("node", Path::new("node on PATH"));
    }
    Some(dir)
}

/// The venv's python if the PyPI peer (`databricks-sdk`) is installed; else `None` after
/// printing "skipped" — or a panic when `CI` is set.
pub fn peer_python() -> Option<PathBuf> {
    let python = peers_dir().join(".venv").join("bin").join("python");
    if !python.is_file() {
        return peer_missing("the Python peer (databricks-sdk venv)", &python);
    }
    Some(python)
}
