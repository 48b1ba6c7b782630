//! Names of memory areas as `/proc/PID/maps` prints them, and which
//! `pagemap-shmem` image holds a shared area, from `files.img` and `memfd.img`.

use std::collections::HashMap;

use super::decode_all;
use super::vma::{status, Vma};
use super::ImageStore;
use crate::error::Result;
use crate::proto::Message;

/// What `files.img` and `memfd.img` say about mapped files.
#[derive(Default)]
pub(super) struct FileTables {
    /// File id -> path of regular files.
    reg_paths: HashMap<u32, String>,
    /// File id -> memfd inode id.
    memfd_inodes: HashMap<u32, u64>,
    /// Memfd inode id -> (name, shmid).
    memfd_shmids: HashMap<u64, (String, u64)>,
}

impl FileTables {
    pub(super) fn load(store: &dyn ImageStore) -> Result<FileTables> {
        let mut tables = FileTables::default();
        for message in decode_all(store, "files.img")?.unwrap_or_default() {
            {
                if let Message::FileEntry(file) = message {
                    match file.r#type() {
                        crate::proto::FdTypes::Reg => {
                            if let Some(reg) = &file.reg {
                                tables.reg_paths.insert(file.id, reg.name.clone());
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
            return Some(format!("/SYSV{:08x} (deleted)", vma.shmid));
        }
        if s & status::ANON_SHARED != 0 {
            return Some("/dev/zero (deleted)".into());
        }
        if s & (status::FILE_PRIVATE | status::FILE_SHARED) != 0 {
            return self.reg_paths.get(&(vma.shmid as u32)).cloned();
        }
        None
    }
}
