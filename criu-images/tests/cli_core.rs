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
    use criu_images::json::from_json;
    use std::os::unix::process::{CommandExt, ExitStatusExt};
    use std::process::Stdio;
    use std::time::{Duration, Instant};

    const BASE: u64 = 0x7f00_0000_0000;
    const PAGES: u64 = 256 * 256;
    // Generous: the write checks for Ctrl-C every few MiB; this only catches one not acted upon.
    const BOUND: Duration = Duration::from_secs(10);
    let dir = scratch("interrupt");
    let write = |name: &str, json: String| std::fs::write(dir.join(name), from_json(json.as_bytes(), name).unwrap()).unwrap();
    write(
        "mm-1.img",
        format!(
            r#"{{"magic": "MM", "entries": [{{"mm_start_code": 0, "mm_end_code": 0, "mm_start_data": 0, "mm_end_data": 0, "mm_start_stack": 0, "mm_start_brk": 0, "mm_brk": 0, "mm_arg_start": 0, "mm_arg_end": 0, "mm_env_start": 0, "mm_env_end": 0, "exe_file_id": 0, "mm_saved_auxv": [6, 4096], "vmas": [{{"start": {BASE}, "end": {}, "pgoff": 0, "shmid": 0, "prot": 3, "flags": 34, "status": 513, "fd": -1}}]}}]}}"#,
            BASE + PAGES * 4096
        ),
    );
    write(
        "pagemap-1.img",
        format!(
            r#"{{"magic": "PAGEMAP", "entries": [{{"pages_id": 1}}, {{"vaddr": {BASE}, "compat_nr_pages": 0, "flags": 4, "nr_pages": {PAGES}}}]}}"#
        ),
    );
    write("pstree.img", r#"{"magic": "PSTREE", "entries": [{"pid": 1, "ppid": 0, "pgid": 1, "sid": 1, "threads": [1]}]}"#.into());
    std::fs::File::create(dir.join("pages-1.img")).unwrap().set_len(PAGES * 4096).unwrap();
    std::fs::copy(common::fixtures_dir().join("synthetic/core-aarch64.img"), dir.join("core-1.img")).unwrap();
    let out = dir.join("out");
    std::fs::create_dir(&out).unwrap();

    let mut command = Command::new(env!("CARGO_BIN_EXE_criu-images"));
    command.arg("core").arg(&dir).args(["--pid", "1", "-o"]).arg(out.join("core.1"));
    // SAFETY: only resets a signal disposition between fork and exec (a
    // test runner in the background may have SIGINT ignored).
    unsafe {
        command.pre_exec(|| {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            Ok(())
        });
    }
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    // Writing once the temporary file holds memory (past the notes).
    let waiting = Instant::now();
    while std::fs::read_dir(&out).unwrap().all(|e| e.unwrap().metadata().map_or(true, |m| m.len() < 1 << 20)) {
        assert!(child.try_wait().unwrap().is_none(), "the core was written before it was interrupted");
        assert!(waiting.elapsed() < BOUND, "the core was not being written");
        std::thread::sleep(Duration::from_micros(200));
    }
    // SAFETY: kill with a child's pid and a valid signal number.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) }, 0);
    let sent = Instant::now();
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.signal(), Some(libc::SIGINT), "{:?}", output.status);
    assert_eq!(String::from_utf8_lossy(&output.stderr), "criu-images: interrupted\n");
    assert!(output.stdout.is_empty(), "no summary of a core that was not written");
    assert!(names(&out).is_empty(), "left behind: {:?}", names(&out));
    assert!(sent.elapsed() < BOUND);
    std::fs::remove_dir_all(&dir).unwrap();
}
