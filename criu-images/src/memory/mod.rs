//! Process memory reconstructed from `mm`, `pagemap` and `pages` images.
//!
//! A [`ProcessMemory`] is built once per process: every byte of every memory
//! area (VMA) is classified as
//!
//! * **dumped**: its bytes are in a `pages-<id>.img` (of this dump or of a
//!   parent pre-dump), and reads borrow them from the mapping;
//! * **zero**: CRIU wrote nothing because the page was never touched or was
//!   zero (anonymous memory, or a shared memory segment);
//! * **file**: the unmodified pages of a file mapping (CRIU never dumps
//!   them), filled from a root filesystem when the build is given one: the
//!   checkpoint's `rootfs-diff.tar` or a directory ([`FileOrigin`]);
//! * **missing**: not in the checkpoint: lazy pages, the unmodified pages of a
//!   file mapping no root filesystem has, kernel-provided areas (`[vvar]`),
//!   or parent pages a pre-dump chain lacks.
//!
//! [`Content::origin`] and [`ProcessMemory::origin_at`] say which, byte by
//! byte. The index of pieces is built once and then serves every read and
//! search. Images are attacker-controlled: areas must be sorted, disjoint
//! and non-empty, offsets must not wrap, and reads allocate only what the
//! pieces hold (plus at most [`MAX_ZERO_READ`] bytes of zero pages).
//! Shared anonymous memory, memfd and SysV shm mappings read their contents
//! from `pagemap-shmem-<shmid>.img`. The page size comes from the images
//! (`AT_PAGESZ` in `mm_saved_auxv`, else the architecture), never from the
//! host.

mod names;
mod pagemap;
mod search;
mod vma;

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;

pub use pagemap::{PageRun, Pagemap, PE_LAZY, PE_PARENT, PE_PRESENT};
pub use search::{
    search_all, Encoding, Hit, HitArea, Pattern, SearchCursor, SearchIter, SearchOptions, StringHit, StringsCursor, StringsIter,
};
pub use vma::{status, Vma, VmaKind};

use crate::error::{Error, Location, Result};
use crate::image::Image;
use crate::progress::{Progress, STEP};
use crate::proto::{core_entry, Message, MmEntry};
pub(crate) use names::remap_means_deleted;
use names::FileTables;

/// One level of a dump chain, as the memory layer sees it: named files.
/// A checkpoint is level 0; its `parent` pre-dump is level 1, and so on.
pub trait ImageStore {
    /// The bytes of the file `name` at this level (`None` if it has none).
    fn file(&self, name: &str) -> Result<Option<&[u8]>>;
    /// How to name this level in errors, e.g. `checkpoint.tar:checkpoint`.
    fn label(&self) -> String;
}

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

/// Files of the container's root filesystem, to fill the unmodified pages of
/// file mappings: a directory, or the checkpoint's `rootfs-diff.tar`.
pub trait FileSource {
    /// The contents of the file at absolute `path` (e.g. `/usr/lib/libc.so.6`).
    fn file_bytes(&self, path: &str) -> Option<&[u8]>;

    /// The contents of the file at `path` and where they come from. By
    /// default a file of a root filesystem the caller supplied; sources
    /// that hold the checkpoint's own files say so.
    fn find_file(&self, path: &str) -> Option<(&[u8], FileOrigin)> {
        self.file_bytes(path).map(|bytes| (bytes, FileOrigin::Supplied))
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
    fn clip(&self, start: u64, end: u64) -> Piece<'a> {
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

/// What [`ProcessMemory::dump`] wrote.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct DumpSummary {
    /// Size of the file: the length of the range.
    pub size: u64,
    /// Bytes written from the checkpoint (or the root filesystem).
    pub dumped: u64,
    /// Bytes not in the checkpoint, left as zeros.
    pub missing: u64,
}

/// Holes shorter than this between dumped runs are written as zeros by
/// [`ProcessMemory::dump`] (a file extent per page costs more than the zeros).
const DUMP_HOLE: u64 = 64 << 10;

/// Bytes [`ProcessMemory::dump`] gathers from small runs before a write.
const DUMP_BUFFER: usize = 8 << 20;

/// The reconstructed address space of one process.
pub struct ProcessMemory<'a> {
    pid: u32,
    page_size: u64,
    vmas: Vec<Vma>,
    pieces: Vec<Piece<'a>>,
}

const AT_PAGESZ: u64 = 6;

/// The most zero bytes one read copies out beyond the dumped and file bytes
/// of its range: zero pages cost nothing in the checkpoint, so a hostile
/// range over a huge zero area must not turn into gigabytes of allocation.
/// Larger ranges: [`ProcessMemory::read_up_to`] in parts, or
/// [`ProcessMemory::dump`].
pub const MAX_ZERO_READ: u64 = 64 << 20;

/// Page size of an architecture when the auxiliary vector does not say.
fn arch_page_size(arch: core_entry::March) -> u64 {
    match arch {
        core_entry::March::Ppc64 => 65536,
        core_entry::March::Loongarch64 => 16384,
        _ => 4096,
    }
}

/// The `mm` entry of a process, and where it sits (for errors).
fn load_mm(top: &dyn ImageStore, pid: u32) -> Result<(MmEntry, Location)> {
    let mm_name = format!("mm-{pid}.img");
    let bytes = top.file(&mm_name)?.ok_or_else(|| Error::NotFound {
        container: top.label(),
        name: mm_name.clone(),
        hint: " (a dead or zombie task has no memory)".into(),
    })?;
    let label = format!("{}/{mm_name}", top.label());
    let image = Image::parse(&label, bytes)?;
    for entry in image.entries() {
        let entry = entry?;
        if let Message::MmEntry(mm) = entry.decode()? {
            return Ok((mm, Location::new(label.clone(), entry.offset() as u64).in_entry(entry.index())));
        }
    }
    Err(Error::Malformed { at: Location::new(label, 0), detail: "mm image has no entry".into() })
}

/// The VMAs of an `mm` entry, in the order the kernel keeps them: sorted,
/// disjoint, each non-empty and with an offset that does not wrap.
fn checked_vmas(mm: &MmEntry, at: &Location) -> Result<Vec<Vma>> {
    let malformed = |detail: String| Error::Malformed { at: at.clone(), detail };
    let mut vmas: Vec<(usize, Vma)> = Vec::with_capacity(mm.vmas.len());
    for (i, entry) in mm.vmas.iter().enumerate() {
        let vma = Vma::from_entry(entry);
        if vma.end <= vma.start {
            return Err(malformed(format!("vmas[{i}] {:#x}-{:#x}: an area must end above its start", vma.start, vma.end)));
        }
        if vma.pgoff.checked_add(vma.end - vma.start).is_none() {
            return Err(malformed(format!(
                "vmas[{i}] {:#x}-{:#x}: page offset {:#x} plus the area's length overflows",
                vma.start, vma.end, vma.pgoff
            )));
        }
        vmas.push((i, vma));
    }
    // CRIU writes the areas in address order; order is harmless to restore,
    // overlap is not: every address must belong to one area.
    vmas.sort_by_key(|(_, v)| v.start);
    for pair in vmas.windows(2) {
        let ((i, a), (j, b)) = (&pair[0], &pair[1]);
        if b.start < a.end {
            return Err(malformed(format!(
                "vmas[{j}] {:#x}-{:#x} overlaps vmas[{i}] {:#x}-{:#x}; the kernel keeps areas disjoint",
                b.start, b.end, a.start, a.end
            )));
        }
    }
    Ok(vmas.into_iter().map(|(_, v)| v).collect())
}

