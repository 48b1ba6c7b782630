//! Memory areas and memory pages of matched processes.
//!
//! Pages are compared by sweeping the two piece lists of the memory index
//! once: where both sides are zero, or borrow the very same bytes (two
//! levels of one pre-dump chain share their parents' pages), a whole run
//! is settled without reading it; dumped bytes are compared with `memcmp`
//! in chunks on every core. What is kept is the index, the list of runs to
//! compare and the resulting ranges: never the pages themselves.

use std::sync::Arc;

use super::processes::match_processes;
use super::side::{PredumpView, Side};
use super::{AreaChange, Diff, DiffOptions, PageChange, PageRange};
use crate::chain::{DumpChain, ImageStore};
use crate::error::Result;
use crate::memory::{Content, FileSource, ProcessMemory, Vma};
use crate::progress::Progress;

/// Bytes of one comparison task: large enough that starting it costs
/// nothing next to the `memcmp`, small enough to share the work out.
const TASK_BYTES: u64 = 4 << 20;

/// How one page (or the part of it in one run) compares.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum PageClass {
    /// The same bytes on both sides.
    Same,
    /// In an area of the new side only.
    Added,
    /// In an area of the old side only.
    Removed,
    /// Different bytes.
    Changed,
    /// Not in the checkpoint on a side (lazy, unmodified file pages no
    /// root filesystem holds, kernel areas): not compared.
    Unknown,
}

impl PageClass {
    /// The class of a page made of parts of these classes.
    fn combine(self, other: PageClass) -> PageClass {
        use PageClass::*;
        match (self, other) {
            (a, b) if a == b => a,
            (Unknown, _) | (_, Unknown) => Unknown,
            (Same, b) => b,
            (a, Same) => a,
            _ => Changed,
        }
    }

    fn change(self) -> Option<PageChange> {
        match self {
            PageClass::Added => Some(PageChange::Added),
            PageClass::Removed => Some(PageChange::Removed),
            PageClass::Changed => Some(PageChange::Changed),
            PageClass::Same | PageClass::Unknown => None,
        }
    }
}

/// What one side holds over a run of addresses.
#[derive(Clone, Copy, Debug)]
enum Held<'a> {
    Absent,
    Missing,
    Zero,
    Bytes(&'a [u8]),
}

fn held<'a>(content: &Content<'a>) -> Held<'a> {
    match *content {
        Content::Dumped(b) | Content::File(b, _) => Held::Bytes(b),
        Content::Zero => Held::Zero,
        Content::Missing(_) => Held::Missing,
    }
}

/// A run `[start, end)` over which both sides hold one thing each.
struct Run<'a> {
    start: u64,
    end: u64,
    old: Held<'a>,
    new: Held<'a>,
}

/// What each side holds at `at`, and where that ends.
fn held_at<'a>(memory: &ProcessMemory<'a>, index: &mut usize, at: u64) -> (Held<'a>, u64) {
    let pieces = memory.pieces();
    while *index < pieces.len() && pieces[*index].end <= at {
        *index += 1;
    }
    match pieces.get(*index) {
        Some(p) if p.start <= at => {
            let part = match held(&p.content) {
                Held::Bytes(b) => Held::Bytes(&b[(at - p.start) as usize..]),
                other => other,
            };
            (part, p.end)
        }
        Some(p) => (Held::Absent, p.start),
        None => (Held::Absent, u64::MAX),
    }
}

