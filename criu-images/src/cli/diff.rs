//! `criu-images diff OLD NEW`: what changed between two checkpoints, as a
//! tree for people (coloured on a terminal) or versioned JSON
//! (docs/diff.md).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use serde_json::{json, Value};

use super::text::outln;
use crate::diff::{range_bytes, Change, Diff, DiffOptions, FieldChange, PageChange};
use crate::error::{Error, Result};

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub(crate) enum DiffFormat {
    Text,
    Json,
}

#[derive(Args, Debug)]
pub(crate) struct DiffArgs {
    /// The earlier checkpoint: directory, tar, tar.gz, tar.zst, container
    /// image, or a pre-dump level (its images directory, e.g. `chain/pre1`).
    old: PathBuf,
    /// The later checkpoint.
    new: PathBuf,
    /// Only this process (its pid on either side).
    #[arg(long)]
    pid: Option<u32>,
    /// Compare memory contents page by page (always done for JSON).
    #[arg(long)]
    memory: bool,
    /// A hex diff of ADDR:LEN of process --pid (at most 1 MiB).
    #[arg(long, value_parser = parse_bytes, value_name = "ADDR:LEN", requires = "pid")]
    bytes: Option<(u64, u64)>,
    /// Also list the matched processes that did not change.
    #[arg(long)]
    show_unchanged: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = DiffFormat::Text)]
    format: DiffFormat,
}

fn parse_number(text: &str) -> std::result::Result<u64, String> {
    let t = text.trim();
    let parsed = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => t.parse(),
    };
    parsed.map_err(|_| format!("{text:?} is not a number (use 0x for hex)"))
}

fn parse_bytes(text: &str) -> std::result::Result<(u64, u64), String> {
    let (addr, len) = text.split_once(':').ok_or_else(|| format!("{text:?} is not ADDR:LEN"))?;
    let (addr, len) = (parse_number(addr)?, parse_number(len)?);
    if len == 0 || addr.checked_add(len).is_none() {
        return Err(format!("{text:?}: LEN must be above 0 and ADDR+LEN must not overflow"));
    }
    Ok((addr, len))
}

/// ANSI colours, or nothing when standard output is not a terminal or
/// `NO_COLOR` is set.
struct Paint {
    on: bool,
}

impl Paint {
    fn detect() -> Paint {
        Paint { on: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none() }
    }

    fn mark(&self, mark: char) -> String {
        let code = match mark {
            '+' => "32",
            '-' => "31",
            '!' => "1;31",
            _ => "33",
        };
        match self.on {
            true => format!("\x1b[{code}m{mark}\x1b[0m"),
            false => mark.to_string(),
        }
    }
}

/// Lines shown per list before "... N more" (JSON has them all).
const MAX_LINES: usize = 12;

