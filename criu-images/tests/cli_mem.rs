//! `criu-images mem`: streamed output in address order, the default
//! `--max` and its note, and ranges a file cannot hold refused before any
//! file is created, in errors that name the checkpoint.

mod common;

use std::process::{Command, Output};

fn criu_images(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_criu-images")).args(args).output().unwrap()
}

fn counter() -> String {
    common::fixtures_dir().join("counter/zstd/checkpoint.tar.zst").to_string_lossy().into_owned()
}

#[test]
fn search_stops_at_the_default_max_with_a_note_and_all_lifts_it() {
    let cp = counter();
    // NUL bytes: tens of thousands in the counter's dumped pages.
    let out = criu_images(&["mem", "search", &cp, "-x", "00"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 1 + 10_000 + 1, "header, the default --max of rows, the count");
    assert!(text.ends_with("10000 matches\n"));
    let note = String::from_utf8(out.stderr).unwrap();
    assert!(note.contains("stopped after 10000 matches (--max)"), "{note}");

    let all = criu_images(&["mem", "search", &cp, "-x", "00", "--all"]);
    let text = String::from_utf8(all.stdout).unwrap();
    let count: usize = text.lines().last().unwrap().split(' ').next().unwrap().parse().unwrap();
    assert!(count > 10_000, "{count}");
    assert!(all.stderr.is_empty(), "no note without a limit: {}", String::from_utf8_lossy(&all.stderr));
    let zero = criu_images(&["mem", "search", &cp, "-x", "00", "--max", "0"]);
    assert_eq!(String::from_utf8(zero.stdout).unwrap(), text, "--max 0 is --all");

    // Exactly as many as allowed: no note.
    let exact = criu_images(&["mem", "search", &cp, "-x", "00", "--max", &count.to_string()]);
    assert!(exact.stderr.is_empty(), "{}", String::from_utf8_lossy(&exact.stderr));
}

#[test]
fn streamed_json_is_one_valid_document_in_address_order() {
    let cp = counter();
    let out = criu_images(&["mem", "search", &cp, "-x", "00", "--max", "2500", "--context", "3", "--format", "json"]);
    assert!(out.status.success());
    let hits: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(hits.len(), 2500);
    let keys: Vec<(u64, u64)> = hits.iter().map(|h| (h["pid"].as_u64().unwrap(), h["address"].as_u64().unwrap())).collect();
    assert!(keys.windows(2).all(|w| w[0] < w[1]), "ascending (pid, address)");
    for hit in &hits {
        assert_eq!(hit["match"], "00");
        assert!(hit["context_start"].as_u64().unwrap() <= hit["address"].as_u64().unwrap());
    }
    // No hit: still one document.
    let none = criu_images(&["mem", "search", &cp, "-s", "no such text in the counter", "--format", "json"]);
    assert_eq!(none.stdout, b"[]\n");

    let strings = criu_images(&["mem", "strings", &cp, "-n", "6", "--encoding", "all"]);
    assert!(strings.status.success());
    let mut last = (0u64, 0u64);
    for line in String::from_utf8(strings.stdout).unwrap().lines() {
        let mut words = line.split(' ');
        let pid: u64 = words.next().unwrap().parse().unwrap();
        let address = u64::from_str_radix(words.next().unwrap().trim_start_matches("0x"), 16).unwrap();
        assert!((pid, address) > last, "strings in address order: {line}");
        last = (pid, address);
    }
}

#[test]
fn a_dump_no_file_can_hold_is_refused_before_the_file_exists() {
    let cp = counter();
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("area.bin");
    let target = target.to_str().unwrap();
    for (addr, len, what) in [
        ("0x1000", "0x8000000000000000", "range 0x1000-0x8000000000001000 is 9223372036854775808 bytes, more than a file can hold"),
        ("0xffffffffffff0000", "0x20000", "--len 0x20000 from 0xffffffffffff0000 runs past the end of the address space"),
    ] {
        let out = criu_images(&["mem", "dump", &cp, "--pid", "1", "--addr", addr, "--len", len, "-o", target]);
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.starts_with(&format!("criu-images: error: {cp}: process 1: ")), "names the checkpoint: {err}");
        assert!(err.contains(what), "{err}");
        assert!(!std::path::Path::new(target).exists(), "no file left behind");
    }
    let read = criu_images(&["mem", "read", &cp, "--pid", "1", "--addr", "0x10", "--len", "4"]);
    assert_eq!(String::from_utf8(read.stderr).unwrap(), format!("criu-images: error: {cp}: process 1: 0x10: address not mapped\n"));
}
