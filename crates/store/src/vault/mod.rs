//! The vault: where IdP sessions (refresh tokens) and per-workspace Databricks tokens are kept.
//!
//! Callers store opaque strings (usually JSON they serialized) under keys such as `idp:corp` or
//! `ws:https://x.cloud.databricks.com`; the vault does not look inside them.
//!
//! Two backends, chosen once by [`Vault::open`]:
//! - **The OS keyring** (Secret Service on Linux, Keychain on macOS, Credential Manager on
//!   Windows): the right home for secrets, encrypted at rest and unlocked with the user's login.
//! - **A file**, `<data dir>/vault.json`. It exists because a keyring is often simply not there:
//!   SSH sessions, headless servers, containers, WSL, minimal desktops with no Secret Service. A
//!   tool that cannot sign in there is useless, so we fall back. Be clear about what that file
//!   is: **plain text, protected only by its file mode** (0600, in a 0700 folder). Anyone who can
//!   read your files as you (or as root), and any backup that copies them, can read the tokens.
//!   The fallback is therefore never silent: [`Vault::fallback_reason`] says why we are on the
//!   file, `lakepass status` shows it, and `LAKEPASS_VAULT=keyring|file` forces a choice.
//!
//! A keyring can also vanish mid-run (the daemon crashed, the session bus went away): a call
//! that finds it unreachable moves this `Vault` onto the file for the rest of the process, says
//! so once (a warning, and [`Vault::fallback_reason`]), and goes on. Secrets that were in the
//! keyring stay there; whatever cannot be read back needs a new sign-in, which then lands in
//! the file.
//!
//! Every keyring call runs on a blocking thread under a timeout: on headless Linux a D-Bus call
//! to a Secret Service that is being activated (or never will be) can hang for minutes, and that
//! must not freeze the tray, the CLI or the refresh engine. A call that times out is abandoned
//! (its thread finishes on its own) and reported as [`VaultError::Timeout`]. Tokio waits for
//! blocking tasks when a runtime is dropped, so binaries should end their runtime with
//! `shutdown_timeout` (or `shutdown_background`): an abandoned call must not hold the process.

mod file;
mod keyring;

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::lock::LockError;
use lakepass_wire::Secret;

use self::file::FileStore;
use self::keyring::{KeyringStore, ProbeOutcome};

/// Which backend holds the secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VaultKind {
    /// The OS keyring (Secret Service, macOS Keychain, Windows Credential Manager).
    Keyring,
    /// `<data dir>/vault.json`: plain text, protected only by its 0600 file mode.
    File,
}

impl VaultKind {
    /// The name used in `LAKEPASS_VAULT` and in JSON: `keyring` or `file`.
    pub fn as_str(self) -> &'static str {
        match self {
            VaultKind::Keyring => "keyring",
            VaultKind::File => "file",
        }
    }
}

impl fmt::Display for VaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `LAKEPASS_VAULT` held something other than `keyring` or `file`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown vault kind {value:?}: LAKEPASS_VAULT must be \"keyring\" or \"file\"")]
pub struct ParseVaultKindError {
    /// The text that did not parse.
    pub value: String,
}

impl FromStr for VaultKind {
    type Err = ParseVaultKindError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "keyring" => Ok(VaultKind::Keyring),
            "file" => Ok(VaultKind::File),
            _ => Err(ParseVaultKindError { value: s.to_owned() }),
        }
    }
}

/// What went wrong in the vault. Messages say what to do next and never contain a secret.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// The OS keyring did not answer in time (typically a D-Bus activation that hangs).
    #[error(
        "the OS keyring did not answer in time ({op}). If no keyring service runs here \
         (SSH, headless, container), set LAKEPASS_VAULT=file to keep secrets in a 0600 file"
    )]
    Timeout {
        /// What we were doing, e.g. `get "idp:corp"`. Names a key, never a value.
        op: String,
    },
    /// The OS keyring answered with an error.
    #[error("OS keyring error: {message}")]
    Keyring {
        /// What failed, why, and what to do next.
        message: String,
    },
    /// `LAKEPASS_VAULT=keyring` was set, but the keyring cannot be used: no silent file.
    #[error("LAKEPASS_VAULT=keyring, but the OS keyring cannot be used: {message}")]
    KeyringForced {
        /// Why, and what to do next.
        message: String,
    },
    /// Reading or writing the vault file (or creating its folder) failed.
    #[error(
        "vault file {}: {source}. Check that folder's permissions and free space, \
         or set LAKEPASS_VAULT=keyring to use the OS keyring",
        path.display()
    )]
    Io {
        /// The file or folder involved.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The vault file exists but is not a JSON object of strings. It is left untouched.
    #[error(
        "vault file {} is damaged ({message}). Lakepass will not overwrite it, since that would \
         lose the secrets it holds: move it aside (e.g. rename it to vault.json.bad), then sign \
         in again",
        path.display()
    )]
    Corrupt {
        /// The damaged file.
        path: PathBuf,
        /// What is wrong with it (position and kind only, never its content).
        message: String,
    },
    /// The vault file's lock could not be taken (held too long by another process, or IO).
    #[error("cannot lock the vault file: {0}")]
    Lock(#[from] LockError),
}

