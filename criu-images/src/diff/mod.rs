//! What changed between two checkpoints (issue #15): container metadata and
//! CRIU's dump statistics, processes (matched by pid, then by program),
//! their open files and sockets, memory areas, memory pages, and the files
//! of the root filesystem.
//!
//! A [`Diff`] is a value with one typed list per part; the CLI (`diff`)
//! and Python (`Checkpoint.diff`) render the same value. Either side may be
//! a pre-dump level of a chain (an images directory without `pstree.img`):
//! it has only memory, so its areas and processes are taken from the other
//! side and only the pages are compared ([`Diff::notes`] says so).
//!
//! ```no_run
//! use criu_images::diff::{Diff, DiffOptions};
//! use criu_images::Checkpoint;
//!
//! let old = Checkpoint::open("before.tar.zst")?;
//! let new = Checkpoint::open("after.tar.zst")?;
//! let diff = Diff::compute(&old, &new, &DiffOptions::default(), None)?;
//! for range in &diff.pages {
//!     println!("{} {:#x}-{:#x} {} ({} pages)", range.pid, range.start, range.end, range.change.name(), range.pages);
//! }
//! # Ok::<(), criu_images::Error>(())
//! ```

mod memory;
mod processes;
mod rootfs;
mod side;

use serde_json::{json, Value};

use crate::checkpoint::Checkpoint;
use crate::error::Result;
use crate::progress::Progress;

pub use memory::{diff_pages, range_bytes, PageClass};
pub use side::Side;

/// Version of the JSON of [`Diff::to_json`] (docs/diff.md).
pub const SCHEMA_VERSION: u32 = 1;

/// One value that differs between the sides: `old` or `new` is `null`
/// when the field exists on one side only (an environment variable added).
#[derive(Clone, PartialEq, Debug)]
pub struct FieldChange {
    /// What changed, e.g. `cmdline`, `environ.PATH`, `creds.cap_effective`,
    /// `threads[12].blocked`, `sigactions.SIGTERM`, `rlimits.RLIMIT_NOFILE`.
    pub field: String,
    /// The value in the old checkpoint.
    pub old: Value,
    /// The value in the new checkpoint.
    pub new: Value,
}

impl FieldChange {
    fn to_json(&self) -> Value {
        json!({"field": self.field, "old": self.old, "new": self.new})
    }
}

/// How a process, file, socket or root filesystem entry changed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Change {
    /// Only in the new checkpoint.
    Appeared,
    /// Only in the old checkpoint.
    Disappeared,
    /// In both, with different values.
    Changed,
}

impl Change {
    /// `appeared`, `disappeared` or `changed`.
    pub fn name(self) -> &'static str {
        match self {
            Change::Appeared => "appeared",
            Change::Disappeared => "disappeared",
            Change::Changed => "changed",
        }
    }
}

/// A process that appeared, disappeared or changed.
#[derive(Clone, PartialEq, Debug)]
pub struct ProcessChange {
    /// The pid in the new checkpoint (the old one for a process that disappeared).
    pub pid: u32,
    /// The pid in the old checkpoint, when the process is there.
    pub old_pid: Option<u32>,
    /// `comm` (new side, else old).
    pub comm: String,
    /// Appeared, disappeared or changed.
    pub change: Change,
    /// How the two were matched: `pid`, `program` (comm and command line)
    /// or `tree` (comm and the matched parent); `None` for one side only.
    pub matched_by: Option<&'static str>,
    /// What differs (empty for a process on one side only).
    pub fields: Vec<FieldChange>,
}

/// A file descriptor (not a socket) opened, closed or changed.
#[derive(Clone, PartialEq, Debug)]
pub struct FileChange {
    /// Process (new pid, else old).
    pub pid: u32,
    /// Descriptor number.
    pub fd: u32,
    /// `opened`, `closed`, `repointed` (the path changed), `moved` (the
    /// position changed), `flags` or `changed` (anything else).
    pub change: &'static str,
    /// The path (new side, else old).
    pub path: Option<String>,
    /// What differs.
    pub fields: Vec<FieldChange>,
}

