//! Decode and encode throughput over inputs made by our own encoder
//! (`criu_images_benches`):
//!
//! * `pagemap-100k`: a 100,000-run CRIU 4.2 pagemap (1.8 MB): framing only
//!   (`entries`), typed prost decode of every entry (`typed`), crit JSON
//!   plain and pretty (`json-plain`, `json-pretty`), and JSON -> image
//!   (`json-encode`, from the plain JSON). Throughput in image bytes, and in
//!   entries in the `pagemap-100k-elements` group.
//! * `counter-host-images`: the 11 real images of the counter-host fixture,
//!   each to plain and pretty JSON (tiny images: per-image overhead).
//! * `busy-images`: the 41 images of the generated busy directory (16 core
//!   images, 4 processes with 2,000 VMAs, 5,000 pagemap runs, 256 files).
//!
//! Every group keeps its run time short (`sample_size`, `measurement_time`),
//! so `cargo bench -p criu-images-benches --bench decode` takes about two
//! minutes.

use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use criu_images::image::Image;
use criu_images::json::{from_json, to_json, write_json, DecodeOptions};
use criu_images_benches::{busy_images, fixture_images, pagemap_image, BusySpec, ImageFileBytes};

const ENTRIES: usize = 100_000;

fn quick<'a>(c: &'a mut Criterion, name: &str) -> BenchmarkGroup<'a, WallTime> {
    let mut group = c.benchmark_group(name);
    group.sample_size(20).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4));
    group
}

fn pagemap(c: &mut Criterion) {
    let bytes = pagemap_image(ENTRIES);
    let image = Image::parse("pagemap-100k.img", &bytes).unwrap();
    let plain = to_json(&image, &DecodeOptions::PLAIN).unwrap();
    // Bytes, then entries (the head included) per second.
    for (name, throughput) in
        [("pagemap-100k", Throughput::Bytes(bytes.len() as u64)), ("pagemap-100k-elements", Throughput::Elements(ENTRIES as u64 + 1))]
    {
        let mut group = quick(c, name);
        group.throughput(throughput);
        group.bench_function("entries", |b| b.iter(|| image.entries().map(|e| e.unwrap().payload().len()).sum::<usize>()));
        group.bench_function("typed", |b| {
            b.iter(|| {
                let mut n = 0;
                for entry in image.entries() {
                    std::hint::black_box(entry.unwrap().decode().unwrap());
                    n += 1;
                }
                n
            })
        });
        let mut out = Vec::with_capacity(plain.len() * 3);
        for (name, options) in [("json-plain", DecodeOptions::PLAIN), ("json-pretty", DecodeOptions::PRETTY)] {
            b_json(&mut group, name, &image, &options, &mut out);
        }
        group.bench_function("json-encode", |b| b.iter(|| from_json(plain.as_bytes(), "pagemap.json").unwrap().len()));
        group.finish();
    }
}

/// Image -> JSON into a reused buffer (as a caller decoding many images
/// would; `to_json` also validates the text as UTF-8).
fn b_json(group: &mut BenchmarkGroup<'_, WallTime>, name: &str, image: &Image<'_>, options: &DecodeOptions, out: &mut Vec<u8>) {
    group.bench_function(name, |b| {
        b.iter(|| {
            out.clear();
            write_json(image, options, out).unwrap();
            out.len()
        })
    });
}

fn directory(c: &mut Criterion, name: &str, files: &[ImageFileBytes]) {
    let total: usize = files.iter().map(|(_, b)| b.len()).sum();
    let mut group = quick(c, name);
    group.throughput(Throughput::Bytes(total as u64));
    let mut out = Vec::new();
    for (name, options) in [("json-plain", DecodeOptions::PLAIN), ("json-pretty", DecodeOptions::PRETTY)] {
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut len = 0;
                for (n, bytes) in files {
                    out.clear();
                    write_json(&Image::parse(n, bytes).unwrap(), &options, &mut out).unwrap();
                    len += out.len();
                }
                len
            })
        });
    }
    group.finish();
}

fn directories(c: &mut Criterion) {
    directory(c, "counter-host-images", &fixture_images());
    directory(c, "busy-images", &busy_images(BusySpec::DEFAULT));
}

criterion_group!(benches, pagemap, directories);
criterion_main!(benches);
