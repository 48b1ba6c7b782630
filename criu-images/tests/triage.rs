//! Triage (issue #16) on real checkpoints: every item planted in the
//! `attack` fixture (truth.json `planted`) is found with its pid and
//! address, and the clean fixtures give no high-severity finding (their
//! lower findings are listed here, each with why it is expected).

mod common;

use std::process::Command;

use criu_images::triage::{triage, Finding, Severity, Triage, TriageOptions};
use criu_images::Checkpoint;
use serde_json::Value;

fn attack() -> Checkpoint {
    Checkpoint::open(common::fixtures_dir().join("attack/checkpoint.tar.zst")).unwrap()
}

fn truth() -> Value {
    serde_json::from_str(&std::fs::read_to_string(common::fixtures_dir().join("attack/truth.json")).unwrap()).unwrap()
}

fn find<'a>(report: &'a Triage, id: &str, pid: u64) -> Vec<&'a Finding> {
    report.findings.iter().filter(|f| f.id == id && f.pid == Some(pid as u32)).collect()
}

fn hex(v: &Value) -> u64 {
    u64::from_str_radix(v.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

#[test]
fn every_planted_item_is_found_with_its_pid_and_address() {
    let checkpoint = attack();
    let report = triage(&checkpoint, &TriageOptions::default()).unwrap();
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    let truth = truth();
    let planted = truth["planted"].as_array().unwrap();
    assert_eq!(planted.len(), 11);
    for item in planted {
        let pid = item["pid"].as_u64().unwrap();
        let kind = item["kind"].as_str().unwrap();
        let d = &item["detail"];
        match kind {
            "bash_history" => {
                let f = find(&report, "history.bash", pid);
                assert_eq!(f.len(), 1, "{kind}");
                let entries = f[0].evidence["entries"].as_array().unwrap();
                let lines: Vec<&str> = entries.iter().map(|e| e["line"].as_str().unwrap()).collect();
                let commands: Vec<&str> = d["commands"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
                assert_eq!(lines, commands);
                // Each line is one of the copies /proc showed, at its address.
                for (e, occurrence) in entries.iter().zip(d["occurrences"].as_array().unwrap()) {
                    let copies: Vec<u64> =
                        occurrence["nul_terminated_copies"].as_array().unwrap().iter().map(|c| hex(&c["address_hex"])).collect();
                    assert!(copies.contains(&e["address"].as_u64().unwrap()), "{e} not in {copies:x?}");
                    assert!(e["timestamp"].as_u64().unwrap() <= truth["captured_at_unix"].as_f64().unwrap() as u64);
                }
            }
            "reverse_shell" => {
                let f = find(&report, "network.reverse_shell", pid);
                assert_eq!(f.len(), 1, "{kind}");
                assert_eq!(f[0].severity, Severity::High);
                assert_eq!(f[0].evidence["fds"], item["fd"]);
                let listener = d["listener_pid"].as_u64().unwrap();
                assert!(f[0].evidence["peers"].as_array().unwrap().iter().any(|p| p["pid"].as_u64() == Some(listener)));
            }
            "reverse_shell_listener" => {
                let f = find(&report, "network.undeclared_listener", pid);
                assert_eq!(f.len(), 1, "{kind}");
                assert_eq!(f[0].evidence["socket"]["fd"], d["listen_fd"]["fd"]);
                assert_eq!(f[0].evidence["socket"]["local"], d["listen_fd"]["tcp"]["local"]);
                // The connection fd is named as the reverse shell's peer.
                let shell = report.findings.iter().find(|f| f.id == "network.reverse_shell").unwrap();
                assert!(shell.evidence["peers"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|p| p["pid"].as_u64() == Some(pid) && p["fd"] == d["conn_fd"]["fd"]));
            }
            "anon_rwx_mapping" | "anon_rx_after_mprotect" => {
                let id = if kind == "anon_rwx_mapping" { "memory.anon_wx" } else { "memory.anon_exec" };
                let f = find(&report, id, pid);
                assert!(
                    f.iter().any(|f| f.evidence["area"]["start"] == item["start"] && f.evidence["area"]["end"] == item["end"]),
                    "{kind}: {f:?}"
                );
            }
            "credential_in_heap" => {
                let f = find(&report, "secrets.credential", pid);
                let hit = f.iter().find(|f| f.evidence["address"] == item["address"]).unwrap_or_else(|| panic!("{kind}: {f:?}"));
                assert_eq!(hit.severity, Severity::High);
                let value = d["value"].as_str().unwrap();
                let shown = hit.evidence["value"].as_str().unwrap();
                let secret = value.split_once('=').unwrap().1;
                assert!(!shown.contains(secret) && shown.starts_with("AWS_SECRET_ACCESS_KEY="), "not masked: {shown}");
                assert_eq!(hit.evidence["secret_len"], 40);
            }
            "memfd_exec" => {
                assert_eq!(find(&report, "program.memfd_exe", pid).len(), 1, "{kind}");
                let f = find(&report, "memory.exec_deleted_or_memfd", pid);
                assert_eq!(f.len(), 1, "{kind}");
                assert_eq!(f[0].evidence["path"], d["exe_link"]);
            }
            "deleted_exe" => {
                let f = find(&report, "program.deleted_exe", pid);
                assert_eq!(f.len(), 1, "{kind}");
                assert_eq!(f[0].evidence["exe"], d["exe_link"]);
                assert_eq!(find(&report, "program.exe_in_temp", pid).len(), 1);
            }
            "miner_config_in_heap" => {
                let f = find(&report, "indicators.mining_pool", pid);
                assert_eq!(f.len(), 1, "{kind}");
                let (start, len) = (item["address"].as_u64().unwrap(), item["len"].as_u64().unwrap());
                let at = f[0].evidence["address"].as_u64().unwrap();
                assert!((start..start + len).contains(&at), "{at:#x} outside the config at {start:#x}");
                assert!(f[0].evidence["value"].as_str().unwrap().contains("stratum+tcp://"));
            }
            "patched_code_page" => {
                let f = find(&report, "memory.modified_code", pid);
                assert_eq!(f.len(), 1, "{kind}: {f:?}");
                assert_eq!(f[0].evidence["area"]["start"], item["start"]);
                assert_eq!(f[0].evidence["dumped"][0]["start"], item["start"]);
                assert_eq!(f[0].evidence["dumped"][0]["end"], item["end"]);
                assert_eq!(f[0].severity, Severity::High);
            }
            "ld_preload" => {
                let f = find(&report, "program.ld_preload", pid);
                assert_eq!(f.len(), 1, "{kind}");
                assert_eq!(format!("LD_PRELOAD={}", f[0].evidence["value"].as_str().unwrap()), d["environ"][0].as_str().unwrap());
                assert_eq!(f[0].evidence["mapped"].as_array().unwrap().len(), d["object_mappings"].as_array().unwrap().len());
                assert_eq!(find(&report, "program.library_in_temp", pid).len(), 1);
            }
            other => panic!("planted kind {other} has no check in this test"),
        }
    }
    // Most severe first.
    assert!(report.findings.windows(2).all(|w| w[0].severity >= w[1].severity));
}

#[test]
fn show_secrets_shows_the_value() {
    let checkpoint = attack();
    let report = triage(&checkpoint, &TriageOptions { show_secrets: true, rootfs: None }).unwrap();
    let value =
        truth()["planted"].as_array().unwrap().iter().find(|i| i["kind"] == "credential_in_heap").unwrap()["detail"]["value"].clone();
    assert!(report.findings.iter().any(|f| f.id == "secrets.credential" && f.evidence["value"] == value));
}

/// With the file at hand, a modified code page shows the bytes that differ:
/// a copy of libc's page rebuilt from the dump with the original function
/// entry (truth `original_first64_hex`) put back gives exactly the bytes the
/// hook changed.
#[test]
fn modified_code_is_compared_with_the_file() {
    let checkpoint = attack();
    let truth = truth();
    let item = truth["planted"].as_array().unwrap().iter().find(|i| i["kind"] == "patched_code_page").unwrap().clone();
    let d = &item["detail"];
    let start = item["start"].as_u64().unwrap();
    let page = checkpoint.memory(9).unwrap().read(start, 4096).unwrap().into_owned();
    let function_offset = hex(&d["function_offset_in_page_hex"]) as usize;
    let original: Vec<u8> = (0..d["original_first64_hex"].as_str().unwrap().len() / 2)
        .map(|i| u8::from_str_radix(&d["original_first64_hex"].as_str().unwrap()[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    let mut file_page = page.clone();
    file_page[function_offset..function_offset + original.len()].copy_from_slice(&original);
    let file_offset = hex(&d["file_offset_of_page_hex"]) as usize;
    let mut file = vec![0u8; file_offset];
    file.extend_from_slice(&file_page);
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join(d["file"].as_str().unwrap().trim_start_matches('/'));
    std::fs::create_dir_all(lib.parent().unwrap()).unwrap();
    std::fs::write(&lib, &file).unwrap();
    let rootfs = criu_images::checkpoint::Rootfs::load(&checkpoint, Some(dir.path().to_str().unwrap())).unwrap();
    let report = triage(&checkpoint, &TriageOptions { show_secrets: false, rootfs: rootfs.source() }).unwrap();
    let f = report.findings.iter().find(|f| f.id == "memory.modified_code" && f.pid == Some(9)).unwrap();
    assert_eq!(f.evidence["differing_bytes"], d["changed_bytes_in_page"]["count"]);
    let span = &f.evidence["spans"][0];
    assert_eq!(span["address"].as_u64().unwrap(), start + hex(&d["changed_bytes_in_page"]["first_offset_hex"]));
    assert!(span["memory_hex"].as_str().unwrap().starts_with(d["hook"]["bytes_hex"].as_str().unwrap()));
}

/// Findings expected on a clean checkpoint: (check, pid).
type Expected = &'static [(&'static str, Option<u32>)];

/// Clean checkpoints: nothing high; the lower findings are these, each expected.
#[test]
fn clean_fixtures_have_no_high_finding() {
    let cases: &[(&str, Expected)] = &[
        // Only the page CRIU's compel writes its syscall into while dumping.
        ("counter/zstd/checkpoint.tar.zst", &[("memory.criu_injection_page", None)]),
        ("threads/checkpoint.tar.zst", &[("memory.criu_injection_page", None)]),
        ("k8s-counter", &[("memory.criu_injection_page", None)]),
        // pytree's parent really listens on a loopback port its container does not publish (its own IPC).
        ("pytree/checkpoint.tar.gz", &[("network.undeclared_listener", Some(1)), ("memory.criu_injection_page", None)]),
        // A host process (no container) started from /tmp/fx-build: medium outside containers.
        ("predump/dump", &[("program.exe_in_temp", Some(25946)), ("memory.criu_injection_page", None)]),
    ];
    for (path, expected) in cases {
        let path = if *path == "k8s-counter" { common::k8s_counter_tar() } else { common::fixtures_dir().join(path) };
        let checkpoint = Checkpoint::open(&path).unwrap();
        let report = triage(&checkpoint, &TriageOptions::default()).unwrap();
        let got: Vec<(&str, Option<u32>)> = report.findings.iter().map(|f| (f.id, f.pid)).collect();
        assert_eq!(&got, expected, "{}", path.display());
        assert!(report.findings.iter().all(|f| f.severity < Severity::High), "{}", path.display());
    }
}

#[test]
fn cli_json_is_versioned_and_text_is_most_severe_first() {
    let path = common::fixtures_dir().join("attack/checkpoint.tar.zst");
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_criu-images")).arg("triage").arg(&path).args(args).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let json: Value = serde_json::from_str(&run(&["--format", "json"])).unwrap();
    assert_eq!(json["schema_version"], 1);
    let findings = json["findings"].as_array().unwrap();
    assert!(findings.len() >= 11);
    for f in findings {
        for key in ["id", "severity", "pid", "summary", "evidence"] {
            assert!(f.get(key).is_some(), "{key} missing in {f}");
        }
    }
    assert!(!run(&["--format", "json"]).contains("XKNfQm00rZG8zs9eDlRMmSQ0DjixHYBsjJT4C4yk"));
    assert!(run(&["--format", "json", "--show-secrets"]).contains("XKNfQm00rZG8zs9eDlRMmSQ0DjixHYBsjJT4C4yk"));
    let text = run(&[]);
    let severities: Vec<&str> = text
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| ["HIGH", "MEDIUM", "LOW", "INFO"].contains(w))
        .collect();
    assert_eq!(severities.first(), Some(&"HIGH"));
    assert_eq!(severities.last(), Some(&"INFO"));
    // YARA only when rules are given: each hit one `yara.match` finding.
    let yara_count = |v: &Value| v["findings"].as_array().unwrap().iter().filter(|f| f["id"] == "yara.match").count();
    assert_eq!(yara_count(&json), 0);
    let rules = common::fixtures_dir().join("attack/rules.yar");
    let with_rules: Value = serde_json::from_str(&run(&["--format", "json", "-r", rules.to_str().unwrap()])).unwrap();
    assert_eq!(yara_count(&with_rules), truth()["yara"].as_array().unwrap().len());
    let high_only = run(&["--min-severity", "high"]);
    assert!(high_only.lines().skip(1).all(|l| !l.starts_with("MEDIUM") && !l.starts_with("INFO")));
}
