//! The archive layer over arbitrary bytes: tar indexing from memory, and
//! opening as a file (tar, tar.gz, tar.zst, single file, with a small
//! decompression limit), reading every member.
#![no_main]

use std::io::Write;

use criu_images::archive::{Archive, OpenOptions, TarView};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(view) = TarView::parse("fuzz.tar", data) {
        for (name, _, _) in view.members() {
            let _ = view.get(&format!("/{name}"));
        }
    }
    let Ok(mut file) = tempfile::NamedTempFile::new() else { return };
    if file.write_all(data).is_err() {
        return;
    }
    let options = OpenOptions { max_decompressed: 16 << 20, ..OpenOptions::default() };
    if let Ok(archive) = Archive::open(file.path(), &options) {
        let names: Vec<String> = archive.members().map(|m| m.name.to_string()).collect();
        for name in names {
            if let Ok(bytes) = archive.read(&name) {
                assert!(bytes.len() as u64 <= options.max_decompressed.max(data.len() as u64));
            }
        }
    }
});
