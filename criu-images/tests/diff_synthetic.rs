//! One synthetic pair per kind of change `Diff` reports: the counter-host
//! images copied twice, the new side edited through our JSON encoder
//! (decode, change one value, encode), and the exact report asserted.

mod common;

use std::path::{Path, PathBuf};

use criu_images::diff::{AreaChange, Change, Diff, DiffOptions, FieldChange, PageChange, PageRange, RootfsChange};
use criu_images::image::Image;
use criu_images::json::{from_json, to_json, DecodeOptions};
use criu_images::Checkpoint;
use serde_json::{json, Value};

const PID: u32 = 24152;

/// Two copies of the counter-host images: `(old, new)` images directories
/// under `scratch/checkpoint/`, so a test can add members at the top.
fn pair(name: &str) -> (PathBuf, PathBuf) {
    let root = std::env::temp_dir().join(format!("criu-images-diff-synth-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let mut dirs = Vec::new();
    for side in ["old", "new"] {
        let images = root.join(side).join("checkpoint");
        std::fs::create_dir_all(&images).unwrap();
        for entry in std::fs::read_dir(common::fixtures_dir().join("counter-host/images")).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), images.join(entry.file_name())).unwrap();
        }
        dirs.push(root.join(side));
    }
    (dirs[0].clone(), dirs[1].clone())
}

/// Decodes image `name` of `dir`, lets `change` edit its JSON, encodes it back.
fn edit(dir: &Path, name: &str, change: impl FnOnce(&mut Value)) {
    let path = dir.join("checkpoint").join(name);
    let bytes = std::fs::read(&path).unwrap();
    let mut doc: Value = serde_json::from_str(&to_json(&Image::parse(name, &bytes).unwrap(), &DecodeOptions::PLAIN).unwrap()).unwrap();
    change(&mut doc);
    std::fs::write(&path, from_json(serde_json::to_string(&doc).unwrap().as_bytes(), name).unwrap()).unwrap();
}

fn compare(old: &Path, new: &Path) -> Diff {
    let (o, n) = (Checkpoint::open(old).unwrap(), Checkpoint::open(new).unwrap());
    let diff = Diff::compute(&o, &n, &DiffOptions::default(), None).unwrap();
    let _ = std::fs::remove_dir_all(old.parent().unwrap());
    diff
}

fn field(name: &str, old: Value, new: Value) -> FieldChange {
    FieldChange { field: name.into(), old, new }
}

/// The one changed process's fields; nothing else may differ.
fn only_process_fields(diff: &Diff) -> Vec<FieldChange> {
    assert!(diff.metadata.is_empty() && diff.files.is_empty() && diff.sockets.is_empty(), "{:#}", diff.to_json());
    assert!(diff.areas.is_empty() && diff.pages.is_empty() && diff.rootfs.is_empty(), "{:#}", diff.to_json());
    assert_eq!(diff.processes.len(), 1, "{:#}", diff.to_json());
    let p = &diff.processes[0];
    assert_eq!((p.pid, p.old_pid, p.change, p.matched_by), (PID, Some(PID), Change::Changed, Some("pid")));
    p.fields.clone()
}

fn core(doc: &mut Value) -> &mut Value {
    &mut doc["entries"][0]
}

#[test]
fn task_state() {
    let (old, new) = pair("state");
    edit(&new, "core-24152.img", |d| core(d)["tc"]["task_state"] = json!(3));
    assert_eq!(only_process_fields(&compare(&old, &new)), [field("state", json!("alive"), json!("stopped"))]);
}

#[test]
fn credentials_and_capabilities() {
    let (old, new) = pair("creds");
    edit(&new, "core-24152.img", |d| {
        let creds = &mut core(d)["thread_core"]["creds"];
        creds["euid"] = json!(1000);
        creds["cap_eff"] = json!([4278190079u64 & !(1 << 21), 511]); // CAP_SYS_ADMIN dropped
    });
    let fields = only_process_fields(&compare(&old, &new));
    let names: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(names, ["creds.euid", "creds.cap_effective"]);
    assert_eq!((fields[0].old.clone(), fields[0].new.clone()), (json!(0), json!(1000)));
    let has_admin = |v: &Value| v.as_array().unwrap().iter().any(|c| c == "CAP_SYS_ADMIN");
    assert!(has_admin(&fields[1].old) && !has_admin(&fields[1].new));
    assert_eq!(fields[1].old.as_array().unwrap().len(), fields[1].new.as_array().unwrap().len() + 1);
}

