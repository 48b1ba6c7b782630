//! Network: reverse shells, connections leaving the container's network,
//! listening ports the container does not declare.

use std::net::IpAddr;

use serde_json::{json, Value};

use super::programs::is_shell_or_interpreter;
use super::{Context, Finding, Severity};
use crate::model::{Detail, Fd, Process};

/// An internet socket as its fd details describe it.
struct Inet<'p> {
    fd: &'p Fd,
    protocol: String,
    state: String,
    local: String,
    local_port: u16,
    remote: String,
    remote_port: u16,
}

fn text<'a>(fd: &'a Fd, key: &str) -> &'a str {
    fd.details
        .iter()
        .find(|(k, _)| *k == key)
        .and_then(|(_, d)| if let Detail::Text(t) = d { Some(t.as_str()) } else { None })
        .unwrap_or("")
}

fn int(fd: &Fd, key: &str) -> i64 {
    fd.details.iter().find(|(k, _)| *k == key).and_then(|(_, d)| if let Detail::Int(i) = d { Some(*i) } else { None }).unwrap_or(0)
}

fn inet(fd: &Fd) -> Option<Inet<'_>> {
    if fd.r#type != "INETSK" {
        return None;
    }
    Some(Inet {
        fd,
        protocol: text(fd, "protocol").to_ascii_lowercase(),
        state: text(fd, "state").to_string(),
        local: text(fd, "local_address").to_string(),
        local_port: u16::try_from(int(fd, "local_port")).unwrap_or(0),
        remote: text(fd, "remote_address").to_string(),
        remote_port: u16::try_from(int(fd, "remote_port")).unwrap_or(0),
    })
}

impl Inet<'_> {
    fn to_json(&self) -> Value {
        json!({
            "fd": self.fd.fd,
            "protocol": self.protocol,
            "state": self.state,
            "local": endpoint(&self.local, self.local_port),
            "remote": endpoint(&self.remote, self.remote_port),
            "inode": int(self.fd, "inode"),
        })
    }
}

fn endpoint(addr: &str, port: u16) -> String {
    match addr.contains(':') {
        true => format!("[{addr}]:{port}"),
        false => format!("{addr}:{port}"),
    }
}

pub(super) fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    let networks = container_networks(cx);
    for p in &cx.processes {
        reverse_shell(cx, p, out);
        outside_connections(p, &networks, out);
        listeners(cx, p, out);
    }
}

fn reverse_shell(cx: &Context<'_>, p: &Process, out: &mut Vec<Finding>) {
    if !is_shell_or_interpreter(p) {
        return;
    }
    let stdio: Vec<&Fd> = p.fds.iter().filter(|f| f.fd <= 2 && f.r#type == "INETSK").collect();
    if stdio.is_empty() {
        return;
    }
    let mut sockets = Vec::new();
    let mut peers = Vec::new();
    for fd in &stdio {
        let Some(sk) = inet(fd) else { continue };
        // The other end, when it is a process of this checkpoint.
        for q in &cx.processes {
            for other in q.fds.iter().filter_map(inet) {
                if other.local == sk.remote
                    && other.local_port == sk.remote_port
                    && other.remote == sk.local
                    && other.remote_port == sk.local_port
                {
                    let peer = json!({"pid": q.pid, "comm": q.comm, "fd": other.fd.fd});
                    if !peers.contains(&peer) {
                        peers.push(peer);
                    }
                }
            }
        }
        sockets.push(sk.to_json());
    }
    let fds: Vec<u32> = stdio.iter().map(|f| f.fd).collect();
    let first = inet(stdio[0]).map(|s| endpoint(&s.remote, s.remote_port)).unwrap_or_default();
    out.push(Finding {
        id: "network.reverse_shell",
        severity: Severity::High,
        pid: Some(p.pid),
        summary: format!(
            "{} ({}) is a shell or interpreter whose standard {} {} a network socket (to {first}): someone remote types its commands, a reverse or bind shell",
            p.pid,
            p.comm,
            fds.iter().map(|f| ["input", "output", "error"][*f as usize]).collect::<Vec<_>>().join("/"),
            if fds.len() == 1 { "is" } else { "are" }
        ),
        evidence: json!({"fds": fds, "sockets": sockets, "peers": peers, "cmdline": p.cmdline, "exe": p.exe}),
    });
}

/// The container's own networks (address, prefix length).
fn container_networks(cx: &Context<'_>) -> Vec<(IpAddr, u8)> {
    let Some(container) = &cx.container else { return Vec::new() };
    let mut nets = Vec::new();
    for iface in container.network.iter().flatten() {
        for a in &iface.addresses {
            let Some(ip) = a.ip() else { continue };
            let max = if ip.is_ipv4() { 32 } else { 128 };
            let prefix = a.address.split_once('/').and_then(|(_, p)| p.parse::<u8>().ok()).map_or(max, |p| p.min(max));
            nets.push((ip, prefix));
        }
    }
    nets
}

fn in_network(ip: IpAddr, (net, prefix): (IpAddr, u8)) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            u32::from(a) & mask == u32::from(b) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            u128::from(a) & mask == u128::from(b) & mask
        }
        _ => false,
    }
}

