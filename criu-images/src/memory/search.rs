//! Searching process memory: literal bytes (memmem), regular expressions
//! and printable strings, over the borrowed pages.
//!
//! Memory is searched as *streams*: runs of dumped pieces at contiguous
//! addresses. Inside a piece the search runs directly on the mapped pages;
//! where two pieces meet (their bytes lie in different places of the pages
//! files) a small window across the boundary is searched too, so a match
//! that straddles pages, pagemap entries or VMAs is found wherever the
//! memory is contiguous. Zero pages hold nothing the process wrote and are
//! not searched; missing pages are not in the checkpoint.

use std::collections::VecDeque;
use std::sync::Arc;

use memchr::memmem;
use regex::bytes::Regex;

use super::{Content, Origin, Piece, ProcessMemory, Vma, VmaKind};
use crate::error::{Error, Result};
use crate::progress::{Progress, STEP};

/// Longest regex match guaranteed to be found across a piece boundary.
const REGEX_WINDOW: u64 = 4096;

/// What to look for.
#[derive(Clone, Debug)]
pub enum Pattern {
    /// Exact bytes.
    Literal(Vec<u8>),
    /// A regular expression over bytes (`regex::bytes` syntax).
    Regex(Regex),
}

impl Pattern {
    /// Exact bytes (text is searched as its UTF-8 bytes).
    pub fn literal(bytes: impl Into<Vec<u8>>) -> Pattern {
        Pattern::Literal(bytes.into())
    }

    /// A regular expression; `(?-u)` is implied so `.` and classes match bytes.
    pub fn regex(expr: &str) -> Result<Pattern> {
        regex::bytes::RegexBuilder::new(expr)
            .unicode(false)
            .build()
            .map(Pattern::Regex)
            .map_err(|e| Error::Pattern { detail: e.to_string() })
    }

    /// Exact bytes with ASCII letters matched in either case (`-i`): `api_key`
    /// finds `API_KEY` and `Api_Key`; other bytes match only themselves.
    pub fn literal_ignore_case(bytes: &[u8]) -> Result<Pattern> {
        let mut expr = String::with_capacity(bytes.len() * 4);
        for &b in bytes {
            if b.is_ascii_alphanumeric() {
                expr.push(char::from(b));
            } else {
                // `\xNN` is the byte itself in a non-Unicode bytes regex.
                expr.push_str(&format!("\\x{b:02x}"));
            }
        }
        Pattern::regex_ignore_case(&expr)
    }

    /// A regular expression with ASCII letters matched in either case.
    pub fn regex_ignore_case(expr: &str) -> Result<Pattern> {
        regex::bytes::RegexBuilder::new(expr)
            .unicode(false)
            .case_insensitive(true)
            .build()
            .map(Pattern::Regex)
            .map_err(|e| Error::Pattern { detail: e.to_string() })
    }

    /// Bytes from a hex string such as `deadbeef` or `de ad be ef`.
    pub fn hex(text: &str) -> Result<Pattern> {
        let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace() && *b != b':').collect();
        if digits.is_empty() || !digits.len().is_multiple_of(2) {
            return Err(Error::Pattern { detail: format!("{text:?} is not an even number of hex digits") });
        }
        let mut bytes = Vec::with_capacity(digits.len() / 2);
        for pair in digits.chunks(2) {
            let pair = std::str::from_utf8(pair).unwrap_or("zz");
            let byte = u8::from_str_radix(pair, 16).map_err(|_| Error::Pattern { detail: format!("{text:?} is not hex") })?;
            bytes.push(byte);
        }
        Ok(Pattern::Literal(bytes))
    }
}

/// Which memory to search and how much to report.
#[derive(Clone, Debug, Default)]
pub struct SearchOptions {
    /// Bytes of context to return before and after each match.
    pub context: u64,
    /// Only areas whose permissions match, e.g. `r-x` or `rw-p` (see [`Vma::perms_match`]).
    pub perms: Option<String>,
    /// Only areas of these kinds (empty: all).
    pub kinds: Vec<VmaKind>,
    /// Only addresses in `[start, end)`.
    pub range: Option<(u64, u64)>,
    /// Stop after this many hits.
    pub max_hits: Option<usize>,
    /// Where to report the bytes searched (the total is the bytes of the
    /// selected dumped memory); cancelling it stops the work with
    /// [`Error::Cancelled`].
    pub progress: Option<Arc<Progress>>,
}

impl SearchOptions {
    fn wants(&self, vma: &Vma) -> bool {
        self.perms.as_deref().is_none_or(|p| vma.perms_match(p)) && (self.kinds.is_empty() || self.kinds.contains(&vma.kind()))
    }
}

/// One match.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Hit {
    /// Process id as the images hold it.
    pub pid: u32,
    /// Address of the first matched byte.
    pub address: u64,
    /// The matched bytes.
    pub matched: Vec<u8>,
    /// Address of the first context byte.
    pub context_start: u64,
    /// Context before, the match, and context after (clipped to readable memory).
    pub context: Vec<u8>,
    /// The memory area of the first matched byte (`/proc/PID/maps` view:
    /// [`Vma::perms`], [`Vma::path`]).
    pub area: Vma,
    /// Where the matched bytes come from, as runs `(start, end, origin)`
    /// covering `[address, address + matched.len())` in order: pages the
    /// checkpoint dumped, zero pages, or file pages filled from
    /// `rootfs-diff.tar` or a supplied directory.
    pub origins: Vec<(u64, u64, Origin)>,
}

/// Text encodings for [`ProcessMemory::strings`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Encoding {
    /// Printable ASCII (and tab).
    Ascii,
    /// Printable ASCII as UTF-16 little-endian code units.
    Utf16Le,
}

impl Encoding {
    /// Parses `ascii` or `utf-16le` (also `utf16le`, `utf16`).
    pub fn parse(text: &str) -> Option<Encoding> {
        match text {
            "ascii" => Some(Encoding::Ascii),
            "utf-16le" | "utf16le" | "utf-16" | "utf16" => Some(Encoding::Utf16Le),
            _ => None,
        }
    }

    /// The name [`Encoding::parse`] accepts: `ascii` or `utf-16le`.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Ascii => "ascii",
            Encoding::Utf16Le => "utf-16le",
        }
    }
}

/// A printable string found in memory.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct StringHit {
    /// Process id.
    pub pid: u32,
    /// Address of the first byte.
    pub address: u64,
    /// How the string is encoded in memory.
    pub encoding: Encoding,
    /// The text.
    pub text: String,
}

/// Matches (or strings) one task may collect before it is split in two:
/// bounds the memory of a search whose pattern matches everywhere.
const TASK_CAP: usize = 1 << 16;

/// Pieces a task may hold even if they hold few bytes (missing and zero
/// pieces cost a visit each), so that batches stay short.
const TASK_PIECES: usize = 1 << 15;

/// Pieces below which [`Selection::plan`] walks them on one thread.
const PLAN_PART: usize = 1 << 16;

/// Pieces visited between two cancellation checks.
const PIECES_PER_CHECK: usize = 4096;

/// The matches (or strings) that start in `[start, end)`. The selected
/// address space is cut into such tasks, each with about [`CHUNK`] dumped
/// bytes; they run in parallel batches and their results are emitted in
/// task order, which is address order.
#[derive(Clone, Copy, Debug)]
struct Task {
    /// Index of the first piece ending after `start`.
    first: usize,
    start: u64,
    end: u64,
    /// Dumped bytes of the selection in `[start, end)` (for progress).
    bytes: u64,
    /// Results past which the task gives up, to be split.
    cap: usize,
}

