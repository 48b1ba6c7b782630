//! ELF core files of the real fixtures, read by the real gdb and readelf:
//! per fixture and process, the threads, a dozen general registers per
//! thread equal to `core-N.img`, every `truth.json` marker string at its
//! address, the mapped files of `NT_FILE`; `readelf -a -n` without a
//! warning; the threads fixture's one `NT_PRSTATUS` per thread with that
//! thread's own blocked mask.
//!
//! gdb is Debian's `gdb` package (scripts/test installs it): without it
//! these tests fail under CI=true and are skipped (with a message) elsewhere.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use common::synth::scratch;
use criu_images::coredump::{write_core_file, CoreOptions};
use criu_images::{Checkpoint, Message};
use serde_json::Value;

/// The fixtures: a tar.zst (counter), a tar.gz with 3 processes (pytree),
/// 9 threads (threads), a pre-dump chain's final dump (predump).
const FIXTURES: &[(&str, &str)] = &[
    ("counter/zstd/checkpoint.tar.zst", "counter/zstd/truth.json"),
    ("pytree/checkpoint.tar.gz", "pytree/truth.json"),
    ("threads/checkpoint.tar.zst", "threads/truth.json"),
    ("predump/dump", "predump/truth.json"),
];

/// General registers compared by name (gdb's names, the model's names).
const REGISTERS: &[&str] = &[
    "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rip", "eflags", "cs",
    "ss",
];

fn tool(name: &str) -> bool {
    let found = Command::new(name).arg("--version").output().is_ok_and(|o| o.status.success());
    if !found {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{name} is required in CI (scripts/test installs it)");
        eprintln!("skipped: {name} is not installed");
    }
    found
}

