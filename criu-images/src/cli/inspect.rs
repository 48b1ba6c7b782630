//! `criu-images inspect`: the forensic picture of a checkpoint, as a tree
//! for people or JSON (schema: docs/inspect.md) for programs.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use serde_json::{json, Map, Value};

use super::text::outln;
use crate::archive::ArchiveFormat;
use crate::checkpoint::Checkpoint;
use crate::error::Result;
use crate::model::{Cgroups, Fd, Mount, PendingSignal, Process, ProcessTree, SeccompFilter, TreeNode};
use crate::warning::{Part, Warnings};

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
    /// Signal handlers, blocked and queued signals of each process and thread.
    #[arg(long)]
    signals: bool,
    /// Seccomp mode and filters of each thread (instructions, SHA-256, actions).
    #[arg(long)]
    seccomp: bool,
    /// With --seccomp: each filter's BPF program, disassembled.
    #[arg(long)]
    disassemble: bool,
    /// The cgroups of each process, and the saved cgroup properties.
    #[arg(long)]
    cgroups: bool,
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
    let checkpoint = super::open_checkpoint(&args.path)?;
    super::require_process_tree(&checkpoint)?;
    if let Some(pid) = args.pid {
        checkpoint.require_pid(pid)?;
    }
    // Built first: a pid listed twice fails here, before anything is shown.
    let mut tree = crate::model::process_tree(checkpoint.images())?;
    super::warn_about_loops(&tree);
    let mut processes = checkpoint.processes()?;
    if let Some(pid) = args.pid {
        processes.retain(|p| p.pid == pid);
        tree.nodes = vec![TreeNode { index: 0, pid, depth: 0, last: true, children: 0 }];
    }
    for p in &processes {
        for warning in &p.warnings {
            eprintln!("criu-images: warning: pid {}: {warning}", p.pid);
        }
    }
    // A container record that cannot be read is left out with a warning:
    // the processes are still worth showing. Only the part shown here is
    // read (`show` reads and warns about the others: dump.log can be large).
    let mut warnings = Warnings::default();
    let container = warnings.take(Part::Container, checkpoint.container());
    let warnings = warnings.into_vec();
    super::print_warnings(&warnings);
    // The checkpoint-wide tables only when shown (a seccomp.img can be huge).
    let json = args.format == InspectFormat::Json;
    let filters =
        if json || args.seccomp || args.disassemble || args.all { crate::model::seccomp_filters(checkpoint.images())? } else { Vec::new() };
    let cgroups = if json || args.cgroups || args.all { crate::model::cgroups(checkpoint.images())? } else { Cgroups::default() };
    match args.format {
        InspectFormat::Json => {
            let mut doc = inspect_json(&checkpoint, &processes);
            doc["seccomp_filters"] = filters.iter().map(filter_json).collect();
            doc["cgroups"] = cgroups_json(&cgroups);
            doc["container"] = container.as_ref().map_or(Value::Null, |c| c.to_json());
            doc["warnings"] = warnings.iter().map(|w| Value::String(w.to_string())).collect();
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
                outln!(
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
            print_tree(&args, &checkpoint, &processes, &tree, &filters, out);
            if (args.cgroups || args.all) && !cgroups.controllers.is_empty() {
                outln!(out, "Cgroup properties").ok();
                let dirs: Vec<String> = cgroups
                    .controllers
                    .iter()
                    .flat_map(|c| {
                        let names = if c.names.iter().all(String::is_empty) { "unified".to_string() } else { c.names.join(",") };
                        c.dirs.iter().filter(|d| !d.properties.is_empty()).map(move |d| {
                            let props: Vec<String> =
                                d.properties.iter().map(|(k, v)| format!("{k}={}", v.trim_end().replace('\n', "; "))).collect();
                            format!("{names}:{} {}", d.path, props.join(" "))
                        })
                    })
                    .collect();
                for (i, line) in dirs.iter().enumerate() {
                    outln!(out, "{} {line}", if i + 1 == dirs.len() { "└──" } else { "├──" }).ok();
                }
            }
            if args.mounts || args.all {
                let (mounts, uts) = namespaces_of(&checkpoint, &processes)?;
                if let Some((host, domain)) = uts {
                    outln!(
                        out,
                        "Hostname: {host}{}",
                        if domain.is_empty() || domain == "(none)" { String::new() } else { format!(" (domain {domain})") }
                    )
                    .ok();
                }
                outln!(out, "Mounts").ok();
                for (i, m) in mounts.iter().enumerate() {
                    let branch = if i + 1 == mounts.len() { "└──" } else { "├──" };
                    outln!(
                        out,
                        "{branch} {} {} {} ({}){}",
                        m.mountpoint,
                        m.fstype,
                        m.source,
                        m.options,
                        if m.external { " [external]" } else { "" }
                    )
                    .ok();
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
            "format": schema1_format(checkpoint.archive().format()),
            "archive_format": checkpoint.archive().format().name(),
            "images_dir": checkpoint.images().dir(),
            "parents": checkpoint.parents().iter().map(|p| p.label()).collect::<Vec<_>>(),
            "image": checkpoint.archive().image().map(|image| {
                let mut value = image.to_json();
                value["form"] = json!(checkpoint.archive().format().name());
                value
            }),
        },
        "container": Value::Null,
        "processes": processes.iter().map(Process::to_json).collect::<Vec<_>>(),
    })
}

/// `checkpoint.format` as schema version 1 first spelled it (`targz`,
/// `tarzst`), kept for its readers; `archive_format` has the spelling used
/// everywhere else (`tar.gz`, as `ArchiveFormat::name` and Python's
/// `Checkpoint.format`).
fn schema1_format(format: ArchiveFormat) -> &'static str {
    match format {
        ArchiveFormat::Directory => "directory",
        ArchiveFormat::Tar => "tar",
        ArchiveFormat::TarGz => "targz",
        ArchiveFormat::TarZst => "tarzst",
        ArchiveFormat::File => "file",
        // Added with the image forms; the first spelling was Debug, lowercased.
        ArchiveFormat::OciArchive => "ociarchive",
        ArchiveFormat::OciLayout => "ocilayout",
        ArchiveFormat::DockerArchive => "dockerarchive",
    }
}

