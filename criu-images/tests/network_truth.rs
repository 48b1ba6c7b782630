//! The connection table (`Checkpoint::connections`, `criu-images net`)
//! against truth.json: the sockets /proc listed for each process's fds
//! before the dump, the peers derived from their addresses, and what the
//! fixture programs wrote about themselves (pytree's unix socketpair with
//! queued data, the attack's reverse shell on fds 0-2 and its listener).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use criu_images::model::{Connection, Endpoint};
use criu_images::Checkpoint;
use serde_json::Value;

fn truth(name: &str) -> Value {
    serde_json::from_slice(&std::fs::read(common::fixtures_dir().join(name).join("truth.json")).unwrap()).unwrap()
}

fn u32_of(v: &Value) -> u32 {
    v.as_u64().unwrap() as u32
}

/// (pid, fd) -> socket inode, from the fds' readlink targets.
fn socket_fds(truth: &Value) -> BTreeMap<(u32, u32), u32> {
    let mut out = BTreeMap::new();
    for p in truth["processes"].as_array().unwrap() {
        for (fd, info) in p["fds"].as_object().unwrap() {
            let target = info["target"].as_str().unwrap();
            if let Some(inode) = target.strip_prefix("socket:[").and_then(|t| t.strip_suffix(']')) {
                out.insert((u32_of(&p["vpid"]), fd.parse().unwrap()), inode.parse().unwrap());
            }
        }
    }
    out
}

/// Every TCP row /proc listed, by inode.
fn tcp_rows(truth: &Value) -> BTreeMap<u32, Value> {
    let mut out = BTreeMap::new();
    for p in truth["processes"].as_array().unwrap() {
        for row in p["sockets"]["tcp"].as_array().unwrap().iter().chain(p["sockets"]["tcp6"].as_array().unwrap()) {
            out.insert(u32_of(&row["inode"]), row.clone());
        }
    }
    out
}

fn addr(v: &Value) -> (String, u16) {
    (v[0].as_str().unwrap().to_string(), v[1].as_u64().unwrap() as u16)
}

fn ends(fds: &BTreeMap<(u32, u32), u32>, inode: u32) -> Vec<Endpoint> {
    fds.iter().filter(|(_, &i)| i == inode).map(|(&(pid, fd), _)| Endpoint { pid, fd }).collect()
}

/// Checks the table of `archive` against the truth of fixture `name`.
fn check_against_truth(name: &str, archive: &str) -> Vec<Connection> {
    let truth = truth(name);
    let rows = Checkpoint::open(common::fixtures_dir().join(name).join(archive)).unwrap().connections().unwrap();
    let fds = socket_fds(&truth);
    let got: BTreeSet<(u32, u32)> = rows.iter().map(|r| (r.pid, r.fd)).collect();
    assert_eq!(got, fds.keys().copied().collect(), "{name}: one row per socket fd");
    let tcp = tcp_rows(&truth);
    for row in &rows {
        let inode = fds[&(row.pid, row.fd)];
        assert_eq!(row.inode, Some(inode), "{name} {}/{}", row.pid, row.fd);
        let Some(want) = tcp.get(&inode) else { continue };
        let (local, peer) = (addr(&want["local"]), addr(&want["remote"]));
        assert_eq!(row.protocol, "TCP");
        assert_eq!(row.state, want["state_name"].as_str().unwrap(), "{name} {}/{}", row.pid, row.fd);
        assert_eq!((row.local_address.clone(), row.local_port), (local.0.clone(), Some(local.1)));
        assert_eq!((row.peer_address.clone(), row.peer_port), (peer.0.clone(), Some(peer.1)));
        assert_eq!(row.listening, want["state_name"] == "LISTEN");
        if !row.listening {
            assert_eq!(row.inq_bytes, want["rx_queue"].as_u64(), "{name} {}/{} receive queue", row.pid, row.fd);
            assert_eq!(row.outq_bytes, want["tx_queue"].as_u64(), "{name} {}/{} send queue", row.pid, row.fd);
        }
        // The other end: the socket whose addresses are these, crossed.
        let peer_inodes: Vec<u32> = tcp
            .iter()
            .filter(|(_, t)| t["state_name"] != "LISTEN" && addr(&t["local"]) == peer && addr(&t["remote"]) == local)
            .map(|(&i, _)| i)
            .collect();
        let want_peers: Vec<Endpoint> = peer_inodes.iter().flat_map(|&i| ends(&fds, i)).collect();
        assert_eq!(row.peers, want_peers, "{name} {}/{} peers", row.pid, row.fd);
        // The listener: on the local port of the server side, the peer port of the client.
        let listener = |port: u16| tcp.iter().find(|(_, t)| t["state_name"] == "LISTEN" && addr(&t["local"]).1 == port).map(|(&i, _)| i);
        let want_listener = if row.listening { None } else { listener(local.1).or_else(|| listener(peer.1)) };
        assert_eq!(row.listener, want_listener.and_then(|i| ends(&fds, i).first().copied()), "{name} {}/{} listener", row.pid, row.fd);
    }
    rows
}

