//! Memory: code where code should not be (malfind's checks), for one process.

use serde_json::{json, Value};

use super::{hex_addr, hex_bytes, vma_json, Context, Finding, Severity};
use crate::memory::{status, Content, FileSource, ProcessMemory, Vma, VmaKind};
use crate::model::Process;

const PROT_WRITE: u32 = 2;
const PROT_EXEC: u32 = 4;
/// Bytes of an area's start shown as evidence.
const SHOW_BYTES: usize = 64;
/// Most differing spans listed for one modified area.
const MAX_SPANS: usize = 32;
/// Most ELF header addresses listed for one process.
const MAX_ELF: usize = 16;
/// `e_type` names.
const ELF_TYPES: &[&str] = &["NONE", "REL", "EXEC", "DYN", "CORE"];

/// Anonymous in the malfind sense: no file behind it (private or shared
/// anonymous memory, heap, stack, SysV shm), memfd excepted.
fn is_anonymous(vma: &Vma) -> bool {
    match vma.kind() {
        VmaKind::Anonymous | VmaKind::Heap | VmaKind::Stack => true,
        VmaKind::Shared => vma.status & status::MEMFD == 0,
        VmaKind::File | VmaKind::Vdso => false,
    }
}

/// The first dumped bytes of `[start, end)` and where they are.
fn first_bytes<'a>(mem: &ProcessMemory<'a>, start: u64, end: u64) -> Option<(u64, &'a [u8])> {
    mem.pieces_in(start, end).find_map(|p| match p.content {
        Content::Dumped(b) => Some((p.start, b)),
        _ => None,
    })
}

fn dumped_bytes(mem: &ProcessMemory<'_>, vma: &Vma) -> u64 {
    mem.pieces_in(vma.start, vma.end).filter(|p| matches!(p.content, Content::Dumped(_))).map(|p| p.len()).sum()
}

fn start_evidence(mem: &ProcessMemory<'_>, vma: &Vma) -> Value {
    let mut e = json!({"area": vma_json(vma), "dumped_bytes": dumped_bytes(mem, vma)});
    if let Some((at, bytes)) = first_bytes(mem, vma.start, vma.end) {
        e["first_dumped"] = json!({"address": at, "address_hex": hex_addr(at), "hex": hex_bytes(bytes, SHOW_BYTES)});
    }
    e
}

/// The page where CRIU's compel injects its system calls while dumping:
/// the start of the first executable area. Writing the syscall there (and
/// the original bytes back) copies the page, so CRIU dumps it, unchanged.
fn injection_page(mem: &ProcessMemory<'_>) -> Option<u64> {
    mem.vmas().iter().find(|v| v.prot & PROT_EXEC != 0 && v.kind() != VmaKind::Vdso).map(|v| v.start)
}

/// Runs the memory checks of one process; the CRIU injection page, when it
/// is all that was dumped of an area and no file shows it changed, goes to
/// `injection` instead of a finding.
pub(super) fn check(cx: &Context<'_>, p: &Process, mem: &ProcessMemory<'_>, out: &mut Vec<Finding>, injection: &mut Vec<Value>) {
    let mut deleted_code: Vec<(&str, Vec<Value>)> = Vec::new();
    let injection_at = injection_page(mem);
    for vma in mem.vmas() {
        let exec = vma.prot & PROT_EXEC != 0;
        let write = vma.prot & PROT_WRITE != 0;
        if exec && is_anonymous(vma) {
            let (id, severity, why) = match write {
                true => ("memory.anon_wx", Severity::High, "writable and executable anonymous memory is where injected shellcode runs"),
                false => {
                    ("memory.anon_exec", Severity::Medium, "executable memory without a file behind it holds generated or injected code")
                }
            };
            out.push(Finding {
                id,
                severity,
                pid: Some(p.pid),
                summary: format!("{} ({}) has an anonymous {} area {:#x}-{:#x}: {why}", p.pid, p.comm, vma.perms(), vma.start, vma.end),
                evidence: start_evidence(mem, vma),
            });
        }
        if exec && vma.is_file_backed() {
            modified_code(cx.rootfs, p, mem, vma, injection_at, out, injection);
        }
        if exec {
            if let Some(path) = vma.path.as_deref().filter(|path| path.starts_with("/memfd:") || path.ends_with(" (deleted)")) {
                match deleted_code.iter_mut().find(|(p, _)| *p == path) {
                    Some((_, areas)) => areas.push(vma_json(vma)),
                    None => deleted_code.push((path, vec![vma_json(vma)])),
                }
            }
        }
    }
    for (path, areas) in deleted_code {
        let memfd = path.starts_with("/memfd:");
        out.push(Finding {
            id: "memory.exec_deleted_or_memfd",
            severity: Severity::High,
            pid: Some(p.pid),
            summary: format!(
                "{} ({}) executes code mapped from {path}: {}",
                p.pid,
                p.comm,
                if memfd {
                    "a memfd, code that never was a file on disk"
                } else {
                    "a file deleted after it was mapped, a payload hiding its tracks"
                }
            ),
            evidence: json!({"path": path, "areas": areas}),
        });
    }
    elf_headers(p, mem, out);
}

