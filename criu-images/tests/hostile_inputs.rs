//! Hostile or wrong inputs given to the command line: they end at once with
//! a clear error and exit status 1, never a hang, an empty success or a
//! flood of output (issue #11).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use criu_images::image::Image;
use criu_images::json::{from_json, to_json, DecodeOptions};

/// Runs the tool; a run still going after a minute is a hang, killed and
/// reported (the bound is generous: it only tells a hang from slowness).
fn run(args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_criu-images"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Drain the pipes while waiting, so a large output cannot block the child.
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        stdout.read_to_end(&mut v).ok();
        v
    });
    let err_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        stderr.read_to_end(&mut v).ok();
        v
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > Duration::from_secs(60) {
            child.kill().ok();
            child.wait().ok();
            panic!("criu-images {args:?} hangs");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output { status, stdout: out_reader.join().unwrap(), stderr: err_reader.join().unwrap() }
}

fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures").join(path)
}

/// Exit status 1, nothing on standard output, and an error with `needle`.
fn assert_fails(out: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert!(out.stdout.is_empty(), "stdout: {}", String::from_utf8_lossy(&out.stdout));
    assert!(stderr.contains(needle), "expected {needle:?} in: {stderr}");
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// A copy of the counter-host images directory.
fn counter_host_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(fixture("counter-host/images")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
    }
    dir
}

/// Image `name` of `dir`, decoded, edited as JSON text, encoded back.
fn rewrite(dir: &Path, name: &str, edit: impl Fn(String) -> String) {
    let bytes = std::fs::read(dir.join(name)).unwrap();
    let json = to_json(&Image::parse(name, &bytes).unwrap(), &DecodeOptions::PLAIN).unwrap();
    let edited = edit(json.clone());
    assert_ne!(edited, json, "{name}: the edit changed nothing");
    std::fs::write(dir.join(name), from_json(edited.as_bytes(), name).unwrap()).unwrap();
}

#[test]
fn a_fifo_is_refused_at_once_by_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    for args in [
        vec!["info", s(&fifo)],
        vec!["decode", "-i", s(&fifo)],
        vec!["show", s(&fifo)],
        vec!["inspect", s(&fifo)],
        vec!["x", s(&fifo), "ps"],
        vec!["ls", s(&fifo)],
        vec!["mem", "maps", s(&fifo)],
    ] {
        assert_fails(&run(&args), "a FIFO (named pipe)");
    }
    // A device, too (reading /dev/zero would never end).
    assert_fails(&run(&["inspect", "/dev/zero"]), "a character device");
    assert_fails(&run(&["info", "/dev/zero"]), "a character device");
}

#[test]
fn standard_input_stays_allowed_as_a_dash() {
    let pstree = std::fs::read(fixture("counter-host/images/pstree.img")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_criu-images"))
        .args(["decode", "-i", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), &pstree).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"magic\": \"PSTREE\""));
}

#[test]
fn what_is_not_a_checkpoint_is_said_to_be_not_one() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "just some text\n").unwrap();
    let empty = dir.path().join("empty");
    std::fs::write(&empty, b"").unwrap();
    let zeros = dir.path().join("zeros");
    std::fs::write(&zeros, vec![0u8; 10 << 10]).unwrap();
    let no_images = dir.path().join("no-images");
    std::fs::create_dir(&no_images).unwrap();
    std::fs::write(no_images.join("README"), "hello").unwrap();
    for input in [&text, &empty, &zeros, &no_images] {
        for args in
            [vec!["inspect", s(input)], vec!["x", s(input), "ps"], vec!["inspect", s(input), "--format", "json"], vec!["show", s(input)]]
        {
            let out = run(&args);
            if args[0] == "show" && input != &no_images {
                // `show FILE` is crit's show of one image: its own error.
                assert_eq!(out.status.code(), Some(1));
                continue;
            }
            assert_fails(&out, "not a CRIU checkpoint");
        }
    }
    assert_fails(&run(&["inspect", s(&no_images)]), "no inventory.img or pstree.img");
    assert_fails(&run(&["inspect", s(&zeros)]), "unknown magic 0x00000000");

    // A pre-dump directory has images but no processes.
    assert_fails(&run(&["inspect", s(&fixture("predump/pre1"))]), "no pstree.img");
    assert_fails(&run(&["x", s(&fixture("predump/pre1")), "ps"]), "no pstree.img");
}

