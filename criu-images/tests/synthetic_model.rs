//! Parts of the model the real fixtures do not exercise, on checkpoints
//! built with our encoder: registers of every architecture, queued
//! signals, seccomp filter chains, and the errors hostile values give.

mod common;

use std::path::{Path, PathBuf};

use base64::Engine as _;
use criu_images::json::from_json;
use criu_images::model::{seccomp_filters, Process};
use criu_images::Checkpoint;
use serde_json::{json, Value};

/// A fresh directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("criu-images-synth-model-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(dir: &Path, name: &str, doc: &Value) {
    let text = serde_json::to_vec(doc).unwrap();
    std::fs::write(dir.join(name), from_json(&text, name).unwrap()).unwrap();
}

fn pstree(dir: &Path, threads: &[u32]) {
    write(dir, "pstree.img", &json!({"magic": "PSTREE", "entries": [{"pid": 1, "ppid": 0, "pgid": 1, "sid": 1, "threads": threads}]}));
}

fn load(dir: &Path) -> criu_images::Result<Vec<Process>> {
    let checkpoint = Checkpoint::open(dir)?;
    Process::load_all(&checkpoint.levels())
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
    let bytes: Vec<u8> = insns.iter().flat_map(|&(code, jt, jf, k)| [code.to_le_bytes().to_vec(), vec![jt, jf], k.to_le_bytes().to_vec()].concat()).collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[test]
fn registers_of_every_architecture_by_field_name() {
    // The inputs of the synthetic core images (tests/fixtures/synthetic).
    let synthetic = common::fixtures_dir().join("synthetic");
    for (arch, ti) in [("arm", "ti_arm"), ("ppc64", "ti_ppc64"), ("s390", "ti_s390"), ("mips", "ti_mips"), ("loongarch64", "ti_loongarch64"), ("riscv64", "ti_riscv64")] {
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
    let worker = thread_core(json!({"blk_sigset": 0, "comm": "worker", "signals_p": {"signals": [{"siginfo": siginfo(10, -6, 7, 0)}, {"siginfo": siginfo(11, 0x80, 0, 0)}]}}));
    write(&dir, "core-2.img", &core(None, worker));
    let p = &load(&dir).unwrap()[0];

    let handlers: Vec<(&str, &str)> = p.sigactions.iter().map(|s| (s.signal.as_str(), s.handler.as_str())).collect();
    assert_eq!(handlers, [("SIGUSR1", "0x401000"), ("SIGTERM", "ignore")]);
    assert_eq!(p.sigactions[0].flag_names(), ["SA_SIGINFO", "SA_RESTORER", "SA_RESTART"]);
    assert_eq!(p.sigactions[0].mask, ["SIGTERM"]);
    assert_eq!(p.pending_signals.len(), 1);
    let shared = &p.pending_signals[0];
    assert_eq!((shared.signal.as_str(), shared.code_name.as_str(), shared.sender_pid, shared.sender_uid), ("SIGTERM", "SI_USER", Some(4242), Some(1000)));
    assert_eq!(p.threads[0].blocked, ["SIGUSR1"]);
    let worker = &p.threads[1];
    assert_eq!((worker.comm.as_str(), worker.blocked.len()), ("worker", 0));
    let queued: Vec<(&str, &str, Option<i32>)> = worker.pending.iter().map(|s| (s.signal.as_str(), s.code_name.as_str(), s.sender_pid)).collect();
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
    write(&dir, "core-1.img", &core(Some(task_core(json!({"old_seccomp_mode": "filter", "old_seccomp_filter": 1}))), thread_core(json!({}))));
    assert_eq!(load(&dir).unwrap()[0].threads[0].seccomp_filters, [1, 0]);

    // Hostile: a thread naming a filter that is not there, a loop, a torn program.
    write(&dir, "core-1.img", &core(Some(task_core(json!({}))), thread_core(json!({"seccomp_mode": "filter", "seccomp_filter": 5}))));
    let err = load(&dir).unwrap_err().to_string();
    assert!(err.contains("core-1.img") && err.contains("seccomp filter 5") && err.contains("2 filters"), "{err}");
    let looped = json!({"magic": "SECCOMP", "entries": [{"seccomp_filters": [{"filter": allow, "prev": 1}, {"filter": allow, "prev": 0}]}]});
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
