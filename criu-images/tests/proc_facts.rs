//! Facts exactly as /proc showed them: `/proc/PID/cmdline` (with the
//! kernel's setproctitle rules), `/proc/PID/environ`, area names of
//! `/proc/PID/maps` and fd links for deleted and shared files, and threads
//! in `rt_sigsuspend`. Synthetic checkpoints (our encoder) for each rule,
//! the attack and pytree fixtures against their truth.json; a counting
//! allocator bounds what a hostile argument area costs.

mod common;
#[path = "common/live_alloc.rs"]
mod live_alloc;

use std::path::{Path, PathBuf};

use common::synth::{scratch, write};
use criu_images::model::{Process, ARGS_MAX_BYTES, ARGS_MAX_STRINGS};
use criu_images::Checkpoint;
use live_alloc::{measure, Counting};
use serde_json::{json, Value};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

// ---------------------------------------------------------------------------
// Synthetic checkpoints
// ---------------------------------------------------------------------------

const PAGE: u64 = 4096;
/// Where the synthetic stack (holding arguments and environment) lies.
const STACK: u64 = 0x7ffc_0000_0000;

/// One process (pid 1) whose stack area at [`STACK`] holds `stack` (dumped),
/// with `mm` fields over the defaults, `vmas` besides the stack, and
/// `images` written as given (they may replace `core-1.img`).
fn build(name: &str, stack: &[u8], mm: Value, vmas: Vec<Value>, images: &[(&str, Value)]) -> PathBuf {
    let dir = scratch(name);
    let pages = (stack.len() as u64).div_ceil(PAGE).max(1);
    write(&dir, "pstree.img", &json!({"magic": "PSTREE", "entries": [{"pid": 1, "ppid": 0, "pgid": 1, "sid": 1, "threads": [1]}]}));
    write(&dir, "core-1.img", &core(None));
    let mut entry = json!({
        "mm_start_code": 0, "mm_end_code": 0, "mm_start_data": 0, "mm_end_data": 0, "mm_start_stack": STACK, "mm_start_brk": 0,
        "mm_brk": 0, "mm_arg_start": 0, "mm_arg_end": 0, "mm_env_start": 0, "mm_env_end": 0, "exe_file_id": 0,
        "mm_saved_auxv": [6, PAGE, 0, 0],
    });
    entry.as_object_mut().unwrap().extend(mm.as_object().unwrap().clone());
    let mut all_vmas = vec![
        json!({"start": STACK, "end": STACK + pages * PAGE, "pgoff": 0, "shmid": 0, "prot": 3, "flags": 0x122, "status": 0x201, "fd": -1}),
    ];
    all_vmas.extend(vmas);
    entry["vmas"] = Value::Array(all_vmas);
    write(&dir, "mm-1.img", &json!({"magic": "MM", "entries": [entry]}));
    write(
        &dir,
        "pagemap-1.img",
        &json!({"magic": "PAGEMAP", "entries": [{"pages_id": 1}, {"vaddr": STACK, "compat_nr_pages": 0, "flags": 4, "nr_pages": pages}]}),
    );
    let mut bytes = stack.to_vec();
    bytes.resize((pages * PAGE) as usize, 0);
    std::fs::write(dir.join("pages-1.img"), bytes).unwrap();
    for (name, doc) in images {
        write(&dir, name, doc);
    }
    dir
}