/// A socket descriptor that is new, closed or changed.
#[derive(Clone, PartialEq, Debug)]
pub struct SocketChange {
    /// Process (new pid, else old).
    pub pid: u32,
    /// Descriptor number.
    pub fd: u32,
    /// `opened` (a new connection or socket), `listening` (a new listening
    /// socket), `closed`, `queued` (queued data appeared or grew) or `changed`.
    pub change: &'static str,
    /// `INETSK`, `UNIXSK`, ...
    pub r#type: String,
    /// Addresses as `inspect` shows them: `10.0.0.2:80 -> 10.0.0.9:5555`, a unix socket's name.
    pub endpoint: String,
    /// What differs.
    pub fields: Vec<FieldChange>,
}

/// A memory area added, removed or changed, matched by its start address.
#[derive(Clone, PartialEq, Debug)]
pub struct AreaChange {
    /// Process (new pid, else old).
    pub pid: u32,
    /// First address (on the new side, else the old).
    pub start: u64,
    /// First address on the old side, when it differs: a kernel-named
    /// area (`[heap]`, `[stack]`, `[vdso]`, `[vvar]`) that moved (ASLR of
    /// another run), matched by its name.
    pub old_start: Option<u64>,
    /// End on the old side (`None`: added).
    pub old_end: Option<u64>,
    /// End on the new side (`None`: removed).
    pub new_end: Option<u64>,
    /// `added`, `removed` or `changed`.
    pub change: &'static str,
    /// For `changed`: `moved`, `grown`, `shrunk`, `perms`, `backing` (the mapped file changed).
    pub what: Vec<&'static str>,
    /// Permissions (`rwxp`) on each side.
    pub old_perms: Option<String>,
    #[allow(missing_docs)]
    pub new_perms: Option<String>,
    /// Mapped file or `[heap]`-like name on each side.
    pub old_path: Option<String>,
    #[allow(missing_docs)]
    pub new_path: Option<String>,
    /// Executable on the new side and not on the old (or added executable):
    /// the first thing to look at.
    pub became_executable: bool,
}

/// How a range of pages changed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum PageChange {
    /// In an area of the new checkpoint only.
    Added,
    /// In an area of the old checkpoint only.
    Removed,
    /// In both, with different bytes.
    Changed,
}

impl PageChange {
    /// `added`, `removed` or `changed`.
    pub fn name(self) -> &'static str {
        match self {
            PageChange::Added => "added",
            PageChange::Removed => "removed",
            PageChange::Changed => "changed",
        }
    }
}

/// Consecutive pages of one process with the same change.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PageRange {
    /// Process (new pid, else old).
    pub pid: u32,
    /// First address.
    pub start: u64,
    /// End address (exclusive).
    pub end: u64,
    /// Added, removed or changed.
    pub change: PageChange,
    /// Number of pages.
    pub pages: u64,
}

/// A file of the root filesystem added, changed or deleted.
#[derive(Clone, PartialEq, Debug)]
pub struct RootfsChange {
    /// Path in the container (`/etc/passwd`).
    pub path: String,
    /// `added`, `changed` or `deleted`.
    pub change: &'static str,
    /// Size on each side (`None` where absent or not a regular file).
    pub old_size: Option<u64>,
    #[allow(missing_docs)]
    pub new_size: Option<u64>,
    /// Mode bits (octal in text) on each side.
    pub old_mode: Option<u32>,
    #[allow(missing_docs)]
    pub new_mode: Option<u32>,
    /// SHA-256 of the contents on each side (regular files).
    pub old_sha256: Option<String>,
    #[allow(missing_docs)]
    pub new_sha256: Option<String>,
}

