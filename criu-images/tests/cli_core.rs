//! `criu-images core`: one core per process with `--all`, one summary line
//! each, an existing file replaced only by a complete core, errors that
//! leave nothing behind.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};

fn criu_images(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_criu-images")).args(args).output().unwrap()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("criu-images-cli-core-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn names(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

#[test]
fn all_processes_one_core_each_with_a_summary_line() {
    let cp = common::fixtures_dir().join("pytree/checkpoint.tar.gz");
    let dir = scratch("all");
    let out_dir = dir.join("cores");
    let out = criu_images(&["core", cp.to_str().unwrap(), "--all", "-o", out_dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(names(&out_dir), ["core.1", "core.6", "core.7"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 3, "{text}");
    let first = text.lines().next().unwrap();
    assert!(first.contains("core.1: x86_64, pid 1, 3 threads,") && first.contains("pages not in the checkpoint read as zeros"), "{first}");
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
    assert_eq!(names(&dir), ["counter.core"], "no temporary file left");

    let missing = criu_images(&["core", cp.to_str().unwrap(), "--pid", "99", "-o", dir.join("x").to_str().unwrap()]);
    assert_eq!(missing.status.code(), Some(1));
    let err = String::from_utf8(missing.stderr).unwrap();
    assert!(err.contains("process 99"), "{err}");
    let predump = common::fixtures_dir().join("predump/pre1");
    let no_tree = criu_images(&["core", predump.to_str().unwrap(), "-o", dir.join("y").to_str().unwrap()]);
    assert_eq!(no_tree.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&no_tree.stderr).contains("pstree.img"));
    assert_eq!(names(&dir), ["counter.core"]);
    std::fs::remove_dir_all(&dir).unwrap();
}