impl<'a> ProcessMemory<'a> {
    /// Builds the address space of process `pid` (as the images number it)
    /// from `levels[0]` (the dump) and its parents `levels[1..]`.
    pub fn build(pid: u32, levels: &[&'a dyn ImageStore]) -> Result<ProcessMemory<'a>> {
        ProcessMemory::build_with_files(pid, levels, None)
    }

    /// Like [`ProcessMemory::build`], filling the unmodified pages of file
    /// mappings from `rootfs` (the container's root filesystem) where the
    /// file is there; such pieces are [`Content::File`].
    ///
    /// Fails with [`Error::Malformed`] naming `mm-<pid>.img` when its areas
    /// overlap, are empty, or have an offset that wraps (areas out of order are
    /// put in order).
    pub fn build_with_files(pid: u32, levels: &[&'a dyn ImageStore], rootfs: Option<&'a dyn FileSource>) -> Result<ProcessMemory<'a>> {
        let Some(&top) = levels.first() else {
            return Err(Error::NotFound { container: String::new(), name: format!("mm-{pid}.img"), hint: " (no images given)".into() });
        };
        let (mm, mm_at) = load_mm(top, pid)?;

        let auxv_page_size = mm
            .mm_saved_auxv
            .chunks_exact(2)
            .find(|pair| pair[0] == AT_PAGESZ)
            .map(|pair| pair[1])
            .filter(|&ps| ps.is_power_of_two() && (4096..=1 << 20).contains(&ps));
        let page_size = match auxv_page_size {
            Some(ps) => ps,
            None => {
                let arch = decode_all(top, &format!("core-{pid}.img"))?
                    .unwrap_or_default()
                    .into_iter()
                    .find_map(|m| match m {
                        Message::CoreEntry(core) => Some(core.mtype()),
                        _ => None,
                    })
                    .unwrap_or(core_entry::March::X8664);
                arch_page_size(arch)
            }
        };

        let mut vmas = checked_vmas(&mm, &mm_at)?;
        let files = FileTables::load(top, &vmas)?;
        for vma in &mut vmas {
            vma.path = files.vma_path(vma);
            // CRIU does not flag the main stack; the kernel names the area
            // holding mm->start_stack "[stack]".
            if vma.path.is_none() && (vma.start..vma.end).contains(&mm.mm_start_stack) {
                vma.path = Some("[stack]".into());
            }
        }

        let mut builder = Builder { levels, page_size, pagemaps: HashMap::new(), sources: Vec::new() };
        let mut spans = Vec::new();
        for (index, vma) in vmas.iter().enumerate() {
            let hole = if vma.status & (status::VVAR | status::VSYSCALL) != 0 {
                Content::Missing(Missing::Kernel)
            } else if vma.is_file_backed() || vma.status & (status::SOCKET | status::AIORING) != 0 {
                Content::Missing(Missing::FileBacked)
            } else {
                Content::Zero
            };
            let whole = |content| Span { piece: Piece { start: vma.start, end: vma.end, vma: index, content }, source: None };
            if vma.is_shmem() {
                let Some(shmid) = files.shmem_id(vma) else {
                    spans.push(whole(Content::Missing(Missing::NoShmemImage)));
                    continue;
                };
                let name = format!("pagemap-shmem-{shmid}.img");
                if builder.pagemap(0, &name)?.is_none() {
                    spans.push(whole(Content::Missing(Missing::NoShmemImage)));
                    continue;
                }
                // Offsets in the segment, translated back to addresses;
                // `checked_vmas` made sure `pgoff + len` does not wrap.
                let base = vma.pgoff;
                let seg_end = base
                    .checked_add(vma.len())
                    .ok_or_else(|| Error::Malformed { at: mm_at.clone(), detail: format!("vmas[{index}]: segment offset overflows") })?;
                let mut seg = Vec::new();
                builder.resolve(0, &name, base, seg_end, index, Content::Zero, &mut seg)?;
                for mut span in seg {
                    // resolve keeps pieces inside [base, seg_end), so these stay inside the VMA.
                    span.piece.start = vma.start + (span.piece.start - base);
                    span.piece.end = vma.start + (span.piece.end - base);
                    spans.push(span);
                }
            } else {
                let name = format!("pagemap-{pid}.img");
                builder.resolve(0, &name, vma.start, vma.end, index, hole, &mut spans)?;
            }
        }
        let mut sources = builder.sources;
        if let Some(source) = rootfs {
            spans = fill_from_files(spans, &vmas, page_size, source, &mut sources);
        }
        Ok(ProcessMemory { pid, page_size, vmas, pieces: merge(spans, &sources) })
    }

    /// The process id as the images hold it.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The page size of the checkpointed machine.
    pub fn page_size(&self) -> u64 {
        self.page_size
    }

    /// Memory areas in address order.
    pub fn vmas(&self) -> &[Vma] {
        &self.vmas
    }

    /// The VMA containing `addr`.
    pub fn vma_at(&self, addr: u64) -> Option<&Vma> {
        let i = self.vmas.partition_point(|v| v.end <= addr);
        self.vmas.get(i).filter(|v| v.start <= addr)
    }

    /// The VMA containing `addr`; an [`Error::Memory`] if none does.
    pub fn area_containing(&self, addr: u64) -> Result<&Vma> {
        self.vma_at(addr).ok_or_else(|| self.error(addr, "no memory area contains this address"))
    }

    /// Every piece of every VMA, in address order.
    pub fn pieces(&self) -> &[Piece<'a>] {
        &self.pieces
    }

    /// The pieces overlapping `[start, end)`, clipped to it. Addresses outside
    /// every VMA yield nothing.
    pub fn pieces_in(&self, start: u64, end: u64) -> impl Iterator<Item = Piece<'a>> + '_ {
        let first = self.pieces.partition_point(|p| p.end <= start);
        self.pieces[first..].iter().take_while(move |p| p.start < end).map(move |p| p.clip(start, end))
    }

    /// Where the byte at `addr` comes from; `None` outside every VMA.
    pub fn origin_at(&self, addr: u64) -> Option<Origin> {
        let i = self.pieces.partition_point(|p| p.end <= addr);
        self.pieces.get(i).filter(|p| p.start <= addr).map(|p| p.content.origin())
    }

    /// Page counts of VMA `index` by kind of content. A page split between
    /// pieces (the end of a file) counts once, for the kind of its first byte.
    pub fn page_counts(&self, index: usize) -> PageCounts {
        let Some(vma) = self.vmas.get(index) else { return PageCounts::default() };
        let mut counts = PageCounts::default();
        // Page starts (from the area's start) in [piece.start, piece.end).
        let starts_before = |addr: u64| (addr - vma.start).div_ceil(self.page_size);
        for piece in self.pieces_in(vma.start, vma.end) {
            let pages = starts_before(piece.end) - starts_before(piece.start);
            match piece.content {
                Content::Dumped(_) => counts.dumped += pages,
                Content::Zero => counts.zero += pages,
                Content::Missing(_) => counts.missing += pages,
                Content::File(_, from) => {
                    counts.from_file += pages;
                    match from {
                        FileOrigin::Checkpoint => counts.from_rootfs_diff += pages,
                        FileOrigin::Supplied => counts.from_rootfs_dir += pages,
                    }
                }
            }
        }
        counts
    }

    /// The bytes at `[addr, addr + len)`: borrowed when they lie in one
    /// dumped run, assembled otherwise (zeros for zero pages). Fails if any
    /// byte is outside every VMA or not in the checkpoint, and (an
    /// [`Error::Memory`]) if assembling would copy more than
    /// [`MAX_ZERO_READ`] bytes of zero pages: use
    /// [`read_up_to`](Self::read_up_to) or [`dump`](Self::dump) for those.
    pub fn read(&self, addr: u64, len: u64) -> Result<Cow<'a, [u8]>> {
        let end = addr.checked_add(len).ok_or_else(|| self.error(addr, "address range overflows"))?;
        let bytes = self.readable_bytes(addr, end)?;
        if let Some(borrowed) = self.borrowed(addr, end) {
            return Ok(Cow::Borrowed(borrowed));
        }
        if len - bytes > MAX_ZERO_READ {
            return Err(self.error(
                addr,
                &format!(
                    "reading {len} bytes here copies {} bytes of zero pages, more than one read makes ({MAX_ZERO_READ}); read it in parts or dump it",
                    len - bytes
                ),
            ));
        }
        Ok(Cow::Owned(self.assemble(addr, end, len)))
    }

    /// At most `max` bytes from `addr` of the `len` asked for: the bytes and
    /// whether they were cut short (by `max`, or by [`MAX_ZERO_READ`] bytes
    /// of zero pages). Errors as [`read`](Self::read) for unmapped or
    /// missing bytes inside the part returned; what lies beyond it is not
    /// looked at. Allocates at most the returned length.
    pub fn read_up_to(&self, addr: u64, len: u64, max: u64) -> Result<(Cow<'a, [u8]>, bool)> {
        let want = len.min(max);
        let end = addr.checked_add(want).ok_or_else(|| self.error(addr, "address range overflows"))?;
        // Find where the part ends (at `end`, or where the zero pages copied
        // would pass the limit), checking only the bytes before it.
        let mut at = addr;
        let mut cut = end;
        let mut zeros = 0u64;
        for piece in self.pieces_in(addr, end) {
            if piece.start != at {
                return Err(self.error(at, "address not mapped"));
            }
            match piece.content {
                Content::Missing(why) => return Err(self.error(at, why.describe())),
                Content::Zero if zeros + piece.len() > MAX_ZERO_READ => {
                    cut = piece.start + (MAX_ZERO_READ - zeros);
                    at = cut;
                    break;
                }
                Content::Zero => zeros += piece.len(),
                Content::Dumped(_) | Content::File(..) => {}
            }
            at = piece.end;
        }
        if at != cut {
            return Err(self.error(at, "address not mapped"));
        }
        let taken = cut - addr;
        let bytes = match self.borrowed(addr, cut) {
            Some(borrowed) => Cow::Borrowed(borrowed),
            None => Cow::Owned(self.assemble(addr, cut, taken)),
        };
        Ok((bytes, taken < len))
    }

    /// Checks that every byte of `[addr, end)` is readable (dumped, zero or
    /// from a file), before anything is allocated for it; returns how many
    /// of them are dumped or file bytes.
    fn readable_bytes(&self, addr: u64, end: u64) -> Result<u64> {
        let mut at = addr;
        let mut bytes = 0u64;
        for piece in self.pieces_in(addr, end) {
            if piece.start != at {
                return Err(self.error(at, "address not mapped"));
            }
            match piece.content {
                Content::Missing(why) => return Err(self.error(at, why.describe())),
                Content::Dumped(b) | Content::File(b, _) => bytes += b.len() as u64,
                Content::Zero => {}
            }
            at = piece.end;
        }
        if at != end {
            return Err(self.error(at, "address not mapped"));
        }
        Ok(bytes)
    }

    /// `[addr, end)` as one borrowed slice, when one piece with bytes holds it all.
    fn borrowed(&self, addr: u64, end: u64) -> Option<&'a [u8]> {
        let first = self.pieces_in(addr, end).next()?;
        first.content.bytes().filter(|_| first.start == addr && first.end == end)
    }

