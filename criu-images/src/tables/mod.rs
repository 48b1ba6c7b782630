//! Tables of a checkpoint as Arrow record batches (feature `tables`):
//! processes, threads, memory areas, file descriptors, sockets, network
//! connections, search hits, strings, YARA hits, triage findings and diff
//! parts. Their columns are listed in docs/python.md and docs/export.md.
//!
//! Every table starts with a `checkpoint` column (Utf8): the id the caller
//! gives (the path as opened, or a name of their choosing), so that the
//! tables of many checkpoints concatenate. A table has the same schema on
//! every checkpoint ([`schema`]): no column depends on the data; a fact a
//! row lacks is null. Addresses are `UInt64`, pids, uids and fds `UInt32`;
//! text is `LargeUtf8`, bytes `LargeBinary` (64-bit offsets: a batch of
//! long command lines cannot overflow them), lists `LargeList`, maps `Map`. Large tables come as several
//! batches of at most [`BATCH_ROWS`] rows ([`HIT_BATCH_ROWS`] for hits,
//! which carry their bytes).

mod columns;
#[cfg(feature = "parquet")]
pub mod parquet;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;

use crate::checkpoint::Checkpoint;
use crate::diff::Diff;
use crate::error::{Error, Result};
use crate::memory::{Hit, ProcessMemory, StringHit};
use crate::model::{Connection, Detail, Fd, Process};
use crate::triage::{Finding, TriageOptions};
use columns::Columns;

/// Most rows in one batch of a table.
pub const BATCH_ROWS: usize = 64 * 1024;

/// Most rows in one batch of search or YARA hits (each holds its matched
/// bytes and context: up to a few KiB).
pub const HIT_BATCH_ROWS: usize = 8 * 1024;

/// The tables [`checkpoint_table`] builds from a checkpoint alone.
pub const CHECKPOINT_TABLES: [&str; 7] = ["processes", "threads", "vmas", "fds", "sockets", "connections", "findings"];

/// The parts of a [`Diff`] as [`diff_part`] names them.
pub const DIFF_PARTS: [&str; 7] = ["metadata", "processes", "files", "sockets", "areas", "pages", "rootfs"];

/// A table: its schema and its batches (possibly none).
#[derive(Clone, Debug)]
pub struct Table {
    /// The table's name (`processes`, `hits`, ...).
    pub name: &'static str,
    /// The schema of every batch.
    pub schema: SchemaRef,
    /// The rows, in batches of bounded size.
    pub batches: Vec<RecordBatch>,
}

impl Table {
    /// Rows over all batches.
    pub fn num_rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }
}

/// Cuts `rows` into batches built by `build`; the schema is the one of an
/// empty batch, so it is the same with or without rows.
fn batched<R>(name: &'static str, rows: &[R], per_batch: usize, build: impl Fn(&[R]) -> Result<RecordBatch>) -> Result<Table> {
    let schema = build(&[])?.schema();
    let batches = rows.chunks(per_batch).map(build).collect::<Result<Vec<_>>>()?;
    Ok(Table { name, schema, batches })
}

/// The schema of table `name` (any of [`CHECKPOINT_TABLES`], `hits`,
/// `strings`, `yara`, `errors`, or `diff_PART`), without data.
pub fn schema(name: &str) -> Option<SchemaRef> {
    let table = match name {
        "processes" => processes("", &[]),
        "threads" => threads("", &[]),
        "vmas" => vmas("", &[]),
        "fds" => fds("", &[]),
        "sockets" => sockets("", &[]),
        "connections" => connections("", &[]),
        "findings" => findings("", &[]),
        "hits" => hits("", &[]),
        "strings" => strings("", &[]),
        "errors" => errors(&[]),
        #[cfg(feature = "yara")]
        "yara" => yara_hits("", &[]),
        _ => {
            let part = name.strip_prefix("diff_")?;
            let part = DIFF_PARTS.iter().find(|p| **p == part)?;
            diff_part("", &Diff::default(), part)
        }
    };
    table.ok().map(|t| t.schema)
}