#[test]
fn signal_dispositions_and_masks() {
    let (old, new) = pair("signals");
    edit(&new, "core-24152.img", |d| {
        let tc = &mut core(d)["tc"];
        tc["sigactions"][13]["sigaction"] = json!(0x401000); // SIGTERM caught
        tc["blk_sigset"] = json!(1u64 << 9); // SIGUSR1 blocked
    });
    let fields = only_process_fields(&compare(&old, &new));
    assert_eq!(
        fields,
        [
            field("threads[24152].blocked", json!([]), json!(["SIGUSR1"])),
            field("sigactions.SIGTERM", Value::Null, json!({"handler": "0x401000", "flags": [], "mask": []})),
        ]
    );
}

#[test]
fn resource_limits() {
    let (old, new) = pair("rlimits");
    edit(&new, "core-24152.img", |d| core(d)["tc"]["rlimits"]["rlimits"][7]["cur"] = json!(1024));
    assert_eq!(only_process_fields(&compare(&old, &new)), [field("rlimits.RLIMIT_NOFILE", json!([20000, 20000]), json!([1024, 20000]))]);
}

#[test]
fn seccomp_mode() {
    let (old, new) = pair("seccomp");
    edit(&new, "core-24152.img", |d| core(d)["thread_core"]["seccomp_mode"] = json!(1));
    assert_eq!(only_process_fields(&compare(&old, &new)), [field("threads[24152].seccomp", json!("disabled"), json!("strict"))]);
}

#[test]
fn namespaces() {
    let (old, new) = pair("ns");
    edit(&new, "ids-24152.img", |d| core(d)["net_ns_id"] = json!(9));
    assert_eq!(only_process_fields(&compare(&old, &new)), [field("namespaces.net", json!(2), json!(9))]);
}

#[test]
fn threads_added() {
    let (old, new) = pair("threads");
    edit(&new, "pstree.img", |d| core(d)["threads"] = json!([PID, PID + 1]));
    std::fs::copy(new.join("checkpoint/core-24152.img"), new.join("checkpoint/core-24153.img")).unwrap();
    let fields = only_process_fields(&compare(&old, &new));
    assert_eq!(fields[0], field("threads", json!([PID]), json!([PID, PID + 1])));
    let added: Vec<&str> = fields[1..].iter().map(|f| f.field.as_str()).collect();
    assert_eq!(added, ["threads[24153].comm", "threads[24153].blocked", "threads[24153].seccomp", "threads[24153].seccomp_filters"]);
    assert!(fields[1..].iter().all(|f| f.old.is_null()));
}

#[test]
fn processes_appeared_and_disappeared() {
    let (old, new) = pair("procs");
    edit(&new, "pstree.img", |d| {
        let child = json!({"pid": 30, "ppid": PID, "pgid": PID, "sid": PID, "threads": [30]});
        d["entries"].as_array_mut().unwrap().push(child);
    });
    std::fs::copy(new.join("checkpoint/core-24152.img"), new.join("checkpoint/core-30.img")).unwrap();
    let (o, n) = (Checkpoint::open(&old).unwrap(), Checkpoint::open(&new).unwrap());
    let forward = Diff::compute(&o, &n, &DiffOptions::default(), None).unwrap();
    let backward = Diff::compute(&n, &o, &DiffOptions::default(), None).unwrap();
    let _ = std::fs::remove_dir_all(old.parent().unwrap());
    let summary = |d: &Diff| d.processes.iter().map(|p| (p.pid, p.change, p.comm.clone(), p.fields.len())).collect::<Vec<_>>();
    assert_eq!(summary(&forward), [(30, Change::Appeared, "counter".to_string(), 0)]);
    assert_eq!(summary(&backward), [(30, Change::Disappeared, "counter".to_string(), 0)]);
    assert!(forward.files.is_empty() && forward.areas.is_empty() && forward.pages.is_empty());
}