/// An executable file mapping with pages CRIU dumped: CRIU dumps a private
/// file page only when it differs from the file (copy-on-write), so these
/// are code changed in memory. With the file at hand, the bytes that differ.
fn modified_code(
    rootfs: Option<&dyn FileSource>,
    p: &Process,
    mem: &ProcessMemory<'_>,
    vma: &Vma,
    injection_at: Option<u64>,
    out: &mut Vec<Finding>,
    injection: &mut Vec<Value>,
) {
    let pieces: Vec<(u64, &[u8])> = mem
        .pieces_in(vma.start, vma.end)
        .filter_map(|piece| match piece.content {
            Content::Dumped(b) => Some((piece.start, b)),
            _ => None,
        })
        .collect();
    if pieces.is_empty() {
        return;
    }
    let path = vma.path.as_deref().unwrap_or("?");
    let file = vma.path.as_deref().map(|p| p.strip_suffix(" (deleted)").unwrap_or(p)).and_then(|p| rootfs.and_then(|r| r.file_bytes(p)));
    let dumped: Vec<Value> = pieces.iter().map(|(at, b)| json!({"start": at, "end": at + b.len() as u64})).collect();
    let mut evidence = json!({"area": vma_json(vma), "dumped": dumped, "file_available": file.is_some()});
    let mut severity = Severity::High;
    let mut detail = String::from("the file was not available to compare (give --rootfs)");
    let only_injection_page = pieces.len() == 1 && Some(pieces[0].0) == injection_at && pieces[0].1.len() as u64 == mem.page_size();
    if let Some(file) = file {
        let (spans, differing) = diff_spans(vma, &pieces, file);
        if differing == 0 && only_injection_page {
            return;
        }
        if differing == 0 {
            severity = Severity::Low;
            detail = "the dumped pages equal the file".into();
        } else {
            detail = format!("{differing} bytes differ from the file");
        }
        evidence["differing_bytes"] = json!(differing);
        evidence["spans"] = json!(spans);
    } else if only_injection_page {
        injection.push(json!({"pid": p.pid, "address": pieces[0].0, "address_hex": hex_addr(pieces[0].0), "path": path}));
        return;
    } else if let Some((at, bytes)) = pieces.first() {
        evidence["first_dumped"] = json!({"address": at, "address_hex": hex_addr(*at), "hex": hex_bytes(bytes, SHOW_BYTES)});
    }
    let total: u64 = pieces.iter().map(|(_, b)| b.len() as u64).sum();
    out.push(Finding {
        id: "memory.modified_code",
        severity,
        pid: Some(p.pid),
        summary: format!(
            "{} ({}) has {total} bytes of modified code in {path} at {:#x}-{:#x} ({detail}): CRIU dumps only code pages that differ from the file, the mark of hooks and patches",
            p.pid, p.comm, pieces[0].0, vma.end.min(pieces[pieces.len() - 1].0 + pieces[pieces.len() - 1].1.len() as u64)
        ),
        evidence,
    });
}

