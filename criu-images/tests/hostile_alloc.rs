//! Allocations follow the input, found by fuzzing (fuzz/regressions/):
//! an mm image whose environment range is huge made `Process::load_all`
//! reserve 1 GiB before finding the range unmapped.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use criu_images::model::Process;
use criu_images::Checkpoint;

/// Records the largest single allocation of this test binary.
struct Largest;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Largest {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

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