#[test]
fn files_opened_closed_repointed_moved() {
    let (old, new) = pair("files");
    edit(&new, "fdinfo-2.img", |d| {
        let fds = d["entries"].as_array_mut().unwrap();
        fds.remove(0); // fd 0 closed
        fds.push(json!({"id": 7, "flags": 0, "type": "REG", "fd": 4})); // a directory opened
    });
    edit(&new, "files.img", |d| {
        for f in d["entries"].as_array_mut().unwrap() {
            match f["id"].as_u64() {
                Some(5) => f["reg"]["name"] = json!("/tmp/elsewhere.out"),
                Some(6) => f["reg"]["pos"] = json!(20),
                _ => {}
            }
        }
    });
    let diff = compare(&old, &new);
    assert!(diff.processes.is_empty() && diff.sockets.is_empty() && diff.pages.is_empty());
    let report: Vec<(u32, &str, Option<&str>)> = diff.files.iter().map(|f| (f.fd, f.change, f.path.as_deref())).collect();
    assert_eq!(
        report,
        [
            (0, "closed", Some("/dev/null")),
            (1, "repointed", Some("/tmp/elsewhere.out")),
            (2, "repointed", Some("/tmp/elsewhere.out")),
            (3, "moved", Some("/tmp/fx-run/counter/counter.log")),
            (4, "opened", Some("/tmp/fx-run/counter")),
        ]
    );
    assert_eq!(diff.files[1].fields, [field("path", json!("/tmp/fx-run/counter/counter.out"), json!("/tmp/elsewhere.out"))]);
    assert_eq!(diff.files[3].fields, [field("pos", json!(10), json!(20))]);
}

