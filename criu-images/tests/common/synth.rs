//! Building synthetic checkpoints and image bytes in tests: scratch
//! directories, images written from crit JSON with our encoder, raw image
//! framing for hostile bytes, and a small deterministic generator.

use std::path::{Path, PathBuf};

use criu_images::json::from_json;
use criu_images::ImageKind;
use serde_json::Value;

/// A fresh, empty directory for one test, named after the test binary,
/// `name` and this process.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("criu-images-{}-{name}-{}", env!("CARGO_CRATE_NAME"), std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes image `name` in `dir`, encoded from the crit JSON `doc`.
pub fn write(dir: &Path, name: &str, doc: &Value) {
    write_text(dir, name, &serde_json::to_string(doc).unwrap());
}

/// Writes image `name` in `dir`, encoded from the crit JSON text `json`.
pub fn write_text(dir: &Path, name: &str, json: &str) {
    std::fs::write(dir.join(name), from_json(json.as_bytes(), name).unwrap()).unwrap();
}

/// The file names in `dir`, sorted.
pub fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

/// Where the memory of [`write_sparse_checkpoint`] starts.
pub const SPARSE_BASE: u64 = 0x7f00_0000_0000;
/// How many pages [`write_sparse_checkpoint`] dumps (256 MiB).
pub const SPARSE_PAGES: u64 = 256 * 256;

/// One process (pid 1) with 256 MiB of anonymous memory at [`SPARSE_BASE`]
/// dumped in one run; its pages file is sparse (no disk space, reads as
/// zeros). No core image: callers that need one add it.
pub fn write_sparse_checkpoint(dir: &Path) {
    let (base, pages) = (SPARSE_BASE, SPARSE_PAGES);
    write_text(
        dir,
        "mm-1.img",
        &format!(
            r#"{{"magic": "MM", "entries": [{{"mm_start_code": 0, "mm_end_code": 0, "mm_start_data": 0, "mm_end_data": 0, "mm_start_stack": 0, "mm_start_brk": 0, "mm_brk": 0, "mm_arg_start": 0, "mm_arg_end": 0, "mm_env_start": 0, "mm_env_end": 0, "exe_file_id": 0, "mm_saved_auxv": [6, 4096], "vmas": [{{"start": {base}, "end": {}, "pgoff": 0, "shmid": 0, "prot": 3, "flags": 34, "status": 513, "fd": -1}}]}}]}}"#,
            base + pages * 4096
        ),
    );
    write_text(
        dir,
        "pagemap-1.img",
        &format!(
            r#"{{"magic": "PAGEMAP", "entries": [{{"pages_id": 1}}, {{"vaddr": {base}, "compat_nr_pages": 0, "flags": 4, "nr_pages": {pages}}}]}}"#
        ),
    );
    write_text(dir, "pstree.img", r#"{"magic": "PSTREE", "entries": [{"pid": 1, "ppid": 0, "pgid": 1, "sid": 1, "threads": [1]}]}"#);
    std::fs::File::create(dir.join("pages-1.img")).unwrap().set_len(pages * 4096).unwrap();
}

/// A protobuf varint.
pub fn varint(mut v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
    out
}

/// A protobuf message nested `levels` deep through field 2
/// (length-delimited), the innermost empty.
pub fn nested_in_field_2(levels: usize) -> Vec<u8> {
    let mut sizes = vec![0u64];
    for _ in 0..levels {
        let inner = *sizes.last().unwrap();
        sizes.push(inner + 1 + varint(inner).len() as u64);
    }
    let mut message = Vec::new();
    for &inner in sizes[..levels].iter().rev() {
        message.push(0x12);
        message.extend(varint(inner));
    }
    message
}

/// The raw bytes of an image of `kind`: its magic(s), then each entry as a
/// 32-bit size, the payload and the extra bytes behind it (as given, sizes
/// not checked).
pub fn image_with(kind: ImageKind, entries: &[(&[u8], &[u8])]) -> Vec<u8> {
    let mut data = Vec::new();
    if let Some(head) = kind.head().magic() {
        data.extend(head.to_le_bytes());
    }
    data.extend(kind.magic().to_le_bytes());
    for (payload, extra) in entries {
        data.extend((payload.len() as u32).to_le_bytes());
        data.extend(*payload);
        data.extend(*extra);
    }
    data
}

/// SplitMix64: a tiny deterministic generator.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// Up to `max` bytes, mostly printable, with control bytes, JSON
    /// specials, lone high bytes and multi-byte UTF-8 among them.
    pub fn bytes(&mut self, max: u64) -> Vec<u8> {
        let len = self.below(max + 1) as usize;
        let mut out: Vec<u8> = Vec::with_capacity(len + 6);
        for _ in 0..len {
            if self.chance(5) {
                out.extend(["é", "€", "😀", "\u{7f}", "\u{ffff}"][self.below(5) as usize].as_bytes());
            }
            let b = match self.below(6) {
                0 => self.below(0x20) as u8,                // control
                1 => b"\"\\/=. \n"[self.below(7) as usize], // specials
                2 => 0x80 + self.below(0x80) as u8,         // not UTF-8 alone
                _ => b'!' + self.below(94) as u8,           // printable
            };
            out.push(b);
        }
        if self.chance(20) {
            out.extend("é😀".as_bytes());
        }
        out
    }
}
