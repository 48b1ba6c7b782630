//! The `criu-images` command behaves like crit on the same files: same JSON,
//! stdin/stdout when -i/-o are absent, and clear errors with exit status 1.

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn criu_images(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_criu-images"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdin.take().unwrap();
    if let Some(input) = stdin {
        pipe.write_all(input).unwrap();
    }
    drop(pipe);
    child.wait_with_output().unwrap()
}

fn fixture(path: &str) -> String {
    common::fixtures_dir().join(path).to_string_lossy().into_owned()
}

#[test]
fn decode_writes_crit_json_to_stdout_with_a_newline() {
    let out = criu_images(&["decode", "-i", &fixture("counter-host/images/pstree.img")], None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let golden = std::fs::read(fixture("counter-host/decoded-crit-4.x-plain/pstree.img.json")).unwrap();
    assert_eq!(out.stdout, [golden, b"\n".to_vec()].concat());
}

#[test]
fn decode_reads_stdin_and_writes_files_without_a_newline() {
    let image = std::fs::read(fixture("counter-host/images/mm-24152.img")).unwrap();
    let dir = std::env::temp_dir().join(format!("criu-images-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let json_path = dir.join("mm.json");
    let out = criu_images(&["decode", "--pretty", "-o", json_path.to_str().unwrap()], Some(&image));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let golden = std::fs::read(fixture("counter-host/decoded-crit-4.x/mm-24152.img.json")).unwrap();
    assert_eq!(std::fs::read(&json_path).unwrap(), golden);

    // And back: encode from a file to stdout gives the image bytes.
    let out = criu_images(&["encode", "-i", json_path.to_str().unwrap()], None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.stdout, image);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn show_equals_decode_pretty() {
    let path = fixture("counter-host/images/core-24152.img");
    let show = criu_images(&["show", &path], None);
    let decode = criu_images(&["decode", "--pretty", "-i", &path], None);
    assert!(show.status.success());
    assert_eq!(show.stdout, decode.stdout);
}

#[test]
fn info_prints_magic_and_count_like_crit() {
    let out = criu_images(&["info", &fixture("counter-host/images/pagemap-24152.img")], None);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    // crit leaves the pagemap head out of the count.
    let golden = std::fs::read_to_string(fixture("counter-host/decoded-crit-4.x-plain/pagemap-24152.img.json")).unwrap();
    let entries = golden.matches("\"vaddr\"").count();
    assert_eq!(text, format!("{{\n    \"magic\": \"PAGEMAP\",\n    \"count\": {entries}\n}}\n"));
}

#[test]
fn raw_pages_are_refused_with_an_explanation() {
    let out = criu_images(&["decode", "-i", &fixture("counter-host/images/pages-1.img")], None);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("pages-1.img") && err.contains("raw data"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn bad_json_names_line_and_column() {
    let out = criu_images(&["encode"], Some(b"{\"magic\": \"PSTREE\",\n \"entries\": [{\"pid\": \"x\"}]}"));
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("<stdin>: line 2, column 22") && err.contains("pid"), "{err}");
}

#[test]
fn truncated_images_name_file_offset_and_entry() {
    let mut image = std::fs::read(fixture("counter-host/images/mm-24152.img")).unwrap();
    image.truncate(image.len() - 10);
    let out = criu_images(&["decode"], Some(&image));
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("<stdin>: offset 12 (entry 0): truncated"), "{err}");
}

#[test]
fn a_failed_decode_leaves_no_output_file() {
    // The image frames, but its last entry is not protobuf: the error
    // comes after some of the text was written, and the file goes.
    let mut image = std::fs::read(fixture("counter-host/images/pstree.img")).unwrap();
    image.extend([3, 0, 0, 0, 0x08, 0x80, 0x80]);
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("pstree.img");
    std::fs::write(&input, &image).unwrap();
    let output = dir.path().join("pstree.json");
    let out = criu_images(&["decode", "-i", input.to_str().unwrap(), "-o", output.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("pstree.img: offset") && err.contains("truncated varint"), "{err}");
    assert!(!output.exists());
}

#[test]
fn missing_files_and_bad_usage_fail_cleanly() {
    let out = criu_images(&["show", "/nonexistent/pstree.img"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/pstree.img"));
    let out = criu_images(&["decode", "--no-such-flag"], None);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn images_inside_archives_are_addressed_as_archive_colon_member() {
    let path = format!("{}:checkpoint/pstree.img", fixture("counter/zstd/checkpoint.tar.zst"));
    let out = criu_images(&["decode", "-i", &path], None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let golden = std::fs::read(fixture("counter/zstd/decoded-crit-4.x-plain/pstree.img.json")).unwrap();
    assert_eq!(out.stdout, [golden, b"\n".to_vec()].concat());
    let show = criu_images(&["show", &format!("{}:./checkpoint//core-1.img", fixture("counter/none/checkpoint.tar"))], None);
    assert!(show.status.success());
    let missing = criu_images(&["show", &format!("{}:checkpoint/nope.img", fixture("counter/none/checkpoint.tar"))], None);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no member checkpoint/nope.img"));
}

#[test]
fn ls_lists_members_with_sizes_and_kinds() {
    let out = criu_images(&["ls", &fixture("k8s-counter")], None);
    assert!(out.status.success());
    let tar = std::fs::read_dir(fixture("k8s-counter"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "tar"))
        .unwrap();
    let out = criu_images(&["ls", tar.to_str().unwrap()], None);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.lines().any(|l| l.contains("PSTREE") && l.ends_with("checkpoint/pstree.img")), "{text}");
    assert!(text.lines().any(|l| l.contains("raw: pages") && l.ends_with("checkpoint/pages-1.img")), "{text}");
    assert!(text.lines().any(|l| l.ends_with(" spec.dump")), "{text}");
}

#[test]
fn mem_search_json_reports_markers_at_their_addresses() {
    let truth: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(fixture("threads/truth.json")).unwrap()).unwrap();
    let out = criu_images(
        &[
            "mem",
            "search",
            &fixture("threads/checkpoint.tar.zst"),
            "-r",
            "THREAD-STACK-MARKER-[0-9]+-[0-9a-f]{16}",
            "--context",
            "4",
            "--format",
            "json",
        ],
        None,
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let hits: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let hits = hits.as_array().unwrap();
    for marker in truth["processes"][0]["markers"].as_array().unwrap() {
        let value = marker["value"].as_str().unwrap();
        if !value.starts_with("THREAD-STACK") {
            continue;
        }
        let hex: String = value.bytes().map(|b| format!("{b:02x}")).collect();
        let hit = hits.iter().find(|h| h["address"] == marker["addr"]).unwrap_or_else(|| panic!("{value} not found"));
        assert_eq!(hit["match"], hex.as_str());
        assert_eq!(hit["pid"], 1);
        assert!(hit["context"].as_str().unwrap().contains(&hex));
        assert!(hit["vma_start"].as_u64().unwrap() <= marker["addr"].as_u64().unwrap());
        assert_eq!(hit["perms"], "rw-p");
        // Thread stacks are dumped pages: one run covering the match.
        let (start, end) = (marker["addr"].as_u64().unwrap(), marker["addr"].as_u64().unwrap() + value.len() as u64);
        assert_eq!(hit["origins"], serde_json::json!([{"start": start, "end": end, "origin": "dumped"}]));
    }
}

#[test]
fn mem_read_maps_strings_and_dump() {
    let path = fixture("counter-host/images");
    let truth: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(fixture("counter-host/truth.json")).unwrap()).unwrap();
    let peek = &truth["peeks"]["counter_value_u64"];
    let addr = format!("{:#x}", peek["addr"].as_u64().unwrap());
    let out = criu_images(&["mem", "read", &path, "--pid", "24152", "--addr", &addr, "--len", "8", "--raw"], None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let hex: String = out.stdout.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(hex, peek["hex"].as_str().unwrap());

    let maps = criu_images(&["mem", "maps", &path, "--format", "json"], None);
    let maps: serde_json::Value = serde_json::from_slice(&maps.stdout).unwrap();
    let heap = maps.as_array().unwrap().iter().find(|m| m["path"] == "[heap]").unwrap();
    assert!(heap["pages_dumped"].as_u64().unwrap() >= 1);

    let strings = criu_images(&["mem", "strings", &path, "--kind", "heap", "-n", "30"], None);
    let marker = truth["processes"][0]["markers"][0]["value"].as_str().unwrap();
    assert!(String::from_utf8_lossy(&strings.stdout).contains(marker));

    let dir = std::env::temp_dir().join(format!("criu-images-dump-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out_file = dir.join("heap.bin");
    let heap_start = format!("{:#x}", heap["start"].as_u64().unwrap());
    let out = criu_images(&["mem", "dump", &path, "--pid", "24152", "--vma", &heap_start, "-o", out_file.to_str().unwrap()], None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let dumped = std::fs::read(&out_file).unwrap();
    assert_eq!(dumped.len() as u64, heap["end"].as_u64().unwrap() - heap["start"].as_u64().unwrap());
    let offset = (truth["processes"][0]["markers"][0]["addr"].as_u64().unwrap() - heap["start"].as_u64().unwrap()) as usize;
    assert_eq!(&dumped[offset..offset + marker.len()], marker.as_bytes());
    std::fs::remove_dir_all(&dir).unwrap();

    let bad = criu_images(&["mem", "read", &path, "--pid", "24152", "--addr", "0x10", "--len", "8"], None);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not mapped"));
}

#[test]
fn inspect_json_has_the_documented_shape() {
    let out = criu_images(&["inspect", &fixture("counter/zstd/checkpoint.tar.zst"), "--format", "json"], None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["schema_version"], 1);
    assert!(doc.get("container").is_some());
    let p = &doc["processes"][0];
    for key in ["pid", "ppid", "pgid", "sid", "threads", "comm", "state", "cmdline", "environ", "exe", "cwd", "vmas", "fds"] {
        assert!(p.get(key).is_some(), "missing {key}");
    }
    let truth: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(fixture("counter/zstd/truth.json")).unwrap()).unwrap();
    assert_eq!(p["cmdline"], truth["processes"][0]["cmdline"]);
    assert_eq!(p["environ"]["COUNTER_SECRET"], truth["literals"]["COUNTER_SECRET"]);
    assert!(p["vmas"].as_array().unwrap().iter().any(|v| v["path"] == "[heap]" && v["start"].is_u64() && v["perms"] == "rw-p"));
    assert!(p["fds"].as_array().unwrap().iter().any(|f| f["fd"] == 0 && f["type"].is_string() && f["path"].is_string()));

    let tree = criu_images(&["inspect", &fixture("pytree/checkpoint.tar.gz"), "--sockets"], None);
    let text = String::from_utf8(tree.stdout).unwrap();
    assert!(text.contains("[7] pytree-sub") && text.contains("state=LISTEN"), "{text}");
}

#[test]
fn x_explorers_print_what_crit_prints() {
    let k8s_tar = std::fs::read_dir(fixture("k8s-counter"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "tar"))
        .unwrap();
    let cases = [
        ("counter/none", fixture("counter/none/checkpoint.tar")),
        ("counter/gzip", fixture("counter/gzip/checkpoint.tar.gz")),
        ("counter/zstd", fixture("counter/zstd/checkpoint.tar.zst")),
        ("k8s-counter", k8s_tar.to_string_lossy().into_owned()),
        ("pytree", fixture("pytree/checkpoint.tar.gz")),
        ("threads", fixture("threads/checkpoint.tar.zst")),
        ("pytree-host", fixture("pytree-host/images.tar.zst")),
        ("counter-host", fixture("counter-host/images")),
        ("predump", fixture("predump/dump")),
    ];
    for (name, path) in cases {
        for what in ["ps", "fds", "mems"] {
            let out = criu_images(&["x", &path, what], None);
            assert!(out.status.success(), "{name} {what}: {}", String::from_utf8_lossy(&out.stderr));
            let golden = std::fs::read_to_string(fixture(&format!("{name}/crit/x-{what}.txt"))).unwrap();
            // Debian's crit cannot name memfd mappings; we can.
            let ours = String::from_utf8(out.stdout).unwrap().replace("/memfd:fx-memfd (deleted) (s)", "unknown path (s)");
            assert_eq!(ours, golden, "{name}: x {what}");
        }
        // crit 3.17 shows 0-page runs for CRIU 4.2 images; compare with crit
        // 4.2's algorithm over the 4.2 goldens (scripts/x-rss-goldens.py).
        let out = criu_images(&["x", &path, "rss"], None);
        let golden = std::fs::read_to_string(fixture(&format!("{name}/x-rss-crit-4.2.txt"))).unwrap();
        assert_eq!(String::from_utf8(out.stdout).unwrap(), golden, "{name}: x rss");
    }
    let sk = criu_images(&["x", &fixture("pytree/checkpoint.tar.gz"), "sk"], None);
    let text = String::from_utf8(sk.stdout).unwrap();
    assert!(text.contains("127.0.0.1:40017") && text.contains("LISTEN") && text.contains("in 34 out 0"), "{text}");
}

#[test]
fn rootfs_lists_and_reads_the_changed_files() {
    let path = fixture("pytree/checkpoint.tar.gz");
    let ls = criu_images(&["rootfs", &path, "ls"], None);
    let text = String::from_utf8(ls.stdout).unwrap();
    assert!(text.lines().any(|l| l.ends_with("/data/run/pytree.info.json") && l.contains("file")), "{text}");
    let cat = criu_images(&["rootfs", &path, "cat", "/data/run/pytree.info.json"], None);
    let info: serde_json::Value = serde_json::from_slice(&cat.stdout).unwrap();
    let truth: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(fixture("pytree/truth.json")).unwrap()).unwrap();
    // The program wrote its API key both to this file and to its heap.
    let key = info["api_key"].as_str().unwrap();
    assert!(truth["processes"][0]["markers"].as_array().unwrap().iter().any(|m| m["value"] == key));
    let missing = criu_images(&["rootfs", &path, "cat", "/etc/shadow"], None);
    assert_eq!(missing.status.code(), Some(1));
    let none = criu_images(&["rootfs", &fixture("counter-host/images"), "ls"], None);
    assert!(String::from_utf8_lossy(&none.stderr).contains("no rootfs-diff.tar"));
}

#[test]
fn decode_all_writes_what_crit_writes_for_every_image() {
    let dir = std::env::temp_dir().join(format!("criu-images-decode-all-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for (path, golden) in
        [("pytree/checkpoint.tar.gz", "pytree/decoded-crit-4.x"), ("counter-host/images", "counter-host/decoded-crit-4.x")]
    {
        let out = criu_images(&["decode-all", &fixture(path), "-o", dir.to_str().unwrap(), "--pretty"], None);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let golden = std::path::PathBuf::from(fixture(golden));
        let mut expected: Vec<String> =
            std::fs::read_dir(&golden).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        expected.sort();
        let mut got: Vec<String> =
            std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        got.sort();
        // Podman keeps stats-dump outside checkpoint/; crit's goldens of
        // plain directories include it.
        assert!(expected.iter().all(|n| got.contains(n) || n == "stats-dump.json"), "{got:?} vs {expected:?}");
        for name in &expected {
            if let Ok(ours) = std::fs::read(dir.join(name)) {
                assert_eq!(ours, std::fs::read(golden.join(name)).unwrap(), "{path}: {name}");
            }
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn decode_all_warns_about_unknown_images_and_fails_on_malformed_ones() {
    let dir = tempfile::tempdir().unwrap();
    let images = dir.path().join("images");
    std::fs::create_dir(&images).unwrap();
    for entry in std::fs::read_dir(fixture("counter-host/images")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, images.join(path.file_name().unwrap())).unwrap();
    }
    // An .img with a magic no CRIU image has: warned about, skipped.
    std::fs::write(images.join("core-9.img"), b"\x01\x02\x03\x04\x05\x06\x07\x08rest").unwrap();
    let out_dir = dir.path().join("json");
    let out = criu_images(&["decode-all", images.to_str().unwrap(), "-o", out_dir.to_str().unwrap()], None);
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "{err}");
    assert!(err.contains("warning: core-9.img not decoded"), "{err}");
    assert!(out_dir.join("pstree.img.json").exists() && !out_dir.join("core-9.img.json").exists());
    assert!(!out_dir.join("pages-1.img.json").exists(), "raw pages have no JSON");

    // A protobuf image that frames but does not decode: the run fails and
    // names it; its half-written JSON is not left behind.
    let mut pstree = std::fs::read(images.join("pstree.img")).unwrap();
    pstree.extend([3, 0, 0, 0, 0x08, 0x80, 0x80]);
    std::fs::write(images.join("pstree.img"), pstree).unwrap();
    std::fs::remove_dir_all(&out_dir).unwrap();
    let out = criu_images(&["decode-all", images.to_str().unwrap(), "-o", out_dir.to_str().unwrap()], None);
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("pstree.img: offset") && err.contains("truncated varint"), "{err}");
    assert!(!out_dir.join("pstree.img.json").exists());
}

#[test]
fn show_summarises_a_checkpoint_like_checkpointctl() {
    for (dir, archive) in
        [("counter/zstd", fixture("counter/zstd/checkpoint.tar.zst")), ("counter/none", fixture("counter/none/checkpoint.tar"))]
    {
        let out = criu_images(&["show", &archive, "--stats"], None);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8(out.stdout).unwrap();
        let stats: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(fixture(&format!("{dir}/podman-print-stats.json"))).unwrap()).unwrap();
        let c = &stats["container_statistics"][0];
        assert!(text.contains(&format!("ID:             {}", c["Id"].as_str().unwrap())), "{text}");
        assert!(text.contains(&format!("Container:      {} (Podman, runc)", c["RawInput"].as_str().unwrap())), "{text}");
        let criu = &c["criu_statistics"];
        assert!(text.contains(&format!("Frozen time:     {} us", criu["frozen_time"])), "{text}");
        assert!(text.contains(&format!("Pages written:   {}", criu["pages_written"])), "{text}");
        assert!(text.contains("IP:             10.88.0."), "{text}");
    }
    // A single image is still shown as crit shows it.
    let out = criu_images(&["show", &fixture("counter-host/images/pstree.img")], None);
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("{\n    \"magic\": \"PSTREE\""));
}

#[test]
fn inspect_shows_mounts_and_hostname() {
    let out = criu_images(&["inspect", &fixture("pytree/checkpoint.tar.gz"), "--format", "json"], None);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["uts"]["hostname"], "fx-pytree");
    let mounts = doc["mounts"].as_array().unwrap();
    // podman run -v /usr:/usr:ro: a bind mount from the host.
    assert!(mounts.iter().any(|m| m["mountpoint"] == "/usr" && m["external"] == true), "{mounts:?}");
    assert!(mounts.iter().any(|m| m["mountpoint"] == "/" && m["source"] == "overlay"));
    assert!(mounts.iter().any(|m| m["mountpoint"] == "/proc" && m["fstype"] == "proc"));
    let tree = criu_images(&["inspect", &fixture("pytree/checkpoint.tar.gz"), "--mounts"], None);
    let text = String::from_utf8(tree.stdout).unwrap();
    assert!(text.contains("Hostname: fx-pytree") && text.contains("/proc proc proc"), "{text}");
}

#[test]
fn inspect_shows_signals_seccomp_cgroups_and_locks() {
    let truth: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(fixture("pytree/truth.json")).unwrap()).unwrap();
    let out = criu_images(&["inspect", &fixture("pytree/checkpoint.tar.gz"), "--format", "json"], None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["schema_version"], 1, "additions only");
    let p = &doc["processes"][0];
    // SigIgn 0x1001000: SIGPIPE and SIGXFSZ.
    let ignored: Vec<&str> =
        p["sigactions"].as_array().unwrap().iter().filter(|s| s["handler"] == "ignore").map(|s| s["signal"].as_str().unwrap()).collect();
    assert_eq!(ignored, ["SIGPIPE", "SIGXFSZ"]);
    assert_eq!(p["thread_details"][0]["blocked_signals"], serde_json::json!(["SIGUSR2"]));
    assert_eq!(p["cgroups"].as_array().unwrap().len(), truth["processes"][0]["cgroup"].as_array().unwrap().len());
    assert!(p["locks"].as_array().unwrap().iter().any(|l| l["fd"] == 13 && l["kind"] == "POSIX" && l["end"] == 99));
    let filters = doc["seccomp_filters"].as_array().unwrap();
    let chain = p["thread_details"][1]["seccomp_filters"].as_array().unwrap();
    assert_eq!(chain.len(), 1, "the worker thread inherits the leader's TSYNC filter");
    let filter = &filters[chain[0].as_u64().unwrap() as usize];
    assert_eq!(filter["instructions"].as_u64().unwrap() as usize, filter["disassembly"].as_array().unwrap().len());
    assert!(doc["cgroups"]["controllers"].as_array().unwrap().iter().any(|c| c["names"] == serde_json::json!(["pids"])
        && c["dirs"].as_array().unwrap().iter().any(|d| d["properties"]["pids.max"] == "2048")));

    let tree = criu_images(
        &["inspect", &fixture("pytree/checkpoint.tar.gz"), "--files", "--signals", "--seccomp", "--cgroups", "--pid", "1"],
        None,
    );
    let text = String::from_utf8(tree.stdout).unwrap();
    for line in [
        "12  REG       /data/run/flock.lock  [FLOCK WRITE 0-EOF]",
        "13  REG       /data/run/posix.lock  [POSIX WRITE 0-99]",
        "SIGPIPE: ignored",
        "thread 8 (py-worker-1): blocked SIGUSR2",
        "all threads: filter, 1 filter(s)",
        "pids:/libpod_parent/libpod-9578",
        "pids.max=2048",
    ] {
        assert!(text.contains(line), "{line:?} not in\n{text}");
    }
    assert!(text.contains(&format!("sha256 {}", filter["sha256"].as_str().unwrap())), "{text}");
    let asm = criu_images(&["inspect", &fixture("threads/checkpoint.tar.zst"), "--disassemble"], None);
    let text = String::from_utf8(asm.stdout).unwrap();
    assert!(text.contains("0000: ld [arch]") && text.contains("ret ALLOW"), "{text}");
}

#[test]
fn show_lists_devshm_deleted_files_and_the_dump_log() {
    let out = criu_images(&["show", common::k8s_counter_tar().to_str().unwrap()], None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    // CRI-O keeps dump.log in the archive: one logged error, which CRIU went past.
    assert!(text.contains("CRIU dump log:  CRIU 4.2 (gitid 0), 0 warnings, 1 error, finished successfully"), "{text}");
    assert!(text.contains("  line 68: (00.051176) Error (criu/util.c:1534): rlimit: Can't setup RLIMIT_NOFILE"), "{text}");
    assert!(!text.contains("/dev/shm:") && !text.contains("Deleted files:"), "{text}");

    let out = criu_images(&["show", &fixture("counter/none/checkpoint.tar")], None);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("/dev/shm:       1.5 KiB (devshm-checkpoint.tar)"), "{text}");
    assert!(text.contains("CRIU dump log:  none in the archive"), "{text}");

    // No fixture deleted a file of its image: add a deleted.files to the counter archive.
    let dir = std::env::temp_dir().join(format!("criu-images-cli-deleted-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let with_member = |name: &str, bytes: &[u8]| {
        let path = dir.join(name.replace('.', "-") + ".tar");
        let mut builder = tar::Builder::new(Vec::new());
        for (member, data) in common::archive_members(&common::fixtures_dir().join("counter/none/checkpoint.tar")) {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            builder.append_data(&mut header, &member, &data[..]).unwrap();
        }
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        builder.append_data(&mut header, name, bytes).unwrap();
        std::fs::write(&path, builder.into_inner().unwrap()).unwrap();
        path
    };
    let files: Vec<String> = (0..12).map(|i| format!("/etc/file-{i}")).collect();
    let archive = with_member("deleted.files", serde_json::to_string(&files).unwrap().as_bytes());
    let out = criu_images(&["show", archive.to_str().unwrap()], None);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("Deleted files:  12\n  /etc/file-0\n"), "{text}");
    assert!(text.contains("  /etc/file-9\n  ... and 2 more\n"), "{text}");
    // A list that is not one is refused, naming the member.
    let archive = with_member("deleted.files", br#"{"not": "a list"}"#);
    let out = criu_images(&["show", archive.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("deleted.files"), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_archive_format_is_spelled_one_way() {
    // `tar.gz` in text, JSON (`archive_format`) and Python (`Checkpoint.format`);
    // schema 1's `format` keeps its first spelling for its readers.
    for (path, spelled, schema1) in
        [("pytree/checkpoint.tar.gz", "tar.gz", "targz"), ("counter/zstd/checkpoint.tar.zst", "tar.zst", "tarzst")]
    {
        let out = criu_images(&["inspect", &fixture(path), "--format", "json"], None);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(doc["checkpoint"]["archive_format"], spelled);
        assert_eq!(doc["checkpoint"]["format"], schema1);
        let tree = String::from_utf8(criu_images(&["inspect", &fixture(path)], None).stdout).unwrap();
        assert!(tree.contains(&format!("({spelled}, ")), "{tree}");
        let show = String::from_utf8(criu_images(&["show", &fixture(path)], None).stdout).unwrap();
        assert!(show.contains(&format!("({spelled}, ")), "{show}");
    }
}
