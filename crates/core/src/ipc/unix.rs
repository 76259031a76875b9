//! The engine socket on Unix: a 0600 socket in a 0700 folder, peers checked by uid.

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::Path;
use std::time::Duration;

use tokio::net::{UnixListener, UnixStream};

use super::IpcError;

/// A bound socket that only lets this user's processes through.
pub(super) struct Listener {
    inner: UnixListener,
    uid: u32,
}

impl Listener {
    /// Binds `path`, replacing a stale socket; refuses when a live engine answers there.
    pub(super) async fn bind(path: &Path) -> Result<Listener, IpcError> {
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
        // The socket file was just created by this process: its owner is our effective uid.
        let uid = std::fs::metadata(path).map_err(bind_err)?.uid();
        Ok(Listener { inner, uid })
    }

    /// The next client that runs as this user; others are dropped unanswered.
    pub(super) async fn accept(&mut self) -> std::io::Result<UnixStream> {
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
pub(super) async fn connect(path: &Path) -> Result<UnixStream, IpcError> {
    let stream = UnixStream::connect(path).await.map_err(|_| IpcError::NoServer { path: path.into() })?;
    let untrusted = |reason: String| IpcError::Untrusted { path: path.into(), reason };
    let dir = path.parent().unwrap_or(Path::new("/"));
    let meta = std::fs::metadata(dir).map_err(|e| untrusted(format!("cannot inspect its folder: {e}")))?;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(untrusted(format!("its folder {} is open to other users", dir.display())));
    }
    let peer = stream.peer_cred().map_err(|e| untrusted(format!("cannot identify the server: {e}")))?;
    if peer.uid() != meta.uid() {
        return Err(untrusted("the server runs as another user".into()));
    }
    Ok(stream)
}

/// Removes the socket when the server stops.
pub(super) fn cleanup(path: &Path) {
    let _ = std::fs::remove_file(path);
}
