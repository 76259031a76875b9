//! Who is on the other end of a loopback TCP connection: this user, or another local user.
//!
//! Loopback listeners (the sign-in's redirect listener, the devstack's control endpoints) are
//! reachable by every local user, and a URL that names them can leak through `/proc/*/cmdline`.
//! Binding 127.0.0.1 keeps other machines out, not other users. So a listener that must serve
//! only its own user asks the kernel who owns the connecting socket, the way the engine socket
//! checks `SO_PEERCRED` (TCP has no `SO_PEERCRED`).
//!
//! How each platform answers lives in one small room, chosen by `cfg`:
//! - Linux: the socket tables `/proc/net/tcp` and `/proc/net/tcp6` list every socket with its
//!   owner's uid; the peer's socket is the one whose local address is the peer's address and
//!   whose remote address is ours (`linux.rs`, format in the kernel's
//!   `Documentation/networking/proc_net_tcp.rst`).
//! - Elsewhere (macOS, Windows): not available yet, said honestly ([`Peer::NotAvailable`]);
//!   callers keep serving as before, and docs/security.md lists this as left.

use std::net::SocketAddr;

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
use linux as platform;
#[cfg(not(target_os = "linux"))]
mod unsupported;
#[cfg(not(target_os = "linux"))]
use unsupported as platform;

/// Who owns the peer's socket of a loopback connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    /// A socket of this process's own user.
    ThisUser,
    /// A socket of another local user (its uid).
    OtherUser(u32),
    /// The peer's socket cannot be found, or no process holds it any more (it hung up at once):
    /// nothing vouches for it.
    Unknown,
    /// This platform has no way to tell (yet): the caller keeps its behaviour without the check.
    NotAvailable,
}

impl Peer {
    /// Whether a listener that serves only its own user must refuse this peer. Only a peer
    /// proved to be this user is served where the check is available.
    pub fn is_refused(self) -> bool {
        matches!(self, Peer::OtherUser(_) | Peer::Unknown)
    }
}

/// Who owns the other end of the TCP connection accepted on `local` (our listener's address)
/// from `peer` (the address `accept` returned). Blocking but quick: it reads the kernel's socket
/// table (a few KiB on a desktop).
pub fn tcp_peer(local: SocketAddr, peer: SocketAddr) -> Peer {
    platform::tcp_peer(local, peer)
}