fn gdb(core: &Path, commands: &[String]) -> String {
    let mut cmd = Command::new("gdb");
    cmd.args(["-batch", "-nx", "-q"]);
    for c in commands {
        cmd.arg("-ex").arg(c);
    }
    cmd.arg("--core").arg(core);
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "gdb failed on {}: {}", core.display(), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `Thread N (LWP T):` sections of `thread apply all info registers`: LWP -> name -> value.
fn registers_by_lwp(output: &str) -> BTreeMap<u32, BTreeMap<String, u64>> {
    let mut all = BTreeMap::new();
    let mut current: Option<u32> = None;
    for line in output.lines() {
        if let Some(rest) = line.strip_prefix("Thread ") {
            if let Some(lwp) = rest.split("(LWP ").nth(1).and_then(|r| r.split(')').next()) {
                current = lwp.trim().parse().ok();
                all.entry(current.unwrap()).or_insert_with(BTreeMap::new);
                continue;
            }
        }
        let mut words = line.split_whitespace();
        if let (Some(lwp), Some(name), Some(value)) = (current, words.next(), words.next()) {
            if let Some(hex) = value.strip_prefix("0x") {
                if let Ok(v) = u64::from_str_radix(hex, 16) {
                    all.get_mut(&lwp).unwrap().insert(name.to_string(), v);
                }
            }
        }
    }
    all
}

fn truth_process(truth: &Value, pid: u32) -> &Value {
    truth["processes"].as_array().unwrap().iter().find(|p| p["vpid"].as_u64() == Some(u64::from(pid))).unwrap()
}

/// Markers gdb must show: all but those in shared file mappings, whose
/// pages are the file's and not in the checkpoint (see memory_truth.rs).
fn readable_markers(process: &Value) -> Vec<(u64, String)> {
    process["markers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| !(m["mapping_perms"].as_str().unwrap().ends_with('s') && m["mapping_path"].as_str().unwrap().starts_with('/')))
        .map(|m| (m["addr"].as_u64().unwrap(), m["value"].as_str().unwrap().to_string()))
        .collect()
}

#[test]
fn gdb_reads_threads_registers_markers_and_mappings_of_every_fixture_process() {
    if !tool("gdb") || !tool("readelf") {
        return;
    }
    let dir = scratch("gdb");
    let (mut cores, mut markers, mut registers) = (0, 0, 0);
    for (path, truth) in FIXTURES {
        let checkpoint = Checkpoint::open(common::fixtures_dir().join(path)).unwrap();
        let truth: Value = serde_json::from_slice(&std::fs::read(common::fixtures_dir().join(truth)).unwrap()).unwrap();
        for process in checkpoint.processes().unwrap() {
            let core = dir.join(format!("{}.core.{}", path.replace('/', "_"), process.pid));
            let summary = write_core_file(&checkpoint, process.pid, &CoreOptions::default(), &core).unwrap();
            assert_eq!(summary.threads, process.threads.len(), "{path}");
            assert_eq!(summary.areas, process.vmas.len(), "{path}");
            cores += 1;

            let readelf = Command::new("readelf").args(["-a", "-n"]).arg(&core).output().unwrap();
            let text = String::from_utf8_lossy(&readelf.stdout).to_string() + &String::from_utf8_lossy(&readelf.stderr);
            assert!(readelf.status.success() && readelf.stderr.is_empty(), "{path}: readelf: {text}");
            assert!(!text.contains("Warning") && !text.contains("Error"), "{path}: readelf: {text}");
            assert!(text.contains("CORE (Core file)") && text.contains("X86-64"), "{path}");
            assert_eq!(text.matches("NT_PRSTATUS").count(), process.threads.len(), "{path}");

            let wanted = readable_markers(truth_process(&truth, process.pid));
            let mut commands = vec!["info threads".to_string(), "thread apply all info registers".to_string()];
            commands.extend(wanted.iter().map(|(addr, _)| format!("x/s {addr:#x}")));
            commands.push("info proc mappings".into());
            commands.push("thread 1".into());
            commands.push("p/x $fs_base".into());
            let out = gdb(&core, &commands);

            // Threads: one per core image, named by the checkpoint's ids.
            let by_lwp = registers_by_lwp(&out);
            let tids: BTreeSet<u32> = process.threads.iter().map(|t| t.tid).collect();
            assert_eq!(by_lwp.keys().copied().collect::<BTreeSet<_>>(), tids, "{path} pid {}: {out}", process.pid);
            let listed = out
                .lines()
                .filter(|l| {
                    let mut w = l.trim_start_matches(['*', ' ']).split_whitespace();
                    w.next().is_some_and(|id| id.parse::<u32>().is_ok()) && w.next() == Some("LWP")
                })
                .count();
            assert_eq!(listed, tids.len(), "{path}: info threads: {out}");
            // Registers: gdb's values are core-N.img's.
            for thread in &process.threads {
                let gdb_regs = &by_lwp[&thread.tid];
                for name in REGISTERS {
                    let want = thread.registers.iter().find(|(n, _)| n == name).map(|(_, v)| *v).unwrap();
                    assert_eq!(gdb_regs.get(*name), Some(&want), "{path} pid {} tid {} {name}", process.pid, thread.tid);
                    registers += 1;
                }
            }
            let fs_base = process.threads[0].registers.iter().find(|(n, _)| n == "fs_base").unwrap().1;
            assert!(out.contains(&format!("= {fs_base:#x}")), "{path}: fs_base {fs_base:#x}: {out}");
            // Markers at their exact addresses.
            for (addr, value) in &wanted {
                let line =
                    out.lines().find(|l| l.starts_with(&format!("{addr:#x}"))).unwrap_or_else(|| panic!("{path}: no x/s {addr:#x}: {out}"));
                assert!(line.contains(&format!("\"{value}")), "{path}: at {addr:#x}: {line}, expected {value}");
                markers += 1;
            }
            // NT_FILE: every mapped file.
            for vma in process.vmas.iter().filter(|v| v.path.as_deref().is_some_and(|p| p.starts_with('/'))) {
                let start = format!("{:#x}", vma.start);
                let path_name = vma.path.as_deref().unwrap();
                assert!(
                    out.lines().any(|l| l.split_whitespace().next() == Some(&start) && l.contains(path_name)),
                    "{path}: mapping {start} {path_name} not shown: {out}"
                );
            }
            std::fs::remove_file(&core).unwrap();
        }
    }
    assert_eq!(cores, 6);
    assert!(markers >= 50, "{markers} markers");
    assert!(registers >= 6 * 20, "{registers}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The notes of a core file: (name, type, descriptor), in order.
fn notes(file: &[u8]) -> Vec<(String, u32, Vec<u8>)> {
    let u16_at = |o: usize| u16::from_le_bytes(file[o..o + 2].try_into().unwrap()) as usize;
    let u32_at = |o: usize| u32::from_le_bytes(file[o..o + 4].try_into().unwrap());
    let u64_at = |o: usize| u64::from_le_bytes(file[o..o + 8].try_into().unwrap()) as usize;
    let (phoff, phnum) = (u64_at(32), u16_at(56));
    let mut out = Vec::new();
    for i in 0..phnum {
        let ph = phoff + i * 56;
        if u32_at(ph) != 4 {
            continue;
        }
        let (mut at, end) = (u64_at(ph + 8), u64_at(ph + 8) + u64_at(ph + 32));
        while at < end {
            let (namesz, descsz, kind) = (u32_at(at) as usize, u32_at(at + 4) as usize, u32_at(at + 8));
            let name = String::from_utf8_lossy(&file[at + 12..at + 12 + namesz - 1]).into_owned();
            let desc_at = at + 12 + namesz.next_multiple_of(4);
            out.push((name, kind, file[desc_at..desc_at + descsz].to_vec()));
            at = desc_at + descsz.next_multiple_of(4);
        }
    }
    out
}

#[test]
fn every_thread_has_its_own_prstatus_and_blocked_mask() {
    let checkpoint = Checkpoint::open(common::fixtures_dir().join("threads/checkpoint.tar.zst")).unwrap();
    let truth: Value = serde_json::from_slice(&std::fs::read(common::fixtures_dir().join("threads/truth.json")).unwrap()).unwrap();
    let dir = scratch("threads");
    let path = dir.join("core.1");
    write_core_file(&checkpoint, 1, &CoreOptions::default(), &path).unwrap();
    let file = std::fs::read(&path).unwrap();
    let notes = notes(&file);
    let prstatus: Vec<&Vec<u8>> = notes.iter().filter(|(n, k, _)| n == "CORE" && *k == 1).map(|(_, _, d)| d).collect();
    assert_eq!(prstatus.len(), 9);
    let field = |d: &[u8], o: usize| u64::from_le_bytes(d[o..o + 8].try_into().unwrap());
    let pid_of = |d: &[u8]| u32::from_le_bytes(d[32..36].try_into().unwrap());
    // Main thread first.
    assert_eq!(pid_of(prstatus[0]), 1);
    let truth_threads = truth["processes"][0]["threads"].as_array().unwrap();
    let mut distinct = BTreeSet::new();
    for desc in &prstatus {
        assert_eq!(desc.len(), 336, "sizeof(struct elf_prstatus) on x86-64");
        let tid = pid_of(desc);
        let sighold = field(desc, 24);
        let image = checkpoint.image_bytes(&format!("core-{tid}.img")).unwrap();
        let core = criu_images::Image::parse("core", image).unwrap();
        let Message::CoreEntry(entry) = core.entries().next().unwrap().unwrap().decode().unwrap() else { panic!() };
        let saved = entry.thread_core.as_ref().and_then(|t| t.blk_sigset).unwrap_or_else(|| entry.tc.as_ref().unwrap().blk_sigset);
        assert_eq!(sighold, saved, "tid {tid}");
        // pr_reg: rip (index 16) and rsp (19) of the thread's own core image.
        let gp = &entry.thread_info.as_ref().unwrap().gpregs;
        assert_eq!((field(desc, 112 + 16 * 8), field(desc, 112 + 19 * 8)), (gp.ip, gp.sp), "tid {tid}");
        // /proc showed the same mask for the workers (the main thread sat in
        // rt_sigtimedwait, whose temporary mask /proc shows instead).
        let t = truth_threads.iter().find(|t| t["nstid"].as_u64() == Some(u64::from(tid))).unwrap();
        if tid != 1 {
            assert_eq!(format!("{sighold:016x}"), t["sig_blk"].as_str().unwrap(), "tid {tid}");
        }
        distinct.insert(sighold);
    }
    assert!(distinct.len() >= 2, "the workers' masks differ: {distinct:x?}");
    // Once per process: psinfo with the command line, auxv, the mapped files.
    let psinfo = &notes.iter().find(|(_, k, _)| *k == 3).unwrap().2;
    assert_eq!(psinfo.len(), 136);
    assert_eq!(&psinfo[40..52], b"threads-main");
    assert!(String::from_utf8_lossy(&psinfo[56..]).starts_with("/opt/fx/threads /tmp/threads.info 64 4 0x5EED0F0123456789"));
    let auxv = &notes.iter().find(|(_, k, _)| *k == 6).unwrap().2;
    assert_eq!(&auxv[auxv.len() - 16..], &[0u8; 16], "ends with AT_NULL");
    assert_eq!(notes.iter().filter(|(n, k, _)| n == "LINUX" && *k == 0x202).count(), 9, "one NT_X86_XSTATE per thread");
    std::fs::remove_dir_all(&dir).unwrap();
}
