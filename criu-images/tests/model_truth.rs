//! The process model against truth.json captured from /proc before the dump.

mod common;

use criu_images::model::Process;

#[test]
fn processes_match_proc() {
    let mut failures = Vec::new();
    for set in common::image_sets() {
        if set.label.starts_with("predump/pre") {
            continue;
        }
        let truth = common::truth_of(&set.label);
        let levels = common::levels_of(&set);
        let refs = common::chain_of(&levels);
        let processes = Process::load_all(&refs).unwrap();
        for want in truth["processes"].as_array().unwrap() {
            let vpid = want["vpid"].as_u64().unwrap() as u32;
            let Some(got) = processes.iter().find(|p| p.pid == vpid) else {
                failures.push(format!("{}: no process {vpid}", set.label));
                continue;
            };
            let mut check = |what: &str, ok: bool, detail: String| {
                if !ok {
                    failures.push(format!("{} pid {vpid}: {what}: {detail}", set.label));
                }
            };
            let (vppid, vpgid, vsid) =
                (want["vppid"].as_u64().unwrap() as u32, want["vpgid"].as_u64().unwrap() as u32, want["vsid"].as_u64().unwrap() as u32);
            // The root task's parent is outside the checkpoint: CRIU stores 0.
            let root = truth["root_pid"].as_u64() == want["pid"].as_u64();
            check("ppid", got.ppid == if root { 0 } else { vppid }, format!("{} vs {vppid}", got.ppid));
            check("pgid", got.pgid == vpgid, format!("{} vs {vpgid}", got.pgid));
            check("sid", got.sid == vsid, format!("{} vs {vsid}", got.sid));
            check("comm", got.comm == want["comm"].as_str().unwrap(), format!("{:?}", got.comm));
            let tids: Vec<u32> = want["vtids"].as_array().unwrap().iter().map(|t| t.as_u64().unwrap() as u32).collect();
            let mut got_tids: Vec<u32> = got.threads.iter().map(|t| t.tid).collect();
            got_tids.sort();
            let mut want_tids = tids.clone();
            want_tids.sort();
            check("threads", got_tids == want_tids, format!("{got_tids:?} vs {want_tids:?}"));
            let cmdline: Vec<String> = want["cmdline"].as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect();
            check("cmdline", got.cmdline == cmdline, format!("{:?} vs {cmdline:?}", got.cmdline));
            let environ: Vec<String> = want["environ"].as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect();
            check("environ", got.environ_raw == environ, format!("{:?} vs {environ:?}", got.environ_raw));
            check("exe", got.exe.as_deref() == want["exe"].as_str(), format!("{:?} vs {:?}", got.exe, want["exe"]));
            check("cwd", got.cwd.as_deref() == want["cwd"].as_str(), format!("{:?} vs {:?}", got.cwd, want["cwd"]));
            for (fd, info) in want["fds"].as_object().unwrap() {
                let fd: u32 = fd.parse().unwrap();
                let target = info["target"].as_str().unwrap();
                let got_fd = got.fds.iter().find(|f| f.fd == fd);
                check(
                    &format!("fd {fd}"),
                    got_fd.and_then(|f| f.path.as_deref()) == Some(target),
                    format!("{:?} vs {target:?}", got_fd.map(|f| &f.path)),
                );
            }
            // Resource limits as /proc/PID/limits listed them.
            for (row, limit) in want["limits"].as_object().unwrap() {
                let Some(got_limit) = got.rlimits.iter().find(|r| &r.description == row) else {
                    check("rlimit", false, format!("{row} missing"));
                    continue;
                };
                let text = |v: Option<u64>| v.map_or("unlimited".to_string(), |n| n.to_string());
                check(
                    "rlimit",
                    text(got_limit.soft) == limit["soft"].as_str().unwrap() && text(got_limit.hard) == limit["hard"].as_str().unwrap(),
                    format!("{row}: {got_limit:?} vs {limit}"),
                );
            }
            // Capabilities: /proc/PID/status CapEff/CapPrm/CapBnd are hex masks.
            let creds = got.creds.clone().unwrap_or_default();
            for (key, names) in [
                ("CapEff", &creds.cap_effective),
                ("CapPrm", &creds.cap_permitted),
                ("CapBnd", &creds.cap_bounding),
                ("CapInh", &creds.cap_inheritable),
                ("CapAmb", &creds.cap_ambient),
            ] {
                let mask = u64::from_str_radix(want["status"][key].as_str().unwrap(), 16).unwrap();
                let words = [mask as u32, (mask >> 32) as u32];
                check(key, *names == criu_images::model::capability_names(&words), format!("{names:?} vs {mask:#x}"));
            }
            // Every VMA except [vsyscall] (not dumped) and [vvar_vclock] (stored with [vvar]).
            let maps: Vec<_> = want["maps"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|m| !matches!(m["path"].as_str(), Some("[vsyscall]") | Some("[vvar_vclock]")))
                .collect();
            for m in &maps {
                let start = m["start"].as_u64().unwrap();
                let path = m["path"].as_str().filter(|p| !p.is_empty());
                let got_vma = got.vmas.iter().find(|v| v.start == start);
                let ok = got_vma.is_some_and(|v| {
                    (v.end == m["end"].as_u64().unwrap() || path == Some("[vvar]"))
                        && v.perms() == m["perms"].as_str().unwrap()
                        && v.path.as_deref() == path
                });
                check("vma", ok, format!("{start:#x} {:?} {:?} vs {:?}", m["perms"], path, got_vma));
            }
        }
    }
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn sockets_match_proc_net() {
    // The pytree fixtures have a TCP listener, an established loopback
    // connection with queued data, and a unix socketpair.
    for label in ["pytree", "pytree-host"] {
        let set = common::image_sets().into_iter().find(|s| s.label == label).unwrap();
        let truth = common::truth_of(label);
        let levels = common::levels_of(&set);
        let refs = common::chain_of(&levels);
        let processes = Process::load_all(&refs).unwrap();
        let mut checked = 0;
        for want in truth["processes"].as_array().unwrap() {
            let vpid = want["vpid"].as_u64().unwrap() as u32;
            let got = processes.iter().find(|p| p.pid == vpid).unwrap();
            for tcp in want["sockets"]["tcp"].as_array().unwrap() {
                let inode = tcp["inode"].as_i64().unwrap();
                let Some(fd) =
                    got.fds.iter().find(|f| f.details.iter().any(|(k, v)| *k == "inode" && *v == criu_images::model::Detail::Int(inode)))
                else {
                    continue; // a socket /proc listed in the namespace but not open in this process
                };
                let get = |key: &str| fd.details.iter().find(|(k, _)| *k == key).map(|(_, v)| v.clone());
                use criu_images::model::Detail::{Int, Text};
                assert_eq!(get("local_address"), Some(Text(tcp["local"][0].as_str().unwrap().into())), "{label} {inode}");
                assert_eq!(get("local_port"), Some(Int(tcp["local"][1].as_i64().unwrap())));
                assert_eq!(get("remote_address"), Some(Text(tcp["remote"][0].as_str().unwrap().into())));
                assert_eq!(get("remote_port"), Some(Int(tcp["remote"][1].as_i64().unwrap())));
                assert_eq!(get("state"), Some(Text(tcp["state_name"].as_str().unwrap().into())));
                if tcp["state_name"] == "ESTABLISHED" {
                    assert_eq!(get("inq_bytes"), Some(Int(tcp["rx_queue"].as_i64().unwrap())), "{label} {inode} receive queue");
                }
                checked += 1;
            }
        }
        assert!(checked >= 3, "{label}: only {checked} sockets checked");
    }
}

/// The processes of every image set that has a truth.json (not the pre-dumps).
fn loaded_sets() -> Vec<(String, serde_json::Value, Vec<Process>, bool)> {
    let mut out = Vec::new();
    for set in common::image_sets() {
        if set.label.starts_with("predump/pre") {
            continue;
        }
        let levels = common::levels_of(&set);
        let refs = common::chain_of(&levels);
        let processes = Process::load_all(&refs).unwrap();
        let has_cgroup_img = set.files.iter().any(|(name, _)| name == "cgroup.img");
        out.push((set.label.clone(), common::truth_of(&set.label), processes, has_cgroup_img));
    }
    out
}

fn hex_mask(value: &serde_json::Value) -> u64 {
    u64::from_str_radix(value.as_str().unwrap(), 16).unwrap()
}

fn names_of(mask: u64) -> Vec<String> {
    criu_images::model::signal_mask_names(mask)
}

#[test]
fn signal_dispositions_and_masks_match_proc_status() {
    let mut checked_threads = 0;
    for (label, truth, processes, _) in loaded_sets() {
        for want in truth["processes"].as_array().unwrap() {
            let vpid = want["vpid"].as_u64().unwrap() as u32;
            let got = processes.iter().find(|p| p.pid == vpid).unwrap();
            // SigCgt: signals with a handler; SigIgn: ignored signals.
            let caught: Vec<String> = got.sigactions.iter().filter(|s| !s.ignored()).map(|s| s.signal.clone()).collect();
            let ignored: Vec<String> = got.sigactions.iter().filter(|s| s.ignored()).map(|s| s.signal.clone()).collect();
            assert_eq!(caught, names_of(hex_mask(&want["status"]["SigCgt"])), "{label} {vpid} caught");
            assert_eq!(ignored, names_of(hex_mask(&want["status"]["SigIgn"])), "{label} {vpid} ignored");
            assert_eq!(
                got.pending_signals.len(),
                hex_mask(&want["status"]["ShdPnd"]).count_ones() as usize,
                "{label} {vpid} shared pending"
            );
            // SigBlk and SigPnd of every thread, matched by its id in the checkpoint.
            for t in want["threads"].as_array().unwrap() {
                let tid = t["nstid"].as_u64().unwrap() as u32;
                let thread = got.threads.iter().find(|x| x.tid == tid).unwrap_or_else(|| panic!("{label} thread {tid}"));
                let truth_blocked = hex_mask(&t["sig_blk"]);
                if t["syscall"].as_str().unwrap().starts_with("128 ") {
                    // In rt_sigtimedwait the kernel unblocks the awaited signals
                    // until the call returns; the seize ends the call, so CRIU
                    // saves the mask the program set.
                    let saved = got.threads.iter().find(|x| x.tid == tid).unwrap().blocked.clone();
                    assert!(names_of(truth_blocked).iter().all(|s| saved.contains(s)), "{label} thread {tid}: {saved:?}");
                    checked_threads += 1;
                    continue;
                }
                assert_eq!(thread.blocked, names_of(truth_blocked), "{label} thread {tid} blocked");
                assert_eq!(thread.pending.len(), hex_mask(&t["sig_pnd"]).count_ones() as usize, "{label} thread {tid} pending");
                checked_threads += 1;
            }
        }
    }
    assert!(checked_threads >= 20, "{checked_threads}");
}

#[test]
fn seccomp_modes_and_filter_chains_match_proc_status() {
    let mut filtered = 0;
    for set in common::image_sets() {
        if set.label.starts_with("predump/pre") {
            continue;
        }
        let levels = common::levels_of(&set);
        let filters = criu_images::model::seccomp_filters(&levels[0]).unwrap();
        let truth = common::truth_of(&set.label);
        let refs = common::chain_of(&levels);
        let processes = Process::load_all(&refs).unwrap();
        for want in truth["processes"].as_array().unwrap() {
            let got = processes.iter().find(|p| p.pid == want["vpid"].as_u64().unwrap() as u32).unwrap();
            let mode = match want["status"]["Seccomp"].as_str().unwrap() {
                "0" => "disabled",
                "1" => "strict",
                _ => "filter",
            };
            let count: usize = want["status"]["Seccomp_filters"].as_str().unwrap().parse().unwrap();
            for thread in &got.threads {
                assert_eq!(thread.seccomp, mode, "{} {}", set.label, thread.tid);
                assert_eq!(thread.seccomp_filters.len(), count, "{} {}", set.label, thread.tid);
            }
            if count > 0 {
                filtered += 1;
                // Podman's default profile: a few hundred instructions, allowing most calls.
                let filter = &filters[got.threads[0].seccomp_filters[0] as usize];
                assert_eq!(filter.instructions * 8, filter.disassembly.len() * 8);
                assert!(filter.instructions > 100, "{}", filter.instructions);
                assert!(
                    filter.actions.iter().any(|a| a == "ALLOW") && filter.actions.iter().any(|a| a.starts_with("ERRNO")),
                    "{:?}",
                    filter.actions
                );
                assert_eq!(filter.disassembly[0], "0000: ld [arch]", "{}", set.label);
                assert_eq!(filter.sha256.len(), 64);
            }
        }
        // The container fixtures all ran under the same Podman profile: one hash.
        let hashes: std::collections::BTreeSet<&str> = filters.iter().map(|f| f.sha256.as_str()).collect();
        assert!(hashes.len() <= 1, "{}: {hashes:?}", set.label);
    }
    assert!(filtered >= 5, "{filtered}");
}

#[test]
fn cgroups_match_proc_cgroup() {
    let mut checked = 0;
    for (label, truth, processes, has_cgroup_img) in loaded_sets() {
        for want in truth["processes"].as_array().unwrap() {
            let got = processes.iter().find(|p| p.pid == want["vpid"].as_u64().unwrap() as u32).unwrap();
            assert!(got.cg_set.is_some(), "{label}: no cg_set");
            if !has_cgroup_img {
                // Host dumps: the task shares CRIU's own set, which CRIU does not save.
                assert!(got.cgroups.is_empty(), "{label}");
                continue;
            }
            // Lines of /proc/PID/cgroup: "N:controllers:path".
            let mut want_lines: Vec<(String, String)> = want["cgroup"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| {
                    let mut parts = l.as_str().unwrap().splitn(3, ':');
                    parts.next();
                    (parts.next().unwrap().to_string(), parts.next().unwrap().to_string())
                })
                .collect();
            let mut got_lines: Vec<(String, String)> = got.cgroups.iter().map(|m| (m.controller.clone(), m.path.clone())).collect();
            want_lines.sort();
            got_lines.sort();
            assert_eq!(got_lines, want_lines, "{label}");
            checked += 1;
        }
    }
    assert!(checked >= 5, "{checked}");
}

#[test]
fn file_locks_match_proc_fdinfo() {
    let mut checked = 0;
    for (label, truth, processes, _) in loaded_sets() {
        for want in truth["processes"].as_array().unwrap() {
            let got = processes.iter().find(|p| p.pid == want["vpid"].as_u64().unwrap() as u32).unwrap();
            let mut expected = 0;
            for (fd, info) in want["fds"].as_object().unwrap() {
                for extra in info["fdinfo"]["extra"].as_array().into_iter().flatten() {
                    // "lock:\t1: FLOCK  ADVISORY  WRITE 25435 00:28:762316 0 EOF"
                    let Some(line) = extra.as_str().unwrap().strip_prefix("lock:\t") else { continue };
                    let words: Vec<&str> = line.split_whitespace().collect();
                    // Children that inherited the fd see the lock too; CRIU
                    // records it once, with the task that took it.
                    if words[4].parse::<u64>().ok() != want["pid"].as_u64() {
                        continue;
                    }
                    let fd: u32 = fd.parse().unwrap();
                    let lock = got.locks_of(fd).next().unwrap_or_else(|| panic!("{label}: no lock on fd {fd}: {:?}", got.locks));
                    assert_eq!(lock.kind, words[1], "{label} fd {fd}");
                    assert_eq!(lock.lock_type, words[3], "{label} fd {fd}");
                    assert_eq!(lock.start.to_string(), words[6], "{label} fd {fd}");
                    assert_eq!(lock.end().map_or("EOF".to_string(), |e| e.to_string()), words[7], "{label} fd {fd}");
                    expected += 1;
                    checked += 1;
                }
            }
            assert_eq!(got.locks.len(), expected, "{label} {}", got.pid);
        }
    }
    assert_eq!(checked, 4, "pytree and pytree-host hold a flock and a POSIX lock each");
}
