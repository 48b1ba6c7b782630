//! The memory index on real checkpoints: unmodified file pages filled from
//! the checkpoint's rootfs-diff.tar by default, with each byte's origin;
//! `--rootfs none` and `--rootfs DIR`; and hostile `mm` images (overlapping
//! areas) refused with an error instead of a panic or doubled hits.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use criu_images::checkpoint::Rootfs;
use criu_images::json::{from_json, to_json, DecodeOptions};
use criu_images::memory::{Content, FileOrigin, Missing, Origin, Pattern, SearchOptions};
use criu_images::{Checkpoint, Error, Image};

fn fixture(path: &str) -> PathBuf {
    common::fixtures_dir().join(path)
}

fn temp_dir(what: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("criu-images-memindex-{what}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn criu_images(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_criu-images")).args(args).output().unwrap()
}

/// pytree's marker written through its MAP_SHARED file mapping: (address, bytes).
fn shared_mapping_marker() -> (u64, Vec<u8>) {
    let truth = common::truth_of("pytree");
    let marker =
        truth["processes"][0]["markers"].as_array().unwrap().iter().find(|m| m["mapping_path"] == "/data/run/mapped-shared.bin").unwrap();
    (marker["addr"].as_u64().unwrap(), marker["value"].as_str().unwrap().as_bytes().to_vec())
}