/// The secrets store. Cheap to clone: clones share one backend.
#[derive(Clone)]
pub struct Vault {
    inner: Arc<Inner>,
}

struct Inner {
    backend: Backend,
    /// `LAKEPASS_VAULT=keyring`: a keyring that is not there is an error, never a file.
    keyring_forced: bool,
    fallback_reason: Option<String>,
    /// Where a keyring backend goes when the keyring vanishes mid-run.
    fallback_file: FileStore,
    /// Set once, when that happened: why.
    degraded: std::sync::OnceLock<String>,
}

enum Backend {
    Keyring(KeyringStore),
    File(FileStore),
}

impl Vault {
    /// Opens the vault.
    ///
    /// `forced` (from `LAKEPASS_VAULT`, parsed by the caller) wins. Otherwise the OS keyring is
    /// probed (a `get` of a probe entry, off-thread, with a 3 s timeout); when it is unreachable
    /// (no storage access, platform failure, timeout) the file backend is used and the reason is
    /// kept in [`Vault::fallback_reason`] and logged.
    pub async fn open(data_dir: &Path, forced: Option<VaultKind>) -> Result<Vault, VaultError> {
        Self::open_with_probe(data_dir, forced, keyring::probe_os_keyring, keyring::PROBE_TIMEOUT).await
    }

    /// [`Vault::open`] with the keyring probe injected, so tests can play an absent, failing or
    /// hanging keyring without touching the process environment.
    async fn open_with_probe<P>(
        data_dir: &Path,
        forced: Option<VaultKind>,
        probe: P,
        probe_timeout: std::time::Duration,
    ) -> Result<Vault, VaultError>
    where
        P: FnOnce() -> Result<(), ::keyring_core::Error> + Send + 'static,
    {
        let (kind, fallback_reason) = match forced {
            Some(kind) => (kind, None),
            None => match keyring::probe(probe, probe_timeout).await {
                ProbeOutcome::Reachable => (VaultKind::Keyring, None),
                ProbeOutcome::Unreachable(reason) => (VaultKind::File, Some(reason)),
            },
        };
        let backend = match kind {
            VaultKind::Keyring => Backend::Keyring(KeyringStore::new()),
            VaultKind::File => {
                let store = FileStore::new(data_dir);
                blocking(&store, |store| store.ensure_dir()).await?;
                Backend::File(store)
            }
        };
        let vault = Vault {
            inner: Arc::new(Inner {
                backend,
                keyring_forced: forced == Some(VaultKind::Keyring),
                fallback_reason,
                fallback_file: FileStore::new(data_dir),
                degraded: std::sync::OnceLock::new(),
            }),
        };
        match (&vault.inner.fallback_reason, forced) {
            // Said once where people look (`lakepass status`, the dashboard), not before every
            // command's answer.
            (Some(reason), _) => tracing::info!(
                location = %vault.location(),
                %reason,
                "OS keyring unreachable: keeping secrets in a plain-text 0600 file"
            ),
            (None, Some(kind)) => {
                tracing::info!(%kind, location = %vault.location(), "vault forced by LAKEPASS_VAULT")
            }
            (None, None) => tracing::debug!(location = %vault.location(), "vault opened"),
        }
        Ok(vault)
    }

    /// Which backend holds the secrets.
    pub fn kind(&self) -> VaultKind {
        match self.inner.backend {
            Backend::Keyring(_) if self.inner.degraded.get().is_none() => VaultKind::Keyring,
            _ => VaultKind::File,
        }
    }

    /// Where the secrets are, for people: `OS keyring (service lakepass)` or `file /…/vault.json`.
    pub fn location(&self) -> String {
        if let Some(file) = self.degraded_file() {
            return format!("file {}", file.path().display());
        }
        match &self.inner.backend {
            Backend::Keyring(_) => format!("OS keyring (service {})", keyring::SERVICE),
            Backend::File(store) => format!("file {}", store.path().display()),
        }
    }

    /// Why the file backend is in use, when it was not forced: shown by `lakepass status`.
    pub fn fallback_reason(&self) -> Option<&str> {
        self.inner.fallback_reason.as_deref().or(self.inner.degraded.get().map(String::as_str))
    }

