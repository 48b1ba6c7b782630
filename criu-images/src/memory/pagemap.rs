//! Pagemap images: which pages of an address space (or shared memory
//! segment) a dump holds, and where their bytes sit in `pages-<id>.img`.

use crate::error::{Error, Location, Result};
use crate::image::{Image, ImageKind};
use crate::progress::Progress;
use crate::proto::{message_ids, Message, PagemapEntry};

/// The pages are in the parent (pre-dump) images.
pub const PE_PARENT: u32 = 1 << 0;
/// The pages may be restored lazily (a hint; they are dumped if also present).
pub const PE_LAZY: u32 = 1 << 1;
/// The pages are in this dump's `pages-<pages_id>.img`.
pub const PE_PRESENT: u32 = 1 << 2;

/// Entries parsed between two progress reports and cancellation checks.
const ENTRIES_PER_CHECK: usize = 1 << 16;

/// One run of pages, normalised the way CRIU reads it (`in_parent` becomes
/// `PE_PARENT`, a missing `flags` means `PE_PRESENT`, `nr_pages` (field 5)
/// wins over the old 32-bit `compat_nr_pages` (field 2)).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PageRun {
    /// First virtual address (or offset in a shared memory segment).
    pub vaddr: u64,
    /// Number of pages.
    pub nr_pages: u64,
    /// `PE_*` bits.
    pub flags: u32,
    /// Byte offset of the run's data in the pages file, for `PE_PRESENT` runs.
    pub pages_offset: Option<u64>,
}

impl PageRun {
    /// End address (exclusive) for a given page size. [`Pagemap::parse`]
    /// refuses runs whose end overflows; a run built otherwise saturates.
    pub fn end(&self, page_size: u64) -> u64 {
        self.vaddr.saturating_add(self.nr_pages.saturating_mul(page_size))
    }
}

/// A parsed pagemap image.
#[derive(Clone, Debug)]
pub struct Pagemap {
    /// Id of the pages file holding the `PE_PRESENT` data (`pages-<id>.img`).
    pub pages_id: u32,
    /// Runs in ascending address order, never overlapping.
    pub runs: Vec<PageRun>,
    /// Bytes of page data the runs need in the pages file.
    pub pages_len: u64,
}

impl Pagemap {
    /// Parses a pagemap image. Offsets in the pages file advance only for
    /// `PE_PRESENT` runs, as CRIU writes them.
    pub fn parse(image: &Image<'_>, page_size: u64) -> Result<Pagemap> {
        Pagemap::parse_with(image, page_size, None)
    }

    /// [`Pagemap::parse`], adding the bytes of the entries read to
    /// `progress` and stopping with [`Error::Cancelled`] once it is cancelled.
    pub(crate) fn parse_with(image: &Image<'_>, page_size: u64, progress: Option<&Progress>) -> Result<Pagemap> {
        if image.kind() != ImageKind::Pagemap {
            return Err(Error::Malformed {
                at: Location::new(image.name(), 0),
                detail: format!("expected a PAGEMAP image, found {}", image.kind()),
            });
        }
        // Bytes of the image up to the last progress report.
        let mut reported = 0usize;
        match parse_plain(image, page_size, progress, &mut reported)? {
            Some(pagemap) => Ok(pagemap),
            None => parse_general(image, page_size, progress, reported),
        }
    }

    /// Index of the run containing `addr`, if any.
    pub fn find(&self, addr: u64, page_size: u64) -> Option<usize> {
        let i = self.runs.partition_point(|r| r.end(page_size) <= addr);
        (i < self.runs.len() && self.runs[i].vaddr <= addr).then_some(i)
    }
}