/// The memory `options` select: pieces clipped to `options.range`, in
/// areas `options` wants.
struct Selection<'m, 'a> {
    memory: &'m ProcessMemory<'a>,
    options: &'m SearchOptions,
    lo: u64,
    hi: u64,
}

impl<'m, 'a> Selection<'m, 'a> {
    fn new(memory: &'m ProcessMemory<'a>, options: &'m SearchOptions) -> Selection<'m, 'a> {
        let (lo, hi) = options.range.unwrap_or((0, u64::MAX));
        Selection { memory, options, lo, hi: hi.max(lo) }
    }

    /// Index of the first piece ending after `addr`.
    fn index(&self, addr: u64) -> usize {
        self.memory.pieces.partition_point(|p| p.end <= addr)
    }

    /// Piece `k` clipped to the selection and to addresses from `from`;
    /// `None` past the selection.
    #[inline]
    fn piece(&self, k: usize, from: u64) -> Option<Piece<'a>> {
        let p = self.memory.pieces.get(k)?;
        if p.start >= self.hi {
            return None;
        }
        let from = from.max(self.lo);
        if p.end <= from {
            // Not reached by the callers; an empty piece reads as nothing.
            return Some(Piece { start: p.end, end: p.end, vma: p.vma, content: Content::Zero });
        }
        Some(p.clip(from, self.hi))
    }

    /// Dumped, file-filled or zero bytes of a selected area.
    #[inline]
    fn readable(&self, p: &Piece<'_>) -> bool {
        !p.is_empty()
            && matches!(p.content, Content::Dumped(_) | Content::File(..) | Content::Zero)
            && self.memory.vmas.get(p.vma).is_some_and(|v| self.options.wants(v))
    }

    /// The bytes of a selected piece (`None` for zero, missing and unselected pieces).
    #[inline]
    fn bytes(&self, p: &Piece<'a>) -> Option<&'a [u8]> {
        if self.readable(p) {
            p.content.bytes()
        } else {
            None
        }
    }

    /// Whether piece `k + 1` continues piece `p` (= piece `k`, clipped) at
    /// the next address, readable (and not zero if `zero_breaks`).
    fn continues(&self, k: usize, p: &Piece<'_>, zero_breaks: bool) -> bool {
        self.piece(k + 1, self.lo).is_some_and(|n| n.start == p.end && self.readable(&n) && !(zero_breaks && n.content == Content::Zero))
    }

    /// Dumped bytes of the selection: what a search reads.
    fn searchable_bytes(&self) -> u64 {
        let mut total = 0;
        let mut k = self.index(self.lo);
        while let Some(p) = self.piece(k, self.lo) {
            total += self.bytes(&p).map_or(0, |b| b.len() as u64);
            k += 1;
        }
        total
    }

    /// The selection cut into tasks of about `chunk` dumped bytes (at most
    /// [`TASK_PIECES`] pieces each), in address order; every selected
    /// address belongs to exactly one task. With many pieces the walk is
    /// shared between the cores: each takes a part of the pieces and cuts
    /// it into tasks (a task boundary falls where two parts meet).
    fn plan(&self, chunk: u64, cap: usize) -> VecDeque<Task> {
        let pieces = self.memory.pieces.len().saturating_sub(self.index(self.lo));
        self.plan_in_parts(chunk, cap, crate::parallel::threads().min(pieces / PLAN_PART).max(1))
    }

    /// [`plan`](Self::plan) with the pieces cut into `parts` parts (at least one).
    fn plan_in_parts(&self, chunk: u64, cap: usize, parts: usize) -> VecDeque<Task> {
        let first = self.index(self.lo);
        // Pieces from `first` that start before the selection's end.
        let last = first + self.memory.pieces.get(first..).map_or(0, |rest| rest.partition_point(|p| p.start < self.hi));
        let parts = parts.clamp(1, (last - first).max(1));
        // Part `i` covers pieces `bounds[i]..bounds[i + 1]` and the addresses from its first piece's start.
        let bounds: Vec<usize> = (0..=parts).map(|i| first + (last - first) * i / parts).collect();
        let start_of = |i: usize| if i == 0 { self.lo } else { self.memory.pieces.get(bounds[i]).map_or(self.hi, |p| p.start) };
        let plan_part = |i: usize| {
            Ok(self.plan_part(bounds[i], bounds[i + 1], start_of(i), if i + 1 == parts { self.hi } else { start_of(i + 1) }, chunk, cap))
        };
        // Planning cannot fail (no task returns an error).
        let planned = if parts == 1 { plan_part(0).map(|t| vec![t]) } else { crate::parallel::map_tasks(parts, plan_part) };
        planned.unwrap_or_default().into_iter().flatten().collect()
    }

    /// Tasks covering `[start, end)`, whose pieces are `first..last`.
    fn plan_part(&self, first: usize, last: usize, start: u64, end: u64, chunk: u64, cap: usize) -> Vec<Task> {
        let mut tasks = Vec::new();
        let mut cur = Task { first, start, end, bytes: 0, cap };
        let mut pieces = 0;
        for k in first..last {
            let Some(p) = self.piece(k, start) else { break };
            let mut left = self.bytes(&p).map_or(0, |b| b.len() as u64);
            let mut at = p.start;
            while left > 0 {
                if cur.bytes >= chunk {
                    cur.end = at;
                    tasks.push(cur);
                    cur = Task { first: k, start: at, end, bytes: 0, cap };
                    pieces = 0;
                }
                let take = left.min(chunk - cur.bytes);
                cur.bytes += take;
                at += take;
                left -= take;
            }
            pieces += 1;
            if pieces >= TASK_PIECES && p.end < end {
                cur.end = p.end;
                tasks.push(cur);
                cur = Task { first: k + 1, start: p.end, end, bytes: 0, cap };
                pieces = 0;
            }
        }
        tasks.push(cur);
        tasks
    }

    /// `task` cut in two halves of about the same weight (a piece visited
    /// weighs 1, a dumped byte 1); the task itself, uncapped, if it cannot
    /// be cut (a task of one address cannot overflow).
    fn split(&self, task: &Task) -> Vec<Task> {
        let weight =
            |k: usize| self.piece(k, task.start).filter(|p| p.start < task.end).map(|p| (p, self.bytes(&p).map_or(0, |b| b.len() as u64)));
        let (mut total, mut k) = (0u64, task.first);
        while let Some((p, bytes)) = weight(k) {
            total += 1 + bytes.min(task.end - p.start);
            k += 1;
        }
        let half = total / 2;
        let (mut acc, mut k, mut cut) = (0u64, task.first, None);
        while let Some((p, bytes)) = weight(k) {
            let bytes = bytes.min(task.end - p.start);
            if acc + 1 + bytes > half {
                let inside = p.start + (half.saturating_sub(acc + 1)).min(bytes.saturating_sub(1));
                cut = [inside, p.start, p.end].into_iter().find(|&x| x > task.start && x < task.end);
                break;
            }
            acc += 1 + bytes;
            k += 1;
        }
        let Some(cut) = cut else { return vec![Task { cap: usize::MAX, ..*task }] };
        let part = |start: u64, end: u64| {
            let mut bytes = 0;
            let mut k = self.index(start);
            while let Some(p) = self.piece(k, start).filter(|p| p.start < end) {
                bytes += self.bytes(&p).map_or(0, |b| b.len() as u64).min(end - p.start);
                k += 1;
            }
            Task { first: self.index(start), start, end, bytes, cap: task.cap }
        };
        vec![part(task.start, cut), part(cut, task.end)]
    }

    /// The bytes of `[start, end)`, which a match or its context found
    /// readable (zeros for zero pages).
    fn gather(&self, start: u64, end: u64) -> Vec<u8> {
        let mut out = Vec::with_capacity(end.saturating_sub(start).min(1 << 20) as usize);
        let mut k = self.index(start);
        while let Some(p) = self.piece(k, start).filter(|p| p.start < end) {
            let p = p.clip(start, end);
            match p.content.bytes() {
                Some(bytes) => out.extend_from_slice(bytes),
                None => out.resize(out.len() + p.len() as usize, 0),
            }
            k += 1;
        }
        out
    }

    /// `[start, end)` widened by up to `context` bytes each way, as far as
    /// the selected memory is readable and contiguous. Visits only the
    /// pieces it widens over.
    fn widen(&self, start: u64, end: u64, context: u64) -> (u64, u64) {
        if context == 0 {
            return (start, end);
        }
        let want_start = start.saturating_sub(context).max(self.lo);
        let mut from = start;
        while from > want_start {
            let k = self.index(from - 1);
            let Some(p) = self.piece(k, self.lo).filter(|p| p.start < from && self.readable(p)) else { break };
            from = p.start.max(want_start);
        }
        let want_end = end.saturating_add(context).min(self.hi);
        let mut to = end;
        while to < want_end {
            let k = self.index(to);
            let Some(p) = self.piece(k, self.lo).filter(|p| p.start <= to && self.readable(p)) else { break };
            to = p.end.min(want_end);
        }
        (from, to)
    }
}

