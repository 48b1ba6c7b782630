//! Open files: `fdinfo-<files_id>.img` (fd numbers) resolved through
//! `files.img` (every file object) into what `readlink /proc/PID/fd/N`
//! shows, plus typed details.

use std::collections::HashMap;
use std::sync::Arc;

use crate::chain::{decode_all, DumpChain, FileObjects};
use crate::error::Result;
use crate::json::ip_address;
use crate::proto::{FanotifyMarkEntry, FdTypes, FileEntry, InotifyWdEntry, Message, TtyInfoEntry, TtyType};

use super::names::signal_mask_names;

/// A typed detail of an open file, e.g. a socket's local address.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Detail {
    /// A number.
    Int(i64),
    /// Text.
    Text(String),
    /// A list of texts (signal names, watched paths, ...).
    Texts(Vec<String>),
    /// A flag.
    Bool(bool),
}

impl std::fmt::Display for Detail {
    /// As `inspect` prints it: lists joined with commas.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Detail::Int(v) => write!(f, "{v}"),
            Detail::Text(t) => f.write_str(t),
            Detail::Texts(t) => f.write_str(&t.join(",")),
            Detail::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// Every file object of a checkpoint, by id, with what is needed to name it.
pub struct FileTable {
    /// `files.img`, `remap-fpath.img` and `memfd.img`, shared with the
    /// memory layer through the chain (decoded once).
    files: Arc<FileObjects>,
    /// tty info id -> the terminal (tty-info.img).
    ttys: HashMap<u32, TtyInfoEntry>,
    /// tty info id -> buffered bytes (tty-data.img).
    tty_data: HashMap<u32, u64>,
    /// BPF map id -> (entries, bytes of keys and values) (bpfmap-data.img).
    bpf_data: HashMap<u32, (u64, u64)>,
    /// Watches and marks CRIU before 2.x kept outside files.img, by file id.
    inotify_wds: HashMap<u32, Vec<InotifyWdEntry>>,
    fanotify_marks: HashMap<u32, Vec<FanotifyMarkEntry>>,
    /// pipe inode -> buffered bytes (pipes-data.img, fifo-data.img).
    pipe_data: HashMap<u32, u64>,
    /// socket id -> (queued packets, bytes) (sk-queues.img).
    sk_queues: HashMap<u32, (u64, u64)>,
    /// Files of the images directory, to find `tcp-stream-<inode>.img`.
    tcp_streams: HashMap<u32, (u64, u64)>,
}

impl FileTable {
    /// Reads `files.img` and the images that complete its entries:
    /// `remap-fpath.img`, `memfd.img`, `tty-info.img`, `tty-data.img`,
    /// `pipes-data.img`, `fifo-data.img`, `sk-queues.img`, `tcp-stream-*.img`,
    /// `bpfmap-data.img` and the legacy `inotify-wd.img`, `fanotify-mark.img`.
    pub fn load(chain: &DumpChain<'_>) -> Result<FileTable> {
        let store = chain.top();
        let mut table = FileTable {
            files: chain.files()?,
            ttys: HashMap::new(),
            tty_data: HashMap::new(),
            bpf_data: HashMap::new(),
            inotify_wds: HashMap::new(),
            fanotify_marks: HashMap::new(),
            pipe_data: HashMap::new(),
            sk_queues: HashMap::new(),
            tcp_streams: HashMap::new(),
        };
        for message in decode_all(store, "tty-info.img")?.unwrap_or_default() {
            if let Message::TtyInfoEntry(info) = message {
                table.ttys.insert(info.id, info);
            }
        }
        for message in decode_all(store, "tty-data.img")?.unwrap_or_default() {
            if let Message::TtyDataEntry(data) = message {
                *table.tty_data.entry(data.tty_id).or_default() += data.data.len() as u64;
            }
        }
        for message in decode_all(store, "bpfmap-data.img")?.unwrap_or_default() {
            if let Message::BpfmapDataEntry(data) = message {
                let map = table.bpf_data.entry(data.map_id).or_default();
                map.0 += u64::from(data.count);
                map.1 += u64::from(data.keys_bytes) + u64::from(data.values_bytes);
            }
        }
        for message in decode_all(store, "inotify-wd.img")?.unwrap_or_default() {
            if let Message::InotifyWdEntry(wd) = message {
                table.inotify_wds.entry(wd.id).or_default().push(wd);
            }
        }
        for message in decode_all(store, "fanotify-mark.img")?.unwrap_or_default() {
            if let Message::FanotifyMarkEntry(mark) = message {
                table.fanotify_marks.entry(mark.id).or_default().push(mark);
            }
        }
        for name in ["pipes-data.img", "fifo-data.img"] {
            for message in decode_all(store, name)?.unwrap_or_default() {
                if let Message::PipeDataEntry(data) = message {
                    *table.pipe_data.entry(data.pipe_id).or_default() += u64::from(data.bytes);
                }
            }
        }
        for message in decode_all(store, "sk-queues.img")?.unwrap_or_default() {
            if let Message::SkPacketEntry(packet) = message {
                let queue = table.sk_queues.entry(packet.id_for).or_default();
                queue.0 += 1;
                queue.1 += u64::from(packet.length);
            }
        }
        let inodes: Vec<u32> = table.files.entries().filter_map(|f| f.isk.as_ref().map(|s| s.ino)).collect();
        for ino in inodes {
            for message in decode_all(store, &format!("tcp-stream-{ino:x}.img"))?.unwrap_or_default() {
                if let Message::TcpStreamEntry(stream) = message {
                    table.tcp_streams.insert(ino, (u64::from(stream.inq_len), u64::from(stream.outq_len)));
                }
            }
        }
        Ok(table)
    }