/// [`Pagemap::parse_with`] entry by entry through [`Image::entries`]: any
/// pagemap, and the errors of a malformed one. Progress was reported up to
/// offset `reported` already.
fn parse_general(image: &Image<'_>, page_size: u64, progress: Option<&Progress>, mut reported: usize) -> Result<Pagemap> {
    let mut pages_id = None;
    // An entry takes at least 16 bytes (its size, vaddr, flags and
    // nr_pages fields; 18 to 22 as CRIU writes them): room for every run
    // at once, never more than the image's own size in runs.
    let mut runs: Vec<PageRun> = Vec::new();
    super::reserve::reserve_large(&mut runs, image.data().len() / 16);
    let mut offset = 0u64;
    for entry in image.entries() {
        let entry = entry?;
        if entry.index() % ENTRIES_PER_CHECK == ENTRIES_PER_CHECK - 1 {
            if let Some(progress) = progress {
                progress.check()?;
                // (What the plain pass reported before it gave up is not counted twice.)
                progress.advance(entry.offset().saturating_sub(reported) as u64);
                reported = reported.max(entry.offset());
            }
        }
        let at = || Location::new(image.name(), entry.offset() as u64).in_entry(entry.index());
        // The runs straight into their own type: through `Message`, an
        // enum as large as the largest message, every run was copied
        // several times (a third of the index build of 200k runs).
        // The fields read straight from the bytes in the common case
        // (a third of prost's cost); prost for anything else, so the
        // results and errors are those of the prost decode.
        let typed = if entry.message_id() == message_ids::PAGEMAP_ENTRY {
            decode_entry_fast(entry.payload()).or_else(|| <PagemapEntry as prost::Message>::decode(entry.payload()).ok())
        } else {
            None
        };
        let e = match typed {
            Some(e) => e,
            // (A run that does not decode goes through `Message` for the same error as every other decode.)
            None => match entry.decode()? {
                Message::PagemapHead(head) => {
                    pages_id = Some(head.pages_id);
                    continue;
                }
                Message::PagemapEntry(e) => e,
                other => {
                    return Err(Error::Malformed {
                        at: at(),
                        detail: format!("expected a pagemap_head or pagemap_entry message, found {}", other.id().name()),
                    })
                }
            },
        };
        match next_run(&e, page_size, runs.last(), &mut offset) {
            Ok(Some(run)) => runs.push(run),
            Ok(None) => {}
            Err(detail) => return Err(Error::Malformed { at: at(), detail }),
        }
    }
    let pages_id = pages_id.ok_or_else(|| Error::Malformed {
        at: Location::new(image.name(), image.body_offset() as u64),
        detail: "pagemap has no pagemap_head entry".into(),
    })?;
    if let Some(progress) = progress {
        progress.advance(image.data().len().saturating_sub(reported) as u64);
    }
    Ok(Pagemap { pages_id, runs, pages_len: offset })
}

/// The run a decoded `pagemap_entry` stands for, normalised the way CRIU
/// reads it (see [`PageRun`]), checked against the run before it and the
/// address space; advances `offset` (in the pages file) past a present
/// run's data. `None` for a run of no pages; `Err` says what is wrong.
#[inline]
fn next_run(e: &PagemapEntry, page_size: u64, prev: Option<&PageRun>, offset: &mut u64) -> std::result::Result<Option<PageRun>, String> {
    let mut flags = e.flags.unwrap_or(0);
    if e.in_parent == Some(true) {
        flags |= PE_PARENT;
    } else if e.flags.is_none() {
        flags = PE_PRESENT;
    }
    let nr_pages = e.nr_pages.unwrap_or(u64::from(e.compat_nr_pages));
    let bytes = nr_pages.checked_mul(page_size).filter(|&b| e.vaddr.checked_add(b).is_some());
    let Some(bytes) = bytes else {
        return Err(format!("run of {nr_pages} pages at {:#x} overflows the address space", e.vaddr));
    };
    if !e.vaddr.is_multiple_of(page_size) {
        return Err(format!("run address {:#x} is not aligned to the {page_size}-byte page size", e.vaddr));
    }
    if let Some(prev) = prev {
        if prev.end(page_size) > e.vaddr {
            return Err(format!(
                "run at {:#x} overlaps or precedes the previous run ({:#x}..{:#x}); pagemaps are sorted",
                e.vaddr,
                prev.vaddr,
                prev.end(page_size)
            ));
        }
    }
    let pages_offset = if flags & PE_PRESENT != 0 {
        let here = *offset;
        *offset = offset.checked_add(bytes).ok_or_else(|| "page data offset overflows".to_string())?;
        Some(here)
    } else {
        None
    };
    Ok((nr_pages > 0).then_some(PageRun { vaddr: e.vaddr, nr_pages, flags, pages_offset }))
}

