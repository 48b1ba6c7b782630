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

use std::sync::Arc;

use memchr::memmem;
use regex::bytes::Regex;

use super::{Content, Piece, ProcessMemory, Vma, VmaKind};
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

/// The area a hit lies in, as `/proc/PID/maps` would show it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct HitArea {
    /// First address of the VMA.
    pub start: u64,
    /// End of the VMA (exclusive).
    pub end: u64,
    /// `rwxp` permissions.
    pub perms: String,
    /// Path, `[heap]`, `[stack]`, ... or `None` for anonymous memory.
    pub path: Option<String>,
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
    /// The VMA of the first matched byte.
    pub area: HitArea,
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

/// A run of pieces at contiguous addresses, all dumped or zero.
struct Stream<'p, 'a> {
    pieces: &'p [Piece<'a>],
}

impl Stream<'_, '_> {
    fn start(&self) -> u64 {
        self.pieces[0].start
    }

    fn end(&self) -> u64 {
        self.pieces[self.pieces.len() - 1].end
    }

    /// Copies `[start, end)` (clipped to the stream) out of the pieces.
    fn bytes(&self, start: u64, end: u64) -> (u64, Vec<u8>) {
        let start = start.max(self.start());
        let end = end.min(self.end());
        let mut out = Vec::with_capacity(end.saturating_sub(start) as usize);
        for piece in self.pieces {
            if piece.end <= start || piece.start >= end {
                continue;
            }
            let p = piece.clip(start, end);
            match p.content {
                Content::Dumped(bytes) | Content::File(bytes, _) => out.extend_from_slice(bytes),
                _ => out.resize(out.len() + p.len() as usize, 0),
            }
        }
        (start, out)
    }
}

