//! Vault tests: the file backend for real, the keyring probe through an injected function, and
//! one real probe with no D-Bus session, run in a child process so no env var leaks into others.
//! The real Secret Service round trip is `tests/it/keyring_real.rs` (`scripts/test-keyring.sh`).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use ::keyring_core::Error as KeyringError;

use super::*;

const IDP: &str = "idp:corp";
const WS: &str = "ws:https://x.cloud.databricks.com/sub/path";

async fn file_vault(dir: &Path) -> Vault {
    Vault::open(dir, Some(VaultKind::File)).await.expect("open file vault")
}

fn no_access() -> KeyringError {
    KeyringError::NoStorageAccess("org.freedesktop.DBus.Error.NoServer".into())
}

#[tokio::test]
async fn file_set_get_overwrite_delete() {
    let tmp = tempfile::tempdir().unwrap();
    let vault = file_vault(&tmp.path().join("data")).await;
    assert_eq!(vault.kind(), VaultKind::File);
    assert!(vault.get(IDP).await.unwrap().is_none());

    vault.set(IDP, &Secret::new(r#"{"refresh_token":"rt-1"}"#)).await.unwrap();
    vault.set(WS, &Secret::new("dapi-ws")).await.unwrap();
    assert_eq!(vault.get(IDP).await.unwrap().unwrap().secret(), r#"{"refresh_token":"rt-1"}"#);
    assert_eq!(vault.get(WS).await.unwrap().unwrap().secret(), "dapi-ws");

    vault.set(IDP, &Secret::new("rt-2")).await.unwrap();
    assert_eq!(vault.get(IDP).await.unwrap().unwrap().secret(), "rt-2");

    vault.delete(IDP).await.unwrap();
    assert!(vault.get(IDP).await.unwrap().is_none());
    vault.delete(IDP).await.unwrap(); // absent: still Ok
    assert_eq!(vault.get(WS).await.unwrap().unwrap().secret(), "dapi-ws");

    // A second handle on the same file sees the same data.
    let again = file_vault(&tmp.path().join("data")).await;
    assert_eq!(again.get(WS).await.unwrap().unwrap().secret(), "dapi-ws");
}

#[tokio::test]
async fn delete_on_a_fresh_vault_is_ok_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let vault = file_vault(tmp.path()).await;
    vault.delete(WS).await.unwrap();
    assert!(!tmp.path().join("vault.json").exists());
}

#[cfg(unix)]
#[tokio::test]
async fn file_is_0600_in_a_0700_folder() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("nested").join("data");
    let vault = file_vault(&data).await;
    vault.set(IDP, &Secret::new("rt")).await.unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700, "data dir");
    assert_eq!(mode(&data.join("vault.json")), 0o600, "vault file");
    // Rewrites keep it 0600 (write_atomic makes a new file each time).
    vault.set(WS, &Secret::new("t")).await.unwrap();
    assert_eq!(mode(&data.join("vault.json")), 0o600, "vault file after rewrite");
}

#[tokio::test]
async fn corrupt_file_is_reported_and_left_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("vault.json");
    let garbage = b"{\"idp:corp\": \"rt-very-secret\", oops";
    std::fs::write(&path, garbage).unwrap();
    let vault = file_vault(tmp.path()).await;

    let get = vault.get(IDP).await.unwrap_err();
    let set = vault.set(WS, &Secret::new("new")).await.unwrap_err();
    let delete = vault.delete(IDP).await.unwrap_err();
    for err in [&get, &set, &delete] {
        let shown = err.to_string();
        assert!(matches!(err, VaultError::Corrupt { .. }), "{shown}");
        assert!(shown.contains(&path.display().to_string()), "names the file: {shown}");
        assert!(shown.contains("move it aside"), "says what to do: {shown}");
        assert!(!shown.contains("very-secret"), "never shows content: {shown}");
        assert!(shown.contains("not valid JSON") && shown.contains("line 1"), "says what and where: {shown}");
    }
    assert_eq!(std::fs::read(&path).unwrap(), garbage, "file must be left as it was");
}

