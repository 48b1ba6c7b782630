//! Memory areas (VMAs) as `mm-<pid>.img` stores them, with the views an
//! analyst filters by: `rwxp` permissions and the kind of area.

use crate::proto::VmaEntry;

/// `VMA_AREA_*` / `VMA_*` status bits of CRIU (`criu/include/image.h`).
#[allow(missing_docs)]
pub mod status {
    pub const REGULAR: u32 = 1 << 0;
    pub const STACK: u32 = 1 << 1;
    pub const VSYSCALL: u32 = 1 << 2;
    pub const VDSO: u32 = 1 << 3;
    pub const HEAP: u32 = 1 << 5;
    pub const FILE_PRIVATE: u32 = 1 << 6;
    pub const FILE_SHARED: u32 = 1 << 7;
    pub const ANON_SHARED: u32 = 1 << 8;
    pub const ANON_PRIVATE: u32 = 1 << 9;
    pub const SYSVIPC: u32 = 1 << 10;
    pub const SOCKET: u32 = 1 << 11;
    pub const VVAR: u32 = 1 << 12;
    pub const AIORING: u32 = 1 << 13;
    pub const MEMFD: u32 = 1 << 14;
    pub const SHSTK: u32 = 1 << 15;
    pub const UPROBES: u32 = 1 << 17;
}

const PROT_READ: u32 = 1;
const PROT_WRITE: u32 = 2;
const PROT_EXEC: u32 = 4;
const MAP_SHARED: u32 = 1;

/// What an area is, for filtering (`--kind`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum VmaKind {
    /// `[heap]`.
    Heap,
    /// `[stack]` (the main thread's stack).
    Stack,
    /// `[vdso]`, `[vvar]`, `[vsyscall]`: mapped by the kernel.
    Vdso,
    /// Private anonymous memory (thread stacks, malloc arenas, JIT code, ...).
    Anonymous,
    /// A private or shared mapping of a file.
    File,
    /// Shared memory: shared anonymous, memfd or SysV shm.
    Shared,
}

impl VmaKind {
    /// Parses `heap`, `stack`, `vdso`, `anon`, `file`, `shared`.
    pub fn parse(text: &str) -> Option<VmaKind> {
        Some(match text {
            "heap" => VmaKind::Heap,
            "stack" => VmaKind::Stack,
            "vdso" => VmaKind::Vdso,
            "anon" | "anonymous" => VmaKind::Anonymous,
            "file" => VmaKind::File,
            "shared" | "shm" => VmaKind::Shared,
            _ => return None,
        })
    }

    /// The name [`VmaKind::parse`] accepts.
    pub fn name(self) -> &'static str {
        match self {
            VmaKind::Heap => "heap",
            VmaKind::Stack => "stack",
            VmaKind::Vdso => "vdso",
            VmaKind::Anonymous => "anon",
            VmaKind::File => "file",
            VmaKind::Shared => "shared",
        }
    }
}

/// One memory area of a process.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Vma {
    /// First address.
    pub start: u64,
    /// End address (exclusive).
    pub end: u64,
    /// Offset in the mapped file or shared segment, in bytes.
    pub pgoff: u64,
    /// File id (`files.img`) of a file mapping, or the shared memory id.
    pub shmid: u64,
    /// `PROT_*` bits.
    pub prot: u32,
    /// `MAP_*` bits.
    pub flags: u32,
    /// CRIU's `VMA_*` status bits.
    pub status: u32,
    /// What `/proc/PID/maps` shows as the path, when known.
    pub path: Option<String>,
}

impl Vma {
    pub(crate) fn from_entry(entry: &VmaEntry) -> Vma {
        Vma {
            start: entry.start,
            end: entry.end,
            pgoff: entry.pgoff,
            shmid: entry.shmid,
            prot: entry.prot,
            flags: entry.flags,
            status: entry.status,
            path: None,
        }
    }

    /// Size in bytes.
    pub fn len(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }

    /// True for an empty area (never produced by CRIU).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Permissions as `/proc/PID/maps` prints them, e.g. `r-xp` or `rw-s`.
    pub fn perms(&self) -> String {
        let mut p = String::with_capacity(4);
        p.push(if self.prot & PROT_READ != 0 { 'r' } else { '-' });
        p.push(if self.prot & PROT_WRITE != 0 { 'w' } else { '-' });
        p.push(if self.prot & PROT_EXEC != 0 { 'x' } else { '-' });
        p.push(if self.flags & MAP_SHARED != 0 { 's' } else { 'p' });
        p
    }

    /// True when every character of `filter` that is not `-` is granted:
    /// `r-x` matches `r-xp`; `rw` matches `rw-p` and `rwxp`; a fourth
    /// character `p`/`s` must match exactly.
    pub fn perms_match(&self, filter: &str) -> bool {
        let perms = self.perms();
        filter.chars().zip(perms.chars()).enumerate().all(|(i, (want, have))| {
            if i == 3 {
                want == '-' || want == '*' || want == have
            } else {
                want == '-' || want == have
            }
        })
    }

    /// The kind of area.
    pub fn kind(&self) -> VmaKind {
        let s = self.status;
        if s & status::HEAP != 0 {
            VmaKind::Heap
        } else if s & status::STACK != 0 || self.path.as_deref() == Some("[stack]") {
            VmaKind::Stack
        } else if s & (status::VDSO | status::VVAR | status::VSYSCALL) != 0 {
            VmaKind::Vdso
        } else if s & (status::ANON_SHARED | status::SYSVIPC | status::MEMFD) != 0 {
            VmaKind::Shared
        } else if s & (status::FILE_PRIVATE | status::FILE_SHARED) != 0 {
            VmaKind::File
        } else {
            VmaKind::Anonymous
        }
    }

    /// True if the area's contents are a shared memory segment kept in a
    /// `pagemap-shmem-<id>.img` (shared anonymous, memfd, SysV shm).
    pub fn is_shmem(&self) -> bool {
        self.status & (status::ANON_SHARED | status::SYSVIPC | status::MEMFD) != 0
    }

    /// True if the unmodified pages of the area are a file's contents, which
    /// CRIU does not dump.
    pub fn is_file_backed(&self) -> bool {
        self.status & (status::FILE_PRIVATE | status::FILE_SHARED) != 0 && self.status & status::MEMFD == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vma(prot: u32, flags: u32, status: u32) -> Vma {
        Vma { start: 0x1000, end: 0x3000, pgoff: 0, shmid: 0, prot, flags, status, path: None }
    }

    #[test]
    fn perms_and_filters() {
        let code = vma(PROT_READ | PROT_EXEC, 2, status::REGULAR | status::FILE_PRIVATE);
        assert_eq!(code.perms(), "r-xp");
        assert!(code.perms_match("r-x"));
        assert!(code.perms_match("r-xp"));
        assert!(code.perms_match("--x"));
        assert!(!code.perms_match("rw"));
        assert!(!code.perms_match("r-xs"));
        assert_eq!(code.kind(), VmaKind::File);
        assert!(code.is_file_backed());
        let shared = vma(PROT_READ | PROT_WRITE, MAP_SHARED, status::REGULAR | status::FILE_SHARED | status::MEMFD);
        assert_eq!(shared.perms(), "rw-s");
        assert_eq!(shared.kind(), VmaKind::Shared);
        assert!(!shared.is_file_backed());
        assert_eq!(vma(3, 2, status::REGULAR | status::HEAP | status::ANON_PRIVATE).kind(), VmaKind::Heap);
    }
}
