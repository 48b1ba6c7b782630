//! Process memory: building the page index of a process and searching it,
//! on a 256 MiB synthetic checkpoint (runs of 255 pages, written to a
//! temporary directory by the benches crate's generator); and building the
//! index, search, strings and dump on a dense layout (768 MiB in one run)
//! next to a fragmented one (200,000 one-page runs between pages not
//! dumped, 800 MB), whose times per byte should be alike (throughput is in
//! dumped bytes).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use criu_images::memory::Encoding;
use criu_images::memory::{Pattern, SearchOptions};
use criu_images::Checkpoint;
use criu_images_benches::{write_memory_checkpoint, MemoryLayout, NEEDLE};

const MIB: u64 = 256;

fn memory(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    write_memory_checkpoint(dir.path(), MemoryLayout::Gapped { mib: MIB, run: 255 }).unwrap();
    let checkpoint = Checkpoint::open(dir.path()).unwrap();
    let memory = checkpoint.memory(1).unwrap();
    let bytes: u64 = memory.pieces().iter().filter_map(|p| p.content.bytes()).map(|b| b.len() as u64).sum();
    let mut group = c.benchmark_group("memory-256MiB");
    group.sample_size(10);
    // memory() keeps the index it builds: measure the build itself.
    group.bench_function("build-index", |b| b.iter(|| checkpoint.memory_with(1, None).unwrap().pieces().len()));
    group.throughput(Throughput::Bytes(bytes));
    let literal = Pattern::literal(NEEDLE);
    group.bench_function("search-literal", |b| b.iter(|| memory.search(&literal, &SearchOptions::default()).unwrap().len()));
    let regex = Pattern::regex("SYNTHETIC-NEEDLE-[0-9]{10}").unwrap();
    group.bench_function("search-regex", |b| b.iter(|| memory.search(&regex, &SearchOptions::default()).unwrap().len()));
    let vma = &memory.vmas()[0];
    group.bench_function("read-whole-process", |b| b.iter(|| memory.read(vma.start, vma.end - vma.start).map(|r| r.len()).unwrap_or(0)));
    group.finish();
}

fn layouts(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    for (name, layout) in
        [("dense-768MiB", MemoryLayout::Dense { mib: 768 }), ("fragmented-200k-runs", MemoryLayout::Fragmented { runs: 200_000 })]
    {
        let path = dir.path().join(name);
        let bytes = write_memory_checkpoint(&path, layout).unwrap();
        let checkpoint = Checkpoint::open(&path).unwrap();
        let memory = checkpoint.memory(1).unwrap();
        let mut group = c.benchmark_group(format!("memory-{name}"));
        group.sample_size(10);
        group.throughput(Throughput::Bytes(bytes));
        // The index is part of every command's cost: 200k runs are not free.
        // (memory() keeps the index it builds: memory_with builds it anew.)
        group.bench_function("build-index", |b| b.iter(|| checkpoint.memory_with(1, None).unwrap().pieces().len()));
        let literal = Pattern::literal(NEEDLE);
        let options = SearchOptions::default();
        group.bench_function("search-literal", |b| b.iter(|| memory.search(&literal, &options).unwrap().len()));
        group.bench_function("strings", |b| b.iter(|| memory.strings_iter(8, &[Encoding::Ascii], &options).count()));
        let vma = memory.vmas()[0].clone();
        // Dumped to memory (tmpfs) where there is one: what is measured is
        // the dump, not the disk's writeback of gigabytes.
        let shm = std::path::Path::new("/dev/shm");
        let out = match shm.is_dir() {
            true => shm.join(format!("criu-images-bench-{}-{name}.bin", std::process::id())),
            false => dir.path().join(format!("{name}.bin")),
        };
        group.bench_function("dump", |b| b.iter(|| memory.dump(vma.start, vma.end, &out).unwrap().dumped));
        group.finish();
        std::fs::remove_file(&out).ok();
        drop(memory);
        drop(checkpoint);
        std::fs::remove_dir_all(&path).ok();
    }
}

criterion_group!(benches, memory, layouts);
criterion_main!(benches);