fn cut(held: Held<'_>, len: u64) -> Held<'_> {
    match held {
        Held::Bytes(b) => Held::Bytes(&b[..len as usize]),
        other => other,
    }
}

/// The runs over which neither side changes what it holds, in address
/// order, leaving out addresses in no area on either side.
fn runs<'a>(old: &ProcessMemory<'a>, new: &ProcessMemory<'a>) -> Vec<Run<'a>> {
    let (mut i, mut j) = (0usize, 0usize);
    let first = |m: &ProcessMemory<'_>| m.pieces().first().map_or(u64::MAX, |p| p.start);
    let mut at = first(old).min(first(new));
    let mut out = Vec::new();
    while at != u64::MAX {
        let (o, o_end) = held_at(old, &mut i, at);
        let (n, n_end) = held_at(new, &mut j, at);
        let end = o_end.min(n_end);
        if !(matches!(o, Held::Absent) && matches!(n, Held::Absent)) {
            out.push(Run { start: at, end, old: cut(o, end - at), new: cut(n, end - at) });
        }
        at = end;
    }
    out
}

/// How a run compares when that is known without reading it; `None`
/// when its bytes must be compared.
fn settled(run: &Run<'_>) -> Option<PageClass> {
    use Held::*;
    Some(match (run.old, run.new) {
        (Missing, _) | (_, Missing) => PageClass::Unknown,
        (Absent, Absent) => PageClass::Same,
        (Absent, _) => PageClass::Added,
        (_, Absent) => PageClass::Removed,
        (Zero, Zero) => PageClass::Same,
        (Bytes(a), Bytes(b)) if std::ptr::eq(a.as_ptr(), b.as_ptr()) => PageClass::Same,
        _ => return None,
    })
}

fn is_zero(bytes: &[u8]) -> bool {
    const ZEROS: [u8; 4096] = [0; 4096];
    bytes.chunks(ZEROS.len()).all(|c| c == &ZEROS[..c.len()])
}

fn same(a: Held<'_>, b: Held<'_>) -> bool {
    match (a, b) {
        (Held::Bytes(a), Held::Bytes(b)) => a == b,
        (Held::Bytes(a), Held::Zero) | (Held::Zero, Held::Bytes(a)) => is_zero(a),
        _ => true,
    }
}

fn sub(held: Held<'_>, from: u64, to: u64) -> Held<'_> {
    match held {
        Held::Bytes(b) => Held::Bytes(&b[from as usize..to as usize]),
        other => other,
    }
}

/// Compares `[start, end)` of a run page by page: `(start, end, class)`
/// pieces, consecutive equal classes merged.
fn compare_part(run: &Run<'_>, start: u64, end: u64, page_size: u64) -> Vec<(u64, u64, PageClass)> {
    let mut out: Vec<(u64, u64, PageClass)> = Vec::new();
    let mut at = start;
    while at < end {
        let next = (at / page_size).saturating_add(1).saturating_mul(page_size).min(end);
        let (from, to) = (at - run.start, next - run.start);
        let class = if same(sub(run.old, from, to), sub(run.new, from, to)) { PageClass::Same } else { PageClass::Changed };
        match out.last_mut() {
            Some(last) if last.2 == class && last.1 == at => last.1 = next,
            _ => out.push((at, next, class)),
        }
        at = next;
    }
    out
}

/// Turns classified address pieces, in order, into page ranges.
struct Ranges {
    pid: u32,
    page_size: u64,
    /// First page, last page (inclusive), class.
    current: Option<(u64, u64, PageClass)>,
    out: Vec<PageRange>,
}

impl Ranges {
    fn flush(&mut self) {
        if let Some((first, last, class)) = self.current.take() {
            if let Some(change) = class.change() {
                let start = first.saturating_mul(self.page_size);
                let end = last.saturating_add(1).saturating_mul(self.page_size);
                self.out.push(PageRange { pid: self.pid, start, end, change, pages: last - first + 1 });
            }
        }
    }

    fn fresh(&mut self, first: u64, last: u64, class: PageClass) {
        match &mut self.current {
            Some(cur) if cur.1.checked_add(1) == Some(first) && cur.2 == class => cur.1 = last,
            _ => {
                self.flush();
                self.current = Some((first, last, class));
            }
        }
    }

    fn push(&mut self, start: u64, end: u64, class: PageClass) {
        if end <= start {
            return;
        }
        let (first, last) = (start / self.page_size, (end - 1) / self.page_size);
        let Some(cur) = self.current else { return self.fresh(first, last, class) };
        if first > cur.1 {
            return self.fresh(first, last, class);
        }
        // The page `first` (== cur.1) is shared with what came before.
        let combined = cur.2.combine(class);
        if combined != cur.2 {
            if cur.0 == cur.1 {
                self.current = None;
            } else {
                self.current = Some((cur.0, cur.1 - 1, cur.2));
            }
            self.fresh(first, first, combined);
        }
        if first < last {
            self.fresh(first + 1, last, class);
        }
    }
}

/// The pages of `new` that differ from `old`, as ranges of consecutive
/// pages with the same change (`pid` of `new`): added (in an area of the
/// new side only), removed (old side only), changed (different bytes;
/// zero pages compare as zeros). Pages not in the checkpoint on a side
/// that has them in an area (lazy pages, unmodified file pages without a
/// root filesystem) are not compared. Equals reading every page of both
/// sides with [`ProcessMemory::read`] and comparing, without reading zero
/// pages or pages both sides borrow from the same pages file.
pub fn diff_pages(old: &ProcessMemory<'_>, new: &ProcessMemory<'_>, progress: Option<&Progress>) -> Result<Vec<PageRange>> {
    let page_size = new.page_size().max(old.page_size()).max(1);
    let runs = runs(old, new);
    // The parts to compare, each within one run and at most TASK_BYTES.
    let mut tasks: Vec<(usize, u64, u64)> = Vec::new();
    for (index, run) in runs.iter().enumerate() {
        if settled(run).is_none() {
            let mut at = run.start;
            while at < run.end {
                let end = at.saturating_add(TASK_BYTES).min(run.end);
                tasks.push((index, at, end));
                at = end;
            }
        }
    }
    if let Some(progress) = progress {
        progress.add_total(tasks.iter().map(|&(_, s, e)| e - s).sum());
    }
    let compared = crate::parallel::map_tasks(tasks.len(), |t| {
        let (index, start, end) = tasks[t];
        if let Some(progress) = progress {
            progress.check()?;
        }
        let out = compare_part(&runs[index], start, end, page_size);
        if let Some(progress) = progress {
            progress.advance(end - start);
        }
        Ok(out)
    })?;
    let mut ranges = Ranges { pid: new.pid(), page_size, current: None, out: Vec::new() };
    let mut next_task = 0;
    for (index, run) in runs.iter().enumerate() {
        match settled(run) {
            Some(class) => ranges.push(run.start, run.end, class),
            None => {
                while next_task < tasks.len() && tasks[next_task].0 == index {
                    for &(s, e, class) in &compared[next_task] {
                        ranges.push(s, e, class);
                    }
                    next_task += 1;
                }
            }
        }
    }
    ranges.flush();
    Ok(ranges.out)
}

/// A kernel-named area (`[heap]`, `[stack]`, `[vdso]`, ...): one per
/// process, matched by name when it moved.
fn kernel_name(v: &Vma) -> Option<&str> {
    v.path.as_deref().filter(|p| p.starts_with('[') && p.ends_with(']'))
}

/// Memory areas of a matched pair: matched by start address, then the
/// kernel-named areas left over by name (`moved`).
pub(super) fn diff_areas(pid: u32, old: &[Vma], new: &[Vma]) -> Vec<AreaChange> {
    let exec = |v: &Vma| v.prot & 4 != 0;
    let new_starts: std::collections::HashSet<u64> = new.iter().map(|v| v.start).collect();
    let old_starts: std::collections::HashSet<u64> = old.iter().map(|v| v.start).collect();
    let old_only: Vec<&Vma> = old.iter().filter(|v| !new_starts.contains(&v.start)).collect();
    let new_only: Vec<&Vma> = new.iter().filter(|v| !old_starts.contains(&v.start)).collect();
    let mut moved: Vec<(&Vma, &Vma)> = Vec::new();
    for n in &new_only {
        if let Some(name) = kernel_name(n) {
            let mut same_name = old_only.iter().filter(|o| kernel_name(o) == Some(name));
            if let (Some(o), None) = (same_name.next(), same_name.next()) {
                moved.push((o, n));
            }
        }
    }
    let is_moved_old = |v: &Vma| moved.iter().any(|(o, _)| std::ptr::eq(*o, v));
    let is_moved_new = |v: &Vma| moved.iter().any(|(_, n)| std::ptr::eq(*n, v));
    let mut pairs: Vec<(Option<&Vma>, Option<&Vma>)> = Vec::new();
    let old_by_start: std::collections::HashMap<u64, &Vma> = old.iter().map(|v| (v.start, v)).collect();
    for n in new {
        if let Some(o) = old_by_start.get(&n.start) {
            pairs.push((Some(o), Some(n)));
        } else if let Some((o, _)) = moved.iter().find(|(_, m)| std::ptr::eq(*m, n)) {
            pairs.push((Some(o), Some(n)));
        } else if !is_moved_new(n) {
            pairs.push((None, Some(n)));
        }
    }
    for o in old {
        if !new_starts.contains(&o.start) && !is_moved_old(o) {
            pairs.push((Some(o), None));
        }
    }
    pairs.sort_by_key(|(o, n)| n.or(*o).map_or(0, |v| v.start));
    let mut out = Vec::new();
    for pair in pairs {
        let base = AreaChange {
            pid,
            start: 0,
            old_start: None,
            old_end: None,
            new_end: None,
            change: "changed",
            what: Vec::new(),
            old_perms: None,
            new_perms: None,
            old_path: None,
            new_path: None,
            became_executable: false,
        };
        match pair {
            (Some(o), Some(n)) => {
                let mut what = Vec::new();
                if o.start != n.start {
                    what.push("moved");
                }
                if n.len() > o.len() {
                    what.push("grown");
                } else if n.len() < o.len() {
                    what.push("shrunk");
                }
                if o.perms() != n.perms() {
                    what.push("perms");
                }
                if o.path != n.path {
                    what.push("backing");
                }
                if !what.is_empty() {
                    out.push(AreaChange {
                        start: n.start,
                        old_start: (o.start != n.start).then_some(o.start),
                        old_end: Some(o.end),
                        new_end: Some(n.end),
                        what,
                        old_perms: Some(o.perms()),
                        new_perms: Some(n.perms()),
                        old_path: o.path.clone(),
                        new_path: n.path.clone(),
                        became_executable: exec(n) && !exec(o),
                        ..base
                    });
                }
            }
            (Some(o), None) => out.push(AreaChange {
                start: o.start,
                old_end: Some(o.end),
                change: "removed",
                old_perms: Some(o.perms()),
                old_path: o.path.clone(),
                ..base
            }),
            (None, Some(n)) => out.push(AreaChange {
                start: n.start,
                new_end: Some(n.end),
                change: "added",
                new_perms: Some(n.perms()),
                new_path: n.path.clone(),
                became_executable: exec(n),
                ..base
            }),
            (None, None) => {}
        }
    }
    out
}

/// One side's memory of a process: its own index, or a pre-dump level's
/// pages laid out in the other side's areas.
fn with_memory<T>(side: &Side<'_>, other: &Side<'_>, pid: u32, use_memory: impl FnOnce(&ProcessMemory<'_>) -> Result<T>) -> Result<T> {
    if side.processes.is_some() {
        let memory: Arc<ProcessMemory<'_>> = side.checkpoint.memory(pid).map_err(|e| side.err(e))?;
        return use_memory(&memory);
    }
    let view = PredumpView { level: side.checkpoint.images(), donor: other.checkpoint.images() };
    let chain = DumpChain::new(&view, side.checkpoint.parents().iter().map(|p| p as &dyn ImageStore));
    let files = other.checkpoint.diff_files().map_err(|e| other.err(e))?.map(|d| d as &dyn FileSource);
    let memory = ProcessMemory::build_with_files(pid, &chain, files).map_err(|e| side.err(e))?;
    use_memory(&memory)
}

pub(super) fn compare(old: &Side<'_>, new: &Side<'_>, options: &DiffOptions, progress: Option<&Progress>, diff: &mut Diff) -> Result<()> {
    // (old pid, new pid, compare areas)
    let pairs: Vec<(u32, u32, bool)> = match (&old.processes, &new.processes) {
        (Some(o), Some(n)) => {
            let old_mm: std::collections::HashSet<u32> = old.checkpoint.memory_pids().map_err(|e| old.err(e))?.into_iter().collect();
            let new_mm: std::collections::HashSet<u32> = new.checkpoint.memory_pids().map_err(|e| new.err(e))?.into_iter().collect();
            match_processes(o, n)
                .into_iter()
                .map(|(i, j, _)| (o[i].pid, n[j].pid, true))
                .filter(|(a, b, _)| old_mm.contains(a) && new_mm.contains(b))
                .collect()
        }
        (None, None) => {
            diff.notes.push(
                "both sides are pre-dump levels (memory only, no areas): compare one of them with the final dump of the chain".into(),
            );
            return Ok(());
        }
        _ => {
            let full = if old.processes.is_some() { old } else { new };
            let have: std::collections::HashSet<u32> = full.checkpoint.memory_pids().map_err(|e| full.err(e))?.into_iter().collect();
            let level = if old.processes.is_some() { new } else { old };
            level.memory_pids().into_iter().filter(|p| have.contains(p)).map(|p| (p, p, false)).collect()
        }
    };
    for (old_pid, new_pid, areas) in pairs {
        if options.pid.is_some_and(|want| want != old_pid && want != new_pid) {
            continue;
        }
        if areas {
            let old_vmas = with_memory(old, new, old_pid, |m| Ok(m.vmas().to_vec()))?;
            let new_vmas = with_memory(new, old, new_pid, |m| Ok(m.vmas().to_vec()))?;
            diff.areas.extend(diff_areas(new_pid, &old_vmas, &new_vmas));
        }
        if options.memory {
            let ranges = with_memory(old, new, old_pid, |o| with_memory(new, old, new_pid, |n| diff_pages(o, n, progress)))?;
            diff.pages.extend(ranges);
        }
    }
    Ok(())
}

/// Most bytes [`range_bytes`] reads from each side.
pub const MAX_RANGE_BYTES: u64 = 1 << 20;

/// The bytes of `[addr, addr + len)` of process `pid` on each side (a
/// pre-dump level read through the other side's areas), for a hex diff:
/// each side's bytes, or why they cannot be read there. `len` is capped at
/// [`MAX_RANGE_BYTES`]. Fails only when a side cannot be opened at all.
#[allow(clippy::type_complexity)]
pub fn range_bytes(
    old: &crate::Checkpoint,
    new: &crate::Checkpoint,
    pid: u32,
    addr: u64,
    len: u64,
) -> Result<[std::result::Result<Vec<u8>, String>; 2]> {
    let (old, new) = (Side::load(old, "old")?, Side::load(new, "new")?);
    let len = len.min(MAX_RANGE_BYTES);
    let read = |side: &Side<'_>, other: &Side<'_>| {
        let has = side.memory_pids().contains(&pid) && other.memory_pids().contains(&pid);
        if !has && side.processes.is_none() {
            return Ok(Err(format!("process {pid} has no pages in this pre-dump level")));
        }
        match with_memory(side, other, pid, |m| Ok(m.read(addr, len).map(|b| b.into_owned()).map_err(|e| e.to_string()))) {
            Ok(result) => Ok(result),
            Err(crate::Error::NotFound { .. }) if side.processes.is_some() => Ok(Err(format!("no process {pid}"))),
            Err(other) => Err(other),
        }
    };
    Ok([read(&old, &new)?, read(&new, &old)?])
}
