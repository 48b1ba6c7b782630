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

mod build;
mod content;
mod dump;
mod names;
mod pagemap;
mod process_memory;
mod reserve;
mod search;
mod vma;

pub use content::{Content, FileOrigin, Missing, Origin, PageCounts, Piece};
pub use dump::DumpSummary;
pub use pagemap::{PageRun, Pagemap, PE_LAZY, PE_PARENT, PE_PRESENT};
pub use process_memory::{ProcessMemory, MAX_ZERO_READ};
pub use search::{search_all, Encoding, Hit, Pattern, SearchCursor, SearchIter, SearchOptions, StringHit, StringsCursor, StringsIter};
pub use vma::{status, Vma, VmaKind};

use crate::archive::{RootDir, TarView};

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

impl FileSource for TarView<'_> {
    fn file_bytes(&self, path: &str) -> Option<&[u8]> {
        self.get(path)
    }
}

impl FileSource for RootDir {
    fn file_bytes(&self, path: &str) -> Option<&[u8]> {
        self.file(path)
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;
    use std::collections::HashMap;

    use super::build::{merge, Source, Span};
    use super::*;
    use crate::chain::{DumpChain, ImageStore};
    use crate::error::{Error, Result};
    use crate::json::from_json;

    pub(super) const PAGE: u64 = 4096;
    pub(super) const BASE: u64 = 0x7f00_0000_0000;

    /// One dump level over borrowed bytes.
    pub(super) struct Store<'s> {
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
    pub(super) fn pagemap(runs: &[(u64, u64, u32)]) -> Vec<u8> {
        let mut entries = vec![r#"{"pages_id": 1}"#.to_string()];
        entries.extend(
            runs.iter()
                .map(|&(vaddr, n, flags)| format!(r#"{{"vaddr": {vaddr}, "compat_nr_pages": 0, "flags": {flags}, "nr_pages": {n}}}"#)),
        );
        encode("pagemap-1.img", &format!(r#"{{"magic": "PAGEMAP", "entries": [{}]}}"#, entries.join(", ")))
    }

    const ANON: (u32, u32) = (0x22, status::REGULAR | status::ANON_PRIVATE);

    pub(super) fn store<'s>(label: &'static str, files: &[(&str, &'s [u8])]) -> Store<'s> {
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
            let err = malformed(ProcessMemory::build(1, &DumpChain::single(&level)).err().expect("a hostile mm must not build"));
            assert!(err.starts_with("dump/mm-1.img: offset ") && err.contains("(entry 0)") && err.contains(expected), "{err}");
        }
        // Areas out of order are put in order.
        let unsorted = mm_image(&[(BASE + 8 * PAGE, BASE + 9 * PAGE, 0, 0, f, s), (BASE, BASE + PAGE, 0, 0, f, s)]);
        let level = store("dump", &[("mm-1.img", &unsorted)]);
        let starts: Vec<u64> = ProcessMemory::build(1, &DumpChain::single(&level)).unwrap().vmas().iter().map(|v| v.start).collect();
        assert_eq!(starts, [BASE, BASE + 8 * PAGE]);
        // Touching areas are fine.
        let touching = mm_image(&[(BASE, BASE + PAGE, 0, 0, f, s), (BASE + PAGE, BASE + 2 * PAGE, 0, 0, f, s)]);
        let level = store("dump", &[("mm-1.img", &touching)]);
        assert_eq!(ProcessMemory::build(1, &DumpChain::single(&level)).unwrap().pieces().len(), 2);
    }

    #[test]
    fn a_shared_area_whose_offset_wraps_is_an_error_not_an_empty_area() {
        let status = status::REGULAR | status::ANON_SHARED;
        let pgoff = u64::MAX - PAGE + 1;
        let mm = mm_image(&[(BASE, BASE + 2 * PAGE, pgoff, 7, 1, status)]);
        let shmem = pagemap(&[(0, 1, PE_PRESENT)]);
        let pages = vec![b'x'; PAGE as usize];
        let level = store("dump", &[("mm-1.img", &mm), ("pagemap-shmem-7.img", &shmem), ("pages-1.img", &pages)]);
        let err = malformed(ProcessMemory::build(1, &DumpChain::single(&level)).err().expect("a wrapping offset must not build"));
        assert!(err.contains("mm-1.img") && err.contains("page offset 0xfffffffffffff000 plus the area's length overflows"), "{err}");

        // The same area at a sane offset reads its segment.
        let sane = mm_image(&[(BASE, BASE + 2 * PAGE, PAGE, 7, 1, status)]);
        let shmem = pagemap(&[(PAGE, 1, PE_PRESENT)]);
        let level = store("dump", &[("mm-1.img", &sane), ("pagemap-shmem-7.img", &shmem), ("pages-1.img", &pages)]);
        let memory = ProcessMemory::build(1, &DumpChain::single(&level)).unwrap();
        assert_eq!(memory.page_counts(0), PageCounts { dumped: 1, zero: 1, ..PageCounts::default() });
        assert_eq!(&*memory.read(BASE, 3).unwrap(), b"xxx");
    }

    #[test]
    fn the_index_build_counts_the_pagemaps_read_and_stops_when_cancelled() {
        use crate::progress::Progress;
        let (f, s) = ANON;
        let mm = mm_image(&[(BASE, BASE + 200_000 * 2 * PAGE, 0, 0, f, s)]);
        // 200,000 one-page runs, every other page: more than three cancellation checks' worth.
        let runs: Vec<(u64, u64, u32)> = (0..200_000).map(|i| (BASE + 2 * i * PAGE, 1, PE_LAZY)).collect();
        let map = pagemap(&runs);
        let top = store("dump", &[("mm-1.img", &mm), ("pagemap-1.img", &map)]);
        let progress = Progress::new();
        let memory = ProcessMemory::build_with_progress(1, &DumpChain::single(&top), None, Some(&progress)).unwrap();
        assert_eq!(memory.pieces().len(), 400_000);
        // Each pagemap byte counts twice: parsed, then its runs walked.
        assert_eq!((progress.done(), progress.total()), (2 * map.len() as u64, 2 * map.len() as u64));
        progress.cancel();
        let err = ProcessMemory::build_with_progress(1, &DumpChain::single(&top), None, Some(&progress)).err();
        assert!(matches!(err, Some(Error::Cancelled)), "{err:?}");
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
        let memory = ProcessMemory::build(1, &DumpChain::new(&top, [&parent as &dyn ImageStore])).unwrap();
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
        let memory = ProcessMemory::build(1, &DumpChain::single(&one)).unwrap();
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
        let memory = ProcessMemory::build(1, &DumpChain::single(&level)).unwrap();

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

        let plain = ProcessMemory::build(1, &DumpChain::single(&level)).unwrap();
        assert_eq!(plain.origin_at(BASE + 2 * PAGE), Some(Origin::Missing(Missing::FileBacked)));
        let memory = ProcessMemory::build_with_files(1, &DumpChain::single(&level), Some(&diff)).unwrap();
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
        let memory = ProcessMemory::build_with_files(1, &DumpChain::single(&level), Some(&dir)).unwrap();
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
            let memory = match ProcessMemory::build_with_files(1, &DumpChain::new(&top, [&parent as &dyn ImageStore]), Some(&diff)) {
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
