//! A whole checkpoint with one member replaced: the counter-host images
//! (tests/fixtures, without dump.log) in a tar, member number `data[0]`
//! replaced by `data[1..]`; then everything a user reads from it: the
//! process model, the tree, every process's memory (areas, page counts,
//! reads, a search).
#![no_main]

use std::io::Write;
use std::path::Path;
use std::sync::OnceLock;

use criu_images::memory::{Pattern, SearchOptions};
use criu_images::model::{process_tree, Process};
use criu_images::Checkpoint;
use libfuzzer_sys::fuzz_target;

fn members() -> &'static [(String, Vec<u8>)] {
    static MEMBERS: OnceLock<Vec<(String, Vec<u8>)>> = OnceLock::new();
    MEMBERS.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/counter-host/images");
        let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
            .expect("the fixture")
            .map(|e| e.expect("an entry").path())
            .filter(|p| p.file_name().is_some_and(|n| n != "dump.log"))
            .map(|p| (p.file_name().unwrap_or_default().to_string_lossy().into_owned(), std::fs::read(&p).expect("a file")))
            .collect();
        files.sort();
        files
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, replacement)) = data.split_first() else { return };
    let members = members();
    let replaced = pick as usize % members.len();
    let mut builder = tar::Builder::new(Vec::new());
    for (i, (name, bytes)) in members.iter().enumerate() {
        let bytes: &[u8] = if i == replaced { replacement } else { bytes };
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        if builder.append_data(&mut header, format!("checkpoint/{name}"), bytes).is_err() {
            return;
        }
    }
    let Ok(tar) = builder.into_inner() else { return };
    let Ok(mut file) = tempfile::NamedTempFile::new() else { return };
    if file.write_all(&tar).is_err() {
        return;
    }
    let Ok(checkpoint) = Checkpoint::open(file.path()) else { return };
    let _ = process_tree(checkpoint.images());
    if let Ok(processes) = Process::load_all(&checkpoint.chain()) {
        for p in &processes {
            let _ = p.to_json();
        }
    }
    let Ok(pids) = checkpoint.pids() else { return };
    for pid in pids.into_iter().take(4) {
        let Ok(memory) = checkpoint.memory(pid) else { continue };
        for (i, vma) in memory.vmas().iter().enumerate().take(64) {
            let _ = memory.page_counts(i);
            let _ = memory.read(vma.start, (vma.end.saturating_sub(vma.start)).min(1 << 16));
        }
        let _ = memory.search(&Pattern::literal(&b"FX_"[..]), &SearchOptions::default());
    }
});