    /// The bytes of `[addr, end)` (`len` of them), already checked readable.
    fn assemble(&self, addr: u64, end: u64, len: u64) -> Vec<u8> {
        let mut out = Vec::with_capacity(len as usize);
        for piece in self.pieces_in(addr, end) {
            match piece.content {
                Content::Dumped(bytes) | Content::File(bytes, _) => out.extend_from_slice(bytes),
                Content::Zero => out.resize(out.len() + piece.len() as usize, 0),
                Content::Missing(_) => break,
            }
        }
        out
    }

    /// The NUL-terminated string at `addr` (without the NUL), at most `max` bytes.
    pub fn read_cstring(&self, addr: u64, max: u64) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut at = addr;
        for piece in self.pieces_in(addr, addr.saturating_add(max)) {
            if piece.start != at {
                return Err(self.error(at, "address not mapped"));
            }
            match piece.content {
                Content::Dumped(bytes) | Content::File(bytes, _) => {
                    if let Some(nul) = memchr::memchr(0, bytes) {
                        out.extend_from_slice(&bytes[..nul]);
                        return Ok(out);
                    }
                    out.extend_from_slice(bytes);
                }
                Content::Zero => return Ok(out),
                Content::Missing(why) => return Err(self.error(piece.start, why.describe())),
            }
            at = piece.end;
        }
        Ok(out)
    }

    /// Writes `[start, end)` to a new file at `path`: dumped bytes at their
    /// offsets, zero and missing pages as holes (sparse where the file
    /// system allows), so that file offset = address - `start`.
    pub fn dump(&self, start: u64, end: u64, path: &Path) -> Result<DumpSummary> {
        self.dump_with(start, end, path, None)
    }

    /// [`dump`](Self::dump), reporting the bytes written to `progress` (its
    /// total: the dumped bytes of the range). Cancelling it stops the work
    /// with [`Error::Cancelled`] and removes the incomplete file.
    pub fn dump_with(&self, start: u64, end: u64, path: &Path, progress: Option<&Progress>) -> Result<DumpSummary> {
        // Checked before the file exists: file offsets are signed 64-bit.
        if end < start {
            return Err(self.error(start, &format!("range {start:#x}-{end:#x} ends before it starts")));
        }
        if end - start > i64::MAX as u64 {
            return Err(
                self.error(start, &format!("range {start:#x}-{end:#x} is {} bytes, more than a file can hold (2^63 - 1)", end - start))
            );
        }
        if let Some(progress) = progress {
            progress.set_total(self.pieces_in(start, end).filter_map(|p| p.content.bytes()).map(|b| b.len() as u64).sum());
        }
        let name = path.display().to_string();
        let file = std::fs::File::create(path).map_err(|e| Error::io(&name, e))?;
        let written = self.write_dump(file, start, end, &name, progress);
        if written.is_err() {
            // An incomplete dump must not pass for the memory.
            let _ = std::fs::remove_file(path);
        }
        written
    }

    /// Writes the pieces of `[start, end)` to `file`. Runs of small pieces
    /// are gathered into one buffer, and holes shorter than [`DUMP_HOLE`]
    /// between them are written as zeros, so that memory cut into many
    /// runs is written in large sequential writes, not one write (and one
    /// file extent) per page; longer holes stay sparse.
    fn write_dump(&self, mut file: std::fs::File, start: u64, end: u64, name: &str, progress: Option<&Progress>) -> Result<DumpSummary> {
        let name = name.to_string();
        let mut summary = DumpSummary { size: end - start, ..DumpSummary::default() };
        let mut buffer: Vec<u8> = Vec::new();
        // File offset of the buffer's first byte.
        let mut buffered_at = 0u64;
        let write_at = |file: &mut std::fs::File, offset: u64, bytes: &[u8]| -> Result<()> {
            file.seek(SeekFrom::Start(offset)).map_err(|e| Error::io(&name, e))?;
            for chunk in bytes.chunks(STEP) {
                if let Some(progress) = progress {
                    progress.check()?;
                }
                file.write_all(chunk).map_err(|e| Error::io(&name, e))?;
            }
            Ok(())
        };
        for piece in self.pieces_in(start, end) {
            let offset = piece.start - start;
            let Some(bytes) = piece.content.bytes() else {
                if let Content::Missing(_) = piece.content {
                    summary.missing += piece.len();
                }
                if !buffer.is_empty() && piece.len() < DUMP_HOLE && buffer.len() as u64 + piece.len() <= DUMP_BUFFER as u64 {
                    buffer.resize(buffer.len() + piece.len() as usize, 0);
                }
                continue;
            };
            summary.dumped += bytes.len() as u64;
            if let Some(progress) = progress {
                progress.advance(bytes.len() as u64);
            }
            let joins = buffered_at + buffer.len() as u64 == offset;
            if !buffer.is_empty() && (!joins || buffer.len() + bytes.len() > DUMP_BUFFER) {
                write_at(&mut file, buffered_at, &buffer)?;
                buffer.clear();
            }
            if bytes.len() >= DUMP_BUFFER {
                write_at(&mut file, offset, bytes)?;
                continue;
            }
            if buffer.is_empty() {
                buffered_at = offset;
            }
            buffer.extend_from_slice(bytes);
        }
        if !buffer.is_empty() {
            write_at(&mut file, buffered_at, &buffer)?;
        }
        file.set_len(summary.size).map_err(|e| Error::io(&name, e))?;
        if let Some(progress) = progress {
            progress.finish();
        }
        Ok(summary)
    }

    fn error(&self, address: u64, detail: &str) -> Error {
        Error::Memory { pid: self.pid, address, detail: detail.to_string(), checkpoint: String::new() }
    }
}