/// Table `name` of [`CHECKPOINT_TABLES`] of `checkpoint`, with `id` in the
/// `checkpoint` column. `findings` runs the triage checks with their
/// default options; `vmas` builds the memory index of every process.
pub fn checkpoint_table(checkpoint: &Checkpoint, id: &str, name: &str) -> Result<Table> {
    match name {
        "vmas" => {
            let mut memories = Vec::new();
            for pid in checkpoint.memory_pids()? {
                memories.push(checkpoint.memory(pid)?);
            }
            let refs: Vec<&ProcessMemory<'_>> = memories.iter().map(|m| &**m).collect();
            vmas(id, &refs)
        }
        "connections" => connections(id, &checkpoint.connections()?),
        "findings" => findings(id, &crate::triage::triage(checkpoint, &TriageOptions::default())?.findings),
        "processes" | "threads" | "fds" | "sockets" => {
            let all = checkpoint.processes()?;
            let refs: Vec<&Process> = all.iter().collect();
            match name {
                "processes" => processes(id, &refs),
                "threads" => threads(id, &refs),
                "fds" => fds(id, &refs),
                _ => sockets(id, &refs),
            }
        }
        _ => Err(Error::NotFound {
            container: "tables".into(),
            name: format!("table {name:?}"),
            hint: format!(": use one of {}", CHECKPOINT_TABLES.join(", ")),
        }),
    }
}

/// One row per process, in `pstree.img` order.
pub fn processes(id: &str, all: &[&Process]) -> Result<Table> {
    batched("processes", all, BATCH_ROWS, |all| {
        let mut c = Columns::new(id, all.len());
        let creds = |f: fn(&crate::model::Creds) -> u32| all.iter().map(move |p| p.creds.as_ref().map(f));
        let ns = |f: fn(&crate::model::Namespaces) -> Option<u32>| all.iter().map(move |p| f(&p.namespaces));
        c.u32("pid", false, all.iter().map(|p| Some(p.pid)));
        c.u32("ppid", false, all.iter().map(|p| Some(p.ppid)));
        c.u32("pgid", false, all.iter().map(|p| Some(p.pgid)));
        c.u32("sid", false, all.iter().map(|p| Some(p.sid)));
        c.str("state", false, all.iter().map(|p| Some(p.state.name())));
        c.u32("exit_code", false, all.iter().map(|p| Some(p.exit_code)));
        c.str("comm", false, all.iter().map(|p| Some(&p.comm)));
        c.str("exe", true, all.iter().map(|p| p.exe.as_ref()));
        c.str("cwd", true, all.iter().map(|p| p.cwd.as_ref()));
        c.str("root", true, all.iter().map(|p| p.root.as_ref()));
        c.str_list("cmdline", all.iter().map(|p| &p.cmdline));
        c.bool("cmdline_truncated", false, all.iter().map(|p| Some(p.cmdline_truncated)));
        c.str_map("environ", all.iter().map(|p| p.environ.iter().map(|(k, v)| (k, v))))?;
        c.bool("environ_truncated", false, all.iter().map(|p| Some(p.environ_truncated)));
        c.u32("threads", false, all.iter().map(|p| Some(u32::try_from(p.threads.len()).unwrap_or(u32::MAX))));
        c.u32("uid", true, creds(|c| c.uid));
        c.u32("euid", true, creds(|c| c.euid));
        c.u32("gid", true, creds(|c| c.gid));
        c.u32("egid", true, creds(|c| c.egid));
        c.str_list("cap_effective", all.iter().map(|p| p.creds.iter().flat_map(|c| c.cap_effective.iter())));
        c.bool("no_new_privs", true, all.iter().map(|p| p.creds.as_ref().map(|c| c.no_new_privs)));
        c.str("seccomp", true, all.iter().map(|p| p.threads.first().map(|t| &t.seccomp)));
        c.u32("ns_pid", true, ns(|n| n.pid));
        c.u32("ns_net", true, ns(|n| n.net));
        c.u32("ns_ipc", true, ns(|n| n.ipc));
        c.u32("ns_uts", true, ns(|n| n.uts));
        c.u32("ns_mnt", true, ns(|n| n.mnt));
        c.u32("ns_user", true, ns(|n| n.user));
        c.u32("ns_cgroup", true, ns(|n| n.cgroup));
        c.u32("ns_time", true, ns(|n| n.time));
        c.u32("vmas", false, all.iter().map(|p| Some(u32::try_from(p.vmas.len()).unwrap_or(u32::MAX))));
        c.u32("fds", false, all.iter().map(|p| Some(u32::try_from(p.fds.len()).unwrap_or(u32::MAX))));
        c.str_list("warnings", all.iter().map(|p| &p.warnings));
        c.finish()
    })
}

