//! Parts of the model the real fixtures do not exercise, on checkpoints
//! built with our encoder: registers of every architecture, queued
//! signals, seccomp filter chains, and the errors hostile values give.

mod common;

use std::path::Path;

use common::synth::{scratch, write};

use base64::Engine as _;
use criu_images::model::{seccomp_filters, Process};
use criu_images::Checkpoint;
use serde_json::{json, Value};

fn pstree(dir: &Path, threads: &[u32]) {
    write(dir, "pstree.img", &json!({"magic": "PSTREE", "entries": [{"pid": 1, "ppid": 0, "pgid": 1, "sid": 1, "threads": threads}]}));
}

fn load(dir: &Path) -> criu_images::Result<Vec<Process>> {
    let checkpoint = Checkpoint::open(dir)?;
    Process::load_all(&checkpoint.chain())
}

/// A 128-byte x86-64 siginfo: signo, errno, code, then pid and uid at 16.
fn siginfo(signo: u32, code: i32, pid: u32, uid: u32) -> String {
    let mut bytes = vec![0u8; 128];
    bytes[0..4].copy_from_slice(&signo.to_le_bytes());
    bytes[8..12].copy_from_slice(&code.to_le_bytes());
    bytes[16..20].copy_from_slice(&pid.to_le_bytes());
    bytes[20..24].copy_from_slice(&uid.to_le_bytes());
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn task_core(extra: Value) -> Value {
    let mut tc = json!({"task_state": 1, "exit_code": 0, "personality": 0, "flags": 0, "blk_sigset": 0, "comm": "app"});
    tc.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    tc
}

fn thread_core(extra: Value) -> Value {
    let mut t = json!({"futex_rla": 0, "futex_rla_len": 0});
    t.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    t
}

fn core(tc: Option<Value>, thread: Value) -> Value {
    let mut entry = json!({"mtype": "X86_64", "thread_core": thread});
    if let Some(tc) = tc {
        entry["tc"] = tc;
    }
    json!({"magic": "CORE", "entries": [entry]})
}

/// An 8-byte BPF instruction, base64 of a sequence of them.
fn bpf(insns: &[(u16, u8, u8, u32)]) -> String {
    let bytes: Vec<u8> = insns
        .iter()
        .flat_map(|&(code, jt, jf, k)| [code.to_le_bytes().to_vec(), vec![jt, jf], k.to_le_bytes().to_vec()].concat())
        .collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[test]
fn registers_of_every_architecture_by_field_name() {
    // The inputs of the synthetic core images (tests/fixtures/synthetic).
    let synthetic = common::fixtures_dir().join("synthetic");
    for (arch, ti) in [
        ("arm", "ti_arm"),
        ("ppc64", "ti_ppc64"),
        ("s390", "ti_s390"),
        ("mips", "ti_mips"),
        ("loongarch64", "ti_loongarch64"),
        ("riscv64", "ti_riscv64"),
    ] {
        let dir = scratch(arch);
        pstree(&dir, &[1]);
        let mut source: Value = serde_json::from_slice(&std::fs::read(synthetic.join(format!("core-{arch}.json"))).unwrap()).unwrap();
        // The image alone: no seccomp.img for the filter its thread names.
        let thread = source["entries"][0]["thread_core"].as_object_mut().unwrap();
        thread.remove("seccomp_mode");
        thread.remove("seccomp_filter");
        write(&dir, "core-1.img", &source);
        let gpregs = source["entries"][0][ti]["gpregs"].as_object().unwrap();
        let mut want = Vec::new();
        for (name, value) in gpregs {
            match value {
                Value::Array(values) => want.extend(values.iter().enumerate().map(|(i, v)| (format!("{name}[{i}]"), v.as_u64().unwrap()))),
                Value::Number(n) => want.push((name.clone(), n.as_u64().unwrap())),
                _ => {}
            }
        }
        let processes = load(&dir).unwrap();
        let mut got = processes[0].threads[0].registers.clone();
        got.sort();
        want.sort();
        assert_eq!(got, want, "{arch}");
        assert!(got.len() >= 18, "{arch}: {}", got.len());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn queued_signals_and_dispositions() {
    let dir = scratch("signals");
    pstree(&dir, &[1, 2]);
    let mut sigactions = vec![json!({"sigaction": 0, "flags": 0, "restorer": 0, "mask": 0}); 62];
    sigactions[8] = json!({"sigaction": 0x401000, "flags": 0x1400_0004u64, "restorer": 0x7f00_0000_1000u64, "mask": 1 << 14}); // SIGUSR1 (10): entry 8, as SIGKILL (9) has none
    sigactions[13] = json!({"sigaction": 1, "flags": 0, "restorer": 0, "mask": 0}); // SIGTERM (15)
    let tc = task_core(json!({"sigactions": sigactions, "signals_s": {"signals": [{"siginfo": siginfo(15, 0, 4242, 1000)}]}}));
    write(&dir, "core-1.img", &core(Some(tc), thread_core(json!({"blk_sigset": 1 << 9, "comm": "main"}))));
    let worker = thread_core(
        json!({"blk_sigset": 0, "comm": "worker", "signals_p": {"signals": [{"siginfo": siginfo(10, -6, 7, 0)}, {"siginfo": siginfo(11, 0x80, 0, 0)}]}}),
    );
    write(&dir, "core-2.img", &core(None, worker));
    let p = &load(&dir).unwrap()[0];

    let handlers: Vec<(&str, &str)> = p.sigactions.iter().map(|s| (s.signal.as_str(), s.handler.as_str())).collect();
    assert_eq!(handlers, [("SIGUSR1", "0x401000"), ("SIGTERM", "ignore")]);
    assert_eq!(p.sigactions[0].flag_names(), ["SA_SIGINFO", "SA_RESTORER", "SA_RESTART"]);
    assert_eq!(p.sigactions[0].mask, ["SIGTERM"]);
    assert_eq!(p.pending_signals.len(), 1);
    let shared = &p.pending_signals[0];
    assert_eq!(
        (shared.signal.as_str(), shared.code_name.as_str(), shared.sender_pid, shared.sender_uid),
        ("SIGTERM", "SI_USER", Some(4242), Some(1000))
    );
    assert_eq!(p.threads[0].blocked, ["SIGUSR1"]);
    let worker = &p.threads[1];
    assert_eq!((worker.comm.as_str(), worker.blocked.len()), ("worker", 0));
    let queued: Vec<(&str, &str, Option<i32>)> =
        worker.pending.iter().map(|s| (s.signal.as_str(), s.code_name.as_str(), s.sender_pid)).collect();
    assert_eq!(queued, [("SIGUSR1", "SI_TKILL", Some(7)), ("SIGSEGV", "SI_KERNEL", None)]);

    // A siginfo too short to hold its header is refused, naming the image.
    let short = base64::engine::general_purpose::STANDARD.encode([0u8; 10]);
    write(&dir, "core-2.img", &core(None, thread_core(json!({"signals_p": {"signals": [{"siginfo": short}]}}))));
    let err = load(&dir).unwrap_err().to_string();
    assert!(err.contains("core-2.img: offset 8 (entry 0)") && err.contains("siginfo of 10 bytes"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn seccomp_chains_strict_mode_and_old_images() {
    let dir = scratch("seccomp");
    pstree(&dir, &[1, 2, 3]);
    let allow = bpf(&[(0x06, 0, 0, 0x7fff_0000)]);
    let deny_ptrace = bpf(&[(0x20, 0, 0, 0), (0x15, 0, 1, 101), (0x06, 0, 0, 0x0005_0001), (0x06, 0, 0, 0x7fff_0000)]);
    write(
        &dir,
        "seccomp.img",
        &json!({"magic": "SECCOMP", "entries": [{"seccomp_filters": [
            {"filter": allow, "flags": 0},
            {"filter": deny_ptrace, "prev": 0, "flags": 2},
        ]}]}),
    );
    write(&dir, "core-1.img", &core(Some(task_core(json!({}))), thread_core(json!({"seccomp_mode": "filter", "seccomp_filter": 1}))));
    write(&dir, "core-2.img", &core(None, thread_core(json!({"seccomp_mode": "filter", "seccomp_filter": 0}))));
    write(&dir, "core-3.img", &core(None, thread_core(json!({"seccomp_mode": "strict"}))));
    let p = &load(&dir).unwrap()[0];
    let chains: Vec<(&str, &[u32])> = p.threads.iter().map(|t| (t.seccomp.as_str(), t.seccomp_filters.as_slice())).collect();
    assert_eq!(chains, [("filter", &[1, 0][..]), ("filter", &[0][..]), ("strict", &[][..])]);
    let filters = seccomp_filters(Checkpoint::open(&dir).unwrap().images()).unwrap();
    assert_eq!(filters[1].instructions, 4);
    assert_eq!(filters[1].disassembly, ["0000: ld [nr]", "0001: jeq #0x65, 2, 3", "0002: ret ERRNO(1)", "0003: ret ALLOW"]);
    assert_eq!(filters[1].actions, ["ERRNO(1)", "ALLOW"]);
    assert_eq!(filters[1].flag_names(), ["LOG"]);
    assert_ne!(filters[0].sha256, filters[1].sha256);

    // CRIU before 3.x kept mode and filter in the task core.
    write(
        &dir,
        "core-1.img",
        &core(Some(task_core(json!({"old_seccomp_mode": "filter", "old_seccomp_filter": 1}))), thread_core(json!({}))),
    );
    assert_eq!(load(&dir).unwrap()[0].threads[0].seccomp_filters, [1, 0]);

    // Hostile: a thread naming a filter that is not there, a loop, a torn program.
    write(&dir, "core-1.img", &core(Some(task_core(json!({}))), thread_core(json!({"seccomp_mode": "filter", "seccomp_filter": 5}))));
    let err = load(&dir).unwrap_err().to_string();
    assert!(err.contains("core-1.img") && err.contains("seccomp filter 5") && err.contains("2 filters"), "{err}");
    let looped =
        json!({"magic": "SECCOMP", "entries": [{"seccomp_filters": [{"filter": allow, "prev": 1}, {"filter": allow, "prev": 0}]}]});
    write(&dir, "seccomp.img", &looped);
    write(&dir, "core-1.img", &core(Some(task_core(json!({}))), thread_core(json!({"seccomp_mode": "filter", "seccomp_filter": 0}))));
    let err = load(&dir).unwrap_err().to_string();
    assert!(err.contains("chain loops"), "{err}");
    let torn = base64::engine::general_purpose::STANDARD.encode([0u8; 7]);
    write(&dir, "seccomp.img", &json!({"magic": "SECCOMP", "entries": [{"seccomp_filters": [{"filter": torn}]}]}));
    let err = load(&dir).unwrap_err().to_string();
    assert!(err.contains("seccomp.img: offset 8 (entry 0)") && err.contains("7 bytes; expected a multiple of 8"), "{err}");
    write(&dir, "seccomp.img", &json!({"magic": "SECCOMP", "entries": [{"seccomp_filters": [{"filter": allow, "prev": 9}]}]}));
    let err = load(&dir).unwrap_err().to_string();
    assert!(err.contains("names filter 9"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn too_many_sigactions_are_refused() {
    let dir = scratch("sigactions");
    pstree(&dir, &[1]);
    let sigactions = vec![json!({"sigaction": 1, "flags": 0, "restorer": 0, "mask": 0}); 70];
    write(&dir, "core-1.img", &core(Some(task_core(json!({"sigactions": sigactions}))), thread_core(json!({}))));
    let err = load(&dir).unwrap_err().to_string();
    assert!(err.contains("core-1.img: offset 8 (entry 0)") && err.contains("70 sigactions"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn every_file_type_gets_its_path_and_details() {
    use criu_images::model::Detail::{Bool, Int, Text, Texts};
    let dir = scratch("files");
    pstree(&dir, &[1]);
    write(&dir, "core-1.img", &core(Some(task_core(json!({}))), thread_core(json!({}))));
    write(&dir, "ids-1.img", &json!({"magic": "IDS", "entries": [{"vm_id": 1, "files_id": 1, "fs_id": 1, "sighand_id": 1}]}));
    // Every file type of files.proto, as the synthetic files.img has them, plus terminals and a pidfd.
    let synthetic = common::fixtures_dir().join("synthetic");
    let mut files: Value = serde_json::from_slice(&std::fs::read(synthetic.join("files.json")).unwrap()).unwrap();
    let fown = json!({"uid": 0, "euid": 0, "signum": 0, "pid_type": 0, "pid": 0});
    let entries = files["entries"].as_array_mut().unwrap();
    entries.retain(|e| e["type"] != "TTY");
    for (id, info, regf) in [(50, 6, None), (51, 7, None), (52, 2, None), (53, 6, Some(54))] {
        let mut tty = json!({"id": id, "tty_info_id": info, "flags": 2, "fown": fown});
        if let Some(regf) = regf {
            tty["regf_id"] = json!(regf);
        }
        entries.push(json!({"type": "TTY", "id": id, "tty": tty}));
    }
    entries.push(json!({"type": "REG", "id": 54, "reg": {"id": 54, "flags": 2, "pos": 0, "fown": fown, "name": "/dev/pts/3"}}));
    entries.push(json!({"type": "PIDFD", "id": 41, "pidfd": {"id": 41, "ino": 3042, "flags": 526336, "nspid": 4245, "fown": fown}}));
    let fds: Vec<Value> = entries
        .iter()
        .filter(|e| e["id"] != 54 && e["id"] != 5 && e["id"] != 8)
        .map(|e| json!({"id": e["id"], "flags": 0, "type": e["type"], "fd": e["id"]}))
        .collect();
    write(&dir, "files.img", &files);
    write(&dir, "fdinfo-1.img", &json!({"magic": "FDINFO", "entries": fds}));
    let pty = |id: u32| json!({"id": id, "type": "PTY", "locked": false, "exclusive": false, "packet_mode": false, "sid": 1, "pgrp": 1, "rdev": (136 << 8) | 3, "winsize": {"ws_row": 50, "ws_col": 160, "ws_xpixel": 0, "ws_ypixel": 0}, "pty": {"index": 3}});
    let console = json!({"id": 2, "type": "CONSOLE", "locked": false, "exclusive": true, "packet_mode": false, "sid": 1, "pgrp": 1, "rdev": (5 << 8) | 1});
    write(&dir, "tty-info.img", &json!({"magic": "TTY_INFO", "entries": [pty(6), pty(7), console]}));
    write(&dir, "tty-data.img", &json!({"magic": "TTY_DATA", "entries": [{"tty_id": 6, "data": "aGVsbG8="}]}));
    std::fs::copy(synthetic.join("bpfmap_data.img"), dir.join("bpfmap-data.img")).unwrap();

    let p = &load(&dir).unwrap()[0];
    let fd = |n: u32| p.fds.iter().find(|f| f.fd == n).unwrap_or_else(|| panic!("fd {n}"));
    let detail = |n: u32, key: &str| fd(n).details.iter().find(|(k, _)| *k == key).map(|(_, v)| v.clone());
    let paths: Vec<(u32, &str, Option<&str>)> = p.fds.iter().map(|f| (f.fd, f.r#type.as_str(), f.path.as_deref())).collect();
    for (n, kind, path) in [
        (13, "PACKETSK", None), // CRIU does not record a packet socket's inode
        (16, "FANOTIFY", Some("anon_inode:[fanotify]")),
        (17, "NETLINKSK", Some("socket:[59002]")),
        (18, "NS", None), // CRIU records its own namespace id, not the kernel's inode
        (19, "TUNF", Some("/dev/net/tun")),
        (20, "EXT", None),
        (23, "BPFMAP", Some("anon_inode:bpf-map")),
        (41, "PIDFD", Some("anon_inode:[pidfd]")),
        (50, "TTY", Some("/dev/pts/3")),
        (51, "TTY", Some("/dev/ptmx")),
        (52, "TTY", Some("/dev/console")),
        (53, "TTY", Some("/dev/pts/3")),
    ] {
        assert!(paths.contains(&(n, kind, path)), "fd {n} {kind} {path:?}: {paths:?}");
    }
    assert_eq!(detail(13, "protocol"), Some(Text("0x0003".into())), "ETH_P_ALL");
    assert_eq!(detail(13, "type"), Some(Text("RAW".into())));
    assert_eq!(detail(16, "class"), Some(Text("notif".into())));
    assert!(matches!(detail(16, "marks"), Some(Texts(m)) if m[0] == "/srv/data mask=0x3b"));
    assert_eq!(detail(17, "protocol"), Some(Text("ROUTE".into())));
    assert_eq!(detail(17, "groups"), Some(Texts(vec!["1".into()])));
    assert_eq!(detail(18, "namespace"), Some(Text("net".into())));
    assert_eq!(detail(18, "ns_id"), Some(Int(2)));
    assert_eq!(detail(19, "netdev"), Some(Text("tap0".into())));
    assert_eq!(detail(23, "map_type"), Some(Text("HASH".into())));
    assert_eq!(detail(23, "map_name"), Some(Text("counters".into())));
    assert_eq!(detail(23, "saved_entries"), Some(Int(3)));
    assert_eq!(detail(41, "pid"), Some(Int(4245)));
    assert_eq!(detail(50, "tty_type"), Some(Text("PTY".into())));
    assert_eq!((detail(50, "index"), detail(50, "master"), detail(51, "master")), (Some(Int(3)), Some(Bool(false)), Some(Bool(true))));
    assert_eq!(detail(50, "rdev"), Some(Text("136:3".into())));
    assert_eq!(detail(50, "winsize"), Some(Text("160x50".into())));
    assert_eq!(detail(50, "buffered_bytes"), Some(Int(5)));
    assert_eq!(detail(52, "tty_type"), Some(Text("CONSOLE".into())));
    std::fs::remove_dir_all(&dir).unwrap();
}

mod mutated {
    use super::*;
    use proptest::prelude::*;

    /// The pytree images the model reads beyond framing, in memory.
    fn pytree() -> &'static common::Files {
        static SET: std::sync::OnceLock<common::Files> = std::sync::OnceLock::new();
        SET.get_or_init(|| {
            let set = common::image_sets().into_iter().find(|s| s.label == "pytree").unwrap();
            common::levels_of(&set).remove(0)
        })
    }

    const TARGETS: &[&str] =
        &["core-1.img", "core-8.img", "seccomp.img", "cgroup.img", "filelocks.img", "files.img", "fdinfo-2.img", "ids-1.img"];

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

        /// Bytes changed anywhere in the images the model reads: an error or a model, never a panic.
        #[test]
        fn mutated_model_images_never_panic(target in prop::sample::select(TARGETS), edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
            let base = pytree();
            let mut files = base.files.clone();
            let bytes = files.get_mut(target).unwrap();
            for (at, value) in edits {
                // Keep the 8 bytes of magic: past them is what the model reads.
                let len = bytes.len() - 8;
                bytes[8 + at.index(len)] = value;
            }
            let store = common::Files { label: base.label.clone(), files };
            let _ = Process::load_all(&criu_images::chain::DumpChain::single(&store));
            let _ = seccomp_filters(&store);
            let _ = criu_images::model::cgroups(&store);
        }
    }
}
