//! What a piece of memory holds and where its bytes come from: the
//! classification every read, search and count of the memory layer reports.

/// Why a piece of memory is not in the checkpoint.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Missing {
    /// Lazy pages (`PE_LAZY` without `PE_PRESENT`): served by a page server at restore.
    Lazy,
    /// Unmodified pages of a file mapping: they are the file's contents.
    FileBacked,
    /// Areas the kernel provides (`[vvar]`, `[vsyscall]`, ...), not dumped.
    Kernel,
    /// `PE_PARENT` pages that no parent image holds.
    NotInParent,
    /// A shared memory area whose `pagemap-shmem` image is absent.
    NoShmemImage,
    /// The pages file is shorter than its pagemap says.
    Truncated,
}

impl Missing {
    /// A short description.
    pub fn describe(self) -> &'static str {
        match self {
            Missing::Lazy => "lazy pages, not in the checkpoint",
            Missing::FileBacked => "unmodified file-backed pages, not in the checkpoint",
            Missing::Kernel => "kernel-provided area, not dumped",
            Missing::NotInParent => "pages marked as in the parent, but no parent image has them",
            Missing::NoShmemImage => "shared memory without a pagemap-shmem image",
            Missing::Truncated => "pages beyond the end of a truncated pages file",
        }
    }
}

/// Where the bytes of a file-filled piece come from.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum FileOrigin {
    /// The checkpoint's own `rootfs-diff.tar`: the files the container
    /// changed or added, as the container engine saved them.
    Checkpoint,
    /// A root filesystem the caller supplied (`--rootfs DIR`), not part of
    /// the checkpoint.
    Supplied,
}

/// Where a byte of memory comes from: the provenance every result can state.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Origin {
    /// A pages file of the checkpoint (or of a pre-dump in its chain).
    Dumped,
    /// Zero: anonymous or shared memory CRIU did not write.
    Zero,
    /// The mapped file's contents, from the checkpoint or a supplied root filesystem.
    File(FileOrigin),
    /// Not in the checkpoint, and not filled from a file.
    Missing(Missing),
}

impl Origin {
    /// A short name for tables and JSON: `dumped`, `zero`, `rootfs-diff`,
    /// `rootfs-dir` or `missing`.
    pub fn name(self) -> &'static str {
        match self {
            Origin::Dumped => "dumped",
            Origin::Zero => "zero",
            Origin::File(FileOrigin::Checkpoint) => "rootfs-diff",
            Origin::File(FileOrigin::Supplied) => "rootfs-dir",
            Origin::Missing(_) => "missing",
        }
    }
}

/// What a piece of memory holds.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Content<'a> {
    /// The bytes, borrowed from a pages file.
    Dumped(&'a [u8]),
    /// Unmodified file-backed pages, filled from a root filesystem: the
    /// checkpoint's `rootfs-diff.tar` or one the caller supplied.
    File(&'a [u8], FileOrigin),
    /// Zeros (not stored).
    Zero,
    /// Not in the checkpoint.
    Missing(Missing),
}

impl<'a> Content<'a> {
    /// The bytes, for dumped and file-filled pieces.
    pub fn bytes(&self) -> Option<&'a [u8]> {
        match *self {
            Content::Dumped(bytes) | Content::File(bytes, _) => Some(bytes),
            _ => None,
        }
    }

    /// Where these bytes come from.
    pub fn origin(&self) -> Origin {
        match *self {
            Content::Dumped(_) => Origin::Dumped,
            Content::File(_, from) => Origin::File(from),
            Content::Zero => Origin::Zero,
            Content::Missing(why) => Origin::Missing(why),
        }
    }
}

/// A run of addresses inside one VMA with one kind of content.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Piece<'a> {
    /// First address.
    pub start: u64,
    /// End address (exclusive).
    pub end: u64,
    /// Index of the VMA in [`ProcessMemory::vmas`].
    pub vma: usize,
    /// What the addresses hold.
    pub content: Content<'a>,
}

impl<'a> Piece<'a> {
    /// Size in bytes.
    pub fn len(&self) -> u64 {
        self.end - self.start
    }

    /// True for an empty piece (never stored in the index).
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// The sub-piece `[start, end)`, clipped to this piece.
    pub(super) fn clip(&self, start: u64, end: u64) -> Piece<'a> {
        let s = start.max(self.start);
        let e = end.min(self.end).max(s);
        let sub = |bytes: &'a [u8]| &bytes[(s - self.start) as usize..(e - self.start) as usize];
        let content = match self.content {
            Content::Dumped(bytes) => Content::Dumped(sub(bytes)),
            Content::File(bytes, from) => Content::File(sub(bytes), from),
            other => other,
        };
        Piece { start: s, end: e, vma: self.vma, content }
    }
}

/// Dumped, zero and missing page counts of one VMA (crit's `x rss`, right),
/// and the pages filled from files, by where the files came from.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct PageCounts {
    /// Pages whose bytes are in the checkpoint.
    pub dumped: u64,
    /// Pages that read as zero.
    pub zero: u64,
    /// Pages not in the checkpoint (and not filled from a file).
    pub missing: u64,
    /// Pages filled from a file: `from_rootfs_diff + from_rootfs_dir`.
    pub from_file: u64,
    /// Pages filled from the checkpoint's `rootfs-diff.tar`.
    pub from_rootfs_diff: u64,
    /// Pages filled from a root filesystem the caller supplied.
    pub from_rootfs_dir: u64,
}
