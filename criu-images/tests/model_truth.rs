//! The process model against truth.json captured from /proc before the dump.

mod common;

use criu_images::memory::ImageStore;
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
        let refs: Vec<&dyn ImageStore> = levels.iter().map(|l| l as &dyn ImageStore).collect();
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
            let (vppid, vpgid, vsid) = (want["vppid"].as_u64().unwrap() as u32, want["vpgid"].as_u64().unwrap() as u32, want["vsid"].as_u64().unwrap() as u32);
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
            let got_env: Vec<String> = got.environ.iter().map(|(k, v)| format!("{k}={v}")).collect();
            check("environ", got_env == environ, format!("{got_env:?} vs {environ:?}"));
            check("exe", got.exe.as_deref() == want["exe"].as_str(), format!("{:?} vs {:?}", got.exe, want["exe"]));
            check("cwd", got.cwd.as_deref() == want["cwd"].as_str(), format!("{:?} vs {:?}", got.cwd, want["cwd"]));
            for (fd, info) in want["fds"].as_object().unwrap() {
                let fd: u32 = fd.parse().unwrap();
                let target = info["target"].as_str().unwrap();
                let got_fd = got.fds.iter().find(|f| f.fd == fd);
                check(&format!("fd {fd}"), got_fd.and_then(|f| f.path.as_deref()) == Some(target), format!("{:?} vs {target:?}", got_fd.map(|f| &f.path)));
            }
            // Resource limits as /proc/PID/limits listed them.
            for (row, limit) in want["limits"].as_object().unwrap() {
                let Some(got_limit) = got.rlimits.iter().find(|r| &r.description == row) else {
                    check("rlimit", false, format!("{row} missing"));
                    continue;
                };
                let text = |v: Option<u64>| v.map_or("unlimited".to_string(), |n| n.to_string());
                check("rlimit", text(got_limit.soft) == limit["soft"].as_str().unwrap() && text(got_limit.hard) == limit["hard"].as_str().unwrap(), format!("{row}: {got_limit:?} vs {limit}"));
            }
            // Capabilities: /proc/PID/status CapEff/CapPrm/CapBnd are hex masks.
            let creds = got.creds.clone().unwrap_or_default();
            for (key, names) in [("CapEff", &creds.cap_effective), ("CapPrm", &creds.cap_permitted), ("CapBnd", &creds.cap_bounding), ("CapInh", &creds.cap_inheritable), ("CapAmb", &creds.cap_ambient)] {
                let mask = u64::from_str_radix(want["status"][key].as_str().unwrap(), 16).unwrap();
                let words = [mask as u32, (mask >> 32) as u32];
                check(key, *names == criu_images::model::capability_names(&words), format!("{names:?} vs {mask:#x}"));
            }
            // Every VMA except [vsyscall] (not dumped) and [vvar_vclock] (stored with [vvar]).
            let maps: Vec<_> = want["maps"].as_array().unwrap().iter().filter(|m| !matches!(m["path"].as_str(), Some("[vsyscall]") | Some("[vvar_vclock]"))).collect();
            for m in &maps {
                let start = m["start"].as_u64().unwrap();
                let path = m["path"].as_str().filter(|p| !p.is_empty());
                let got_vma = got.vmas.iter().find(|v| v.start == start);
                let ok = got_vma.is_some_and(|v| {
                    (v.end == m["end"].as_u64().unwrap() || path == Some("[vvar]"))
                        && v.perms == m["perms"].as_str().unwrap()
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
        let refs: Vec<&dyn ImageStore> = levels.iter().map(|l| l as &dyn ImageStore).collect();
        let processes = Process::load_all(&refs).unwrap();
        let mut checked = 0;
        for want in truth["processes"].as_array().unwrap() {
            let vpid = want["vpid"].as_u64().unwrap() as u32;
            let got = processes.iter().find(|p| p.pid == vpid).unwrap();
            for tcp in want["sockets"]["tcp"].as_array().unwrap() {
                let inode = tcp["inode"].as_i64().unwrap();
                let Some(fd) = got.fds.iter().find(|f| f.details.iter().any(|(k, v)| *k == "inode" && *v == criu_images::model::Detail::Int(inode))) else {
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