/// Where a piece's bytes sit: `offset` in the data source `id` (a pages
/// file of one level, or one mapped file), an index into the sources the
/// build collected.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Source {
    id: usize,
    offset: u64,
}

/// A piece under construction, with where its bytes come from.
#[derive(Clone, Copy, Debug)]
struct Span<'a> {
    piece: Piece<'a>,
    source: Option<Source>,
}

/// Replaces file-backed missing pieces by the file's bytes where `files`
/// has the file. The rest of the page holding the file's end reads as zero,
/// as the kernel maps it; pages wholly past the end stay missing (the
/// kernel would SIGBUS). Each file is looked up once and becomes one data
/// source.
fn fill_from_files<'a>(
    spans: Vec<Span<'a>>,
    vmas: &[Vma],
    page_size: u64,
    files: &'a dyn FileSource,
    sources: &mut Vec<&'a [u8]>,
) -> Vec<Span<'a>> {
    let mut found: HashMap<&str, Option<(usize, FileOrigin)>> = HashMap::new();
    let mut out = Vec::with_capacity(spans.len());
    for span in spans {
        let piece = span.piece;
        let vma = &vmas[piece.vma];
        let file = match (piece.content, vma.path.as_deref()) {
            (Content::Missing(Missing::FileBacked), Some(path)) if vma.is_file_backed() => *found.entry(path).or_insert_with(|| {
                let (bytes, from) = files.find_file(path.strip_suffix(" (deleted)").unwrap_or(path))?;
                sources.push(bytes);
                Some((sources.len() - 1, from))
            }),
            _ => None,
        };
        // The offset in the file; `checked_vmas` bounds `pgoff + len`, checked again here.
        let offset = file.and_then(|_| vma.pgoff.checked_add(piece.start - vma.start));
        let (Some((id, from)), Some(offset)) = (file, offset) else {
            out.push(span);
            continue;
        };
        let bytes = sources[id];
        let available = (bytes.len() as u64).saturating_sub(offset).min(piece.len());
        if available > 0 {
            // `available > 0` puts `offset + available` inside the file.
            let data = &bytes[offset as usize..(offset + available) as usize];
            let filled = Piece { start: piece.start, end: piece.start + available, vma: piece.vma, content: Content::File(data, from) };
            out.push(Span { piece: filled, source: Some(Source { id, offset }) });
        }
        let mut at = piece.start + available;
        if available > 0 && available < piece.len() {
            // Zeros up to the end of the page holding the file's end (pages count from the area's start).
            let page_end = (at - vma.start).div_ceil(page_size).saturating_mul(page_size).saturating_add(vma.start).min(piece.end);
            if page_end > at {
                out.push(Span { piece: Piece { start: at, end: page_end, vma: piece.vma, content: Content::Zero }, source: None });
                at = page_end;
            }
        }
        if at < piece.end {
            out.push(Span { piece: Piece { start: at, ..piece }, source: None });
        }
    }
    out
}

/// Every message of image `name` at `store`, typed; `None` if the file is
/// absent. Shared with the model layer.
pub(crate) fn decode_all(store: &dyn ImageStore, name: &str) -> Result<Option<Vec<Message>>> {
    let Some(bytes) = store.file(name)? else { return Ok(None) };
    let label = format!("{}/{name}", store.label());
    let image = Image::parse(&label, bytes)?;
    let mut messages = Vec::new();
    for entry in image.entries() {
        messages.push(entry?.decode()?);
    }
    Ok(Some(messages))
}

