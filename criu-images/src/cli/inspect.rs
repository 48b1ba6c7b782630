//! `criu-images inspect`: the forensic picture of a checkpoint, as a tree
//! for people or JSON (schema: docs/inspect.md) for programs.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use serde_json::{json, Map, Value};

use crate::checkpoint::Checkpoint;
use crate::error::Result;
use crate::model::{Detail, Process};

/// Version of the `inspect --format json` schema (docs/inspect.md).
pub const INSPECT_SCHEMA_VERSION: u32 = 1;

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub(crate) enum InspectFormat {
    Tree,
    Json,
}

#[derive(Args, Debug)]
pub(crate) struct InspectArgs {
    /// Checkpoint: images directory, tar, tar.gz, tar.zst.
    path: PathBuf,
    /// The process tree (the default view).
    #[arg(long)]
    ps_tree: bool,
    /// Open files of each process.
    #[arg(long)]
    files: bool,
    /// Sockets of each process, with addresses and queued data.
    #[arg(long)]
    sockets: bool,
    /// Environment variables of each process.
    #[arg(long)]
    env: bool,
    /// Command lines (shown in the tree by default).
    #[arg(long)]
    cmdline: bool,
    /// Credentials and capabilities.
    #[arg(long)]
    creds: bool,
    /// Memory areas.
    #[arg(long)]
    maps: bool,
    /// Mount table and host name of the root process's namespaces.
    #[arg(long)]
    mounts: bool,
    /// Everything.
    #[arg(long)]
    all: bool,
    /// Only this process (ids as the checkpoint holds them).
    #[arg(long)]
    pid: Option<u32>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = InspectFormat::Tree)]
    format: InspectFormat,
}

pub(crate) fn run(args: InspectArgs, out: &mut dyn Write) -> Result<()> {
    let checkpoint = Checkpoint::open(&args.path)?;
    let mut processes = Process::load_all(&checkpoint.levels())?;
    if let Some(pid) = args.pid {
        processes.retain(|p| p.pid == pid);
    }
    let container = checkpoint.container()?;
    match args.format {
        InspectFormat::Json => {
            let mut doc = inspect_json(&checkpoint, &processes);
            doc["container"] = container.as_ref().map_or(Value::Null, |c| c.to_json());
            let (mounts, uts) = namespaces_of(&checkpoint, &processes)?;
            doc["mounts"] = mounts
                .iter()
                .map(|m| json!({"id": m.id, "parent": m.parent, "mountpoint": m.mountpoint, "source": m.source, "fstype": m.fstype, "root": m.root, "options": m.options, "external": m.external}))
                .collect();
            doc["uts"] = uts.map_or(Value::Null, |(host, domain)| json!({"hostname": host, "domainname": domain}));
            let text = serde_json::to_string_pretty(&doc).expect("JSON values serialise");
            writeln!(out, "{text}").ok();
        }
        InspectFormat::Tree => {
            if let Some(c) = &container {
                writeln!(
                    out,
                    "{} container {} ({}), image {}, created {}{}",
                    c.engine.name(),
                    c.name.as_deref().unwrap_or("?"),
                    c.id.as_deref().map_or("?", |id| &id[..id.len().min(12)]),
                    c.image_name.as_deref().unwrap_or("?"),
                    c.created.as_deref().unwrap_or("?"),
                    c.primary_ip().map(|ip| format!(", IP {ip}")).unwrap_or_default()
                )
                .ok();
            }
            tree(&args, &checkpoint, &processes, out);
            if args.mounts || args.all {
                let (mounts, uts) = namespaces_of(&checkpoint, &processes)?;
                if let Some((host, domain)) = uts {
                    writeln!(out, "Hostname: {host}{}", if domain.is_empty() || domain == "(none)" { String::new() } else { format!(" (domain {domain})") }).ok();
                }
                writeln!(out, "Mounts").ok();
                for (i, m) in mounts.iter().enumerate() {
                    let branch = if i + 1 == mounts.len() { "└──" } else { "├──" };
                    writeln!(out, "{branch} {} {} {} ({}){}", m.mountpoint, m.fstype, m.source, m.options, if m.external { " [external]" } else { "" }).ok();
                }
            }
        }
    }
    Ok(())
}

