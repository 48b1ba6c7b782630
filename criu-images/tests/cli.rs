//! The `criu-images` command behaves like crit on the same files: same JSON,
//! stdin/stdout when -i/-o are absent, and clear errors with exit status 1.

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn criu_images(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_criu-images"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdin.take().unwrap();
    if let Some(input) = stdin {
        pipe.write_all(input).unwrap();
    }
    drop(pipe);
    child.wait_with_output().unwrap()
}

fn fixture(path: &str) -> String {
    common::fixtures_dir().join(path).to_string_lossy().into_owned()
}

#[test]
fn decode_writes_crit_json_to_stdout_with_a_newline() {
    let out = criu_images(&["decode", "-i", &fixture("counter-host/images/pstree.img")], None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let golden = std::fs::read(fixture("counter-host/decoded-crit-4.x-plain/pstree.img.json")).unwrap();
    assert_eq!(out.stdout, [golden, b"\n".to_vec()].concat());
}

#[test]
fn decode_reads_stdin_and_writes_files_without_a_newline() {
    let image = std::fs::read(fixture("counter-host/images/mm-24152.img")).unwrap();
    let dir = std::env::temp_dir().join(format!("criu-images-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let json_path = dir.join("mm.json");
    let out = criu_images(&["decode", "--pretty", "-o", json_path.to_str().unwrap()], Some(&image));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let golden = std::fs::read(fixture("counter-host/decoded-crit-4.x/mm-24152.img.json")).unwrap();
    assert_eq!(std::fs::read(&json_path).unwrap(), golden);

    // And back: encode from a file to stdout gives the image bytes.
    let out = criu_images(&["encode", "-i", json_path.to_str().unwrap()], None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.stdout, image);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn show_equals_decode_pretty() {
    let path = fixture("counter-host/images/core-24152.img");
    let show = criu_images(&["show", &path], None);
    let decode = criu_images(&["decode", "--pretty", "-i", &path], None);
    assert!(show.status.success());
    assert_eq!(show.stdout, decode.stdout);
}

#[test]
fn info_prints_magic_and_count_like_crit() {
    let out = criu_images(&["info", &fixture("counter-host/images/pagemap-24152.img")], None);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    // crit leaves the pagemap head out of the count.
    let golden = std::fs::read_to_string(fixture("counter-host/decoded-crit-4.x-plain/pagemap-24152.img.json")).unwrap();
    let entries = golden.matches("\"vaddr\"").count();
    assert_eq!(text, format!("{{\n    \"magic\": \"PAGEMAP\",\n    \"count\": {entries}\n}}\n"));
}

#[test]
fn raw_pages_are_refused_with_an_explanation() {
    let out = criu_images(&["decode", "-i", &fixture("counter-host/images/pages-1.img")], None);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("pages-1.img") && err.contains("raw data"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn bad_json_names_line_and_column() {
    let out = criu_images(&["encode"], Some(b"{\"magic\": \"PSTREE\",\n \"entries\": [{\"pid\": \"x\"}]}"));
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("<stdin>: line 2, column 22") && err.contains("pid"), "{err}");
}

#[test]
fn truncated_images_name_file_offset_and_entry() {
    let mut image = std::fs::read(fixture("counter-host/images/mm-24152.img")).unwrap();
    image.truncate(image.len() - 10);
    let out = criu_images(&["decode"], Some(&image));
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("<stdin>: offset 12 (entry 0): truncated"), "{err}");
}

#[test]
fn missing_files_and_bad_usage_fail_cleanly() {
    let out = criu_images(&["show", "/nonexistent/pstree.img"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/pstree.img"));
    let out = criu_images(&["decode", "--no-such-flag"], None);
    assert_eq!(out.status.code(), Some(2));
}
