//! Memory scans cost the bytes plus the pieces, never pieces squared: a
//! process whose memory is cut into 200,000 pieces is searched, and its
//! strings listed, and dumped, within a generous wall-clock bound that exists only to
//! catch a return of quadratic cost (the scan rescanned every piece at
//! every boundary: hours here). The input is generated at test time and is
//! small in bytes: 200,000 one-page anonymous areas side by side, one in a
//! thousand with its page dumped, the others reading as zeros.

use std::time::{Duration, Instant};

use criu_images::json::from_json;
use criu_images::memory::{Encoding, Pattern, SearchOptions};
use criu_images::Checkpoint;

const AREAS: u64 = 200_000;
const EVERY: u64 = 1000;
const BASE: u64 = 0x7f00_0000_0000;
const PAGE: u64 = 4096;
/// Generous: the linear scans take 5-10 s in a debug build (more on a
/// loaded machine); the quadratic one did not finish search in 200 s.
const BOUND: Duration = Duration::from_secs(120);

fn write_checkpoint(dir: &std::path::Path) {
    let write = |name: &str, json: String| std::fs::write(dir.join(name), from_json(json.as_bytes(), name).unwrap()).unwrap();
    let vmas: Vec<String> = (0..AREAS)
        .map(|i| {
            let start = BASE + i * PAGE;
            format!(
                r#"{{"start": {start}, "end": {}, "pgoff": 0, "shmid": 0, "prot": 3, "flags": 34, "status": 513, "fd": -1}}"#,
                start + PAGE
            )
        })
        .collect();
    write(
        "mm-1.img",
        format!(
            r#"{{"magic": "MM", "entries": [{{"mm_start_code": 0, "mm_end_code": 0, "mm_start_data": 0, "mm_end_data": 0, "mm_start_stack": 0, "mm_start_brk": 0, "mm_brk": 0, "mm_arg_start": 0, "mm_arg_end": 0, "mm_env_start": 0, "mm_env_end": 0, "exe_file_id": 0, "mm_saved_auxv": [6, 4096], "vmas": [{}]}}]}}"#,
            vmas.join(", ")
        ),
    );
    let mut entries = vec![r#"{"pages_id": 1}"#.to_string()];
    let mut pages = Vec::new();
    for i in (0..AREAS).step_by(EVERY as usize) {
        entries.push(format!(r#"{{"vaddr": {}, "compat_nr_pages": 0, "flags": 4, "nr_pages": 1}}"#, BASE + i * PAGE));
        let mut page = vec![b'.'; PAGE as usize];
        page[100..119].copy_from_slice(format!("SECRET={i:012}").as_bytes());
        page[119] = 0;
        // The page's last byte and the zero page after it: a match across areas.
        page[PAGE as usize - 1] = b'T';
        pages.extend_from_slice(&page);
    }
    write("pagemap-1.img", format!(r#"{{"magic": "PAGEMAP", "entries": [{}]}}"#, entries.join(", ")));
    write("pstree.img", r#"{"magic": "PSTREE", "entries": [{"pid": 1, "ppid": 0, "pgid": 1, "sid": 1, "threads": [1]}]}"#.into());
    std::fs::write(dir.join("pages-1.img"), pages).unwrap();
}

#[test]
fn search_and_strings_over_200k_pieces_are_linear() {
    let dir = tempfile::tempdir().unwrap();
    write_checkpoint(dir.path());
    let checkpoint = Checkpoint::open(dir.path()).unwrap();
    let memory = checkpoint.memory(1).unwrap();
    assert_eq!(memory.vmas().len(), AREAS as usize);
    assert!(memory.pieces().len() >= AREAS as usize, "one piece per area at least");
    let dumped: Vec<u64> = (0..AREAS).step_by(EVERY as usize).map(|i| BASE + i * PAGE).collect();

    let started = Instant::now();
    // A NUL in the pattern: every boundary between two areas must be looked at.
    let hits = memory.search(&Pattern::literal(*b"T\0\0"), &SearchOptions::default()).unwrap();
    let want: Vec<u64> = dumped.iter().map(|a| a + PAGE - 1).collect();
    assert_eq!(hits.iter().map(|h| h.address).collect::<Vec<_>>(), want);
    let hits = memory.search(&Pattern::literal("SECRET="), &SearchOptions { context: 5000, ..Default::default() }).unwrap();
    assert_eq!(hits.iter().map(|h| h.address).collect::<Vec<_>>(), dumped.iter().map(|a| a + 100).collect::<Vec<_>>());
    // Context runs on into the zero pages of the next areas.
    assert_eq!(hits[1].context.len(), 5000 + 7 + 5000);
    let strings = memory.strings(8, &[Encoding::Ascii, Encoding::Utf16Le], &SearchOptions::default()).unwrap();
    assert_eq!(strings.len(), 2 * dumped.len(), "before and after the NUL of each dumped page");
    assert_eq!(memory.page_counts(0).dumped + memory.page_counts(1).zero, 2);
    // The whole range to a file: dumped pages at their offsets, zeros between.
    let out = dir.path().join("all.bin");
    let end = BASE + AREAS * PAGE;
    let summary = memory.dump(BASE, end, &out).unwrap();
    let elapsed = started.elapsed();
    assert!(elapsed < BOUND, "scans of 200,000 pieces took {elapsed:?}: quadratic again?");
    assert_eq!((summary.size, summary.dumped, summary.missing), (AREAS * PAGE, dumped.len() as u64 * PAGE, 0));
    let file = std::fs::read(&out).unwrap();
    assert_eq!(file.len() as u64, AREAS * PAGE);
    for (i, page) in file.chunks(PAGE as usize).enumerate() {
        let address = BASE + i as u64 * PAGE;
        match dumped.binary_search(&address) {
            Ok(_) => assert_eq!(page, &memory.read(address, PAGE).unwrap()[..], "page {i}"),
            Err(_) => assert!(page == &[0u8; PAGE as usize][..], "page {i}"),
        }
    }
}
