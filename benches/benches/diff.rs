//! Comparing two checkpoints' memory (issue #15): two 256 MiB processes
//! (one dense run each, written by the benches crate's generator), the
//! second with one byte changed in 5% of its pages, compared page by page
//! (`diff_pages`, and `Diff::compute` with everything else), next to a
//! single-threaded `memcmp` of the two pages files page by page.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use criu_images::diff::{diff_pages, Diff, DiffOptions};
use criu_images::Checkpoint;
use criu_images_benches::{write_changed_copy, write_memory_checkpoint, MemoryLayout};

fn diff(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let bytes = write_memory_checkpoint(&dir.path().join("old"), MemoryLayout::Dense { mib: 256 }).unwrap();
    write_changed_copy(&dir.path().join("old"), &dir.path().join("new"), 5).unwrap();
    let old = Checkpoint::open(dir.path().join("old")).unwrap();
    let new = Checkpoint::open(dir.path().join("new")).unwrap();
    let (om, nm) = (old.memory(1).unwrap(), new.memory(1).unwrap());
    let mut group = c.benchmark_group("diff-256MiB-5pct");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(bytes));
    group.bench_function("diff-pages", |b| b.iter(|| diff_pages(&om, &nm, None).unwrap().len()));
    group.bench_function("diff-compute", |b| b.iter(|| Diff::compute(&old, &new, &DiffOptions::default(), None).unwrap().pages.len()));
    let (a, b) = (old.image_bytes("pages-1.img").unwrap(), new.image_bytes("pages-1.img").unwrap());
    // Every page compared, on one core (a == b would stop at the first difference).
    group.bench_function("memcmp-pages-files", |bench| bench.iter(|| a.chunks(4096).zip(b.chunks(4096)).filter(|(x, y)| x != y).count()));
    group.finish();
}

criterion_group!(benches, diff);
criterion_main!(benches);
