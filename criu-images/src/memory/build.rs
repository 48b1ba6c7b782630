//! Building a [`ProcessMemory`]: the `mm` image's areas, their names, and
//! every pagemap run resolved through the dump chain into pieces.

use std::collections::HashMap;

use super::content::{Content, FileOrigin, Missing, Piece};
use super::names::FileTables;
use super::pagemap::{PageRun, Pagemap, PE_PARENT, PE_PRESENT};
use super::vma::{status, Vma};
use super::{FileSource, ProcessMemory};
use crate::chain::{decode_all, DumpChain, ImageStore};
use crate::error::{Error, Location, Result};
use crate::image::Image;
use crate::proto::{core_entry, Message, MmEntry};

const AT_PAGESZ: u64 = 6;

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
    /// from the top of `chain` (the dump) and its parents.
    pub fn build(pid: u32, chain: &DumpChain<'a>) -> Result<ProcessMemory<'a>> {
        ProcessMemory::build_with_files(pid, chain, None)
    }

    /// Like [`ProcessMemory::build`], filling the unmodified pages of file
    /// mappings from `rootfs` (the container's root filesystem) where the
    /// file is there; such pieces are [`Content::File`].
    ///
    /// Fails with [`Error::Malformed`] naming `mm-<pid>.img` when its areas
    /// overlap, are empty, or have an offset that wraps (areas out of order are
    /// put in order).
    pub fn build_with_files(pid: u32, chain: &DumpChain<'a>, rootfs: Option<&'a dyn FileSource>) -> Result<ProcessMemory<'a>> {
        let top = chain.top();
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
        let files = FileTables::load(chain, &vmas)?;
        for vma in &mut vmas {
            vma.path = files.vma_path(vma);
            // CRIU does not flag the main stack; the kernel names the area
            // holding mm->start_stack "[stack]".
            if vma.path.is_none() && (vma.start..vma.end).contains(&mm.mm_start_stack) {
                vma.path = Some("[stack]".into());
            }
        }

        let mut builder = Builder { chain, page_size, pagemaps: HashMap::new(), sources: Vec::new() };
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
}

/// Where a piece's bytes sit: `offset` in the data source `id` (a pages
/// file of one level, or one mapped file), an index into the sources the
/// build collected.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) struct Source {
    pub(super) id: usize,
    pub(super) offset: u64,
}

/// A piece under construction, with where its bytes come from.
#[derive(Clone, Copy, Debug)]
pub(super) struct Span<'a> {
    pub(super) piece: Piece<'a>,
    pub(super) source: Option<Source>,
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

/// Joins neighbouring pieces of one kind, so that reads and searches see one
/// slice where CRIU wrote one run. Pieces with bytes are joined only when
/// they come from the same data source at consecutive offsets: two
/// separate mappings (two levels of a pre-dump chain, two files) may well
/// be neighbours in the address space, and are never fused. The joined
/// slice is cut from the source again, so no pointer arithmetic is needed.
pub(super) fn merge<'a>(spans: Vec<Span<'a>>, sources: &[&'a [u8]]) -> Vec<Piece<'a>> {
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
    chain: &'l DumpChain<'a>,
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
            let Some(store) = self.chain.level(level) else { return Ok(None) };
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
                if level + 1 < self.chain.len() {
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
