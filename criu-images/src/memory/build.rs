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
use crate::progress::Progress;
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
        ProcessMemory::build_with_progress(pid, chain, rootfs, None)
    }

    /// Like [`ProcessMemory::build_with_files`], counting the bytes of the
    /// pagemap images it reads into `progress` twice, once parsed and once
    /// as the walk of their runs goes (each pagemap adds twice its size to
    /// the total when it is found), and stopping with
    /// [`Error::Cancelled`] soon after `progress` is cancelled.
    pub fn build_with_progress(
        pid: u32,
        chain: &DumpChain<'a>,
        rootfs: Option<&'a dyn FileSource>,
        progress: Option<&Progress>,
    ) -> Result<ProcessMemory<'a>> {
        if let Some(progress) = progress {
            progress.check()?;
        }
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

        let mut builder = Builder::new(chain, page_size, progress, rootfs.map(|files| Filler { files, found: HashMap::new() }));
        let name = format!("pagemap-{pid}.img");
        for (index, vma) in vmas.iter().enumerate() {
            let hole = if vma.status & (status::VVAR | status::VSYSCALL) != 0 {
                Content::Missing(Missing::Kernel)
            } else if vma.is_file_backed() || vma.status & (status::SOCKET | status::AIORING) != 0 {
                Content::Missing(Missing::FileBacked)
            } else {
                Content::Zero
            };
            let area = Area { index, vma, base: vma.start };
            let whole = |content| Span { piece: Piece { start: vma.start, end: vma.end, vma: index, content }, source: None };
            if vma.is_shmem() {
                let Some(shmid) = files.shmem_id(vma) else {
                    builder.emit(area, whole(Content::Missing(Missing::NoShmemImage)));
                    continue;
                };
                let shmem = format!("pagemap-shmem-{shmid}.img");
                if builder.pagemap(0, &shmem)?.is_none() {
                    builder.emit(area, whole(Content::Missing(Missing::NoShmemImage)));
                    continue;
                }
                // Offsets in the segment, translated back to addresses by
                // `emit`; `checked_vmas` made sure `pgoff + len` does not wrap.
                let base = vma.pgoff;
                let seg_end = base
                    .checked_add(vma.len())
                    .ok_or_else(|| Error::Malformed { at: mm_at.clone(), detail: format!("vmas[{index}]: segment offset overflows") })?;
                builder.resolve(0, &shmem, base, seg_end, Area { base, ..area }, Content::Zero)?;
            } else {
                builder.resolve(0, &name, vma.start, vma.end, area, hole)?;
            }
        }
        if let Some(progress) = progress {
            // The walk of runs no area reached (outside every area) is done too.
            for loaded in &builder.loaded {
                progress.advance(loaded.units.saturating_sub(loaded.reported));
            }
            progress.check()?;
        }
        let mut sources = builder.sources;
        // (The longest of those starting at one address last: `Stretch::start` looks there.)
        sources.sort_by_key(|s| (s.as_ptr() as usize, s.len()));
        Ok(ProcessMemory { pid, page_size, vmas, pieces: builder.out.pieces, sources })
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

/// Joins neighbouring pieces of one kind as they are pushed, so that reads
/// and searches see one slice where CRIU wrote one run. Pieces with bytes
/// are joined only when they come from the same data source at consecutive
/// offsets: two separate mappings (two levels of a pre-dump chain, two
/// files) may well be neighbours in the address space, and are never
/// fused. The joined slice is cut from the source again, so no pointer
/// arithmetic is needed. Only the last piece can be joined, so only its
/// source is kept.
#[derive(Default)]
pub(super) struct Merged<'a> {
    pub(super) pieces: Vec<Piece<'a>>,
    /// Sources of the first and of the last piece (what [`Merged::append`] joins).
    first_source: Option<Source>,
    last_source: Option<Source>,
}

