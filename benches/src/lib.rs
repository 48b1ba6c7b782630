//! Large synthetic inputs for the benchmarks, made with criu-images' own
//! encoder (CRIU cannot dump on every kernel, and real multi-GB checkpoints
//! are not shipped).

use criu_images::json::from_json;

/// A CRIU 4.2 style pagemap image with `entries` runs after its head:
/// `compat_nr_pages` 0, `flags` alternating `PE_PRESENT` and
/// `PE_LAZY | PE_PRESENT`, `nr_pages` 1..=16, increasing addresses.
pub fn pagemap_image(entries: usize) -> Vec<u8> {
    let mut json = String::with_capacity(entries * 80 + 64);
    json.push_str(r#"{"magic": "PAGEMAP", "entries": [{"pages_id": 1}"#);
    let mut vaddr: u64 = 0x5555_0000_0000;
    for i in 0..entries {
        let nr = (i % 16 + 1) as u64;
        let flags = if i % 2 == 0 { 4 } else { 6 };
        json.push_str(&format!(r#", {{"vaddr": {vaddr}, "compat_nr_pages": 0, "flags": {flags}, "nr_pages": {nr}}}"#));
        vaddr += (nr + 1) * 4096;
    }
    json.push_str("]}");
    from_json(json.as_bytes(), "pagemap.json").expect("the generator writes valid JSON")
}

/// The real images of the counter-host fixture (a CRIU images directory),
/// as (file name, bytes), pages files excluded.
pub fn fixture_images() -> Vec<(String, Vec<u8>)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/counter-host/images");
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .expect("tests/fixtures/counter-host/images")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "img") && !p.file_name().unwrap().to_string_lossy().starts_with("pages-"))
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).expect("fixture image")))
        .collect();
    files.sort();
    files
}