    /// The file object with this id.
    pub fn get(&self, id: u32) -> Option<&FileEntry> {
        self.files.get(id)
    }

    /// (packets, bytes) queued in the socket with this file id (`sk-queues.img`).
    pub fn socket_queue(&self, id: u32) -> Option<(u64, u64)> {
        self.sk_queues.get(&id).copied()
    }

    /// (in queue, out queue) bytes of the TCP socket with this inode (`tcp-stream-*.img`).
    pub fn tcp_queues(&self, inode: u32) -> Option<(u64, u64)> {
        self.tcp_streams.get(&inode).copied()
    }

    /// The path of a regular file as the kernel shows it (`/x (deleted)` for
    /// an unlinked file, which CRIU kept as a ghost copy or a link-remap).
    pub fn reg_path(&self, id: u32) -> Option<String> {
        let mut path = self.files.reg_name(id)?;
        if self.files.is_deleted(id) {
            path.push_str(" (deleted)");
        }
        Some(path)
    }

    /// What `readlink /proc/PID/fd/N` shows for the file object `id`.
    pub fn fd_path(&self, id: u32) -> Option<String> {
        let file = self.files.get(id)?;
        let path = match file.r#type() {
            FdTypes::Reg => return self.reg_path(id),
            FdTypes::Pipe => format!("pipe:[{}]", file.pipe.as_ref()?.pipe_id),
            FdTypes::Fifo => return file.fifo.as_ref()?.regf_id.and_then(|r| self.reg_path(r)),
            FdTypes::Inetsk => format!("socket:[{}]", file.isk.as_ref()?.ino),
            FdTypes::Unixsk => format!("socket:[{}]", file.usk.as_ref()?.ino),
            // CRIU does not record a packet socket's inode number.
            FdTypes::Packetsk => return None,
            FdTypes::Netlinksk => format!("socket:[{}]", file.nlsk.as_ref()?.ino),
            FdTypes::Eventfd => "anon_inode:[eventfd]".into(),
            FdTypes::Eventpoll => "anon_inode:[eventpoll]".into(),
            FdTypes::Signalfd => "anon_inode:[signalfd]".into(),
            FdTypes::Timerfd => "anon_inode:[timerfd]".into(),
            FdTypes::Inotify => "anon_inode:inotify".into(),
            FdTypes::Fanotify => "anon_inode:[fanotify]".into(),
            FdTypes::Bpfmap => "anon_inode:bpf-map".into(),
            // pidfs (Linux 6.9+) kept the anon_inode name for compatibility.
            FdTypes::Pidfd => "anon_inode:[pidfd]".into(),
            FdTypes::Tunf => "/dev/net/tun".into(),
            FdTypes::Memfd => {
                let inode = u64::from(file.memfd.as_ref()?.inode_id);
                format!("/memfd:{} (deleted)", self.files.memfd_inode(inode)?.0)
            }
            // CRIU records its own namespace id, not the kernel's inode
            // number that `net:[4026531840]` shows: the link cannot be rebuilt.
            FdTypes::Ns => return None,
            FdTypes::Tty | FdTypes::CtlTty => return self.tty_path(file.tty.as_ref()?),
            FdTypes::Und | FdTypes::Ext | FdTypes::AutofsPipe => return None,
        };
        Some(path)
    }
}

