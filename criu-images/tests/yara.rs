//! YARA scans (issue #16): the `attack` fixture's rules give exactly the
//! hits its truth.json lists, at their addresses; on every fixture our hits
//! equal those of Debian's `yara` run over each memory area written out
//! with `mem dump` (address = area start + offset); rules that do not
//! compile name file and line; a rule matching every byte is bounded.
#![cfg(feature = "yara")]

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use criu_images::yara::{scan_checkpoint, Rules, YaraOptions};
use criu_images::Checkpoint;
use serde_json::Value;

fn fixture(path: &str) -> PathBuf {
    common::fixtures_dir().join(path)
}

#[test]
fn attack_rules_give_the_truth_hits() {
    let checkpoint = Checkpoint::open(fixture("attack/checkpoint.tar.zst")).unwrap();
    let rules = Rules::from_files(&[fixture("attack/rules.yar")]).unwrap();
    let report = scan_checkpoint(&checkpoint, &rules, &YaraOptions::default()).unwrap();
    let truth: Value = serde_json::from_str(&std::fs::read_to_string(fixture("attack/truth.json")).unwrap()).unwrap();
    let expected: BTreeSet<(u32, String, String, u64, String)> = truth["yara"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["pid"].as_u64().unwrap() as u32,
                h["rule"].as_str().unwrap().to_string(),
                h["string"].as_str().unwrap().to_string(),
                h["address"].as_u64().unwrap(),
                h["bytes_hex"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let got: BTreeSet<(u32, String, String, u64, String)> = report
        .hits
        .iter()
        .map(|h| (h.pid.unwrap(), h.rule.clone(), h.string.clone(), h.address, h.matched.iter().map(|b| format!("{b:02x}")).collect()))
        .collect();
    assert_eq!(got, expected);
    // Each hit names its area, its rule's metadata and namespace.
    for hit in &report.hits {
        let vma = hit.vma.as_ref().unwrap();
        assert!(vma.start <= hit.address && hit.address < vma.end);
        assert_eq!(hit.namespace, "default");
        assert!(hit.metadata.iter().any(|(k, _)| k == "description"));
    }
    let json = report.to_json();
    assert_eq!(json["schema_version"], 1);
    assert_eq!(json["hits"][0]["vma"]["perms"].as_str().map(str::len), Some(4));
}

/// Hits of `yara -s RULES FILE`: (rule, string id, offset).
fn yara_cli(rules: &Path, file: &Path) -> Vec<(String, String, u64)> {
    let out = match Command::new("yara").arg("-s").arg(rules).arg(file).output() {
        Ok(out) => out,
        Err(e) => panic!("Debian's `yara` is needed (apt-get install yara; scripts/test installs it): {e}"),
    };
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut hits = Vec::new();
    let mut rule = String::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        if let Some(rest) = line.strip_prefix("0x") {
            let mut parts = rest.splitn(3, ':');
            let offset = u64::from_str_radix(parts.next().unwrap(), 16).unwrap();
            hits.push((rule.clone(), parts.next().unwrap().to_string(), offset));
        } else {
            rule = line.split_whitespace().next().unwrap_or_default().to_string();
        }
    }
    hits
}

#[test]
fn hits_equal_debian_yara_over_dumped_areas_on_every_fixture() {
    let rules_path = fixture("yara/generic.yar");
    let rules = Rules::from_files(&[&rules_path, &fixture("attack/rules.yar")]).unwrap();
    let both = tempfile::tempdir().unwrap();
    // `yara` takes one rules file: the two joined.
    let joined = both.path().join("rules.yar");
    let text = std::fs::read_to_string(&rules_path).unwrap() + &std::fs::read_to_string(fixture("attack/rules.yar")).unwrap();
    std::fs::write(&joined, text).unwrap();
    let checkpoints = [
        fixture("attack/checkpoint.tar.zst"),
        fixture("counter/zstd/checkpoint.tar.zst"),
        fixture("pytree/checkpoint.tar.gz"),
        fixture("threads/checkpoint.tar.zst"),
        common::k8s_counter_tar(),
        fixture("predump/dump"),
    ];
    let mut compared = 0;
    for path in checkpoints {
        let checkpoint = Checkpoint::open(&path).unwrap();
        let ours = scan_checkpoint(&checkpoint, &rules, &YaraOptions::default()).unwrap();
        assert!(!ours.truncated);
        let got: BTreeSet<(u32, String, String, u64)> =
            ours.hits.iter().map(|h| (h.pid.unwrap(), h.rule.clone(), h.string.clone(), h.address)).collect();
        let mut expected = BTreeSet::new();
        for pid in checkpoint.memory_pids().unwrap() {
            let memory = checkpoint.memory(pid).unwrap();
            for vma in memory.vmas() {
                let file = both.path().join(format!("{pid}-{:x}.bin", vma.start));
                let summary = memory.dump(vma.start, vma.end, &file).unwrap();
                if summary.dumped == 0 && summary.size == summary.missing {
                    std::fs::remove_file(&file).ok();
                    continue;
                }
                for (rule, string, offset) in yara_cli(&joined, &file) {
                    expected.insert((pid, rule, string, vma.start + offset));
                }
                std::fs::remove_file(&file).ok();
            }
        }
        assert_eq!(got, expected, "{}", path.display());
        compared += got.len();
    }
    assert!(compared > 100, "only {compared} hits compared");
}

#[test]
fn compile_errors_name_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yar");
    std::fs::write(&bad, "rule ok { condition: true }\n\nrule broken {\n  strings: $a = \"x\"\n  condition: $b\n}\n").unwrap();
    let err = Rules::from_files(&[&bad]).err().unwrap().to_string();
    assert!(err.contains("bad.yar"), "{err}");
    assert!(err.contains(":5:"), "no line 5 in: {err}");
}