/// The `inspect --format json` document.
pub(crate) fn inspect_json(checkpoint: &Checkpoint, processes: &[Process]) -> Value {
    json!({
        "schema_version": INSPECT_SCHEMA_VERSION,
        "checkpoint": {
            "path": checkpoint.path().display().to_string(),
            "format": format!("{:?}", checkpoint.archive().format()).to_lowercase(),
            "images_dir": checkpoint.images().dir(),
            "parents": checkpoint.parents().iter().map(|p| p.label()).collect::<Vec<_>>(),
        },
        "container": Value::Null,
        "processes": processes.iter().map(process_json).collect::<Vec<_>>(),
    })
}

/// Mounts and UTS names of the first process's namespaces.
fn namespaces_of(checkpoint: &Checkpoint, processes: &[Process]) -> Result<(Vec<crate::model::Mount>, Option<(String, String)>)> {
    let Some(first) = processes.first() else { return Ok((Vec::new(), None)) };
    let mounts = match first.namespaces.mnt {
        Some(ns) => crate::model::mounts(checkpoint.images(), ns)?,
        None => Vec::new(),
    };
    let uts = match first.namespaces.uts {
        Some(ns) => crate::model::uts(checkpoint.images(), ns)?,
        None => None,
    };
    Ok((mounts, uts))
}

fn detail_json(detail: &Detail) -> Value {
    match detail {
        Detail::Int(v) => json!(v),
        Detail::Text(t) => json!(t),
        Detail::Texts(t) => json!(t),
        Detail::Bool(b) => json!(b),
    }
}

fn process_json(p: &Process) -> Value {
    let environ: Map<String, Value> = p.environ.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
    json!({
        "pid": p.pid,
        "ppid": p.ppid,
        "pgid": p.pgid,
        "sid": p.sid,
        "threads": p.threads.iter().map(|t| t.tid).collect::<Vec<_>>(),
        "comm": p.comm,
        "state": p.state.name(),
        "exit_code": p.exit_code,
        "exe": p.exe,
        "cwd": p.cwd,
        "root": p.root,
        "cmdline": p.cmdline,
        "environ": environ,
        "creds": p.creds.as_ref().map(|c| json!({
            "uid": c.uid, "euid": c.euid, "suid": c.suid, "fsuid": c.fsuid,
            "gid": c.gid, "egid": c.egid, "sgid": c.sgid, "fsgid": c.fsgid,
            "groups": c.groups,
            "cap_effective": c.cap_effective, "cap_permitted": c.cap_permitted,
            "cap_inheritable": c.cap_inheritable, "cap_bounding": c.cap_bounding, "cap_ambient": c.cap_ambient,
            "no_new_privs": c.no_new_privs, "lsm_profile": c.lsm_profile,
        })),
        "namespaces": {
            "pid": p.namespaces.pid, "net": p.namespaces.net, "ipc": p.namespaces.ipc, "uts": p.namespaces.uts,
            "mnt": p.namespaces.mnt, "user": p.namespaces.user, "cgroup": p.namespaces.cgroup, "time": p.namespaces.time,
        },
        "rlimits": p.rlimits.iter().map(|r| json!({"name": r.name, "soft": r.soft, "hard": r.hard})).collect::<Vec<_>>(),
        "thread_details": p.threads.iter().map(|t| json!({
            "tid": t.tid, "comm": t.comm, "blocked_signals": t.blocked, "seccomp": t.seccomp,
            "registers": t.registers.iter().map(|(n, v)| (n.clone(), json!(v))).collect::<Map<String, Value>>(),
        })).collect::<Vec<_>>(),
        "vmas": p.vmas.iter().map(|v| json!({"start": v.start, "end": v.end, "offset": v.offset, "perms": v.perms, "path": v.path})).collect::<Vec<_>>(),
        "fds": p.fds.iter().map(|f| json!({
            "fd": f.fd, "type": f.kind, "path": f.path,
            "details": f.details.iter().map(|(k, v)| (k.to_string(), detail_json(v))).collect::<Map<String, Value>>(),
        })).collect::<Vec<_>>(),
    })
}

