//! Process memory against the fixtures' ground truth: every marker string
//! that was in /proc/PID/mem before the dump is found at exactly its
//! address, and the recorded peeks read back byte for byte.

mod common;

use std::collections::HashMap;

use criu_images::chain::DumpChain;
use criu_images::memory::{Content, Pattern, ProcessMemory, SearchOptions};

use common::{levels_of, truth_of};

#[test]
fn every_marker_is_found_at_its_recorded_address() {
    let mut checked = 0;
    for set in common::image_sets() {
        if set.label.starts_with("predump/pre") {
            continue; // pre-dumps hold memory only; their processes are read through dump/
        }
        let truth = truth_of(&set.label);
        let levels = levels_of(&set);
        let refs = common::chain_of(&levels);
        for process in truth["processes"].as_array().unwrap() {
            let vpid = process["vpid"].as_u64().unwrap() as u32;
            let memory = ProcessMemory::build(vpid, &refs).unwrap();
            assert_eq!(memory.page_size(), truth["page_size"].as_u64().unwrap());
            for marker in process["markers"].as_array().unwrap() {
                let addr = marker["addr"].as_u64().unwrap();
                let value = marker["value"].as_str().unwrap().as_bytes();
                if marker["mapping_perms"].as_str().unwrap().ends_with('s') && marker["mapping_path"].as_str().unwrap().starts_with('/') {
                    // A shared file mapping: its pages are the file's, which CRIU
                    // does not dump. The memory view says so instead of guessing.
                    let err = memory.read(addr, value.len() as u64).unwrap_err().to_string();
                    assert!(err.contains("file-backed"), "{}: {err}", set.label);
                    continue;
                }
                let read = memory.read(addr, value.len() as u64).unwrap_or_else(|e| panic!("{}: pid {vpid}: {e}", set.label));
                assert_eq!(&*read, value, "{}: pid {vpid} marker at {addr:#x}", set.label);
                let hits = memory.search(&Pattern::literal(value), &SearchOptions::default()).unwrap();
                assert!(
                    hits.iter().any(|h| h.address == addr),
                    "{}: pid {vpid}: search did not find {:?} at {addr:#x} (found at {:x?})",
                    set.label,
                    marker["value"],
                    hits.iter().map(|h| h.address).collect::<Vec<_>>()
                );
                checked += 1;
            }
        }
        for (_, peek) in truth["peeks"].as_object().unwrap() {
            let vpid = process_vpid(&truth, peek["pid"].as_u64().unwrap());
            let memory = ProcessMemory::build(vpid, &refs).unwrap();
            let bytes = memory.read(peek["addr"].as_u64().unwrap(), peek["len"].as_u64().unwrap()).unwrap();
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(hex, peek["hex"].as_str().unwrap(), "{}: peek", set.label);
        }
    }
    assert!(checked >= 20, "only {checked} markers checked");
}