fn is_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => a.is_loopback() || a.is_unspecified(),
        IpAddr::V6(a) => {
            a.is_loopback() || a.is_unspecified() || a.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback() || v4.is_unspecified())
        }
    }
}

fn outside_connections(p: &Process, networks: &[(IpAddr, u8)], out: &mut Vec<Finding>) {
    let mut outside = Vec::new();
    for sk in p.fds.iter().filter_map(inet) {
        if sk.remote_port == 0 || sk.state == "LISTEN" {
            continue;
        }
        let Ok(ip) = sk.remote.parse::<IpAddr>() else { continue };
        if is_local(ip) || networks.iter().any(|n| in_network(ip, *n)) {
            continue;
        }
        outside.push(sk);
    }
    if outside.is_empty() {
        return;
    }
    let remotes: Vec<String> = outside.iter().map(|s| endpoint(&s.remote, s.remote_port)).collect();
    out.push(Finding {
        id: "network.outside_connection",
        severity: Severity::Medium,
        pid: Some(p.pid),
        summary: format!(
            "{} ({}) is connected outside the container's network ({}): check that these peers are expected (exfiltration, command and control, mining pools)",
            p.pid,
            p.comm,
            remotes.join(", ")
        ),
        evidence: json!({"sockets": outside.iter().map(Inet::to_json).collect::<Vec<_>>(), "container_networks": networks.iter().map(|(ip, p)| format!("{ip}/{p}")).collect::<Vec<_>>()}),
    });
}

fn listeners(cx: &Context<'_>, p: &Process, out: &mut Vec<Finding>) {
    for sk in p.fds.iter().filter_map(inet) {
        let listening = match sk.protocol.as_str() {
            "tcp" => sk.state == "LISTEN",
            // A bound UDP socket without a peer receives from anyone.
            "udp" => sk.remote_port == 0 && sk.local_port != 0,
            _ => false,
        };
        if !listening || cx.spec.declares(sk.local_port, &sk.protocol) {
            continue;
        }
        let loopback = sk.local.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
        out.push(Finding {
            id: "network.undeclared_listener",
            severity: Severity::Medium,
            pid: Some(p.pid),
            summary: format!(
                "{} ({}) listens on {} {} ({}), a port the container does not declare: a backdoor, a command-and-control relay or an unexpected service",
                p.pid,
                p.comm,
                sk.protocol,
                endpoint(&sk.local, sk.local_port),
                if loopback { "loopback only, reachable from inside the container" } else { "reachable from the network" }
            ),
            evidence: json!({"socket": sk.to_json(), "declared_ports": cx.spec.ports.as_ref().map(|ps| ps.iter().map(|(port, proto)| format!("{port}/{proto}")).collect::<Vec<_>>())}),
        });
    }
}