impl<'a> Merged<'a> {
    #[inline]
    pub(super) fn push(&mut self, span: Span<'a>, sources: &[&'a [u8]]) {
        let piece = span.piece;
        if piece.is_empty() {
            return;
        }
        if let Some(last) = self.pieces.last_mut() {
            if last.end == piece.start && last.vma == piece.vma {
                let joined_bytes = |a: &[u8], b: &[u8]| {
                    let (x, y) = (self.last_source?, span.source?);
                    let next = x.offset.checked_add(a.len() as u64)?;
                    if x.id != y.id || next != y.offset {
                        return None;
                    }
                    let end = usize::try_from(next.checked_add(b.len() as u64)?).ok()?;
                    sources.get(x.id)?.get(usize::try_from(x.offset).ok()?..end)
                };
                let joined = match (last.content, piece.content) {
                    (Content::Dumped(a), Content::Dumped(b)) => joined_bytes(a, b).map(Content::Dumped),
                    (Content::File(a, p), Content::File(b, q)) if p == q => joined_bytes(a, b).map(|j| Content::File(j, p)),
                    (Content::Zero, Content::Zero) => Some(Content::Zero),
                    (Content::Missing(x), Content::Missing(y)) if x == y => Some(Content::Missing(x)),
                    _ => None,
                };
                if let Some(content) = joined {
                    // The joined piece keeps the source of its first byte.
                    last.content = content;
                    last.end = piece.end;
                    return;
                }
            }
        }
        if self.pieces.is_empty() {
            self.first_source = span.source;
        }
        self.pieces.push(piece);
        self.last_source = span.source;
    }

    /// Pushes the pieces of `part` (merged on their own, addresses after
    /// this one's last piece) as if they had been pushed here one by one:
    /// only its first piece can join this one's last.
    pub(super) fn append(&mut self, part: Merged<'a>, sources: &[&'a [u8]]) {
        let mut pieces = part.pieces.into_iter();
        let Some(head) = pieces.next() else { return };
        self.push(Span { piece: head, source: part.first_source }, sources);
        if pieces.len() > 0 {
            self.pieces.extend(pieces);
            self.last_source = part.last_source;
        }
    }
}

/// [`Merged`] over a list of spans in address order.
#[cfg(test)]
pub(super) fn merge<'a>(spans: Vec<Span<'a>>, sources: &[&'a [u8]]) -> Vec<Piece<'a>> {
    let mut merged = Merged::default();
    for span in spans {
        merged.push(span, sources);
    }
    merged.pieces
}

/// A pagemap image parsed once, its pages file, and the pages file's
/// source id (one per pages file of a level).
struct Loaded<'a> {
    level: usize,
    pagemap: Pagemap,
    pages: &'a [u8],
    id: usize,
    /// Progress units of the walk of its runs (its size in bytes: the
    /// image counts once parsed, once walked), runs walked so far, and the
    /// units reported for them.
    units: u64,
    walked: u64,
    reported: u64,
}

/// The area whose pages are being resolved: its index and record, and the
/// pagemap address of its first byte (its start, or its offset in a shared
/// memory segment).
#[derive(Clone, Copy)]
struct Area<'v> {
    index: usize,
    vma: &'v Vma,
    base: u64,
}

/// Fills the unmodified pages of file mappings from a root filesystem;
/// each file is looked up once and becomes one data source.
struct Filler<'a> {
    files: &'a dyn FileSource,
    /// Path -> the file's source id and where it came from (`None`: not there).
    found: HashMap<String, Option<(usize, FileOrigin)>>,
}

/// Pagemap runs between two cancellation checks while resolving.
const RUNS_PER_CHECK: usize = 1 << 16;

/// Runs below which an area's walk is not worth sharing between cores.
const WALK_PART: usize = 1 << 15;