/// A compiled pattern, as the tasks use it (one per batch: its size does not matter).
#[allow(clippy::large_enum_variant)]
enum Finder<'p> {
    Literal(memmem::Finder<'p>),
    Regex(&'p Regex),
}

impl<'p> Finder<'p> {
    fn new(pattern: &'p Pattern) -> Option<Finder<'p>> {
        match pattern {
            Pattern::Literal(needle) if needle.is_empty() => None,
            Pattern::Literal(needle) => Some(Finder::Literal(memmem::Finder::new(needle))),
            Pattern::Regex(regex) => Some(Finder::Regex(regex)),
        }
    }

    /// Bytes a match may reach past the last byte where it can start
    /// (guaranteed for regular expressions up to [`REGEX_WINDOW`]).
    fn overlap(&self) -> u64 {
        match self {
            Finder::Literal(f) => f.needle().len() as u64 - 1,
            Finder::Regex(_) => REGEX_WINDOW,
        }
    }

    /// A literal without a NUL byte cannot touch a zero page: zero pages
    /// then break the memory into independent streams.
    fn zero_breaks(&self) -> bool {
        matches!(self, Finder::Literal(f) if !f.needle().contains(&0))
    }

    fn is_regex(&self) -> bool {
        matches!(self, Finder::Regex(_))
    }

    /// Calls `found(offset, length)` for each non-empty match in `bytes`,
    /// until it returns false.
    fn find(&self, bytes: &[u8], found: &mut dyn FnMut(usize, usize) -> bool) {
        match self {
            Finder::Literal(f) => {
                for at in f.find_iter(bytes) {
                    if !found(at, f.needle().len()) {
                        break;
                    }
                }
            }
            Finder::Regex(r) => {
                for m in r.find_iter(bytes).filter(|m| !m.is_empty()) {
                    if !found(m.start(), m.len()) {
                        break;
                    }
                }
            }
        }
    }
}

/// The bytes of consecutive pieces (in address order, not necessarily
/// neighbours in memory) that follow each other in one data source, searched
/// for a literal in one scan: dumped pages are contiguous in a pages file
/// whatever the address layout, so memory cut into many small runs is
/// scanned as the dense layout is, and only matches that straddle two pieces
/// of the slice (bytes not neighbours in memory) are thrown away.
#[derive(Default)]
struct Stretch<'a> {
    /// The data source holding the pieces (or the one piece when no source
    /// holds it).
    source: &'a [u8],
    /// Where the stretch's bytes begin and end in `source`.
    begin: usize,
    end: usize,
    /// For each piece: where its bytes begin in `source`, and its address.
    parts: Vec<(usize, u64)>,
}

impl<'a> Stretch<'a> {
    /// Adds `bytes` (at `address`) if they follow the stretch's bytes in its
    /// source; false otherwise (and when empty).
    #[inline]
    fn extend(&mut self, bytes: &[u8], address: u64) -> bool {
        // Addresses compared, never dereferenced: `source` is re-sliced.
        let next = (self.source.as_ptr() as usize).wrapping_add(self.end);
        if self.parts.is_empty() || bytes.as_ptr() as usize != next || self.source.len() - self.end < bytes.len() {
            return false;
        }
        self.parts.push((self.end, address));
        self.end += bytes.len();
        true
    }

    /// Starts a new stretch with `bytes` (at `address`), in the source of
    /// `sources` (sorted by address) that holds them, or alone.
    fn start(&mut self, sources: &[&'a [u8]], bytes: &'a [u8], address: u64) {
        let at = bytes.as_ptr() as usize;
        let i = sources.partition_point(|s| s.as_ptr() as usize <= at);
        let holder = i.checked_sub(1).and_then(|i| sources.get(i)).and_then(|s| {
            let offset = at - s.as_ptr() as usize;
            (offset <= s.len() && s.len() - offset >= bytes.len()).then_some((*s, offset))
        });
        let (source, begin) = holder.unwrap_or((bytes, 0));
        self.parts.clear();
        self.parts.push((begin, address));
        (self.source, self.begin, self.end) = (source, begin, begin + bytes.len());
    }

    /// Pushes the matches of `finder` inside each piece that start before
    /// `task_end`, as a scan of each piece alone finds them (leftmost,
    /// non-overlapping), and empties the stretch; stops once `found` holds
    /// more than `cap`.
    fn scan(&mut self, finder: &memmem::Finder<'_>, task_end: u64, cap: usize, found: &mut Vec<(u64, u64)>) {
        let len = finder.needle().len();
        let (mut pos, mut j) = (self.begin, 0);
        while let Some(at) = self.source.get(pos..self.end).and_then(|hay| finder.find(hay)).map(|at| pos + at) {
            while self.parts.get(j + 1).is_some_and(|&(begin, _)| begin <= at) {
                j += 1;
            }
            let (begin, address) = self.parts[j];
            let piece_end = self.parts.get(j + 1).map_or(self.end, |&(b, _)| b);
            if at + len > piece_end {
                // Across two pieces: not in memory; the next piece's own
                // matches are searched from its start.
                pos = piece_end;
                continue;
            }
            let s = address + (at - begin) as u64;
            if s >= task_end || found.len() > cap {
                break;
            }
            found.push((s, len as u64));
            // Leftmost and non-overlapping, as `find_iter` over the piece.
            pos = at + len.max(1);
        }
        self.parts.clear();
    }
}

/// Tasks still to run and the results of those run, not yet handed out.
struct Cursor<T> {
    tasks: VecDeque<Task>,
    pending: VecDeque<T>,
    /// Progress units per dumped byte (strings count each encoding).
    units: u64,
}

impl<T: Send> Cursor<T> {
    /// Runs batches of tasks (in parallel) until some results are pending
    /// or no task is left; false when everything was handed out. A task
    /// that gives up (`None`) is split and run again.
    fn fill(
        &mut self,
        selection: &Selection<'_, '_>,
        progress: Option<&Progress>,
        run: impl Fn(&Task) -> Result<Option<Vec<T>>> + Sync,
    ) -> Result<bool> {
        while self.pending.is_empty() {
            if self.tasks.is_empty() {
                return Ok(false);
            }
            progress.map_or(Ok(()), Progress::check)?;
            let n = self.tasks.len().min(2 * crate::parallel::threads());
            let batch: Vec<Task> = self.tasks.drain(..n).collect();
            let results = crate::parallel::map_tasks(batch.len(), |i| run(&batch[i]))?;
            for (i, result) in results.into_iter().enumerate() {
                match result {
                    Some(items) => {
                        self.pending.extend(items);
                        if let Some(progress) = progress {
                            progress.advance(batch[i].bytes * self.units);
                        }
                    }
                    None => {
                        for task in batch[i + 1..].iter().rev() {
                            self.tasks.push_front(*task);
                        }
                        for task in selection.split(&batch[i]).into_iter().rev() {
                            self.tasks.push_front(task);
                        }
                        break;
                    }
                }
            }
        }
        Ok(true)
    }
}

/// A search in progress: hits come out in address order, a batch at a
/// time, from [`ProcessMemory::search_next`]. It owns no borrowed data, so
/// it can live beside the memory (the Python iterator keeps one).
pub struct SearchCursor {
    cursor: Cursor<(u64, u64)>,
    /// Hits still allowed by `max_hits`.
    remaining: usize,
}

/// Strings being extracted: they come out in address order, a batch at a
/// time, from [`ProcessMemory::strings_next`].
pub struct StringsCursor {
    cursor: Cursor<StringHit>,
    min_len: usize,
    ascii: bool,
    utf16: bool,
}

/// Results handed out one by one from batches: what [`SearchIter`] and
/// [`StringsIter`] share. After an error, nothing more.
struct Batches<T> {
    batch: std::vec::IntoIter<T>,
    failed: bool,
}

impl<T> Batches<T> {
    fn new() -> Batches<T> {
        Batches { batch: Vec::new().into_iter(), failed: false }
    }

    /// The next result, taking a new batch from `fetch` when this one is
    /// used up (an empty batch: the end).
    fn next(&mut self, fetch: impl FnOnce() -> Result<Vec<T>>) -> Option<Result<T>> {
        if let Some(item) = self.batch.next() {
            return Some(Ok(item));
        }
        if self.failed {
            return None;
        }
        match fetch() {
            Ok(items) => {
                self.batch = items.into_iter();
                self.batch.next().map(Ok)
            }
            Err(err) => {
                self.failed = true;
                Some(Err(err))
            }
        }
    }
}

/// Hits of [`ProcessMemory::search_iter`], in address order.
pub struct SearchIter<'m, 'a> {
    memory: &'m ProcessMemory<'a>,
    pattern: &'m Pattern,
    options: &'m SearchOptions,
    cursor: SearchCursor,
    batches: Batches<Hit>,
}

impl Iterator for SearchIter<'_, '_> {
    type Item = Result<Hit>;

    fn next(&mut self) -> Option<Result<Hit>> {
        let (memory, cursor, pattern, options) = (self.memory, &mut self.cursor, self.pattern, self.options);
        self.batches.next(|| memory.search_next(cursor, pattern, options, HITS_PER_BATCH))
    }
}

/// Strings of [`ProcessMemory::strings_iter`], in address order.
pub struct StringsIter<'m, 'a> {
    memory: &'m ProcessMemory<'a>,
    options: &'m SearchOptions,
    cursor: StringsCursor,
    batches: Batches<StringHit>,
}

impl Iterator for StringsIter<'_, '_> {
    type Item = Result<StringHit>;

    fn next(&mut self) -> Option<Result<StringHit>> {
        let (memory, cursor, options) = (self.memory, &mut self.cursor, self.options);
        self.batches.next(|| memory.strings_next(cursor, options, HITS_PER_BATCH))
    }
}

/// Hits (or strings) [`SearchIter`] and [`StringsIter`] take at a time.
const HITS_PER_BATCH: usize = 1024;

impl<'a> ProcessMemory<'a> {
    /// Bytes [`search`](Self::search) reads with these options: the dumped
    /// (and file-filled) memory of the selected areas; zero pages are not read.
    pub fn searchable_bytes(&self, options: &SearchOptions) -> u64 {
        Selection::new(self, options).searchable_bytes()
    }

    /// Finds `pattern` in this process's memory.
    ///
    /// ```no_run
    /// # use criu_images::memory::{Pattern, ProcessMemory, SearchOptions};
    /// # fn demo(memory: &ProcessMemory<'_>) -> criu_images::Result<()> {
    /// let options = SearchOptions { context: 16, perms: Some("rw".into()), ..Default::default() };
    /// for hit in memory.search(&Pattern::literal("password="), &options)? {
    ///     println!("{:#x} in {:?}", hit.address, hit.area.path);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn search(&self, pattern: &Pattern, options: &SearchOptions) -> Result<Vec<Hit>> {
        if let Some(progress) = &options.progress {
            progress.set_total(self.searchable_bytes(options));
        }
        let hits = self.search_iter(pattern, options).collect::<Result<Vec<Hit>>>()?;
        if let Some(progress) = &options.progress {
            progress.finish();
        }
        Ok(hits)
    }

    /// The hits of [`search`](Self::search) as they are found, in address
    /// order: memory is searched in parallel batches of a few MiB per core,
    /// and only the hits of one batch are held. Adds the bytes searched to
    /// `options.progress` (whose total the caller sets, e.g. to
    /// [`searchable_bytes`](Self::searchable_bytes)); a cancelled progress
    /// ends the iteration with [`Error::Cancelled`].
    ///
    /// ```no_run
    /// # use criu_images::memory::{Pattern, ProcessMemory, SearchOptions};
    /// # fn demo(memory: &ProcessMemory<'_>) -> criu_images::Result<()> {
    /// let pattern = Pattern::literal("password=");
    /// let options = SearchOptions::default();
    /// for hit in memory.search_iter(&pattern, &options) {
    ///     println!("{:#x}", hit?.address);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn search_iter<'m>(&'m self, pattern: &'m Pattern, options: &'m SearchOptions) -> SearchIter<'m, 'a> {
        SearchIter { memory: self, pattern, options, cursor: self.search_cursor(options), batches: Batches::new() }
    }

    /// A [`SearchCursor`] over the memory `options` select, for
    /// [`search_next`](Self::search_next) (the same `options` each time).
    pub fn search_cursor(&self, options: &SearchOptions) -> SearchCursor {
        let tasks = Selection::new(self, options).plan(CHUNK as u64, TASK_CAP);
        SearchCursor { cursor: Cursor { tasks, pending: VecDeque::new(), units: 1 }, remaining: options.max_hits.unwrap_or(usize::MAX) }
    }

    /// The next hits of a search (at most `max`, at least one unless the
    /// search is over), in address order; empty when it is over.
    pub fn search_next(&self, cursor: &mut SearchCursor, pattern: &Pattern, options: &SearchOptions, max: usize) -> Result<Vec<Hit>> {
        let selection = Selection::new(self, options);
        let Some(finder) = Finder::new(pattern) else { return Ok(Vec::new()) };
        let progress = options.progress.as_deref();
        let mut hits = Vec::new();
        while hits.len() < max.max(1) && cursor.remaining > 0 {
            if cursor.cursor.pending.is_empty() {
                // Hand out what is here rather than wait for the next batch.
                if !hits.is_empty() || !cursor.cursor.fill(&selection, progress, |task| selection.search_task(&finder, task, progress))? {
                    break;
                }
            }
            let Some((address, len)) = cursor.cursor.pending.pop_front() else { break };
            cursor.remaining -= 1;
            hits.push(self.hit(&selection, address, len, options.context));
        }
        Ok(hits)
    }

    /// The hit at `[address, address + len)` with its bytes, context and area.
    fn hit(&self, selection: &Selection<'_, 'a>, address: u64, len: u64, context: u64) -> Hit {
        let end = address.saturating_add(len);
        let (context_start, context_end) = selection.widen(address, end, context);
        // Hits are found only in the pieces of areas, so the area is there;
        // the fallback (the hit alone, no permissions) keeps this total.
        let area = self.vma_at(address).cloned().unwrap_or(Vma {
            start: address,
            end,
            pgoff: 0,
            shmid: 0,
            prot: 0,
            flags: 0,
            status: 0,
            path: None,
        });
        Hit {
            pid: self.pid,
            address,
            matched: selection.gather(address, end),
            context_start,
            context: selection.gather(context_start, context_end),
            area,
            origins: self.origins(address, end),
        }
    }

    /// Runs of one origin over `[start, end)`, neighbours of the same origin
    /// joined: where its bytes come from (as [`Hit::origins`]).
    pub fn origins(&self, start: u64, end: u64) -> Vec<(u64, u64, Origin)> {
        let mut runs: Vec<(u64, u64, Origin)> = Vec::new();
        for piece in self.pieces_in(start, end) {
            let origin = piece.content.origin();
            match runs.last_mut() {
                Some(last) if last.1 == piece.start && last.2 == origin => last.1 = piece.end,
                _ => runs.push((piece.start, piece.end, origin)),
            }
        }
        runs
    }

    /// Printable strings of at least `min_len` characters in the selected
    /// memory, in address order. Progress counts the bytes read once per
    /// encoding.
    pub fn strings(&self, min_len: usize, encodings: &[Encoding], options: &SearchOptions) -> Result<Vec<StringHit>> {
        let cursor = self.strings_cursor(min_len, encodings, options);
        if let Some(progress) = &options.progress {
            progress.set_total(self.searchable_bytes(options) * cursor.cursor.units);
        }
        let found = StringsIter { memory: self, options, cursor, batches: Batches::new() }.collect::<Result<Vec<_>>>()?;
        if let Some(progress) = &options.progress {
            progress.finish();
        }
        Ok(found)
    }

    /// The strings of [`strings`](Self::strings) as they are found, in
    /// address order, parallel and holding one batch at a time (see
    /// [`search_iter`](Self::search_iter); the progress units are bytes
    /// times encodings).
    pub fn strings_iter<'m>(&'m self, min_len: usize, encodings: &[Encoding], options: &'m SearchOptions) -> StringsIter<'m, 'a> {
        let cursor = self.strings_cursor(min_len, encodings, options);
        StringsIter { memory: self, options, cursor, batches: Batches::new() }
    }

    /// A [`StringsCursor`] for [`strings_next`](Self::strings_next).
    pub fn strings_cursor(&self, min_len: usize, encodings: &[Encoding], options: &SearchOptions) -> StringsCursor {
        let ascii = encodings.contains(&Encoding::Ascii);
        let utf16 = encodings.contains(&Encoding::Utf16Le);
        let tasks = Selection::new(self, options).plan(CHUNK as u64, TASK_CAP);
        StringsCursor {
            cursor: Cursor { tasks, pending: VecDeque::new(), units: u64::from(ascii) + u64::from(utf16) },
            min_len: min_len.max(1),
            ascii,
            utf16,
        }
    }

    /// The next strings (at most `max`), in address order; empty when done.
    pub fn strings_next(&self, cursor: &mut StringsCursor, options: &SearchOptions, max: usize) -> Result<Vec<StringHit>> {
        let selection = Selection::new(self, options);
        let progress = options.progress.as_deref();
        let (min_len, ascii, utf16) = (cursor.min_len, cursor.ascii, cursor.utf16);
        if !ascii && !utf16 {
            return Ok(Vec::new());
        }
        if !cursor.cursor.fill(&selection, progress, |task| selection.strings_task(min_len, ascii, utf16, task, progress))? {
            return Ok(Vec::new());
        }
        let n = cursor.cursor.pending.len().min(max.max(1));
        Ok(cursor.cursor.pending.drain(..n).collect())
    }
}

