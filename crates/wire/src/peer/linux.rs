//! Linux: the peer's socket and its owner, from `/proc/net/tcp` and `/proc/net/tcp6`.
//!
//! Each line is `sl local rem st tx:rx tr:when retrnsmt uid timeout inode …`, addresses as
//! `%08X:%04X` (IPv4: the address's four bytes read as one native-endian u32; IPv6: four such
//! words) with the port in big-endian hex (kernel `net/ipv4/tcp_ipv4.c`, `get_tcp4_sock`;
//! `net/ipv6/tcp_ipv6.c`, `get_tcp6_sock`). The uid is the socket's owner in our user namespace.
//! A socket no process holds any more (orphaned, or in TIME_WAIT) shows inode 0 and uid 0; it
//! is never taken for anyone's, so a peer that sends its request and hangs up at once is
//! [`Peer::Unknown`], not root.

use std::net::{IpAddr, SocketAddr};

use super::Peer;

pub(super) fn tcp_peer(local: SocketAddr, peer: SocketAddr) -> Peer {
    let me = rustix::process::geteuid().as_raw();
    let mut readable = false;
    for (table, v6) in [("/proc/net/tcp", false), ("/proc/net/tcp6", true)] {
        let Ok(text) = std::fs::read_to_string(table) else { continue };
        readable = true;
        let (Some(peer_hex), Some(ours_hex)) = (hex_addr(peer, v6), hex_addr(local, v6)) else { continue };
        if let Some(owner) = owner_in(&text, &peer_hex, &ours_hex) {
            return judge(owner, me);
        }
    }
    if !readable {
        // No /proc (a sandbox without it): say so rather than refuse every browser.
        tracing::warn!("cannot read /proc/net/tcp: the sign-in listener cannot check who connects");
        return Peer::NotAvailable;
    }
    Peer::Unknown
}

/// The owner of a socket table row: its uid and inode (0 = held by no process).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Owner {
    uid: u32,
    inode: u64,
}

fn judge(owner: Owner, me: u32) -> Peer {
    match owner {
        Owner { inode: 0, .. } => Peer::Unknown,
        Owner { uid, .. } if uid == me => Peer::ThisUser,
        Owner { uid, .. } => Peer::OtherUser(uid),
    }
}

/// The row whose local address is `local_hex` and remote address `remote_hex`.
fn owner_in(table: &str, local_hex: &str, remote_hex: &str) -> Option<Owner> {
    table.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (local, remote) = (f.get(1)?, f.get(2)?);
        if !local.eq_ignore_ascii_case(local_hex) || !remote.eq_ignore_ascii_case(remote_hex) {
            return None;
        }
        Some(Owner { uid: f.get(7)?.parse().ok()?, inode: f.get(9)?.parse().ok()? })
    })
}

/// `addr` as the table writes it; for the IPv6 table an IPv4 address is written v4-mapped
/// (a dual-stack client's socket). `None`: an IPv6 address cannot be in the IPv4 table.
fn hex_addr(addr: SocketAddr, v6_table: bool) -> Option<String> {
    let words = |octets: &[u8]| -> String {
        octets.chunks(4).map(|c| format!("{:08X}", u32::from_ne_bytes([c[0], c[1], c[2], c[3]]))).collect()
    };
    let ip = match (addr.ip(), v6_table) {
        (IpAddr::V4(v4), false) => words(&v4.octets()),
        (IpAddr::V4(v4), true) => words(&v4.to_ipv6_mapped().octets()),
        (IpAddr::V6(v6), true) => words(&v6.octets()),
        (IpAddr::V6(v6), false) => words(&v6.to_ipv4_mapped()?.octets()),
    };
    Some(format!("{ip}:{:04X}", addr.port()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_written_as_the_kernel_writes_them() {
        let a: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let want = if cfg!(target_endian = "little") { "0100007F:1F90" } else { "7F000001:1F90" };
        assert_eq!(hex_addr(a, false).unwrap(), want);
        let mapped = hex_addr(a, true).unwrap();
        assert_eq!(mapped.len(), 32 + 5);
        assert!(mapped.ends_with(":1F90"));
        let v6: SocketAddr = "[::1]:1".parse().unwrap();
        assert_eq!(hex_addr(v6, false), None);
    }

    #[test]
    fn the_row_of_the_peer_names_its_owner_and_a_row_held_by_nobody_vouches_for_none() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 111 1 0 100 0 0 10 0\n\
   1: 0100007F:C350 0100007F:1F90 01 00000000:00000000 00:00000000 00000000 65534        0 222 1 0 20 4 30 10 -1\n\
   2: 0100007F:C351 0100007F:1F90 06 00000000:00000000 03:00000F5D 00000000     0        0 0 3 0\n";
        let o = owner_in(table, "0100007F:C350", "0100007F:1F90").unwrap();
        assert_eq!(judge(o, 0), Peer::OtherUser(65534));
        assert_eq!(judge(o, 65534), Peer::ThisUser);
        let gone = owner_in(table, "0100007f:c351", "0100007F:1F90").unwrap();
        assert_eq!(judge(gone, 0), Peer::Unknown, "TIME_WAIT shows uid 0: not root's");
        assert_eq!(owner_in(table, "0100007F:1F90", "0100007F:C350"), None, "direction matters");
    }

    #[test]
    fn a_connection_of_this_process_is_this_users() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (_server_side, peer) = listener.accept().unwrap();
        assert_eq!(peer, client.local_addr().unwrap());
        assert_eq!(tcp_peer(listener.local_addr().unwrap(), peer), Peer::ThisUser);
        drop(client);
    }
}
