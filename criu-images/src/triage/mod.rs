//! Triage: the checks an analyst runs first on a checkpoint of a container
//! that may be compromised (issue #16), as a list of [`Finding`]s with the
//! evidence to check each one. The checks are rules about what a container's
//! processes normally look like, never strings of one known attack:
//!
//! * [`memory`](self::memory): writable+executable and executable anonymous
//!   areas, modified code pages of file mappings, code run from memfd or
//!   deleted files, ELF headers in anonymous memory;
//! * [`programs`](self::programs): deleted, memfd and temp-dir executables,
//!   kernel-thread names, `LD_PRELOAD`, interpreters given code inline;
//! * [`network`](self::network): reverse shells, connections outside the
//!   container's network, undeclared listening ports;
//! * [`privileges`](self::privileges): capabilities beyond the engine's
//!   default set, ambient and inheritable capabilities, seccomp off, uid 0
//!   in a container started as another user;
//! * [`secrets`](self::secrets): credentials in memory (masked);
//! * [`history`](self::history): bash's in-memory history list.
//!
//! docs/triage.md describes each check, why it matters and what can cause
//! a false positive.
//!
//! ```no_run
//! use criu_images::triage::{triage, TriageOptions};
//!
//! let checkpoint = criu_images::Checkpoint::open("checkpoint.tar.zst")?;
//! for finding in triage(&checkpoint, &TriageOptions::default())?.findings {
//!     println!("{} {} {:?} {}", finding.severity.name(), finding.id, finding.pid, finding.summary);
//! }
//! # Ok::<(), criu_images::Error>(())
//! ```

use serde_json::{json, Value};

use crate::checkpoint::Checkpoint;
use crate::error::Result;
use crate::memory::{FileSource, ProcessMemory};
use crate::model::container::ContainerInfo;
use crate::model::Process;

mod history;
mod memory;
mod network;
mod privileges;
mod programs;
mod secrets;
mod spec;

pub use spec::DeclaredSpec;

/// Version of the JSON report ([`Triage::to_json`]).
pub const SCHEMA_VERSION: u32 = 1;

/// How much a finding matters, lowest first.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum Severity {
    /// A fact worth knowing, not suspicious by itself.
    Info,
    /// Unusual, often benign.
    Low,
    /// Suspicious: look at it.
    Medium,
    /// A strong sign of compromise or of a dangerous configuration.
    High,
}

impl Severity {
    /// `info`, `low`, `medium` or `high`.
    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }

    /// Parses what [`Severity::name`] gives.
    pub fn parse(text: &str) -> Option<Severity> {
        Some(match text {
            "info" => Severity::Info,
            "low" => Severity::Low,
            "medium" => Severity::Medium,
            "high" => Severity::High,
            _ => return None,
        })
    }
}

/// One suspicious trace, with what proves it.
#[derive(Clone, PartialEq, Debug)]
pub struct Finding {
    /// The check that found it, e.g. `memory.anon_wx` (docs/triage.md).
    pub id: &'static str,
    /// How much it matters.
    pub severity: Severity,
    /// The process (as the checkpoint numbers it); `None` for findings about
    /// the whole checkpoint or several processes (their pids are in the evidence).
    pub pid: Option<u32>,
    /// One sentence: what was found and why it matters.
    pub summary: String,
    /// What to check it with: addresses, bytes (hex), fds, paths, values.
    pub evidence: Value,
}

impl Finding {
    /// The finding as the JSON report holds it.
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "severity": self.severity.name(),
            "pid": self.pid,
            "summary": self.summary,
            "evidence": self.evidence,
        })
    }
}

/// What [`triage`] looks at.
#[derive(Clone, Copy, Default)]
pub struct TriageOptions<'r> {
    /// Show credentials found in memory in full (masked by default).
    pub show_secrets: bool,
    /// A root filesystem to compare modified code pages with (the
    /// checkpoint's `rootfs-diff.tar` is used when this is `None`).
    pub rootfs: Option<&'r dyn FileSource>,
}

