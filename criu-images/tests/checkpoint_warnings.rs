//! A part of a checkpoint beside its images that is present but cannot be
//! read (a corrupt config.dump, stats-dump, an unreadable dump.log) is left
//! out with a warning naming file, offset and what was expected; the rest
//! of the checkpoint still reads, in Rust and on the command line.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use criu_images::model::Process;
use criu_images::warning::Part;
use criu_images::{Checkpoint, Error};

/// The k8s-counter checkpoint (CRI-O layout: config.dump, spec.dump,
/// stats-dump, dump.log at the top) unpacked into a fresh directory, with
/// `spoil` applied to it.
fn spoiled_copy(tag: &str, spoil: impl FnOnce(&Path)) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("criu-images-warnings-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for (name, bytes) in common::archive_members(&common::k8s_counter_tar()) {
        let path = dir.join(&name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    spoil(&dir);
    dir
}

/// The rest still reads: the processes with their command lines.
fn assert_processes_read(checkpoint: &Checkpoint) {
    let pids = checkpoint.pids().unwrap();
    assert!(!pids.is_empty());
    let processes = Process::load_all(&checkpoint.levels()).unwrap();
    assert_eq!(processes.len(), pids.len());
    assert!(processes.iter().all(|p| !p.cmdline.is_empty()), "command lines read");
}

fn criu_images(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_criu-images")).args(args).output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn the_untouched_fixture_has_no_warnings() {
    let dir = spoiled_copy("none", |_| {});
    let checkpoint = Checkpoint::open(&dir).unwrap();
    let metadata = checkpoint.metadata();
    assert!(metadata.warnings.is_empty(), "{:?}", metadata.warnings);
    assert!(metadata.container.is_some() && metadata.dump_stats.is_some() && metadata.dump_log.is_some());
    let (ok, json, stderr) = criu_images(&["inspect", dir.to_str().unwrap(), "--format", "json"]);
    assert!(ok && !stderr.contains("warning"), "{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(doc["warnings"], serde_json::json!([]));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_corrupt_config_dump_leaves_the_container_out() {
    let dir = spoiled_copy("config", |dir| std::fs::write(dir.join("config.dump"), b"{\"id\": ").unwrap());
    let checkpoint = Checkpoint::open(&dir).unwrap();
    let metadata = checkpoint.metadata();
    assert!(metadata.container.is_none());
    assert!(metadata.dump_stats.is_some() && metadata.dump_log.is_some(), "the other parts still read");
    assert_eq!(metadata.warnings.len(), 1, "{:?}", metadata.warnings);
    let warning = &metadata.warnings[0];
    assert_eq!(warning.part, Part::Container);
    assert!(matches!(&warning.error, Error::Json { file, .. } if file == "config.dump"), "{warning:?}");
    assert!(warning.to_string().starts_with("container metadata left out: config.dump: line 1, column "), "{warning}");
    // The strict accessor still says why.
    assert!(matches!(checkpoint.container(), Err(Error::Json { .. })));
    assert_processes_read(&checkpoint);

    // inspect: the processes, the container null, the warning on stderr and in JSON.
    let (ok, json, stderr) = criu_images(&["inspect", dir.to_str().unwrap(), "--format", "json"]);
    assert!(ok, "{stderr}");
    assert!(stderr.contains("criu-images: warning: container metadata left out: config.dump: line 1"), "{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(doc["container"], serde_json::Value::Null);
    assert_eq!(doc["warnings"].as_array().unwrap().len(), 1);
    assert!(doc["warnings"][0].as_str().unwrap().contains("config.dump"));
    assert!(!doc["processes"].as_array().unwrap().is_empty());
    let (ok, tree, stderr) = criu_images(&["inspect", dir.to_str().unwrap()]);
    assert!(ok && tree.contains("counter") && stderr.contains("config.dump"), "{tree}{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_corrupt_stats_dump_leaves_the_statistics_out() {
    let dir = spoiled_copy("stats", |dir| std::fs::write(dir.join("stats-dump"), b"oooooooooooo").unwrap());
    let checkpoint = Checkpoint::open(&dir).unwrap();
    let metadata = checkpoint.metadata();
    assert!(metadata.dump_stats.is_none() && metadata.container.is_some() && metadata.dump_log.is_some());
    assert_eq!(metadata.warnings.len(), 1, "{:?}", metadata.warnings);
    assert_eq!(metadata.warnings[0].part, Part::DumpStats);
    let text = metadata.warnings[0].to_string();
    assert!(text.starts_with("CRIU dump statistics left out: stats-dump: offset 0: unknown image magic"), "{text}");
    assert_processes_read(&checkpoint);

    let (ok, show, stderr) = criu_images(&["show", dir.to_str().unwrap(), "--stats"]);
    assert!(ok, "{stderr}");
    assert!(stderr.contains("criu-images: warning: CRIU dump statistics left out: stats-dump: offset 0"), "{stderr}");
    assert!(show.contains("CRIU dump statistics: unreadable (see the warning)"), "{show}");
    assert!(show.contains("Container:      counter (CRI-O") && show.contains("CRIU dump log:  CRIU 4."), "{show}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_unreadable_dump_log_is_not_taken_for_an_absent_one() {
    // A directory where the log should be: present, but not a file to read.
    let dir = spoiled_copy("log", |dir| {
        std::fs::remove_file(dir.join("dump.log")).unwrap();
        std::fs::create_dir(dir.join("dump.log")).unwrap();
        std::fs::write(dir.join("dump.log/x"), b"").unwrap();
    });
    let checkpoint = Checkpoint::open(&dir).unwrap();
    let metadata = checkpoint.metadata();
    assert!(metadata.dump_log.is_none() && metadata.container.is_some() && metadata.dump_stats.is_some());
    assert_eq!(metadata.warnings.len(), 1, "{:?}", metadata.warnings);
    assert_eq!(metadata.warnings[0].part, Part::DumpLog);
    assert!(metadata.warnings[0].to_string().contains("dump.log"), "{}", metadata.warnings[0]);
    assert!(checkpoint.dump_log().is_err());
    assert_processes_read(&checkpoint);

    let (ok, show, stderr) = criu_images(&["show", dir.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    assert!(stderr.contains("criu-images: warning: CRIU dump log left out: "), "{stderr}");
    assert!(show.contains("CRIU dump log:  unreadable (see the warning)"), "{show}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_unreadable_pages_file_is_not_counted_as_empty() {
    // counter/none with pages-1.img replaced by a hard link to a member the
    // tar does not have: `show` counts the pages it can read and says so.
    let dir = std::env::temp_dir().join(format!("criu-images-warnings-pages-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut builder = tar::Builder::new(Vec::new());
    for (member, data) in common::archive_members(&common::fixtures_dir().join("counter/none/checkpoint.tar")) {
        let mut header = tar::Header::new_gnu();
        header.set_mode(0o644);
        if member.ends_with("/pages-1.img") {
            header.set_entry_type(tar::EntryType::Link);
            header.set_size(0);
            builder.append_link(&mut header, &member, "checkpoint/not-there").unwrap();
        } else {
            header.set_size(data.len() as u64);
            builder.append_data(&mut header, &member, &data[..]).unwrap();
        }
    }
    let archive = dir.join("checkpoint.tar");
    std::fs::write(&archive, builder.into_inner().unwrap()).unwrap();
    let (ok, show, stderr) = criu_images(&["show", archive.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    assert!(stderr.contains("criu-images: warning: memory pages left out: ") && stderr.contains("not-there"), "{stderr}");
    assert!(show.contains("Memory pages:   0 B (without unreadable files, see the warning)"), "{show}");
    assert!(show.contains("Processes:      1 (1)"), "{show}");
    std::fs::remove_dir_all(&dir).unwrap();
}
