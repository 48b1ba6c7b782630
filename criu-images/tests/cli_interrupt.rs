//! Ctrl-C in the command line tool: `mem dump`, `decode -o`, `encode -o`
//! and `decode-all` interrupted while they write stop soon, leave no partial
//! file they created (files that existed before stay), say so in one line
//! and end as interrupted (SIGINT, which the shell shows as status 130). The
//! checkpoints are generated at test time: one process with 256 MiB dumped
//! in one run, its pages file sparse (it takes no disk space, and reads as
//! zeros); pagemaps of many runs, whose JSON takes a while to write.

mod common;
#[path = "common/interrupt.rs"]
mod interrupt;

use std::cell::Cell;
use std::path::Path;

use common::synth::{names, write_sparse_checkpoint, SPARSE_BASE as BASE, SPARSE_PAGES as PAGES};
use criu_images::json::from_json;
use interrupt::{command, interrupt_while_writing};

/// A pagemap of `runs` one-page runs: about 60 bytes of JSON each.
fn pagemap_json(runs: u64) -> String {
    let mut json = String::from(r#"{"magic": "PAGEMAP", "entries": [{"pages_id": 1}"#);
    for i in 0..runs {
        json.push_str(&format!(r#", {{"vaddr": {}, "compat_nr_pages": 0, "flags": 4, "nr_pages": 1}}"#, BASE + i * 2 * 4096));
    }
    json.push_str("]}");
    json
}

fn len(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

#[test]
fn ctrl_c_during_decode_all_removes_what_it_created_and_keeps_what_was_there() {
    let dir = tempfile::tempdir().unwrap();
    let images = dir.path().join("images");
    std::fs::create_dir(&images).unwrap();
    let pagemap = from_json(pagemap_json(100_000).as_bytes(), "pagemap").unwrap();
    for n in 0..8 {
        std::fs::write(images.join(format!("pagemap-{}.img", 100 + n)), &pagemap).unwrap();
    }
    let pstree = r#"{"magic": "PSTREE", "entries": [{"pid": 1, "ppid": 0, "pgid": 1, "sid": 1, "threads": [1]}]}"#;
    std::fs::write(images.join("pstree.img"), from_json(pstree.as_bytes(), "pstree.img").unwrap()).unwrap();
    let writing = |out: &Path| {
        let out = out.to_path_buf();
        move || (100..108).any(|n| len(&out.join(format!("pagemap-{n}.img.json"))) > 0)
    };

    // A directory of its own: it goes, with every file in it.
    let out = dir.path().join("new");
    interrupt_while_writing(command(&["decode-all".as_ref(), images.as_os_str(), "--out".as_ref(), out.as_os_str()]), writing(&out));
    assert!(!out.exists(), "the output directory was removed: {:?}", out.exists().then(|| names(&out)));

    // A directory that was there: its files stay (one is overwritten), the new ones go.
    let out = dir.path().join("old");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("notes.txt"), "mine").unwrap();
    std::fs::write(out.join("pagemap-100.img.json"), "old").unwrap();
    interrupt_while_writing(command(&["decode-all".as_ref(), images.as_os_str(), "--out".as_ref(), out.as_os_str()]), || {
        (101..108).any(|n| len(&out.join(format!("pagemap-{n}.img.json"))) > 0)
    });
    assert_eq!(names(&out), ["notes.txt", "pagemap-100.img.json"]);
    assert_eq!(std::fs::read_to_string(out.join("notes.txt")).unwrap(), "mine");
}

#[test]
fn ctrl_c_during_decode_removes_a_new_output_file_only() {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("pagemap-1.img");
    std::fs::write(&image, from_json(pagemap_json(400_000).as_bytes(), "pagemap").unwrap()).unwrap();

    let out = dir.path().join("pagemap.json");
    let decode = |out: &Path| command(&["decode".as_ref(), "-i".as_ref(), image.as_os_str(), "-o".as_ref(), out.as_os_str()]);
    interrupt_while_writing(decode(&out), || len(&out) > 0);
    assert!(!out.exists(), "the partial JSON was removed");

    // A file that existed is overwritten as asked, but never removed.
    std::fs::write(&out, "old").unwrap();
    interrupt_while_writing(decode(&out), || len(&out) > 3);
    assert!(out.exists(), "a file that existed before stays");
}

#[test]
fn ctrl_c_during_mem_dump_removes_the_partial_file_and_ends_as_interrupted() {
    let dir = tempfile::tempdir().unwrap();
    write_sparse_checkpoint(dir.path());
    let out = dir.path().join("dump.bin");
    let dump = command(&[
        "mem".as_ref(),
        "dump".as_ref(),
        dir.path().as_os_str(),
        "--pid".as_ref(),
        "1".as_ref(),
        "--vma".as_ref(),
        BASE.to_string().as_ref(),
        "-o".as_ref(),
        out.as_os_str(),
    ]);
    // Once the file has bytes the dump is writing (it takes tens of
    // milliseconds at least for 256 MiB); then Ctrl-C.
    let written = Cell::new(0);
    interrupt_while_writing(dump, || {
        written.set(len(&out));
        written.get() > 0
    });
    assert!(written.get() < PAGES * 4096, "interrupted while writing: {} bytes written", written.get());
    assert!(!out.exists(), "the partial dump was removed");
}