impl<'a> ProcessMemory<'a> {
    /// Streams of readable memory selected by `options`.
    fn streams<'p>(&'p self, options: &SearchOptions, pieces: &'p [Piece<'a>]) -> Vec<Stream<'p, 'a>> {
        let mut streams = Vec::new();
        let mut begin = 0;
        let readable =
            |p: &Piece<'_>| matches!(p.content, Content::Dumped(_) | Content::File(..) | Content::Zero) && options.wants(&self.vmas[p.vma]);
        while begin < pieces.len() {
            if !readable(&pieces[begin]) {
                begin += 1;
                continue;
            }
            let mut end = begin + 1;
            while end < pieces.len() && readable(&pieces[end]) && pieces[end].start == pieces[end - 1].end {
                end += 1;
            }
            streams.push(Stream { pieces: &pieces[begin..end] });
            begin = end;
        }
        streams
    }

    /// The pieces `options.range` selects.
    fn selected_pieces(&self, options: &SearchOptions) -> Vec<Piece<'a>> {
        match options.range {
            Some((start, end)) => self.pieces_in(start, end).collect(),
            None => self.pieces.clone(),
        }
    }

    /// Bytes [`search`](Self::search) reads with these options: the dumped
    /// (and file-filled) memory of the selected areas; zero pages are not read.
    pub fn searchable_bytes(&self, options: &SearchOptions) -> u64 {
        let pieces = self.selected_pieces(options);
        self.streams(options, &pieces).iter().flat_map(|s| s.pieces.iter()).filter_map(|p| p.content.bytes()).map(|b| b.len() as u64).sum()
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
        let hits = self.search_counted(pattern, options)?;
        if let Some(progress) = &options.progress {
            progress.finish();
        }
        Ok(hits)
    }

    /// [`search`](Self::search), adding to a progress whose total the caller set.
    fn search_counted(&self, pattern: &Pattern, options: &SearchOptions) -> Result<Vec<Hit>> {
        let progress = options.progress.as_deref();
        let pieces = self.selected_pieces(options);
        let limit = options.max_hits.unwrap_or(usize::MAX);
        let mut hits: Vec<Hit> = Vec::new();
        for stream in self.streams(options, &pieces) {
            let mut found: Vec<(u64, u64)> = Vec::new();
            match pattern {
                Pattern::Literal(needle) if needle.is_empty() => {}
                Pattern::Literal(needle) => {
                    let finder = memmem::Finder::new(needle);
                    let m = needle.len() as u64;
                    found.extend(find_in_pieces(stream.pieces, CHUNK, needle.len() - 1, progress, |bytes| {
                        finder.find_iter(bytes).map(|pos| (pos, needle.len())).collect()
                    })?);
                    for piece in &stream.pieces[..stream.pieces.len() - 1] {
                        if m > 1 {
                            let boundary = piece.end;
                            let (base, window) = stream.bytes(boundary - (m - 1).min(boundary), boundary.saturating_add(m - 1));
                            for pos in finder.find_iter(&window) {
                                let at = base + pos as u64;
                                if at < boundary && at + m > boundary {
                                    found.push((at, m));
                                }
                            }
                        }
                    }
                }
                Pattern::Regex(regex) => {
                    found.extend(find_in_pieces(stream.pieces, CHUNK, REGEX_WINDOW as usize, progress, |bytes| {
                        regex.find_iter(bytes).filter(|m| !m.is_empty()).map(|m| (m.start(), m.len())).collect()
                    })?);
                    for piece in &stream.pieces[..stream.pieces.len() - 1] {
                        let boundary = piece.end;
                        let (base, window) = stream.bytes(boundary.saturating_sub(REGEX_WINDOW), boundary.saturating_add(REGEX_WINDOW));
                        for m in regex.find_iter(&window) {
                            let at = base + m.start() as u64;
                            if at < boundary && at + m.len() as u64 > boundary {
                                found.push((at, m.len() as u64));
                            }
                        }
                    }
                }
            }
            found.sort_unstable();
            found.dedup();
            for (address, len) in found {
                if hits.len() >= limit {
                    break;
                }
                let (_, matched) = stream.bytes(address, address + len);
                let (context_start, context) =
                    stream.bytes(address.saturating_sub(options.context), (address + len).saturating_add(options.context));
                let vma = self.vma_at(address).cloned().unwrap_or_else(|| self.vmas[stream.pieces[0].vma].clone());
                hits.push(Hit {
                    pid: self.pid,
                    address,
                    matched,
                    context_start,
                    context,
                    area: HitArea { start: vma.start, end: vma.end, perms: vma.perms(), path: vma.path.clone() },
                });
            }
            if hits.len() >= limit {
                break;
            }
        }
        Ok(hits)
    }

    /// Printable strings of at least `min_len` characters in the selected
    /// memory, in address order. Progress counts the bytes read once per
    /// encoding.
    pub fn strings(&self, min_len: usize, encodings: &[Encoding], options: &SearchOptions) -> Result<Vec<StringHit>> {
        let min_len = min_len.max(1);
        let progress = options.progress.as_deref();
        let ascii = encodings.contains(&Encoding::Ascii);
        let utf16 = encodings.contains(&Encoding::Utf16Le);
        if let Some(progress) = progress {
            progress.set_total(self.searchable_bytes(options) * (u64::from(ascii) + u64::from(utf16)));
        }
        let pieces = self.selected_pieces(options);
        let mut out = Vec::new();
        for stream in self.streams(options, &pieces) {
            if ascii {
                // Runs may continue from one piece (and one step) into the next.
                let mut run: Vec<u8> = Vec::new();
                let mut run_start = 0u64;
                for piece in stream.pieces {
                    let Some(bytes) = piece.content.bytes() else {
                        flush_ascii(self.pid, &mut run, run_start, min_len, &mut out);
                        continue;
                    };
                    for (step, chunk) in bytes.chunks(STEP).enumerate() {
                        report(progress, 0)?;
                        let base = piece.start + (step * STEP) as u64;
                        let mut i = 0;
                        while i < chunk.len() {
                            if is_printable(chunk[i]) {
                                if run.is_empty() {
                                    run_start = base + i as u64;
                                }
                                let end = chunk[i..].iter().position(|&b| !is_printable(b)).map_or(chunk.len(), |n| i + n);
                                run.extend_from_slice(&chunk[i..end]);
                                i = end;
                            } else {
                                flush_ascii(self.pid, &mut run, run_start, min_len, &mut out);
                                i += 1;
                            }
                        }
                        report(progress, chunk.len())?;
                    }
                }
                flush_ascii(self.pid, &mut run, run_start, min_len, &mut out);
            }
            if utf16 {
                for piece in stream.pieces {
                    if let Some(bytes) = piece.content.bytes() {
                        report(progress, 0)?;
                        utf16_strings(self.pid, piece.start, bytes, min_len, &mut out);
                        report(progress, bytes.len())?;
                    }
                }
            }
        }
        out.sort_by_key(|s| s.address);
        if let Some(progress) = progress {
            progress.finish();
        }
        Ok(out)
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
        hits.extend(memory.search_counted(pattern, &options)?);
    }
    if let Some(progress) = &options.progress {
        progress.finish();
    }
    Ok(hits)
}

/// Adds `units` to `progress`, and fails once it is cancelled.
fn report(progress: Option<&Progress>, units: usize) -> Result<()> {
    match progress {
        None => Ok(()),
        Some(progress) => {
            progress.advance(units as u64);
            progress.check()
        }
    }
}

/// Bytes one search task covers; large pieces are split so that every core
/// takes part (the memory bandwidth of one core is not the machine's).
const CHUNK: usize = 8 << 20;