impl<'a> Selection<'_, 'a> {
    /// The matches of `finder` starting in the task's range, in address
    /// order; `None` past [`TASK_CAP`] of them (if capped).
    ///
    /// Inside a piece the search runs on the mapped bytes. Where two
    /// readable pieces meet, a window of `carry` (the last `overlap` bytes
    /// before the boundary, kept as the pieces go by) and the first
    /// `overlap` bytes after it is searched for matches that cross it, so
    /// the cost is the bytes plus `overlap` per boundary, whatever the
    /// number of pieces.
    fn search_task(&self, finder: &Finder<'_>, task: &Task, progress: Option<&Progress>) -> Result<Option<Vec<(u64, u64)>>> {
        let w = finder.overlap();
        let zero_breaks = finder.zero_breaks();
        let regex = finder.is_regex();
        let mut found: Vec<(u64, u64)> = Vec::new();
        let mut carry: Vec<u8> = Vec::new();
        // Address just past `carry`, when it holds readable bytes.
        let mut carry_end: Option<u64> = None;
        let mut window: Vec<u8> = Vec::new();
        let mut stretch = Stretch::default();
        let mut k = task.first;
        let mut visited = 0usize;
        while let Some(p) = self.piece(k, task.start) {
            let joined = carry_end == Some(p.start) && !carry.is_empty();
            // Past the range, only windows that hold a byte of it matter.
            if p.start >= task.end && !(joined && p.start - (carry.len() as u64) < task.end) {
                break;
            }
            visited += 1;
            if visited.is_multiple_of(PIECES_PER_CHECK) {
                progress.map_or(Ok(()), Progress::check)?;
            }
            if !self.readable(&p) || (zero_breaks && p.content == Content::Zero) {
                carry.clear();
                carry_end = None;
                k += 1;
                continue;
            }
            let bytes = p.content.bytes();
            if joined && w > 0 {
                let head = w.min(p.len()) as usize;
                window.clear();
                window.extend_from_slice(&carry);
                match bytes {
                    Some(b) => window.extend_from_slice(&b[..head]),
                    None => window.resize(window.len() + head, 0),
                }
                let base = p.start - carry.len() as u64;
                // A regex match cut by the end of a short piece is found whole at the next boundary.
                let cut = regex && p.len() < w && self.continues(k, &p, zero_breaks);
                let total = window.len();
                finder.find(&window, &mut |at, len| {
                    let (s, e) = (base + at as u64, base + (at + len) as u64);
                    // (A regex match that ends at the boundary was left to this window by the piece before.)
                    let crosses = e > p.start || (regex && e == p.start);
                    if s < p.start && crosses && s >= task.start && s < task.end && !(cut && at + len == total) {
                        found.push((s, len as u64));
                    }
                    found.len() <= task.cap
                });
            }
            if let (Some(b), true) = (bytes, p.start < task.end) {
                let stop = (p.end.min(task.end.saturating_add(w)) - p.start) as usize;
                if let Finder::Literal(f) = finder {
                    // Found in one scan with the pieces before it that
                    // follow it in the same data source.
                    if !stretch.extend(&b[..stop], p.start) {
                        stretch.scan(f, task.end, task.cap, &mut found);
                        stretch.start(&self.memory.sources, &b[..stop], p.start);
                    }
                } else {
                    let cut = regex && stop == b.len() && self.continues(k, &p, zero_breaks);
                    finder.find(&b[..stop], &mut |at, len| {
                        let s = p.start + at as u64;
                        // Matches reaching the piece's end near it are the boundary window's.
                        if s < task.end && !(cut && at + len == stop && (stop - at) as u64 <= w) {
                            found.push((s, len as u64));
                        }
                        // Past the cap the task is split: no need to look further.
                        found.len() <= task.cap
                    });
                }
            }
            self.keep_carry(k, &p, zero_breaks, w, joined, bytes, &mut carry, &mut carry_end);
            if found.len() > task.cap {
                return Ok(None);
            }
            k += 1;
        }
        if let Finder::Literal(f) = finder {
            stretch.scan(f, task.end, task.cap, &mut found);
            if found.len() > task.cap {
                return Ok(None);
            }
        }
        found.sort_unstable();
        found.dedup();
        Ok(Some(found))
    }

    /// Keeps in `carry` the last `w` bytes before the end of piece `k`
    /// (`p`, with `bytes`), for the window where the next piece joins it;
    /// only when the next piece does join it (a piece followed by a gap, a
    /// missing or a breaking zero piece keeps nothing: its carry would be
    /// dropped there).
    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn keep_carry(
        &self,
        k: usize,
        p: &Piece<'_>,
        zero_breaks: bool,
        w: u64,
        joined: bool,
        bytes: Option<&[u8]>,
        carry: &mut Vec<u8>,
        carry_end: &mut Option<u64>,
    ) {
        if w == 0 {
            return;
        }
        if !self.continues(k, p, zero_breaks) {
            carry.clear();
            *carry_end = None;
            return;
        }
        if !joined {
            carry.clear();
        }
        let take = w.min(p.len()) as usize;
        let keep = (w as usize - take).min(carry.len());
        carry.drain(..carry.len() - keep);
        match bytes {
            Some(b) => carry.extend_from_slice(&b[b.len() - take..]),
            None => carry.resize(carry.len() + take, 0),
        }
        *carry_end = Some(p.end);
    }

    /// The strings starting in the task's range, in address order; `None`
    /// past [`TASK_CAP`] of them (if capped). A string that starts before
    /// the range is the previous task's; one that starts inside it is
    /// followed past its end.
    fn strings_task(
        &self,
        min_len: usize,
        ascii: bool,
        utf16: bool,
        task: &Task,
        progress: Option<&Progress>,
    ) -> Result<Option<Vec<StringHit>>> {
        let mut out = Vec::new();
        if ascii {
            self.ascii_task(min_len, task, progress, &mut out)?;
        }
        if utf16 {
            self.utf16_task(min_len, task, progress, &mut out)?;
        }
        if out.len() > task.cap {
            return Ok(None);
        }
        out.sort_by_key(|s| s.address);
        Ok(Some(out))
    }

    /// Whether the byte before `addr` is printable and readable, and
    /// continues into `addr`.
    fn printable_before(&self, addr: u64) -> bool {
        if addr <= self.lo {
            return false;
        }
        let k = self.index(addr - 1);
        let Some(p) = self.piece(k, self.lo) else { return false };
        let Some(bytes) = self.bytes(&p).filter(|_| p.start < addr) else { return false };
        let printable = bytes.get((addr - 1 - p.start) as usize).is_some_and(|&b| is_printable(b));
        printable && (p.end > addr || self.piece(k + 1, self.lo).is_some_and(|n| n.start == addr && self.bytes(&n).is_some()))
    }

    fn ascii_task(&self, min_len: usize, task: &Task, progress: Option<&Progress>, out: &mut Vec<StringHit>) -> Result<()> {
        let pid = self.memory.pid;
        let mut run: Vec<u8> = Vec::new();
        let mut run_start = 0u64;
        // Printable bytes continuing a string that started before the task.
        let mut skipping = self.printable_before(task.start);
        let mut last_end = task.start;
        let mut k = task.first;
        let mut visited = 0usize;
        'pieces: while let Some(p) = self.piece(k, task.start) {
            if p.start != last_end {
                flush_ascii(pid, &mut run, run_start, min_len, out);
                skipping = false;
            }
            if p.start >= task.end && run.is_empty() {
                break;
            }
            visited += 1;
            if visited.is_multiple_of(PIECES_PER_CHECK) {
                progress.map_or(Ok(()), Progress::check)?;
            }
            k += 1;
            last_end = p.end;
            let Some(bytes) = self.bytes(&p) else {
                flush_ascii(pid, &mut run, run_start, min_len, out);
                skipping = false;
                continue;
            };
            for (step, chunk) in bytes.chunks(STEP).enumerate() {
                progress.map_or(Ok(()), Progress::check)?;
                let base = p.start + (step * STEP) as u64;
                let mut i = 0;
                if skipping {
                    match chunk.iter().position(|&b| !is_printable(b)) {
                        Some(n) => {
                            skipping = false;
                            i = n;
                        }
                        None => {
                            if base + chunk.len() as u64 >= task.end {
                                // The whole range continues an earlier string.
                                return Ok(());
                            }
                            continue;
                        }
                    }
                }
                while i < chunk.len() {
                    if is_printable(chunk[i]) {
                        if run.is_empty() {
                            if base + i as u64 >= task.end {
                                break 'pieces;
                            }
                            run_start = base + i as u64;
                        }
                        let end = chunk[i..].iter().position(|&b| !is_printable(b)).map_or(chunk.len(), |n| i + n);
                        run.extend_from_slice(&chunk[i..end]);
                        i = end;
                    } else {
                        flush_ascii(pid, &mut run, run_start, min_len, out);
                        if base + i as u64 >= task.end || out.len() > task.cap {
                            break 'pieces;
                        }
                        i += 1;
                    }
                }
            }
        }
        flush_ascii(pid, &mut run, run_start, min_len, out);
        Ok(())
    }

    fn utf16_task(&self, min_len: usize, task: &Task, progress: Option<&Progress>, out: &mut Vec<StringHit>) -> Result<()> {
        let pid = self.memory.pid;
        let mut k = task.first;
        let mut visited = 0usize;
        while let Some(p) = self.piece(k, self.lo) {
            if p.start >= task.end {
                break;
            }
            k += 1;
            visited += 1;
            if visited.is_multiple_of(PIECES_PER_CHECK) {
                progress.map_or(Ok(()), Progress::check)?;
            }
            let Some(bytes) = self.bytes(&p) else { continue };
            if p.end <= task.start {
                continue;
            }
            // Offsets in the piece where this task's strings may start.
            let from = task.start.saturating_sub(p.start) as usize;
            let until = (task.end.min(p.end) - p.start) as usize;
            let is_char = |i: usize| i + 1 < bytes.len() && bytes[i + 1] == 0 && is_printable(bytes[i]);
            for parity in 0..2 {
                let mut i = from + (from + parity) % 2;
                // A string running into the task from before is the previous task's.
                if i >= 2 && is_char(i - 2) {
                    while i < until && is_char(i) {
                        i += 2;
                    }
                }
                let mut text = String::new();
                let mut run_start = None;
                while i + 1 < bytes.len() {
                    if (i >> 1).is_multiple_of(STEP) {
                        progress.map_or(Ok(()), Progress::check)?;
                    }
                    if is_char(i) {
                        if run_start.is_none() {
                            if i >= until {
                                break;
                            }
                            run_start = Some(i);
                        }
                        text.push(bytes[i] as char);
                    } else if let Some(s) = run_start.take() {
                        if text.len() >= min_len {
                            out.push(StringHit {
                                pid,
                                address: p.start + s as u64,
                                encoding: Encoding::Utf16Le,
                                text: std::mem::take(&mut text),
                            });
                        }
                        text.clear();
                        if i >= until || out.len() > task.cap {
                            break;
                        }
                    } else if i >= until {
                        break;
                    }
                    i += 2;
                }
                if let Some(s) = run_start {
                    if text.len() >= min_len {
                        out.push(StringHit { pid, address: p.start + s as u64, encoding: Encoding::Utf16Le, text });
                    }
                }
            }
        }
        Ok(())
    }
}