impl FileTable {
    /// The device path of a terminal: the path CRIU saved with it, else the
    /// name its driver gives (`/dev/ptmx`, `/dev/pts/N`, `/dev/console`,
    /// `/dev/tty`, `/dev/ttyN`, `/dev/ttySN`); `None` for external terminals.
    fn tty_path(&self, tty: &crate::proto::TtyFileEntry) -> Option<String> {
        if let Some(path) = tty.regf_id.and_then(|r| self.reg_path(r)) {
            return Some(path);
        }
        let info = self.ttys.get(&tty.tty_info_id)?;
        let (major, minor) = dev_numbers(info.rdev);
        Some(match TtyType::try_from(info.r#type).ok()? {
            // CRIU numbers a pty pair's ends (index << 1) + master.
            TtyType::Pty if tty.tty_info_id & 1 == 1 => "/dev/ptmx".into(),
            TtyType::Pty => format!("/dev/pts/{}", info.pty.as_ref()?.index),
            TtyType::Console => "/dev/console".into(),
            TtyType::Ctty => "/dev/tty".into(),
            TtyType::Vt => format!("/dev/tty{minor}"),
            TtyType::Serial if major == 4 && minor >= 64 => format!("/dev/ttyS{}", minor - 64),
            TtyType::Serial if major == 188 => format!("/dev/ttyUSB{minor}"),
            TtyType::Serial | TtyType::ExtTty | TtyType::Unknown => return None,
        })
    }