    /// The file used instead of a keyring that vanished mid-run, once it has.
    fn degraded_file(&self) -> Option<&FileStore> {
        self.inner.degraded.get().map(|_| &self.inner.fallback_file)
    }

    /// Moves onto the file when `e` says the keyring itself is gone (not one bad entry), and
    /// warns the first time only. Returns the file when it did.
    async fn degrade(&self, e: &VaultError) -> Result<Option<&FileStore>, VaultError> {
        let gone = match e {
            VaultError::Timeout { .. } => true,
            VaultError::Keyring { message } => keyring::means_unreachable(message),
            _ => false,
        };
        if !gone {
            return Ok(None);
        }
        if self.inner.keyring_forced {
            let message = match e {
                VaultError::Keyring { message } => message.clone(),
                other => other.to_string(),
            };
            return Err(VaultError::KeyringForced { message });
        }
        let file = &self.inner.fallback_file;
        if self
            .inner
            .degraded
            .set(format!("the OS keyring stopped answering while Lakepass ran ({e})"))
            .is_ok()
        {
            blocking(file, |f| f.ensure_dir()).await?;
            tracing::warn!(
                location = %file.path().display(),
                reason = self.fallback_reason().unwrap_or_default(),
                "OS keyring unreachable: keeping secrets in a plain-text 0600 file from now on; sign in again if a session is missing"
            );
        }
        Ok(Some(file))
    }

    /// The secret stored under `key`, if any.
    pub async fn get(&self, key: &str) -> Result<Option<Secret>, VaultError> {
        let file_get = |file: &FileStore| {
            let (file, key) = (file.clone(), key.to_owned());
            async move { blocking(&file, move |store| store.get(&key)).await }
        };
        if let Some(file) = self.degraded_file() {
            return file_get(file).await;
        }
        match &self.inner.backend {
            Backend::Keyring(store) => match store.get(key).await {
                Err(e) => match self.degrade(&e).await? {
                    Some(file) => file_get(file).await,
                    None => Err(e),
                },
                ok => ok,
            },
            Backend::File(store) => {
                let key = key.to_owned();
                blocking(store, move |store| store.get(&key)).await
            }
        }
    }

    /// Stores `value` under `key`, replacing any previous value.
    pub async fn set(&self, key: &str, value: &Secret) -> Result<(), VaultError> {
        let file_set = |file: &FileStore| {
            let (file, key, value) = (file.clone(), key.to_owned(), value.clone());
            async move { blocking(&file, move |store| store.set(&key, value)).await }
        };
        if let Some(file) = self.degraded_file() {
            return file_set(file).await;
        }
        match &self.inner.backend {
            Backend::Keyring(store) => match store.set(key, value).await {
                Err(e) => match self.degrade(&e).await? {
                    Some(file) => file_set(file).await,
                    None => Err(e),
                },
                ok => ok,
            },
            Backend::File(store) => {
                let (key, value) = (key.to_owned(), value.clone());
                blocking(store, move |store| store.set(&key, value)).await
            }
        }
    }

    /// Removes the secret under `key`. A key that is not there is not an error.
    pub async fn delete(&self, key: &str) -> Result<(), VaultError> {
        let file_delete = |file: &FileStore| {
            let (file, key) = (file.clone(), key.to_owned());
            async move { blocking(&file, move |store| store.delete(&key)).await }
        };
        if let Some(file) = self.degraded_file() {
            return file_delete(file).await;
        }
        match &self.inner.backend {
            Backend::Keyring(store) => match store.delete(key).await {
                Err(e) => match self.degrade(&e).await? {
                    Some(file) => file_delete(file).await,
                    None => Err(e),
                },
                ok => ok,
            },
            Backend::File(store) => {
                let key = key.to_owned();
                blocking(store, move |store| store.delete(&key)).await
            }
        }
    }
}

impl fmt::Debug for Vault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Vault").field("kind", &self.kind()).field("location", &self.location()).finish()
    }
}

/// Runs file IO (which may wait on the vault lock) off the async threads.
async fn blocking<T, F>(store: &FileStore, work: F) -> Result<T, VaultError>
where
    F: FnOnce(FileStore) -> Result<T, VaultError> + Send + 'static,
    T: Send + 'static,
{
    let task_store = store.clone();
    match tokio::task::spawn_blocking(move || work(task_store)).await {
        Ok(result) => result,
        Err(join) if join.is_panic() => std::panic::resume_unwind(join.into_panic()),
        Err(join) => Err(VaultError::Io {
            path: store.path().to_owned(),
            source: std::io::Error::other(format!("vault file task did not finish: {join}")),
        }),
    }
}

#[cfg(test)]
mod tests;
