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
