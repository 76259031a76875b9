//! The OS keyring vanishing mid-run: Lakepass moves onto its file vault, says so once, and a
//! new sign-in makes everything work again.
//!
//! The keyring is played through keyring-core's own extension point (the process's default
//! credential store, `set_default_store`): a store that works, then answers every call with
//! `PlatformFailure`, as the Secret Service does when its daemon died. The store is
//! process-wide, so the case holds [`keyring_store_lock`] and unsets it when it ends (the vault
//! then installs the platform's store again): no other test sees the vanishing one. The real D-Bus variant (killing
//! gnome-keyring-daemon) is not covered: D-Bus activation restarts it locked, and the call then
//! waits for an unlock prompt nobody can answer; `VaultError::Timeout` takes the same path.

use lakepass_engine::ErrorKind;
use std::any::Any;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use keyring_core::api::{CredentialApi, CredentialStoreApi};
use keyring_core::{Credential, Entry};
use lakepass_store::{Vault, VaultKind};

use super::*;
use crate::support::keyring_store_lock;

static GONE: AtomicBool = AtomicBool::new(false);

/// (service, user) → secret: the vanishing keyring's contents.
type Entries = Mutex<HashMap<(String, String), Vec<u8>>>;

fn entries() -> &'static Entries {
    static ENTRIES: OnceLock<Entries> = OnceLock::new();
    ENTRIES.get_or_init(Default::default)
}

#[derive(Debug)]
struct VanishingCredential {
    key: (String, String),
}

fn vanished() -> keyring_core::Error {
    keyring_core::Error::PlatformFailure(Box::new(std::io::Error::other(
        "org.freedesktop.secrets: the name has no owner (the keyring daemon exited)",
    )))
}

impl CredentialApi for VanishingCredential {
    fn set_secret(&self, secret: &[u8]) -> keyring_core::Result<()> {
        if GONE.load(Ordering::SeqCst) {
            return Err(vanished());
        }
        entries().lock().unwrap().insert(self.key.clone(), secret.to_vec());
        Ok(())
    }

    fn get_secret(&self) -> keyring_core::Result<Vec<u8>> {
        if GONE.load(Ordering::SeqCst) {
            return Err(vanished());
        }
        entries().lock().unwrap().get(&self.key).cloned().ok_or(keyring_core::Error::NoEntry)
    }

    fn delete_credential(&self) -> keyring_core::Result<()> {
        if GONE.load(Ordering::SeqCst) {
            return Err(vanished());
        }
        entries().lock().unwrap().remove(&self.key).map(drop).ok_or(keyring_core::Error::NoEntry)
    }

    fn get_credential(&self) -> keyring_core::Result<Option<Arc<Credential>>> {
        Ok(None)
    }

    fn get_specifiers(&self) -> Option<(String, String)> {
        Some(self.key.clone())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[derive(Debug)]
struct VanishingStore;

impl CredentialStoreApi for VanishingStore {
    fn vendor(&self) -> String {
        "a keyring that vanishes mid-run (Lakepass fault case)".to_owned()
    }

    fn id(&self) -> String {
        "vanishing".to_owned()
    }

    fn build(
        &self,
        service: &str,
        user: &str,
        _modifiers: Option<&HashMap<&str, &str>>,
    ) -> keyring_core::Result<Entry> {
        let credential = VanishingCredential { key: (service.to_owned(), user.to_owned()) };
        Ok(Entry::new_with_credential(Arc::new(credential)))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Unsets the vanishing store when dropped, so the vault installs the platform's store again.
struct RestorePlatformStore;

impl Drop for RestorePlatformStore {
    fn drop(&mut self) {
        keyring_core::unset_default_store();
    }
}

/// Log lines written while the guard lives (this thread only).
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_keyring_disappearing_mid_run_falls_back_to_the_file_and_says_so_once() {
    within(CASE_TIMEOUT, async {
        let _lock = keyring_store_lock().await;
        let _restore = RestorePlatformStore;
        keyring_core::set_default_store(Arc::new(VanishingStore));
        let logs = Captured::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::WARN)
            .with_writer(move || writer.clone())
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);

        let f = fixture().await;
        let vault = Vault::open(&f.paths.data_dir, None).await.unwrap();
        assert_eq!(vault.kind(), VaultKind::Keyring, "{:?}", vault.fallback_reason());
        let e = f.engine_on(vault.clone()).await;
        f.sign_in(&e).await;
        assert!(!f.paths.data_dir.join("vault.json").exists(), "secrets went to the keyring");

        GONE.store(true, Ordering::SeqCst);
        let err = e.token(&ws(&e, "dev")).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NeedsLogin, "the session was in the keyring: sign in again: {err}");
        assert_eq!(vault.kind(), VaultKind::File);
        let reason = vault.fallback_reason().expect("the reason is kept for `lakepass status`").to_owned();
        assert!(reason.contains("stopped answering"), "{reason}");
        for name in ["prod", "dev", "prod"] {
            let _ = e.token(&ws(&e, name)).await;
        }
        let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.matches("OS keyring unreachable").count(), 1, "told once, not per call:\n{text}");

        // A new sign-in lands in the 0600 file and everything works again.
        f.sign_in(&e).await;
        let t = e.token(&ws(&e, "dev")).await.unwrap();
        assert!(accepted(&f.host("dev"), t.access_token.secret()).await);
        let file = f.paths.data_dir.join("vault.json");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
        }
        // The keyring coming back does not flip secrets between stores mid-run.
        GONE.store(false, Ordering::SeqCst);
        assert_eq!(vault.kind(), VaultKind::File);
        assert!(e.token(&ws(&e, "prod")).await.is_ok());
    })
    .await
}
