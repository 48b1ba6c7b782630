//! The memory layer under Miri: `merge` joins neighbouring runs of dumped
//! pages by re-cutting one slice of their pages file (no `unsafe` any more;
//! this keeps it so), and reads assemble pieces across joins. Here
//! the images are held in memory (Miri cannot map files), so
//! `cargo +nightly miri test -p criu-images --test hostile_miri` checks
//! those joins and every read and search over them for undefined behaviour
//! (docs/reliability.md). Also an ordinary test.

mod common;

use criu_images::chain::DumpChain;
use criu_images::memory::{Content, Pattern, ProcessMemory, SearchOptions};

#[test]
fn joined_runs_of_pages_are_read_and_searched_soundly() {
    // Only what the memory layer reads: no decompression under Miri.
    let dir = common::fixtures_dir().join("counter-host/images");
    let files = ["pstree.img", "mm-24152.img", "pagemap-24152.img", "pages-1.img", "inventory.img", "core-24152.img"]
        .iter()
        .map(|name| (name.to_string(), std::fs::read(dir.join(name)).unwrap()))
        .collect();
    let level = common::Files { label: "counter-host".into(), files };
    let memory = ProcessMemory::build(24152, &DumpChain::single(&level)).unwrap();
    let pieces: Vec<_> = memory.pieces_in(0, u64::MAX).collect();
    let dumped: Vec<_> = pieces.iter().filter_map(|p| if let Content::Dumped(b) = p.content { Some((p, b)) } else { None }).collect();
    assert!(!dumped.is_empty());
    // At least one piece is longer than a page: a join happened.
    assert!(dumped.iter().any(|(p, _)| p.len() > memory.page_size()), "no joined run to check");
    for (piece, bytes) in &dumped {
        assert_eq!(bytes.len() as u64, piece.len());
        // Touch the first and the last byte of every joined slice.
        let (first, last) = (bytes[0], bytes[bytes.len() - 1]);
        let read = memory.read(piece.start, piece.len()).unwrap();
        assert_eq!((read[0], read[read.len() - 1]), (first, last));
    }
    // A read across every piece of the first area that has pages.
    let (piece, _) = dumped[0];
    let vma = &memory.vmas()[piece.vma];
    let _ = memory.read(vma.start, vma.end - vma.start);
    let hits = memory.search(&Pattern::literal(&b"FX_"[..]), &SearchOptions::default()).unwrap();
    for hit in hits {
        assert_eq!(&memory.read(hit.address, 3).unwrap()[..], b"FX_");
    }
}
