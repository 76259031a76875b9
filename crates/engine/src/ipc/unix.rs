//! The engine socket on Unix: a 0600 socket in a 0700 folder, peers checked by uid.
//!
//! Both ends check the other against this process's own effective uid: the server serves only
//! peers of its own user, and the client trusts a server only when the socket's folder belongs
//! to its own user (nobody else can place a socket there) and the server process runs as that
//! user. A mis-set `XDG_RUNTIME_DIR` pointing into another user's folder is therefore refused,
//! even though that folder is private and its owner runs the server.

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::Path;
use std::time::Duration;

use tokio::net::{UnixListener, UnixStream};

use super::IpcError;

/// A client's connection.
pub type Stream = UnixStream;

/// A bound socket that only lets this user's processes through.
pub struct Listener {
    inner: UnixListener,
    uid: u32,
}

impl Listener {
    /// Binds `path`, replacing a stale socket; refuses when a live engine answers there.
    pub async fn bind(path: &Path) -> Result<Listener, IpcError> {
        let bind_err = |source| IpcError::Bind { path: path.into(), source };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(bind_err)?;
            // Only this user may reach the socket, whatever the umask made of the folder.
            let mode = std::fs::metadata(dir).map_err(bind_err)?.permissions().mode();
            if mode & 0o077 != 0 {
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(bind_err)?;
            }
        }
        if std::fs::symlink_metadata(path).is_ok() {
            let probe = tokio::time::timeout(Duration::from_millis(500), UnixStream::connect(path)).await;
            if matches!(probe, Ok(Ok(_))) {
                return Err(IpcError::AlreadyRunning { path: path.into() });
            }
            // Nobody answers: a socket left behind by an engine that crashed.
            std::fs::remove_file(path).map_err(bind_err)?;
        }
        let inner = UnixListener::bind(path).map_err(bind_err)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(bind_err)?;
        Ok(Listener { inner, uid: own_uid() })
    }

    /// The next client that runs as this user; others are dropped unanswered.
    pub async fn accept(&mut self) -> std::io::Result<UnixStream> {
        loop {
            let (stream, _) = self.inner.accept().await?;
            match stream.peer_cred() {
                Ok(cred) if cred.uid() == self.uid => return Ok(stream),
                Ok(cred) => {
                    tracing::warn!(peer_uid = cred.uid(), "engine socket: refused a client of another user")
                }
                Err(e) => tracing::warn!(error = %e, "engine socket: cannot identify a client; refused"),
            }
        }
    }
}

/// Connects to the engine at `path`, and checks that it runs as the owner of the socket's
/// private folder (nobody else can place a socket there).
pub async fn connect(path: &Path) -> Result<UnixStream, IpcError> {
    let stream = UnixStream::connect(path).await.map_err(|_| IpcError::NoServer { path: path.into() })?;
    let untrusted = |reason: String| IpcError::Untrusted { path: path.into(), reason };
    let dir = path.parent().unwrap_or(Path::new("/"));
    let meta = std::fs::metadata(dir).map_err(|e| untrusted(format!("cannot inspect its folder: {e}")))?;
    let verdict = trust(own_uid(), meta.uid(), meta.permissions().mode(), || {
        stream.peer_cred().map(|c| c.uid()).map_err(|e| format!("cannot identify the server: {e}"))
    });
    verdict.map_err(|reason| untrusted(format!("{reason} ({})", dir.display())))?;
    Ok(stream)
}

/// Whether a client running as `me` may trust a server found in a folder owned by `folder_uid`
/// with `folder_mode`, whose process runs as `peer_uid()`. Pure, for tests.
pub(super) fn trust(
    me: u32,
    folder_uid: u32,
    folder_mode: u32,
    peer_uid: impl FnOnce() -> Result<u32, String>,
) -> Result<(), String> {
    if folder_uid != me {
        return Err("the socket's folder belongs to another user (is XDG_RUNTIME_DIR set right?)".into());
    }
    if folder_mode & 0o077 != 0 {
        return Err("the socket's folder is open to other users".into());
    }
    if peer_uid()? != me {
        return Err("the server runs as another user".into());
    }
    Ok(())
}

/// This process's effective uid.
fn own_uid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// Removes the socket when the server stops.
pub(crate) fn cleanup(path: &Path) {
    let _ = std::fs::remove_file(path);
}

#[cfg(test)]
mod tests {
    use super::trust;

    #[test]
    fn only_our_own_folder_and_our_own_server_are_trusted() {
        assert_eq!(trust(1000, 1000, 0o700, || Ok(1000)), Ok(()));
        // A private folder that is another user's, served by that user (a mis-set runtime dir).
        assert!(trust(1000, 1001, 0o700, || Ok(1001)).unwrap_err().contains("another user"));
        assert!(trust(1000, 1000, 0o755, || Ok(1000)).unwrap_err().contains("open to other users"));
        assert!(trust(1000, 1000, 0o700, || Ok(0)).unwrap_err().contains("server runs as another user"));
        assert!(trust(1000, 1000, 0o700, || Err("no creds".into())).is_err());
    }
}