    /// Typed details of the file object `id`: positions and flags of regular
    /// files, socket addresses and states, queued and buffered data, epoll
    /// targets, signal masks, inotify watches.
    pub fn details(&self, id: u32) -> Vec<(&'static str, Detail)> {
        use Detail::{Bool, Int, Text, Texts};
        let Some(file) = self.files.get(id) else { return Vec::new() };
        let mut out = Vec::new();
        let sk_name = |dict: &str, v: u32| crate::json::dict_name("sk", dict, u64::from(v)).map_or_else(|| v.to_string(), str::to_string);
        if let Some(reg) = &file.reg {
            out.push(("pos", Int(reg.pos as i64)));
            out.push(("flags", Int(i64::from(reg.flags))));
            if let Some(size) = reg.size {
                out.push(("size", Int(size as i64)));
            }
            out.push(("deleted", Bool(self.files.is_deleted(id))));
        }
        if let Some(pipe) = &file.pipe {
            out.push(("pipe_id", Int(i64::from(pipe.pipe_id))));
            out.push(("buffered_bytes", Int(self.pipe_data.get(&pipe.pipe_id).copied().unwrap_or(0) as i64)));
        }
        if let Some(fifo) = &file.fifo {
            out.push(("pipe_id", Int(i64::from(fifo.pipe_id))));
            out.push(("buffered_bytes", Int(self.pipe_data.get(&fifo.pipe_id).copied().unwrap_or(0) as i64)));
        }
        if let Some(sk) = &file.isk {
            out.push(("family", Text(sk_name("family", sk.family))));
            out.push(("protocol", Text(sk_name("proto", sk.proto))));
            out.push(("type", Text(sk_name("type", sk.r#type))));
            out.push(("state", Text(sk_name("state", sk.state))));
            out.push(("local_address", Text(ip_address(&sk.src_addr).unwrap_or_default())));
            out.push(("local_port", Int(i64::from(sk.src_port))));
            out.push(("remote_address", Text(ip_address(&sk.dst_addr).unwrap_or_default())));
            out.push(("remote_port", Int(i64::from(sk.dst_port))));
            out.push(("inode", Int(i64::from(sk.ino))));
            if let Some((inq, outq)) = self.tcp_streams.get(&sk.ino) {
                out.push(("inq_bytes", Int(*inq as i64)));
                out.push(("outq_bytes", Int(*outq as i64)));
            }
        }
        if let Some(sk) = &file.usk {
            out.push(("type", Text(sk_name("type", sk.r#type))));
            out.push(("state", Text(sk_name("state", sk.state))));
            out.push(("name", Text(unix_name(&sk.name))));
            out.push(("inode", Int(i64::from(sk.ino))));
            out.push(("peer", Int(i64::from(sk.peer))));
            let (packets, bytes) = self.sk_queues.get(&sk.id).copied().unwrap_or((0, 0));
            out.push(("queued_packets", Int(packets as i64)));
            out.push(("queued_bytes", Int(bytes as i64)));
        }
        if let Some(efd) = &file.efd {
            out.push(("counter", Int(efd.counter as i64)));
        }
        if let Some(epfd) = &file.epfd {
            out.push(("targets", Texts(epfd.tfd.iter().map(|t| t.tfd.to_string()).collect())));
        }
        if let Some(sgfd) = &file.sgfd {
            out.push(("signals", Texts(signal_mask_names(sgfd.sigmask))));
        }
        if let Some(tfd) = &file.tfd {
            out.push(("clockid", Int(i64::from(tfd.clockid))));
            out.push(("value", Text(format!("{}.{:09}", tfd.vsec, tfd.vnsec))));
            out.push(("interval", Text(format!("{}.{:09}", tfd.isec, tfd.insec))));
        }
        if let Some(ify) = &file.ify {
            let legacy = self.inotify_wds.get(&ify.id).map(Vec::as_slice).unwrap_or_default();
            out.push((
                "watches",
                Texts(
                    ify.wd.iter().chain(legacy).map(|w| w.f_handle.path.clone().unwrap_or_else(|| format!("inode {}", w.i_ino))).collect(),
                ),
            ));
        }
        if let Some(ffy) = &file.ffy {
            // FAN_CLASS_* are the two bits at 0x0c of the init flags.
            let class = match ffy.faflags & 0x0c {
                0x00 => "notif".to_string(),
                0x04 => "content".to_string(),
                0x08 => "pre_content".to_string(),
                other => format!("{other:#x}"),
            };
            out.push(("class", Text(class)));
            out.push(("init_flags", Int(i64::from(ffy.faflags))));
            out.push(("event_flags", Int(i64::from(ffy.evflags))));
            let legacy = self.fanotify_marks.get(&ffy.id).map(Vec::as_slice).unwrap_or_default();
            let marks = ffy.mark.iter().chain(legacy).map(|m| {
                let what = match (&m.ie, &m.me) {
                    (Some(ie), _) => ie.f_handle.path.clone().unwrap_or_else(|| format!("inode {}", ie.i_ino)),
                    (None, Some(me)) => format!("mount {}", me.path.clone().unwrap_or_else(|| format!("id {}", me.mnt_id))),
                    (None, None) => format!("{} mark", if m.r#type == 2 { "mount" } else { "inode" }),
                };
                format!("{what} mask={:#x}", m.mask)
            });
            out.push(("marks", Texts(marks.collect())));
        }
        if let Some(tty) = &file.tty {
            out.push(("tty_info_id", Int(i64::from(tty.tty_info_id))));
            if let Some(info) = self.ttys.get(&tty.tty_info_id) {
                let kind = TtyType::try_from(info.r#type).map_or_else(|_| info.r#type.to_string(), |t| t.as_str_name().to_string());
                out.push(("tty_type", Text(kind)));
                if let Some(pty) = &info.pty {
                    out.push(("index", Int(i64::from(pty.index))));
                    out.push(("master", Bool(tty.tty_info_id & 1 == 1)));
                }
                let (major, minor) = dev_numbers(info.rdev);
                out.push(("rdev", Text(format!("{major}:{minor}"))));
                out.push(("sid", Int(i64::from(info.sid))));
                out.push(("pgrp", Int(i64::from(info.pgrp))));
                out.push(("locked", Bool(info.locked)));
                out.push(("packet_mode", Bool(info.packet_mode)));
                if let Some(w) = &info.winsize {
                    out.push(("winsize", Text(format!("{}x{}", w.ws_col, w.ws_row))));
                }
                out.push(("buffered_bytes", Int(self.tty_data.get(&tty.tty_info_id).copied().unwrap_or(0) as i64)));
            }
        }
        if let Some(pidfd) = &file.pidfd {
            // -1: the process had exited.
            out.push(("pid", Int(i64::from(pidfd.nspid))));
            out.push(("inode", Int(i64::from(pidfd.ino))));
            out.push(("flags", Int(i64::from(pidfd.flags))));
        }
        if let Some(bpf) = &file.bpf {
            out.push(("map_type", Text(bpf_map_type(bpf.map_type))));
            out.push(("map_name", Text(bpf.map_name.clone())));
            out.push(("map_id", Int(i64::from(bpf.map_id))));
            out.push(("key_size", Int(i64::from(bpf.key_size))));
            out.push(("value_size", Int(i64::from(bpf.value_size))));
            out.push(("max_entries", Int(i64::from(bpf.max_entries))));
            out.push(("map_flags", Int(i64::from(bpf.map_flags))));
            out.push(("memlock", Int(bpf.memlock as i64)));
            out.push(("frozen", Bool(bpf.frozen)));
            if let Some((entries, bytes)) = self.bpf_data.get(&bpf.map_id) {
                out.push(("saved_entries", Int(*entries as i64)));
                out.push(("saved_bytes", Int(*bytes as i64)));
            }
        }
        if let Some(ns) = &file.nsf {
            out.push(("namespace", Text(namespace_kind(ns.ns_cflag).to_string())));
            // The id tasks' `namespaces` use: equal ids mean the same namespace.
            out.push(("ns_id", Int(i64::from(ns.ns_id))));
        }
        if let Some(sk) = &file.psk {
            out.push(("type", Text(sk_name("type", sk.r#type))));
            // CRIU stores htons(ethertype) as a number of the dumping host.
            let ethertype = if self.files.big_endian() { sk.protocol as u16 } else { (sk.protocol as u16).swap_bytes() };
            out.push(("protocol", Text(format!("{ethertype:#06x}"))));
            out.push(("ifindex", Int(i64::from(sk.ifindex))));
            out.push(("version", Int(i64::from(sk.version))));
            if let Some(fanout) = sk.fanout.filter(|&f| f != u32::MAX) {
                out.push(("fanout", Int(i64::from(fanout))));
            }
        }
        if let Some(sk) = &file.nlsk {
            out.push(("protocol", Text(netlink_protocol(sk.protocol))));
            out.push(("inode", Int(i64::from(sk.ino))));
            out.push(("portid", Int(i64::from(sk.portid))));
            out.push((
                "groups",
                Texts(
                    sk.groups
                        .iter()
                        .enumerate()
                        .flat_map(|(w, word)| (0..32).filter(move |b| word & (1 << b) != 0).map(move |b| (w * 32 + b + 1).to_string()))
                        .collect(),
                ),
            ));
            out.push(("dst_portid", Int(i64::from(sk.dst_portid))));
            out.push(("dst_group", Int(i64::from(sk.dst_group))));
        }
        if let Some(tun) = &file.tunf {
            out.push(("netdev", Text(tun.netdev.clone().unwrap_or_default())));
            out.push(("detached", Bool(tun.detached.unwrap_or(false))));
        }
        if let Some(memfd) = &file.memfd {
            if let Some((name, _)) = self.files.memfd_inode(u64::from(memfd.inode_id)) {
                out.push(("name", Text(name.to_string())));
            }
            out.push(("pos", Int(memfd.pos as i64)));
        }
        out
    }
}

/// Major and minor of a device number in glibc's `dev_t` encoding, as
/// `stat` gives it and CRIU stores it (the low 32 bits).
fn dev_numbers(dev: u32) -> (u32, u32) {
    ((dev >> 8) & 0xfff, (dev & 0xff) | ((dev >> 12) & 0xfff00))
}

/// `BPF_MAP_TYPE_*` by number (`uapi/linux/bpf.h`).
fn bpf_map_type(value: u32) -> String {
    const NAMES: &[&str] = &[
        "UNSPEC",
        "HASH",
        "ARRAY",
        "PROG_ARRAY",
        "PERF_EVENT_ARRAY",
        "PERCPU_HASH",
        "PERCPU_ARRAY",
        "STACK_TRACE",
        "CGROUP_ARRAY",
        "LRU_HASH",
        "LRU_PERCPU_HASH",
        "LPM_TRIE",
        "ARRAY_OF_MAPS",
        "HASH_OF_MAPS",
        "DEVMAP",
        "SOCKMAP",
        "CPUMAP",
        "XSKMAP",
        "SOCKHASH",
        "CGROUP_STORAGE",
        "REUSEPORT_SOCKARRAY",
        "PERCPU_CGROUP_STORAGE",
        "QUEUE",
        "STACK",
        "SK_STORAGE",
        "DEVMAP_HASH",
        "STRUCT_OPS",
        "RINGBUF",
        "INODE_STORAGE",
        "TASK_STORAGE",
        "BLOOM_FILTER",
        "USER_RINGBUF",
        "CGRP_STORAGE",
        "ARENA",
    ];
    NAMES.get(value as usize).map_or_else(|| value.to_string(), |n| n.to_string())
}

/// `NETLINK_*` protocol names (`uapi/linux/netlink.h`).
pub(super) fn netlink_protocol(value: u32) -> String {
    let name = match value {
        0 => "ROUTE",
        2 => "USERSOCK",
        4 => "SOCK_DIAG",
        5 => "NFLOG",
        6 => "XFRM",
        7 => "SELINUX",
        8 => "ISCSI",
        9 => "AUDIT",
        10 => "FIB_LOOKUP",
        11 => "CONNECTOR",
        12 => "NETFILTER",
        13 => "IP6_FW",
        14 => "DNRTMSG",
        15 => "KOBJECT_UEVENT",
        16 => "GENERIC",
        18 => "SCSITRANSPORT",
        19 => "ECRYPTFS",
        20 => "RDMA",
        21 => "CRYPTO",
        22 => "SMC",
        _ => return value.to_string(),
    };
    name.to_string()
}

/// A unix socket name as `ss` prints it: abstract names start with `@`.
pub(super) fn unix_name(name: &[u8]) -> String {
    match name.split_first() {
        Some((0, rest)) => format!("@{}", String::from_utf8_lossy(rest)),
        _ => String::from_utf8_lossy(name).into_owned(),
    }
}

/// The `/proc/PID/ns` name of a `CLONE_NEW*` flag.
fn namespace_kind(cflag: u32) -> &'static str {
    match cflag {
        0x0002_0000 => "mnt",
        0x0400_0000 => "uts",
        0x0800_0000 => "ipc",
        0x1000_0000 => "user",
        0x2000_0000 => "pid",
        0x4000_0000 => "net",
        0x0200_0000 => "cgroup",
        0x0000_0080 => "time",
        _ => "ns",
    }
}