/// The common case of [`Pagemap::parse_with`] in one tight pass: a
/// `pagemap_head` then whole entries that [`decode_entry_fast`] reads and
/// that make valid runs. Entries are framed here (a size in the image's
/// byte order, then the message) rather than through [`Image::entries`].
/// A large pagemap is cut (at entry boundaries, found by hopping over the
/// sizes) into one part per core, parsed in parallel and joined: the
/// offsets of each part's runs in the pages file continue those of the
/// part before, and the first run of a part must not overlap the last of
/// the one before. `Ok(None)` on anything else, for the general path to
/// parse again from the start and word the error (so errors are those of
/// the general path). Checks cancellation and reports progress as it goes;
/// `reported` is the progress reported (the whole image once it succeeds).
fn parse_plain(image: &Image<'_>, page_size: u64, progress: Option<&Progress>, reported: &mut usize) -> Result<Option<Pagemap>> {
    let parts = if image.data().len() >= PLAIN_PART { crate::parallel::threads() } else { 1 };
    parse_plain_in(image, page_size, progress, reported, parts)
}

/// [`parse_plain`] in (up to) `parts` parts.
fn parse_plain_in(
    image: &Image<'_>,
    page_size: u64,
    progress: Option<&Progress>,
    reported: &mut usize,
    parts: usize,
) -> Result<Option<Pagemap>> {
    let mut entries = image.entries();
    let Some(Ok(head)) = entries.next() else { return Ok(None) };
    let Ok(Message::PagemapHead(head)) = head.decode() else { return Ok(None) };
    let (data, endian) = (image.data(), image.endian());
    let body = entries.offset();
    let parts = parts.max(1);
    // Part `i` is the entries in `cuts[i]..cuts[i + 1]`.
    let mut cuts = vec![body];
    let mut pos = body;
    while cuts.len() < parts && pos < data.len() {
        if pos >= body + (data.len() - body) / parts * cuts.len() {
            cuts.push(pos);
        }
        let Some(end) = entry_end(data, endian, pos) else { return Ok(None) };
        pos = end;
    }
    cuts.push(data.len());
    let reported_parts = std::sync::atomic::AtomicUsize::new(0);
    let parsed = crate::parallel::map_tasks(cuts.len() - 1, |i| {
        // The first part's vector takes the others' runs: room for all.
        let room = if i == 0 { data.len() - body } else { cuts[i + 1] - cuts[i] } / 16;
        plain_part(data, endian, cuts[i]..cuts[i + 1], room, page_size, progress, &reported_parts)
    });
    *reported = reported_parts.into_inner();
    let mut parsed = parsed?.into_iter();
    let Some(Some((mut runs, mut offset))) = parsed.next() else { return Ok(None) };
    for part in parsed {
        let Some((more, len)) = part else { return Ok(None) };
        if let (Some(prev), Some(next)) = (runs.last(), more.first()) {
            if prev.end(page_size) > next.vaddr {
                return Ok(None);
            }
        }
        // (The first part reserved room for every run.)
        for run in more {
            let pages_offset = match run.pages_offset {
                Some(o) => match o.checked_add(offset) {
                    Some(o) => Some(o),
                    None => return Ok(None),
                },
                None => None,
            };
            runs.push(PageRun { pages_offset, ..run });
        }
        let Some(total) = offset.checked_add(len) else { return Ok(None) };
        offset = total;
    }
    if let Some(progress) = progress {
        progress.advance(data.len().saturating_sub(*reported) as u64);
        *reported = data.len();
    }
    Ok(Some(Pagemap { pages_id: head.pages_id, runs, pages_len: offset }))
}

/// Bytes of pagemap entries below which [`parse_plain`] does not share the
/// work between cores (64k entries of about 18 bytes).
const PLAIN_PART: usize = 1 << 20;

/// Where the entry at `pos` ends, if it is whole.
#[inline]
fn entry_end(data: &[u8], endian: crate::image::Endian, pos: usize) -> Option<usize> {
    let size = endian.u32(data.get(pos..pos.checked_add(4)?)?.try_into().ok()?);
    (pos + 4).checked_add(size as usize).filter(|&end| end <= data.len())
}

