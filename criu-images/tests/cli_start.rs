//! What the binary's own start-up (a C `main`, see src/main.rs) must keep of
//! std's: the arguments as bytes, EPIPE instead of death by SIGPIPE, and
//! standard descriptors that are never a file the tool opened.

mod common;

use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_criu-images");

fn pstree() -> std::path::PathBuf {
    common::fixtures_dir().join("counter-host/images/pstree.img")
}

#[test]
fn arguments_that_are_not_utf8_reach_the_tool_as_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let name = std::ffi::OsStr::from_bytes(b"pstree-\xff\xfe.img");
    let path = dir.path().join(name);
    std::fs::copy(pstree(), &path).unwrap();
    let out = Command::new(BIN).arg("info").arg(&path).output().unwrap();
    assert!(out.status.success(), "{:?} {}", out.status, String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.stdout, b"{\n    \"magic\": \"PSTREE\",\n    \"count\": 1\n}\n");
}

#[test]
fn a_closed_pipe_on_stdout_ends_the_tool_quietly() {
    // The reader is gone before the tool writes: every write is to a pipe
    // without readers (`criu-images decode ... | head -1`).
    let image = common::fixtures_dir().join("counter-host/images/mm-24152.img");
    for args in [&["decode", "--pretty", "-i"][..], &["show"], &["info"]] {
        let mut child = Command::new(BIN).args(args).arg(&image).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.signal(), None, "{args:?}: killed by a signal ({:?}), not an EPIPE error", out.status);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert_eq!(String::from_utf8_lossy(&out.stderr), "", "{args:?}");
    }
}

#[test]
fn a_closed_stdout_is_dev_null_before_the_tool_opens_anything() {
    // Otherwise the first file the tool opens would be its standard output.
    // `decode` without -i waits on standard input: look at its descriptor 1
    // meanwhile (the shell closes it, then runs the tool in its place).
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("exec \"$0\" decode >&-")
        .arg(BIN)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let proc = std::path::PathBuf::from(format!("/proc/{}", child.id()));
    // Only a bound for a failure: the tool blocks in its read of standard
    // input for as long as the test keeps it open.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let target = loop {
        // Look only once the tool's own code runs, blocked in read(0, ...):
        // before that, descriptor 1 is the shell's (a pipe, then closed) or
        // the dynamic loader's (it opens each library at the lowest free
        // descriptor, 1 here, and closes it again).
        let reading_stdin = std::fs::read_to_string(proc.join("syscall")).is_ok_and(|call| call.starts_with("0 0x0 "));
        if reading_stdin {
            break std::fs::read_link(proc.join("fd/1")).ok();
        }
        if std::time::Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    drop(child.stdin.take());
    child.wait().unwrap();
    assert_eq!(target, Some(std::path::PathBuf::from("/dev/null")));
}