#[test]
fn a_new_listening_socket() {
    let (old, new) = pair("sockets");
    edit(&new, "files.img", |d| {
        let sk = json!({"type": "INETSK", "id": 40, "isk": {"id": 40, "ino": 58813, "family": 2, "type": 1, "proto": 6, "state": 10,
            "src_port": 8080, "dst_port": 0, "flags": 2048, "backlog": 128, "src_addr": [0], "dst_addr": [0],
            "fown": {"uid": 0, "euid": 0, "signum": 0, "pid_type": 0, "pid": 0},
            "opts": {"so_sndbuf": 212992, "so_rcvbuf": 212992, "so_snd_tmo_sec": 0, "so_snd_tmo_usec": 0, "so_rcv_tmo_sec": 0, "so_rcv_tmo_usec": 0}}});
        d["entries"].as_array_mut().unwrap().push(sk);
    });
    edit(&new, "fdinfo-2.img", |d| d["entries"].as_array_mut().unwrap().push(json!({"id": 40, "flags": 0, "type": "INETSK", "fd": 5})));
    let diff = compare(&old, &new);
    assert!(diff.files.is_empty() && diff.processes.is_empty(), "{:#}", diff.to_json());
    let report: Vec<(u32, &str, &str, &str)> =
        diff.sockets.iter().map(|s| (s.fd, s.change, s.r#type.as_str(), s.endpoint.as_str())).collect();
    assert_eq!(report, [(5, "listening", "INETSK", "0.0.0.0:8080")]);
}

#[test]
fn memory_areas_perms_grown_removed() {
    let (old, new) = pair("areas");
    edit(&new, "mm-24152.img", |d| {
        let vmas = d["entries"][0]["vmas"].as_array_mut().unwrap();
        vmas[6]["prot"] = json!(7); // anonymous rw- -> rwx
        vmas[12]["end"] = json!(0x7f82_7764_9000u64); // two pages more
        vmas.pop(); // [vsyscall]
    });
    let diff = compare(&old, &new);
    assert!(diff.processes.is_empty() && diff.files.is_empty(), "{:#}", diff.to_json());
    let base = AreaChange {
        pid: PID,
        start: 0,
        old_start: None,
        old_end: None,
        new_end: None,
        change: "changed",
        what: Vec::new(),
        old_perms: None,
        new_perms: None,
        old_path: None,
        new_path: None,
        became_executable: false,
    };
    assert_eq!(
        diff.areas,
        [
            AreaChange {
                start: 0x7f82_7746_2000,
                old_end: Some(0x7f82_7746_5000),
                new_end: Some(0x7f82_7746_5000),
                what: vec!["perms"],
                old_perms: Some("rw-p".into()),
                new_perms: Some("rwxp".into()),
                became_executable: true,
                ..base.clone()
            },
            AreaChange {
                start: 0x7f82_7763_a000,
                old_end: Some(0x7f82_7764_7000),
                new_end: Some(0x7f82_7764_9000),
                what: vec!["grown"],
                old_perms: Some("rw-p".into()),
                new_perms: Some("rw-p".into()),
                ..base.clone()
            },
            AreaChange {
                start: 0xffff_ffff_ff60_0000,
                old_end: Some(0xffff_ffff_ff60_1000),
                change: "removed",
                old_perms: Some("--xp".into()),
                old_path: Some("[vsyscall]".into()),
                ..base
            },
        ]
    );
    // The grown part is zero pages of the new side only; the kernel's
    // [vsyscall] is not in the checkpoint, so not compared.
    assert_eq!(diff.pages, [PageRange { pid: PID, start: 0x7f82_7764_7000, end: 0x7f82_7764_9000, change: PageChange::Added, pages: 2 }]);
}

#[test]
fn memory_pages_changed() {
    let (old, new) = pair("pages");
    let pages = new.join("checkpoint/pages-1.img");
    let mut bytes = std::fs::read(&pages).unwrap();
    // pagemap-24152.img: the first run is one page at 0x559ca35a8000 (pages 0),
    // the second two pages at 0x559ca35aa000 (pages 1 and 2).
    bytes[100] ^= 0xff;
    bytes[2 * 4096 + 7] ^= 0xff;
    std::fs::write(&pages, bytes).unwrap();
    let diff = compare(&old, &new);
    assert!(diff.processes.is_empty() && diff.areas.is_empty(), "{:#}", diff.to_json());
    let range = |start: u64| PageRange { pid: PID, start, end: start + 4096, change: PageChange::Changed, pages: 1 };
    assert_eq!(diff.pages, [range(0x559c_a35a_8000), range(0x559c_a35a_b000)]);
}

#[test]
fn dump_statistics() {
    let (old, new) = pair("stats");
    edit(&new, "stats-dump", |d| {
        let dump = &mut d["entries"][0]["dump"];
        dump["pages_written"] = json!(dump["pages_written"].as_u64().unwrap() + 5);
    });
    let diff = compare(&old, &new);
    assert_eq!(diff.metadata.len(), 1, "{:#}", diff.to_json());
    assert_eq!(diff.metadata[0].field, "stats.pages_written");
    assert_eq!(diff.metadata[0].new.as_u64().unwrap(), diff.metadata[0].old.as_u64().unwrap() + 5);
    assert!(diff.processes.is_empty() && diff.pages.is_empty());
}

fn tar(files: &[(&str, &[u8], u32)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, data, mode) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(*mode);
        header.set_cksum();
        builder.append_data(&mut header, name, *data).unwrap();
    }
    builder.into_inner().unwrap()
}

#[test]
fn root_filesystem() {
    let (old, new) = pair("rootfs");
    std::fs::write(old.join("rootfs-diff.tar"), tar(&[("etc/a", b"1", 0o644), ("etc/b", b"x", 0o644), ("tmp/gone", b"g", 0o600)])).unwrap();
    std::fs::write(new.join("rootfs-diff.tar"), tar(&[("etc/a", b"2", 0o644), ("etc/b", b"x", 0o755), ("new", b"nn", 0o644)])).unwrap();
    std::fs::write(new.join("deleted.files"), br#"["/usr/bin/wget"]"#).unwrap();
    let diff = compare(&old, &new);
    assert!(diff.processes.is_empty() && diff.pages.is_empty(), "{:#}", diff.to_json());
    let sha = |b: &[u8]| {
        use sha2::Digest;
        sha2::Sha256::digest(b).iter().map(|x| format!("{x:02x}")).collect::<String>()
    };
    let change = |path: &str, change: &'static str, old: Option<(u64, u32, &[u8])>, new: Option<(u64, u32, &[u8])>| RootfsChange {
        path: path.into(),
        change,
        old_size: old.map(|o| o.0),
        new_size: new.map(|n| n.0),
        old_mode: old.map(|o| o.1),
        new_mode: new.map(|n| n.1),
        old_sha256: old.map(|o| sha(o.2)),
        new_sha256: new.map(|n| sha(n.2)),
    };
    assert_eq!(
        diff.rootfs,
        [
            change("/etc/a", "changed", Some((1, 0o644, b"1")), Some((1, 0o644, b"2"))),
            change("/etc/b", "changed", Some((1, 0o644, b"x")), Some((1, 0o755, b"x"))),
            change("/new", "added", None, Some((2, 0o644, b"nn"))),
            change("/tmp/gone", "deleted", Some((1, 0o600, b"g")), None),
            change("/usr/bin/wget", "deleted", None, None),
        ]
    );
}

#[test]
fn a_process_with_another_pid_is_matched_by_its_program() {
    let (old, new) = pair("renumbered");
    edit(&new, "pstree.img", |d| {
        let task = core(d);
        task["pid"] = json!(900);
        task["threads"] = json!([900]);
    });
    for kind in ["core", "mm", "pagemap", "ids", "fs"] {
        let dir = new.join("checkpoint");
        std::fs::rename(dir.join(format!("{kind}-24152.img")), dir.join(format!("{kind}-900.img"))).unwrap();
    }
    let diff = compare(&old, &new);
    assert_eq!(diff.processes.len(), 1, "{:#}", diff.to_json());
    let p = &diff.processes[0];
    assert_eq!((p.pid, p.old_pid, p.change, p.matched_by), (900, Some(PID), Change::Changed, Some("program")));
    // The thread ids are the pids: the one thread is renamed, nothing else differs.
    let names: Vec<&str> = p.fields.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(names[0], "threads");
    assert!(names[1..].iter().all(|n| n.starts_with("threads[")), "{names:?}");
    // Memory is compared across the two pids: the same pages.
    assert!(diff.areas.is_empty() && diff.pages.is_empty() && diff.files.is_empty(), "{:#}", diff.to_json());
}

#[test]
fn a_child_with_another_pid_and_command_line_is_matched_by_its_place_in_the_tree() {
    let (old, new) = pair("tree");
    let child = |pid: u32| json!({"pid": pid, "ppid": PID, "pgid": PID, "sid": PID, "threads": [pid]});
    edit(&old, "pstree.img", |d| d["entries"].as_array_mut().unwrap().push(child(30)));
    edit(&new, "pstree.img", |d| d["entries"].as_array_mut().unwrap().push(child(31)));
    std::fs::copy(old.join("checkpoint/core-24152.img"), old.join("checkpoint/core-30.img")).unwrap();
    // The new child has memory (so a command line), the old one none: not the same program.
    for kind in ["core", "mm", "pagemap"] {
        let dir = new.join("checkpoint");
        std::fs::copy(dir.join(format!("{kind}-24152.img")), dir.join(format!("{kind}-31.img"))).unwrap();
    }
    let diff = compare(&old, &new);
    let summary: Vec<(u32, Option<u32>, Change, Option<&str>)> =
        diff.processes.iter().map(|p| (p.pid, p.old_pid, p.change, p.matched_by)).collect();
    assert_eq!(summary, [(31, Some(30), Change::Changed, Some("tree"))], "{:#}", diff.to_json());
    let cmdline = diff.processes[0].fields.iter().find(|f| f.field == "cmdline").unwrap();
    assert_eq!(cmdline.old, json!([]));
    assert!(!cmdline.new.as_array().unwrap().is_empty());
    // The old child has no address space: no areas or pages to compare.
    assert!(diff.areas.is_empty() && diff.pages.is_empty());
}

#[test]
fn queued_data_on_a_unix_socket() {
    // pytree: a unix socketpair with 35 bytes queued (sk-queues.img).
    let root = std::env::temp_dir().join(format!("criu-images-diff-synth-queued-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let members = common::archive_members(&common::fixtures_dir().join("pytree/checkpoint.tar.gz"));
    let (old, new) = (root.join("old"), root.join("new"));
    for side in [&old, &new] {
        for (name, bytes) in members.iter().filter(|(n, _)| n.starts_with("checkpoint/") && !n["checkpoint/".len()..].contains('/')) {
            let path = side.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, bytes).unwrap();
        }
    }
    edit(&new, "sk-queues.img", |d| {
        use base64::Engine as _;
        let entry = &mut d["entries"][0];
        entry["length"] = json!(45);
        entry["extra"] = json!(base64::engine::general_purpose::STANDARD.encode([b'Q'; 45]));
    });
    let (o, n) = (Checkpoint::open(&old).unwrap(), Checkpoint::open(&new).unwrap());
    let diff = Diff::compute(&o, &n, &DiffOptions { memory: false, pid: None }, None).unwrap();
    let _ = std::fs::remove_dir_all(&root);
    assert!(diff.processes.is_empty() && diff.files.is_empty(), "{:#}", diff.to_json());
    let report: Vec<(&str, &str, Vec<FieldChange>)> =
        diff.sockets.iter().map(|s| (s.change, s.r#type.as_str(), s.fields.clone())).collect();
    assert_eq!(report, [("queued", "UNIXSK", vec![field("queued_bytes", json!(35), json!(45))])], "{:#}", diff.to_json());
}
