//! Checkpoints the fixtures do not have, built with our encoder: zombie and
//! dead tasks (no mm, pagemap, ids or fs images), missing optional images,
//! and pagemaps from CRIU before 4.2 (only the 32-bit field 2).

use criu_images::json::from_json;
use criu_images::memory::{Content, Pattern, SearchOptions};
use criu_images::model::{Process, TaskState};
use criu_images::Checkpoint;

fn write(dir: &std::path::Path, name: &str, json: &str) {
    std::fs::write(dir.join(name), from_json(json.as_bytes(), name).unwrap()).unwrap();
}

fn core(state: u32, comm: &str) -> String {
    format!(
        r#"{{"magic": "CORE", "entries": [{{"mtype": "X86_64", "tc": {{"task_state": {state}, "exit_code": 9, "personality": 0, "flags": 0, "blk_sigset": 0, "comm": "{comm}"}}}}]}}"#
    )
}

#[test]
fn zombies_dead_tasks_and_old_pagemaps_do_not_fail() {
    let dir = std::env::temp_dir().join(format!("criu-images-unusual-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    write(
        &dir,
        "pstree.img",
        r#"{"magic": "PSTREE", "entries": [{"pid": 1, "ppid": 0, "pgid": 1, "sid": 1, "threads": [1]}, {"pid": 2, "ppid": 1, "pgid": 1, "sid": 1, "threads": [2]}, {"pid": 3, "ppid": 1, "pgid": 1, "sid": 1, "threads": [3]}]}"#,
    );
    write(&dir, "core-1.img", &core(1, "init"));
    write(&dir, "core-2.img", &core(6, "zombie"));
    write(&dir, "core-3.img", &core(2, "dead"));
    // Process 1: one area, and a pagemap as CRIU 4.1 wrote it (no field 5,
    // no flags: CRIU reads that as PE_PRESENT).
    let base = 0x7f00_0000_0000u64;
    write(
        &dir,
        "mm-1.img",
        &format!(
            r#"{{"magic": "MM", "entries": [{{"mm_start_code": 0, "mm_end_code": 0, "mm_start_data": 0, "mm_end_data": 0, "mm_start_stack": 0, "mm_start_brk": 0, "mm_brk": 0, "mm_arg_start": 0, "mm_arg_end": 0, "mm_env_start": 0, "mm_env_end": 0, "exe_file_id": 0, "vmas": [{{"start": {base}, "end": {}, "pgoff": 0, "shmid": 0, "prot": 3, "flags": 34, "status": 513, "fd": -1}}]}}]}}"#,
            base + 3 * 4096
        ),
    );
    write(
        &dir,
        "pagemap-1.img",
        &format!(r#"{{"magic": "PAGEMAP", "entries": [{{"pages_id": 1}}, {{"vaddr": {}, "compat_nr_pages": 2}}]}}"#, base + 4096),
    );
    let mut pages = vec![0u8; 2 * 4096];
    pages[4096 + 100..4096 + 111].copy_from_slice(b"OLD-PAGEMAP");
    std::fs::write(dir.join("pages-1.img"), &pages).unwrap();

    let checkpoint = Checkpoint::open(&dir).unwrap();
    // No files.img, fdinfo, ids, fs, inventory: all optional for the model.
    let processes = Process::load_all(&checkpoint.chain()).unwrap();
    let states: Vec<(u32, TaskState, &str)> = processes.iter().map(|p| (p.pid, p.state, p.comm.as_str())).collect();
    assert_eq!(states, [(1, TaskState::Alive, "init"), (2, TaskState::Zombie, "zombie"), (3, TaskState::Dead, "dead")]);
    assert!(processes[1].vmas.is_empty() && processes[1].fds.is_empty() && processes[1].cmdline.is_empty());
    assert_eq!(processes[1].exit_code, 9);

    let memory = checkpoint.memory(1).unwrap();
    let hits = memory.search(&Pattern::literal("OLD-PAGEMAP"), &SearchOptions::default()).unwrap();
    assert_eq!(hits.iter().map(|h| h.address).collect::<Vec<_>>(), [base + 2 * 4096 + 100]);
    let first = memory.pieces_in(base, base + 4096).next().unwrap();
    assert_eq!(first.content, Content::Zero);
    let err = checkpoint.memory(2).err().unwrap().to_string();
    assert!(err.contains("mm-2.img") && err.contains("zombie"), "{err}");

    // The CLI copes too: memory commands skip tasks without memory.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_criu-images"))
        .args(["mem", "search", dir.to_str().unwrap(), "-s", "OLD-PAGEMAP"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let inspect =
        std::process::Command::new(env!("CARGO_BIN_EXE_criu-images")).args(["inspect", dir.to_str().unwrap(), "--all"]).output().unwrap();
    let text = String::from_utf8(inspect.stdout).unwrap();
    assert!(text.contains("[2] zombie (zombie") && text.contains("[3] dead (dead"), "{text}");
    std::fs::remove_dir_all(&dir).unwrap();
}
