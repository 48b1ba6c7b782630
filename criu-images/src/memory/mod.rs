//! Process memory reconstructed from `mm`, `pagemap` and `pages` images.
//!
//! A [`ProcessMemory`] is built once per process: every byte of every memory
//! area (VMA) is classified as
//!
//! * **dumped**: its bytes are in a `pages-<id>.img` (of this dump or of a
//!   parent pre-dump), and reads borrow them from the mapping;
//! * **zero**: CRIU wrote nothing because the page was never touched or was
//!   zero (anonymous memory, or a shared memory segment);
//! * **missing**: not in the checkpoint: lazy pages, the unmodified pages of a
//!   file mapping, kernel-provided areas (`[vvar]`), or parent pages a
//!   pre-dump chain lacks.
//!
//! The index of pieces is built once and then serves every read and search.
//! Shared anonymous memory, memfd and SysV shm mappings read their contents
//! from `pagemap-shmem-<shmid>.img`. The page size comes from the images
//! (`AT_PAGESZ` in `mm_saved_auxv`, else the architecture), never from the
//! host.

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

use crate::error::{Error, Result};
use crate::image::Image;
use crate::progress::{Progress, STEP};
use crate::proto::{core_entry, Message};

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

/// What a piece of memory holds.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Content<'a> {
    /// The bytes, borrowed from a pages file.
    Dumped(&'a [u8]),
    /// Unmodified file-backed pages, filled from the root filesystem the
    /// caller supplied (not part of the checkpoint itself).
    File(&'a [u8]),
    /// Zeros (not stored).
    Zero,
    /// Not in the checkpoint.
    Missing(Missing),
}

impl<'a> Content<'a> {
    /// The bytes, for dumped and file-filled pieces.
    pub fn bytes(&self) -> Option<&'a [u8]> {
        match *self {
            Content::Dumped(bytes) | Content::File(bytes) => Some(bytes),
            _ => None,
        }
    }
}

/// Files of the container's root filesystem, to fill the unmodified pages of
/// file mappings: a directory, or the checkpoint's `rootfs-diff.tar`.
pub trait FileSource {
    /// The contents of the file at absolute `path` (e.g. `/usr/lib/libc.so.6`).
    fn file_bytes(&self, path: &str) -> Option<&[u8]>;
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
        let content = match self.content {
            Content::Dumped(bytes) => Content::Dumped(&bytes[(s - self.start) as usize..(e - self.start) as usize]),
            Content::File(bytes) => Content::File(&bytes[(s - self.start) as usize..(e - self.start) as usize]),
            other => other,
        };
        Piece { start: s, end: e, vma: self.vma, content }
    }
}

/// Dumped, zero and missing page counts of one VMA (crit's `x rss`, right).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct PageCounts {
    /// Pages whose bytes are in the checkpoint.
    pub dumped: u64,
    /// Pages that read as zero.
    pub zero: u64,
    /// Pages not in the checkpoint.
    pub missing: u64,
    /// Pages filled from the root filesystem the caller supplied.
    pub from_file: u64,
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