/// Joins neighbouring pieces of one kind, so that reads and searches see one
/// slice where CRIU wrote one run. Pieces with bytes are joined only when
/// they come from the same data source at consecutive offsets: two
/// separate mappings (two levels of a pre-dump chain, two files) may well
/// be neighbours in the address space, and are never fused. The joined
/// slice is cut from the source again, so no pointer arithmetic is needed.
fn merge<'a>(spans: Vec<Span<'a>>, sources: &[&'a [u8]]) -> Vec<Piece<'a>> {
    let mut out: Vec<Span<'a>> = Vec::with_capacity(spans.len());
    for span in spans {
        let piece = span.piece;
        if piece.is_empty() {
            continue;
        }
        if let Some(last) = out.last_mut() {
            if last.piece.end == piece.start && last.piece.vma == piece.vma {
                let joined_bytes = |a: &[u8], b: &[u8]| {
                    let (x, y) = (last.source?, span.source?);
                    let next = x.offset.checked_add(a.len() as u64)?;
                    if x.id != y.id || next != y.offset {
                        return None;
                    }
                    let end = usize::try_from(next.checked_add(b.len() as u64)?).ok()?;
                    sources.get(x.id)?.get(usize::try_from(x.offset).ok()?..end)
                };
                let joined = match (last.piece.content, piece.content) {
                    (Content::Dumped(a), Content::Dumped(b)) => joined_bytes(a, b).map(Content::Dumped),
                    (Content::File(a, p), Content::File(b, q)) if p == q => joined_bytes(a, b).map(|j| Content::File(j, p)),
                    (Content::Zero, Content::Zero) => Some(Content::Zero),
                    (Content::Missing(x), Content::Missing(y)) if x == y => Some(Content::Missing(x)),
                    _ => None,
                };
                if let Some(content) = joined {
                    last.piece.content = content;
                    last.piece.end = piece.end;
                    continue;
                }
            }
        }
        out.push(span);
    }
    out.into_iter().map(|s| s.piece).collect()
}

/// A parsed pagemap, its pages file, and the pages file's source id.
type LoadedPagemap<'a> = (Pagemap, &'a [u8], usize);

/// Resolves pagemap runs through the chain of dumps.
struct Builder<'l, 'a> {
    levels: &'l [&'a dyn ImageStore],
    page_size: u64,
    /// (level, pagemap name) -> the parsed pagemap and its pages file.
    pagemaps: HashMap<(usize, String), Option<LoadedPagemap<'a>>>,
    /// Every data source pieces borrow from, by id (see [`Source`]).
    sources: Vec<&'a [u8]>,
}