/// One row per thread of every process, the main thread first.
pub fn threads(id: &str, all: &[&Process]) -> Result<Table> {
    let rows: Vec<(u32, &crate::model::Thread)> = all.iter().flat_map(|p| p.threads.iter().map(move |t| (p.pid, t))).collect();
    batched("threads", &rows, BATCH_ROWS, |rows| {
        let mut c = Columns::new(id, rows.len());
        let creds = |f: fn(&crate::model::Creds) -> u32| rows.iter().map(move |(_, t)| t.creds.as_ref().map(f));
        c.u32("pid", false, rows.iter().map(|(pid, _)| Some(*pid)));
        c.u32("tid", false, rows.iter().map(|(_, t)| Some(t.tid)));
        c.str("comm", false, rows.iter().map(|(_, t)| Some(&t.comm)));
        c.str("seccomp", false, rows.iter().map(|(_, t)| Some(&t.seccomp)));
        c.str_list("blocked", rows.iter().map(|(_, t)| &t.blocked));
        c.bool("in_sigsuspend", false, rows.iter().map(|(_, t)| Some(t.in_sigsuspend)));
        c.u32("pending_signals", false, rows.iter().map(|(_, t)| Some(u32::try_from(t.pending.len()).unwrap_or(u32::MAX))));
        c.u32("cg_set", true, rows.iter().map(|(_, t)| t.cg_set));
        c.u32("uid", true, creds(|c| c.uid));
        c.u32("euid", true, creds(|c| c.euid));
        c.u32("gid", true, creds(|c| c.gid));
        c.u32("egid", true, creds(|c| c.egid));
        c.u64_map("registers", rows.iter().map(|(_, t)| t.registers.iter().map(|(k, v)| (k, *v))))?;
        c.finish()
    })
}

/// One row per memory area of every process with memory, in address order.
pub fn vmas(id: &str, memories: &[&ProcessMemory<'_>]) -> Result<Table> {
    let rows: Vec<(&ProcessMemory<'_>, usize)> = memories.iter().flat_map(|m| (0..m.vmas().len()).map(move |i| (*m, i))).collect();
    batched("vmas", &rows, BATCH_ROWS, |rows| {
        let mut c = Columns::new(id, rows.len());
        let counts: Vec<_> = rows.iter().map(|(m, i)| m.page_counts(*i)).collect();
        let areas: Vec<_> = rows.iter().filter_map(|(m, i)| m.vmas().get(*i)).collect();
        c.u32("pid", false, rows.iter().map(|(m, _)| Some(m.pid())));
        c.u64("start", false, areas.iter().map(|v| Some(v.start)));
        c.u64("end", false, areas.iter().map(|v| Some(v.end)));
        c.u64("size", false, areas.iter().map(|v| Some(v.end.saturating_sub(v.start))));
        c.str("perms", false, areas.iter().map(|v| Some(v.perms())));
        c.u64("offset", false, areas.iter().map(|v| Some(v.pgoff)));
        c.str("path", true, areas.iter().map(|v| v.path.as_ref()));
        c.str("kind", false, areas.iter().map(|v| Some(v.kind().name())));
        c.u64("pages_dumped", false, counts.iter().map(|c| Some(c.dumped)));
        c.u64("pages_zero", false, counts.iter().map(|c| Some(c.zero)));
        c.u64("pages_missing", false, counts.iter().map(|c| Some(c.missing)));
        c.u64("pages_from_file", false, counts.iter().map(|c| Some(c.from_file)));
        c.u64("pages_from_rootfs_diff", false, counts.iter().map(|c| Some(c.from_rootfs_diff)));
        c.u64("pages_from_rootfs_dir", false, counts.iter().map(|c| Some(c.from_rootfs_dir)));
        c.finish()
    })
}

/// Integer details of `Fd.details` that the `fds` table has as columns too.
const FD_INT_DETAILS: [&str; 5] = ["pos", "size", "inode", "buffered_bytes", "queued_bytes"];

fn detail<'f>(f: &'f Fd, key: &str) -> Option<&'f Detail> {
    f.details.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
}