/// The result of [`triage`].
#[derive(Clone, PartialEq, Debug, Default)]
pub struct Triage {
    /// Findings, most severe first (then by pid and check).
    pub findings: Vec<Finding>,
    /// What could not be checked and why (e.g. a process whose memory
    /// index failed to build); the other checks ran.
    pub warnings: Vec<String>,
}

impl Triage {
    /// The versioned JSON report: `schema_version`, `findings`, `warnings`.
    pub fn to_json(&self) -> Value {
        json!({
            "schema_version": SCHEMA_VERSION,
            "findings": self.findings.iter().map(Finding::to_json).collect::<Vec<_>>(),
            "warnings": self.warnings,
        })
    }
}

/// What every check gets: the processes, their memory, the container.
pub(crate) struct Context<'c> {
    pub processes: Vec<Process>,
    pub container: Option<ContainerInfo>,
    pub spec: DeclaredSpec,
    pub show_secrets: bool,
    pub rootfs: Option<&'c dyn FileSource>,
    pub memories: Vec<Option<std::sync::Arc<ProcessMemory<'c>>>>,
}

/// Runs every check on `checkpoint`.
pub fn triage<'c>(checkpoint: &'c Checkpoint, options: &TriageOptions<'c>) -> Result<Triage> {
    let processes = checkpoint.processes()?;
    let mut warnings = Vec::new();
    let container = match checkpoint.container() {
        Ok(c) => c,
        Err(e) => {
            warnings.push(format!("container metadata: {e}"));
            None
        }
    };
    let spec = DeclaredSpec::read(checkpoint, container.as_ref(), &mut warnings);
    let mut memories = Vec::with_capacity(processes.len());
    for p in &processes {
        match checkpoint.memory(p.pid) {
            Ok(m) => memories.push(Some(m)),
            Err(e) => {
                warnings.push(format!("pid {}: memory not checked: {e}", p.pid));
                memories.push(None);
            }
        }
    }
    let rootfs = match options.rootfs {
        Some(r) => Some(r),
        None => checkpoint.diff_files().ok().flatten().map(|d| d as &dyn FileSource),
    };
    let cx = Context { processes, container, spec, show_secrets: options.show_secrets, rootfs, memories };
    let mut findings = Vec::new();
    let mut injection = Vec::new();
    programs::check(&cx, &mut findings);
    network::check(&cx, &mut findings);
    privileges::check(&cx, &mut findings);
    for (p, mem) in cx.processes.iter().zip(&cx.memories) {
        let Some(mem) = mem else { continue };
        memory::check(&cx, p, mem, &mut findings, &mut injection);
        if let Err(e) = secrets::check(&cx, p, mem, &mut findings) {
            warnings.push(format!("pid {}: secrets not searched: {e}", p.pid));
        }
        history::check(p, mem, &mut findings);
    }
    if !injection.is_empty() {
        findings.push(Finding {
            id: "memory.criu_injection_page",
            severity: Severity::Info,
            pid: None,
            summary: format!(
                "{} process{} ha{} the first page of their first code area dumped: CRIU's own system-call injection point, expected; give --rootfs to compare it with the file",
                injection.len(),
                if injection.len() == 1 { "" } else { "es" },
                if injection.len() == 1 { "s" } else { "ve" }
            ),
            evidence: json!({"pages": injection}),
        });
    }
    findings.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.pid.cmp(&b.pid)).then(a.id.cmp(b.id)));
    Ok(Triage { findings, warnings })
}

/// `0x...` for addresses in evidence text.
pub(crate) fn hex_addr(addr: u64) -> String {
    format!("{addr:#x}")
}

/// Lower-case hex of at most `max` bytes.
pub(crate) fn hex_bytes(bytes: &[u8], max: usize) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len().min(max) * 2);
    for b in bytes.iter().take(max) {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// The last path component, without a ` (deleted)` suffix.
pub(crate) fn base_name(path: &str) -> &str {
    let path = path.strip_suffix(" (deleted)").unwrap_or(path);
    path.rsplit('/').next().unwrap_or(path)
}

/// An area as evidence: start, end, perms, path.
pub(crate) fn vma_json(vma: &crate::memory::Vma) -> Value {
    json!({"start": vma.start, "end": vma.end, "perms": vma.perms(), "path": vma.path})
}