/// Finds `pattern` in several processes, one after the other;
/// `options.max_hits` bounds the total number of hits, and the progress
/// total is the searchable bytes of all of them.
pub fn search_all<'m, 'a: 'm>(
    memories: impl IntoIterator<Item = &'m ProcessMemory<'a>>,
    pattern: &Pattern,
    options: &SearchOptions,
) -> Result<Vec<Hit>> {
    let memories: Vec<&ProcessMemory<'a>> = memories.into_iter().collect();
    if let Some(progress) = &options.progress {
        progress.set_total(memories.iter().map(|m| m.searchable_bytes(options)).sum());
    }
    let mut hits = Vec::new();
    let mut options = options.clone();
    let limit = options.max_hits;
    for memory in memories {
        options.max_hits = limit.map(|m| m.saturating_sub(hits.len()));
        if options.max_hits == Some(0) {
            break;
        }
        for hit in memory.search_iter(pattern, &options) {
            hits.push(hit?);
        }
    }
    if let Some(progress) = &options.progress {
        progress.finish();
    }
    Ok(hits)
}

/// Bytes one search task covers; large pieces are split so that every core
/// takes part (the memory bandwidth of one core is not the machine's), and
/// small pieces are batched so that a task is worth starting.
const CHUNK: usize = 8 << 20;