#[test]
fn inspect_of_a_pid_that_is_not_there_fails() {
    let out = run(&["inspect", s(&fixture("counter-host/images")), "--pid", "999"]);
    assert_fails(&out, "no process 999 (processes: [24152])");
    let out = run(&["inspect", s(&fixture("counter-host/images")), "--pid", "999", "--format", "json"]);
    assert_fails(&out, "no process 999");
    // The pid that is there still works.
    let out = run(&["inspect", s(&fixture("counter-host/images")), "--pid", "24152"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("[24152] counter"));
}

#[test]
fn a_parent_link_to_the_root_directory_is_refused_without_walking_it() {
    let dump = counter_host_copy();
    std::os::unix::fs::symlink("/", dump.path().join("parent")).unwrap();
    let start = Instant::now();
    let out = run(&["inspect", s(dump.path())]);
    assert_fails(&out, "parent link points to /, which is not a dump directory (no inventory.img or pagemap-*.img in it)");
    // Walking / took a minute; looking at one directory takes no time.
    assert!(start.elapsed() < Duration::from_secs(20), "{:?}", start.elapsed());
}

/// `pstree.img` of `dir` with these `(pid, ppid)` tasks after the counter.
fn write_pstree(dir: &Path, extra: impl Iterator<Item = (u32, u32)>) {
    let mut entries = vec![r#"{"pid": 24152, "ppid": 0, "pgid": 24152, "sid": 24152, "threads": [24152]}"#.to_string()];
    entries.extend(extra.map(|(pid, ppid)| format!(r#"{{"pid": {pid}, "ppid": {ppid}, "pgid": {pid}, "sid": 1, "threads": [{pid}]}}"#)));
    let json = format!(r#"{{"magic": "PSTREE", "entries": [{}]}}"#, entries.join(", "));
    std::fs::write(dir.join("pstree.img"), from_json(json.as_bytes(), "pstree.json").unwrap()).unwrap();
}

#[test]
fn a_pid_listed_twice_is_an_error_not_an_endless_tree() {
    let dump = counter_host_copy();
    // 68 bytes: the counter, then a task that says it is the counter's child
    // and has the counter's pid.
    write_pstree(dump.path(), [(24152, 24152)].into_iter());
    assert!(std::fs::metadata(dump.path().join("pstree.img")).unwrap().len() < 100);
    for args in [vec!["inspect", s(dump.path())], vec!["inspect", s(dump.path()), "--format", "json"], vec!["x", s(dump.path()), "ps"]] {
        assert_fails(&run(&args), "pstree.img: offset 30 (entry 1): pid 24152 is listed twice (entries 0 and 1)");
    }
    // The same with a real cycle: 7 -> 8 -> 7 hanging under a duplicate.
    write_pstree(dump.path(), [(7, 24152), (8, 7), (7, 8)].into_iter());
    assert_fails(&run(&["inspect", s(dump.path())]), "pid 7 is listed twice");
}

#[test]
fn a_loop_of_parents_is_shown_once_with_a_warning() {
    let dump = counter_host_copy();
    write_pstree(dump.path(), [(7, 9), (8, 7), (9, 8)].into_iter());
    let out = run(&["x", s(dump.path()), "ps"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5, "{text}");
    assert!(lines[2].starts_with("      7      7      1   ") && lines[4].starts_with("      9      9      1           "), "{text}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("warning: pstree.img: the parent links of process 7 loop back to it"), "{stderr}");

    let out = run(&["inspect", s(dump.path())]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    for pid in [24152, 7, 8, 9] {
        assert_eq!(text.matches(&format!("[{pid}] ")).count(), 1, "{text}");
    }
}

#[test]
fn a_deep_chain_of_parents_prints_each_process_once_in_bounded_space() {
    const DEPTH: u32 = 30_000;
    let dump = counter_host_copy();
    write_pstree(dump.path(), (100_001..=100_000 + DEPTH).map(|pid| (pid, if pid == 100_001 { 24152 } else { pid - 1 })));
    let out = run(&["x", s(dump.path()), "ps"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), DEPTH as usize + 2);
    // crit's indentation would make this 1.8 GB; capped, it is a few MB.
    assert!(text.len() < 200 * DEPTH as usize, "{} bytes", text.len());
    assert!(text.lines().last().unwrap().ends_with(&format!("(depth {DEPTH}) ")), "{:?}", text.lines().last());

    let out = run(&["inspect", s(dump.path())]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.matches(" (alive, ").count(), DEPTH as usize + 1);
    assert!(text.len() < 400 * DEPTH as usize, "{} bytes", text.len());
}

#[test]
fn names_with_terminal_controls_are_printed_escaped() {
    let dump = counter_host_copy();
    // comm (core), the executable's path (files), as an attacker may set them.
    rewrite(dump.path(), "core-24152.img", |json| json.replace("\"comm\": \"counter\"", "\"comm\": \"c\\u001b]52;c;aGk=\\u0007\\nFAKE\""));
    rewrite(dump.path(), "files.img", |json| json.replace("/tmp/fx-build/counter", "/tmp/\\u001b[2Jx\\ny"));
    let check = |args: &[&str], must_show: &[&str]| {
        let out = run(args);
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            !text.contains('\x1b') && !text.contains('\x07') && !text.contains("\nFAKE") && !text.contains("\ny"),
            "{args:?}: {text:?}"
        );
        for needle in must_show {
            assert!(text.contains(needle), "{args:?}: no {needle:?} in {text}");
        }
    };
    let d = s(dump.path());
    check(&["inspect", d, "--all"], &["c\\x1b]52;c;aGk=\\x07\\nFAKE", "/tmp/\\x1b[2Jx\\ny"]);
    check(&["x", d, "ps"], &["c\\x1b]52;c;aGk=\\x07\\nFAKE"]);
    check(&["x", d, "mems"], &["/tmp/\\x1b[2Jx\\ny"]);
    check(&["mem", "maps", d], &["/tmp/\\x1b[2Jx\\ny"]);
    // JSON keeps the exact text.
    let out = run(&["inspect", d, "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["processes"][0]["comm"], "c\x1b]52;c;aGk=\x07\nFAKE");

    // A member name in a tar, for `ls` and errors.
    let tar_path = dump.path().join("evil.tar");
    let mut builder = tar::Builder::new(std::fs::File::create(&tar_path).unwrap());
    for name in ["inventory.img", "pstree.img"] {
        builder.append_path_with_name(fixture("counter-host/images").join(name), name).unwrap();
    }
    let mut header = tar::Header::new_gnu();
    header.set_size(3);
    header.set_mode(0o644);
    header.set_cksum();
    builder.append_data(&mut header, "x\x1b]0;owned\x07\nFAKE.img", &b"abc"[..]).unwrap();
    builder.finish().unwrap();
    drop(builder);
    check(&["ls", s(&tar_path)], &["x\\x1b]0;owned\\x07\\nFAKE.img"]);
    let out = run(&["show", &format!("{}:x\x1b]0;owned\x07\nFAKE.img", s(&tar_path))]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(!stderr.contains('\x1b') && stderr.contains("x\\x1b]0;owned\\x07\\nFAKE.img"), "{stderr:?}");
}

#[test]
fn show_of_a_broken_archive_reports_the_archive_error() {
    let dir = tempfile::tempdir().unwrap();
    let tar = std::fs::read(fixture("counter/none/checkpoint.tar")).unwrap();
    // The second header's checksum broken.
    let second = 512 + (u64::from_str_radix(std::str::from_utf8(&tar[124..135]).unwrap(), 8).unwrap() as usize).div_ceil(512) * 512;
    let mut broken = tar.clone();
    broken[second + 148] ^= 1;
    let path = dir.path().join("broken.tar");
    std::fs::write(&path, &broken).unwrap();
    let out = run(&["show", s(&path)]);
    assert_fails(&out, &format!("broken.tar: offset {second}"));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("magic"));
    // Compressed and cut short.
    let zst = std::fs::read(fixture("counter/zstd/checkpoint.tar.zst")).unwrap();
    let path = dir.path().join("cut.tar.zst");
    std::fs::write(&path, &zst[..zst.len() / 2]).unwrap();
    let out = run(&["show", s(&path)]);
    assert_fails(&out, "cut.tar.zst: offset 0: zstd data is corrupt or truncated");
}

#[test]
fn explorers_do_not_read_images_they_do_not_print() {
    // seccomp.img replaced by garbage: whoever decodes it fails. `x` and
    // the default inspect view print nothing from it, so do not read it
    // (a 139 MB seccomp.img cost `x sk` 40 s and 1.3 GB).
    let dump = counter_host_copy();
    let seccomp = std::fs::read(dump.path().join("seccomp.img")).unwrap();
    let mut broken = seccomp[..8].to_vec();
    broken.extend_from_slice(&[0xff; 64]);
    std::fs::write(dump.path().join("seccomp.img"), &broken).unwrap();
    let d = s(dump.path());
    for what in ["ps", "fds", "mems", "sk"] {
        let out = run(&["x", d, what]);
        assert!(out.status.success(), "x {what}: {}", String::from_utf8_lossy(&out.stderr));
    }
    assert_fails(&run(&["inspect", d, "--seccomp"]), "seccomp.img");
    // Nor does `x ps` read files.img.
    std::fs::write(dump.path().join("files.img"), &broken).unwrap();
    assert!(run(&["x", d, "ps"]).status.success());
    assert_fails(&run(&["x", d, "fds"]), "files.img");
}

// ---------------------------------------------------------------------------
// Decompression: stop as soon as the tar stream is known to be bad or too big
// ---------------------------------------------------------------------------

fn zstd_of(parts: &[&[u8]], zeros: usize) -> Vec<u8> {
    let mut encoder = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
    for part in parts {
        std::io::Write::write_all(&mut encoder, part).unwrap();
    }
    let block = vec![0u8; 1 << 20];
    for _ in 0..zeros / block.len() {
        std::io::Write::write_all(&mut encoder, &block).unwrap();
    }
    encoder.finish().unwrap()
}

/// A tar of the counter-host images, without its end-of-archive blocks.
fn counter_tar_members() -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    builder.append_dir_all("checkpoint", fixture("counter-host/images")).unwrap();
    let mut tar = builder.into_inner().unwrap();
    // `into_inner` ends the archive with two zero blocks.
    assert!(tar[tar.len() - 1024..].iter().all(|&b| b == 0));
    tar.truncate(tar.len() - 1024);
    tar
}

fn open_err(bytes: &[u8], max_decompressed: u64) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.tar.zst");
    std::fs::write(&path, bytes).unwrap();
    let options = criu_images::archive::OpenOptions { max_decompressed, ..Default::default() };
    match criu_images::archive::Archive::open(&path, &options) {
        Ok(_) => "ok".into(),
        Err(err) => err.to_string(),
    }
}

#[test]
fn decompression_stops_at_the_first_invalid_tar_header() {
    let members = counter_tar_members();
    // Valid members, then a block of junk, then 64 MiB that compress to nothing.
    let bomb = zstd_of(&[&members, &[0xa5; 512]], 64 << 20);
    assert!(bomb.len() < members.len() + 64 * 1024, "{}", bomb.len());
    // With a limit of 8 MiB the old reader ran into the limit; it now
    // stops at the junk, long before, and says where.
    let err = open_err(&bomb, 8 << 20);
    assert!(err.contains(&format!("offset {}: ", members.len())) && err.contains("checksum"), "{err}");
}

#[test]
fn nothing_after_the_end_of_archive_is_decompressed() {
    let members = counter_tar_members();
    // End-of-archive blocks, then 64 MiB of zeros (the padding of a bomb).
    let padded = zstd_of(&[&members, &[0; 1024]], 64 << 20);
    assert_eq!(open_err(&padded, members.len() as u64 + (1 << 20)), "ok");
}

#[test]
fn declared_sizes_beyond_the_limit_or_the_free_disk_stop_at_once() {
    let mut header = tar::Header::new_gnu();
    header.set_path("checkpoint/pages-1.img").unwrap();
    header.set_mode(0o644);
    header.set_size(1 << 40); // 1 TiB, in base-256
    header.set_cksum();
    let claim = zstd_of(&[header.as_bytes(), &[0x11; 4096]], 0);
    let err = open_err(&claim, 64 << 30);
    assert!(err.contains("its tar headers declare at least 1099511628288 bytes) exceeds the limit of 68719476736 bytes"), "{err}");
    // Without a limit of our own, the free space of the temporary directory is one.
    let mut header = tar::Header::new_gnu();
    header.set_path("checkpoint/pages-1.img").unwrap();
    header.set_mode(0o644);
    header.set_size(1 << 60);
    header.set_cksum();
    let claim = zstd_of(&[header.as_bytes(), &[0x11; 4096]], 0);
    let err = open_err(&claim, u64::MAX);
    assert!(err.contains("free in the temporary directory"), "{err}");
}