/// Host name and domain name.
type UtsNames = Option<(String, String)>;

/// Mounts and UTS names of the first process's namespaces.
fn namespaces_of(checkpoint: &Checkpoint, processes: &[Process]) -> Result<(Vec<Mount>, UtsNames)> {
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

/// One filter of the top-level `seccomp_filters` array.
fn filter_json(f: &SeccompFilter) -> Value {
    json!({
        "index": f.index, "prev": f.prev, "flags": f.flags, "flag_names": f.flag_names(),
        "instructions": f.instructions, "sha256": f.sha256, "actions": f.actions, "disassembly": f.disassembly,
    })
}

/// The top-level `cgroups` object.
fn cgroups_json(c: &Cgroups) -> Value {
    json!({
        "sets": c.sets.iter().map(|s| json!({"id": s.id, "members": s.members.iter().map(|m| json!({"controller": m.controller, "path": m.path, "cgns_prefix": m.cgns_prefix})).collect::<Vec<_>>()})).collect::<Vec<_>>(),
        "controllers": c.controllers.iter().map(|ctl| json!({
            "names": ctl.names, "threaded": ctl.threaded,
            "dirs": ctl.dirs.iter().map(|d| json!({"path": d.path, "properties": d.properties.iter().map(|(k, v)| (k.clone(), json!(v))).collect::<Map<String, Value>>()})).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

/// How many levels of a deep tree are drawn; deeper ones are drawn at this
/// indentation with their depth, so that the output grows with the number
/// of processes, not with its square.
const MAX_DRAWN_DEPTH: usize = 32;

fn print_tree(
    args: &InspectArgs,
    checkpoint: &Checkpoint,
    processes: &[Process],
    tree: &ProcessTree,
    filters: &[SeccompFilter],
    out: &mut dyn Write,
) {
    let all = args.all;
    let count = match processes.len() {
        1 => "1 process".to_string(),
        n => format!("{n} processes"),
    };
    outln!(out, "{} ({}, {count})", checkpoint.path().display(), checkpoint.archive().format().name()).ok();
    outln!(out, "└── Process tree").ok();
    let by_pid: HashMap<u32, &Process> = processes.iter().map(|p| (p.pid, p)).collect();
    // For each level above the current process: was that ancestor a last child?
    let mut ancestors: Vec<bool> = Vec::new();
    for node in &tree.nodes {
        ancestors.truncate(node.depth);
        let Some(p) = by_pid.get(&node.pid) else { continue };
        let mut prefix = String::from("    ");
        for &last in ancestors.iter().take(MAX_DRAWN_DEPTH) {
            prefix.push_str(if last { "    " } else { "│   " });
        }
        if node.depth > MAX_DRAWN_DEPTH {
            prefix.push_str(&format!("(depth {}) ", node.depth));
        }
        print_process(args, all, p, filters, &prefix, node.last, node.children, out);
        ancestors.push(node.last);
    }
}

#[allow(clippy::too_many_arguments)]
fn print_process(
    args: &InspectArgs,
    all: bool,
    p: &Process,
    filters: &[SeccompFilter],
    prefix: &str,
    last: bool,
    children: usize,
    out: &mut dyn Write,
) {
    let (branch, cont) = if last { ("└── ", "    ") } else { ("├── ", "│   ") };
    let threads = if p.threads.len() == 1 { "1 thread".to_string() } else { format!("{} threads", p.threads.len()) };
    outln!(out, "{prefix}{branch}[{}] {} ({}, {threads})", p.pid, p.comm, p.state.name()).ok();
    let inner = format!("{prefix}{cont}");
    let mut lines: Vec<(String, Vec<String>)> = Vec::new();
    if args.cmdline
        || all
        || !(args.files
            || args.sockets
            || args.env
            || args.creds
            || args.maps
            || args.signals
            || args.seccomp
            || args.disassemble
            || args.cgroups)
    {
        let cut = if p.cmdline_truncated { format!(" [truncated at {} bytes]", crate::model::ARGS_MAX_BYTES) } else { String::new() };
        lines.push((format!("cmdline: {}{cut}", shell_words(&p.cmdline)), Vec::new()));
    }
    if all {
        lines.push((format!("exe: {}  cwd: {}  root: {}", opt(&p.exe), opt(&p.cwd), opt(&p.root)), Vec::new()));
    }
    if args.creds || all {
        if let Some(c) = &p.creds {
            lines.push((
                format!(
                    "uid {}/{}/{}/{} gid {}/{}/{}/{} groups {:?}",
                    c.uid, c.euid, c.suid, c.fsuid, c.gid, c.egid, c.sgid, c.fsgid, c.groups
                ),
                vec![format!("effective capabilities: {}", c.cap_effective.join(" ")), format!("no_new_privs: {}", c.no_new_privs)],
            ));
        }
    }
    if args.env || all {
        // Every piece /proc/PID/environ showed, including those that are not NAME=value.
        let mut items: Vec<String> = p.environ_raw.clone();
        if p.environ_truncated {
            items.push(format!("[truncated at {} bytes]", crate::model::ARGS_MAX_BYTES));
        }
        lines.push(("environment".into(), items));
    }
    if args.files || all {
        lines.push((
            "open files".into(),
            p.fds
                .iter()
                .map(|f| {
                    let locks: String = p
                        .locks_of(f.fd)
                        .map(|l| format!("  [{} {} {}-{}]", l.kind, l.lock_type, l.start, l.end().map_or("EOF".into(), |e| e.to_string())))
                        .collect();
                    format!("{:>4}  {:<9} {}{locks}", f.fd, f.r#type, fd_target(f))
                })
                .collect(),
        ));
    }
    if args.signals || all {
        let mut items: Vec<String> = p
            .sigactions
            .iter()
            .map(|s| {
                let flags = s.flag_names();
                let flags = if flags.is_empty() { String::new() } else { format!(" [{}]", flags.join(" ")) };
                let mask = if s.mask.is_empty() { String::new() } else { format!(" blocks {}", s.mask.join(",")) };
                if s.ignored() {
                    format!("{}: ignored", s.signal)
                } else {
                    format!("{}: handler {}{flags}{mask}", s.signal, s.handler)
                }
            })
            .collect();
        items.extend(p.pending_signals.iter().map(|s| format!("queued for the process: {}", pending_text(s))));
        for t in &p.threads {
            let blocked = if t.blocked.is_empty() { "none".to_string() } else { t.blocked.join(",") };
            // /proc showed the call's temporary mask; the images hold the program's.
            let waiting = if t.in_sigsuspend { " (in rt_sigsuspend: /proc showed the call's temporary mask)" } else { "" };
            items.push(format!("thread {} ({}): blocked {blocked}{waiting}", t.tid, t.comm));
            items.extend(t.pending.iter().map(|s| format!("queued for thread {}: {}", t.tid, pending_text(s))));
        }
        lines.push(("signals".into(), items));
    }
    if args.seccomp || args.disassemble || all {
        let mut items = Vec::new();
        // Threads under the same filters are listed once.
        let mut groups: Vec<(&str, &[u32], Vec<u32>)> = Vec::new();
        for t in &p.threads {
            match groups.iter_mut().find(|(mode, chain, _)| *mode == t.seccomp && *chain == t.seccomp_filters.as_slice()) {
                Some(group) => group.2.push(t.tid),
                None => groups.push((t.seccomp.as_str(), t.seccomp_filters.as_slice(), vec![t.tid])),
            }
        }
        for (mode, chain, tids) in groups {
            let who = if tids.len() == p.threads.len() { "all threads".to_string() } else { format!("threads {tids:?}") };
            items.push(format!(
                "{who}: {mode}{}",
                if chain.is_empty() { String::new() } else { format!(", {} filter(s), newest first", chain.len()) }
            ));
            for index in chain {
                let Some(f) = filters.get(*index as usize) else { continue };
                let flags = f.flag_names();
                items.push(format!(
                    "  filter {}: {} instructions, sha256 {}, returns {}{}",
                    f.index,
                    f.instructions,
                    f.sha256,
                    f.actions.join(" "),
                    if flags.is_empty() { String::new() } else { format!(", flags {}", flags.join(",")) }
                ));
                if args.disassemble {
                    items.extend(f.disassembly.iter().map(|l| format!("    {l}")));
                }
            }
        }
        lines.push(("seccomp".into(), items));
    }
    if args.cgroups || all {
        let items = p.cgroups.iter().map(|m| format!("{}:{}", m.controller, m.path)).collect();
        let head = match p.cg_set {
            Some(id) if p.cgroups.is_empty() => format!("cgroups: set {id} (not saved: CRIU's own)"),
            Some(id) => format!("cgroups (set {id})"),
            None => "cgroups: none recorded".to_string(),
        };
        lines.push((head, items));
    }
    if args.sockets || all {
        let sockets: Vec<String> = p
            .fds
            .iter()
            .filter(|f| f.is_socket())
            .map(|f| {
                let d: Vec<String> = f.details.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!("{:>4}  {:<9} {}", f.fd, f.r#type, d.join(" "))
            })
            .collect();
        lines.push(("sockets".into(), sockets));
    }
    if args.maps || all {
        lines.push((
            "memory areas".into(),
            p.vmas
                .iter()
                .map(|v| format!("{:x}-{:x} {} {:08x} {}", v.start, v.end, v.perms(), v.pgoff, v.path.as_deref().unwrap_or("")))
                .collect(),
        ));
    }
    // A group with nothing in it is left out rather than printed empty.
    lines.retain(|(head, items)| !items.is_empty() || !matches!(head.as_str(), "open files" | "sockets" | "environment" | "memory areas"));
    let count = lines.len() + children;
    for (i, (head, items)) in lines.iter().enumerate() {
        let last_line = i + 1 == count;
        let (b, c) = if last_line { ("└── ", "    ") } else { ("├── ", "│   ") };
        outln!(out, "{inner}{b}{head}").ok();
        for (j, item) in items.iter().enumerate() {
            let ib = if j + 1 == items.len() { "└── " } else { "├── " };
            outln!(out, "{inner}{c}{ib}{item}").ok();
        }
    }
}

/// What an fd points to: its path, or for the types whose link CRIU cannot
/// rebuild, what the images do say.
fn fd_target(f: &Fd) -> String {
    if let Some(path) = &f.path {
        return path.clone();
    }
    let get = |key: &str| f.details.iter().find(|(k, _)| *k == key).map(|(_, v)| v.to_string());
    match (get("namespace"), get("ns_id")) {
        (Some(kind), Some(id)) => format!("{kind} namespace (CRIU id {id}; the kernel's inode is not recorded)"),
        _ => "?".into(),
    }
}

fn pending_text(s: &PendingSignal) -> String {
    match (s.sender_pid, s.sender_uid) {
        (Some(pid), Some(uid)) => format!("{} ({}, from pid {pid} uid {uid})", s.signal, s.code_name),
        _ => format!("{} ({})", s.signal, s.code_name),
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
