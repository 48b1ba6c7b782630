//! Names are whatever bytes their owner chose: a file or a task an
//! attacker names with bytes that are not UTF-8 must not blind the tool.
//! The typed model reads them lossily (U+FFFD); the JSON keeps the bytes.

use criu_images::image::Image;
use criu_images::json::{from_json, to_json, DecodeOptions};
use criu_images::model::Process;
use criu_images::Checkpoint;

fn fixture_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/counter-host/images")
}

/// `name` of the fixture, decoded, edited as JSON text, encoded into `dir`.
fn rewrite(dir: &std::path::Path, name: &str, edit: impl Fn(String) -> String) {
    let bytes = std::fs::read(fixture_dir().join(name)).unwrap();
    let json = to_json(&Image::parse(name, &bytes).unwrap(), &DecodeOptions::PLAIN).unwrap();
    let edited = edit(json.clone());
    assert_ne!(edited, json, "{name}: the edit changed nothing");
    std::fs::write(dir.join(name), from_json(edited.as_bytes(), name).unwrap()).unwrap();
}

#[test]
fn names_that_are_not_utf8_do_not_break_the_model() {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(fixture_dir()).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
    }
    // crit's JSON writes a byte that is not UTF-8 as a lone surrogate.
    rewrite(dir.path(), "files.img", |json| json.replace("/tmp/fx-build/counter", "/tmp/fx-build/c\\udcffunter"));
    rewrite(dir.path(), "core-24152.img", |json| json.replace("\"comm\": \"counter\"", "\"comm\": \"co\\udcfe\\udcffnter\""));

    // The exact bytes are in the images (and in their JSON).
    let files = std::fs::read(dir.path().join("files.img")).unwrap();
    assert!(files.windows(7).any(|w| w == b"c\xffunter"));

    let checkpoint = Checkpoint::open(dir.path()).unwrap();
    let processes = Process::load_all(&checkpoint.chain()).unwrap();
    let counter = &processes[0];
    assert_eq!(counter.comm, "co\u{fffd}\u{fffd}nter");
    assert_eq!(counter.exe.as_deref(), Some("/tmp/fx-build/c\u{fffd}unter"));
    assert!(counter.vmas.iter().any(|vma| vma.path.as_deref() == Some("/tmp/fx-build/c\u{fffd}unter")));
}