/// The runs of the entries in `data[part]` and the bytes of pages
/// they need, their offsets counted from the part's first run, in a vector
/// with room for `room` runs (an entry takes at least 16 bytes, see
/// `parse_general`); `None` as soon as an entry is not plain (see
/// [`parse_plain`]). Adds the bytes it reports to `reported` as well as to
/// `progress`.
fn plain_part(
    data: &[u8],
    endian: crate::image::Endian,
    part: std::ops::Range<usize>,
    room: usize,
    page_size: u64,
    progress: Option<&Progress>,
    reported: &std::sync::atomic::AtomicUsize,
) -> Result<Option<(Vec<PageRun>, u64)>> {
    let mut runs: Vec<PageRun> = Vec::new();
    super::reserve::reserve_large(&mut runs, room);
    let (start, end) = (part.start, part.end);
    let (mut offset, mut pos, mut count, mut last_report) = (0u64, start, 0usize, start);
    while pos < end {
        count += 1;
        if count.is_multiple_of(ENTRIES_PER_CHECK) {
            if let Some(progress) = progress {
                progress.check()?;
                progress.advance((pos - last_report) as u64);
                reported.fetch_add(pos - last_report, std::sync::atomic::Ordering::Relaxed);
                last_report = pos;
            }
        }
        let Some(entry_end) = entry_end(data, endian, pos).filter(|&e| e <= end) else { return Ok(None) };
        let Some(e) = decode_entry_fast(&data[pos + 4..entry_end]) else { return Ok(None) };
        match next_run(&e, page_size, runs.last(), &mut offset) {
            Ok(Some(run)) => runs.push(run),
            Ok(None) => {}
            Err(_) => return Ok(None),
        }
        pos = entry_end;
    }
    Ok(Some((runs, offset)))
}

/// A `pagemap_entry` decoded without prost, as CRIU writes it: single-byte
/// keys of fields 1 to 5, all varints, each at most once, every varint
/// complete and within 64 bits. `None` on anything else (unknown or
/// repeated field, other wire type, truncated or overlong varint), for the
/// caller to decode with prost, which gives the same value whenever this
/// gives one (`tests::fast_decode_agrees_with_prost`).
#[inline]
fn decode_entry_fast(mut bytes: &[u8]) -> Option<PagemapEntry> {
    let mut e = PagemapEntry::default();
    let mut seen = 0u8;
    while let Some((&key, rest)) = bytes.split_first() {
        let (value, rest) = varint(rest)?;
        bytes = rest;
        // Key = field number << 3 | wire type 0 (varint).
        let bit = match key {
            0x08 => 1,
            0x10 => 2,
            0x18 => 4,
            0x20 => 8,
            0x28 => 16,
            _ => return None,
        };
        if seen & bit != 0 {
            return None;
        }
        seen |= bit;
        // Narrowing and bools as prost reads them: low 32 bits, non-zero.
        match key {
            0x08 => e.vaddr = value,
            0x10 => e.compat_nr_pages = value as u32,
            0x18 => e.in_parent = Some(value != 0),
            0x20 => e.flags = Some(value as u32),
            _ => e.nr_pages = Some(value),
        }
    }
    Some(e)
}

