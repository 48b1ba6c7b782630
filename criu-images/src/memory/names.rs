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

use std::collections::HashMap;
use std::sync::Arc;

use super::vma::{status, Vma};
use crate::chain::{DumpChain, FileObjects};
use crate::error::Result;
use crate::proto::FdTypes;

/// `mmap` flag of huge-page mappings, which CRIU keeps in the area's flags.
const MAP_HUGETLB: u32 = 0x40000;

/// What the chain's file objects say about mapped files, and the SysV keys
/// when an area needs them.
pub(super) struct FileTables {
    files: Arc<FileObjects>,
    /// System V shm id -> key, over the IPC namespaces of the checkpoint's
    /// tasks; `None` when namespaces disagree on an id.
    sysv_keys: Option<Arc<HashMap<u64, Option<u32>>>>,
}

impl FileTables {
    /// The tables `vmas` need, from the chain (which decodes them once): the
    /// SysV keys only if one of them is a SysV segment.
    pub(super) fn load(chain: &DumpChain<'_>, vmas: &[Vma]) -> Result<FileTables> {
        let files = chain.files()?;
        let sysv_keys = match vmas.iter().any(|v| v.status & status::SYSVIPC != 0) {
            true => Some(chain.sysv_keys()?),
            false => None,
        };
        Ok(FileTables { files, sysv_keys })
    }

    /// Name and shmem id of the memfd behind file `id` (a memfd file object).
    fn memfd(&self, id: u32) -> Option<(&str, u64)> {
        let file = self.files.get(id).filter(|f| f.r#type() == FdTypes::Memfd)?;
        self.files.memfd_inode(u64::from(file.memfd.as_ref()?.inode_id))
    }

    /// The id of the `pagemap-shmem-<id>.img` holding a shared area.
    pub(super) fn shmem_id(&self, vma: &Vma) -> Option<u64> {
        if vma.status & status::MEMFD != 0 {
            return self.memfd(vma.shmid as u32).map(|(_, shmid)| shmid);
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
            let (name, _) = self.memfd(vma.shmid as u32)?;
            return Some(format!("/memfd:{name} (deleted)"));
        }
        if s & status::SYSVIPC != 0 {
            // The segment's file is named after its key; the area records its id.
            let key = (*self.sysv_keys.as_ref()?.get(&vma.shmid)?)?;
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
            self.files.get(id).filter(|f| f.r#type() == FdTypes::Reg)?;
            let path = self.files.reg_name(id)?;
            return Some(match self.files.is_deleted(id) {
                true => format!("{path} (deleted)"),
                false => path,
            });
        }
        None
    }
}