fn tree(args: &InspectArgs, checkpoint: &Checkpoint, processes: &[Process], out: &mut dyn Write) {
    let all = args.all;
    writeln!(out, "{} ({:?}, {} processes)", checkpoint.path().display(), checkpoint.archive().format(), processes.len()).ok();
    writeln!(out, "└── Process tree").ok();
    let roots: Vec<&Process> = processes.iter().filter(|p| !processes.iter().any(|q| q.pid == p.ppid && q.pid != p.pid)).collect();
    for (i, root) in roots.iter().enumerate() {
        print_process(args, all, processes, root, "    ", i + 1 == roots.len(), out);
    }
}

fn print_process(args: &InspectArgs, all: bool, processes: &[Process], p: &Process, prefix: &str, last: bool, out: &mut dyn Write) {
    let (branch, cont) = if last { ("└── ", "    ") } else { ("├── ", "│   ") };
    let threads = if p.threads.len() == 1 { "1 thread".to_string() } else { format!("{} threads", p.threads.len()) };
    writeln!(out, "{prefix}{branch}[{}] {} ({}, {threads})", p.pid, p.comm, p.state.name()).ok();
    let inner = format!("{prefix}{cont}");
    let mut lines: Vec<(String, Vec<String>)> = Vec::new();
    if args.cmdline || all || !(args.files || args.sockets || args.env || args.creds || args.maps) {
        lines.push((format!("cmdline: {}", shell_words(&p.cmdline)), Vec::new()));
    }
    if all {
        lines.push((format!("exe: {}  cwd: {}  root: {}", opt(&p.exe), opt(&p.cwd), opt(&p.root)), Vec::new()));
    }
    if args.creds || all {
        if let Some(c) = &p.creds {
            lines.push((
                format!("uid {}/{}/{}/{} gid {}/{}/{}/{} groups {:?}", c.uid, c.euid, c.suid, c.fsuid, c.gid, c.egid, c.sgid, c.fsgid, c.groups),
                vec![format!("effective capabilities: {}", c.cap_effective.join(" ")), format!("no_new_privs: {}", c.no_new_privs)],
            ));
        }
    }
    if args.env || all {
        lines.push(("environment".into(), p.environ.iter().map(|(k, v)| format!("{k}={v}")).collect()));
    }
    if args.files || all {
        lines.push((
            "open files".into(),
            p.fds.iter().map(|f| format!("{:>4}  {:<9} {}", f.fd, f.kind, f.path.as_deref().unwrap_or("?"))).collect(),
        ));
    }
    if args.sockets || all {
        let sockets: Vec<String> = p
            .fds
            .iter()
            .filter(|f| f.is_socket())
            .map(|f| {
                let d: Vec<String> = f.details.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!("{:>4}  {:<9} {}", f.fd, f.kind, d.join(" "))
            })
            .collect();
        lines.push(("sockets".into(), sockets));
    }
    if args.maps || all {
        lines.push((
            "memory areas".into(),
            p.vmas.iter().map(|v| format!("{:x}-{:x} {} {:08x} {}", v.start, v.end, v.perms, v.offset, v.path.as_deref().unwrap_or(""))).collect(),
        ));
    }
    // A group with nothing in it is left out rather than printed empty.
    lines.retain(|(head, items)| !items.is_empty() || !matches!(head.as_str(), "open files" | "sockets" | "environment" | "memory areas"));
    let children: Vec<&Process> = processes.iter().filter(|c| c.ppid == p.pid && c.pid != p.pid).collect();
    let count = lines.len() + children.len();
    for (i, (head, items)) in lines.iter().enumerate() {
        let last_line = i + 1 == count;
        let (b, c) = if last_line { ("└── ", "    ") } else { ("├── ", "│   ") };
        writeln!(out, "{inner}{b}{head}").ok();
        for (j, item) in items.iter().enumerate() {
            let ib = if j + 1 == items.len() { "└── " } else { "├── " };
            writeln!(out, "{inner}{c}{ib}{item}").ok();
        }
    }
    for (i, child) in children.iter().enumerate() {
        print_process(args, all, processes, child, &inner, lines.len() + i + 1 == count, out);
    }
}

fn opt(value: &Option<String>) -> &str {
    value.as_deref().unwrap_or("?")
}

/// Arguments joined for display, quoted where a shell would need it.
fn shell_words(args: &[String]) -> String {
    args.iter()
        .map(|a| {
            if !a.is_empty() && a.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./=:,@%+".contains(&b)) {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
