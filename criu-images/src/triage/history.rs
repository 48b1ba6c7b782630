//! Shell history recovered from bash's memory, the way Volatility's `bash`
//! plugin does it: bash keeps each command as a `HIST_ENTRY { char *line;
//! char *timestamp; histdata_t data; }` whose timestamp string is `#` (or a
//! NUL when `HISTTIMEFORMAT` was never set) followed by the Unix time, and
//! the list `the_history` as an array of pointers to those entries. Both are
//! in the process's own memory whether or not `HISTFILE` is ever written.

use std::collections::HashMap;

use serde_json::{json, Value};

use super::{base_name, hex_addr, Finding, Severity};
use crate::memory::{Content, ProcessMemory, VmaKind};
use crate::model::Process;

/// Longest command line read.
const MAX_LINE: u64 = 4096;
/// Most entries reported.
const MAX_ENTRIES: usize = 1000;
/// Pointer-sized words looked at in one process (bounds the work on huge heaps).
const MAX_WORDS: usize = 64 << 20;

/// A history entry found in memory.
struct Entry {
    line_address: u64,
    line: String,
    timestamp: u64,
}

fn is_bash(p: &Process) -> bool {
    p.comm == "bash" || p.exe.as_deref().is_some_and(|e| base_name(e) == "bash")
}

/// Where bash's allocator puts its data: the heap and private anonymous memory.
fn data_pieces<'a>(mem: &ProcessMemory<'a>) -> Vec<(u64, &'a [u8])> {
    mem.pieces()
        .iter()
        .filter_map(|piece| {
            let vma = mem.vmas().get(piece.vma)?;
            let Content::Dumped(bytes) = piece.content else { return None };
            (matches!(vma.kind(), VmaKind::Heap | VmaKind::Anonymous) && vma.prot & 2 != 0).then_some((piece.start, bytes))
        })
        .collect()
}

fn words(start: u64, bytes: &[u8]) -> impl Iterator<Item = (u64, u64)> + '_ {
    let skip = ((8 - start % 8) % 8) as usize;
    bytes.get(skip..).unwrap_or_default().chunks_exact(8).enumerate().map(move |(i, w)| {
        let mut b = [0u8; 8];
        b.copy_from_slice(w);
        (start + skip as u64 + 8 * i as u64, u64::from_le_bytes(b))
    })
}

/// The Unix time of a bash timestamp string at `addr`, if it is one.
fn timestamp_at(mem: &ProcessMemory<'_>, addr: u64) -> Option<u64> {
    let (first, _) = mem.read_up_to(addr, 1, 1).ok()?;
    if !matches!(first.first(), Some(b'#') | Some(0)) {
        return None;
    }
    let digits = mem.read_cstring(addr.checked_add(1)?, 13).ok()?;
    if !(9..=11).contains(&digits.len()) || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(&digits).ok()?.parse().ok()
}

fn line_at(mem: &ProcessMemory<'_>, addr: u64) -> Option<String> {
    let bytes = mem.read_cstring(addr, MAX_LINE).ok()?;
    if bytes.is_empty() || bytes.len() as u64 >= MAX_LINE {
        return None;
    }
    let text = std::str::from_utf8(&bytes).ok()?;
    text.chars().all(|c| !c.is_control() || c == '\t' || c == '\n').then(|| text.to_string())
}

pub(super) fn check(p: &Process, mem: &ProcessMemory<'_>, out: &mut Vec<Finding>) {
    if !is_bash(p) {
        return;
    }
    let pieces = data_pieces(mem);
    let in_data = |addr: u64| pieces.iter().any(|(s, b)| addr >= *s && addr - s < b.len() as u64);
    // Entries: three words, line and timestamp pointing into data memory.
    let mut entries: HashMap<u64, Entry> = HashMap::new();
    let mut looked = 0usize;
    for (start, bytes) in &pieces {
        let mut prev: [(u64, u64); 2] = [(0, 0); 2];
        for (addr, word) in words(*start, bytes) {
            looked += 1;
            if looked > MAX_WORDS {
                break;
            }
            // `prev[0]` is the line pointer two words back, `prev[1]` the timestamp one word back.
            let (entry, line_ptr) = prev[0];
            let (_, ts_ptr) = prev[1];
            prev = [prev[1], (addr, word)];
            if line_ptr == 0 || ts_ptr == 0 || entry + 16 != addr || !in_data(line_ptr) || !in_data(ts_ptr) {
                continue;
            }
            let Some(timestamp) = timestamp_at(mem, ts_ptr) else { continue };
            let Some(line) = line_at(mem, line_ptr) else { continue };
            entries.insert(entry, Entry { line_address: line_ptr, line, timestamp });
        }
    }
    if entries.is_empty() {
        return;
    }
    // The history list: the longest run of consecutive pointers to entries.
    let mut best: (u64, usize) = (0, 0);
    for (start, bytes) in &pieces {
        let mut run: (u64, usize) = (0, 0);
        for (addr, word) in words(*start, bytes) {
            if entries.contains_key(&word) {
                if run.1 == 0 {
                    run.0 = addr;
                }
                run.1 += 1;
                if run.1 > best.1 {
                    best = run;
                }
            } else {
                run = (0, 0);
            }
        }
    }
    let mut ordered: Vec<(u64, &Entry)> = Vec::new();
    let list_address = (best.1 > 0).then_some(best.0);
    if let Some(list) = list_address {
        for i in 0..best.1 as u64 {
            let Ok(word) = mem.read(list + 8 * i, 8) else { break };
            let mut b = [0u8; 8];
            b.copy_from_slice(&word);
            if let Some(e) = entries.get(&u64::from_le_bytes(b)) {
                ordered.push((u64::from_le_bytes(b), e));
            }
        }
    } else {
        let mut all: Vec<(u64, &Entry)> = entries.iter().map(|(a, e)| (*a, e)).collect();
        all.sort_by_key(|(a, e)| (e.timestamp, *a));
        ordered = all;
    }
    let listed: Vec<Value> = ordered
        .iter()
        .take(MAX_ENTRIES)
        .enumerate()
        .map(|(i, (entry, e))| {
            json!({
                "index": i + 1,
                "line": e.line,
                "address": e.line_address,
                "address_hex": hex_addr(e.line_address),
                "entry_address": entry,
                "timestamp": e.timestamp,
                "time": crate::utc::rfc3339(e.timestamp),
            })
        })
        .collect();
    let shown: Vec<&str> = ordered.iter().take(3).map(|(_, e)| e.line.as_str()).collect();
    out.push(Finding {
        id: "history.bash",
        severity: Severity::Medium,
        pid: Some(p.pid),
        summary: format!(
            "{} ({}) holds {} command{} of shell history in memory ({}{}): what someone typed into this shell, even if the history file was disabled",
            p.pid,
            p.comm,
            ordered.len(),
            if ordered.len() == 1 { "" } else { "s" },
            shown.join("; "),
            if ordered.len() > 3 { "; ..." } else { "" }
        ),
        evidence: json!({"entries": listed, "history_list_address": list_address, "entries_found": entries.len()}),
    });
}
