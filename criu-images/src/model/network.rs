//! The container's network as one table: every socket a process holds, by
//! pid and fd, with its addresses, state and queued data, and the other end
//! when it is in the checkpoint too (loopback TCP connections, unix socket
//! pairs) or the listening socket a connection came through.

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::chain::DumpChain;
use crate::error::Result;
use serde_json::{json, Value};

use crate::json::dict_name;

use super::files::{unix_name, FileTable};
use super::process::Process;

/// One end of a connection inside the checkpoint: a process and its fd.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Endpoint {
    /// Process id as the images hold it.
    pub pid: u32,
    /// Descriptor number in that process.
    pub fd: u32,
}

/// One socket descriptor of one process.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Connection {
    /// The process holding the descriptor.
    pub pid: u32,
    /// Its command name.
    pub comm: String,
    /// The descriptor number.
    pub fd: u32,
    /// `INET`, `INET6`, `UNIX`, `NETLINK` or `PACKET`.
    pub family: String,
    /// `TCP`, `UDP`, ... for internet sockets; the netlink protocol
    /// (`ROUTE`, ...) or the ethertype (`0x0003`) otherwise; empty for unix.
    pub protocol: String,
    /// `STREAM`, `DGRAM`, `SEQPACKET`, `RAW`, ...
    pub r#type: String,
    /// `ESTABLISHED`, `LISTEN`, `CLOSE`, ... (empty for netlink and packet sockets).
    pub state: String,
    /// Local address: an IP address (IPv4-mapped IPv6 as `::ffff:127.0.0.1`),
    /// or a unix socket's path (`@name` for an abstract one, empty when unnamed).
    pub local_address: String,
    /// Local port (internet sockets).
    pub local_port: Option<u16>,
    /// Peer address: the remote IP address, or the name of the unix
    /// socket at the other end when it is in the checkpoint.
    pub peer_address: String,
    /// Peer port (internet sockets).
    pub peer_port: Option<u16>,
    /// The socket's inode number (`socket:[N]`), when CRIU saved it.
    pub inode: Option<u32>,
    /// The peer's inode number (unix sockets).
    pub peer_inode: Option<u32>,
    /// Whether the socket listens for connections.
    pub listening: bool,
    /// Bytes received and not yet read (TCP, from `tcp-stream-*.img`).
    pub inq_bytes: Option<u64>,
    /// Bytes sent and not yet acknowledged (TCP).
    pub outq_bytes: Option<u64>,
    /// Packets queued for reading (unix and packet sockets, `sk-queues.img`).
    pub queued_packets: Option<u64>,
    /// All bytes queued in the socket: in and out queues of TCP, the
    /// receive queue of the others.
    pub queued_bytes: u64,
    /// The descriptors holding the other end of this connection, in this
    /// checkpoint (a loopback TCP peer, the other socket of a unix pair);
    /// at most [`MAX_PEERS`].
    pub peers: Vec<Endpoint>,
    /// The listening socket this connection goes through, in this
    /// checkpoint: for an accepted socket the one it was accepted from, for
    /// a client socket the one it connected to.
    pub listener: Option<Endpoint>,
}

impl Connection {
    /// The row as `criu-images net --format json` prints it (docs/network.md).
    pub fn to_json(&self) -> Value {
        let end = |e: &Endpoint| json!({"pid": e.pid, "fd": e.fd});
        json!({
            "pid": self.pid,
            "comm": self.comm,
            "fd": self.fd,
            "family": self.family,
            "protocol": self.protocol,
            "type": self.r#type,
            "state": self.state,
            "local_address": self.local_address,
            "local_port": self.local_port,
            "peer_address": self.peer_address,
            "peer_port": self.peer_port,
            "inode": self.inode,
            "peer_inode": self.peer_inode,
            "listening": self.listening,
            "inq_bytes": self.inq_bytes,
            "outq_bytes": self.outq_bytes,
            "queued_packets": self.queued_packets,
            "queued_bytes": self.queued_bytes,
            "peers": self.peers.iter().map(end).collect::<Vec<_>>(),
            "listener": self.listener.as_ref().map(end),
        })
    }
}

/// Most descriptors listed as one row's other end: a socket held by more
/// (inherited by many processes, or a hostile checkpoint's thousands of
/// look-alike sockets) is listed up to this many, so that the table stays
/// linear in the number of descriptors.
pub const MAX_PEERS: usize = 256;