/// An x86-64 core; with `gpregs` overrides, register state too.
fn core(gpregs: Option<Value>) -> Value {
    let mut entry = json!({
        "mtype": "X86_64",
        "tc": {"task_state": 1, "exit_code": 0, "personality": 0, "flags": 0, "blk_sigset": 0x10002, "comm": "app"},
        "thread_core": {"futex_rla": 0, "futex_rla_len": 0, "blk_sigset": 0x10002},
    });
    if let Some(overrides) = gpregs {
        let mut regs = json!({});
        for name in [
            "r15", "r14", "r13", "r12", "bp", "bx", "r11", "r10", "r9", "r8", "ax", "cx", "dx", "si", "di", "orig_ax", "ip", "cs", "flags",
            "sp", "ss", "fs_base", "gs_base", "ds", "es", "fs", "gs",
        ] {
            regs[name] = json!(0);
        }
        regs.as_object_mut().unwrap().extend(overrides.as_object().unwrap().clone());
        entry["thread_info"] = json!({
            "clear_tid_addr": 0,
            "gpregs": regs,
            "fpregs": {"cwd": 0, "swd": 0, "twd": 0, "fop": 0, "rip": 0, "rdp": 0, "mxcsr": 0, "mxcsr_mask": 0},
        });
    }
    json!({"magic": "CORE", "entries": [entry]})
}

fn load(dir: &Path) -> Process {
    let checkpoint = Checkpoint::open(dir).unwrap();
    let mut processes = Process::load_all(&checkpoint.chain()).unwrap();
    assert_eq!(processes.len(), 1);
    processes.remove(0)
}