/// What [`Diff::compute`] compares.
#[derive(Clone, Debug)]
pub struct DiffOptions {
    /// Compare memory pages (areas are always compared).
    pub memory: bool,
    /// Only this process (its pid on either side).
    pub pid: Option<u32>,
}

impl Default for DiffOptions {
    fn default() -> Self {
        DiffOptions { memory: true, pid: None }
    }
}

/// Everything that differs between two checkpoints.
#[derive(Clone, PartialEq, Debug, Default)]
pub struct Diff {
    /// The old checkpoint's path, as opened.
    pub old: String,
    /// The new checkpoint's path.
    pub new: String,
    /// Container metadata (`container.*`) and CRIU dump statistics (`stats.*`).
    pub metadata: Vec<FieldChange>,
    /// Processes that appeared, disappeared or changed.
    pub processes: Vec<ProcessChange>,
    /// File descriptors other than sockets.
    pub files: Vec<FileChange>,
    /// Socket descriptors.
    pub sockets: Vec<SocketChange>,
    /// Memory areas.
    pub areas: Vec<AreaChange>,
    /// Memory pages, as ranges (empty unless [`DiffOptions::memory`]).
    pub pages: Vec<PageRange>,
    /// Root filesystem files (`rootfs-diff.tar`, `deleted.files`).
    pub rootfs: Vec<RootfsChange>,
    /// Whether pages were compared.
    pub memory_compared: bool,
    /// What was not compared and why (a pre-dump side, a part one side lacks).
    pub notes: Vec<String>,
}

impl Diff {
    /// Compares `old` with `new`. Errors name the side (`old: ...`, `new:
    /// ...`) and the file. `progress` counts the bytes of pages compared
    /// and cancels the comparison.
    pub fn compute(old: &Checkpoint, new: &Checkpoint, options: &DiffOptions, progress: Option<&Progress>) -> Result<Diff> {
        let mut diff = Diff {
            old: old.path().display().to_string(),
            new: new.path().display().to_string(),
            memory_compared: options.memory,
            ..Diff::default()
        };
        let old_side = Side::load(old, "old")?;
        let new_side = Side::load(new, "new")?;
        rootfs::metadata(&old_side, &new_side, &mut diff);
        rootfs::rootfs(&old_side, &new_side, &mut diff)?;
        processes::compare(&old_side, &new_side, options, &mut diff)?;
        memory::compare(&old_side, &new_side, options, progress, &mut diff)?;
        Ok(diff)
    }

    /// True when nothing differs.
    pub fn is_empty(&self) -> bool {
        self.metadata.is_empty()
            && self.processes.is_empty()
            && self.files.is_empty()
            && self.sockets.is_empty()
            && self.areas.is_empty()
            && self.pages.is_empty()
            && self.rootfs.is_empty()
    }

    /// Writes [`Diff::to_json`] (plus `extra` keys at the end), the page
    /// ranges one at a time: a diff with hundreds of thousands of ranges
    /// does not hold them all as JSON values.
    pub fn write_json(&self, extra: &[(&str, Value)], out: &mut dyn std::io::Write) -> std::io::Result<()> {
        let mut head = self.clone_without_pages().to_json();
        let Value::Object(map) = &mut head else { return Ok(()) };
        for (key, value) in extra {
            map.insert(key.to_string(), value.clone());
        }
        writeln!(out, "{{")?;
        let count = map.len();
        for (i, (key, value)) in map.iter().enumerate() {
            write!(out, "  {}: ", Value::from(key.as_str()))?;
            if key == "memory" && !self.pages.is_empty() {
                writeln!(out, "[")?;
                for (j, r) in self.pages.iter().enumerate() {
                    let range = json!({"pid": r.pid, "start": r.start, "end": r.end, "change": r.change.name(), "pages": r.pages});
                    let comma = if j + 1 < self.pages.len() { "," } else { "" };
                    writeln!(out, "    {range}{comma}")?;
                }
                write!(out, "  ]")?;
            } else {
                serde_json::to_writer(&mut *out, value)?;
            }
            writeln!(out, "{}", if i + 1 < count { "," } else { "" })?;
        }
        writeln!(out, "}}")
    }

