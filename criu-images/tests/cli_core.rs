//! `criu-images core`: one core per process with `--all`, one summary line
//! each, an existing file replaced only by a complete core, errors that
//! leave nothing behind.

mod common;
#[path = "common/interrupt.rs"]
mod interrupt;

use std::process::{Command, Output};

use common::synth::{names, scratch, write_sparse_checkpoint};
use interrupt::{command, interrupt_while_writing};

fn criu_images(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_criu-images")).args(args).output().unwrap()
}

#[test]
fn all_processes_one_core_each_with_a_summary_line() {
    let cp = common::fixtures_dir().join("pytree/checkpoint.tar.gz");
    let dir = scratch("all");
    let out_dir = dir.join("cores");
    let out = criu_images(&["core", cp.to_str().unwrap(), "--all", "-o", out_dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // Each core has its provenance sidecar (docs/evidence.md).
    assert_eq!(names(&out_dir), ["core.1", "core.1.json", "core.6", "core.6.json", "core.7", "core.7.json"]);
    let sidecar: serde_json::Value = serde_json::from_slice(&std::fs::read(out_dir.join("core.6.json")).unwrap()).unwrap();
    assert_eq!(sidecar["pid"], 6);
    assert_eq!(sidecar["source"]["path"], cp.to_str().unwrap());
    assert_eq!(sidecar["evidence"]["size"], std::fs::metadata(out_dir.join("core.6")).unwrap().len());
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 3, "{text}");
    let first = text.lines().next().unwrap();
    assert!(first.contains("core.1: x86_64, pid 1, 3 threads,") && first.contains("pages not in the checkpoint read as zeros"), "{first}");
    assert!(first.ends_with("core.1.json"), "{first}");
    for name in ["core.1", "core.6", "core.7"] {
        assert_eq!(&std::fs::read(out_dir.join(name)).unwrap()[..4], b"\x7fELF");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn one_pid_to_a_file_replacing_an_old_one_and_errors_leave_nothing() {
    let cp = common::fixtures_dir().join("counter/zstd/checkpoint.tar.zst");
    let dir = scratch("one");
    let core = dir.join("counter.core");
    std::fs::write(&core, b"old").unwrap();
    let out = criu_images(&["core", cp.to_str().unwrap(), "--pid", "1", "-o", core.to_str().unwrap(), "--rootfs", "none"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(&std::fs::read(&core).unwrap()[..4], b"\x7fELF");
    assert_eq!(names(&dir), ["counter.core", "counter.core.json"], "no temporary file left");

    let missing = criu_images(&["core", cp.to_str().unwrap(), "--pid", "99", "-o", dir.join("x").to_str().unwrap()]);
    assert_eq!(missing.status.code(), Some(1));
    let err = String::from_utf8(missing.stderr).unwrap();
    assert!(err.contains("process 99"), "{err}");
    let predump = common::fixtures_dir().join("predump/pre1");
    let no_tree = criu_images(&["core", predump.to_str().unwrap(), "-o", dir.join("y").to_str().unwrap()]);
    assert_eq!(no_tree.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&no_tree.stderr).contains("pstree.img"));
    assert_eq!(names(&dir), ["counter.core", "counter.core.json"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Ctrl-C while a core is written: the command ends as interrupted (SIGINT,
/// one line), prints no summary, and leaves neither the core nor its
/// temporary file. The process: 256 MiB dumped in one run of a sparse pages
/// file (no disk space), the registers of the synthetic arm64 core image.
#[test]
fn ctrl_c_while_writing_leaves_no_core_and_ends_as_interrupted() {
    let dir = scratch("interrupt");
    write_sparse_checkpoint(&dir);
    std::fs::copy(common::fixtures_dir().join("synthetic/core-aarch64.img"), dir.join("core-1.img")).unwrap();
    let out = dir.join("out");
    std::fs::create_dir(&out).unwrap();

    let core = command(&["core".as_ref(), dir.as_os_str(), "--pid".as_ref(), "1".as_ref(), "-o".as_ref(), out.join("core.1").as_os_str()]);
    // Writing once the temporary file holds memory (past the notes).
    interrupt_while_writing(core, || std::fs::read_dir(&out).unwrap().any(|e| e.unwrap().metadata().is_ok_and(|m| m.len() >= 1 << 20)));
    assert!(names(&out).is_empty(), "left behind: {:?}", names(&out));
    std::fs::remove_dir_all(&dir).unwrap();
}