/// Page size of an architecture when the auxiliary vector does not say.
fn arch_page_size(arch: core_entry::March) -> u64 {
    match arch {
        core_entry::March::Ppc64 => 65536,
        core_entry::March::Loongarch64 => 16384,
        _ => 4096,
    }
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
    pub fn build_with_files(pid: u32, levels: &[&'a dyn ImageStore], rootfs: Option<&'a dyn FileSource>) -> Result<ProcessMemory<'a>> {
        let top = *levels.first().expect("at least the dump itself");
        let mm_name = format!("mm-{pid}.img");
        let mm = decode_all(top, &mm_name)?
            .ok_or_else(|| Error::NotFound {
                container: top.label(),
                name: mm_name.clone(),
                hint: " (a dead or zombie task has no memory)".into(),
            })?
            .into_iter()
            .find_map(|m| match m {
                Message::MmEntry(mm) => Some(mm),
                _ => None,
            })
            .ok_or_else(|| Error::Malformed {
                at: crate::error::Location::new(format!("{}/{mm_name}", top.label()), 0),
                detail: "mm image has no entry".into(),
            })?;

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

        let mut vmas: Vec<Vma> = mm.vmas.iter().map(Vma::from_entry).collect();
        vmas.sort_by_key(|v| v.start);
        let files = FileTables::load(top)?;
        for vma in &mut vmas {
            vma.path = files.vma_path(vma);
            // CRIU does not flag the main stack; the kernel names the area
            // holding mm->start_stack "[stack]".
            if vma.path.is_none() && (vma.start..vma.end).contains(&mm.mm_start_stack) {
                vma.path = Some("[stack]".into());
            }
        }

        let mut builder = Builder { levels, page_size, pagemaps: HashMap::new() };
        let mut pieces = Vec::new();
        for (index, vma) in vmas.iter().enumerate() {
            if vma.end <= vma.start {
                continue;
            }
            let hole = if vma.status & (status::VVAR | status::VSYSCALL) != 0 {
                Content::Missing(Missing::Kernel)
            } else if vma.is_file_backed() || vma.status & (status::SOCKET | status::AIORING) != 0 {
                Content::Missing(Missing::FileBacked)
            } else {
                Content::Zero
            };
            if vma.is_shmem() {
                match files.shmem_id(vma) {
                    Some(shmid) => {
                        let name = format!("pagemap-shmem-{shmid}.img");
                        if builder.pagemap(0, &name)?.is_some() {
                            // Offsets in the segment, translated back to addresses.
                            let base = vma.pgoff;
                            let shift = |p: Piece<'a>| Piece { start: p.start - base + vma.start, end: p.end - base + vma.start, ..p };
                            let mut seg = Vec::new();
                            builder.resolve(0, &name, base, base + vma.len(), index, Content::Zero, &mut seg)?;
                            pieces.extend(seg.into_iter().map(shift));
                        } else {
                            pieces.push(Piece {
                                start: vma.start,
                                end: vma.end,
                                vma: index,
                                content: Content::Missing(Missing::NoShmemImage),
                            });
                        }
                    }
                    None => {
                        pieces.push(Piece { start: vma.start, end: vma.end, vma: index, content: Content::Missing(Missing::NoShmemImage) })
                    }
                }
            } else {
                let name = format!("pagemap-{pid}.img");
                builder.resolve(0, &name, vma.start, vma.end, index, hole, &mut pieces)?;
            }
        }
        if let Some(source) = rootfs {
            fill_from_files(&mut pieces, &vmas, source);
        }
        Ok(ProcessMemory { pid, page_size, vmas, pieces: merge(pieces) })
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

    /// Page counts of VMA `index` by kind of content.
    pub fn page_counts(&self, index: usize) -> PageCounts {
        let Some(vma) = self.vmas.get(index) else { return PageCounts::default() };
        let mut counts = PageCounts::default();
        for piece in self.pieces_in(vma.start, vma.end) {
            let pages = piece.len().div_ceil(self.page_size);
            match piece.content {
                Content::Dumped(_) => counts.dumped += pages,
                Content::Zero => counts.zero += pages,
                Content::Missing(_) => counts.missing += pages,
                Content::File(_) => counts.from_file += pages,
            }
        }
        counts
    }

    /// The bytes at `[addr, addr + len)`: borrowed when they lie in one
    /// dumped run, assembled otherwise (zeros for zero pages). Fails if any
    /// byte is outside every VMA or not in the checkpoint.
    pub fn read(&self, addr: u64, len: u64) -> Result<Cow<'a, [u8]>> {
        let end = addr.checked_add(len).ok_or_else(|| self.error(addr, "address range overflows"))?;
        let mut pieces = self.pieces_in(addr, end).peekable();
        if let Some(first) = pieces.peek() {
            if let (Some(bytes), true) = (first.content.bytes(), first.start == addr && first.end == end) {
                return Ok(Cow::Borrowed(bytes));
            }
        }
        let mut out = Vec::with_capacity(len.min(1 << 30) as usize);
        let mut at = addr;
        for piece in pieces {
            if piece.start != at {
                return Err(self.error(at, "address not mapped"));
            }
            match piece.content {
                Content::Dumped(bytes) | Content::File(bytes) => out.extend_from_slice(bytes),
                Content::Zero => out.resize(out.len() + piece.len() as usize, 0),
                Content::Missing(why) => return Err(self.error(at, why.describe())),
            }
            at = piece.end;
        }
        if at != end {
            return Err(self.error(at, "address not mapped"));
        }
        Ok(Cow::Owned(out))
    }

    /// The NUL-terminated string at `addr` (without the NUL), at most `max` bytes.
    pub fn read_cstring(&self, addr: u64, max: u64) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        for piece in self.pieces_in(addr, addr.saturating_add(max)) {
            if piece.start != addr + out.len() as u64 {
                return Err(self.error(addr + out.len() as u64, "address not mapped"));
            }
            match piece.content {
                Content::Dumped(bytes) | Content::File(bytes) => {
                    if let Some(nul) = memchr::memchr(0, bytes) {
                        out.extend_from_slice(&bytes[..nul]);
                        return Ok(out);
                    }
                    out.extend_from_slice(bytes);
                }
                Content::Zero => return Ok(out),
                Content::Missing(why) => return Err(self.error(piece.start, why.describe())),
            }
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

/// Replaces file-backed missing pieces by the file's bytes where `source`
/// has the file; bytes past its end stay missing (the kernel would SIGBUS).
fn fill_from_files<'a>(pieces: &mut Vec<Piece<'a>>, vmas: &[Vma], source: &'a dyn FileSource) {
    let mut out = Vec::with_capacity(pieces.len());
    for piece in pieces.drain(..) {
        let vma = &vmas[piece.vma];
        let file = match (piece.content, vma.path.as_deref()) {
            (Content::Missing(Missing::FileBacked), Some(path)) if vma.is_file_backed() => {
                source.file_bytes(path.strip_suffix(" (deleted)").unwrap_or(path))
            }
            _ => None,
        };
        let Some(file) = file else {
            out.push(piece);
            continue;
        };
        let offset = vma.pgoff + (piece.start - vma.start);
        let available = (file.len() as u64).saturating_sub(offset).min(piece.len());
        if available > 0 {
            let bytes = &file[offset as usize..(offset + available) as usize];
            out.push(Piece { start: piece.start, end: piece.start + available, vma: piece.vma, content: Content::File(bytes) });
        }
        if available < piece.len() {
            out.push(Piece { start: piece.start + available, ..piece });
        }
    }
    *pieces = out;
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

/// Joins neighbouring pieces whose bytes are also neighbours in the pages
/// file, so that reads and searches see one slice where CRIU wrote one run.
fn merge(pieces: Vec<Piece<'_>>) -> Vec<Piece<'_>> {
    let mut out: Vec<Piece<'_>> = Vec::with_capacity(pieces.len());
    for piece in pieces {
        if piece.is_empty() {
            continue;
        }
        if let Some(last) = out.last_mut() {
            if last.end == piece.start && last.vma == piece.vma {
                match (last.content, piece.content) {
                    (Content::Dumped(a), Content::Dumped(b)) if a.as_ptr_range().end == b.as_ptr() => {
                        // SAFETY: `a` and `b` are adjacent slices of the same
                        // pages file mapping (checked by address), so the joined
                        // range is inside that one allocation.
                        let joined = unsafe { std::slice::from_raw_parts(a.as_ptr(), a.len() + b.len()) };
                        last.content = Content::Dumped(joined);
                        last.end = piece.end;
                        continue;
                    }
                    (Content::Zero, Content::Zero) => {
                        last.end = piece.end;
                        continue;
                    }
                    (Content::Missing(x), Content::Missing(y)) if x == y => {
                        last.end = piece.end;
                        continue;
                    }
                    _ => {}
                }
            }
        }
        out.push(piece);
    }
    out
}

type LoadedPagemap<'a> = (Pagemap, &'a [u8]);

/// Resolves pagemap runs through the chain of dumps.
struct Builder<'l, 'a> {
    levels: &'l [&'a dyn ImageStore],
    page_size: u64,
    /// (level, pagemap name) -> the parsed pagemap and its pages file.
    pagemaps: HashMap<(usize, String), Option<LoadedPagemap<'a>>>,
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
                    Some((pagemap, pages))
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
        out: &mut Vec<Piece<'a>>,
    ) -> Result<()> {
        let page_size = self.page_size;
        let Some((pagemap, pages)) = self.pagemap(level, name)? else {
            out.push(Piece { start, end, vma, content: hole });
            return Ok(());
        };
        let pages: &'a [u8] = pages;
        let first = pagemap.runs.partition_point(|r| r.end(page_size) <= start);
        let runs: Vec<PageRun> = pagemap.runs[first..].iter().take_while(|r| r.vaddr < end).copied().collect();
        let mut at = start;
        for run in runs {
            let run_start = run.vaddr.max(start);
            let run_end = run.end(page_size).min(end);
            if run_start > at {
                out.push(Piece { start: at, end: run_start, vma, content: hole });
            }
            if run.flags & PE_PRESENT != 0 {
                let offset = run.pages_offset.unwrap_or(0) + (run_start - run.vaddr);
                let len = run_end - run_start;
                match offset.checked_add(len).filter(|&e| e <= pages.len() as u64) {
                    Some(e) => out.push(Piece {
                        start: run_start,
                        end: run_end,
                        vma,
                        content: Content::Dumped(&pages[offset as usize..e as usize]),
                    }),
                    None => out.push(Piece { start: run_start, end: run_end, vma, content: Content::Missing(Missing::Truncated) }),
                }
            } else if run.flags & PE_PARENT != 0 {
                if level + 1 < self.levels.len() {
                    let missing = Content::Missing(Missing::NotInParent);
                    self.resolve(level + 1, name, run_start, run_end, vma, missing, out)?;
                } else {
                    out.push(Piece { start: run_start, end: run_end, vma, content: Content::Missing(Missing::NotInParent) });
                }
            } else {
                out.push(Piece { start: run_start, end: run_end, vma, content: Content::Missing(Missing::Lazy) });
            }
            at = run_end;
        }
        if at < end {
            out.push(Piece { start: at, end, vma, content: hole });
        }
        Ok(())
    }
}

/// What `files.img` and `memfd.img` say about mapped files.
#[derive(Default)]
struct FileTables {
    /// File id -> path of regular files.
    reg_paths: HashMap<u32, String>,
    /// File id -> memfd inode id.
    memfd_inodes: HashMap<u32, u64>,
    /// Memfd inode id -> (name, shmid).
    memfd_shmids: HashMap<u64, (String, u64)>,
}

impl FileTables {
    fn load(store: &dyn ImageStore) -> Result<FileTables> {
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
    fn shmem_id(&self, vma: &Vma) -> Option<u64> {
        if vma.status & status::MEMFD != 0 {
            let inode = self.memfd_inodes.get(&(vma.shmid as u32))?;
            return self.memfd_shmids.get(inode).map(|(_, shmid)| *shmid);
        }
        Some(vma.shmid)
    }

    /// The path `/proc/PID/maps` shows for an area.
    fn vma_path(&self, vma: &Vma) -> Option<String> {
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