fn process_vpid(truth: &serde_json::Value, host_pid: u64) -> u32 {
    truth["processes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["pid"].as_u64() == Some(host_pid))
        .map(|p| p["vpid"].as_u64().unwrap() as u32)
        .unwrap()
}

#[test]
fn memfd_contents_come_from_the_shmem_pagemap() {
    let set = common::image_sets().into_iter().find(|s| s.label == "pytree").unwrap();
    let levels = levels_of(&set);
    let refs = common::chain_of(&levels);
    let memory = ProcessMemory::build(1, &refs).unwrap();
    let memfd = memory.vmas().iter().position(|v| v.path.as_deref().is_some_and(|p| p.starts_with("/memfd:"))).unwrap();
    let vma = &memory.vmas()[memfd];
    let pieces: Vec<_> = memory.pieces_in(vma.start, vma.end).collect();
    assert!(pieces.iter().any(|p| matches!(p.content, Content::Dumped(_))), "{pieces:?}");
}

const PAGE: u64 = 4096;

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn pattern_page(seed: u64, page: u64) -> Vec<u8> {
    let base = page * PAGE / 8;
    (0..512).flat_map(|i| splitmix64(seed.wrapping_add(base + i)).to_le_bytes()).collect()
}

/// The threads program's region, page by page, as its info file defines it
/// (the same rules as tests/fixtures/src/fx_pattern.py): `Some(bytes)` for
/// pages CRIU must have dumped, `None` for pages it must not have.
fn expected_region(info: &str) -> (u64, u32, HashMap<u64, Vec<u8>>, u64) {
    let mut kv = HashMap::new();
    let mut markers = Vec::new();
    let mut mutations = 0;
    for line in info.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("region_marker ") {
            let fields: HashMap<_, _> = rest.split_whitespace().filter_map(|f| f.split_once('=')).collect();
            markers.push((u64::from_str_radix(fields["off"].trim_start_matches("0x"), 16).unwrap(), fields["text"].as_bytes().to_vec()));
        } else if let Some(n) = line.strip_prefix("mutated=") {
            mutations = n.parse().unwrap();
        } else if let Some((k, v)) = line.split_once('=') {
            if !line.contains(' ') {
                kv.insert(k.to_string(), v.to_string());
            }
        }
    }
    let hex = |k: &str| u64::from_str_radix(kv[k].trim_start_matches("0x"), 16).unwrap();
    let (addr, size, fill, seed) = (hex("region_addr"), hex("region_size"), hex("fill_size"), hex("seed"));
    let pid: u32 = kv["pid"].parse().unwrap();
    let (pages, fp) = (size / PAGE, fill / PAGE);
    let mut exp: HashMap<u64, Vec<u8>> = (0..fp).map(|p| (p, pattern_page(seed, p))).collect();
    let mut p = fp + 64;
    while p < pages - 1 {
        exp.insert(p, pattern_page(seed, p));
        p += 64;
    }
    for p in fp + 1..fp + 4 {
        exp.insert(p, vec![0; PAGE as usize]);
    }
    if mutations > 0 {
        for p in 8..16 {
            exp.insert(p, pattern_page(seed ^ 0xD1FF_D1FF_D1FF_D1FF, p));
        }
        exp.insert(20, vec![0; PAGE as usize]);
    }
    for (off, text) in markers {
        for (i, b) in text.into_iter().enumerate() {
            let (p, o) = ((off + i as u64) / PAGE, (off + i as u64) % PAGE);
            exp.entry(p).or_insert_with(|| vec![0; PAGE as usize])[o as usize] = b;
        }
    }
    (addr, pid, exp, pages)
}

fn check_region(label: &str, truth_file: &str, levels: &DumpChain<'_>) -> usize {
    let truth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(common::fixtures_dir().join(truth_file)).unwrap()).unwrap();
    let info = truth["program_info"]["threads.info"].as_str().unwrap();
    let (addr, pid, expected, pages) = expected_region(info);
    // The program prints the pid it sees; the images of the host dump use host pids.
    let pid = if truth["processes"][0]["vpid"].as_u64().unwrap() as u32 != pid {
        truth["processes"][0]["vpid"].as_u64().unwrap() as u32
    } else {
        pid
    };
    let memory = ProcessMemory::build(pid, levels).unwrap();
    let mut dumped = 0;
    for page in 0..pages {
        let start = addr + page * PAGE;
        let pieces: Vec<_> = memory.pieces_in(start, start + PAGE).collect();
        match expected.get(&page) {
            Some(bytes) => {
                let got = memory.read(start, PAGE).unwrap_or_else(|e| panic!("{label}: page {page}: {e}"));
                assert!(
                    pieces.iter().all(|p| matches!(p.content, Content::Dumped(_))),
                    "{label}: page {page} should be dumped: {pieces:?}"
                );
                assert!(&*got == bytes.as_slice(), "{label}: page {page} differs from the generator");
                dumped += 1;
            }
            None => assert!(
                pieces.iter().all(|p| p.content == Content::Zero),
                "{label}: page {page} was never written and must read as a zero hole: {pieces:?}"
            ),
        }
    }
    dumped
}

