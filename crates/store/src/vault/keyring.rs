//! The OS keyring backend (keyring-core with one store per platform: the Secret Service over
//! zbus on Linux, the Keychain on macOS, the Credential Manager on Windows; see `platform`).
//!
//! Every call goes through [`off_thread`]: a blocking thread under a timeout, because a D-Bus
//! call on headless Linux can hang for minutes (connecting to the store is such a call too: the
//! first one, the probe, connects). Entries are `service = "lakepass"`, `user = <key>`; keys such
//! as `ws:https://x.cloud.databricks.com` are stored as given (the platforms treat the account
//! name as an opaque string).
//!
//! Entries written by earlier Lakepass versions (keyring 3 over libdbus) carry two attributes
//! more (`target = "default"`, `application = "rust-keyring"`); the Secret Service store finds
//! items by `service` and `username` alone and updates a found item in place, so those entries
//! are read and rewritten, never duplicated (`tests::an_entry_written_by_keyring_3_…` in the
//! integration suite's real-keyring cases).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ::keyring_core::{CredentialStore, Entry, Error as KeyringError};

use super::VaultError;
use lakepass_wire::Secret;

/// The keyring service name every Lakepass entry is filed under.
pub(super) const SERVICE: &str = "lakepass";

/// The entry [`probe_os_keyring`] reads. It is never written.
const PROBE_KEY: &str = "lakepass:probe";

/// How long `open` waits for the keyring to answer the probe before using the file.
pub(super) const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// How long one get/set/delete may take. Longer than the probe: an unlock prompt may be showing.
const CALL_TIMEOUT: Duration = Duration::from_secs(15);

/// What the probe learnt about the OS keyring.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum ProbeOutcome {
    /// The keyring answered (an absent entry is an answer).
    Reachable,
    /// It did not; the text says why, for `lakepass status`.
    Unreachable(String),
}

/// The real probe: connects to the platform's store (unless the process has one already) and
/// reads an entry that normally does not exist.
pub(super) fn probe_os_keyring() -> Result<(), KeyringError> {
    entry(PROBE_KEY)?.get_password().map(drop)
}

/// Makes the platform's credential store the process's default, unless one is set already (a
/// test's, or this function's from an earlier call). Blocking: the Secret Service store opens
/// its D-Bus connection here, so it runs only inside [`off_thread`].
fn ensure_default_store() -> Result<(), KeyringError> {
    static INSTALLING: Mutex<()> = Mutex::new(());
    let _one_at_a_time = INSTALLING.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if ::keyring_core::get_default_store().is_none() {
        ::keyring_core::set_default_store(platform::store()?);
    }
    Ok(())
}

/// The credential store of the platform this was built for.
mod platform {
    use super::*;

    #[cfg(target_os = "linux")]
    pub(super) fn store() -> Result<Arc<CredentialStore>, KeyringError> {
        Ok(zbus_secret_service_keyring_store::Store::new()?)
    }

    #[cfg(target_os = "macos")]
    pub(super) fn store() -> Result<Arc<CredentialStore>, KeyringError> {
        Ok(apple_native_keyring_store::keychain::Store::new()?)
    }

    #[cfg(target_os = "windows")]
    pub(super) fn store() -> Result<Arc<CredentialStore>, KeyringError> {
        Ok(windows_native_keyring_store::Store::new()?)
    }

    #[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "windows")))]
    pub(super) fn store() -> Result<Arc<CredentialStore>, KeyringError> {
        Err(KeyringError::NotSupportedByStore("no OS keyring on this platform".into()))
    }
}

/// Runs `probe` off-thread under `limit` and decides whether the keyring is usable.
pub(super) async fn probe<P>(probe: P, limit: Duration) -> ProbeOutcome
where
    P: FnOnce() -> Result<(), KeyringError> + Send + 'static,
{
    let secs = limit.as_secs_f32();
    match off_thread("probe", limit, probe).await {
        Ok(Ok(())) | Ok(Err(KeyringError::NoEntry)) => ProbeOutcome::Reachable,
        // The store answered, it just did not like this entry: it is there.
        Ok(Err(KeyringError::Ambiguous(_) | KeyringError::BadEncoding(_))) => ProbeOutcome::Reachable,
        Ok(Err(KeyringError::NoStorageAccess(e))) => {
            ProbeOutcome::Unreachable(format!("the OS keyring refused access ({e})"))
        }
        Ok(Err(KeyringError::PlatformFailure(e))) => {
            ProbeOutcome::Unreachable(format!("the OS keyring is not available ({e})"))
        }
        Ok(Err(other)) => ProbeOutcome::Unreachable(format!("the OS keyring failed ({other})")),
        Err(VaultError::Timeout { .. }) => {
            ProbeOutcome::Unreachable(format!("the OS keyring did not answer within {secs} s"))
        }
        Err(other) => ProbeOutcome::Unreachable(other.to_string()),
    }
}