/// What a run gives inside `[start, end)`: its first and end address
/// there, and a span of `vma` (bytes of `pages`, source `id`; missing if
/// the pages file is too short), or `None` for pages in the parent dump.
#[inline]
fn run_span<'a>(
    run: &PageRun,
    start: u64,
    end: u64,
    page_size: u64,
    pages: &'a [u8],
    id: usize,
    vma: usize,
) -> (u64, u64, Option<Span<'a>>) {
    let run_start = run.vaddr.max(start);
    let run_end = run.end(page_size).min(end);
    let span = |content| Some(Span { piece: Piece { start: run_start, end: run_end, vma, content }, source: None });
    let made = if run.flags & PE_PRESENT != 0 {
        let offset = run.pages_offset.unwrap_or(0).checked_add(run_start - run.vaddr);
        let len = run_end - run_start;
        let data = offset.and_then(|o| Some((o, pages.get(usize::try_from(o).ok()?..usize::try_from(o.checked_add(len)?).ok()?)?)));
        match data {
            Some((offset, data)) => Some(Span {
                piece: Piece { start: run_start, end: run_end, vma, content: Content::Dumped(data) },
                source: Some(Source { id, offset }),
            }),
            None => span(Content::Missing(Missing::Truncated)),
        }
    } else if run.flags & PE_PARENT != 0 {
        None
    } else {
        span(Content::Missing(Missing::Lazy))
    };
    (run_start, run_end, made)
}

/// `span` (in pagemap addresses of `area`) moved to the area's addresses.
#[inline]
fn place<'a>(area: Area<'_>, mut span: Span<'a>) -> Span<'a> {
    // `resolve` keeps pieces inside [base, base + area length), so these stay inside the area.
    span.piece.start = area.vma.start + (span.piece.start - area.base);
    span.piece.end = area.vma.start + (span.piece.end - area.base);
    span
}

/// Resolves pagemap runs through the chain of dumps, and hands each piece
/// (filled from files where it can be) to [`Merged`] as it is found: no
/// list of all runs or all unmerged pieces is ever built.
struct Builder<'l, 'a> {
    chain: &'l DumpChain<'a>,
    page_size: u64,
    progress: Option<&'l Progress>,
    /// By level: pagemap name -> index in `loaded` (`None`: no such image).
    pagemaps: Vec<HashMap<String, Option<usize>>>,
    loaded: Vec<Loaded<'a>>,
    /// Every data source pieces borrow from, by id (see [`Source`]).
    sources: Vec<&'a [u8]>,
    filler: Option<Filler<'a>>,
    out: Merged<'a>,
}

impl<'l, 'a> Builder<'l, 'a> {
    fn new(chain: &'l DumpChain<'a>, page_size: u64, progress: Option<&'l Progress>, filler: Option<Filler<'a>>) -> Self {
        Builder {
            chain,
            page_size,
            progress,
            pagemaps: vec![HashMap::new(); chain.len()],
            loaded: Vec::new(),
            sources: Vec::new(),
            filler,
            out: Merged::default(),
        }
    }
}

