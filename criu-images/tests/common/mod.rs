//! Access to the real checkpoints in `tests/fixtures/` for integration tests.
//!
//! Until the crate opens archives itself, the tests unpack the Podman and
//! kubelet archives in memory with the `tar`, `flate2` and `zstd` crates.
#![allow(dead_code)]

pub mod synth;

use std::io::Read;
use std::path::{Path, PathBuf};

/// `tests/fixtures/` at the repository root.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
}

/// One set of CRIU images with the crit 4.2 goldens made from it.
pub struct ImageSet {
    /// Human-readable name, e.g. `counter/zstd`.
    pub label: String,
    /// `(file name, bytes)` of every file in the images directory.
    pub files: Vec<(String, Vec<u8>)>,
    /// `decode --pretty` goldens.
    pub pretty_goldens: PathBuf,
    /// plain `decode` goldens.
    pub plain_goldens: PathBuf,
}

fn read_dir_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            let name = entry.file_name().to_string_lossy().into_owned();
            files.push((name, std::fs::read(entry.path()).unwrap()));
        }
    }
    files.sort();
    files
}

/// The uncompressed tar bytes of a `.tar`, `.tar.gz` or `.tar.zst` archive.
fn tar_bytes(path: &Path) -> Vec<u8> {
    let raw = std::fs::read(path).unwrap();
    let name = path.to_string_lossy();
    if name.ends_with(".gz") {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..]).read_to_end(&mut out).unwrap();
        out
    } else if name.ends_with(".zst") {
        zstd::decode_all(&raw[..]).unwrap()
    } else {
        raw
    }
}

/// Every regular file of an archive, by its path from the archive top
/// (`config.dump`, `checkpoint/pstree.img`, ...).
pub fn archive_members(path: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let tar_bytes = tar_bytes(path);
    let mut archive = tar::Archive::new(&tar_bytes[..]);
    let mut members = std::collections::BTreeMap::new();
    for member in archive.entries().unwrap() {
        let mut member = member.unwrap();
        if !member.header().entry_type().is_file() {
            continue;
        }
        let name = member.path().unwrap().to_string_lossy().into_owned();
        let name = name.strip_prefix("./").unwrap_or(&name).to_string();
        let mut bytes = Vec::new();
        member.read_to_end(&mut bytes).unwrap();
        members.insert(name, bytes);
    }
    members
}

/// The kubelet checkpoint tar of the k8s-counter fixture (its name carries a timestamp).
pub fn k8s_counter_tar() -> PathBuf {
    std::fs::read_dir(fixtures_dir().join("k8s-counter"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "tar"))
        .expect("k8s-counter has a kubelet checkpoint tar")
}

/// Files of an archive that lie directly in `prefix` (e.g. `checkpoint/`).
fn read_archive_files(path: &Path, prefix: &str) -> Vec<(String, Vec<u8>)> {
    let tar_bytes = tar_bytes(path);
    let mut archive = tar::Archive::new(&tar_bytes[..]);
    let mut files = Vec::new();
    for member in archive.entries().unwrap() {
        let mut member = member.unwrap();
        if !member.header().entry_type().is_file() {
            continue;
        }
        let member_path = member.path().unwrap().to_string_lossy().into_owned();
        let Some(rest) = member_path.strip_prefix(prefix) else { continue };
        if rest.contains('/') {
            continue;
        }
        let mut bytes = Vec::new();
        member.read_to_end(&mut bytes).unwrap();
        files.push((rest.to_string(), bytes));
    }
    files.sort();
    files
}

/// Every image set of every fixture that has crit 4.2 goldens.
pub fn image_sets() -> Vec<ImageSet> {
    let root = fixtures_dir();
    let set = |label: &str, files: Vec<(String, Vec<u8>)>, goldens: &str| ImageSet {
        label: label.to_string(),
        files,
        pretty_goldens: root.join(goldens).join("decoded-crit-4.x"),
        plain_goldens: root.join(goldens).join("decoded-crit-4.x-plain"),
    };
    let predump = |sub: &str| ImageSet {
        label: format!("predump/{sub}"),
        files: read_dir_files(&root.join("predump").join(sub)),
        pretty_goldens: root.join("predump/decoded-crit-4.x").join(sub),
        plain_goldens: root.join("predump/decoded-crit-4.x-plain").join(sub),
    };
    let k8s_tar = k8s_counter_tar();
    vec![
        set("counter/none", read_archive_files(&root.join("counter/none/checkpoint.tar"), "checkpoint/"), "counter/none"),
        set("counter/gzip", read_archive_files(&root.join("counter/gzip/checkpoint.tar.gz"), "checkpoint/"), "counter/gzip"),
        set("counter/zstd", read_archive_files(&root.join("counter/zstd/checkpoint.tar.zst"), "checkpoint/"), "counter/zstd"),
        set("k8s-counter", read_archive_files(&k8s_tar, "checkpoint/"), "k8s-counter"),
        set("pytree", read_archive_files(&root.join("pytree/checkpoint.tar.gz"), "checkpoint/"), "pytree"),
        set("threads", read_archive_files(&root.join("threads/checkpoint.tar.zst"), "checkpoint/"), "threads"),
        set("pytree-host", read_archive_files(&root.join("pytree-host/images.tar.zst"), "images/"), "pytree-host"),
        set("counter-host", read_dir_files(&root.join("counter-host/images")), "counter-host"),
        predump("pre1"),
        predump("pre2"),
        predump("dump"),
    ]
}

/// One dump level held in memory, for the memory and model layers.
pub struct Files {
    pub label: String,
    pub files: std::collections::HashMap<String, Vec<u8>>,
}

impl criu_images::chain::ImageStore for Files {
    fn file(&self, name: &str) -> criu_images::Result<Option<&[u8]>> {
        Ok(self.files.get(name).map(Vec::as_slice))
    }
    fn label(&self) -> String {
        self.label.clone()
    }
}

/// The dump levels of an image set: itself, then its pre-dump parents.
pub fn levels_of(set: &ImageSet) -> Vec<Files> {
    let files = |set: &ImageSet| Files { label: set.label.clone(), files: set.files.iter().cloned().collect() };
    if set.label == "predump/dump" {
        let all = image_sets();
        let get = |l: &str| files(all.iter().find(|s| s.label == l).unwrap());
        vec![get("predump/dump"), get("predump/pre2"), get("predump/pre1")]
    } else {
        vec![files(set)]
    }
}

/// The dump chain of levels (as [`levels_of`] returns them), the first on top.
pub fn chain_of(levels: &[Files]) -> criu_images::chain::DumpChain<'_> {
    use criu_images::chain::{DumpChain, ImageStore};
    DumpChain::new(&levels[0], levels[1..].iter().map(|l| l as &dyn ImageStore))
}

/// The truth.json captured from /proc before the dump of an image set.
pub fn truth_of(label: &str) -> serde_json::Value {
    let path = match label {
        "predump/dump" => "predump/truth.json".to_string(),
        "predump/pre1" => "predump/truth-pre1.json".to_string(),
        "predump/pre2" => "predump/truth-pre2.json".to_string(),
        other => format!("{other}/truth.json"),
    };
    let text = std::fs::read_to_string(fixtures_dir().join(path)).unwrap();
    serde_json::from_str(&text).unwrap()
}