fn int_detail(f: &Fd, key: &str) -> Option<i64> {
    match detail(f, key) {
        Some(Detail::Int(n)) => Some(*n),
        _ => None,
    }
}

/// One row per open file descriptor of every process; `details` as text,
/// and the details tables are filtered by as typed columns.
pub fn fds(id: &str, all: &[&Process]) -> Result<Table> {
    let rows: Vec<(u32, &Fd)> = all.iter().flat_map(|p| p.fds.iter().map(move |f| (p.pid, f))).collect();
    batched("fds", &rows, BATCH_ROWS, |rows| {
        let mut c = Columns::new(id, rows.len());
        c.u32("pid", false, rows.iter().map(|(pid, _)| Some(*pid)));
        c.u32("fd", false, rows.iter().map(|(_, f)| Some(f.fd)));
        c.str("type", false, rows.iter().map(|(_, f)| Some(&f.r#type)));
        c.str("path", true, rows.iter().map(|(_, f)| f.path.as_ref()));
        c.u32("file_id", false, rows.iter().map(|(_, f)| Some(f.file_id)));
        c.u32("flags", false, rows.iter().map(|(_, f)| Some(f.flags)));
        c.str_map("details", rows.iter().map(|(_, f)| f.details.iter().map(|(k, v)| (*k, v.to_string()))))?;
        for key in FD_INT_DETAILS {
            c.i64(key, true, rows.iter().map(|(_, f)| int_detail(f, key)));
        }
        c.bool(
            "deleted",
            true,
            rows.iter().map(|(_, f)| match detail(f, "deleted") {
                Some(Detail::Bool(b)) => Some(*b),
                _ => None,
            }),
        );
        c.finish()
    })
}

/// The socket columns after `pid`, `fd` and `fd_type`: details of socket
/// descriptors by key, with their type (a detail a socket lacks is null).
const SOCKET_DETAILS: [(&str, bool); 15] = [
    // (detail key, is an integer)
    ("inode", true),
    ("family", false),
    ("type", false),
    ("protocol", false),
    ("state", false),
    ("local_address", false),
    ("local_port", true),
    ("remote_address", false),
    ("remote_port", true),
    ("name", false),
    ("peer", true),
    ("inq_bytes", true),
    ("outq_bytes", true),
    ("queued_packets", true),
    ("queued_bytes", true),
];

/// One row per socket descriptor of every process.
pub fn sockets(id: &str, all: &[&Process]) -> Result<Table> {
    let rows: Vec<(u32, &Fd)> = all.iter().flat_map(|p| p.fds.iter().filter(|f| f.is_socket()).map(move |f| (p.pid, f))).collect();
    batched("sockets", &rows, BATCH_ROWS, |rows| {
        let mut c = Columns::new(id, rows.len());
        c.u32("pid", false, rows.iter().map(|(pid, _)| Some(*pid)));
        c.u32("fd", false, rows.iter().map(|(_, f)| Some(f.fd)));
        c.str("fd_type", false, rows.iter().map(|(_, f)| Some(&f.r#type)));
        for (key, integer) in SOCKET_DETAILS {
            if integer {
                c.i64(key, true, rows.iter().map(|(_, f)| int_detail(f, key)));
            } else {
                c.str(key, true, rows.iter().map(|(_, f)| detail(f, key).map(Detail::to_string)));
            }
        }
        c.finish()
    })
}

/// One row per socket of [`Checkpoint::connections`] (`criu-images net`).
pub fn connections(id: &str, all: &[Connection]) -> Result<Table> {
    batched("connections", all, BATCH_ROWS, |rows| {
        let mut c = Columns::new(id, rows.len());
        c.u32("pid", false, rows.iter().map(|r| Some(r.pid)));
        c.str("comm", false, rows.iter().map(|r| Some(&r.comm)));
        c.u32("fd", false, rows.iter().map(|r| Some(r.fd)));
        c.str("family", false, rows.iter().map(|r| Some(&r.family)));
        c.str("protocol", false, rows.iter().map(|r| Some(&r.protocol)));
        c.str("type", false, rows.iter().map(|r| Some(&r.r#type)));
        c.str("state", false, rows.iter().map(|r| Some(&r.state)));
        c.str("local_address", false, rows.iter().map(|r| Some(&r.local_address)));
        c.u32("local_port", true, rows.iter().map(|r| r.local_port.map(u32::from)));
        c.str("peer_address", false, rows.iter().map(|r| Some(&r.peer_address)));
        c.u32("peer_port", true, rows.iter().map(|r| r.peer_port.map(u32::from)));
        c.u32("inode", true, rows.iter().map(|r| r.inode));
        c.u32("peer_inode", true, rows.iter().map(|r| r.peer_inode));
        c.bool("listening", false, rows.iter().map(|r| Some(r.listening)));
        c.u64("inq_bytes", true, rows.iter().map(|r| r.inq_bytes));
        c.u64("outq_bytes", true, rows.iter().map(|r| r.outq_bytes));
        c.u64("queued_packets", true, rows.iter().map(|r| r.queued_packets));
        c.u64("queued_bytes", false, rows.iter().map(|r| Some(r.queued_bytes)));
        c.finish()
    })
}

/// One row per search hit; `pattern` is the text searched for, when the
/// caller knows it (null otherwise).
pub fn hits(id: &str, hits: &[(Option<&str>, &Hit)]) -> Result<Table> {
    batched("hits", hits, HIT_BATCH_ROWS, |rows| {
        let mut c = Columns::new(id, rows.len());
        c.str("pattern", true, rows.iter().map(|(p, _)| *p));
        c.u32("pid", false, rows.iter().map(|(_, h)| Some(h.pid)));
        c.u64("address", false, rows.iter().map(|(_, h)| Some(h.address)));
        c.binary("match", rows.iter().map(|(_, h)| h.matched.as_slice()));
        c.u64("context_start", false, rows.iter().map(|(_, h)| Some(h.context_start)));
        c.binary("context", rows.iter().map(|(_, h)| h.context.as_slice()));
        c.u64("vma_start", false, rows.iter().map(|(_, h)| Some(h.area.start)));
        c.u64("vma_end", false, rows.iter().map(|(_, h)| Some(h.area.end)));
        c.str("vma_perms", false, rows.iter().map(|(_, h)| Some(h.area.perms())));
        c.str("vma_path", true, rows.iter().map(|(_, h)| h.area.path.as_ref()));
        c.finish()
    })
}

/// One row per printable string found in memory.
pub fn strings(id: &str, strings: &[&StringHit]) -> Result<Table> {
    batched("strings", strings, BATCH_ROWS, |rows| {
        let mut c = Columns::new(id, rows.len());
        c.u32("pid", false, rows.iter().map(|s| Some(s.pid)));
        c.u64("address", false, rows.iter().map(|s| Some(s.address)));
        c.str("encoding", false, rows.iter().map(|s| Some(s.encoding.name())));
        c.str("text", false, rows.iter().map(|s| Some(&s.text)));
        c.finish()
    })
}

/// One row per triage finding; `evidence` as JSON text.
pub fn findings(id: &str, findings: &[Finding]) -> Result<Table> {
    batched("findings", findings, BATCH_ROWS, |rows| {
        let mut c = Columns::new(id, rows.len());
        c.str("id", false, rows.iter().map(|f| Some(f.id)));
        c.str("severity", false, rows.iter().map(|f| Some(f.severity.name())));
        c.u32("pid", true, rows.iter().map(|f| f.pid));
        c.str("summary", false, rows.iter().map(|f| Some(&f.summary)));
        c.str("evidence", false, rows.iter().map(|f| Some(f.evidence.to_string())));
        c.finish()
    })
}

/// One row per YARA hit (memory or file); `metadata` as JSON text.
#[cfg(feature = "yara")]
pub fn yara_hits(id: &str, hits: &[crate::yara::YaraHit]) -> Result<Table> {
    batched("yara", hits, HIT_BATCH_ROWS, |rows| {
        let mut c = Columns::new(id, rows.len());
        c.u32("pid", true, rows.iter().map(|h| h.pid));
        c.str("path", true, rows.iter().map(|h| h.path.as_ref()));
        c.str("rule", false, rows.iter().map(|h| Some(&h.rule)));
        c.str("namespace", false, rows.iter().map(|h| Some(&h.namespace)));
        c.str_list("tags", rows.iter().map(|h| &h.tags));
        c.str_map("metadata", rows.iter().map(|h| h.metadata.iter().map(|(k, v)| (k, v.to_string()))))?;
        c.str("string", false, rows.iter().map(|h| Some(&h.string)));
        c.u64("address", false, rows.iter().map(|h| Some(h.address)));
        c.u64("vma_start", true, rows.iter().map(|h| h.vma.as_ref().map(|v| v.start)));
        c.u64("vma_end", true, rows.iter().map(|h| h.vma.as_ref().map(|v| v.end)));
        c.str("vma_perms", true, rows.iter().map(|h| h.vma.as_ref().map(|v| &v.perms)));
        c.str("vma_path", true, rows.iter().map(|h| h.vma.as_ref().and_then(|v| v.path.as_ref())));
        c.binary("match", rows.iter().map(|h| h.matched.as_slice()));
        c.u64("context_start", false, rows.iter().map(|h| Some(h.context_start)));
        c.binary("context", rows.iter().map(|h| h.context.as_slice()));
        c.finish()
    })
}

/// A checkpoint that could not be read: one row of the `errors` table.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Failure {
    /// The checkpoint's id.
    pub checkpoint: String,
    /// The table being built when it failed (`None`: opening it).
    pub table: Option<String>,
    /// The file the error names (an archive, a member, an image), if any.
    pub file: Option<String>,
    /// The byte offset in that file, if known.
    pub offset: Option<u64>,
    /// The error as text.
    pub message: String,
}

impl Failure {
    /// The failure of `checkpoint` while building `table` (or opening it).
    pub fn new(checkpoint: &str, table: Option<&str>, error: &Error) -> Failure {
        let (file, offset) = match error {
            Error::Io { path, .. } => (Some(path.clone()), None),
            Error::Truncated { at, .. }
            | Error::UnknownMagic { at, .. }
            | Error::Protobuf { at, .. }
            | Error::Malformed { at, .. }
            | Error::Archive { at, .. } => (Some(at.file.clone()), Some(at.offset)),
            Error::RawImage { file, .. } | Error::Limit { file, .. } | Error::Json { file, .. } => (Some(file.clone()), None),
            Error::NotFound { container, .. } => (Some(container.clone()), None),
            _ => (None, None),
        };
        Failure { checkpoint: checkpoint.into(), table: table.map(String::from), file, offset, message: error.to_string() }
    }
}

/// The `errors` table: one row per failure. Its `checkpoint` column is
/// each failure's own.
pub fn errors(failures: &[Failure]) -> Result<Table> {
    batched("errors", failures, BATCH_ROWS, |rows| {
        let mut c = Columns::per_row(rows.iter().map(|f| f.checkpoint.as_str()));
        c.str("table", true, rows.iter().map(|f| f.table.as_ref()));
        c.str("file", true, rows.iter().map(|f| f.file.as_ref()));
        c.u64("offset", true, rows.iter().map(|f| f.offset));
        c.str("message", false, rows.iter().map(|f| Some(&f.message)));
        c.finish()
    })
}

/// Part `part` of [`DIFF_PARTS`] of `diff` (columns in docs/diff.md), with
/// `id` in the `checkpoint` column.
pub fn diff_part(id: &str, d: &Diff, part: &str) -> Result<Table> {
    match part {
        "metadata" => batched("diff_metadata", &d.metadata, BATCH_ROWS, |rows| {
            let mut c = Columns::new(id, rows.len());
            c.str("field", false, rows.iter().map(|f| Some(&f.field)));
            c.str("old", false, rows.iter().map(|f| Some(f.old.to_string())));
            c.str("new", false, rows.iter().map(|f| Some(f.new.to_string())));
            c.finish()
        }),
        "processes" => batched("diff_processes", &d.processes, BATCH_ROWS, |rows| {
            let mut c = Columns::new(id, rows.len());
            c.u32("pid", false, rows.iter().map(|p| Some(p.pid)));
            c.u32("old_pid", true, rows.iter().map(|p| p.old_pid));
            c.str("comm", false, rows.iter().map(|p| Some(&p.comm)));
            c.str("change", false, rows.iter().map(|p| Some(p.change.name())));
            c.str("matched_by", true, rows.iter().map(|p| p.matched_by));
            c.str_list("fields", rows.iter().map(|p| p.fields.iter().map(|f| &f.field)));
            c.finish()
        }),
        "files" => batched("diff_files", &d.files, BATCH_ROWS, |rows| {
            let mut c = Columns::new(id, rows.len());
            c.u32("pid", false, rows.iter().map(|f| Some(f.pid)));
            c.u32("fd", false, rows.iter().map(|f| Some(f.fd)));
            c.str("change", false, rows.iter().map(|f| Some(f.change)));
            c.str("path", true, rows.iter().map(|f| f.path.as_ref()));
            c.str_list("fields", rows.iter().map(|f| f.fields.iter().map(|c| &c.field)));
            c.finish()
        }),
        "sockets" => batched("diff_sockets", &d.sockets, BATCH_ROWS, |rows| {
            let mut c = Columns::new(id, rows.len());
            c.u32("pid", false, rows.iter().map(|s| Some(s.pid)));
            c.u32("fd", false, rows.iter().map(|s| Some(s.fd)));
            c.str("change", false, rows.iter().map(|s| Some(s.change)));
            c.str("type", false, rows.iter().map(|s| Some(&s.r#type)));
            c.str("endpoint", false, rows.iter().map(|s| Some(&s.endpoint)));
            c.str_list("fields", rows.iter().map(|s| s.fields.iter().map(|c| &c.field)));
            c.finish()
        }),
        "areas" => batched("diff_areas", &d.areas, BATCH_ROWS, |rows| {
            let mut c = Columns::new(id, rows.len());
            c.u32("pid", false, rows.iter().map(|a| Some(a.pid)));
            c.u64("start", false, rows.iter().map(|a| Some(a.start)));
            c.u64("old_start", true, rows.iter().map(|a| a.old_start));
            c.u64("old_end", true, rows.iter().map(|a| a.old_end));
            c.u64("new_end", true, rows.iter().map(|a| a.new_end));
            c.str("change", false, rows.iter().map(|a| Some(a.change)));
            c.str_list("what", rows.iter().map(|a| a.what.iter()));
            c.str("old_perms", true, rows.iter().map(|a| a.old_perms.as_ref()));
            c.str("new_perms", true, rows.iter().map(|a| a.new_perms.as_ref()));
            c.str("old_path", true, rows.iter().map(|a| a.old_path.as_ref()));
            c.str("new_path", true, rows.iter().map(|a| a.new_path.as_ref()));
            c.bool("became_executable", false, rows.iter().map(|a| Some(a.became_executable)));
            c.finish()
        }),
        "pages" => batched("diff_pages", &d.pages, BATCH_ROWS, |rows| {
            let mut c = Columns::new(id, rows.len());
            c.u32("pid", false, rows.iter().map(|r| Some(r.pid)));
            c.u64("start", false, rows.iter().map(|r| Some(r.start)));
            c.u64("end", false, rows.iter().map(|r| Some(r.end)));
            c.str("change", false, rows.iter().map(|r| Some(r.change.name())));
            c.u64("pages", false, rows.iter().map(|r| Some(r.pages)));
            c.finish()
        }),
        "rootfs" => batched("diff_rootfs", &d.rootfs, BATCH_ROWS, |rows| {
            let mut c = Columns::new(id, rows.len());
            c.str("path", false, rows.iter().map(|r| Some(&r.path)));
            c.str("change", false, rows.iter().map(|r| Some(r.change)));
            c.u64("old_size", true, rows.iter().map(|r| r.old_size));
            c.u64("new_size", true, rows.iter().map(|r| r.new_size));
            c.u32("old_mode", true, rows.iter().map(|r| r.old_mode));
            c.u32("new_mode", true, rows.iter().map(|r| r.new_mode));
            c.str("old_sha256", true, rows.iter().map(|r| r.old_sha256.as_ref()));
            c.str("new_sha256", true, rows.iter().map(|r| r.new_sha256.as_ref()));
            c.finish()
        }),
        _ => Err(Error::NotFound {
            container: "diff".into(),
            name: format!("part {part:?}"),
            hint: format!(": use one of {}", DIFF_PARTS.join(", ")),
        }),
    }
}

#[cfg(test)]
mod tests;