impl<'a> Builder<'_, 'a> {
    /// The pagemap `name` at `level` and its pages file, parsed once: its
    /// index in `loaded`.
    fn pagemap(&mut self, level: usize, name: &str) -> Result<Option<usize>> {
        let (Some(store), Some(known)) = (self.chain.level(level), self.pagemaps.get(level)) else { return Ok(None) };
        if let Some(&known) = known.get(name) {
            return Ok(known);
        }
        let loaded = match store.file(name)? {
            None => None,
            Some(bytes) => {
                let label = format!("{}/{name}", store.label());
                let image = Image::parse(&label, bytes)?;
                if let Some(progress) = self.progress {
                    // Parsed (the parser counts its bytes), then walked.
                    progress.add_total((bytes.len() as u64).saturating_mul(2));
                }
                let pagemap = Pagemap::parse_with(&image, self.page_size, self.progress)?;
                let pages_name = format!("pages-{}.img", pagemap.pages_id);
                let pages = store.file(&pages_name)?.unwrap_or(&[]);
                // One id per pages file of a level: the pagemap and the
                // shmem pagemaps that name it share its bytes.
                let same = self.loaded.iter().find(|l| l.level == level && l.pagemap.pages_id == pagemap.pages_id).map(|l| l.id);
                let id = same.unwrap_or_else(|| {
                    self.sources.push(pages);
                    self.sources.len() - 1
                });
                // Each run gives at most a hole and a piece: reserved once,
                // not grown (and copied) piece by piece.
                super::reserve::reserve_large(&mut self.out.pieces, pagemap.runs.len().saturating_mul(2).saturating_add(1));
                self.loaded.push(Loaded { level, pagemap, pages, id, units: bytes.len() as u64, walked: 0, reported: 0 });
                Some(self.loaded.len() - 1)
            }
        };
        self.pagemaps[level].insert(name.to_string(), loaded);
        Ok(loaded)
    }

    /// Hands the pieces of `[start, end)` (in the pagemap's address space,
    /// `area.base` being the area's start) at `level` to [`emit`](Self::emit);
    /// addresses no run covers get `hole`.
    fn resolve(&mut self, level: usize, name: &str, start: u64, end: u64, area: Area<'_>, hole: Content<'a>) -> Result<()> {
        let page_size = self.page_size;
        let vma = area.index;
        let span = |start, end, content| Span { piece: Piece { start, end, vma, content }, source: None };
        let Some(loaded) = self.pagemap(level, name)? else {
            self.emit(area, span(start, end, hole));
            return Ok(());
        };
        let (pages, id) = (self.loaded[loaded].pages, self.loaded[loaded].id);
        let runs = &self.loaded[loaded].pagemap.runs;
        let first = runs.partition_point(|r| r.end(page_size) <= start);
        let last = first + runs.get(first..).map_or(0, |rest| rest.partition_point(|r| r.vaddr < end));
        // At the last level (a single dump: no run is looked up in a parent)
        // and where no page is filled from a file, many runs are cut
        // between the cores; otherwise they are resolved one after the other.
        if level + 1 >= self.chain.len() && (self.filler.is_none() || !area.vma.is_file_backed()) {
            let parts = crate::parallel::threads().min((last - first) / WALK_PART).max(1);
            if parts > 1 {
                return self.walk_in_parts(loaded, first..last, start, end, area, hole, parts);
            }
        }
        let mut at = start;
        // Runs are read one at a time by index: `emit` needs `self` mutably.
        for i in first..last {
            let Some(&run) = self.loaded[loaded].pagemap.runs.get(i) else { break };
            if (i - first) % RUNS_PER_CHECK == RUNS_PER_CHECK - 1 {
                self.report_walk(loaded, RUNS_PER_CHECK as u64);
                if let Some(progress) = self.progress {
                    progress.check()?;
                }
            }
            let (run_start, run_end, made) = run_span(&run, start, end, page_size, pages, id, vma);
            if run_start > at {
                self.emit(area, span(at, run_start, hole));
            }
            match made {
                Some(made) => self.emit(area, made),
                None if level + 1 < self.chain.len() => {
                    let missing = Content::Missing(Missing::NotInParent);
                    self.resolve(level + 1, name, run_start, run_end, area, missing)?;
                }
                None => self.emit(area, span(run_start, run_end, Content::Missing(Missing::NotInParent))),
            }
            at = run_end;
        }
        if at < end {
            self.emit(area, span(at, end, hole));
        }
        Ok(())
    }

    /// [`resolve`](Self::resolve) of runs `runs` of pagemap `loaded` (the
    /// last level: no run is looked up further; nothing filled from files)
    /// cut into `parts` parts, each walked and merged on its own core, then
    /// joined in order. Each part checks for cancellation and reports its
    /// share of the walk's progress as it goes.
    #[allow(clippy::too_many_arguments)]
    fn walk_in_parts(
        &mut self,
        loaded: usize,
        runs: std::ops::Range<usize>,
        start: u64,
        end: u64,
        area: Area<'_>,
        hole: Content<'a>,
        parts: usize,
    ) -> Result<()> {
        let (page_size, progress, vma) = (self.page_size, self.progress, area.index);
        let l = &self.loaded[loaded];
        let (pages, id, units, walked) = (l.pages, l.id, l.units, l.walked);
        let all = l.pagemap.runs.len().max(1) as u64;
        // The walk's units reported once `w` runs are walked (see `report_walk`).
        let share = |w: u64| (u128::from(units) * u128::from(w.min(all)) / u128::from(all)) as u64;
        let runs = l.pagemap.runs.get(runs).unwrap_or_default();
        let n = runs.len();
        let sources = &self.sources;
        // The first part goes on with the pieces built so far (the room for
        // all was reserved when the pagemap was loaded); the others are
        // appended to it in order.
        let head = std::sync::Mutex::new(Some(std::mem::take(&mut self.out)));
        let part = |i: usize| -> Result<Merged<'a>> {
            let (a, b) = (n * i / parts, n * (i + 1) / parts);
            let taken = if i == 0 { head.lock().ok().and_then(|mut h| h.take()) } else { None };
            let mut out = taken.unwrap_or_else(|| {
                let mut own = Merged::default();
                super::reserve::reserve_large(&mut own.pieces, (b - a).saturating_mul(2).saturating_add(1));
                own
            });
            let span = |start, end, content| place(area, Span { piece: Piece { start, end, vma, content }, source: None });
            // Where the run before the part ended, as the serial walk has it.
            let mut at = match a.checked_sub(1).and_then(|k| runs.get(k)) {
                Some(run) => run.end(page_size).min(end),
                None => start,
            };
            let mut reported = a;
            for (k, run) in runs.iter().enumerate().take(b).skip(a) {
                if (k - a) % RUNS_PER_CHECK == RUNS_PER_CHECK - 1 {
                    if let Some(progress) = progress {
                        progress.advance(share(walked + k as u64) - share(walked + reported as u64));
                        reported = k;
                        progress.check()?;
                    }
                }
                let (run_start, run_end, made) = run_span(run, start, end, page_size, pages, id, vma);
                if run_start > at {
                    out.push(span(at, run_start, hole), sources);
                }
                match made {
                    Some(made) => out.push(place(area, made), sources),
                    None => out.push(span(run_start, run_end, Content::Missing(Missing::NotInParent)), sources),
                }
                at = run_end;
            }
            if b == n && at < end {
                out.push(span(at, end, hole), sources);
            }
            if let Some(progress) = progress {
                progress.advance(share(walked + b as u64) - share(walked + reported as u64));
            }
            Ok(out)
        };
        let walked_parts = crate::parallel::map_tasks(parts, part);
        let mut walked_parts = walked_parts?.into_iter();
        self.out = walked_parts.next().unwrap_or_default();
        for walked_part in walked_parts {
            self.out.append(walked_part, &self.sources);
        }
        let l = &mut self.loaded[loaded];
        l.walked = walked.saturating_add(n as u64);
        l.reported = share(l.walked);
        Ok(())
    }

    /// Counts `runs` more runs of pagemap `loaded` walked, and reports the
    /// share of its units they stand for.
    fn report_walk(&mut self, loaded: usize, runs: u64) {
        let (Some(progress), Some(l)) = (self.progress, self.loaded.get_mut(loaded)) else { return };
        let all = l.pagemap.runs.len().max(1) as u128;
        l.walked = l.walked.saturating_add(runs);
        // At most the units: a run walked twice (areas sharing it) counts once.
        let share = (u128::from(l.units) * u128::from(l.walked).min(all) / all) as u64;
        if share > l.reported {
            progress.advance(share - l.reported);
            l.reported = share;
        }
    }

    /// Takes a piece of `area` (in pagemap addresses), moves it to the
    /// area's addresses, fills it from a file if it is a file mapping's
    /// missing page and the root filesystem has the file, and merges it.
    #[inline]
    fn emit(&mut self, area: Area<'_>, span: Span<'a>) {
        let span = place(area, span);
        let vma = area.vma;
        let file = match (&mut self.filler, span.piece.content, vma.path.as_deref()) {
            (Some(filler), Content::Missing(Missing::FileBacked), Some(path)) if vma.is_file_backed() => {
                filler.file(path, &mut self.sources)
            }
            _ => None,
        };
        match file {
            Some(file) => self.fill(vma, span, file),
            None => self.out.push(span, &self.sources),
        }
    }

    /// Replaces a file-backed missing piece by the file's bytes. The rest
    /// of the page holding the file's end reads as zero, as the kernel maps
    /// it; pages wholly past the end stay missing (the kernel would SIGBUS).
    fn fill(&mut self, vma: &Vma, span: Span<'a>, (id, from): (usize, FileOrigin)) {
        let piece = span.piece;
        // The offset in the file; `checked_vmas` bounds `pgoff + len`, checked again here.
        let Some(offset) = vma.pgoff.checked_add(piece.start - vma.start) else {
            self.out.push(span, &self.sources);
            return;
        };
        let bytes = self.sources[id];
        let available = (bytes.len() as u64).saturating_sub(offset).min(piece.len());
        if available > 0 {
            // `available > 0` puts `offset + available` inside the file.
            let data = &bytes[offset as usize..(offset + available) as usize];
            let filled = Piece { start: piece.start, end: piece.start + available, vma: piece.vma, content: Content::File(data, from) };
            self.out.push(Span { piece: filled, source: Some(Source { id, offset }) }, &self.sources);
        }
        let mut at = piece.start + available;
        if available > 0 && available < piece.len() {
            // Zeros up to the end of the page holding the file's end (pages count from the area's start).
            let page_end =
                (at - vma.start).div_ceil(self.page_size).saturating_mul(self.page_size).saturating_add(vma.start).min(piece.end);
            if page_end > at {
                let zeros = Piece { start: at, end: page_end, vma: piece.vma, content: Content::Zero };
                self.out.push(Span { piece: zeros, source: None }, &self.sources);
                at = page_end;
            }
        }
        if at < piece.end {
            self.out.push(Span { piece: Piece { start: at, ..piece }, source: None }, &self.sources);
        }
    }
}