#[test]
fn pytree_tcp_pair_and_unix_pair_with_queued_data() {
    let rows = check_against_truth("pytree", "checkpoint.tar.gz");
    let truth = truth("pytree");
    let info: Value = serde_json::from_str(truth["program_info"]["pytree.info.json"].as_str().unwrap()).unwrap();
    let parent = Endpoint { pid: u32_of(&info["parent_pid"]), fd: u32_of(&info["fds"]["socketpair"]) };
    // sub.ready: "PID TCP_FD SOCKETPAIR_FD"
    let ready: Vec<u32> = truth["program_info"]["sub.ready"].as_str().unwrap().split_whitespace().map(|n| n.parse().unwrap()).collect();
    let sub = Endpoint { pid: ready[0], fd: ready[2] };
    let row = |e: Endpoint| rows.iter().find(|r| r.pid == e.pid && r.fd == e.fd).unwrap();
    assert_eq!((row(parent).family.as_str(), row(parent).r#type.as_str()), ("UNIX", "STREAM"));
    assert_eq!(row(parent).peers, vec![sub]);
    assert_eq!(row(sub).peers, vec![parent]);
    // The parent sent "UNIX-QUEUED-TO-SUB-<rnd>" that the sub never read.
    let queued = format!("UNIX-QUEUED-TO-SUB-{}", info["rnd"].as_str().unwrap()).len() as u64;
    assert_eq!((row(sub).queued_packets, row(sub).queued_bytes), (Some(1), queued));
    assert_eq!(row(parent).queued_bytes, 0);
    // The loopback TCP connection, linked both ways, through the parent's listener.
    let conn = Endpoint { pid: parent.pid, fd: u32_of(&info["fds"]["tcp_conn"]) };
    let client = Endpoint { pid: ready[0], fd: ready[1] };
    let listen = Endpoint { pid: parent.pid, fd: u32_of(&info["fds"]["tcp_listen"]) };
    assert_eq!(row(conn).peers, vec![client]);
    assert_eq!(row(client).peers, vec![conn]);
    assert_eq!((row(conn).listener, row(client).listener), (Some(listen), Some(listen)));
    assert!(row(listen).listening && row(listen).peers.is_empty());
}

#[test]
fn attack_reverse_shell_on_fds_0_to_2_is_linked_to_its_listener() {
    let rows = check_against_truth("attack", "checkpoint.tar.zst");
    let truth = truth("attack");
    let planted = |kind: &str| truth["planted"].as_array().unwrap().iter().find(|p| p["kind"] == kind).unwrap().clone();
    let shell = planted("reverse_shell");
    let c2 = planted("reverse_shell_listener");
    let shell_inode: u32 = u32_of(&shell["detail"]["socket_inode"]);
    let c2_pid = rows.iter().find(|r| r.comm == c2["comm"].as_str().unwrap()).unwrap().pid;
    let conn = Endpoint { pid: c2_pid, fd: u32_of(&c2["detail"]["conn_fd"]["fd"]) };
    let listen = Endpoint { pid: c2_pid, fd: u32_of(&c2["detail"]["listen_fd"]["fd"]) };
    let shell_rows: Vec<&Connection> = rows.iter().filter(|r| r.inode == Some(shell_inode)).collect();
    assert_eq!(shell_rows.iter().map(|r| r.fd).collect::<Vec<_>>(), vec![0, 1, 2]);
    for row in &shell_rows {
        assert_eq!(row.comm, shell["comm"].as_str().unwrap());
        assert_eq!(row.peers, vec![conn]);
        assert_eq!(row.listener, Some(listen));
        assert_eq!((row.peer_address.as_str(), row.peer_port), ("127.0.0.1", Some(4444)));
    }
    let conn_row = rows.iter().find(|r| r.pid == conn.pid && r.fd == conn.fd).unwrap();
    assert_eq!(conn_row.peers, shell_rows.iter().map(|r| Endpoint { pid: r.pid, fd: r.fd }).collect::<Vec<_>>());
}

#[test]
fn net_command_prints_the_table_and_its_json() {
    let archive = common::fixtures_dir().join("attack/checkpoint.tar.zst");
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_criu-images")).arg("net").arg(&archive).args(args).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let doc: Value = serde_json::from_str(&run(&["--format", "json"])).unwrap();
    assert_eq!(doc["schema_version"], 1);
    let want = Checkpoint::open(&archive).unwrap().connections().unwrap();
    let got = doc["connections"].as_array().unwrap();
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        assert_eq!((u32_of(&g["pid"]), u32_of(&g["fd"])), (w.pid, w.fd));
        assert_eq!(g["peers"].as_array().unwrap().len(), w.peers.len());
        assert_eq!(g["listener"]["fd"].as_u64(), w.listener.map(|l| u64::from(l.fd)));
    }
    let text = run(&[]);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("PID  FD  COMM"), "{text}");
    assert_eq!(lines.len(), want.len() + 1);
    let shell_line = lines.iter().find(|l| l.contains(" sh ") && l.split_whitespace().nth(1) == Some("0")).unwrap();
    assert!(
        shell_line.contains("127.0.0.1:39960")
            && shell_line.contains("127.0.0.1:4444")
            && shell_line.split_whitespace().rev().take(2).eq(["21/3", "21/4"]),
        "{shell_line}"
    );
}
