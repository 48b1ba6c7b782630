//! Open files: `fdinfo-<files_id>.img` (fd numbers) resolved through
//! `files.img` (every file object) into what `readlink /proc/PID/fd/N`
//! shows, plus typed details.

use std::collections::HashMap;

use crate::error::Result;
use crate::memory::ImageStore;
use crate::proto::{FdTypes, FileEntry, Message, RemapType};

use super::decode_all;

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