/// Runs `find` over the bytes of every piece, in parallel chunks that
/// overlap by `overlap` bytes; returns `(address, length)` of each match,
/// each reported once (by the chunk where it starts). Each chunk adds its
/// own bytes to `progress`; a cancelled progress stops the work.
fn find_in_pieces(
    pieces: &[Piece<'_>],
    chunk: usize,
    overlap: usize,
    progress: Option<&Progress>,
    find: impl Fn(&[u8]) -> Vec<(usize, usize)> + Sync,
) -> Result<Vec<(u64, u64)>> {
    // (address of the chunk, bytes to search, bytes where a match may start)
    let mut tasks: Vec<(u64, &[u8], usize)> = Vec::new();
    for piece in pieces {
        let Some(bytes) = piece.content.bytes() else { continue };
        let mut offset = 0;
        while offset < bytes.len() {
            let own = chunk.min(bytes.len() - offset);
            let end = (offset + own + overlap).min(bytes.len());
            tasks.push((piece.start + offset as u64, &bytes[offset..end], own));
            offset += own;
        }
    }
    let run = |(base, bytes, own): &(u64, &[u8], usize)| -> Result<Vec<(u64, u64)>> {
        progress.map_or(Ok(()), Progress::check)?;
        let found = find(bytes).into_iter().filter(|(at, _)| at < own).map(|(at, len)| (base + at as u64, len as u64)).collect();
        report(progress, *own)?;
        Ok(found)
    };
    let found = crate::parallel::map_tasks(tasks.len(), |i| run(&tasks[i]))?;
    Ok(found.into_iter().flatten().collect())
}

fn is_printable(b: u8) -> bool {
    (0x20..0x7f).contains(&b) || b == b'\t'
}

fn flush_ascii(pid: u32, run: &mut Vec<u8>, start: u64, min_len: usize, out: &mut Vec<StringHit>) {
    if run.len() >= min_len {
        let text = String::from_utf8(std::mem::take(run)).expect("printable ASCII");
        out.push(StringHit { pid, address: start, encoding: Encoding::Ascii, text });
    }
    run.clear();
}

fn utf16_strings(pid: u32, base: u64, bytes: &[u8], min_len: usize, out: &mut Vec<StringHit>) {
    for parity in 0..2 {
        let mut i = parity;
        let mut run_start = None;
        let mut text = String::new();
        while i + 1 < bytes.len() {
            let (lo, hi) = (bytes[i], bytes[i + 1]);
            if hi == 0 && is_printable(lo) {
                run_start.get_or_insert(i);
                text.push(lo as char);
            } else {
                if let Some(s) = run_start.take() {
                    if text.len() >= min_len {
                        out.push(StringHit { pid, address: base + s as u64, encoding: Encoding::Utf16Le, text: std::mem::take(&mut text) });
                    }
                }
                text.clear();
            }
            i += 2;
        }
        if let Some(s) = run_start {
            if text.len() >= min_len {
                out.push(StringHit { pid, address: base + s as u64, encoding: Encoding::Utf16Le, text });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parallel_chunks_find_matches_across_their_edges_once() {
        let mut bytes = vec![b'.'; 3 * CHUNK + 100];
        let needle = b"NEEDLE";
        let spots = [0, CHUNK - 3, CHUNK + 10, 2 * CHUNK - 1, 3 * CHUNK + 94];
        for &at in &spots {
            bytes[at..at + needle.len()].copy_from_slice(needle);
        }
        let piece = Piece { start: 0x1000, end: 0x1000 + bytes.len() as u64, vma: 0, content: Content::Dumped(&bytes) };
        let finder = memmem::Finder::new(needle);
        let progress = Progress::new();
        progress.set_total(bytes.len() as u64);
        let mut found = find_in_pieces(&[piece], CHUNK, needle.len() - 1, Some(&progress), |b| {
            finder.find_iter(b).map(|p| (p, needle.len())).collect()
        })
        .unwrap();
        assert_eq!(progress.done(), bytes.len() as u64);
        found.sort_unstable();
        let want: Vec<(u64, u64)> = spots.iter().map(|&at| (0x1000 + at as u64, 6)).collect();
        assert_eq!(found, want);
    }

    #[test]
    fn a_cancelled_progress_stops_the_chunks_with_an_error() {
        let bytes = vec![b'.'; 1000 * 64];
        let piece = Piece { start: 0, end: bytes.len() as u64, vma: 0, content: Content::Dumped(&bytes) };
        let progress = Progress::new();
        progress.set_total(bytes.len() as u64);
        let calls = std::sync::atomic::AtomicUsize::new(0);
        // The first chunk searched cancels; at most one more per thread (8 at most) runs.
        let result = find_in_pieces(&[piece], 64, 0, Some(&progress), |_| {
            calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            progress.cancel();
            Vec::new()
        });
        assert!(matches!(result, Err(Error::Cancelled)));
        assert!(calls.into_inner() <= 8);
        assert!(progress.done() <= 8 * 64);
    }
}
