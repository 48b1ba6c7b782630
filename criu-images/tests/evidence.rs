//! Evidence hashes and provenance sidecars, checked against the system's
//! own tools: `criu-images hash` equals `sha256sum` of the archive and of
//! every member extracted with `tar`; the sidecar of a `mem dump` (and of
//! `decode -o ARCHIVE:MEMBER`) names the right source, its hash, the
//! process, the range and the member.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn tool(args: &[&std::ffi::OsStr], dir: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_criu-images")).args(args).current_dir(dir).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn sha256sum(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().expect("sha256sum (coreutils)");
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().split_whitespace().next().unwrap().to_string()
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("evidence-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// sha256sum of every regular file under `root`, by path relative to it.
fn tree_hashes(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_file() {
                let rel = entry.path().strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.insert(rel, sha256sum(&entry.path()));
            }
        }
    }
    out
}

fn check_archive(name: &str, archive: &Path, tar_flag: &str) {
    let dir = scratch(name);
    let extracted = dir.join("x");
    std::fs::create_dir(&extracted).unwrap();
    let status = Command::new("tar").arg(tar_flag).arg("-xf").arg(archive).arg("-C").arg(&extracted).status().unwrap();
    assert!(status.success());
    let text = tool(&["hash".as_ref(), archive.as_os_str()], &dir);
    let mut lines = text.lines();
    assert_eq!(lines.next().unwrap(), format!("{}  {}", sha256sum(archive), archive.display()));
    let got: BTreeMap<String, String> = lines
        .map(|l| {
            let (sha, name) = l.split_once("  ").unwrap();
            (name.to_string(), sha.to_string())
        })
        .collect();
    let want = tree_hashes(&extracted);
    assert!(want.len() > 20, "{name}: {} files", want.len());
    assert_eq!(got, want, "{name}");
    // The JSON says the same, with sizes and the kinds of the other members.
    let doc: Value =
        serde_json::from_str(&tool(&["hash".as_ref(), archive.as_os_str(), "--format".as_ref(), "json".as_ref()], &dir)).unwrap();
    assert_eq!(doc["schema_version"], 1);
    assert_eq!(doc["sha256"].as_str().unwrap(), sha256sum(archive));
    assert_eq!(doc["size"].as_u64().unwrap(), std::fs::metadata(archive).unwrap().len());
    for member in doc["members"].as_array().unwrap() {
        let name = member["name"].as_str().unwrap();
        match member["kind"].as_str().unwrap() {
            "file" => {
                assert_eq!(member["sha256"].as_str(), want.get(name).map(String::as_str), "{name}");
                assert_eq!(member["size"].as_u64().unwrap(), std::fs::metadata(extracted.join(name)).unwrap().len());
            }
            _ => assert!(member["sha256"].is_null() || want.contains_key(name), "{name}"),
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn hash_equals_sha256sum_of_the_archive_and_of_members_extracted_with_tar() {
    check_archive("pytree", &common::fixtures_dir().join("pytree/checkpoint.tar.gz"), "-z");
    check_archive("attack", &common::fixtures_dir().join("attack/checkpoint.tar.zst"), "--zstd");
}

#[test]
fn hash_of_a_directory_lists_its_files() {
    let images = common::fixtures_dir().join("counter-host/images");
    let text = tool(&["hash".as_ref(), images.as_os_str()], Path::new("."));
    let got: BTreeMap<String, String> = text
        .lines()
        .map(|l| {
            let (sha, name) = l.split_once("  ").unwrap();
            (name.to_string(), sha.to_string())
        })
        .collect();
    assert_eq!(got, tree_hashes(&images));
}

#[test]
fn mem_dump_and_decode_write_a_provenance_sidecar_naming_their_source() {
    let dir = scratch("sidecar");
    let archive = common::fixtures_dir().join("pytree/checkpoint.tar.gz");
    // The parent's heap, through --vma inside it.
    let maps: Value = serde_json::from_str(&tool(
        &["mem".as_ref(), "maps".as_ref(), archive.as_os_str(), "--pid".as_ref(), "1".as_ref(), "--format".as_ref(), "json".as_ref()],
        &dir,
    ))
    .unwrap();
    let heap = maps.as_array().unwrap().iter().find(|v| v["path"] == "[heap]").unwrap_or_else(|| panic!("{maps:#}"));
    let (start, end) = (heap["start"].as_u64().unwrap(), heap["end"].as_u64().unwrap());
    let said = tool(
        &[
            "mem".as_ref(),
            "dump".as_ref(),
            archive.as_os_str(),
            "--pid".as_ref(),
            "1".as_ref(),
            "--vma".as_ref(),
            format!("{start:#x}").as_ref(),
            "-o".as_ref(),
            "heap.bin".as_ref(),
        ],
        &dir,
    );
    assert!(said.trim_end().ends_with("; provenance in heap.bin.json"), "{said}");
    let sidecar: Value = serde_json::from_slice(&std::fs::read(dir.join("heap.bin.json")).unwrap()).unwrap();
    assert_eq!(sidecar["schema_version"], 1);
    assert_eq!(sidecar["source"]["sha256"].as_str().unwrap(), sha256sum(&archive));
    assert_eq!(sidecar["source"]["path"].as_str().unwrap(), archive.display().to_string());
    assert_eq!(sidecar["evidence"]["sha256"].as_str().unwrap(), sha256sum(&dir.join("heap.bin")));
    assert_eq!(sidecar["evidence"]["size"].as_u64().unwrap(), end - start);
    assert_eq!(sidecar["pid"], 1);
    assert_eq!((sidecar["address_range"]["start"].as_u64(), sidecar["address_range"]["end"].as_u64()), (Some(start), Some(end)));
    assert_eq!(sidecar["tool"]["version"].as_str().unwrap(), env!("CARGO_PKG_VERSION"));
    let args: Vec<&str> = sidecar["command_line"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
    assert_eq!(args[1..], ["mem", "dump", &archive.display().to_string(), "--pid", "1", "--vma", &format!("{start:#x}"), "-o", "heap.bin"]);
    let created = sidecar["created_utc"].as_str().unwrap();
    assert!(created.len() == 20 && created.ends_with('Z') && created.as_bytes()[10] == b'T', "{created}");

    // decode -o from ARCHIVE:MEMBER names the member.
    let member = format!("{}:checkpoint/pstree.img", archive.display());
    tool(&["decode".as_ref(), "-i".as_ref(), member.as_ref(), "-o".as_ref(), "pstree.json".as_ref()], &dir);
    let sidecar: Value = serde_json::from_slice(&std::fs::read(dir.join("pstree.json.json")).unwrap()).unwrap();
    assert_eq!(sidecar["member"], "checkpoint/pstree.img");
    assert_eq!(sidecar["source"]["sha256"].as_str().unwrap(), sha256sum(&archive));
    assert_eq!(sidecar["evidence"]["sha256"].as_str().unwrap(), sha256sum(&dir.join("pstree.json")));
    assert!(sidecar["pid"].is_null() && sidecar["address_range"].is_null());
    // Output to standard output or /dev/null: no sidecar.
    tool(&["decode".as_ref(), "-i".as_ref(), member.as_ref(), "-o".as_ref(), "/dev/null".as_ref()], &dir);
    assert!(!Path::new("/dev/null.json").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}
