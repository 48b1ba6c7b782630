//! Processes, their open files and sockets: matching the two sides'
//! processes, and the field-level differences of each matched pair.

use std::collections::{BTreeMap, HashMap};

use serde_json::{json, Value};

use super::side::Side;
use super::{field_changes, Change, Diff, DiffOptions, FileChange, ProcessChange, SocketChange};
use crate::error::Result;
use crate::model::{Detail, Fd, Process};

/// A matched pair: old index, new index, how.
pub(super) type Pair = (usize, usize, &'static str);

/// Matches processes: the same pid first; then, among the rest, the same
/// comm and command line (`program`); then the same comm under matched
/// parents (`tree`, in `pstree.img` order, where parents come first). Each
/// process is matched at most once; linear in the number of processes (a
/// hostile tree may hold many).
pub(super) fn match_processes(old: &[Process], new: &[Process]) -> Vec<Pair> {
    let mut pairs = Vec::new();
    let mut old_used = vec![false; old.len()];
    let mut new_used = vec![false; new.len()];
    let new_by_pid: HashMap<u32, usize> = new.iter().enumerate().map(|(i, p)| (p.pid, i)).collect();
    for (i, p) in old.iter().enumerate() {
        if let Some(&j) = new_by_pid.get(&p.pid) {
            if !new_used[j] {
                pairs.push((i, j, "pid"));
                old_used[i] = true;
                new_used[j] = true;
            }
        }
    }
    // Candidates by key, each list in new-side order, taken from the front.
    let mut by_program: HashMap<(&str, &[String]), std::collections::VecDeque<usize>> = HashMap::new();
    for (j, p) in new.iter().enumerate().filter(|(j, _)| !new_used[*j]) {
        by_program.entry((p.comm.as_str(), p.cmdline.as_slice())).or_default().push_back(j);
    }
    for (i, p) in old.iter().enumerate() {
        if old_used[i] {
            continue;
        }
        let candidates = by_program.get_mut(&(p.comm.as_str(), p.cmdline.as_slice()));
        if let Some(j) = candidates.and_then(|c| c.pop_front()) {
            pairs.push((i, j, "program"));
            old_used[i] = true;
            new_used[j] = true;
        }
    }
    let mut parent_pairs: HashMap<u32, u32> = pairs.iter().map(|&(i, j, _)| (old[i].pid, new[j].pid)).collect();
    let mut by_parent: HashMap<(&str, u32), std::collections::VecDeque<usize>> = HashMap::new();
    for (j, p) in new.iter().enumerate().filter(|(j, _)| !new_used[*j]) {
        by_parent.entry((p.comm.as_str(), p.ppid)).or_default().push_back(j);
    }
    for (i, p) in old.iter().enumerate() {
        if old_used[i] {
            continue;
        }
        let Some(&new_parent) = parent_pairs.get(&p.ppid) else { continue };
        if let Some(j) = by_parent.get_mut(&(p.comm.as_str(), new_parent)).and_then(|c| c.pop_front()) {
            pairs.push((i, j, "tree"));
            old_used[i] = true;
            new_used[j] = true;
            parent_pairs.insert(p.pid, new[j].pid);
        }
    }
    pairs.sort_by_key(|&(_, j, _)| j);
    pairs
}

/// Whether `--pid` selects this process (its pid on either side).
fn selected(options: &DiffOptions, pids: &[u32]) -> bool {
    options.pid.is_none_or(|want| pids.contains(&want))
}

pub(super) fn compare(old: &Side<'_>, new: &Side<'_>, options: &DiffOptions, diff: &mut Diff) -> Result<()> {
    let (Some(old_ps), Some(new_ps)) = (&old.processes, &new.processes) else {
        let which = if old.processes.is_none() { old.name } else { new.name };
        diff.notes.push(format!(
            "the {which} side is a pre-dump level (no pstree.img: memory only): processes, files, sockets and areas are not compared"
        ));
        return Ok(());
    };
    let pairs = match_processes(old_ps, new_ps);
    let mut old_matched = vec![false; old_ps.len()];
    let mut new_matched = vec![false; new_ps.len()];
    for &(i, j, _) in &pairs {
        old_matched[i] = true;
        new_matched[j] = true;
    }
    let pair_of_new: HashMap<usize, (usize, &'static str)> = pairs.iter().map(|&(i, j, how)| (j, (i, how))).collect();
    // In new-side order: changed and appeared; then disappeared in old order.
    for (j, p) in new_ps.iter().enumerate() {
        if !new_matched[j] {
            if selected(options, &[p.pid]) {
                diff.processes.push(ProcessChange {
                    pid: p.pid,
                    old_pid: None,
                    comm: p.comm.clone(),
                    change: Change::Appeared,
                    matched_by: None,
                    fields: Vec::new(),
                });
            }
            continue;
        }
        let Some(&(i, how)) = pair_of_new.get(&j) else { continue };
        let o = &old_ps[i];
        if !selected(options, &[o.pid, p.pid]) {
            continue;
        }
        let fields = field_changes(&process_fields(o), &process_fields(p));
        if !fields.is_empty() || o.pid != p.pid {
            diff.processes.push(ProcessChange {
                pid: p.pid,
                old_pid: Some(o.pid),
                comm: p.comm.clone(),
                change: Change::Changed,
                matched_by: Some(how),
                fields,
            });
        }
        compare_fds(o, p, diff);
    }
    for (i, p) in old_ps.iter().enumerate() {
        if !old_matched[i] && selected(options, &[p.pid]) {
            diff.processes.push(ProcessChange {
                pid: p.pid,
                old_pid: Some(p.pid),
                comm: p.comm.clone(),
                change: Change::Disappeared,
                matched_by: None,
                fields: Vec::new(),
            });
        }
    }
    Ok(())
}

/// The facts of a process that a diff compares, as flat `field -> value` pairs.
pub(super) fn process_fields(p: &Process) -> Vec<(String, Value)> {
    let mut f: Vec<(String, Value)> = Vec::new();
    let mut put = |k: &str, v: Value| f.push((k.to_string(), v));
    put("comm", json!(p.comm));
    put("state", json!(p.state.name()));
    put("exit_code", json!(p.exit_code));
    put("pgid", json!(p.pgid));
    put("sid", json!(p.sid));
    put("exe", json!(p.exe));
    put("cwd", json!(p.cwd));
    put("root", json!(p.root));
    put("cmdline", json!(p.cmdline));
    for (key, value) in &p.environ {
        put(&format!("environ.{key}"), json!(value));
    }
    if let Some(c) = &p.creds {
        for (name, value) in [
            ("uid", c.uid),
            ("euid", c.euid),
            ("suid", c.suid),
            ("fsuid", c.fsuid),
            ("gid", c.gid),
            ("egid", c.egid),
            ("sgid", c.sgid),
            ("fsgid", c.fsgid),
            ("secbits", c.secbits),
        ] {
            put(&format!("creds.{name}"), json!(value));
        }
        put("creds.groups", json!(c.groups));
        put("creds.cap_effective", json!(c.cap_effective));
        put("creds.cap_permitted", json!(c.cap_permitted));
        put("creds.cap_inheritable", json!(c.cap_inheritable));
        put("creds.cap_bounding", json!(c.cap_bounding));
        put("creds.cap_ambient", json!(c.cap_ambient));
        put("creds.no_new_privs", json!(c.no_new_privs));
        put("creds.lsm_profile", json!(c.lsm_profile));
    }
    put("threads", json!(p.threads.iter().map(|t| t.tid).collect::<Vec<_>>()));
    for t in &p.threads {
        put(&format!("threads[{}].comm", t.tid), json!(t.comm));
        put(&format!("threads[{}].blocked", t.tid), json!(t.blocked));
        put(&format!("threads[{}].seccomp", t.tid), json!(t.seccomp));
        put(&format!("threads[{}].seccomp_filters", t.tid), json!(t.seccomp_filters.len()));
    }
    for (name, id) in p.namespaces.by_kind() {
        put(&format!("namespaces.{name}"), json!(id));
    }
    for s in &p.sigactions {
        put(&format!("sigactions.{}", s.signal), json!({"handler": s.handler, "flags": s.flag_names(), "mask": s.mask}));
    }
    put("pending_signals", json!(p.pending_signals.iter().map(|s| s.signal.clone()).collect::<Vec<_>>()));
    put("cgroups", json!(p.cgroups.iter().map(|m| format!("{}:{}", m.controller, m.path)).collect::<Vec<_>>()));
    for r in &p.rlimits {
        put(&format!("rlimits.{}", r.name), json!([r.soft, r.hard]));
    }
    f
}

fn detail_value(detail: &Detail) -> Value {
    match detail {
        Detail::Int(v) => json!(v),
        Detail::Text(t) => json!(t),
        Detail::Texts(t) => json!(t),
        Detail::Bool(b) => json!(b),
    }
}

fn fd_fields(fd: &Fd) -> Vec<(String, Value)> {
    let mut f =
        vec![("file_type".to_string(), json!(fd.r#type)), ("path".to_string(), json!(fd.path)), ("fd_flags".to_string(), json!(fd.flags))];
    for (key, value) in &fd.details {
        // The inode number changes with every new socket or pipe; what a
        // reader compares is the endpoint and the state.
        if *key != "inode" {
            f.push((key.to_string(), detail_value(value)));
        }
    }
    f
}

fn detail<'f>(fd: &'f Fd, key: &str) -> Option<&'f Detail> {
    fd.details.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
}

/// `local -> remote` for inet sockets, the name for unix sockets.
pub(super) fn endpoint(fd: &Fd) -> String {
    let text = |k: &str| detail(fd, k).map(|d| d.to_string()).unwrap_or_default();
    match fd.r#type.as_str() {
        "INETSK" => {
            let local = format!("{}:{}", text("local_address"), text("local_port"));
            match text("remote_port").as_str() {
                "" | "0" => local,
                port => format!("{local} -> {}:{port}", text("remote_address")),
            }
        }
        "UNIXSK" => text("name"),
        _ => fd.path.clone().unwrap_or_default(),
    }
}

fn queued(fd: &Fd) -> i64 {
    ["inq_bytes", "outq_bytes", "queued_bytes"]
        .iter()
        .filter_map(|k| match detail(fd, k) {
            Some(Detail::Int(v)) => Some(*v),
            _ => None,
        })
        .sum()
}

fn compare_fds(old: &Process, new: &Process, diff: &mut Diff) {
    let pid = new.pid;
    let old_fds: BTreeMap<u32, &Fd> = old.fds.iter().map(|f| (f.fd, f)).collect();
    let new_fds: BTreeMap<u32, &Fd> = new.fds.iter().map(|f| (f.fd, f)).collect();
    let mut numbers: Vec<u32> = old_fds.keys().chain(new_fds.keys()).copied().collect();
    numbers.sort_unstable();
    numbers.dedup();
    for fd in numbers {
        let (o, n) = (old_fds.get(&fd).copied(), new_fds.get(&fd).copied());
        let socket = o.is_some_and(Fd::is_socket) || n.is_some_and(Fd::is_socket);
        if socket {
            compare_socket(pid, fd, o, n, diff);
        } else {
            compare_file(pid, fd, o, n, diff);
        }
    }
}

fn compare_file(pid: u32, fd: u32, old: Option<&Fd>, new: Option<&Fd>, diff: &mut Diff) {
    let (change, fields) = match (old, new) {
        (None, None) => return,
        (None, Some(_)) => ("opened", Vec::new()),
        (Some(_), None) => ("closed", Vec::new()),
        (Some(o), Some(n)) => {
            let fields = field_changes(&fd_fields(o), &fd_fields(n));
            if fields.is_empty() {
                return;
            }
            let has = |name: &str| fields.iter().any(|f| f.field == name);
            let change = if has("path") || has("file_type") {
                "repointed"
            } else if has("pos") {
                "moved"
            } else if has("flags") || has("fd_flags") {
                "flags"
            } else {
                "changed"
            };
            (change, fields)
        }
    };
    let path = new.or(old).and_then(|f| f.path.clone());
    diff.files.push(FileChange { pid, fd, change, path, fields });
}

fn compare_socket(pid: u32, fd: u32, old: Option<&Fd>, new: Option<&Fd>, diff: &mut Diff) {
    let listening = |f: &Fd| matches!(detail(f, "state"), Some(Detail::Text(s)) if s.eq_ignore_ascii_case("listen"));
    let push = |diff: &mut Diff, f: &Fd, change: &'static str, fields| {
        diff.sockets.push(SocketChange { pid, fd, change, r#type: f.r#type.clone(), endpoint: endpoint(f), fields });
    };
    match (old, new) {
        (None, None) => {}
        (None, Some(n)) => push(diff, n, if listening(n) { "listening" } else { "opened" }, Vec::new()),
        (Some(o), None) => push(diff, o, "closed", Vec::new()),
        (Some(o), Some(n)) if o.r#type != n.r#type || endpoint(o) != endpoint(n) => {
            // Another connection on the same descriptor number.
            push(diff, o, "closed", Vec::new());
            push(diff, n, if listening(n) { "listening" } else { "opened" }, Vec::new());
        }
        (Some(o), Some(n)) => {
            let fields = field_changes(&fd_fields(o), &fd_fields(n));
            if fields.is_empty() {
                return;
            }
            let change = if queued(n) > queued(o) { "queued" } else { "changed" };
            push(diff, n, change, fields);
        }
    }
}
