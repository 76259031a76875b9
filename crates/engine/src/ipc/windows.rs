//! The engine channel on Windows: a named pipe for local clients only, named after the data
//! dir so separate installations do not meet. (Compile-checked in CI for Windows targets.)

use std::path::Path;

use tokio::net::windows::named_pipe::{ClientOptions, NamedPipeClient, NamedPipeServer, ServerOptions};

use super::IpcError;

/// A client's connection: the pipe instance it holds.
pub type Stream = NamedPipeServer;

fn pipe_name(path: &Path) -> String {
    let hash = path
        .to_string_lossy()
        .bytes()
        .fold(0xcbf29ce484222325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100000001b3));
    format!(r"\\.\pipe\lakepass-{hash:016x}")
}

/// The pipe's next free instance.
pub(super) struct Listener {
    name: String,
    next: NamedPipeServer,
}

impl Listener {
    /// Creates the first instance; fails when another engine owns the name.
    pub(super) async fn bind(path: &Path) -> Result<Listener, IpcError> {
        let name = pipe_name(path);
        let next = ServerOptions::new()
            .first_pipe_instance(true)
            .reject_remote_clients(true)
            .create(&name)
            .map_err(|_| IpcError::AlreadyRunning { path: path.into() })?;
        Ok(Listener { name, next })
    }

    /// Waits for a client and hands over its instance.
    pub(super) async fn accept(&mut self) -> std::io::Result<NamedPipeServer> {
        self.next.connect().await?;
        let fresh = ServerOptions::new().reject_remote_clients(true).create(&self.name)?;
        Ok(std::mem::replace(&mut self.next, fresh))
    }
}

/// Opens the pipe.
pub(super) async fn connect(path: &Path) -> Result<NamedPipeClient, IpcError> {
    ClientOptions::new().open(pipe_name(path)).map_err(|_| IpcError::NoServer { path: path.into() })
}

/// Nothing to remove: a pipe disappears with its last handle.
pub(super) fn cleanup(_path: &Path) {}