/// Secrets in the OS keyring, one entry per key.
#[derive(Debug, Clone, Default)]
pub(super) struct KeyringStore;

impl KeyringStore {
    pub(super) fn new() -> Self {
        KeyringStore
    }

    pub(super) async fn get(&self, key: &str) -> Result<Option<Secret>, VaultError> {
        let op = format!("get {key:?}");
        let owned = key.to_owned();
        match off_thread(&op, CALL_TIMEOUT, move || entry(&owned)?.get_password()).await? {
            Ok(value) => Ok(Some(Secret::new(value))),
            Err(KeyringError::NoEntry) => Ok(None),
            Err(e) => Err(keyring_error(&op, e)),
        }
    }

    pub(super) async fn set(&self, key: &str, value: &Secret) -> Result<(), VaultError> {
        let op = format!("set {key:?}");
        let (owned, value) = (key.to_owned(), value.clone());
        off_thread(&op, CALL_TIMEOUT, move || entry(&owned)?.set_password(value.secret()))
            .await?
            .map_err(|e| keyring_error(&op, e))
    }

    pub(super) async fn delete(&self, key: &str) -> Result<(), VaultError> {
        let op = format!("delete {key:?}");
        let owned = key.to_owned();
        match off_thread(&op, CALL_TIMEOUT, move || entry(&owned)?.delete_credential()).await? {
            Ok(()) | Err(KeyringError::NoEntry) => Ok(()),
            Err(e) => Err(keyring_error(&op, e)),
        }
    }
}

fn entry(key: &str) -> Result<Entry, KeyringError> {
    ensure_default_store()?;
    Entry::new(SERVICE, key)
}

/// Runs one blocking keyring call on the blocking pool, giving up after `limit`.
///
/// A call that times out keeps its thread until the platform gives up; we just stop waiting.
async fn off_thread<T, F>(op: &str, limit: Duration, call: F) -> Result<T, VaultError>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    match tokio::time::timeout(limit, tokio::task::spawn_blocking(call)).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(join)) => Err(VaultError::Keyring {
            message: format!("{op}: the keyring call crashed ({join}); set LAKEPASS_VAULT=file"),
        }),
        Err(_elapsed) => {
            tracing::warn!(op, timeout_s = limit.as_secs_f32(), "OS keyring call timed out");
            Err(VaultError::Timeout { op: op.to_owned() })
        }
    }
}

const NO_ACCESS_NEXT: &str = "unlock your keyring (or log in to the desktop session) and retry, \
     or set LAKEPASS_VAULT=file to keep secrets in a 0600 file";
const NO_SERVICE_NEXT: &str = "check that a keyring service runs (gnome-keyring or KWallet on Linux), \
     or set LAKEPASS_VAULT=file to keep secrets in a 0600 file";

/// True for a [`keyring_error`] message about the keyring itself being gone (no access, no
/// service), as opposed to one bad entry: the vault then moves onto its file.
pub(super) fn means_unreachable(message: &str) -> bool {
    message.ends_with(NO_ACCESS_NEXT) || message.ends_with(NO_SERVICE_NEXT)
}

/// Turns a keyring error into a message that says what to do. Keyring errors carry no secret
/// values (`BadEncoding`'s bytes are deliberately not shown).
pub(super) fn keyring_error(op: &str, e: KeyringError) -> VaultError {
    let next = match &e {
        KeyringError::NoStorageAccess(_) => NO_ACCESS_NEXT,
        KeyringError::PlatformFailure(_) => NO_SERVICE_NEXT,
        KeyringError::BadEncoding(_) => {
            "the entry is not text: delete it in your keyring manager (service lakepass) and \
             sign in again"
        }
        KeyringError::Ambiguous(_) => {
            "several keyring entries match: delete the duplicates (service lakepass) in your \
             keyring manager and sign in again"
        }
        _ => "this is likely a Lakepass bug: please report it; LAKEPASS_VAULT=file works around it",
    };
    let what = match &e {
        KeyringError::BadEncoding(_) => "the stored value is not UTF-8".to_owned(),
        other => other.to_string(),
    };
    VaultError::Keyring { message: format!("{op}: {what}; {next}") }
}