/// A file mapping of pytree that is not in its rootfs-diff.tar (the host's
/// /usr was bind-mounted): (path, start, end, offset).
fn mapping_outside_the_diff() -> (String, u64, u64, u64) {
    let truth = common::truth_of("pytree");
    let m = truth["processes"][0]["maps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["path"] == "/usr/lib/python3.11/lib-dynload/mmap.cpython-311-x86_64-linux-gnu.so" && m["perms"] == "r-xp")
        .unwrap();
    (m["path"].as_str().unwrap().to_string(), m["start"].as_u64().unwrap(), m["end"].as_u64().unwrap(), m["offset"].as_u64().unwrap())
}

#[test]
fn shared_file_mappings_read_from_the_rootfs_diff_by_default() {
    let checkpoint = Checkpoint::open(fixture("pytree/checkpoint.tar.gz")).unwrap();
    let (addr, value) = shared_mapping_marker();

    // Checkpoint::memory fills from rootfs-diff.tar without being asked.
    let memory = checkpoint.memory(1).unwrap();
    assert_eq!(&*memory.read(addr, value.len() as u64).unwrap(), value.as_slice());
    assert_eq!(memory.origin_at(addr), Some(Origin::File(FileOrigin::Checkpoint)));
    let hits = memory.search(&Pattern::literal(value.clone()), &SearchOptions::default()).unwrap();
    let hit = hits.iter().find(|h| h.address == addr).unwrap_or_else(|| panic!("{:?}", hits.iter().map(|h| h.address).collect::<Vec<_>>()));
    // The hit says its bytes came from the file in rootfs-diff.tar.
    assert_eq!(hit.origins, vec![(addr, addr + value.len() as u64, Origin::File(FileOrigin::Checkpoint))]);
    let index = memory.vmas().iter().position(|v| v.path.as_deref() == Some("/data/run/mapped-shared.bin")).unwrap();
    let counts = memory.page_counts(index);
    assert_eq!((counts.from_rootfs_diff, counts.from_rootfs_dir, counts.missing), (4, 0, 0), "{counts:?}");

    // "none": the pages stay missing, and say why.
    let none = Rootfs::load(&checkpoint, Some("none")).unwrap();
    assert!(none.source().is_none());
    let plain = checkpoint.memory_with(1, none.source()).unwrap();
    assert_eq!(plain.origin_at(addr), Some(Origin::Missing(Missing::FileBacked)));
    assert!(plain.read(addr, 1).is_err());
    // "auto" (the default) and "diff" are the diff.
    for choice in [None, Some("auto"), Some("diff")] {
        let rootfs = Rootfs::load(&checkpoint, choice).unwrap();
        assert!(rootfs.has_diff());
        let memory = checkpoint.memory_with(1, rootfs.source()).unwrap();
        assert_eq!(memory.origin_at(addr), Some(Origin::File(FileOrigin::Checkpoint)), "{choice:?}");
    }
}

#[test]
fn a_rootfs_directory_adds_the_files_the_diff_does_not_have() {
    let checkpoint = Checkpoint::open(fixture("pytree/checkpoint.tar.gz")).unwrap();
    let (addr, value) = shared_mapping_marker();
    let (path, start, end, offset) = mapping_outside_the_diff();
    let root = temp_dir("root");
    let library = root.join(path.trim_start_matches('/'));
    std::fs::create_dir_all(library.parent().unwrap()).unwrap();
    let contents: Vec<u8> = (0..offset + (end - start)).map(|i| (i % 251) as u8).collect();
    std::fs::write(&library, &contents).unwrap();
    // The directory's copy of a file the diff has loses to the diff.
    std::fs::create_dir_all(root.join("data/run")).unwrap();
    std::fs::write(root.join("data/run/mapped-shared.bin"), vec![b'X'; 16384]).unwrap();

    let rootfs = Rootfs::load(&checkpoint, Some(root.to_str().unwrap())).unwrap();
    let memory = checkpoint.memory_with(1, rootfs.source()).unwrap();
    assert_eq!(memory.origin_at(addr), Some(Origin::File(FileOrigin::Checkpoint)));
    assert_eq!(&*memory.read(addr, value.len() as u64).unwrap(), value.as_slice());
    // A page of the library the process never wrote: the directory's bytes, at the area's file offset.
    let untouched = memory.pieces_in(start, end).find(|p| matches!(p.content, Content::File(..))).unwrap();
    assert_eq!(untouched.content.origin(), Origin::File(FileOrigin::Supplied));
    let at = offset + (untouched.start - start);
    assert_eq!(&*memory.read(untouched.start, 64).unwrap(), &contents[at as usize..at as usize + 64]);
    let index = memory.vmas().iter().position(|v| v.start == start).unwrap();
    assert!(memory.page_counts(index).from_rootfs_dir > 0);

    // Without the directory those pages are missing.
    assert_eq!(checkpoint.memory(1).unwrap().origin_at(untouched.start), Some(Origin::Missing(Missing::FileBacked)));
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn cli_mem_reads_file_pages_by_default_and_says_where_they_came_from() {
    let path = fixture("pytree/checkpoint.tar.gz");
    let path = path.to_str().unwrap();
    let (addr, value) = shared_mapping_marker();
    let text = String::from_utf8(value).unwrap();

    let out = criu_images(&["mem", "search", path, "--pid", "1", "-s", &text, "--format", "json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let hits: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let hit = hits.as_array().unwrap().iter().find(|h| h["address"] == addr).unwrap_or_else(|| panic!("{hits}"));
    let end = addr + text.len() as u64;
    assert_eq!(hit["origins"], serde_json::json!([{"start": addr, "end": end, "origin": "rootfs-diff"}]), "{hit}");
    let table = String::from_utf8(criu_images(&["mem", "search", path, "--pid", "1", "-s", &text]).stdout).unwrap();
    let line = table.lines().find(|l| l.contains(&format!("{addr:#018x}"))).unwrap_or_else(|| panic!("{table}"));
    assert!(line.ends_with("(from rootfs-diff)"), "{line}");

    let out = criu_images(&["mem", "search", path, "--pid", "1", "-s", &text, "--format", "json", "--rootfs", "none"]);
    let hits: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(!hits.as_array().unwrap().iter().any(|h| h["address"] == addr), "{hits}");

    let out = criu_images(&["mem", "maps", path, "--pid", "1", "--format", "json"]);
    let maps: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let shared = maps.as_array().unwrap().iter().find(|m| m["path"] == "/data/run/mapped-shared.bin").unwrap();
    assert_eq!((shared["pages_from_rootfs_diff"].as_u64(), shared["pages_missing"].as_u64()), (Some(4), Some(0)), "{shared}");
    let table = String::from_utf8(criu_images(&["mem", "maps", path, "--pid", "1"]).stdout).unwrap();
    assert!(table.lines().any(|l| l.starts_with("ADDRESS") && l.contains("FROM-DIFF") && l.contains("FROM-DIR")), "{table}");

    let out = criu_images(&["mem", "maps", path, "--pid", "1", "--format", "json", "--rootfs", "none"]);
    let maps: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let shared = maps.as_array().unwrap().iter().find(|m| m["path"] == "/data/run/mapped-shared.bin").unwrap();
    assert_eq!((shared["pages_from_rootfs_diff"].as_u64(), shared["pages_missing"].as_u64()), (Some(0), Some(4)), "{shared}");

    // A checkpoint without rootfs-diff.tar: the default is quiet, `diff` is an error.
    let host = fixture("counter-host/images");
    let host = host.to_str().unwrap();
    assert!(criu_images(&["mem", "maps", host]).status.success());
    let out = criu_images(&["mem", "maps", host, "--rootfs", "diff"]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("rootfs-diff.tar"));
}

/// The predump fixture's dump directory, its mm image changed by `edit`
/// (crit JSON of the entry), in a new directory without the parent link.
fn predump_dump_with(what: &str, edit: impl FnOnce(&mut serde_json::Value)) -> PathBuf {
    let src = fixture("predump/dump");
    let dir = temp_dir(what);
    for entry in std::fs::read_dir(&src).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
        }
    }
    let mm_path = dir.join("mm-25946.img");
    let bytes = std::fs::read(&mm_path).unwrap();
    let json = to_json(&Image::parse("mm-25946.img", &bytes).unwrap(), &DecodeOptions::PLAIN).unwrap();
    let mut value: serde_json::Value = serde_json::from_str(&json).unwrap();
    edit(&mut value["entries"][0]);
    std::fs::write(&mm_path, from_json(value.to_string().as_bytes(), "mm-25946.img").unwrap()).unwrap();
    dir
}

fn memory_error(dir: &Path) -> String {
    let checkpoint = Checkpoint::open(dir).unwrap();
    match checkpoint.memory(25946) {
        Err(err @ Error::Malformed { .. }) => err.to_string(),
        Err(other) => panic!("expected a malformed mm image, got {other:?}"),
        Ok(_) => panic!("an mm image with overlapping areas must not build"),
    }
}

#[test]
fn an_extra_overlapping_area_is_an_error_not_a_panic_or_doubled_hits() {
    let mut overlapped = None;
    let dir = predump_dump_with("overlap", |mm| {
        let vmas = mm["vmas"].as_array_mut().unwrap();
        // A copy of an existing area, appended at the end.
        let copy = vmas[4].clone();
        overlapped = Some((vmas.len(), copy["start"].as_u64().unwrap(), copy["end"].as_u64().unwrap()));
        vmas.push(copy);
    });
    let (index, start, end) = overlapped.unwrap();
    let err = memory_error(&dir);
    let expected = format!("vmas[{index}] {start:#x}-{end:#x} overlaps vmas[4] {start:#x}-{end:#x}");
    assert!(err.contains("mm-25946.img: offset ") && err.contains("(entry 0)") && err.contains(&expected), "{err}");

    for args in [vec!["mem", "maps"], vec!["mem", "search", "-s", "x"], vec!["mem", "strings"]] {
        let mut args = args.clone();
        args.insert(2, dir.to_str().unwrap());
        let out = criu_images(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains("mm-25946.img") && stderr.contains("overlaps") && !stderr.contains("panicked"), "{args:?}: {stderr}");
    }
    std::fs::remove_dir_all(&dir).unwrap();

    // Out of order is put in order: the same areas as the original.
    let dir = predump_dump_with("unsorted", |mm| mm["vmas"].as_array_mut().unwrap().swap(2, 3));
    let original = Checkpoint::open(fixture("predump/dump")).unwrap();
    let starts = |c: &Checkpoint| c.memory(25946).unwrap().vmas().iter().map(|v| (v.start, v.end)).collect::<Vec<_>>();
    assert_eq!(starts(&Checkpoint::open(&dir).unwrap()), starts(&original));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_broken_rootfs_diff_is_an_error_that_says_how_to_read_memory_without_it() {
    let dir = temp_dir("baddiff");
    for entry in std::fs::read_dir(fixture("counter-host/images")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
    }
    std::fs::write(dir.join("rootfs-diff.tar"), vec![0x5a; 3000]).unwrap();
    let checkpoint = Checkpoint::open(&dir).unwrap();
    let err = checkpoint.memory(24152).err().expect("the default uses the diff");
    assert!(matches!(err, Error::Archive { .. }) && err.to_string().contains("rootfs-diff.tar"), "{err}");
    assert!(checkpoint.memory_with(24152, None).is_ok());

    let path = dir.to_str().unwrap();
    let out = criu_images(&["mem", "maps", path]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.code() == Some(1) && stderr.contains("rootfs-diff.tar") && stderr.contains("--rootfs none"), "{stderr}");
    assert!(criu_images(&["mem", "maps", path, "--rootfs", "none"]).status.success());
    // Commands that need no file pages do not read the diff.
    let rss = criu_images(&["x", path, "rss"]);
    assert!(rss.status.success(), "{}", String::from_utf8_lossy(&rss.stderr));
    std::fs::remove_dir_all(&dir).unwrap();
}