/// `args` then `env` on the stack, and the mm fields that point at them.
fn args_and_env(args: &[u8], env: &[u8]) -> (Vec<u8>, Value) {
    let stack = [args, env].concat();
    let arg_start = STACK;
    let env_start = arg_start + args.len() as u64;
    let mm =
        json!({"mm_arg_start": arg_start, "mm_arg_end": env_start, "mm_env_start": env_start, "mm_env_end": env_start + env.len() as u64});
    (stack, mm)
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

// ---------------------------------------------------------------------------
// Command line and environment
// ---------------------------------------------------------------------------

#[test]
fn cmdline_and_environ_split_as_proc_lists_them() {
    let (stack, mm) = args_and_env(b"/bin/app\0-v\0\0last\0", b"PATH=/bin\0NOEQUALS\0\0=novalue\0A=b=c\0");
    let dir = build("normal", &stack, mm, vec![], &[]);
    let p = load(&dir);
    // An empty argument stays (as /proc shows it); one trailing NUL ends the list.
    assert_eq!(p.cmdline, strings(&["/bin/app", "-v", "", "last"]));
    assert_eq!(p.environ_raw, strings(&["PATH=/bin", "NOEQUALS", "", "=novalue", "A=b=c"]));
    // Only NAME=value pieces make the mapping.
    assert_eq!(p.environ, vec![("PATH".to_string(), "/bin".to_string()), ("A".to_string(), "b=c".to_string())]);
    assert!(!p.cmdline_truncated && !p.environ_truncated && p.warnings.is_empty(), "{:?}", p.warnings);
    let doc = p.to_json();
    assert_eq!(doc["environ_raw"], json!(["PATH=/bin", "NOEQUALS", "", "=novalue", "A=b=c"]));
    assert_eq!(doc["environ"], json!({"PATH": "/bin", "A": "b=c"}));
    assert_eq!(
        (doc["cmdline_truncated"].clone(), doc["environ_truncated"].clone(), doc["warnings"].clone()),
        (json!(false), json!(false), json!([]))
    );

    // A lone NUL is one empty argument, as /proc lists it.
    let (stack, mm) = args_and_env(b"\0", b"");
    let p = load(&build("lone-nul", &stack, mm, vec![], &[]));
    assert_eq!(p.cmdline, strings(&[""]));
    assert!(p.environ_raw.is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn setproctitle_over_the_terminator_runs_into_the_environment_up_to_its_nul() {
    // nginx/postgres style: the title overwrote argv and the start of the
    // environment; the byte at arg_end - 1 is no longer NUL.
    let original_args = b"nginx\0-g\0daemon off;\0";
    let title = b"nginx: master process /usr/sbin/nginx -g daemon off;";
    assert!(title.len() > original_args.len());
    let mut area = [b'x'; 200];
    area[..title.len()].copy_from_slice(title);
    area[title.len()] = 0;
    let (stack, mm) = args_and_env(&area[..original_args.len()], &area[original_args.len()..]);
    let p = load(&build("title-over-nul", &stack, mm.clone(), vec![], &[]));
    assert_eq!(p.cmdline, strings(&[std::str::from_utf8(title).unwrap()]));
    // /proc/PID/environ still gives the environment area as it is.
    assert_eq!(p.environ_raw.len(), 2, "{:?}", p.environ_raw);

    // The environment does not follow the arguments: the title stops at arg_end.
    let mut mm_apart = mm.clone();
    mm_apart["mm_env_start"] = json!(mm["mm_env_start"].as_u64().unwrap() + 1);
    let p = load(&build("title-env-apart", &stack, mm_apart, vec![], &[]));
    assert_eq!(p.cmdline, strings(&[std::str::from_utf8(&title[..original_args.len()]).unwrap()]));

    // Without a NUL the kernel gives at most one page of title.
    let long = vec![b'T'; 3 * PAGE as usize];
    let (stack, mm) = args_and_env(&long[..16], &long[16..]);
    let p = load(&build("title-one-page", &stack, mm, vec![], &[]));
    assert_eq!(p.cmdline.len(), 1);
    assert_eq!(p.cmdline[0].len(), PAGE as usize);
    assert!(!p.cmdline_truncated);
}

#[test]
fn setproctitle_keeping_the_terminator_shows_the_padding_nuls() {
    // The title fits and the rest of the area is NUL padding, last byte included.
    let mut args = b"postgres: checkpointer".to_vec();
    args.resize(args.len() + 6, 0);
    let (stack, mm) = args_and_env(&args, b"PGDATA=/var/lib/postgresql\0");
    let p = load(&build("title-padding", &stack, mm, vec![], &[]));
    assert_eq!(p.cmdline, strings(&["postgres: checkpointer", "", "", "", "", ""]));
    assert_eq!(p.environ, vec![("PGDATA".to_string(), "/var/lib/postgresql".to_string())]);
}

#[test]
fn a_huge_argument_area_without_pages_is_read_up_to_the_limit() {
    // A 1 KB mm image: a 64 GiB anonymous area at 2^44 with no pages, and
    // the argument and environment ranges across it.
    let base = 1u64 << 44;
    let size = 64u64 << 30;
    let area = json!({"start": base, "end": base + size, "pgoff": 0, "shmid": 0, "prot": 3, "flags": 0x22, "status": 0x201, "fd": -1});
    let mm = json!({"mm_arg_start": base, "mm_arg_end": base + size / 2, "mm_env_start": base + size / 2, "mm_env_end": base + size});
    let dir = build("huge", b"", mm, vec![area], &[]);
    assert!(std::fs::metadata(dir.join("mm-1.img")).unwrap().len() < 1024);
    let (p, usage) = measure(|| load(&dir));
    let peak = usage.peak;
    // Zero pages read as NULs: as many empty strings as the limit allows.
    assert!(p.cmdline_truncated && p.environ_truncated);
    assert_eq!(p.cmdline.len(), ARGS_MAX_STRINGS);
    assert_eq!(p.environ_raw.len(), ARGS_MAX_STRINGS);
    assert!(p.cmdline.iter().all(String::is_empty) && p.environ.is_empty());
    // Two areas of at most ARGS_MAX_BYTES and ARGS_MAX_STRINGS strings each.
    let bound = 2 * (ARGS_MAX_BYTES as usize + ARGS_MAX_STRINGS * std::mem::size_of::<String>()) + (1 << 20);
    assert!(peak <= bound, "peak {peak} bytes, bound {bound}");

    // The CLI says so in JSON and finishes.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_criu-images"))
        .args(["inspect", dir.to_str().unwrap(), "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["processes"][0]["cmdline_truncated"], json!(true));
    assert_eq!(doc["processes"][0]["environ_truncated"], json!(true));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn unreadable_memory_is_a_warning_not_a_silent_empty_cmdline() {
    // The arguments' second page is lazy (not in the checkpoint): the first
    // page is kept, with a warning naming where reading stopped.
    let mut args = vec![b'a'; PAGE as usize - 1];
    args.push(0);
    args.extend_from_slice(b"second\0");
    let (stack, mm) = args_and_env(&args, b"");
    let built = build("lazy", &stack, mm, vec![], &[]);
    write(
        &built,
        "pagemap-1.img",
        &json!({"magic": "PAGEMAP", "entries": [{"pages_id": 1}, {"vaddr": STACK, "compat_nr_pages": 0, "flags": 4, "nr_pages": 1}, {"vaddr": STACK + PAGE, "compat_nr_pages": 0, "flags": 2, "nr_pages": 1}]}),
    );
    let p = load(&built);
    assert_eq!(p.cmdline, vec!["a".repeat(PAGE as usize - 1)]);
    assert_eq!(p.warnings.len(), 1, "{:?}", p.warnings);
    assert!(p.warnings[0].contains(&format!("{:#x}", STACK + PAGE)) && p.warnings[0].contains("lazy"), "{:?}", p.warnings);

    // A memory index that cannot be built: the process is kept, and says why.
    std::fs::write(built.join("pagemap-1.img"), b"not a pagemap image").unwrap();
    let p = load(&built);
    assert!(p.cmdline.is_empty() && p.vmas.is_empty());
    assert_eq!(p.warnings.len(), 1, "{:?}", p.warnings);
    assert!(p.warnings[0].contains("pagemap-1.img"), "{:?}", p.warnings);
    assert_eq!(p.to_json()["warnings"], json!(p.warnings));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_criu-images")).args(["inspect", built.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("pid 1") && stderr.contains("pagemap-1.img"), "{stderr}");
    std::fs::remove_dir_all(&built).unwrap();
}

// ---------------------------------------------------------------------------
// Names of areas and fd targets
// ---------------------------------------------------------------------------

#[test]
fn shared_deleted_and_special_areas_are_named_as_maps_prints_them() {
    const FILE_PRIVATE: u32 = 1 << 6;
    const FILE_SHARED: u32 = 1 << 7;
    const ANON_SHARED: u32 = 1 << 8;
    const SYSVIPC: u32 = 1 << 10;
    const AIORING: u32 = 1 << 13;
    const MEMFD: u32 = 1 << 14;
    let area = |i: u64, status: u32, shmid: u64, flags: u32| {
        let start = 0x7f00_0000_0000u64 + i * 0x10000;
        json!({"start": start, "end": start + PAGE, "pgoff": 0, "shmid": shmid, "prot": 3, "flags": flags, "status": 1 | status, "fd": -1})
    };
    let vmas = vec![
        area(0, ANON_SHARED, 77, 0x21),
        area(1, SYSVIPC, 65538, 0x1),
        area(2, FILE_PRIVATE, 3, 0x2),
        area(3, FILE_SHARED, 4, 0x1),
        area(4, FILE_PRIVATE, 5, 0x2),
        area(5, FILE_SHARED | MEMFD, 6, 0x1),
        area(6, AIORING, 0, 0x1),
        area(7, SYSVIPC, 99, 0x1),
        // MAP_HUGETLB, shared and private.
        area(8, ANON_SHARED, 78, 0x40021),
        area(9, 1 << 9, 0, 0x40022),
    ];
    let reg = |id: u32, name: &str| json!({"id": id, "type": "REG", "reg": {"id": id, "flags": 0, "pos": 0, "fown": {"uid": 0, "euid": 0, "signum": 0, "pid_type": 0, "pid": 0}, "name": name}});
    let files = json!({"magic": "FILES", "entries": [
        reg(3, "/tmp/ghost.so"),
        reg(4, "/data/linked.db"),
        reg(5, "/usr/lib/libc.so.6"),
        {"id": 6, "type": "MEMFD", "memfd": {"id": 6, "flags": 0, "pos": 0, "fown": {"uid": 0, "euid": 0, "signum": 0, "pid_type": 0, "pid": 0}, "inode_id": 9}},
    ]});
    let images = [
        ("files.img", files),
        (
            "remap-fpath.img",
            json!({"magic": "REMAP_FPATH", "entries": [{"orig_id": 3, "remap_id": 10, "remap_type": "GHOST"}, {"orig_id": 4, "remap_id": 11, "remap_type": "LINKED"}]}),
        ),
        (
            "memfd.img",
            json!({"magic": "MEMFD_INODE", "entries": [{"uid": 0, "gid": 0, "size": 4096, "shmid": 12, "name": "jit", "inode_id": 9}]}),
        ),
        ("ids-1.img", json!({"magic": "IDS", "entries": [{"vm_id": 1, "files_id": 1, "fs_id": 1, "sighand_id": 1, "ipc_ns_id": 5}]})),
        (
            "ipcns-shm-5.img",
            json!({"magic": "IPCNS_SHM", "entries": [{"desc": {"key": 0x1234abcd, "uid": 0, "gid": 0, "cuid": 0, "cgid": 0, "mode": 0o600, "id": 65538}, "size": 4096, "in_pagemaps": true}]}),
        ),
        (
            "fdinfo-1.img",
            json!({"magic": "FDINFO", "entries": [{"id": 3, "flags": 0, "type": "REG", "fd": 3}, {"id": 4, "flags": 0, "type": "REG", "fd": 4}, {"id": 5, "flags": 0, "type": "REG", "fd": 5}]}),
        ),
    ];
    let dir = build("names", b"", json!({}), vmas, &images);
    let p = load(&dir);
    let names: Vec<Option<&str>> = p.vmas.iter().filter(|v| v.start != STACK).map(|v| v.path.as_deref()).collect();
    assert_eq!(
        names,
        [
            Some("/dev/zero (deleted)"),
            Some("/SYSV1234abcd (deleted)"),
            Some("/tmp/ghost.so (deleted)"),
            Some("/data/linked.db (deleted)"),
            Some("/usr/lib/libc.so.6"),
            Some("/memfd:jit (deleted)"),
            Some("/[aio] (deleted)"),
            // A segment whose key the images do not hold: no name rather than a wrong one.
            None,
            Some("/anon_hugepage (deleted)"),
            Some("/anon_hugepage (deleted)"),
        ]
    );
    // readlink /proc/PID/fd/N follows the same rule.
    let fds: Vec<(u32, Option<&str>)> = p.fds.iter().map(|f| (f.fd, f.path.as_deref())).collect();
    assert_eq!(fds, [(3, Some("/tmp/ghost.so (deleted)")), (4, Some("/data/linked.db (deleted)")), (5, Some("/usr/lib/libc.so.6"))]);
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---------------------------------------------------------------------------
// Threads in rt_sigsuspend
// ---------------------------------------------------------------------------

#[test]
fn a_thread_in_rt_sigsuspend_is_marked_and_keeps_its_own_mask() {
    for (gpregs, want) in [
        (json!({"orig_ax": 130, "ax": 130}), true),
        (json!({"orig_ax": 34, "ax": 34}), false),
        // A 32-bit task: i386 numbers (rt_sigsuspend 179, sigsuspend 72); 130 is another call there.
        (json!({"orig_ax": 179, "ax": 179, "mode": "COMPAT"}), true),
        (json!({"orig_ax": 72, "ax": 72, "mode": "COMPAT"}), true),
        (json!({"orig_ax": 130, "ax": 130, "mode": "COMPAT"}), false),
    ] {
        let dir = build("sigsuspend", b"", json!({}), vec![], &[("core-1.img", core(Some(gpregs.clone())))]);
        let p = load(&dir);
        assert_eq!(p.threads[0].in_sigsuspend, want, "{gpregs}");
        // The mask CRIU saved (the program's), not the call's temporary one.
        assert_eq!(p.threads[0].blocked, ["SIGINT", "SIGCHLD"]);
        assert_eq!(p.to_json()["thread_details"][0]["in_sigsuspend"], json!(want));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

// ---------------------------------------------------------------------------
// Real checkpoints against /proc
// ---------------------------------------------------------------------------

fn fixture(path: &str) -> (Vec<Process>, Value) {
    let root = common::fixtures_dir();
    let checkpoint = Checkpoint::open(root.join(path).join(match path {
        "attack" => "checkpoint.tar.zst",
        _ => "checkpoint.tar.gz",
    }))
    .unwrap();
    let processes = Process::load_all(&checkpoint.chain()).unwrap();
    let truth: Value = serde_json::from_slice(&std::fs::read(root.join(path).join("truth.json")).unwrap()).unwrap();
    (processes, truth)
}

fn texts(value: &Value) -> Vec<String> {
    value.as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect()
}

#[test]
fn fixtures_cmdline_environ_maps_and_fds_equal_proc() {
    let mut checked = 0;
    for name in ["attack", "pytree"] {
        let (processes, truth) = fixture(name);
        for want in truth["processes"].as_array().unwrap() {
            let got = processes.iter().find(|p| u64::from(p.pid) == want["vpid"].as_u64().unwrap()).unwrap();
            let label = format!("{name} pid {}", got.pid);
            assert_eq!(got.cmdline, texts(&want["cmdline"]), "{label}");
            assert_eq!(got.environ_raw, texts(&want["environ"]), "{label}");
            assert!(got.warnings.is_empty(), "{label}: {:?}", got.warnings);
            for m in want["maps"].as_array().unwrap() {
                let path = m["path"].as_str().unwrap();
                // CRIU stores [vvar_vclock] with [vvar] and does not dump [vsyscall].
                if matches!(path, "[vvar_vclock]" | "[vsyscall]") {
                    continue;
                }
                let vma = got.vmas.iter().find(|v| v.start == m["start"].as_u64().unwrap()).unwrap();
                assert_eq!(vma.path.as_deref().unwrap_or(""), path, "{label} {:#x}", vma.start);
                checked += 1;
            }
            for (fd, info) in want["fds"].as_object().unwrap() {
                let got_fd = got.fds.iter().find(|f| f.fd.to_string() == *fd).unwrap();
                assert_eq!(got_fd.path.as_deref(), info["target"].as_str(), "{label} fd {fd}");
            }
        }
    }
    assert!(checked > 100, "{checked}");
    // The deleted executable of the attack fixture is mapped as /proc showed it.
    let (processes, _) = fixture("attack");
    let miner = processes.iter().find(|p| p.comm == ".kminer").unwrap();
    assert!(miner.vmas.iter().filter(|v| v.path.as_deref() == Some("/tmp/.kminer (deleted)")).count() >= 3);
}

#[test]
fn fixture_thread_in_rt_sigsuspend_is_marked() {
    let (processes, truth) = fixture("attack");
    let mut marked = 0;
    for want in truth["processes"].as_array().unwrap() {
        let got = processes.iter().find(|p| u64::from(p.pid) == want["vpid"].as_u64().unwrap()).unwrap();
        for t in want["threads"].as_array().unwrap() {
            let thread = got.threads.iter().find(|x| u64::from(x.tid) == t["nstid"].as_u64().unwrap()).unwrap();
            let in_call = t["syscall"].as_str().unwrap().starts_with("130 ");
            assert_eq!(thread.in_sigsuspend, in_call, "pid {} thread {}", got.pid, thread.tid);
            if in_call {
                // /proc showed the temporary (empty) mask; the images hold the shell's own.
                assert_eq!(t["sig_blk"], json!("0000000000000000"));
                assert!(!thread.blocked.is_empty());
                marked += 1;
            }
        }
    }
    assert_eq!(marked, 1);
    // The tree view says which mask it shows.
    let path = common::fixtures_dir().join("attack/checkpoint.tar.zst");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_criu-images"))
        .args(["inspect", path.to_str().unwrap(), "--signals", "--pid", "1"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("thread 1 (start.sh): blocked SIGHUP,") && text.contains("(in rt_sigsuspend: /proc showed"), "{text}");
}
