//! Core files of checkpoints built with our encoder: the arm64 layouts
//! (with 16 KiB pages), and what hostile images give: other machines,
//! absurd register counts, overlapping or wrapping areas, threads without
//! registers, thousands of threads. Errors name the image, nothing is left
//! half-written, and memory stays bounded.

mod common;

#[path = "common/largest_alloc.rs"]
mod largest_alloc;

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use common::synth::{scratch, write};
use criu_images::coredump::{write_core_file, CoreOptions};
use criu_images::json::from_json;
use criu_images::Checkpoint;
use largest_alloc::{Largest, LARGEST};
use serde_json::{json, Value};

#[global_allocator]
static ALLOCATOR: Largest = Largest;

const PAGE: u64 = 16384;

/// The tests of this binary run one at a time: the allocation bound
/// measures one of them.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}
const BASE: u64 = 0xffff_8000_0000;

fn synthetic(name: &str) -> Value {
    serde_json::from_slice(&std::fs::read(common::fixtures_dir().join("synthetic").join(format!("{name}.json"))).unwrap()).unwrap()
}

/// A one-process checkpoint: `core` as core-1.img (and the other threads'),
/// two areas (a dumped page with a marker and the command line, then an
/// untouched one), a 16 KiB page size from the saved auxv.
fn checkpoint_dir(name: &str, core: &Value, threads: &[u32], vmas: Option<Value>) -> PathBuf {
    let dir = scratch(name);
    write(&dir, "pstree.img", &json!({"magic": "PSTREE", "entries": [{"pid": 1, "ppid": 0, "pgid": 1, "sid": 1, "threads": threads}]}));
    let image = from_json(&serde_json::to_vec(core).unwrap(), "core-1.img").unwrap();
    for tid in threads {
        std::fs::write(dir.join(format!("core-{tid}.img")), &image).unwrap();
    }
    let vmas = vmas.unwrap_or_else(|| {
        json!([
            {"start": BASE, "end": BASE + PAGE, "pgoff": 0, "shmid": 0, "prot": 3, "flags": 34, "status": 513, "fd": -1},
            {"start": BASE + PAGE, "end": BASE + 4 * PAGE, "pgoff": 0, "shmid": 0, "prot": 5, "flags": 34, "status": 513, "fd": -1}
        ])
    });
    write(
        &dir,
        "mm-1.img",
        &json!({"magic": "MM", "entries": [{"mm_start_code": 0, "mm_end_code": 0, "mm_start_data": 0, "mm_end_data": 0,
            "mm_start_stack": 0, "mm_start_brk": 0, "mm_brk": 0, "mm_arg_start": BASE + 64, "mm_arg_end": BASE + 74,
            "mm_env_start": BASE + 74, "mm_env_end": BASE + 75, "exe_file_id": 0,
            "mm_saved_auxv": [6, PAGE, 16, 0x1234, 0, 0, 0, 0], "vmas": vmas}]}),
    );
    write(
        &dir,
        "pagemap-1.img",
        &json!({"magic": "PAGEMAP", "entries": [{"pages_id": 1}, {"vaddr": BASE, "compat_nr_pages": 0, "flags": 4, "nr_pages": 1}]}),
    );
    let mut page = vec![0u8; PAGE as usize];
    page[64..74].copy_from_slice(b"app\0--arg\0");
    page[1000..1013].copy_from_slice(b"ARM64-MARKER\0");
    std::fs::write(dir.join("pages-1.img"), page).unwrap();
    dir
}

fn out_dir(dir: &Path) -> PathBuf {
    let out = dir.join("out");
    std::fs::create_dir_all(&out).unwrap();
    out
}

