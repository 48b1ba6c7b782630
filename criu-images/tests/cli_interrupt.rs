//! Ctrl-C in the command line tool: `mem dump` interrupted while it writes
//! stops soon, leaves no partial file, says so in one line and ends as
//! interrupted (SIGINT, which the shell shows as status 130). The
//! checkpoint is generated at test time: one process with 256 MiB dumped in
//! one run, its pages file sparse (it takes no disk space, and reads as
//! zeros).

use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use criu_images::json::from_json;

const BASE: u64 = 0x7f00_0000_0000;
const PAGES: u64 = 256 * 256;
/// Generous: the dump checks for Ctrl-C every 8 MiB written (milliseconds);
/// this bound only catches an interrupt that is not acted upon.
const BOUND: Duration = Duration::from_secs(10);

fn write_checkpoint(dir: &Path) {
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
}

#[test]
fn ctrl_c_during_mem_dump_removes_the_partial_file_and_ends_as_interrupted() {
    let dir = tempfile::tempdir().unwrap();
    write_checkpoint(dir.path());
    let out = dir.path().join("dump.bin");
    let mut command = Command::new(env!("CARGO_BIN_EXE_criu-images"));
    command.arg("mem").arg("dump").arg(dir.path()).args(["--pid", "1", "--vma", &BASE.to_string(), "-o"]).arg(&out);
    // SAFETY: only resets a signal disposition between fork and exec. A
    // test runner started in the background may have SIGINT ignored, and
    // the tool (rightly) keeps an ignored SIGINT ignored.
    unsafe {
        command.pre_exec(|| {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            Ok(())
        });
    }
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();

    // Once the file has bytes the dump is writing (it takes tens of
    // milliseconds at least for 256 MiB); then Ctrl-C.
    let waiting = Instant::now();
    while std::fs::metadata(&out).map_or(true, |m| m.len() == 0) {
        assert!(child.try_wait().unwrap().is_none(), "the dump ended before it was interrupted");
        assert!(waiting.elapsed() < BOUND, "the dump did not start writing");
        std::thread::sleep(Duration::from_micros(200));
    }
    let written = std::fs::metadata(&out).unwrap().len();
    // SAFETY: kill with a child's pid and a valid signal number.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) }, 0);
    let sent = Instant::now();
    let output = child.wait_with_output().unwrap();
    let took = sent.elapsed();

    assert!(written < PAGES * 4096, "interrupted while writing: {written} bytes written");
    assert_eq!(output.status.signal(), Some(libc::SIGINT), "ends by SIGINT (status 130 in the shell): {:?}", output.status);
    assert_eq!(String::from_utf8_lossy(&output.stderr), "criu-images: interrupted\n");
    assert!(output.stdout.is_empty(), "no summary of a dump that did not happen");
    assert!(!out.exists(), "the partial dump was removed");
    assert!(took < BOUND, "stopped {took:?} after Ctrl-C");
}
