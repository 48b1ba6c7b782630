//! Decode throughput: framing only, typed prost decode, crit JSON (plain
//! and pretty), and JSON encode, over a 100,000-entry pagemap and over the
//! real images of a small checkpoint.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use criu_images::image::Image;
use criu_images::json::{from_json, to_json, DecodeOptions};

fn pagemap(c: &mut Criterion) {
    let bytes = criu_images_benches::pagemap_image(100_000);
    let plain = to_json(&Image::parse("pagemap", &bytes).unwrap(), &DecodeOptions::PLAIN).unwrap();
    let mut group = c.benchmark_group("pagemap-100k");
    group.sample_size(20);
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_function("entries", |b| {
        b.iter(|| Image::parse("pagemap", &bytes).unwrap().entries().map(|e| e.unwrap().payload().len()).sum::<usize>())
    });
    group.bench_function("typed", |b| {
        b.iter(|| Image::parse("pagemap", &bytes).unwrap().entries().map(|e| e.unwrap().decode().unwrap()).count())
    });
    for (name, options) in [("json-plain", DecodeOptions::PLAIN), ("json-pretty", DecodeOptions::PRETTY)] {
        group.bench_function(name, |b| b.iter(|| to_json(&Image::parse("pagemap", &bytes).unwrap(), &options).unwrap().len()));
    }
    group.bench_function("json-encode", |b| b.iter(|| from_json(plain.as_bytes(), "pagemap.json").unwrap().len()));
    group.finish();
}

fn fixture_dir(c: &mut Criterion) {
    let files = criu_images_benches::fixture_images();
    let total: usize = files.iter().map(|(_, b)| b.len()).sum();
    let mut group = c.benchmark_group("counter-host-images");
    group.throughput(Throughput::Bytes(total as u64));
    for (name, options) in [("json-plain", DecodeOptions::PLAIN), ("json-pretty", DecodeOptions::PRETTY)] {
        group.bench_with_input(BenchmarkId::new(name, files.len()), &files, |b, files| {
            b.iter(|| {
                files
                    .iter()
                    .map(|(n, bytes)| to_json(&Image::parse(n, bytes).unwrap(), &options).unwrap().len())
                    .sum::<usize>()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, pagemap, fixture_dir);
criterion_main!(benches);
