//! Allocations follow the input, found by fuzzing (fuzz/regressions/):
//! an mm image whose environment range is huge made `Process::load_all`
//! reserve 1 GiB before finding the range unmapped.

use std::sync::atomic::Ordering;

use criu_images::model::Process;
use criu_images::Checkpoint;

#[path = "common/largest_alloc.rs"]
mod largest_alloc;

use largest_alloc::{Largest, LARGEST};

#[global_allocator]
static ALLOCATOR: Largest = Largest;

#[test]
fn an_unmapped_environment_range_does_not_reserve_its_size() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures");
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(root.join("counter-host/images")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
    }
    std::fs::copy(root.join("hostile/mm-huge-env-range.img"), dir.path().join("mm-24152.img")).unwrap();
    let checkpoint = Checkpoint::open(dir.path()).unwrap();
    LARGEST.store(0, Ordering::Relaxed);
    let _ = Process::load_all(&checkpoint.chain());
    let largest = LARGEST.load(Ordering::Relaxed);
    assert!(
        largest < 16 << 20,
        "largest allocation {largest} bytes for a {} byte image",
        std::fs::metadata(dir.path().join("mm-24152.img")).unwrap().len()
    );
}