/// Every socket descriptor of `processes` (as [`Process::load_all`] gives
/// them for `chain`), in process then fd order, with the other ends linked.
pub fn connections(chain: &DumpChain<'_>, processes: &[Process]) -> Result<Vec<Connection>> {
    let files = FileTable::load(chain)?;
    let mut rows = Vec::new();
    for process in processes {
        for fd in process.fds.iter().filter(|fd| fd.is_socket()) {
            if let Some(row) = connection(&files, process, fd.fd, fd.file_id) {
                rows.push(row);
            }
        }
    }
    link(&mut rows);
    Ok(rows)
}

fn connection(files: &FileTable, process: &Process, fd: u32, file_id: u32) -> Option<Connection> {
    let file = files.get(file_id)?;
    let name = |field: &str, v: u32| dict_name("sk", field, u64::from(v)).map_or_else(|| v.to_string(), str::to_string);
    let mut row = Connection {
        pid: process.pid,
        comm: process.comm.clone(),
        fd,
        family: String::new(),
        protocol: String::new(),
        r#type: String::new(),
        state: String::new(),
        local_address: String::new(),
        local_port: None,
        peer_address: String::new(),
        peer_port: None,
        inode: None,
        peer_inode: None,
        listening: false,
        inq_bytes: None,
        outq_bytes: None,
        queued_packets: None,
        queued_bytes: 0,
        peers: Vec::new(),
        listener: None,
    };
    if let Some(sk) = &file.isk {
        row.family = name("family", sk.family);
        row.protocol = name("proto", sk.proto);
        row.r#type = name("type", sk.r#type);
        row.state = name("state", sk.state);
        row.local_address = ip_text(&sk.src_addr);
        row.peer_address = ip_text(&sk.dst_addr);
        // Ports are 16-bit on the wire; a larger stored value is shown as is would lie, so it is dropped.
        row.local_port = u16::try_from(sk.src_port).ok();
        row.peer_port = u16::try_from(sk.dst_port).ok();
        row.inode = Some(sk.ino);
        row.listening = row.state == "LISTEN";
        if let Some((inq, outq)) = files.tcp_queues(sk.ino) {
            row.inq_bytes = Some(inq);
            row.outq_bytes = Some(outq);
            row.queued_bytes = inq.saturating_add(outq);
        }
    } else if let Some(sk) = &file.usk {
        row.family = "UNIX".into();
        row.r#type = name("type", sk.r#type);
        row.state = name("state", sk.state);
        row.local_address = unix_name(&sk.name);
        row.inode = Some(sk.ino);
        row.peer_inode = (sk.peer != 0).then_some(sk.peer);
        row.listening = row.state == "LISTEN";
        let (packets, bytes) = files.socket_queue(sk.id).unwrap_or((0, 0));
        row.queued_packets = Some(packets);
        row.queued_bytes = bytes;
    } else if let Some(sk) = &file.nlsk {
        row.family = "NETLINK".into();
        row.protocol = super::files::netlink_protocol(sk.protocol);
        row.r#type = "RAW".into();
        row.local_address = sk.portid.to_string();
        row.peer_address = sk.dst_portid.to_string();
        row.inode = Some(sk.ino);
    } else if let Some(sk) = &file.psk {
        row.family = "PACKET".into();
        row.r#type = name("type", sk.r#type);
        row.local_address = format!("ifindex {}", sk.ifindex);
        let (packets, bytes) = files.socket_queue(sk.id).unwrap_or((0, 0));
        row.queued_packets = Some(packets);
        row.queued_bytes = bytes;
    } else {
        return None;
    }
    Some(row)
}

/// An address as `ss` shows it; IPv4-mapped IPv6 as `::ffff:a.b.c.d`.
fn ip_text(words: &[u32]) -> String {
    // Each word holds four address bytes in network order, read as a
    // little-endian number (see json::ip_address).
    match words {
        [v4] => Ipv4Addr::from(v4.to_le_bytes()).to_string(),
        [a, b, c, d] => {
            let mut bytes = [0u8; 16];
            for (chunk, word) in bytes.chunks_exact_mut(4).zip([a, b, c, d]) {
                chunk.copy_from_slice(&word.to_le_bytes());
            }
            Ipv6Addr::from(bytes).to_string()
        }
        _ => String::new(),
    }
}

/// The address a peer sees: IPv4-mapped IPv6 folded to IPv4, so that a
/// dual-stack socket meets its IPv4 peer.
fn canonical(address: &str) -> &str {
    address.strip_prefix("::ffff:").filter(|a| a.contains('.')).unwrap_or(address)
}