/// Only a missing vault file is an empty vault: one that cannot be read is an error, never
/// "no secrets" (which the next save would make true by writing an empty vault over it).
#[tokio::test]
async fn an_unreadable_vault_is_an_error_not_an_empty_vault() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("vault.json")).unwrap();
    let vault = file_vault(tmp.path()).await;
    let err = vault.get(IDP).await.expect_err("a vault path that is a folder cannot be read");
    assert!(matches!(err, VaultError::Io { .. }), "{err}");
    assert!(vault.set(WS, &Secret::new("t")).await.is_err());
    assert!(tmp.path().join("vault.json").is_dir(), "left as it was");
}

/// Sets `count` entries named after `who` in the file vault in `dir`, one after another.
fn set_many(dir: &Path, who: &str, count: usize) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let vault = file_vault(dir).await;
        for i in 0..count {
            vault.set(&format!("ws:https://{who}{i}.example"), &Secret::new(format!("t{i}"))).await.unwrap();
        }
    });
}

/// Two processes writing one file vault at once: their only coordination is the lock file.
/// The second is this test binary run again (`lock.rs` serialises holders inside one process
/// before they reach `flock`, so two handles in one process would pass without the file lock).
/// It says `ready` once its vault is open and waits for `go`, so both write at the same time.
#[cfg(unix)]
#[test]
fn concurrent_sets_from_two_processes_all_survive() {
    use std::io::{BufRead as _, Write as _};
    const CHILD: &str = "LAKEPASS_VAULT_TEST_SECOND_PROCESS_DIR";
    const EACH: usize = 40;
    if let Some(dir) = std::env::var_os(CHILD) {
        let mut out = std::io::stdout().lock();
        writeln!(out, "ready").and_then(|()| out.flush()).unwrap();
        let mut go = String::new();
        std::io::stdin().read_line(&mut go).unwrap();
        assert_eq!(go.trim(), "go");
        set_many(Path::new(&dir), "child", EACH);
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["vault::tests::concurrent_sets_from_two_processes_all_survive", "--exact"])
        .args(["--nocapture", "--test-threads=1"])
        .env(CHILD, tmp.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    // libtest's `test name ... ` has no newline before the child's first line.
    assert!(lines.by_ref().map(Result::unwrap).any(|l| l.ends_with("ready")), "the child never got ready");
    writeln!(child.stdin.take().unwrap(), "go").unwrap();
    set_many(tmp.path(), "parent", EACH);
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    assert!(child.wait().unwrap().success(), "the second process failed:\n{}", rest.join("\n"));
    assert!(rest.iter().any(|l| l.contains("1 passed")), "the child ran no test:\n{}", rest.join("\n"));
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let vault = file_vault(tmp.path()).await;
        for who in ["parent", "child"] {
            for i in 0..EACH {
                let got = vault.get(&format!("ws:https://{who}{i}.example")).await.unwrap();
                assert_eq!(got.expect("every write survives").secret(), format!("t{i}"), "{who}{i}");
            }
        }
    });
}

#[test]
fn concurrent_sets_from_threads_all_survive() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_owned();
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let dir = dir.clone();
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                rt.block_on(async {
                    let vault = file_vault(&dir).await;
                    for j in 0..5 {
                        vault.set(&format!("idp:t{i}-{j}"), &Secret::new("rt")).await.unwrap();
                    }
                });
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let text = std::fs::read_to_string(dir.join("vault.json")).unwrap();
    let map: BTreeMap<String, String> = serde_json::from_str(&text).unwrap();
    assert_eq!(map.len(), 40, "{:?}", map.keys());
}

#[tokio::test]
async fn forced_kinds_skip_the_probe() {
    let tmp = tempfile::tempdir().unwrap();
    let never = || -> Result<(), KeyringError> { panic!("forced vaults must not probe") };
    let file =
        Vault::open_with_probe(tmp.path(), Some(VaultKind::File), never, Duration::ZERO).await.unwrap();
    assert_eq!(file.kind(), VaultKind::File);
    assert_eq!(file.fallback_reason(), None, "forced is not a fallback");
    assert_eq!(file.location(), format!("file {}", tmp.path().join("vault.json").display()));

    let kr =
        Vault::open_with_probe(tmp.path(), Some(VaultKind::Keyring), never, Duration::ZERO).await.unwrap();
    assert_eq!(kr.kind(), VaultKind::Keyring);
    assert_eq!(kr.location(), "OS keyring (service lakepass)");
    assert_eq!(kr.fallback_reason(), None);
}