/// Spans where memory and file differ (address, memory hex, file hex) and
/// the count of differing bytes; bytes past the file's end count as differing.
fn diff_spans(vma: &Vma, pieces: &[(u64, &[u8])], file: &[u8]) -> (Vec<Value>, u64) {
    let mut spans = Vec::new();
    let mut differing = 0u64;
    for (at, bytes) in pieces {
        let Some(offset) = at.saturating_sub(vma.start).checked_add(vma.pgoff) else { continue };
        let mut i = 0usize;
        while i < bytes.len() {
            let file_byte = |k: usize| usize::try_from(offset).ok().and_then(|o| o.checked_add(k)).and_then(|o| file.get(o)).copied();
            if file_byte(i) == Some(bytes[i]) {
                i += 1;
                continue;
            }
            let start = i;
            // A span ends after 8 equal bytes, so nearby changes read as one.
            let mut equal_run = 0;
            let mut end = i + 1;
            i += 1;
            while i < bytes.len() && equal_run < 8 {
                if file_byte(i) == Some(bytes[i]) {
                    equal_run += 1;
                } else {
                    equal_run = 0;
                    end = i + 1;
                }
                i += 1;
            }
            differing += (start..end).filter(|k| file_byte(*k) != Some(bytes[*k])).count() as u64;
            if spans.len() < MAX_SPANS {
                let file_part: Vec<u8> = (start..end).filter_map(file_byte).collect();
                let addr = at + start as u64;
                spans.push(json!({
                    "address": addr,
                    "address_hex": hex_addr(addr),
                    "len": end - start,
                    "memory_hex": hex_bytes(&bytes[start..end], SHOW_BYTES),
                    "file_hex": hex_bytes(&file_part, SHOW_BYTES),
                }));
            }
        }
    }
    (spans, differing)
}

/// ELF headers at page starts of anonymous memory: a program or library
/// loaded by hand (reflective loading) instead of through `execve`/`mmap`.
fn elf_headers(p: &Process, mem: &ProcessMemory<'_>, out: &mut Vec<Finding>) {
    let page = mem.page_size().max(1);
    let mut found = Vec::new();
    let mut count = 0usize;
    for piece in mem.pieces() {
        let Content::Dumped(bytes) = piece.content else { continue };
        let Some(vma) = mem.vmas().get(piece.vma) else { continue };
        if !is_anonymous(vma) {
            continue;
        }
        let first = piece.start.div_ceil(page).saturating_mul(page);
        let mut addr = first;
        while addr < piece.end {
            let off = (addr - piece.start) as usize;
            if let Some(h) = bytes.get(off..off.saturating_add(20)) {
                // e_ident: magic, class 1|2, data 1|2, version 1; e_type 1..=4.
                let e_type = u16::from_le_bytes([h[16], h[17]]);
                if h[..4] == *b"\x7fELF" && matches!(h[4], 1 | 2) && matches!(h[5], 1 | 2) && h[6] == 1 && (1..=4).contains(&e_type) {
                    count += 1;
                    if found.len() < MAX_ELF {
                        let machine = u16::from_le_bytes([h[18], h[19]]);
                        found.push(json!({
                            "address": addr,
                            "address_hex": hex_addr(addr),
                            "area": vma_json(vma),
                            "class": if h[4] == 2 { 64 } else { 32 },
                            "e_type": ELF_TYPES.get(e_type as usize).copied().unwrap_or("?"),
                            "e_machine": machine,
                            "header_hex": hex_bytes(h, 20),
                        }));
                    }
                }
            }
            addr = match addr.checked_add(page) {
                Some(a) => a,
                None => break,
            };
        }
    }
    if count > 0 {
        out.push(Finding {
            id: "memory.elf_in_anon",
            severity: Severity::Medium,
            pid: Some(p.pid),
            summary: format!(
                "{} ({}) has {count} ELF header{} at page starts of anonymous memory (first at {}): a binary held or loaded by hand, outside the loader",
                p.pid,
                p.comm,
                if count == 1 { "" } else { "s" },
                found.first().and_then(|f| f["address_hex"].as_str()).unwrap_or("?")
            ),
            evidence: json!({"count": count, "headers": found}),
        });
    }
}