pub(crate) fn run(args: DiffArgs, out: &mut dyn Write) -> Result<()> {
    let old = super::open_checkpoint(&args.old)?;
    let new = super::open_checkpoint(&args.new)?;
    let memory = args.memory || args.format == DiffFormat::Json;
    let options = DiffOptions { memory, pid: args.pid };
    let diff = Diff::compute(&old, &new, &options, None)?;
    let bytes = match args.bytes {
        None => None,
        Some((addr, len)) => {
            let pid = match args.pid {
                Some(pid) => pid,
                None => {
                    return Err(Error::NotFound {
                        container: "diff --bytes".into(),
                        name: "process".into(),
                        hint: ": give the process with --pid".into(),
                    })
                }
            };
            Some((pid, addr, range_bytes(&old, &new, pid, addr, len)?))
        }
    };
    let io = |e| Error::io("<stdout>", e);
    match args.format {
        DiffFormat::Json => {
            let mut extra = Vec::new();
            if let Some((pid, addr, [o, n])) = &bytes {
                let hex = |r: &std::result::Result<Vec<u8>, String>| r.as_ref().ok().map(|b| hex(b));
                let why = |r: &std::result::Result<Vec<u8>, String>| r.as_ref().err().cloned();
                extra.push((
                    "bytes",
                    json!({"pid": pid, "start": addr, "old": hex(o), "new": hex(n), "old_error": why(o), "new_error": why(n)}),
                ));
            }
            diff.write_json(&extra, out).map_err(io)
        }
        DiffFormat::Text => {
            let paint = Paint::detect();
            let unchanged = match args.show_unchanged {
                true => unchanged(&diff, &new, args.pid)?,
                false => Vec::new(),
            };
            write_tree(&diff, &paint, args.show_unchanged, &unchanged, out).map_err(io)?;
            if let Some((pid, addr, [o, n])) = &bytes {
                write_hex_diff(*pid, *addr, o, n, &paint, out).map_err(io)?;
            }
            Ok(())
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn value_text(value: &Value) -> String {
    match value {
        Value::Null => "(none)".into(),
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

/// One line: `indent`, a (coloured) mark, and `text` escaped: names from
/// a checkpoint never reach the terminal raw, the colour codes do.
fn emit(out: &mut dyn Write, indent: &str, mark: &str, text: &str) -> std::io::Result<()> {
    writeln!(out, "{indent}{mark} {}", super::text::escape(text))
}

fn field_line(out: &mut dyn Write, indent: &str, f: &FieldChange, paint: &Paint) -> std::io::Result<()> {
    let mark = match (&f.old, &f.new) {
        (Value::Null, _) => paint.mark('+'),
        (_, Value::Null) => paint.mark('-'),
        _ => paint.mark('~'),
    };
    emit(out, indent, &mark, &format!("{}: {} -> {}", f.field, value_text(&f.old), value_text(&f.new)))
}

fn more(out: &mut dyn Write, indent: &str, shown: usize, total: usize) -> std::io::Result<()> {
    if total > shown {
        outln!(out, "{indent}... {} more (--format json lists them all)", total - shown)?;
    }
    Ok(())
}

/// The processes of `new` the diff does not list (`--show-unchanged`).
fn unchanged(diff: &Diff, new: &crate::Checkpoint, pid: Option<u32>) -> Result<Vec<(u32, String)>> {
    if new.images().file("pstree.img")?.is_none() {
        return Ok(Vec::new());
    }
    let listed: std::collections::HashSet<u32> = diff.processes.iter().map(|p| p.pid).collect();
    let processes = new.processes()?;
    Ok(processes
        .into_iter()
        .filter(|p| !listed.contains(&p.pid) && pid.is_none_or(|want| want == p.pid))
        .map(|p| (p.pid, p.comm))
        .collect())
}

/// The text tree of `diff` as `diff` prints it off a terminal (no
/// colours): also the HTML repr of Python's `Diff`.
pub fn diff_text(diff: &Diff) -> String {
    let mut out = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = write_tree(diff, &Paint { on: false }, false, &[], &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn write_tree(diff: &Diff, paint: &Paint, show_unchanged: bool, unchanged: &[(u32, String)], out: &mut dyn Write) -> std::io::Result<()> {
    outln!(out, "old: {}", diff.old)?;
    outln!(out, "new: {}", diff.new)?;
    if diff.is_empty() {
        outln!(out, "no differences")?;
    }
    if !diff.metadata.is_empty() {
        outln!(out, "container and dump statistics")?;
        for f in diff.metadata.iter().take(MAX_LINES) {
            field_line(out, "  ", f, paint)?;
        }
        more(out, "  ", MAX_LINES, diff.metadata.len())?;
    }
    if !diff.processes.is_empty() || show_unchanged {
        outln!(out, "processes")?;
    }
    for p in &diff.processes {
        let (mark, what) = match p.change {
            Change::Appeared => (paint.mark('+'), "appeared".to_string()),
            Change::Disappeared => (paint.mark('-'), "disappeared".to_string()),
            Change::Changed => {
                let was = match p.old_pid {
                    Some(old_pid) if old_pid != p.pid => format!(", was pid {old_pid}, matched by {}", p.matched_by.unwrap_or("pid")),
                    _ => String::new(),
                };
                (paint.mark('~'), format!("changed{was}"))
            }
        };
        emit(out, "  ", &mark, &format!("{} {} ({what})", p.pid, p.comm))?;
        for f in p.fields.iter().take(MAX_LINES) {
            field_line(out, "      ", f, paint)?;
        }
        more(out, "      ", MAX_LINES, p.fields.len())?;
    }
    for (pid, comm) in unchanged {
        outln!(out, "  = {pid} {comm} (unchanged)")?;
    }
    if !diff.files.is_empty() {
        outln!(out, "files")?;
        for f in diff.files.iter().take(MAX_LINES) {
            let mark = match f.change {
                "opened" => paint.mark('+'),
                "closed" => paint.mark('-'),
                _ => paint.mark('~'),
            };
            emit(out, "  ", &mark, &format!("{} fd {} {} ({})", f.pid, f.fd, f.path.as_deref().unwrap_or("?"), f.change))?;
            for c in f.fields.iter().take(4) {
                field_line(out, "      ", c, paint)?;
            }
        }
        more(out, "  ", MAX_LINES, diff.files.len())?;
    }
    if !diff.sockets.is_empty() {
        outln!(out, "sockets")?;
        for s in diff.sockets.iter().take(MAX_LINES) {
            let mark = match s.change {
                "opened" | "listening" => paint.mark('+'),
                "closed" => paint.mark('-'),
                _ => paint.mark('~'),
            };
            emit(out, "  ", &mark, &format!("{} fd {} {} {} ({})", s.pid, s.fd, s.r#type, s.endpoint, s.change))?;
            for c in s.fields.iter().take(4) {
                field_line(out, "      ", c, paint)?;
            }
        }
        more(out, "  ", MAX_LINES, diff.sockets.len())?;
    }
    if !diff.areas.is_empty() {
        outln!(out, "memory areas")?;
        // Areas that became executable first: what an analyst looks at.
        let mut areas: Vec<_> = diff.areas.iter().collect();
        areas.sort_by_key(|a| !a.became_executable);
        for a in areas.iter().take(MAX_LINES) {
            let mark = match (a.change, a.became_executable) {
                (_, true) => paint.mark('!'),
                ("added", _) => paint.mark('+'),
                ("removed", _) => paint.mark('-'),
                _ => paint.mark('~'),
            };
            let end = a.new_end.or(a.old_end).unwrap_or(a.start);
            let perms = match (&a.old_perms, &a.new_perms) {
                (Some(o), Some(n)) if o != n => format!("{o} -> {n}"),
                (_, Some(p)) | (Some(p), None) => p.clone(),
                (None, None) => String::new(),
            };
            let path = match (&a.old_path, &a.new_path) {
                (o, n) if o != n && a.change == "changed" => {
                    format!("{} -> {}", o.as_deref().unwrap_or("(anonymous)"), n.as_deref().unwrap_or("(anonymous)"))
                }
                (o, n) => n.as_deref().or(o.as_deref()).unwrap_or("").to_string(),
            };
            let mut what = a.change.to_string();
            if !a.what.is_empty() {
                what = a.what.join(", ");
            }
            if let Some(old_start) = a.old_start {
                what.push_str(&format!(": was at {old_start:#x}"));
            } else if a.change == "changed" && a.old_end != a.new_end {
                what.push_str(&format!(": end {:#x} -> {:#x}", a.old_end.unwrap_or(0), a.new_end.unwrap_or(0)));
            }
            if a.became_executable {
                what.push_str(", BECAME EXECUTABLE");
            }
            emit(out, "  ", &mark, &format!("{} {:#x}-{:#x} {perms} {path} ({what})", a.pid, a.start, end))?;
        }
        more(out, "  ", MAX_LINES, diff.areas.len())?;
    }
    if !diff.pages.is_empty() {
        outln!(out, "memory pages")?;
        let mut pids: Vec<u32> = diff.pages.iter().map(|r| r.pid).collect();
        pids.dedup();
        for pid in pids {
            let ranges: Vec<_> = diff.pages.iter().filter(|r| r.pid == pid).collect();
            let count = |c: PageChange| ranges.iter().filter(|r| r.change == c).map(|r| r.pages).sum::<u64>();
            outln!(
                out,
                "  ~ {pid}: {} pages changed, {} added, {} removed, in {} ranges",
                count(PageChange::Changed),
                count(PageChange::Added),
                count(PageChange::Removed),
                ranges.len()
            )?;
            for r in ranges.iter().take(MAX_LINES) {
                let mark = match r.change {
                    PageChange::Added => paint.mark('+'),
                    PageChange::Removed => paint.mark('-'),
                    PageChange::Changed => paint.mark('~'),
                };
                emit(out, "      ", &mark, &format!("{:#x}-{:#x} {} pages {}", r.start, r.end, r.pages, r.change.name()))?;
            }
            more(out, "      ", MAX_LINES, ranges.len())?;
        }
    } else if !diff.memory_compared && !diff.areas.is_empty() {
        outln!(out, "memory pages not compared (--memory)")?;
    }
    if !diff.rootfs.is_empty() {
        outln!(out, "root filesystem")?;
        for r in diff.rootfs.iter().take(MAX_LINES) {
            let mark = match r.change {
                "added" => paint.mark('+'),
                "deleted" => paint.mark('-'),
                _ => paint.mark('~'),
            };
            let size = match (r.old_size, r.new_size) {
                (Some(o), Some(n)) if o != n => format!(", {o} -> {n} bytes"),
                (_, Some(n)) => format!(", {n} bytes"),
                (Some(o), None) => format!(", {o} bytes"),
                (None, None) => String::new(),
            };
            let mode = match (r.old_mode, r.new_mode) {
                (Some(o), Some(n)) if o != n => format!(", mode {o:o} -> {n:o}"),
                _ => String::new(),
            };
            let content = match (&r.old_sha256, &r.new_sha256) {
                (Some(o), Some(n)) if o != n => ", content changed".to_string(),
                _ => String::new(),
            };
            emit(out, "  ", &mark, &format!("{} ({}{size}{mode}{content})", r.path, r.change))?;
        }
        more(out, "  ", MAX_LINES, diff.rootfs.len())?;
    }
    for note in &diff.notes {
        outln!(out, "note: {note}")?;
    }
    Ok(())
}

fn write_hex_diff(
    pid: u32,
    addr: u64,
    old: &std::result::Result<Vec<u8>, String>,
    new: &std::result::Result<Vec<u8>, String>,
    paint: &Paint,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    outln!(out, "bytes of process {pid} at {addr:#x}")?;
    let (o, n) = match (old, new) {
        (Ok(o), Ok(n)) => (o, n),
        _ => {
            for (side, r) in [("old", old), ("new", new)] {
                match r {
                    Ok(b) => outln!(out, "  {side}: {} bytes readable", b.len())?,
                    Err(why) => outln!(out, "  {side}: {why}")?,
                }
            }
            return Ok(());
        }
    };
    let mut differing = 0;
    for (i, (a, b)) in o.chunks(16).zip(n.chunks(16)).enumerate() {
        if a == b {
            continue;
        }
        differing += 1;
        let at = addr + (i as u64) * 16;
        emit(out, "  ", &paint.mark('-'), &format!("{at:#014x}  {}", spaced(a)))?;
        emit(out, "  ", &paint.mark('+'), &format!("{at:#014x}  {}", spaced(b)))?;
    }
    if differing == 0 {
        outln!(out, "  identical ({} bytes)", o.len())?;
    }
    Ok(())
}

fn spaced(bytes: &[u8]) -> String {
    let hex: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let text: String = bytes.iter().map(|&b| if b.is_ascii_graphic() || b == b' ' { b as char } else { '.' }).collect();
    format!("{:<47}  |{text}|", hex.join(" "))
}