fn is_printable(b: u8) -> bool {
    (0x20..0x7f).contains(&b) || b == b'\t'
}

fn flush_ascii(pid: u32, run: &mut Vec<u8>, start: u64, min_len: usize, out: &mut Vec<StringHit>) {
    if run.len() >= min_len {
        // Printable ASCII is UTF-8.
        let text = String::from_utf8_lossy(run).into_owned();
        out.push(StringHit { pid, address: start, encoding: Encoding::Ascii, text });
    }
    run.clear();
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::memory::{Missing, Vma};

    /// A small xorshift generator: tests are reproducible without a crate.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }

    /// A process of three areas (`rw-p`, `r-xp`, `rw-p`) cut into many tiny
    /// pieces: dumped, zero, missing, and gaps. `bytes` holds the dumped bytes.
    pub(in crate::memory) fn fragmented(seed: u64, bytes: &[u8]) -> ProcessMemory<'_> {
        let mut rng = Rng(seed);
        let (mut vmas, mut pieces) = (Vec::new(), Vec::new());
        let (mut addr, mut used) = (0x1000u64, 0usize);
        for (i, prot) in [3u32, 5, 3].into_iter().enumerate() {
            let start = addr;
            for _ in 0..150 {
                let len = 1 + rng.next(40);
                let (content, source) = match rng.next(10) {
                    0..=5 if used + len as usize <= bytes.len() => {
                        used += len as usize;
                        let offset = used - len as usize;
                        (Content::Dumped(&bytes[offset..used]), Some(super::super::build::Source { id: 0, offset: offset as u64 }))
                    }
                    6 | 7 => (Content::Zero, None),
                    8 => (Content::Missing(Missing::Lazy), None),
                    _ => {
                        addr += len;
                        continue;
                    }
                };
                let piece = Piece { start: addr, end: addr + len, vma: i, content };
                pieces.push(super::super::build::Span { piece, source });
                addr += len;
            }
            vmas.push(Vma { start, end: addr, pgoff: 0, shmid: 0, prot, flags: 2, status: 1, path: None });
            if rng.next(2) == 0 {
                addr += 100;
            }
        }
        // Pieces merged as the builder does: neighbours in the pages are one.
        ProcessMemory { pid: 7, page_size: 4096, vmas, pieces: super::super::build::merge(pieces, &[bytes]), sources: vec![bytes] }
    }

    fn random_bytes(seed: u64, alphabet: &[u8]) -> Vec<u8> {
        let mut rng = Rng(seed);
        let mut bytes: Vec<u8> = (0..20_000).map(|_| alphabet[rng.next(alphabet.len() as u64) as usize]).collect();
        for _ in 0..300 {
            let at = rng.next(bytes.len() as u64 - 8) as usize;
            bytes[at..at + 6].copy_from_slice(b"NEEDLE");
            let at = rng.next(bytes.len() as u64 - 8) as usize;
            bytes[at] = b'E';
        }
        bytes
    }

    /// Streams as a reader of one contiguous buffer would see them:
    /// (first address, bytes, whether each byte is from a zero piece).
    fn streams(memory: &ProcessMemory<'_>, options: &SearchOptions, zero_readable: bool) -> Vec<(u64, Vec<u8>)> {
        let selection = Selection::new(memory, options);
        let mut out: Vec<(u64, Vec<u8>)> = Vec::new();
        let mut last_end = None;
        for k in 0..memory.pieces.len() {
            let Some(p) = selection.piece(k, 0).filter(|p| p.end > selection.lo) else { continue };
            let ok = selection.readable(&p) && (zero_readable || p.content != Content::Zero);
            if !ok {
                last_end = None;
                continue;
            }
            if last_end != Some(p.start) {
                out.push((p.start, Vec::new()));
            }
            let stream = &mut out.last_mut().unwrap().1;
            match p.content.bytes() {
                Some(b) => stream.extend_from_slice(b),
                None => stream.resize(stream.len() + p.len() as usize, 0),
            }
            last_end = Some(p.end);
        }
        out
    }

    /// The hits of a search planned in one part and in several (as the
    /// cores share the planning of many pieces): the same.
    fn run_search(memory: &ProcessMemory<'_>, pattern: &Pattern, options: &SearchOptions, chunk: u64, cap: usize) -> Vec<(u64, u64)> {
        let selection = Selection::new(memory, options);
        let finder = Finder::new(pattern).unwrap();
        let run = |parts: usize| {
            let mut cursor = Cursor { tasks: selection.plan_in_parts(chunk, cap, parts), pending: VecDeque::new(), units: 1 };
            let mut out = Vec::new();
            while cursor.fill(&selection, None, |t| selection.search_task(&finder, t, None)).unwrap() {
                out.extend(cursor.pending.drain(..));
            }
            out
        };
        let out = run(1);
        assert_eq!(run(3), out, "planned in 3 parts");
        out
    }

    fn run_strings(
        memory: &ProcessMemory<'_>,
        min_len: usize,
        options: &SearchOptions,
        chunk: u64,
        cap: usize,
    ) -> Vec<(u64, String, Encoding)> {
        let selection = Selection::new(memory, options);
        let run = |parts: usize| {
            let mut cursor = Cursor { tasks: selection.plan_in_parts(chunk, cap, parts), pending: VecDeque::new(), units: 2 };
            let mut out = Vec::new();
            while cursor.fill(&selection, None, |t| selection.strings_task(min_len, true, true, t, None)).unwrap() {
                out.extend(cursor.pending.drain(..).map(|s| (s.address, s.text, s.encoding)));
            }
            out
        };
        let out = run(1);
        assert_eq!(run(3), out, "planned in 3 parts");
        out
    }

    fn option_sets() -> Vec<SearchOptions> {
        vec![
            SearchOptions::default(),
            SearchOptions { perms: Some("rw".into()), ..Default::default() },
            SearchOptions { range: Some((0x1000 + 1234, 0x1000 + 9000)), ..Default::default() },
        ]
    }

    #[test]
    fn tasks_of_any_size_find_what_one_contiguous_buffer_holds() {
        let regex = Regex::new("N[EDL]+").unwrap();
        for seed in 1..4u64 {
            let bytes = random_bytes(seed, b"NEDLxy\0");
            let memory = fragmented(seed * 77, &bytes);
            for options in option_sets() {
                // A literal without NUL never touches zero pages.
                let mut want = Vec::new();
                for (base, stream) in streams(&memory, &options, false) {
                    want.extend(memmem::find_iter(&stream, b"NEEDLE").map(|at| (base + at as u64, 6)));
                }
                // One with NUL bytes matches across zero pages too (not inside them).
                let mut want_nul = Vec::new();
                for (base, stream) in streams(&memory, &options, true) {
                    want_nul.extend(memmem::find_iter(&stream, b"E\0").map(|at| (base + at as u64, 2)));
                }
                let mut want_regex = Vec::new();
                for (base, stream) in streams(&memory, &options, true) {
                    want_regex.extend(regex.find_iter(&stream).map(|m| (base + m.start() as u64, m.len() as u64)));
                }
                assert!(want.len() > 20 && want_nul.len() > 20, "the generator plants enough: {} {}", want.len(), want_nul.len());
                for (chunk, cap) in [(1, usize::MAX), (7, 3), (64, 1), (1 << 20, TASK_CAP), (1 << 20, 2)] {
                    let what = format!("seed {seed} chunk {chunk} cap {cap} {options:?}");
                    assert_eq!(run_search(&memory, &Pattern::literal("NEEDLE"), &options, chunk, cap), want, "{what}");
                    assert_eq!(run_search(&memory, &Pattern::literal(*b"E\0"), &options, chunk, cap), want_nul, "{what}");
                    let got = run_search(&memory, &Pattern::Regex(regex.clone()), &options, chunk, cap);
                    let extra: Vec<_> = got.iter().filter(|x| !want_regex.contains(x)).collect();
                    let lost: Vec<_> = want_regex.iter().filter(|x| !got.contains(x)).collect();
                    assert!(extra.is_empty() && lost.is_empty(), "{what}: found {extra:x?}, not {lost:x?}");
                }
            }
        }
    }

    /// A literal is searched in one scan over the bytes of pieces that
    /// follow each other in the pages (here: every dumped piece, between
    /// zero, missing and unmapped ones): the same hits as piece by piece,
    /// for needles that straddle pieces in the pages. (Needles that overlap
    /// themselves are left out: leftmost non-overlapping matches depend on
    /// where tasks are cut, scanned either way.)
    #[test]
    fn one_scan_over_neighbours_in_the_pages_finds_what_each_piece_holds() {
        for seed in 1..4u64 {
            let bytes = random_bytes(seed, b"NEDLxy\0");
            let memory = fragmented(seed * 53, &bytes);
            // No source known: each piece is scanned alone.
            let alone =
                ProcessMemory { pid: 7, page_size: 4096, vmas: memory.vmas.clone(), pieces: memory.pieces.clone(), sources: Vec::new() };
            let straddling = memory.pieces.windows(3).filter(|w| w[0].content.bytes().is_some() && w[2].content.bytes().is_some()).count();
            assert!(straddling > 50, "dumped pieces next to each other in the pages, apart in memory: {straddling}");
            for options in option_sets() {
                for needle in [&b"NEEDLE"[..], b"E\0", b"DLx", b"NE", b"x"] {
                    // Every occurrence in memory as one buffer reads it (none overlap).
                    let mut every = Vec::new();
                    for (base, stream) in streams(&memory, &options, needle.contains(&0)) {
                        every.extend(
                            (0..stream.len()).filter(|&i| stream[i..].starts_with(needle)).map(|i| (base + i as u64, needle.len() as u64)),
                        );
                    }
                    assert!(!every.is_empty());
                    for (chunk, cap) in [(7, 3), (1 << 20, TASK_CAP), (1 << 20, 2)] {
                        let pattern = Pattern::literal(needle);
                        let want = run_search(&alone, &pattern, &options, chunk, cap);
                        assert_eq!(want, every, "seed {seed} {needle:?} {chunk} {cap} {options:?}");
                        assert_eq!(
                            run_search(&memory, &pattern, &options, chunk, cap),
                            want,
                            "seed {seed} {needle:?} {chunk} {cap} {options:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn strings_of_any_task_size_are_those_of_one_buffer() {
        for seed in 1..4u64 {
            let bytes = random_bytes(seed, b"ab\0\0\x01");
            let memory = fragmented(seed * 31, &bytes);
            for options in option_sets() {
                let mut want: Vec<(u64, String, Encoding)> = Vec::new();
                for (base, stream) in streams(&memory, &options, false) {
                    let mut i = 0;
                    while i < stream.len() {
                        let n = stream[i..].iter().position(|&b| !is_printable(b)).unwrap_or(stream.len() - i);
                        if n >= 3 {
                            want.push((base + i as u64, String::from_utf8(stream[i..i + n].to_vec()).unwrap(), Encoding::Ascii));
                        }
                        i += n.max(1);
                    }
                }
                // UTF-16 strings do not cross pieces.
                let selection = Selection::new(&memory, &options);
                for k in 0..memory.pieces.len() {
                    let Some(p) = selection.piece(k, 0).filter(|p| p.end > selection.lo) else { continue };
                    let Some(b) = selection.bytes(&p) else { continue };
                    for parity in 0..2 {
                        let mut i = parity;
                        while i + 1 < b.len() {
                            let mut j = i;
                            while j + 1 < b.len() && b[j + 1] == 0 && is_printable(b[j]) {
                                j += 2;
                            }
                            if (j - i) / 2 >= 3 {
                                let text: String = b[i..j].iter().step_by(2).map(|&c| c as char).collect();
                                want.push((p.start + i as u64, text, Encoding::Utf16Le));
                            }
                            i = j.max(i) + 2;
                        }
                    }
                }
                want.sort_by_key(|s| s.0);
                assert!(want.iter().filter(|s| s.2 == Encoding::Utf16Le).count() > 5, "the generator makes UTF-16 strings");
                for (chunk, cap) in [(1, usize::MAX), (5, 2), (64, 1), (1 << 20, TASK_CAP)] {
                    assert_eq!(run_strings(&memory, 3, &options, chunk, cap), want, "seed {seed} chunk {chunk} cap {cap} {options:?}");
                }
            }
        }
    }

    #[test]
    fn context_runs_over_contiguous_readable_pieces_only() {
        let (a, b) = (b"xxxxNEEDLE".to_vec(), b"yyyy".to_vec());
        let vma = Vma { start: 0x1000, end: 0x2000, pgoff: 0, shmid: 0, prot: 3, flags: 2, status: 1, path: None };
        let pieces = vec![
            Piece { start: 0x1000, end: 0x1004, vma: 0, content: Content::Missing(Missing::Lazy) },
            Piece { start: 0x1004, end: 0x100e, vma: 0, content: Content::Dumped(&a) },
            Piece { start: 0x100e, end: 0x1010, vma: 0, content: Content::Zero },
            Piece { start: 0x1010, end: 0x1014, vma: 0, content: Content::Dumped(&b) },
        ];
        let memory = ProcessMemory { pid: 1, page_size: 4096, vmas: vec![vma], pieces, sources: Vec::new() };
        let options = SearchOptions { context: 100, ..Default::default() };
        let hits = memory.search(&Pattern::literal("NEEDLE"), &options).unwrap();
        assert_eq!(hits.len(), 1);
        assert_eq!((hits[0].address, hits[0].context_start), (0x1008, 0x1004));
        assert_eq!(hits[0].context, b"xxxxNEEDLE\0\0yyyy");
    }
}