#[tokio::test]
async fn reachable_keyring_is_used() {
    let tmp = tempfile::tempdir().unwrap();
    for answer in [Ok(()), Err(KeyringError::NoEntry)] {
        let probe = move || answer;
        let vault = Vault::open_with_probe(tmp.path(), None, probe, Duration::from_secs(3)).await.unwrap();
        assert_eq!(vault.kind(), VaultKind::Keyring);
        assert_eq!(vault.fallback_reason(), None);
    }
    assert!(!tmp.path().join("vault.json").exists());
}

#[tokio::test]
async fn unreachable_keyring_falls_back_to_the_file_and_says_why() {
    let tmp = tempfile::tempdir().unwrap();
    type Probe = fn() -> Result<(), KeyringError>;
    let cases: [(Probe, &str); 2] = [
        (|| Err(no_access()), "refused access"),
        (|| Err(KeyringError::PlatformFailure("no Secret Service".into())), "not available"),
    ];
    for (probe, why) in cases {
        let vault = Vault::open_with_probe(tmp.path(), None, probe, Duration::from_secs(3)).await.unwrap();
        assert_eq!(vault.kind(), VaultKind::File);
        let reason = vault.fallback_reason().expect("a fallback is never silent");
        assert!(reason.contains(why), "{reason}");
        vault.set(IDP, &Secret::new("rt")).await.unwrap();
        assert_eq!(vault.get(IDP).await.unwrap().unwrap().secret(), "rt");
    }
}

#[tokio::test]
async fn hanging_keyring_times_out_and_falls_back() {
    let tmp = tempfile::tempdir().unwrap();
    let hang = || {
        std::thread::sleep(Duration::from_secs(2));
        Ok(())
    };
    let started = std::time::Instant::now();
    let vault = Vault::open_with_probe(tmp.path(), None, hang, Duration::from_millis(100)).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(1), "open waited for the hung call");
    assert_eq!(vault.kind(), VaultKind::File);
    let reason = vault.fallback_reason().unwrap();
    assert!(reason.contains("did not answer within 0.1 s"), "{reason}");
}

/// The real probe with no session bus (the SSH / headless case). Environment variables are
/// process-wide, so the test re-runs itself in a child process with the bus removed from its
/// environment; only the child opens the vault.
#[cfg(target_os = "linux")]
#[test]
fn real_probe_without_dbus_falls_back_to_the_file() {
    const CHILD: &str = "LAKEPASS_VAULT_TEST_NO_BUS_DIR";
    if let Some(dir) = std::env::var_os(CHILD) {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let vault = rt.block_on(Vault::open(Path::new(&dir), None)).unwrap();
        assert_eq!(vault.kind(), VaultKind::File, "{vault:?}");
        let reason = vault.fallback_reason().expect("fallback reason");
        println!("fallback reason: {reason}");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let runtime_dir = tempfile::tempdir().unwrap(); // no `bus` socket in it
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["vault::tests::real_probe_without_dbus_falls_back_to_the_file", "--exact"])
        .args(["--nocapture", "--test-threads=1"])
        .env(CHILD, tmp.path())
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env("XDG_RUNTIME_DIR", runtime_dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("1 passed"), "child ran no test:\n{stdout}\n{stderr}");
    assert!(stdout.contains("fallback reason: the OS keyring"), "{stdout}");
}

#[test]
fn vault_kind_parses_and_serializes() {
    assert_eq!("keyring".parse::<VaultKind>().unwrap(), VaultKind::Keyring);
    assert_eq!(" File ".parse::<VaultKind>().unwrap(), VaultKind::File);
    let err = "vault".parse::<VaultKind>().unwrap_err().to_string();
    assert!(err.contains("LAKEPASS_VAULT") && err.contains("\"keyring\" or \"file\""), "{err}");
    assert_eq!(serde_json::to_string(&VaultKind::Keyring).unwrap(), "\"keyring\"");
    assert_eq!(serde_json::to_string(&VaultKind::File).unwrap(), "\"file\"");
    assert_eq!(VaultKind::File.to_string(), "file");
}