impl<'a> Builder<'_, 'a> {
    /// The pagemap `name` at `level` and its pages file, parsed once.
    fn pagemap(&mut self, level: usize, name: &str) -> Result<Option<&LoadedPagemap<'a>>> {
        let key = (level, name.to_string());
        if !self.pagemaps.contains_key(&key) {
            let store = self.levels[level];
            let loaded = match store.file(name)? {
                None => None,
                Some(bytes) => {
                    let label = format!("{}/{name}", store.label());
                    let image = Image::parse(&label, bytes)?;
                    let pagemap = Pagemap::parse(&image, self.page_size)?;
                    let pages_name = format!("pages-{}.img", pagemap.pages_id);
                    let pages = store.file(&pages_name)?.unwrap_or(&[]);
                    // One id per pages file of a level: the pagemap and the
                    // shmem pagemaps that name it share its bytes.
                    let same = self.pagemaps.iter().find_map(|((l, _), loaded)| match loaded {
                        Some((other, _, id)) if *l == level && other.pages_id == pagemap.pages_id => Some(*id),
                        _ => None,
                    });
                    let id = same.unwrap_or_else(|| {
                        self.sources.push(pages);
                        self.sources.len() - 1
                    });
                    Some((pagemap, pages, id))
                }
            };
            self.pagemaps.insert(key.clone(), loaded);
        }
        Ok(self.pagemaps[&key].as_ref())
    }

    /// Appends the pieces of `[start, end)` (in the pagemap's address space)
    /// at `level`; addresses no run covers get `hole`.
    #[allow(clippy::too_many_arguments)]
    fn resolve(
        &mut self,
        level: usize,
        name: &str,
        start: u64,
        end: u64,
        vma: usize,
        hole: Content<'a>,
        out: &mut Vec<Span<'a>>,
    ) -> Result<()> {
        let page_size = self.page_size;
        let span = |start, end, content| Span { piece: Piece { start, end, vma, content }, source: None };
        let Some((pagemap, pages, id)) = self.pagemap(level, name)? else {
            out.push(span(start, end, hole));
            return Ok(());
        };
        let (pages, id): (&'a [u8], usize) = (pages, *id);
        let first = pagemap.runs.partition_point(|r| r.end(page_size) <= start);
        let runs: Vec<PageRun> = pagemap.runs[first..].iter().take_while(|r| r.vaddr < end).copied().collect();
        let mut at = start;
        for run in runs {
            let run_start = run.vaddr.max(start);
            let run_end = run.end(page_size).min(end);
            if run_start > at {
                out.push(span(at, run_start, hole));
            }
            if run.flags & PE_PRESENT != 0 {
                let offset = run.pages_offset.unwrap_or(0).checked_add(run_start - run.vaddr);
                let len = run_end - run_start;
                let data = offset.and_then(|o| Some((o, pages.get(usize::try_from(o).ok()?..usize::try_from(o.checked_add(len)?).ok()?)?)));
                match data {
                    Some((offset, data)) => out.push(Span {
                        piece: Piece { start: run_start, end: run_end, vma, content: Content::Dumped(data) },
                        source: Some(Source { id, offset }),
                    }),
                    None => out.push(span(run_start, run_end, Content::Missing(Missing::Truncated))),
                }
            } else if run.flags & PE_PARENT != 0 {
                if level + 1 < self.levels.len() {
                    let missing = Content::Missing(Missing::NotInParent);
                    self.resolve(level + 1, name, run_start, run_end, vma, missing, out)?;
                } else {
                    out.push(span(run_start, run_end, Content::Missing(Missing::NotInParent)));
                }
            } else {
                out.push(span(run_start, run_end, Content::Missing(Missing::Lazy)));
            }
            at = run_end;
        }
        if at < end {
            out.push(span(at, end, hole));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::from_json;

    const PAGE: u64 = 4096;
    const BASE: u64 = 0x7f00_0000_0000;

    /// One dump level over borrowed bytes.
    struct Store<'s> {
        label: &'static str,
        files: HashMap<String, &'s [u8]>,
    }

    impl ImageStore for Store<'_> {
        fn file(&self, name: &str) -> Result<Option<&[u8]>> {
            Ok(self.files.get(name).copied())
        }
        fn label(&self) -> String {
            self.label.to_string()
        }
    }

    fn encode(name: &str, json: &str) -> Vec<u8> {
        from_json(json.as_bytes(), name).unwrap()
    }

    /// `mm-1.img` with these areas: (start, end, pgoff, shmid, flags, status).
    fn mm_image(vmas: &[(u64, u64, u64, u64, u32, u32)]) -> Vec<u8> {
        let vmas: Vec<String> = vmas
            .iter()
            .map(|&(start, end, pgoff, shmid, flags, status)| {
                format!(r#"{{"start": {start}, "end": {end}, "pgoff": {pgoff}, "shmid": {shmid}, "prot": 3, "flags": {flags}, "status": {status}, "fd": -1}}"#)
            })
            .collect();
        encode(
            "mm-1.img",
            &format!(
                r#"{{"magic": "MM", "entries": [{{"mm_start_code": 0, "mm_end_code": 0, "mm_start_data": 0, "mm_end_data": 0, "mm_start_stack": 0, "mm_start_brk": 0, "mm_brk": 0, "mm_arg_start": 0, "mm_arg_end": 0, "mm_env_start": 0, "mm_env_end": 0, "exe_file_id": 0, "vmas": [{}]}}]}}"#,
                vmas.join(", ")
            ),
        )
    }

    /// A pagemap image with these runs: (vaddr, pages, flags).
    fn pagemap(runs: &[(u64, u64, u32)]) -> Vec<u8> {
        let mut entries = vec![r#"{"pages_id": 1}"#.to_string()];
        entries.extend(
            runs.iter()
                .map(|&(vaddr, n, flags)| format!(r#"{{"vaddr": {vaddr}, "compat_nr_pages": 0, "flags": {flags}, "nr_pages": {n}}}"#)),
        );
        encode("pagemap-1.img", &format!(r#"{{"magic": "PAGEMAP", "entries": [{}]}}"#, entries.join(", ")))
    }

    const ANON: (u32, u32) = (0x22, status::REGULAR | status::ANON_PRIVATE);

    fn store<'s>(label: &'static str, files: &[(&str, &'s [u8])]) -> Store<'s> {
        Store { label, files: files.iter().map(|&(n, b)| (n.to_string(), b)).collect() }
    }

    fn malformed(err: Error) -> String {
        assert!(matches!(err, Error::Malformed { .. }), "{err:?}");
        err.to_string()
    }

    #[test]
    fn overlapping_or_empty_areas_are_an_error_naming_the_mm_image() {
        let (f, s) = ANON;
        let cases = [
            (
                vec![(BASE, BASE + 4 * PAGE, 0, 0, f, s), (BASE + 2 * PAGE, BASE + 6 * PAGE, 0, 0, f, s)],
                "vmas[1] 0x7f0000002000-0x7f0000006000 overlaps vmas[0] 0x7f0000000000-0x7f0000004000",
            ),
            (
                // Out of order and overlapping once sorted: named by their places in the image.
                vec![(BASE + 8 * PAGE, BASE + 9 * PAGE, 0, 0, f, s), (BASE, BASE + 9 * PAGE, 0, 0, f, s)],
                "vmas[0] 0x7f0000008000-0x7f0000009000 overlaps vmas[1] 0x7f0000000000-0x7f0000009000",
            ),
            (vec![(BASE, BASE, 0, 0, f, s)], "vmas[0] 0x7f0000000000-0x7f0000000000: an area must end above its start"),
            (vec![(BASE + PAGE, BASE, 0, 0, f, s)], "must end above its start"),
        ];
        for (vmas, expected) in cases {
            let mm = mm_image(&vmas);
            let level = store("dump", &[("mm-1.img", &mm)]);
            let err = malformed(ProcessMemory::build(1, &[&level]).err().expect("a hostile mm must not build"));
            assert!(err.starts_with("dump/mm-1.img: offset ") && err.contains("(entry 0)") && err.contains(expected), "{err}");
        }
        // Areas out of order are put in order.
        let unsorted = mm_image(&[(BASE + 8 * PAGE, BASE + 9 * PAGE, 0, 0, f, s), (BASE, BASE + PAGE, 0, 0, f, s)]);
        let level = store("dump", &[("mm-1.img", &unsorted)]);
        let starts: Vec<u64> = ProcessMemory::build(1, &[&level]).unwrap().vmas().iter().map(|v| v.start).collect();
        assert_eq!(starts, [BASE, BASE + 8 * PAGE]);
        // Touching areas are fine.
        let touching = mm_image(&[(BASE, BASE + PAGE, 0, 0, f, s), (BASE + PAGE, BASE + 2 * PAGE, 0, 0, f, s)]);
        let level = store("dump", &[("mm-1.img", &touching)]);
        assert_eq!(ProcessMemory::build(1, &[&level]).unwrap().pieces().len(), 2);
    }

    #[test]
    fn a_shared_area_whose_offset_wraps_is_an_error_not_an_empty_area() {
        let status = status::REGULAR | status::ANON_SHARED;
        let pgoff = u64::MAX - PAGE + 1;
        let mm = mm_image(&[(BASE, BASE + 2 * PAGE, pgoff, 7, 1, status)]);
        let shmem = pagemap(&[(0, 1, PE_PRESENT)]);
        let pages = vec![b'x'; PAGE as usize];
        let level = store("dump", &[("mm-1.img", &mm), ("pagemap-shmem-7.img", &shmem), ("pages-1.img", &pages)]);
        let err = malformed(ProcessMemory::build(1, &[&level]).err().expect("a wrapping offset must not build"));
        assert!(err.contains("mm-1.img") && err.contains("page offset 0xfffffffffffff000 plus the area's length overflows"), "{err}");

        // The same area at a sane offset reads its segment.
        let sane = mm_image(&[(BASE, BASE + 2 * PAGE, PAGE, 7, 1, status)]);
        let shmem = pagemap(&[(PAGE, 1, PE_PRESENT)]);
        let level = store("dump", &[("mm-1.img", &sane), ("pagemap-shmem-7.img", &shmem), ("pages-1.img", &pages)]);
        let memory = ProcessMemory::build(1, &[&level]).unwrap();
        assert_eq!(memory.page_counts(0), PageCounts { dumped: 1, zero: 1, ..PageCounts::default() });
        assert_eq!(&*memory.read(BASE, 3).unwrap(), b"xxx");
    }

    #[test]
    fn neighbouring_pages_of_two_sources_are_never_joined() {
        let (f, s) = ANON;
        let mm = mm_image(&[(BASE, BASE + 2 * PAGE, 0, 0, f, s)]);
        // One allocation, handed out as two different pages files: the
        // dump's and its parent's. Their bytes are neighbours in memory,
        // and so are their addresses, but they are two mappings.
        let mut buffer = vec![b'a'; 2 * PAGE as usize];
        buffer[PAGE as usize..].fill(b'b');
        let (first, second) = buffer.split_at(PAGE as usize);
        let top_map = pagemap(&[(BASE, 1, PE_PRESENT), (BASE + PAGE, 1, PE_PARENT)]);
        let parent_map = pagemap(&[(BASE + PAGE, 1, PE_PRESENT)]);
        let top = store("dump", &[("mm-1.img", &mm), ("pagemap-1.img", &top_map), ("pages-1.img", first)]);
        let parent = store("parent", &[("pagemap-1.img", &parent_map), ("pages-1.img", second)]);
        let memory = ProcessMemory::build(1, &[&top, &parent]).unwrap();
        let pieces = memory.pieces();
        assert_eq!(pieces.len(), 2, "{:?}", pieces.iter().map(|p| (p.start, p.end)).collect::<Vec<_>>());
        assert_eq!(pieces[0].content, Content::Dumped(first));
        assert_eq!(pieces[1].content, Content::Dumped(second));
        // A read across both is assembled, not borrowed from one slice.
        let across = memory.read(BASE + PAGE - 1, 2).unwrap();
        assert!(matches!(across, Cow::Owned(_)) && &*across == b"ab");

        // Two runs of one pages file at consecutive offsets are one piece.
        let both = pagemap(&[(BASE, 1, PE_PRESENT), (BASE + PAGE, 1, PE_PRESENT | PE_LAZY)]);
        let one = store("dump", &[("mm-1.img", &mm), ("pagemap-1.img", &both), ("pages-1.img", &buffer)]);
        let memory = ProcessMemory::build(1, &[&one]).unwrap();
        assert_eq!(memory.pieces().len(), 1);
        assert!(matches!(memory.read(BASE + PAGE - 1, 2).unwrap(), Cow::Borrowed(b"ab")));
    }

    #[test]
    fn merge_joins_only_consecutive_bytes_of_one_source() {
        let buffer: Vec<u8> = (0..=255).collect();
        let sources: Vec<&[u8]> = vec![&buffer[..128], &buffer[128..]];
        let span = |start: u64, id: usize, offset: u64| {
            let bytes = &sources[id][offset as usize..offset as usize + 64];
            Span { piece: Piece { start, end: start + 64, vma: 0, content: Content::Dumped(bytes) }, source: Some(Source { id, offset }) }
        };
        // Source 0 at 64..128 and source 1 at 0..64: adjacent in memory, not one source.
        assert_eq!(merge(vec![span(0, 0, 64), span(64, 1, 0)], &sources).len(), 2);
        // One source, consecutive offsets: joined, and cut from the source.
        let joined = merge(vec![span(0, 1, 0), span(64, 1, 64)], &sources);
        assert_eq!(joined.len(), 1);
        assert_eq!(joined[0].content, Content::Dumped(&buffer[128..]));
        // One source, but not consecutive: two pieces.
        assert_eq!(merge(vec![span(0, 1, 64), span(64, 1, 0)], &sources).len(), 2);
    }

    #[test]
    fn read_up_to_caps_what_it_returns_and_says_so() {
        let (f, s) = ANON;
        let huge = 64u64 << 30;
        let mm = mm_image(&[(BASE, BASE + 2 * PAGE, 0, 0, f, s), (BASE + 4 * PAGE, BASE + 4 * PAGE + huge, 0, 0, f, s)]);
        let map = pagemap(&[(BASE, 1, PE_PRESENT)]);
        let mut pages = vec![b'p'; PAGE as usize];
        pages[..5].copy_from_slice(b"hello");
        let level = store("dump", &[("mm-1.img", &mm), ("pagemap-1.img", &map), ("pages-1.img", &pages)]);
        let memory = ProcessMemory::build(1, &[&level]).unwrap();

        let (bytes, cut) = memory.read_up_to(BASE, 5, 100).unwrap();
        assert!(matches!(bytes, Cow::Borrowed(b"hello")) && !cut);
        let (bytes, cut) = memory.read_up_to(BASE, 2 * PAGE, 3).unwrap();
        assert_eq!((&*bytes, cut), (&b"hel"[..], true));
        // Across the dumped page into the zero page: assembled, capped.
        let (bytes, cut) = memory.read_up_to(BASE + PAGE - 2, 2 * PAGE, 4).unwrap();
        assert_eq!((&*bytes, cut), (&b"pp\0\0"[..], true));
        // Unmapped bytes inside the returned part: the error of `read`.
        let err = memory.read_up_to(BASE + PAGE, 4 * PAGE, 3 * PAGE).err().unwrap();
        assert!(matches!(err, Error::Memory { address, .. } if address == BASE + 2 * PAGE), "{err:?}");
        // ... but not beyond it.
        assert!(memory.read_up_to(BASE + PAGE, 4 * PAGE, PAGE).unwrap().1);

        // A huge zero area: `read` refuses, `read_up_to` stops at the limit.
        let start = BASE + 4 * PAGE;
        let err = memory.read(start, huge).err().unwrap();
        assert!(err.to_string().contains("zero pages"), "{err}");
        let (bytes, cut) = memory.read_up_to(start, huge, u64::MAX).unwrap();
        assert!(cut && bytes.len() as u64 == MAX_ZERO_READ && bytes.iter().all(|&b| b == 0));
        let (bytes, cut) = memory.read_up_to(start, 100, u64::MAX).unwrap();
        assert_eq!((bytes.len(), cut), (100, false));
        // The range overflowing the address space is an error, not a wrap.
        assert!(memory.read_up_to(u64::MAX - 1, 10, 5).is_err());
    }

    /// Files by path, tagged as the checkpoint's own.
    struct Diff(HashMap<&'static str, Vec<u8>>);

    impl FileSource for Diff {
        fn file_bytes(&self, path: &str) -> Option<&[u8]> {
            self.0.get(path).map(Vec::as_slice)
        }
        fn find_file(&self, path: &str) -> Option<(&[u8], FileOrigin)> {
            self.file_bytes(path).map(|b| (b, FileOrigin::Checkpoint))
        }
    }

    #[test]
    fn every_byte_says_where_it_came_from() {
        let file = status::REGULAR | status::FILE_SHARED;
        let (f, s) = ANON;
        let mm = mm_image(&[(BASE, BASE + 2 * PAGE, 0, 0, f, s), (BASE + 2 * PAGE, BASE + 5 * PAGE, PAGE, 9, 1, file)]);
        let files = encode(
            "files.img",
            r#"{"magic": "FILES", "entries": [{"id": 9, "type": "REG", "reg": {"id": 9, "flags": "O_RDWR", "pos": 0, "fown": {"uid": 0, "euid": 0, "signum": 0, "pid_type": 0, "pid": 0}, "name": "/data/x.bin"}}]}"#,
        );
        let map = pagemap(&[(BASE, 1, PE_PRESENT)]);
        let pages = vec![b'd'; PAGE as usize];
        let level = store("dump", &[("mm-1.img", &mm), ("files.img", &files), ("pagemap-1.img", &map), ("pages-1.img", &pages)]);
        // The file covers the area's offset and one page and a half of it.
        let mut contents = vec![b'-'; PAGE as usize];
        contents.extend(std::iter::repeat_n(b'f', PAGE as usize * 3 / 2));
        let diff = Diff([("/data/x.bin", contents)].into_iter().collect());

        let plain = ProcessMemory::build(1, &[&level]).unwrap();
        assert_eq!(plain.origin_at(BASE + 2 * PAGE), Some(Origin::Missing(Missing::FileBacked)));
        let memory = ProcessMemory::build_with_files(1, &[&level], Some(&diff)).unwrap();
        assert_eq!(memory.origin_at(BASE), Some(Origin::Dumped));
        assert_eq!(memory.origin_at(BASE + PAGE), Some(Origin::Zero));
        assert_eq!(memory.origin_at(BASE + 2 * PAGE), Some(Origin::File(FileOrigin::Checkpoint)));
        // The rest of the page holding the file's end reads as zero; the pages after it are missing.
        assert_eq!(memory.origin_at(BASE + 3 * PAGE + PAGE / 2), Some(Origin::Zero));
        assert_eq!(&*memory.read(BASE + 3 * PAGE + PAGE / 2 - 1, 2).unwrap(), b"f\0");
        assert_eq!(memory.origin_at(BASE + 4 * PAGE), Some(Origin::Missing(Missing::FileBacked)));
        assert_eq!(memory.origin_at(BASE + 5 * PAGE), None);
        assert_eq!(&*memory.read(BASE + 2 * PAGE, 2).unwrap(), b"ff");
        let counts = memory.page_counts(1);
        assert_eq!((counts.from_file, counts.from_rootfs_diff, counts.from_rootfs_dir, counts.zero, counts.missing), (2, 2, 0, 0, 1));
        assert_eq!(Origin::File(FileOrigin::Checkpoint).name(), "rootfs-diff");

        // The default `find_file`: a file the caller supplied.
        struct Dir<'d>(&'d Diff);
        impl FileSource for Dir<'_> {
            fn file_bytes(&self, path: &str) -> Option<&[u8]> {
                self.0.file_bytes(path)
            }
        }
        let dir = Dir(&diff);
        let memory = ProcessMemory::build_with_files(1, &[&level], Some(&dir)).unwrap();
        assert_eq!(memory.origin_at(BASE + 2 * PAGE), Some(Origin::File(FileOrigin::Supplied)));
        assert_eq!(memory.page_counts(1).from_rootfs_dir, 2);
    }

    /// A small deterministic generator (xorshift64*).
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n.max(1)
        }
        fn pick<T: Copy>(&mut self, from: &[T]) -> T {
            from[self.below(from.len() as u64) as usize]
        }
    }

    #[test]
    fn random_hostile_images_build_an_ordered_index_or_an_error() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let edges = [0, PAGE, BASE, BASE + PAGE, 1 << 47, u64::MAX - 2 * PAGE + 1, u64::MAX - PAGE + 1, u64::MAX, 1 << 63];
        let kinds = [
            ANON,
            (1, status::REGULAR | status::FILE_SHARED),
            (2, status::REGULAR | status::FILE_PRIVATE),
            (1, status::REGULAR | status::ANON_SHARED),
            (0x22, status::VVAR),
        ];
        let flags = [PE_PRESENT, PE_PRESENT | PE_LAZY, PE_PARENT, PE_LAZY, 0];
        let files = encode(
            "files.img",
            r#"{"magic": "FILES", "entries": [{"id": 9, "type": "REG", "reg": {"id": 9, "flags": "O_RDWR", "pos": 0, "fown": {"uid": 0, "euid": 0, "signum": 0, "pid_type": 0, "pid": 0}, "name": "/data/x.bin"}}]}"#,
        );
        let (mut built, mut refused) = (0, 0);
        for _ in 0..400 {
            let mut vmas = Vec::new();
            let mut at = BASE;
            for _ in 0..1 + rng.below(4) {
                let start = if rng.below(8) == 0 { rng.pick(&edges) } else { at.saturating_add(rng.below(3) * PAGE) };
                let end = if rng.below(8) == 0 { rng.pick(&edges) } else { start.saturating_add((1 + rng.below(4)) * PAGE) };
                let pgoff = if rng.below(6) == 0 { rng.pick(&edges) } else { rng.below(4) * PAGE };
                let (f, s) = rng.pick(&kinds);
                let shmid = if s & status::ANON_SHARED != 0 { 7 } else { 9 };
                vmas.push((start, end, pgoff, shmid, f, s));
                at = end;
            }
            let mut runs = |base: u64| {
                let mut runs = Vec::new();
                let mut at = base;
                for _ in 0..rng.below(5) {
                    let vaddr = if rng.below(10) == 0 { rng.pick(&edges) } else { at.saturating_add(rng.below(3) * PAGE) };
                    let pages = if rng.below(10) == 0 { rng.pick(&[0, u64::MAX / PAGE, 1 << 40]) } else { 1 + rng.below(3) };
                    runs.push((vaddr, pages, rng.pick(&flags)));
                    at = vaddr.saturating_add(pages.saturating_mul(PAGE));
                }
                runs
            };
            let (top_runs, parent_runs, shmem_runs) = (runs(BASE), runs(BASE), runs(0));
            let mm = mm_image(&vmas);
            let (top_map, parent_map, shmem_map) = (pagemap(&top_runs), pagemap(&parent_runs), pagemap(&shmem_runs));
            let pages: Vec<u8> = (0..rng.below(8) * PAGE / 2).map(|i| i as u8).collect();
            let top = store(
                "dump",
                &[
                    ("mm-1.img", &mm),
                    ("files.img", &files),
                    ("pagemap-1.img", &top_map),
                    ("pagemap-shmem-7.img", &shmem_map),
                    ("pages-1.img", &pages),
                ],
            );
            let parent = store("parent", &[("pagemap-1.img", &parent_map), ("pages-1.img", &pages[pages.len() / 2..])]);
            let diff = Diff([("/data/x.bin", vec![b'f'; rng.below(5 * PAGE) as usize])].into_iter().collect());
            let memory = match ProcessMemory::build_with_files(1, &[&top, &parent], Some(&diff)) {
                Ok(memory) => memory,
                Err(err) => {
                    assert!(matches!(err, Error::Malformed { .. }), "{err:?}");
                    refused += 1;
                    continue;
                }
            };
            built += 1;
            let mut previous_end = 0;
            for piece in memory.pieces() {
                let vma = &memory.vmas()[piece.vma];
                assert!(piece.start < piece.end && piece.start >= previous_end, "{vmas:?} {top_runs:?}");
                assert!(vma.start <= piece.start && piece.end <= vma.end, "{vmas:?} {top_runs:?}");
                if let Some(bytes) = piece.content.bytes() {
                    assert_eq!(bytes.len() as u64, piece.len());
                }
                previous_end = piece.end;
            }
            for (i, vma) in memory.vmas().iter().enumerate() {
                let counts = memory.page_counts(i);
                assert_eq!(counts.dumped + counts.zero + counts.missing + counts.from_file, vma.len().div_ceil(PAGE), "{vmas:?}");
                let _ = memory.read(vma.start, vma.len().min(3 * PAGE));
                let _ = memory.read_up_to(vma.start, vma.len(), 2 * PAGE);
                let _ = memory.read_cstring(vma.end - 1, 100);
                assert!(memory.origin_at(vma.start).is_some());
            }
            memory.search(&Pattern::literal("fff"), &SearchOptions::default()).unwrap();
        }
        assert!(built > 100 && refused > 20, "built {built}, refused {refused}");
    }
}
