//! Names of memory areas as `/proc/PID/maps` prints them, and which
//! `pagemap-shmem` image holds a shared area, from `files.img`,
//! `remap-fpath.img`, `memfd.img` and the `ipcns-shm` images.
//!
//! The kernel (`show_map_vma`) prints the `d_path` of a mapped file, which
//! ends in ` (deleted)` once the file is unlinked; the files behind shared
//! memory are unlinked from the start: shared anonymous memory is
//! `/dev/zero (deleted)`, a memfd `/memfd:NAME (deleted)`, a System V
//! segment `/SYSV<key, 8 hex digits> (deleted)`, anonymous huge pages
//! `/anon_hugepage (deleted)`, an AIO ring
//! `/[aio] (deleted)`. Areas without a file get the name of their kind.

use std::collections::{HashMap, HashSet};

use super::vma::{status, Vma};
use crate::chain::{decode_all, ImageStore};
use crate::error::Result;
use crate::proto::{Message, RemapFilePathEntry, RemapType};

/// `mmap` flag of huge-page mappings, which CRIU keeps in the area's flags.
const MAP_HUGETLB: u32 = 0x40000;

/// Whether CRIU preserved the file of `files.img` entry `remap.orig_id`
/// because it had been unlinked (or replaced under its name): a ghost copy
/// (`GHOST`) or a hard link to a new name (`LINKED`). The kernel showed
/// such a file's path with ` (deleted)`. `PROCFS` remaps are files of
/// `/proc/PID` of a task that had exited, not unlinked files.
pub(crate) fn remap_means_deleted(remap: &RemapFilePathEntry) -> bool {
    match remap.remap_type {
        Some(_) => matches!(remap.remap_type(), RemapType::Ghost | RemapType::Linked),
        // CRIU before `remap_type` had only ghost and linked remaps.
        None => true,
    }
}

/// What `files.img` and `memfd.img` say about mapped files.
#[derive(Default)]
pub(super) struct FileTables {
    /// File id -> path of regular files.
    reg_paths: HashMap<u32, String>,
    /// Ids of regular files that had been unlinked (`remap-fpath.img`).
    deleted: HashSet<u32>,
    /// System V shm id -> key, over the IPC namespaces of the checkpoint's
    /// tasks; `None` when namespaces disagree on an id.
    sysv_keys: HashMap<u64, Option<u32>>,
    /// File id -> memfd inode id.
    memfd_inodes: HashMap<u32, u64>,
    /// Memfd inode id -> (name, shmid).
    memfd_shmids: HashMap<u64, (String, u64)>,
}

impl FileTables {
    /// The tables `vmas` need: the SysV keys only if one of them is a SysV
    /// segment (finding them reads the `ids` image of every task).
    pub(super) fn load(store: &dyn ImageStore, vmas: &[Vma]) -> Result<FileTables> {
        let mut tables = FileTables::default();
        for message in decode_all(store, "files.img")?.unwrap_or_default() {
            {
                if let Message::FileEntry(file) = message {
                    match file.r#type() {
                        crate::proto::FdTypes::Reg => {
                            if let Some(reg) = &file.reg {
                                let mut path = reg.name.clone();
                                if !path.starts_with('/') {
                                    // Some CRIU versions store paths relative to the mount root.
                                    path.insert(0, '/');
                                }
                                tables.reg_paths.insert(file.id, path);
                            }
                        }
                        crate::proto::FdTypes::Memfd => {
                            if let Some(memfd) = &file.memfd {
                                tables.memfd_inodes.insert(file.id, u64::from(memfd.inode_id));
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
        for message in decode_all(store, "memfd.img")?.unwrap_or_default() {
            if let Message::MemfdInodeEntry(inode) = message {
                tables.memfd_shmids.insert(inode.inode_id, (inode.name.clone(), u64::from(inode.shmid)));
            }
        }
        for message in decode_all(store, "remap-fpath.img")?.unwrap_or_default() {
            if let Message::RemapFilePathEntry(remap) = message {
                if remap_means_deleted(&remap) {
                    tables.deleted.insert(remap.orig_id);
                }
            }
        }
        if vmas.iter().any(|v| v.status & status::SYSVIPC != 0) {
            tables.sysv_keys = sysv_keys(store)?;
        }
        Ok(tables)
    }

    /// The id of the `pagemap-shmem-<id>.img` holding a shared area.
    pub(super) fn shmem_id(&self, vma: &Vma) -> Option<u64> {
        if vma.status & status::MEMFD != 0 {
            let inode = self.memfd_inodes.get(&(vma.shmid as u32))?;
            return self.memfd_shmids.get(inode).map(|(_, shmid)| *shmid);
        }
        Some(vma.shmid)
    }

    /// The path `/proc/PID/maps` shows for an area.
    pub(super) fn vma_path(&self, vma: &Vma) -> Option<String> {
        let s = vma.status;
        if s & status::HEAP != 0 {
            return Some("[heap]".into());
        }
        if s & status::STACK != 0 {
            return Some("[stack]".into());
        }
        if s & status::VVAR != 0 {
            return Some("[vvar]".into());
        }
        if s & status::VDSO != 0 {
            return Some("[vdso]".into());
        }
        if s & status::VSYSCALL != 0 {
            return Some("[vsyscall]".into());
        }
        if s & status::MEMFD != 0 {
            let inode = self.memfd_inodes.get(&(vma.shmid as u32))?;
            let (name, _) = self.memfd_shmids.get(inode)?;
            return Some(format!("/memfd:{name} (deleted)"));
        }
        if s & status::SYSVIPC != 0 {
            // The segment's file is named after its key; the area records its id.
            let key = (*self.sysv_keys.get(&vma.shmid)?)?;
            return Some(format!("/SYSV{key:08x} (deleted)"));
        }
        if s & (status::ANON_SHARED | status::ANON_PRIVATE) != 0 && vma.flags & MAP_HUGETLB != 0 {
            // Anonymous huge pages, shared or private, are an unlinked hugetlbfs file.
            return Some("/anon_hugepage (deleted)".into());
        }
        if s & status::ANON_SHARED != 0 {
            return Some("/dev/zero (deleted)".into());
        }
        if s & status::AIORING != 0 {
            return Some("/[aio] (deleted)".into());
        }
        if s & status::UPROBES != 0 {
            return Some("[uprobes]".into());
        }
        if s & (status::FILE_PRIVATE | status::FILE_SHARED) != 0 {
            let id = u32::try_from(vma.shmid).ok()?;
            let path = self.reg_paths.get(&id)?;
            return Some(match self.deleted.contains(&id) {
                true => format!("{path} (deleted)"),
                false => path.clone(),
            });
        }
        None
    }
}

/// System V shm id -> key from the `ipcns-shm-<ns>.img` of every IPC
/// namespace a task of `pstree.img` is in (`ids-<pid>.img`). The kernel
/// names a segment's file `SYSV<key>` and gives it the id as inode number,
/// which is what CRIU records as the area's `shmid`.
fn sysv_keys(store: &dyn ImageStore) -> Result<HashMap<u64, Option<u32>>> {
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