#[test]
fn a_rule_matching_every_byte_is_bounded() {
    let checkpoint = Checkpoint::open(fixture("counter/zstd/checkpoint.tar.zst")).unwrap();
    let rules = Rules::from_source("rule every_byte { strings: $a = { ?? } condition: $a }", "every.yar").unwrap();
    let options = YaraOptions { max_hits: Some(1000), ..YaraOptions::default() };
    let report = scan_checkpoint(&checkpoint, &rules, &options).unwrap();
    assert_eq!(report.hits.len(), 1000);
    assert!(report.truncated);
}

/// A string split across two runs of one area (dumped and dumped, or
/// dumped and zero pages) matches; pages missing from the checkpoint do not
/// join the bytes around them.
#[test]
fn strings_across_runs_match_and_missing_pages_split() {
    use criu_images::memory::Content;
    let mut joined = 0;
    let mut split = 0;
    for path in [fixture("attack/checkpoint.tar.zst"), fixture("pytree/checkpoint.tar.gz"), common::k8s_counter_tar()] {
        let checkpoint = Checkpoint::open(&path).unwrap();
        for pid in checkpoint.memory_pids().unwrap() {
            let memory = checkpoint.memory(pid).unwrap();
            let pieces = memory.pieces();
            let known = |c: &Content<'_>| !matches!(c, Content::Missing(_));
            // Adjacent known pieces of one area, the first with bytes: 4 bytes each side of the boundary.
            // (Bytes that are not all zeros: a pattern of zeros matches more often than the per-string limit keeps.)
            let boundary = pieces.windows(2).find_map(|w| {
                let ok = w[0].vma == w[1].vma && w[0].end == w[1].start && w[0].content.bytes().is_some() && known(&w[1].content);
                let bytes = memory.read(w[0].end.checked_sub(4)?, 8).ok().filter(|_| ok)?;
                bytes[..4].iter().filter(|b| **b != 0).count().ge(&3).then(|| (w[0].end - 4, bytes.into_owned()))
            });
            if let Some((at, bytes)) = boundary {
                assert!(hits_at(&checkpoint, pid, &bytes, at), "{}: pid {pid} {at:#x}: no hit across two runs", path.display());
                joined += 1;
            }
            // Dumped, missing, dumped in one area: the bytes either side of the missing pages never join.
            if let Some(w) = pieces.windows(3).find(|w| {
                w[0].vma == w[2].vma
                    && matches!(w[1].content, Content::Missing(_))
                    && w[0].content.bytes().is_some_and(|b| b.len() >= 4)
                    && w[2].content.bytes().is_some_and(|b| b.len() >= 4)
            }) {
                let mut bytes = memory.read(w[0].end - 4, 4).unwrap().into_owned();
                bytes.extend_from_slice(&memory.read(w[2].start, 4).unwrap());
                assert!(
                    !hits_at(&checkpoint, pid, &bytes, w[0].end - 4),
                    "{}: pid {pid}: bytes joined across missing pages",
                    path.display()
                );
                split += 1;
            }
        }
    }
    assert!(joined > 0, "no two adjacent runs found");
    eprintln!("joined {joined}, split {split}");
}

/// Whether a rule for exactly `bytes` hits at `at` in `pid`.
fn hits_at(checkpoint: &Checkpoint, pid: u32, bytes: &[u8], at: u64) -> bool {
    let hex: String = bytes.iter().map(|b| format!("{b:02X} ")).collect();
    let rules = Rules::from_source(&format!("rule across {{ strings: $x = {{ {hex} }} condition: $x }}"), "across.yar").unwrap();
    let report = scan_checkpoint(checkpoint, &rules, &YaraOptions { pid: Some(pid), ..YaraOptions::default() }).unwrap();
    report.hits.iter().any(|h| h.address == at)
}