#[tokio::test]
async fn debug_shows_only_kind_and_location() {
    let tmp = tempfile::tempdir().unwrap();
    let vault = file_vault(tmp.path()).await;
    vault.set(IDP, &Secret::new("rt-very-secret")).await.unwrap();
    let shown = format!("{vault:?}");
    assert!(shown.starts_with("Vault { kind: File, location: \"file "), "{shown}");
    assert!(!shown.contains("very-secret"), "{shown}");
}

#[test]
fn errors_say_what_to_do_next() {
    let timeout = VaultError::Timeout { op: format!("get {IDP:?}") }.to_string();
    assert!(timeout.contains("LAKEPASS_VAULT=file") && timeout.contains("idp:corp"), "{timeout}");
    let locked = super::keyring::keyring_error("set \"idp:corp\"", no_access()).to_string();
    assert!(locked.contains("unlock") && locked.contains("LAKEPASS_VAULT=file"), "{locked}");
    let bytes = b"rt-very-secret\xff".to_vec();
    let bad = super::keyring::keyring_error("get \"x\"", KeyringError::BadEncoding(bytes));
    let bad = format!("{bad} {bad:?}");
    assert!(!bad.contains("very-secret") && !bad.contains("114"), "{bad}");
    assert!(bad.contains("not UTF-8") && bad.contains("delete it in your keyring manager"), "{bad}");
    let twice = super::keyring::keyring_error("get \"x\"", KeyringError::Ambiguous(Vec::new())).to_string();
    assert!(twice.contains("delete the duplicates"), "{twice}");
}

/// Only a keyring that is gone (no access, no service) moves the vault onto its file; one bad
/// entry does not, or a duplicate entry would silently hide the secrets in the keyring.
#[test]
fn only_a_gone_keyring_counts_as_unreachable() {
    let message = |e: KeyringError| match super::keyring::keyring_error("get \"x\"", e) {
        VaultError::Keyring { message } => message,
        other => panic!("{other:?}"),
    };
    assert!(super::keyring::means_unreachable(&message(no_access())));
    assert!(!super::keyring::means_unreachable(&message(KeyringError::BadEncoding(b"x".to_vec()))));
    assert!(!super::keyring::means_unreachable(&message(KeyringError::Ambiguous(Vec::new()))));
    // The Secret Service's daemon gone (D-Bus "name has no owner") is a platform failure.
    let no_daemon = KeyringError::PlatformFailure("org.freedesktop.secrets: no owner".into());
    assert!(super::keyring::means_unreachable(&message(no_daemon)));
}

/// A file vault makes its private folder when it opens, so `lakepass status` can show where the
/// secrets go, and a folder that cannot be made fails the open, naming it, before any sign-in.
#[cfg(unix)]
#[tokio::test]
async fn opening_a_file_vault_makes_its_private_folder_at_once() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("fresh").join("data");
    let _vault = file_vault(&data).await;
    assert_eq!(std::fs::metadata(&data).unwrap().permissions().mode() & 0o777, 0o700);

    let blocker = tmp.path().join("a-file");
    std::fs::write(&blocker, b"").unwrap();
    let err = Vault::open(&blocker.join("data"), Some(VaultKind::File)).await.unwrap_err();
    assert!(err.to_string().contains(&blocker.display().to_string()), "{err}");
}

/// A bug that panics inside vault file IO surfaces as that panic in the caller (where the
/// engine's task supervision reports it), not as an IO error that would send the user to check
/// their disk.
#[tokio::test]
#[should_panic(expected = "a bug in vault file IO")]
async fn a_panic_in_file_io_is_the_callers_panic_not_an_io_error() {
    let tmp = tempfile::tempdir().unwrap();
    let store = file::FileStore::new(tmp.path());
    let _: Result<(), VaultError> = blocking(&store, |_| panic!("a bug in vault file IO")).await;
}