fn is_wildcard(address: &str) -> bool {
    matches!(address, "0.0.0.0" | "::" | "")
}

/// Fills `peers` and `listener` of every row from the other rows.
fn link(rows: &mut [Connection]) {
    // Unix sockets: by inode, and each names its peer's inode.
    let mut by_inode: HashMap<(bool, u32), Vec<usize>> = HashMap::new();
    for (i, row) in rows.iter().enumerate() {
        if let Some(inode) = row.inode {
            by_inode.entry((row.family == "UNIX", inode)).or_default().push(i);
        }
    }
    // Internet sockets: by (protocol, local address, local port).
    let mut by_local: HashMap<(&str, &str, u16), Vec<usize>> = HashMap::new();
    let mut listeners: HashMap<(&str, u16), Vec<usize>> = HashMap::new();
    for (i, row) in rows.iter().enumerate() {
        if !row.family.starts_with("INET") {
            continue;
        }
        let Some(port) = row.local_port else { continue };
        if row.listening {
            listeners.entry((row.protocol.as_str(), port)).or_default().push(i);
        } else {
            by_local.entry((row.protocol.as_str(), canonical(&row.local_address), port)).or_default().push(i);
        }
    }
    let endpoint = |i: usize| Endpoint { pid: rows[i].pid, fd: rows[i].fd };
    let mut links: Vec<(Vec<Endpoint>, Option<Endpoint>, Option<String>)> = Vec::with_capacity(rows.len());
    for row in rows.iter() {
        let mut peers = Vec::new();
        let mut listener = None;
        let mut peer_name = None;
        if row.family == "UNIX" {
            if let Some(peer) = row.peer_inode {
                for &j in by_inode.get(&(true, peer)).map(Vec::as_slice).unwrap_or_default().iter().take(MAX_PEERS) {
                    peers.push(endpoint(j));
                    peer_name.get_or_insert_with(|| rows[j].local_address.clone());
                }
            }
        } else if row.family.starts_with("INET") && !row.listening {
            if let (Some(lport), Some(pport)) = (row.local_port, row.peer_port) {
                let (local, peer) = (canonical(&row.local_address), canonical(&row.peer_address));
                if pport != 0 && !is_wildcard(peer) {
                    for &j in by_local
                        .get(&(row.protocol.as_str(), peer, pport))
                        .map(Vec::as_slice)
                        .unwrap_or_default()
                        .iter()
                        .take(MAX_PEERS.saturating_mul(4))
                    {
                        let other = &rows[j];
                        if other.peer_port == Some(lport) && canonical(&other.peer_address) == local && other.inode != row.inode {
                            peers.push(endpoint(j));
                        }
                    }
                }
                // The server side listens on its local port; the client connected to the peer's.
                let serving = |port: u16, address: &str| {
                    listeners.get(&(row.protocol.as_str(), port)).and_then(|list| {
                        list.iter().take(MAX_PEERS).copied().find(|&j| {
                            let bound = canonical(&rows[j].local_address);
                            bound == address || is_wildcard(bound)
                        })
                    })
                };
                listener = serving(lport, local).or_else(|| if peers.is_empty() { None } else { serving(pport, peer) }).map(endpoint);
            }
        }
        peers.sort();
        peers.truncate(MAX_PEERS);
        links.push((peers, listener, peer_name));
    }
    for (row, (peers, listener, peer_name)) in rows.iter_mut().zip(links) {
        row.peers = peers;
        row.listener = listener;
        if let Some(name) = peer_name {
            row.peer_address = name;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_read_as_ss_shows_them() {
        assert_eq!(ip_text(&[u32::from_le_bytes([127, 0, 0, 1])]), "127.0.0.1");
        let mapped = [0, 0, u32::from_le_bytes([0, 0, 0xff, 0xff]), u32::from_le_bytes([127, 0, 0, 1])];
        assert_eq!(ip_text(&mapped), "::ffff:127.0.0.1");
        assert_eq!(ip_text(&[0, 0, 0, u32::from_le_bytes([0, 0, 0, 1])]), "::1");
        assert_eq!(ip_text(&[1, 2]), "");
        assert_eq!(canonical("::ffff:127.0.0.1"), "127.0.0.1");
        assert_eq!(canonical("::ffff:1"), "::ffff:1");
    }
}
