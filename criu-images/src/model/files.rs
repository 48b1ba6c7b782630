//! Open files: `fdinfo-<files_id>.img` (fd numbers) resolved through
//! `files.img` (every file object) into what `readlink /proc/PID/fd/N`
//! shows, plus typed details.

use std::collections::HashMap;

use crate::error::Result;
use crate::json::ip_address;
use crate::memory::ImageStore;
use crate::proto::{FdTypes, FileEntry, Message, RemapType};

use super::decode_all;
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
#[derive(Default)]
pub struct FileTable {
    entries: HashMap<u32, FileEntry>,
    /// Original file id -> how CRIU preserved an unlinked or moved file.
    remaps: HashMap<u32, RemapType>,
    /// memfd inode id -> name.
    memfd_names: HashMap<u64, String>,
    /// tty info id -> (type, pty index).
    ttys: HashMap<u32, (i32, Option<u32>)>,
    /// pipe inode -> buffered bytes (pipes-data.img, fifo-data.img).
    pipe_data: HashMap<u32, u64>,
    /// socket id -> (queued packets, bytes) (sk-queues.img).
    sk_queues: HashMap<u32, (u64, u64)>,
    /// Files of the images directory, to find tcp-stream-<inode>.img.
    tcp_streams: HashMap<u32, (u64, u64)>,
}

impl FileTable {
    /// Reads `files.img`, `remap-fpath.img`, `memfd.img` and `tty-info.img`.
    pub fn load(store: &dyn ImageStore) -> Result<FileTable> {
        let mut table = FileTable::default();
        for message in decode_all(store, "files.img")?.unwrap_or_default() {
            if let Message::FileEntry(file) = message {
                table.entries.insert(file.id, file);
            }
        }
        for message in decode_all(store, "remap-fpath.img")?.unwrap_or_default() {
            if let Message::RemapFilePathEntry(remap) = message {
                table.remaps.insert(remap.orig_id, remap.remap_type());
            }
        }
        for message in decode_all(store, "memfd.img")?.unwrap_or_default() {
            if let Message::MemfdInodeEntry(inode) = message {
                table.memfd_names.insert(inode.inode_id, inode.name);
            }
        }
        for message in decode_all(store, "tty-info.img")?.unwrap_or_default() {
            if let Message::TtyInfoEntry(info) = message {
                table.ttys.insert(info.id, (info.r#type, info.pty.map(|p| p.index)));
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
        let inodes: Vec<u32> = table.entries.values().filter_map(|f| f.isk.as_ref().map(|s| s.ino)).collect();
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
        self.entries.get(&id)
    }

    /// The path of a regular file as the kernel shows it (`/x (deleted)` for
    /// an unlinked file CRIU kept as a ghost).
    pub fn reg_path(&self, id: u32) -> Option<String> {
        let reg = self.entries.get(&id)?.reg.as_ref()?;
        let mut path = reg.name.clone();
        if !path.starts_with('/') {
            // CRIU stores paths relative to the mount root in some versions.
            path.insert(0, '/');
        }
        if matches!(self.remaps.get(&id), Some(RemapType::Ghost)) {
            path.push_str(" (deleted)");
        }
        Some(path)
    }

    /// What `readlink /proc/PID/fd/N` shows for the file object `id`.
    pub fn fd_path(&self, id: u32) -> Option<String> {
        let file = self.entries.get(&id)?;
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
            FdTypes::Pidfd => "anon_inode:[pidfd]".into(),
            FdTypes::Tunf => "/dev/net/tun".into(),
            FdTypes::Memfd => {
                let inode = u64::from(file.memfd.as_ref()?.inode_id);
                format!("/memfd:{} (deleted)", self.memfd_names.get(&inode)?)
            }
            FdTypes::Ns => {
                let ns = file.nsf.as_ref()?;
                format!("{}:[{}]", namespace_kind(ns.ns_cflag), ns.ns_id)
            }
            FdTypes::Tty | FdTypes::CtlTty => {
                let tty = file.tty.as_ref()?;
                if let Some(path) = tty.regf_id.and_then(|r| self.reg_path(r)) {
                    return Some(path);
                }
                match self.ttys.get(&tty.tty_info_id) {
                    Some((_, Some(index))) => format!("/dev/pts/{index}"),
                    _ => "/dev/tty".into(),
                }
            }
            FdTypes::Und | FdTypes::Ext | FdTypes::AutofsPipe => return None,
        };
        Some(path)
    }
}

impl FileTable {
    /// Typed details of the file object `id`: positions and flags of regular
    /// files, socket addresses and states, queued and buffered data, epoll
    /// targets, signal masks, inotify watches.
    pub fn details(&self, id: u32) -> Vec<(&'static str, Detail)> {
        use Detail::{Bool, Int, Text, Texts};
        let Some(file) = self.entries.get(&id) else { return Vec::new() };
        let mut out = Vec::new();
        let sk_name = |dict: &str, v: u32| crate::json::dict_name("sk", dict, u64::from(v)).map_or_else(|| v.to_string(), str::to_string);
        if let Some(reg) = &file.reg {
            out.push(("pos", Int(reg.pos as i64)));
            out.push(("flags", Int(i64::from(reg.flags))));
            if let Some(size) = reg.size {
                out.push(("size", Int(size as i64)));
            }
            out.push(("deleted", Bool(matches!(self.remaps.get(&id), Some(RemapType::Ghost)))));
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
            out.push(("watches", Texts(ify.wd.iter().map(|w| w.f_handle.path.clone().unwrap_or_else(|| format!("inode {}", w.i_ino))).collect())));
        }
        if let Some(memfd) = &file.memfd {
            if let Some(name) = self.memfd_names.get(&u64::from(memfd.inode_id)) {
                out.push(("name", Text(name.clone())));
            }
            out.push(("pos", Int(memfd.pos as i64)));
        }
        out
    }
}

/// A unix socket name as `ss` prints it: abstract names start with `@`.
fn unix_name(name: &[u8]) -> String {
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