/// Notes (name, type, descriptor) and program headers (type, offset, vaddr, filesz, align) of a little-endian core.
#[allow(clippy::type_complexity)]
fn parse(file: &[u8]) -> (u16, Vec<(String, u32, Vec<u8>)>, Vec<(u32, u64, u64, u64, u64)>) {
    let u16_at = |o: usize| u16::from_le_bytes(file[o..o + 2].try_into().unwrap());
    let u32_at = |o: usize| u32::from_le_bytes(file[o..o + 4].try_into().unwrap());
    let u64_at = |o: usize| u64::from_le_bytes(file[o..o + 8].try_into().unwrap());
    let (phoff, phnum) = (u64_at(32) as usize, u16_at(56) as usize);
    let mut notes = Vec::new();
    let mut loads = Vec::new();
    for i in 0..phnum {
        let ph = phoff + i * 56;
        loads.push((u32_at(ph), u64_at(ph + 8), u64_at(ph + 16), u64_at(ph + 32), u64_at(ph + 48)));
        if u32_at(ph) != 4 {
            continue;
        }
        let (mut at, end) = (u64_at(ph + 8) as usize, (u64_at(ph + 8) + u64_at(ph + 32)) as usize);
        while at < end {
            let (namesz, descsz, kind) = (u32_at(at) as usize, u32_at(at + 4) as usize, u32_at(at + 8));
            let name = String::from_utf8_lossy(&file[at + 12..at + 12 + namesz - 1]).into_owned();
            let desc_at = at + 12 + namesz.next_multiple_of(4);
            notes.push((name, kind, file[desc_at..desc_at + descsz].to_vec()));
            at = desc_at + descsz.next_multiple_of(4);
        }
    }
    (u16_at(18), notes, loads)
}

