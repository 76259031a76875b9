//! Platforms where Lakepass cannot yet tell who owns a loopback TCP peer (macOS, Windows).
//!
//! macOS would need `proc_pidfdinfo` over every process; Windows `GetExtendedTcpTable` (the
//! owning process) and that process's token. Until then: [`Peer::NotAvailable`], documented in
//! docs/security.md as left.

use std::net::SocketAddr;

use super::Peer;

pub(super) fn tcp_peer(_local: SocketAddr, _peer: SocketAddr) -> Peer {
    Peer::NotAvailable
}
