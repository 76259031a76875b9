//! The engine channel on Windows: a named pipe for local clients of this user only, named
//! after the data dir so separate installations do not meet.
//!
//! The pipe's name is predictable, so its walls are elsewhere (through `lakepass-winsec`, the
//! one crate allowed `unsafe`):
//! - every instance is created with a DACL granting this user alone: another user cannot open
//!   it;
//! - the first instance is created with `FILE_FLAG_FIRST_PIPE_INSTANCE`: if another process
//!   holds the name already, the engine does not start (it never shares a pipe with a squatter);
//! - the client checks that the process serving the pipe runs as its own user before it sends
//!   anything, so a pipe another user created first gets no request and can hand out no token.
//!
//! Not yet exercised on Windows (compile-checked for `x86_64-pc-windows-gnu`).

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

/// Options for an instance: local clients only, and the first one must be new.
fn options(first: bool) -> ServerOptions {
    let mut o = ServerOptions::new();
    o.first_pipe_instance(first).reject_remote_clients(true);
    o
}

impl Listener {
    /// Creates the first instance; fails when another process (an engine, or a squatter) owns
    /// the name.
    pub(super) async fn bind(path: &Path) -> Result<Listener, IpcError> {
        let name = pipe_name(path);
        let next = lakepass_winsec::create_owner_only(&options(true), &name)
            .map_err(|_| IpcError::AlreadyRunning { path: path.into() })?;
        Ok(Listener { name, next })
    }

    /// Waits for a client and hands over its instance.
    pub(super) async fn accept(&mut self) -> std::io::Result<NamedPipeServer> {
        self.next.connect().await?;
        let fresh = lakepass_winsec::create_owner_only(&options(false), &self.name)?;
        Ok(std::mem::replace(&mut self.next, fresh))
    }
}

/// Opens the pipe, and trusts it only when its server runs as this user.
pub(super) async fn connect(path: &Path) -> Result<NamedPipeClient, IpcError> {
    let client =
        ClientOptions::new().open(pipe_name(path)).map_err(|_| IpcError::NoServer { path: path.into() })?;
    match lakepass_winsec::server_is_same_user(&client) {
        Ok(true) => Ok(client),
        Ok(false) => Err(IpcError::Untrusted {
            path: path.into(),
            reason: "the pipe's server runs as another user".into(),
        }),
        Err(e) => Err(IpcError::Untrusted {
            path: path.into(),
            reason: format!("cannot tell which user the pipe's server runs as ({e})"),
        }),
    }
}

/// Nothing to remove: a pipe disappears with its last handle.
pub(super) fn cleanup(_path: &Path) {}