#[test]
fn threads_region_matches_its_generator_page_by_page() {
    let set = common::image_sets().into_iter().find(|s| s.label == "threads").unwrap();
    let levels = levels_of(&set);
    let refs = common::chain_of(&levels);
    // tests/fixtures/threads/pattern-check.txt: 1268 pages expected in images.
    assert_eq!(check_region("threads", "threads/truth.json", &refs), 1268);
}

#[test]
fn predump_chain_reads_through_two_parent_levels() {
    let set = common::image_sets().into_iter().find(|s| s.label == "predump/dump").unwrap();
    let levels = levels_of(&set);
    let refs = common::chain_of(&levels);
    // tests/fixtures/predump/pattern-check.txt: 574 pages expected in images.
    assert_eq!(check_region("predump/dump", "predump/truth.json", &refs), 574);

    // Without its parents the dump cannot supply those pages, and says why.
    let alone = ProcessMemory::build(25946, &common::chain_of(&levels[..1])).unwrap();
    let missing = alone.pieces().iter().filter(|p| p.content == Content::Missing(criu_images::memory::Missing::NotInParent)).count();
    assert!(missing > 0);
    // With one parent only, some pages (kept since pre1) are still missing.
    let one = ProcessMemory::build(25946, &common::chain_of(&levels[..2])).unwrap();
    let still = one.pieces().iter().filter(|p| p.content == Content::Missing(criu_images::memory::Missing::NotInParent)).count();
    let full = ProcessMemory::build(25946, &refs).unwrap();
    let none = full.pieces().iter().filter(|p| p.content == Content::Missing(criu_images::memory::Missing::NotInParent)).count();
    assert!(still > 0 && none == 0, "one parent: {still} missing pieces, two parents: {none}");
}

#[test]
fn progress_counts_the_bytes_read_and_cancelling_stops_search_strings_and_dump() {
    use std::sync::Arc;

    use criu_images::memory::Encoding;
    use criu_images::progress::Progress;
    use criu_images::Error;

    let set = common::image_sets().into_iter().find(|s| s.label == "threads").unwrap();
    let levels = levels_of(&set);
    let refs = common::chain_of(&levels);
    let memory = ProcessMemory::build(1, &refs).unwrap();
    let dumped: u64 = memory.pieces().iter().filter_map(|p| p.content.bytes()).map(|b| b.len() as u64).sum();
    // tests/fixtures/threads: 1268 pages of the 64 MiB area alone are dumped.
    assert!(dumped >= 1268 * 4096, "{dumped}");

    let progress = Arc::new(Progress::new());
    let options = SearchOptions { progress: Some(progress.clone()), ..Default::default() };
    assert_eq!(memory.searchable_bytes(&options), dumped);
    let hits = memory.search(&Pattern::literal("REGION-MARKER"), &options).unwrap();
    assert!(!hits.is_empty());
    assert_eq!((progress.done(), progress.total()), (dumped, dumped));

    let both = [Encoding::Ascii, Encoding::Utf16Le];
    assert!(!memory.strings(8, &both, &options).unwrap().is_empty());
    assert_eq!((progress.done(), progress.total()), (2 * dumped, 2 * dumped));

    let heap = memory.vmas().iter().max_by_key(|v| v.end - v.start).unwrap().clone();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("area.bin");
    let done = Progress::new();
    let summary = memory.dump_with(heap.start, heap.end, &out, Some(&done)).unwrap();
    assert_eq!((done.done(), done.total()), (summary.dumped, summary.dumped));
    assert!(summary.dumped > 0);

    // Cancelled before it starts: each stops with Error::Cancelled, and an
    // incomplete dump file is not left behind.
    progress.cancel();
    assert!(matches!(memory.search(&Pattern::literal("REGION-MARKER"), &options), Err(Error::Cancelled)));
    assert!(matches!(memory.strings(8, &both, &options), Err(Error::Cancelled)));
    assert!(progress.done() < progress.total());
    let stopped = dir.path().join("stopped.bin");
    assert!(matches!(memory.dump_with(heap.start, heap.end, &stopped, Some(&progress)), Err(Error::Cancelled)));
    assert!(!stopped.exists());
}
