//! Entry tables (issue #19), Rust only: every image of a checkpoint to
//! Arrow record batches (`entry_table::all_image_batches`, what Python's
//! `Checkpoint.image_tables()` returns) and `entry_table::image_tables` of
//! one kind over many copies of a checkpoint.
//!
//! * `pytree`: the real pytree fixture (tests/fixtures, 39 images, 356
//!   entries; per-image fixed costs dominate);
//! * `busy-100k`: the generated checkpoint of scripts/bench-vs-pycriu.sh
//!   (8 processes, 108k entries; per-entry decode dominates);
//! * `pagemap-200-pytree`: `image_tables` of 200 x pytree, `pagemap`.
//!
//! `cargo bench -p criu-images-benches --bench entry_tables` takes under a minute.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use criu_images::{entry_table, Checkpoint, ImageKind};
use criu_images_benches::{busy_images, write_images, BusySpec};

fn rows(checkpoint: &Checkpoint) -> usize {
    entry_table::all_image_batches(checkpoint).unwrap().iter().map(|(_, b)| b.num_rows()).sum()
}

fn entry_tables(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let pytree = dir.path().join("pytree");
    let archive = Checkpoint::open(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/pytree/checkpoint.tar.gz")).unwrap();
    std::fs::create_dir_all(&pytree).unwrap();
    for name in archive.image_names() {
        std::fs::write(pytree.join(&name), archive.image_bytes(&name).unwrap()).unwrap();
    }
    let big = dir.path().join("busy-100k");
    write_images(&big, &busy_images(BusySpec { processes: 8, threads: 2, vmas: 1_000, pagemap_entries: 12_500, fds: 512 })).unwrap();

    let mut group = c.benchmark_group("entry-tables");
    group.sample_size(20).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    for (name, path) in [("pytree", &pytree), ("busy-100k", &big)] {
        let checkpoint = Checkpoint::open(path).unwrap();
        group.throughput(Throughput::Elements(rows(&checkpoint) as u64));
        group.bench_function(name, |b| b.iter(|| rows(&checkpoint)));
    }
    let paths = vec![&pytree; 200];
    group.throughput(Throughput::Elements(200));
    group.bench_function("pagemap-200-pytree", |b| {
        b.iter(|| entry_table::image_tables(&paths, ImageKind::Pagemap).unwrap().1.iter().map(|b| b.num_rows()).sum::<usize>())
    });
    group.finish();
}

criterion_group!(benches, entry_tables);
criterion_main!(benches);
