//! The vault against a real OS keyring: open → probe finds it → set / get / delete.
//!
//! A real Secret Service is not there over SSH or in a bare container, and on a desktop this
//! test would write to your own keyring, so it runs when `LAKEPASS_TEST_KEYRING=1`; elsewhere it
//! may skip, loudly, but never under CI (`support::may_skip`). `scripts/with-keyring.sh` runs a
//! command under `dbus-run-session` with a throwaway, unlocked gnome-keyring and sets that
//! variable; `.ci/run` runs the whole nextest suite under it, so this case counts there. It also
//! checks with `secret-tool` that the entry really reached the Secret Service (a round trip
//! through an in-memory store would prove nothing), and that an entry an earlier Lakepass wrote
//! (keyring 3 over libdbus, with two attributes more) is read and updated in place.

use std::process::Command;

use lakepass_store::vault::{Vault, VaultKind};
use lakepass_wire::Secret;

use crate::support::{keyring_store_lock, may_skip};

const ENABLE: &str = "LAKEPASS_TEST_KEYRING";

fn enabled(test: &str) -> bool {
    std::env::var(ENABLE).as_deref() == Ok("1")
        || !may_skip(&format!(
            "{test}: {ENABLE} is not 1: run it under scripts/with-keyring.sh (dbus-run-session with \
             a throwaway gnome-keyring)"
        ))
}

/// What `secret-tool` (libsecret) finds for a Lakepass entry; `None` if the tool is missing
/// and the independent check may be skipped (never under CI).
fn secret_tool_lookup(key: &str) -> Option<String> {
    match Command::new("secret-tool").args(["lookup", "service", "lakepass", "username", key]).output() {
        Ok(out) => Some(String::from_utf8_lossy(&out.stdout).into_owned()),
        Err(e) => {
            assert!(may_skip(&format!("secret-tool does not run ({e}): the independent check is skipped")));
            None
        }
    }
}

#[tokio::test]
async fn real_keyring_round_trip() {
    if !enabled("real_keyring_round_trip") {
        return;
    }
    // The fault suite swaps the keyring crate's store for a vanishing one; not while we run.
    let _lock = keyring_store_lock().await;
    let data = tempfile::tempdir().unwrap();
    let vault = Vault::open(data.path(), None).await.unwrap();
    assert_eq!(
        vault.kind(),
        VaultKind::Keyring,
        "expected the OS keyring; fell back because: {:?}",
        vault.fallback_reason()
    );
    assert_eq!(vault.fallback_reason(), None);
    assert_eq!(vault.location(), "OS keyring (service lakepass)");

    // Unique keys, shaped like the real ones (':' and '/'), so a run against a personal keyring
    // cannot clash with real entries.
    let pid = std::process::id();
    let idp = format!("idp:lakepass-test-{pid}");
    let ws = format!("ws:https://lakepass-test-{pid}.cloud.databricks.com/");
    for key in [&idp, &ws] {
        assert!(vault.get(key).await.unwrap().is_none(), "{key} exists before the test");
    }

    let session = Secret::new(r#"{"refresh_token":"rt-1","id_token":"eyJ.x.y"}"#);
    vault.set(&idp, &session).await.unwrap();
    vault.set(&ws, &Secret::new("dapi-ws-token")).await.unwrap();
    assert_eq!(vault.get(&idp).await.unwrap().as_ref(), Some(&session));
    assert_eq!(vault.get(&ws).await.unwrap().unwrap().secret(), "dapi-ws-token");

    if let Some(found) = secret_tool_lookup(&ws) {
        assert_eq!(found, "dapi-ws-token", "secret-tool must see what the vault stored");
    }

    // Rotation: a new refresh token replaces the old one.
    vault.set(&idp, &Secret::new("rt-2")).await.unwrap();
    assert_eq!(vault.get(&idp).await.unwrap().unwrap().secret(), "rt-2");

    for key in [&idp, &ws] {
        vault.delete(key).await.unwrap();
        assert!(vault.get(key).await.unwrap().is_none(), "{key} survived delete");
        vault.delete(key).await.unwrap(); // already gone: still Ok
    }
    if let Some(found) = secret_tool_lookup(&ws) {
        assert_eq!(found, "", "secret-tool still sees the deleted entry");
    }
    assert!(!data.path().join("vault.json").exists(), "the file backend must not be touched");
}

/// What `secret-tool search` lists for a Lakepass entry: one `[/org/freedesktop/secrets/…]`
/// header per item.
fn secret_tool_items(key: &str) -> usize {
    let out = Command::new("secret-tool")
        .args(["search", "--all", "service", "lakepass", "username", key])
        .output()
        .expect("secret-tool runs (the previous case checked)");
    String::from_utf8_lossy(&out.stdout).lines().filter(|l| l.starts_with('[')).count()
        + String::from_utf8_lossy(&out.stderr).lines().filter(|l| l.starts_with('[')).count()
}

/// Lakepass up to 0.6 stored its entries through keyring 3 (`dbus-secret-service`), whose items
/// carry `target = "default"` and `application = "rust-keyring"` besides `service` and
/// `username` (keyring-3.6.3 `src/secret_service.rs`). After the move to keyring-core's zbus
/// store (issue 27) a user's existing sign-in must still be found, and a rotation must update
/// that item rather than add a second one, which would make every later read ambiguous.
#[tokio::test]
async fn an_entry_written_by_keyring_3_is_read_and_updated_in_place() {
    if !enabled("an_entry_written_by_keyring_3_is_read_and_updated_in_place") {
        return;
    }
    let _lock = keyring_store_lock().await;
    if secret_tool_lookup("lakepass:probe").is_none() {
        return; // the tool is missing here (never under CI: secret_tool_lookup says so)
    }
    let key = format!("idp:lakepass-legacy-{}", std::process::id());
    let mut store = Command::new("secret-tool")
        .args(["store", "--label", &format!("{key}@lakepass")])
        .args(["target", "default", "service", "lakepass", "username", &key])
        .args(["application", "rust-keyring"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("secret-tool store starts");
    use std::io::Write as _;
    store.stdin.take().unwrap().write_all(b"rt-from-keyring-3").unwrap();
    assert!(store.wait().unwrap().success(), "secret-tool store failed");
    assert_eq!(secret_tool_items(&key), 1);

    let data = tempfile::tempdir().unwrap();
    let vault = Vault::open(data.path(), None).await.unwrap();
    assert_eq!(vault.kind(), VaultKind::Keyring, "fell back: {:?}", vault.fallback_reason());
    assert_eq!(vault.get(&key).await.unwrap().unwrap().secret(), "rt-from-keyring-3");

    vault.set(&key, &Secret::new("rt-rotated")).await.unwrap();
    assert_eq!(secret_tool_items(&key), 1, "the rotation added a second item instead of updating");
    assert_eq!(vault.get(&key).await.unwrap().unwrap().secret(), "rt-rotated");
    assert_eq!(secret_tool_lookup(&key).as_deref(), Some("rt-rotated"));

    vault.delete(&key).await.unwrap();
    assert_eq!(secret_tool_items(&key), 0, "delete left the old item behind");
}
