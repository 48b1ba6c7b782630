//! Process memory: building the page index of a process and searching it,
//! on a 256 MiB synthetic checkpoint (written to a temporary directory by
//! criu-images' synth_checkpoint example logic, here inline); and search,
//! strings and dump on a dense layout (768 MiB in one run) next to a
//! fragmented one (200,000 one-page runs between pages not dumped, 800 MB),
//! whose times per byte should be alike (throughput is in dumped bytes).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use criu_images::memory::Encoding;
use criu_images::memory::{Pattern, SearchOptions};
use criu_images::Checkpoint;
use criu_images_benches::{write_memory_checkpoint, MemoryLayout};

const MIB: u64 = 256;
const NEEDLE: &[u8] = b"SYNTHETIC-NEEDLE-0123456789";

fn write_checkpoint(dir: &std::path::Path) {
    use criu_images::json::from_json;
    use std::io::Write;
    let pages = MIB * 256;
    let base: u64 = 0x7f00_0000_0000;
    let mut entries = vec![r#"{"pages_id": 1}"#.to_string()];
    let (mut page, mut dumped) = (0, 0);
    while page < pages {
        let n = 255.min(pages - page);
        entries.push(format!(r#"{{"vaddr": {}, "compat_nr_pages": 0, "flags": 6, "nr_pages": {n}}}"#, base + page * 4096));
        dumped += n;
        page += n + 1;
    }
    let write = |name: &str, json: String| std::fs::write(dir.join(name), from_json(json.as_bytes(), name).unwrap()).unwrap();
    write("pagemap-1.img", format!(r#"{{"magic": "PAGEMAP", "entries": [{}]}}"#, entries.join(", ")));
    write("pstree.img", r#"{"magic": "PSTREE", "entries": [{"pid": 1, "ppid": 0, "pgid": 1, "sid": 1, "threads": [1]}]}"#.into());
    write(
        "mm-1.img",
        format!(
            r#"{{"magic": "MM", "entries": [{{"mm_start_code": 0, "mm_end_code": 0, "mm_start_data": 0, "mm_end_data": 0, "mm_start_stack": 0, "mm_start_brk": 0, "mm_brk": 0, "mm_arg_start": 0, "mm_arg_end": 0, "mm_env_start": 0, "mm_env_end": 0, "exe_file_id": 0, "mm_saved_auxv": [6, 4096], "vmas": [{{"start": {base}, "end": {}, "pgoff": 0, "shmid": 0, "prot": 3, "flags": 34, "status": 513, "fd": -1}}]}}]}}"#,
            base + page * 4096
        ),
    );
    let mut file = std::io::BufWriter::new(std::fs::File::create(dir.join("pages-1.img")).unwrap());
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut chunk = vec![0u8; 1 << 20];
    for i in 0..(dumped * 4096) >> 20 {
        for word in chunk.chunks_mut(8) {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            word.copy_from_slice(&state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
        }
        if i % 64 == 0 {
            chunk[1000..1000 + NEEDLE.len()].copy_from_slice(NEEDLE);
        }
        file.write_all(&chunk).unwrap();
    }
}

fn memory(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    write_checkpoint(dir.path());
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
        let literal = Pattern::literal(NEEDLE);
        let options = SearchOptions::default();
        group.bench_function("search-literal", |b| b.iter(|| memory.search(&literal, &options).unwrap().len()));
        group.bench_function("strings", |b| b.iter(|| memory.strings_iter(8, &[Encoding::Ascii], &options).count()));
        let vma = memory.vmas()[0].clone();
        let out = dir.path().join(format!("{name}.bin"));
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