/// A base-128 varint at the start of `bytes` and the bytes after it; `None`
/// if truncated, longer than 10 bytes or beyond 64 bits (prost refuses
/// those too).
#[inline]
fn varint(bytes: &[u8]) -> Option<(u64, &[u8])> {
    // One byte: the page counts, flags and in_parent as CRIU writes them.
    let (&first, rest) = bytes.split_first()?;
    if first < 0x80 {
        return Some((u64::from(first), rest));
    }
    let mut value = u64::from(first & 0x7f);
    for (i, &b) in rest.iter().take(8).enumerate() {
        value |= u64::from(b & 0x7f) << (7 * (i + 1));
        if b < 0x80 {
            return Some((value, &rest[i + 1..]));
        }
    }
    // The tenth byte holds the 64th bit only.
    match rest.get(8) {
        Some(&last) if last <= 1 => Some((value | (u64::from(last) << 63), &rest[9..])),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::from_json;

    fn parse(runs: &str) -> Result<Pagemap> {
        let json = format!(r#"{{"magic": "PAGEMAP", "entries": [{{"pages_id": 1}}, {runs}]}}"#);
        let bytes = from_json(json.as_bytes(), "pagemap-1.img").unwrap();
        Pagemap::parse(&Image::parse("pagemap-1.img", &bytes).unwrap(), 4096)
    }

    #[test]
    fn runs_that_wrap_the_address_space_are_errors() {
        let top = u64::MAX - 4095;
        for runs in [
            format!(r#"{{"vaddr": {top}, "compat_nr_pages": 0, "flags": 4, "nr_pages": 1}}"#),
            format!(r#"{{"vaddr": 4096, "compat_nr_pages": 0, "flags": 4, "nr_pages": {}}}"#, u64::MAX / 4096),
            format!(r#"{{"vaddr": 0, "compat_nr_pages": 0, "flags": 1, "nr_pages": {}}}"#, 1u64 << 60),
        ] {
            let err = parse(&runs).expect_err(&runs).to_string();
            assert!(err.contains("pagemap-1.img") && err.contains("overflows the address space"), "{err}");
        }
        // The last page of the address space is a run like any other.
        let last = parse(&format!(r#"{{"vaddr": {}, "compat_nr_pages": 0, "flags": 4, "nr_pages": 1}}"#, top - 4096)).unwrap();
        assert_eq!((last.runs[0].end(4096), last.pages_len), (top, 4096));
        let built = PageRun { vaddr: top, nr_pages: u64::MAX, flags: PE_PRESENT, pages_offset: None };
        assert_eq!(built.end(4096), u64::MAX);
    }
}

#[cfg(test)]
mod fast_decode_tests {
    use super::*;
    use crate::json::from_json;

    fn prost_decode(bytes: &[u8]) -> Option<PagemapEntry> {
        <PagemapEntry as prost::Message>::decode(bytes).ok()
    }

    /// Whenever the fast path gives an entry, prost gives the same one.
    fn agrees(bytes: &[u8]) -> bool {
        let fast = decode_entry_fast(bytes);
        if let Some(fast) = fast {
            assert_eq!(Some(fast), prost_decode(bytes), "fast path differs from prost on {bytes:02x?}");
        }
        fast.is_some()
    }

    fn key(field: u64, wire: u64) -> Vec<u8> {
        varint_bytes(field << 3 | wire)
    }

    fn varint_bytes(mut v: u64) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(b);
                return out;
            }
            out.push(b | 0x80);
        }
    }

    fn field(number: u64, value: u64) -> Vec<u8> {
        let mut out = key(number, 0);
        out.extend(varint_bytes(value));
        out
    }

    #[test]
    fn fast_decode_agrees_with_prost_on_every_fixture_pagemap() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures");
        let mut dirs = vec![root];
        let (mut images, mut entries) = (0, 0);
        while let Some(dir) = dirs.pop() {
            for item in std::fs::read_dir(&dir).unwrap() {
                let path = item.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                    continue;
                }
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                if !(name.starts_with("pagemap") && name.ends_with(".img")) {
                    continue;
                }
                let data = std::fs::read(&path).unwrap();
                let Ok(image) = Image::parse(&name, &data) else { continue };
                if image.kind() != ImageKind::Pagemap {
                    continue;
                }
                images += 1;
                for entry in image.entries() {
                    let Ok(entry) = entry else { break };
                    if entry.message_id() == message_ids::PAGEMAP_ENTRY {
                        // CRIU's own encoding always takes the fast path.
                        assert!(agrees(entry.payload()), "{name}: entry {} fell back to prost", entry.index());
                        entries += 1;
                    }
                }
            }
        }
        assert!(images >= 5 && entries > 100, "{images} images, {entries} entries");
    }

    #[test]
    fn fast_decode_agrees_with_prost_on_edge_cases() {
        let cat = |parts: &[Vec<u8>]| parts.concat();
        // Taken by the fast path: any order, missing fields, big values,
        // 10-byte varints, narrowing to 32 bits, non-canonical varints.
        for bytes in [
            cat(&[field(1, 0x7f00_0000_0000), field(2, 3), field(4, 4), field(5, 3)]),
            cat(&[field(5, 3), field(4, 6), field(3, 1), field(2, 0), field(1, 4096)]),
            cat(&[field(1, 4096)]),
            Vec::new(),
            cat(&[field(1, u64::MAX), field(5, u64::MAX), field(2, u64::MAX), field(4, 1 << 40)]),
            cat(&[field(3, 2), field(1, 8192)]),
            cat(&[key(1, 0), vec![0x80, 0x80, 0x00]]),
            cat(&[key(1, 0), vec![0xff; 9], vec![0x01]]),
            cat(&[key(5, 0), vec![0x80; 9], vec![0x00]]),
        ] {
            assert!(agrees(&bytes), "{bytes:02x?} fell back");
        }
        // Left to prost (which decodes some, refuses others): repeated
        // fields, unknown fields, other wire types, multi-byte keys,
        // truncated and overlong varints.
        for bytes in [
            cat(&[field(1, 4096), field(1, 8192)]),
            cat(&[field(5, 1), field(4, 4), field(5, 2)]),
            cat(&[field(1, 4096), field(6, 1)]),
            cat(&[field(1, 4096), field(100, 1)]),
            cat(&[field(1, 4096), key(7, 2), vec![2, 0xaa, 0xbb]]),
            cat(&[key(1, 1), vec![0; 8]]),
            cat(&[key(4, 5), vec![0; 4]]),
            cat(&[key(1, 2), vec![1, 0]]),
            vec![0x88, 0x00, 0x01],
            vec![0x00, 0x01],
            cat(&[key(1, 0)]),
            cat(&[key(1, 0), vec![0x80]]),
            cat(&[field(1, 4096), key(5, 0), vec![0xff, 0xff]]),
            cat(&[key(1, 0), vec![0xff; 9], vec![0x02]]),
            cat(&[key(1, 0), vec![0xff; 10], vec![0x01]]),
            cat(&[key(1, 0), vec![0x80; 11]]),
        ] {
            assert!(!agrees(&bytes), "{bytes:02x?} took the fast path");
        }
    }

    #[test]
    fn fast_decode_agrees_with_prost_on_random_bytes() {
        // Random payloads biased towards the five fields' keys and varint
        // bytes: wherever the fast path answers, it answers as prost.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut taken = 0;
        for _ in 0..20_000 {
            let len = (next() % 24) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|_| match next() % 4 {
                    0 => [0x08, 0x10, 0x18, 0x20, 0x28][(next() % 5) as usize],
                    1 => 0x80 | next() as u8,
                    2 => next() as u8 & 0x7f,
                    _ => next() as u8,
                })
                .collect();
            taken += usize::from(agrees(&bytes));
        }
        assert!(taken > 100, "only {taken} random payloads took the fast path");
    }

    #[test]
    fn a_pagemap_entry_that_prost_refuses_is_the_same_typed_error() {
        let mut bytes = crate::json::from_json(
            br#"{"magic": "PAGEMAP", "entries": [{"pages_id": 1}, {"vaddr": 4096, "compat_nr_pages": 0, "flags": 4, "nr_pages": 1}]}"#,
            "pagemap-1.img",
        )
        .unwrap();
        // The entry's last byte (nr_pages = 1) becomes a varint continuation: truncated.
        *bytes.last_mut().unwrap() = 0x81;
        let err = Pagemap::parse(&Image::parse("pagemap-1.img", &bytes).unwrap(), 4096).unwrap_err();
        assert!(matches!(err, Error::Protobuf { .. }), "{err:?}");
        assert!(err.to_string().contains("pagemap-1.img"), "{err}");
    }
    /// Parses `bytes` both ways: the plain pass (if it takes the image) and
    /// `parse_with` must give what the general parse gives, runs or error.
    /// Whether the plain pass took it.
    fn plain_agrees(bytes: &[u8]) -> bool {
        let image = Image::parse("pagemap-1.img", bytes).unwrap();
        let general = parse_general(&image, 4096, None, 0);
        let plain = parse_plain(&image, 4096, None, &mut 0).unwrap();
        let key = |p: &Pagemap| (p.pages_id, p.runs.clone(), p.pages_len);
        // Cut in parts (one entry each at most), the plain pass takes the same images and gives the same runs.
        for parts in [2, 3, 7, 1000] {
            let cut = parse_plain_in(&image, 4096, None, &mut 0, parts).unwrap();
            assert_eq!(cut.as_ref().map(key), plain.as_ref().map(key), "plain pass in {parts} parts");
        }
        match (Pagemap::parse(&image, 4096), &general) {
            (Ok(a), Ok(b)) => assert_eq!(key(&a), key(b)),
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
            (a, b) => panic!("parse {a:?} but general parse {b:?}"),
        }
        if let Some(plain) = &plain {
            assert_eq!(Some(key(plain)), general.as_ref().ok().map(key), "the plain pass took an image the general parse refuses");
        }
        plain.is_some()
    }

    /// `bytes` (an image) with one more entry of `payload`, framed as CRIU frames it.
    fn with_entry(bytes: &[u8], payload: &[u8]) -> Vec<u8> {
        let mut out = bytes.to_vec();
        out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn plain_pass_agrees_with_the_general_parse() {
        // CRIU's pagemaps (every fixture) take the plain pass.
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures");
        let (mut dirs, mut taken) = (vec![root], 0);
        while let Some(dir) = dirs.pop() {
            for item in std::fs::read_dir(&dir).unwrap() {
                let path = item.unwrap().path();
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                if path.is_dir() {
                    dirs.push(path);
                } else if name.starts_with("pagemap-") && !name.starts_with("pagemap-shmem") && name.ends_with(".img") {
                    let data = std::fs::read(&path).unwrap();
                    if Image::parse(&name, &data).is_ok_and(|i| i.kind() == ImageKind::Pagemap) {
                        assert!(plain_agrees(&data), "{}: the plain pass gave up", path.display());
                        taken += 1;
                    }
                }
            }
        }
        assert!(taken >= 5, "only {taken} fixture pagemaps");

        // Present, parent, lazy and empty runs; compat_nr_pages only.
        let json = r#"{"magic": "PAGEMAP", "entries": [{"pages_id": 3},
            {"vaddr": 4096, "compat_nr_pages": 0, "flags": 4, "nr_pages": 2},
            {"vaddr": 16384, "compat_nr_pages": 0, "in_parent": true, "nr_pages": 1},
            {"vaddr": 20480, "compat_nr_pages": 0, "flags": 6, "nr_pages": 1},
            {"vaddr": 24576, "compat_nr_pages": 0, "flags": 4, "nr_pages": 0},
            {"vaddr": 28672, "compat_nr_pages": 3}]}"#;
        let good = from_json(json.as_bytes(), "pagemap-1.img").unwrap();
        assert!(plain_agrees(&good));
        let next = cat(&[field(1, 1 << 20), field(4, 4), field(5, 1)]);
        assert!(plain_agrees(&with_entry(&good, &next)));

        // Left to the general parse, with its results and errors.
        for payload in [
            cat(&[field(1, 1 << 20), field(6, 1)]),              // unknown field: prost
            cat(&[field(1, 1 << 20), field(5, 1), field(5, 2)]), // repeated field: prost
            cat(&[field(1, 8192), field(5, 1)]),                 // overlaps the run before
            cat(&[field(1, (1 << 20) + 1), field(5, 1)]),        // not page-aligned
            cat(&[field(1, u64::MAX - 4095), field(5, 2)]),      // wraps the address space
            cat(&[key(1, 0), vec![0x80]]),                       // truncated varint
        ] {
            assert!(!plain_agrees(&with_entry(&good, &payload)), "{payload:02x?} taken by the plain pass");
        }
        let mut truncated = with_entry(&good, &next);
        truncated.truncate(truncated.len() - 1);
        assert!(!plain_agrees(&truncated));
        let mut tail = good.clone();
        tail.extend_from_slice(&[1, 0]);
        assert!(!plain_agrees(&tail));
    }

    fn cat(parts: &[Vec<u8>]) -> Vec<u8> {
        parts.concat()
    }
}