    /// A copy without the page ranges (they can be many).
    fn clone_without_pages(&self) -> Diff {
        Diff {
            old: self.old.clone(),
            new: self.new.clone(),
            metadata: self.metadata.clone(),
            processes: self.processes.clone(),
            files: self.files.clone(),
            sockets: self.sockets.clone(),
            areas: self.areas.clone(),
            pages: Vec::new(),
            rootfs: self.rootfs.clone(),
            memory_compared: self.memory_compared,
            notes: self.notes.clone(),
        }
    }

    /// The versioned JSON of `diff --format json` (docs/diff.md).
    pub fn to_json(&self) -> Value {
        let fields = |f: &[FieldChange]| f.iter().map(FieldChange::to_json).collect::<Vec<_>>();
        json!({
            "schema_version": SCHEMA_VERSION,
            "old": self.old,
            "new": self.new,
            "metadata": fields(&self.metadata),
            "processes": self.processes.iter().map(|p| json!({
                "pid": p.pid, "old_pid": p.old_pid, "comm": p.comm, "change": p.change.name(),
                "matched_by": p.matched_by, "fields": fields(&p.fields),
            })).collect::<Vec<_>>(),
            "files": self.files.iter().map(|f| json!({
                "pid": f.pid, "fd": f.fd, "change": f.change, "path": f.path, "fields": fields(&f.fields),
            })).collect::<Vec<_>>(),
            "sockets": self.sockets.iter().map(|s| json!({
                "pid": s.pid, "fd": s.fd, "change": s.change, "type": s.r#type, "endpoint": s.endpoint, "fields": fields(&s.fields),
            })).collect::<Vec<_>>(),
            "areas": self.areas.iter().map(|a| json!({
                "pid": a.pid, "start": a.start, "old_start": a.old_start, "old_end": a.old_end, "new_end": a.new_end, "change": a.change, "what": a.what,
                "old_perms": a.old_perms, "new_perms": a.new_perms, "old_path": a.old_path, "new_path": a.new_path,
                "became_executable": a.became_executable,
            })).collect::<Vec<_>>(),
            "memory_compared": self.memory_compared,
            "memory": self.pages.iter().map(|r| json!({
                "pid": r.pid, "start": r.start, "end": r.end, "change": r.change.name(), "pages": r.pages,
            })).collect::<Vec<_>>(),
            "rootfs": self.rootfs.iter().map(|r| json!({
                "path": r.path, "change": r.change, "old_size": r.old_size, "new_size": r.new_size,
                "old_mode": r.old_mode, "new_mode": r.new_mode, "old_sha256": r.old_sha256, "new_sha256": r.new_sha256,
            })).collect::<Vec<_>>(),
            "notes": self.notes,
        })
    }
}

/// Field changes between two flat maps of values, in key order of `old`
/// then the keys only `new` has.
fn field_changes(old: &[(String, Value)], new: &[(String, Value)]) -> Vec<FieldChange> {
    let mut out = Vec::new();
    let new_map: std::collections::HashMap<&str, &Value> = new.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let old_map: std::collections::HashMap<&str, &Value> = old.iter().map(|(k, v)| (k.as_str(), v)).collect();
    for (key, value) in old {
        match new_map.get(key.as_str()) {
            Some(other) if *other == value => {}
            Some(other) => out.push(FieldChange { field: key.clone(), old: value.clone(), new: (*other).clone() }),
            None => out.push(FieldChange { field: key.clone(), old: value.clone(), new: Value::Null }),
        }
    }
    for (key, value) in new {
        if !old_map.contains_key(key.as_str()) {
            out.push(FieldChange { field: key.clone(), old: Value::Null, new: value.clone() });
        }
    }
    out
}
