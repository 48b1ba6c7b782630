//! The file objects of a checkpoint (`files.img`, with `remap-fpath.img`
//! and `memfd.img`), decoded once per chain and shared by the memory layer
//! (names of mapped files, memfd segments) and the model (open files); and
//! the System V shm keys, found once when an area needs them.

use std::collections::{HashMap, HashSet};

use super::{decode_all, ImageStore};
use crate::error::Result;
use crate::image::{Endian, Image};
use crate::proto::{FileEntry, Message, RemapFilePathEntry, RemapType};

/// Every file object of `files.img` by id, which of them had been unlinked,
/// and the memfd inodes of `memfd.img`.
#[derive(Default, Debug)]
pub struct FileObjects {
    entries: HashMap<u32, FileEntry>,
    /// Ids of files CRIU preserved because they had been unlinked (ghost or linked remaps).
    deleted: HashSet<u32>,
    /// memfd inode id -> (name, shmid of its `pagemap-shmem` image).
    memfd_inodes: HashMap<u64, (String, u64)>,
    /// files.img came from a big-endian host (s390x).
    big_endian: bool,
}

impl FileObjects {
    /// Reads `files.img`, `remap-fpath.img` and `memfd.img` of `store`
    /// (absent images are empty tables).
    pub fn load(store: &dyn ImageStore) -> Result<FileObjects> {
        let mut table = FileObjects::default();
        if let Some(bytes) = store.file("files.img")? {
            table.big_endian = Image::parse("files.img", bytes)?.endian() == Endian::Big;
        }
        for message in decode_all(store, "files.img")?.unwrap_or_default() {
            if let Message::FileEntry(file) = message {
                table.entries.insert(file.id, file);
            }
        }
        for message in decode_all(store, "remap-fpath.img")?.unwrap_or_default() {
            if let Message::RemapFilePathEntry(remap) = message {
                if remap_means_deleted(&remap) {
                    table.deleted.insert(remap.orig_id);
                }
            }
        }
        for message in decode_all(store, "memfd.img")?.unwrap_or_default() {
            if let Message::MemfdInodeEntry(inode) = message {
                table.memfd_inodes.insert(inode.inode_id, (inode.name, u64::from(inode.shmid)));
            }
        }
        Ok(table)
    }

    /// The file object with this id.
    pub fn get(&self, id: u32) -> Option<&FileEntry> {
        self.entries.get(&id)
    }

    /// Every file object, in no particular order.
    pub fn entries(&self) -> impl Iterator<Item = &FileEntry> {
        self.entries.values()
    }

    /// Whether CRIU kept file `id` because it had been unlinked.
    pub fn is_deleted(&self, id: u32) -> bool {
        self.deleted.contains(&id)
    }

    /// The path of regular file `id` as CRIU stored it, made absolute.
    pub fn reg_name(&self, id: u32) -> Option<String> {
        let reg = self.entries.get(&id)?.reg.as_ref()?;
        let mut path = reg.name.clone();
        if !path.starts_with('/') {
            // Some CRIU versions store paths relative to the mount root.
            path.insert(0, '/');
        }
        Some(path)
    }

    /// The memfd inode of file `id`, if it is a memfd.
    pub fn memfd_inode_of(&self, id: u32) -> Option<u64> {
        self.entries.get(&id)?.memfd.as_ref().map(|m| u64::from(m.inode_id))
    }

    /// Name and shmem id of memfd inode `inode`.
    pub fn memfd_inode(&self, inode: u64) -> Option<(&str, u64)> {
        self.memfd_inodes.get(&inode).map(|(name, shmid)| (name.as_str(), *shmid))
    }

    /// Whether files.img came from a big-endian host.
    pub fn big_endian(&self) -> bool {
        self.big_endian
    }
}

/// Whether CRIU preserved the file of `files.img` entry `remap.orig_id`
/// because it had been unlinked (or replaced under its name): a ghost copy
/// (`GHOST`) or a hard link to a new name (`LINKED`). The kernel showed
/// such a file's path with ` (deleted)`. `PROCFS` remaps are files of
/// `/proc/PID` of a task that had exited, not unlinked files.
fn remap_means_deleted(remap: &RemapFilePathEntry) -> bool {
    match remap.remap_type {
        Some(_) => matches!(remap.remap_type(), RemapType::Ghost | RemapType::Linked),
        // CRIU before `remap_type` had only ghost and linked remaps.
        None => true,
    }
}

/// System V shm id -> key from the `ipcns-shm-<ns>.img` of every IPC
/// namespace a task of `pstree.img` is in (`ids-<pid>.img`); `None` when
/// namespaces disagree on an id. The kernel names a segment's file
/// `SYSV<key>` and gives it the id as inode number, which is what CRIU
/// records as the area's `shmid`.
pub fn sysv_keys(store: &dyn ImageStore) -> Result<HashMap<u64, Option<u32>>> {
    let mut namespaces = HashSet::new();
    for message in decode_all(store, "pstree.img")?.unwrap_or_default() {
        let Message::PstreeEntry(task) = message else { continue };
        for message in decode_all(store, &format!("ids-{}.img", task.pid))?.unwrap_or_default() {
            if let Message::TaskKobjIdsEntry(ids) = message {
                namespaces.extend(ids.ipc_ns_id);
            }
        }
    }
    let mut keys: HashMap<u64, Option<u32>> = HashMap::new();
    for ns in namespaces {
        for message in decode_all(store, &format!("ipcns-shm-{ns}.img"))?.unwrap_or_default() {
            if let Message::IpcShmEntry(shm) = message {
                let key = Some(shm.desc.key);
                keys.entry(u64::from(shm.desc.id)).and_modify(|k| *k = k.filter(|&k| Some(k) == key)).or_insert(key);
            }
        }
    }
    Ok(keys)
}
