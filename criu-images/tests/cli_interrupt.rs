//! Ctrl-C in the command line tool: `mem dump`, `decode -o`, `encode -o`
//! and `decode-all` interrupted while they write stop soon, leave no partial
//! file they created (files that existed before stay), say so in one line
//! and end as interrupted (SIGINT, which the shell shows as status 130). The
//! checkpoints are generated at test time: one process with 256 MiB dumped
//! in one run, its pages file sparse (it takes no disk space, and reads as
//! zeros); pagemaps of many runs, whose JSON takes a while to write.

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

/// The command, with SIGINT at its default action (a test runner started
/// in the background may have it ignored, and the tool, rightly, keeps an
/// ignored SIGINT ignored).
fn command(args: &[&std::ffi::OsStr]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_criu-images"));
    command.args(args);
    // SAFETY: only resets a signal disposition between fork and exec.
    unsafe {
        command.pre_exec(|| {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            Ok(())
        });
    }
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    command
}

/// Runs `command` until `writing` says it writes, then sends Ctrl-C and
/// checks that it ends as interrupted, within [`BOUND`].
fn interrupt_while_writing(mut command: Command, writing: impl Fn() -> bool) {
    let mut child = command.spawn().unwrap();
    let waiting = Instant::now();
    while !writing() {
        assert!(child.try_wait().unwrap().is_none(), "the command ended before it was interrupted");
        assert!(waiting.elapsed() < BOUND, "the command did not start writing");
        std::thread::sleep(Duration::from_micros(200));
    }
    // SAFETY: kill with a child's pid and a valid signal number.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) }, 0);
    let sent = Instant::now();
    let output = child.wait_with_output().unwrap();
    let took = sent.elapsed();
    assert_eq!(output.status.signal(), Some(libc::SIGINT), "ends by SIGINT (status 130 in the shell): {:?}", output.status);
    assert_eq!(String::from_utf8_lossy(&output.stderr), "criu-images: interrupted\n");
    assert!(output.stdout.is_empty());
    assert!(took < BOUND, "stopped {took:?} after Ctrl-C");
}

/// A pagemap of `runs` one-page runs: about 60 bytes of JSON each.
fn pagemap_json(runs: u64) -> String {
    let mut json = String::from(r#"{"magic": "PAGEMAP", "entries": [{"pages_id": 1}"#);
    for i in 0..runs {
        json.push_str(&format!(r#", {{"vaddr": {}, "compat_nr_pages": 0, "flags": 4, "nr_pages": 1}}"#, BASE + i * 2 * 4096));
    }
    json.push_str("]}");
    json
}

fn len(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

#[test]
fn ctrl_c_during_decode_all_removes_what_it_created_and_keeps_what_was_there() {
    let dir = tempfile::tempdir().unwrap();
    let images = dir.path().join("images");
    std::fs::create_dir(&images).unwrap();
    let pagemap = from_json(pagemap_json(100_000).as_bytes(), "pagemap").unwrap();
    for n in 0..8 {
        std::fs::write(images.join(format!("pagemap-{}.img", 100 + n)), &pagemap).unwrap();
    }
    let pstree = r#"{"magic": "PSTREE", "entries": [{"pid": 1, "ppid": 0, "pgid": 1, "sid": 1, "threads": [1]}]}"#;
    std::fs::write(images.join("pstree.img"), from_json(pstree.as_bytes(), "pstree.img").unwrap()).unwrap();
    let writing = |out: &Path| {
        let out = out.to_path_buf();
        move || (100..108).any(|n| len(&out.join(format!("pagemap-{n}.img.json"))) > 0)
    };

    // A directory of its own: it goes, with every file in it.
    let out = dir.path().join("new");
    interrupt_while_writing(command(&["decode-all".as_ref(), images.as_os_str(), "--out".as_ref(), out.as_os_str()]), writing(&out));
    assert!(!out.exists(), "the output directory was removed: {:?}", out.exists().then(|| names(&out)));

    // A directory that was there: its files stay (one is overwritten), the new ones go.
    let out = dir.path().join("old");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("notes.txt"), "mine").unwrap();
    std::fs::write(out.join("pagemap-100.img.json"), "old").unwrap();
    interrupt_while_writing(command(&["decode-all".as_ref(), images.as_os_str(), "--out".as_ref(), out.as_os_str()]), || {
        (101..108).any(|n| len(&out.join(format!("pagemap-{n}.img.json"))) > 0)
    });
    assert_eq!(names(&out), ["notes.txt", "pagemap-100.img.json"]);
    assert_eq!(std::fs::read_to_string(out.join("notes.txt")).unwrap(), "mine");
}

#[test]
fn ctrl_c_during_decode_removes_a_new_output_file_only() {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("pagemap-1.img");
    std::fs::write(&image, from_json(pagemap_json(400_000).as_bytes(), "pagemap").unwrap()).unwrap();

    let out = dir.path().join("pagemap.json");
    let decode = |out: &Path| command(&["decode".as_ref(), "-i".as_ref(), image.as_os_str(), "-o".as_ref(), out.as_os_str()]);
    interrupt_while_writing(decode(&out), || len(&out) > 0);
    assert!(!out.exists(), "the partial JSON was removed");

    // A file that existed is overwritten as asked, but never removed.
    std::fs::write(&out, "old").unwrap();
    interrupt_while_writing(decode(&out), || len(&out) > 3);
    assert!(out.exists(), "a file that existed before stays");
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