impl<'a> Filler<'a> {
    /// The source id of the file at `path` (a ` (deleted)` suffix ignored),
    /// looked up once.
    fn file(&mut self, path: &str, sources: &mut Vec<&'a [u8]>) -> Option<(usize, FileOrigin)> {
        if let Some(&known) = self.found.get(path) {
            return known;
        }
        let found = self.files.find_file(path.strip_suffix(" (deleted)").unwrap_or(path)).map(|(bytes, from)| {
            sources.push(bytes);
            (sources.len() - 1, from)
        });
        self.found.insert(path.to_string(), found);
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::tests::{pagemap, store, BASE, PAGE};
    use crate::memory::PE_LAZY;

    /// The walk of the runs after the parse is counted (the other half of
    /// the pagemap's units) and stops soon after a cancellation (Ctrl-C).
    #[test]
    fn the_walk_of_the_runs_is_counted_and_stops_when_cancelled() {
        let runs: Vec<(u64, u64, u32)> = (0..200_000).map(|i| (BASE + 2 * i * PAGE, 1, PE_LAZY)).collect();
        let map = pagemap(&runs);
        let top = store("dump", &[("pagemap-1.img", &map)]);
        let chain = DumpChain::single(&top);
        let vma = Vma {
            start: BASE,
            end: BASE + 400_000 * PAGE,
            pgoff: 0,
            shmid: 0,
            prot: 3,
            flags: 0x22,
            status: status::REGULAR | status::ANON_PRIVATE,
            path: None,
        };
        let progress = Progress::new();
        let mut builder = Builder::new(&chain, PAGE, Some(&progress), None);
        assert_eq!(builder.pagemap(0, "pagemap-1.img").unwrap(), Some(0));
        let len = map.len() as u64;
        // Parsed: half of the units; the walk has the other half.
        assert_eq!((progress.done(), progress.total()), (len, 2 * len));
        progress.cancel();
        let area = Area { index: 0, vma: &vma, base: vma.start };
        let err = builder.resolve(0, "pagemap-1.img", vma.start, vma.end, area, Content::Zero).err();
        assert!(matches!(err, Some(Error::Cancelled)), "{err:?}");
        // Each part of the walk (one per core, see `walk_in_parts`) stopped
        // at its first check, the runs before it counted; none of their pieces kept.
        let parts = crate::parallel::threads().clamp(1, 200_000 / WALK_PART) as u64;
        let counted = progress.done() - len;
        let first_check = len * (RUNS_PER_CHECK as u64 - 1) / 200_000;
        assert!(counted + 1 >= first_check && counted <= parts * (first_check + 1), "{counted} vs {first_check} x {parts}");
        assert!(builder.out.pieces.len() < 2 * RUNS_PER_CHECK);
    }

    /// A walk cut into parts (on several cores) gives the very pieces of
    /// the walk in one pass, joins included, and counts the whole walk.
    #[test]
    fn the_walk_in_parts_gives_the_pieces_of_one_walk() {
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        // Runs of 1-3 pages after gaps of 0-2 pages, present (some lazy
        // too), lazy, or in a parent dump that this single dump lacks.
        let flags = [PE_PRESENT, PE_PRESENT, PE_PRESENT | PE_LAZY, PE_LAZY, PE_PARENT];
        let (mut runs, mut at, mut present) = (Vec::new(), BASE, 0);
        for _ in 0..5000 {
            at += next(3) * PAGE;
            let (n, f) = (1 + next(3), flags[next(flags.len() as u64) as usize]);
            runs.push((at, n, f));
            present += if f & PE_PRESENT != 0 { n } else { 0 };
            at += n * PAGE;
        }
        let end = at + 3 * PAGE;
        let map = pagemap(&runs);
        // Distinct bytes on every page, and the last present run cut short (truncated).
        let pages: Vec<u8> = (0..(present * PAGE - PAGE / 2)).map(|i| (i / 8 % 251) as u8).collect();
        let top = store("dump", &[("pagemap-1.img", &map), ("pages-1.img", &pages)]);
        let chain = DumpChain::single(&top);
        let vma =
            Vma { start: BASE, end, pgoff: 0, shmid: 0, prot: 3, flags: 0x22, status: status::REGULAR | status::ANON_PRIVATE, path: None };
        let walk = |from: u64, to: u64, parts: usize| {
            let progress = Progress::new();
            let mut builder = Builder::new(&chain, PAGE, Some(&progress), None);
            let loaded = builder.pagemap(0, "pagemap-1.img").unwrap().unwrap();
            let area = Area { index: 0, vma: &vma, base: vma.start };
            if parts == 0 {
                builder.resolve(0, "pagemap-1.img", from, to, area, Content::Zero).unwrap();
            } else {
                let all = &builder.loaded[loaded].pagemap.runs;
                let first = all.partition_point(|r| r.end(PAGE) <= from);
                let last = all.partition_point(|r| r.vaddr < to);
                builder.walk_in_parts(loaded, first..last, from, to, area, Content::Zero, parts).unwrap();
            }
            builder.report_walk(loaded, 0);
            let pieces: Vec<_> = builder.out.pieces.iter().map(|p| (*p, p.content.bytes().map(|b| b.as_ptr()))).collect();
            (pieces, builder.loaded[loaded].reported)
        };
        for (from, to) in [(BASE, end), (BASE + PAGE * 7 + 100, at - PAGE * 5 - 3), (BASE + 3 * PAGE, BASE + 40 * PAGE)] {
            let (one, _) = walk(from, to, 0);
            assert!(one.len() > 10);
            if to == end {
                assert!(one.iter().any(|(p, _)| p.content == Content::Missing(Missing::Truncated)));
            }
            for parts in [1, 2, 3, 7, 64] {
                let (cut, units) = walk(from, to, parts);
                assert!(cut == one, "{parts} parts of {from:#x}..{to:#x}: {} pieces vs {}", cut.len(), one.len());
                if (from, to) == (BASE, end) {
                    // Every run walked: the pagemap's units all counted.
                    assert_eq!(units, map.len() as u64);
                }
            }
        }
    }
}