#[test]
fn arm64_core_in_the_kernel_layouts() {
    let _serial = serial();
    let core = synthetic("core-aarch64");
    let ti = core["entries"][0]["ti_aarch64"].clone();
    let dir = checkpoint_dir("arm64", &core, &[1], None);
    let checkpoint = Checkpoint::open(&dir).unwrap();
    let path = out_dir(&dir).join("core.1");
    let summary = write_core_file(&checkpoint, 1, &CoreOptions::default(), &path).unwrap();
    assert_eq!((summary.machine, summary.threads, summary.areas), ("aarch64", 1, 2));
    let file = std::fs::read(&path).unwrap();
    let (machine, notes, phdrs) = parse(&file);
    assert_eq!(machine, 183, "EM_AARCH64");
    let kinds: Vec<(&str, u32)> = notes.iter().map(|(n, k, _)| (n.as_str(), *k)).collect();
    assert_eq!(kinds, [("CORE", 1), ("CORE", 3), ("CORE", 6), ("CORE", 0x4649_4c45), ("CORE", 2), ("LINUX", 0x401), ("CORE", 0x5349_4749)]);
    let prstatus = &notes[0].2;
    assert_eq!(prstatus.len(), 392, "sizeof(struct elf_prstatus) on arm64");
    let reg = |i: usize| u64::from_le_bytes(prstatus[112 + i * 8..120 + i * 8].try_into().unwrap());
    let regs = ti["gpregs"]["regs"].as_array().unwrap();
    for (i, want) in regs.iter().enumerate() {
        assert_eq!(reg(i), want.as_u64().unwrap(), "x{i}");
    }
    assert_eq!((reg(31), reg(32), reg(33)), (ti["gpregs"]["sp"].as_u64().unwrap(), ti["gpregs"]["pc"].as_u64().unwrap(), 2684354560));
    // blocked: thread_core.blk_sigset (0) over tc's (65536); pending: signals_p (14 and 34).
    assert_eq!(u64::from_le_bytes(prstatus[24..32].try_into().unwrap()), 0);
    assert_eq!(u64::from_le_bytes(prstatus[16..24].try_into().unwrap()), (1 << 13) | (1 << 33));
    let fpsimd = &notes[4].2;
    assert_eq!(fpsimd.len(), 528);
    assert_eq!(&fpsimd[16..24], &4611686018427387904u64.to_le_bytes(), "v1 low half");
    assert_eq!(&fpsimd[512..516], &16u32.to_le_bytes(), "fpsr");
    assert_eq!(notes[5].2, ti["tls"].as_u64().unwrap().to_le_bytes());
    let psinfo = &notes[1].2;
    assert_eq!(&psinfo[40..46], b"sleep\0");
    assert_eq!(&psinfo[56..66], b"app --arg ");
    assert_eq!(u32::from_le_bytes(psinfo[16..20].try_into().unwrap()), 1000, "uid");
    assert_eq!(notes[2].2.len(), 3 * 16, "auxv up to AT_NULL");
    // Loads: page-aligned at the images' page size; the marker at its address.
    let loads: Vec<_> = phdrs.iter().filter(|p| p.0 == 1).collect();
    assert_eq!(loads.len(), 2);
    assert!(loads.iter().all(|l| l.1 % PAGE == 0 && l.4 == PAGE));
    let (_, offset, vaddr, filesz, _) = *loads[0];
    assert_eq!((vaddr, filesz), (BASE, PAGE));
    assert_eq!(&file[offset as usize + 1000..offset as usize + 1012], b"ARM64-MARKER");
    // The untouched area is a hole that reads as zeros, up to the end of the file.
    let (_, offset, _, filesz, _) = *loads[1];
    assert_eq!(file.len() as u64, offset + filesz);
    assert!(file[offset as usize..].iter().all(|&b| b == 0));
    if std::process::Command::new("readelf").arg("--version").output().is_ok() {
        let out = std::process::Command::new("readelf").args(["-a", "-n"]).arg(&path).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success() && out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(text.contains("AArch64") && text.contains("NT_ARM_TLS"), "{text}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Nothing but the complete cores in the output directory.
fn assert_empty(out: &Path) {
    let left: Vec<_> = std::fs::read_dir(out).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

fn fails(name: &str, core: &Value, threads: &[u32], vmas: Option<Value>) -> String {
    let dir = checkpoint_dir(name, core, threads, vmas);
    let out = out_dir(&dir);
    let checkpoint = Checkpoint::open(&dir).unwrap();
    let err = write_core_file(&checkpoint, 1, &CoreOptions::default(), &out.join("core.1")).unwrap_err().to_string();
    assert_empty(&out);
    std::fs::remove_dir_all(&dir).unwrap();
    err
}

#[test]
fn other_machines_are_named_not_written_as_x86() {
    let _serial = serial();
    let err = fails("ppc64", &synthetic("core-ppc64"), &[1], None);
    assert!(err.contains("core-1.img") && err.contains("machine ppc64") && err.contains("x86_64 and aarch64 only"), "{err}");
}

#[test]
fn absurd_register_counts_are_errors() {
    let _serial = serial();
    let mut core = synthetic("core-aarch64");
    core["entries"][0]["ti_aarch64"]["gpregs"]["regs"] = json!(vec![7u64; 100_000]);
    let err = fails("regs", &core, &[1], None);
    assert!(err.contains("core-1.img") && err.contains("100000 registers; expected 31"), "{err}");
    let mut core = synthetic("core-aarch64");
    core["entries"][0]["ti_aarch64"]["fpsimd"]["vregs"] = json!(vec![1u64; 3]);
    let err = fails("vregs", &core, &[1], None);
    assert!(err.contains("vregs has 3 words; expected 64"), "{err}");
}

#[test]
fn overlapping_and_wrapping_areas_are_errors() {
    let _serial = serial();
    let core = synthetic("core-aarch64");
    let overlapping = json!([
        {"start": BASE, "end": BASE + 2 * PAGE, "pgoff": 0, "shmid": 0, "prot": 3, "flags": 34, "status": 513, "fd": -1},
        {"start": BASE + PAGE, "end": BASE + 3 * PAGE, "pgoff": 0, "shmid": 0, "prot": 3, "flags": 34, "status": 513, "fd": -1}
    ]);
    let err = fails("overlap", &core, &[1], Some(overlapping));
    assert!(err.contains("mm-1.img"), "{err}");
    let wrapping = json!([
        {"start": BASE, "end": BASE + PAGE, "pgoff": 0, "shmid": 0, "prot": 3, "flags": 34, "status": 513, "fd": -1},
        {"start": u64::MAX - PAGE + 1, "end": PAGE, "pgoff": 0, "shmid": 0, "prot": 3, "flags": 34, "status": 513, "fd": -1}
    ]);
    let err = fails("wrap", &core, &[1], Some(wrapping));
    assert!(err.contains("mm-1.img"), "{err}");
}

#[test]
fn a_thread_without_registers_is_an_error() {
    let _serial = serial();
    let dir = checkpoint_dir("no-thread-core", &synthetic("core-aarch64"), &[1], None);
    write(&dir, "pstree.img", &json!({"magic": "PSTREE", "entries": [{"pid": 1, "ppid": 0, "pgid": 1, "sid": 1, "threads": [1, 2]}]}));
    let out = out_dir(&dir);
    let checkpoint = Checkpoint::open(&dir).unwrap();
    let err = write_core_file(&checkpoint, 1, &CoreOptions::default(), &out.join("core.1")).unwrap_err().to_string();
    assert!(err.contains("core-2.img") && err.contains("thread 2"), "{err}");
    assert_empty(&out);
    // A target that is not a regular file is refused, not replaced.
    std::fs::create_dir(out.join("core.dir")).unwrap();
    let err = write_core_file(&checkpoint, 1, &CoreOptions::default(), &out.join("core.dir")).unwrap_err().to_string();
    assert!(err.contains("not a regular file"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn thousands_of_threads_in_bounded_memory() {
    let _serial = serial();
    let threads: Vec<u32> = (1..=3000).collect();
    let dir = checkpoint_dir("threads", &synthetic("core-aarch64"), &threads, None);
    let out = out_dir(&dir);
    let checkpoint = Checkpoint::open(&dir).unwrap();
    LARGEST.store(0, Ordering::SeqCst);
    let summary = write_core_file(&checkpoint, 1, &CoreOptions::default(), &out.join("core.1")).unwrap();
    let largest = LARGEST.load(Ordering::SeqCst);
    assert_eq!(summary.threads, 3000);
    let file = std::fs::read(out.join("core.1")).unwrap();
    let (_, notes, _) = parse(&file);
    assert_eq!(notes.iter().filter(|(_, k, _)| *k == 1).count(), 3000);
    // Notes go out one thread at a time: no allocation near their 3.5 MiB.
    assert!(largest < 256 << 10, "largest allocation {largest} bytes");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_core_without_memory_contents_has_the_length_it_reports() {
    let _serial = serial();
    // Only a [vvar] area, which the checkpoint never holds.
    let vvar = json!([{"start": BASE + 8 * PAGE, "end": BASE + 10 * PAGE, "pgoff": 0, "shmid": 0, "prot": 1, "flags": 34, "status": 4097, "fd": -1}]);
    let dir = checkpoint_dir("vvar", &synthetic("core-aarch64"), &[1], Some(vvar));
    write(&dir, "pagemap-1.img", &json!({"magic": "PAGEMAP", "entries": [{"pages_id": 1}]}));
    let out = out_dir(&dir);
    let checkpoint = Checkpoint::open(&dir).unwrap();
    let summary = write_core_file(&checkpoint, 1, &CoreOptions::default(), &out.join("core.1")).unwrap();
    assert_eq!((summary.areas, summary.areas_without_contents, summary.memory_bytes), (1, 1, 0));
    let file = std::fs::read(out.join("core.1")).unwrap();
    assert_eq!(file.len() as u64, summary.size);
    let (_, _, phdrs) = parse(&file);
    assert_eq!(phdrs[1].3, 0, "p_filesz 0: nothing of it is in the checkpoint");
    std::fs::remove_dir_all(&dir).unwrap();
}
