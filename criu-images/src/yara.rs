//! YARA scanning of process memory and of the checkpoint's files, with
//! `yara-x` (feature `yara`).
//!
//! Memory is scanned area by area with the real virtual addresses: each
//! area is cut into contiguous stretches of known bytes (dumped pages,
//! zero pages as zeros, file pages filled from the root filesystem), so a
//! string split across two page runs of one area matches, while pages that
//! are not in the checkpoint never join the bytes around them. A run of
//! zero pages longer than [`ZERO_JOIN`] also ends a stretch (keeping
//! [`ZERO_EDGE`] zero bytes on each side): no area's worth of zeros is
//! allocated for a hostile memory map. A rule's whole-input conditions
//! (`filesize`, `uint32(0)`, `at` offsets) apply to each stretch, as they
//! would to the stretch written out with `mem dump` and scanned as a file.
//!
//! ```no_run
//! use criu_images::yara::{Rules, YaraOptions, scan_checkpoint};
//!
//! let checkpoint = criu_images::Checkpoint::open("checkpoint.tar.zst")?;
//! let rules = Rules::from_files(&["rules.yar"])?;
//! let report = scan_checkpoint(&checkpoint, &rules, &YaraOptions::default())?;
//! for hit in &report.hits {
//!     println!("{:?} {} {:#x}", hit.pid, hit.rule, hit.address);
//! }
//! # Ok::<(), criu_images::Error>(())
//! ```

use std::borrow::Cow;
use std::path::Path;

use serde_json::{json, Value};

use crate::checkpoint::Checkpoint;
use crate::error::{Error, Result};
use crate::memory::{Content, ProcessMemory, Vma, VmaKind};
use crate::progress::Progress;

/// A run of zero pages longer than this ends a stretch.
pub const ZERO_JOIN: u64 = 1 << 20;
/// Zero bytes kept at each side of a long zero run, so that strings running
/// into zeros still match.
pub const ZERO_EDGE: u64 = 64 << 10;
/// Default limit on hits (all rules, strings and inputs together).
pub const DEFAULT_MAX_HITS: usize = 100_000;
/// Matches kept per string per input (yara-x's own bound on a string that
/// matches everywhere).
const MAX_MATCHES_PER_STRING: usize = 10_000;
/// Largest rules file read.
const MAX_RULES_FILE: u64 = 64 << 20;

/// Compiled rules, reused for every process and checkpoint.
pub struct Rules {
    rules: yara_x::Rules,
}

impl Rules {
    /// Compiles rules from source text; `origin` names it in errors.
    pub fn from_source(source: &str, origin: &str) -> Result<Rules> {
        let mut compiler = yara_x::Compiler::new();
        compiler.add_source(yara_x::SourceCode::from(source).with_origin(origin)).map_err(|e| compile_error(origin, &e))?;
        Ok(Rules { rules: compiler.build() })
    }

    /// Compiles rule files, each in the default namespace (as `yara` and
    /// `yr scan` do with several files).
    pub fn from_files(paths: &[impl AsRef<Path>]) -> Result<Rules> {
        let mut compiler = yara_x::Compiler::new();
        for path in paths {
            let path = path.as_ref();
            let name = path.display().to_string();
            let size = std::fs::metadata(path).map_err(|e| Error::io(&name, e))?.len();
            if size > MAX_RULES_FILE {
                return Err(Error::Pattern {
                    detail: format!("{name}: {size} bytes, more than the {MAX_RULES_FILE} a rules file may have"),
                });
            }
            let bytes = std::fs::read(path).map_err(|e| Error::io(&name, e))?;
            let text = String::from_utf8(bytes)
                .map_err(|e| Error::Pattern { detail: format!("{name}: not UTF-8 at byte {}", e.utf8_error().valid_up_to()) })?;
            compiler
                .add_source(yara_x::SourceCode::from(text.as_str()).with_origin(name.as_str()))
                .map_err(|e| compile_error(&name, &e))?;
        }
        Ok(Rules { rules: compiler.build() })
    }

    /// Compiles `rules`: a path of an existing file, else source text.
    pub fn from_path_or_source(rules: &str) -> Result<Rules> {
        match Path::new(rules).is_file() {
            true => Rules::from_files(&[rules]),
            false => Rules::from_source(rules, "<rules>"),
        }
    }
}

fn compile_error(origin: &str, e: &yara_x::errors::CompileError) -> Error {
    // The compiler's report names the file and line (`--> rules.yar:3:5`).
    Error::Pattern { detail: format!("{origin}: rules do not compile:\n{e}") }
}

/// What to scan.
#[derive(Clone, Default)]
pub struct YaraOptions<'p> {
    /// Only this process.
    pub pid: Option<u32>,
    /// Only areas whose permissions match (see [`Vma::perms_match`]).
    pub perms: Option<String>,
    /// Only areas of these kinds (empty: all).
    pub kinds: Vec<VmaKind>,
    /// Also the files of `rootfs-diff.tar` and the deleted files the
    /// checkpoint holds (ghost files).
    pub files: bool,
    /// Stop after this many hits (default [`DEFAULT_MAX_HITS`]).
    pub max_hits: Option<usize>,
    /// Bytes of context around each match.
    pub context: usize,
    /// Bytes scanned so far; cancelling it stops the scan.
    pub progress: Option<&'p Progress>,
}

/// A memory area, as hits name it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct HitArea {
    #[allow(missing_docs)]
    pub start: u64,
    #[allow(missing_docs)]
    pub end: u64,
    #[allow(missing_docs)]
    pub perms: String,
    #[allow(missing_docs)]
    pub path: Option<String>,
}

/// One match of one string of one rule.
#[derive(Clone, PartialEq, Debug)]
pub struct YaraHit {
    /// The process, or `None` for a file.
    pub pid: Option<u32>,
    /// The file (for hits in files): its path in the container.
    pub path: Option<String>,
    /// Rule identifier.
    pub rule: String,
    /// Rule namespace.
    pub namespace: String,
    /// Rule tags.
    pub tags: Vec<String>,
    /// Rule metadata (JSON values).
    pub metadata: Vec<(String, Value)>,
    /// String identifier (`$a`).
    pub string: String,
    /// Virtual address of the match (for files: offset in the file).
    pub address: u64,
    /// The memory area (for memory hits).
    pub vma: Option<HitArea>,
    /// The matched bytes.
    pub matched: Vec<u8>,
    /// Address of the first context byte.
    pub context_start: u64,
    /// Bytes around the match.
    pub context: Vec<u8>,
}

impl YaraHit {
    /// The hit as the JSON output holds it.
    pub fn to_json(&self) -> Value {
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        let mut v = json!({
            "rule": self.rule,
            "namespace": self.namespace,
            "tags": self.tags,
            "metadata": self.metadata.iter().cloned().collect::<serde_json::Map<String, Value>>(),
            "string": self.string,
            "address": self.address,
            "address_hex": format!("{:#x}", self.address),
            "length": self.matched.len(),
            "matched_hex": hex(&self.matched),
            "context_start": self.context_start,
            "context_hex": hex(&self.context),
        });
        match (self.pid, &self.vma) {
            (Some(pid), Some(vma)) => {
                v["pid"] = json!(pid);
                v["vma"] = json!({"start": vma.start, "end": vma.end, "perms": vma.perms, "path": vma.path});
            }
            _ => v["path"] = json!(self.path),
        }
        v
    }
}

/// The result of a scan.
#[derive(Clone, PartialEq, Debug, Default)]
pub struct YaraReport {
    /// Hits in scan order: processes by pid, areas by address, then files.
    pub hits: Vec<YaraHit>,
    /// The hit limit stopped the scan: more hits may exist.
    pub truncated: bool,
    /// Bytes scanned.
    pub scanned_bytes: u64,
    /// What could not be scanned and why.
    pub warnings: Vec<String>,
}

impl YaraReport {
    /// `{"schema_version": 1, "hits": [...], "truncated", "scanned_bytes", "warnings"}`.
    pub fn to_json(&self) -> Value {
        json!({
            "schema_version": 1,
            "hits": self.hits.iter().map(YaraHit::to_json).collect::<Vec<_>>(),
            "truncated": self.truncated,
            "scanned_bytes": self.scanned_bytes,
            "warnings": self.warnings,
        })
    }
}

/// One stretch of known bytes of one area.
struct Stretch<'a> {
    start: u64,
    bytes: Cow<'a, [u8]>,
}

/// The contiguous stretches of known bytes of `vma`.
fn stretches<'a>(mem: &ProcessMemory<'a>, vma: &Vma) -> Vec<Stretch<'a>> {
    let mut out = Vec::new();
    let mut current: Option<(u64, Vec<&'a [u8]>, u64)> = None; // start, parts (zeros as empty marker), len
    let mut zeros: Vec<(usize, u64)> = Vec::new(); // zero parts: (index in parts, length)
    let flush = |current: &mut Option<(u64, Vec<&'a [u8]>, u64)>, zeros: &mut Vec<(usize, u64)>, out: &mut Vec<Stretch<'a>>| {
        if let Some((start, parts, len)) = current.take() {
            let bytes = if parts.len() == 1 && zeros.is_empty() {
                Cow::Borrowed(parts[0])
            } else {
                let mut v = Vec::with_capacity(len as usize);
                let mut z = zeros.iter().peekable();
                for (i, part) in parts.iter().enumerate() {
                    match z.peek() {
                        Some((zi, zlen)) if *zi == i => {
                            v.resize(v.len() + *zlen as usize, 0);
                            z.next();
                        }
                        _ => v.extend_from_slice(part),
                    }
                }
                Cow::Owned(v)
            };
            if !bytes.is_empty() {
                out.push(Stretch { start, bytes });
            }
        }
        zeros.clear();
    };
    for piece in mem.pieces_in(vma.start, vma.end) {
        match piece.content {
            Content::Dumped(b) | Content::File(b, _) => {
                let c = current.get_or_insert_with(|| (piece.start, Vec::new(), 0));
                c.1.push(b);
                c.2 += b.len() as u64;
            }
            Content::Zero => {
                let len = piece.len();
                if len > ZERO_JOIN {
                    if let Some(c) = current.as_mut() {
                        zeros.push((c.1.len(), ZERO_EDGE));
                        c.1.push(&[]);
                        c.2 += ZERO_EDGE;
                    }
                    flush(&mut current, &mut zeros, &mut out);
                    let start = piece.end - ZERO_EDGE;
                    current = Some((start, vec![&[]], ZERO_EDGE));
                    zeros.push((0, ZERO_EDGE));
                } else {
                    let c = current.get_or_insert_with(|| (piece.start, Vec::new(), 0));
                    zeros.push((c.1.len(), len));
                    c.1.push(&[]);
                    c.2 += len;
                }
            }
            Content::Missing(_) => flush(&mut current, &mut zeros, &mut out),
        }
    }
    flush(&mut current, &mut zeros, &mut out);
    // A stretch of zeros only (an untouched area) holds nothing to find.
    out
}

/// Scans one input; appends hits. `base` is the address of byte 0.
#[allow(clippy::too_many_arguments)]
fn scan_bytes(
    scanner: &mut yara_x::Scanner<'_>,
    data: &[u8],
    base: u64,
    pid: Option<u32>,
    path: Option<&str>,
    vma: Option<&Vma>,
    context: usize,
    out: &mut Vec<YaraHit>,
) -> Result<()> {
    let results = scanner.scan(data).map_err(|e| Error::Pattern { detail: format!("YARA scan at {base:#x}: {e}") })?;
    let area = vma.map(|v| HitArea { start: v.start, end: v.end, perms: v.perms(), path: v.path.clone() });
    for rule in results.matching_rules() {
        let tags: Vec<String> = rule.tags().map(|t| t.identifier().to_string()).collect();
        let metadata: Vec<(String, Value)> = rule.metadata().map(|(k, v)| (k.to_string(), meta_value(&v))).collect();
        for pattern in rule.patterns() {
            for m in pattern.matches() {
                let range = m.range();
                let cstart = range.start.saturating_sub(context);
                let cend = range.end.saturating_add(context).min(data.len());
                out.push(YaraHit {
                    pid,
                    path: path.map(str::to_string),
                    rule: rule.identifier().to_string(),
                    namespace: rule.namespace().to_string(),
                    tags: tags.clone(),
                    metadata: metadata.clone(),
                    string: pattern.identifier().to_string(),
                    address: base + range.start as u64,
                    vma: area.clone(),
                    matched: m.data().to_vec(),
                    context_start: base + cstart as u64,
                    context: data.get(cstart..cend).unwrap_or_default().to_vec(),
                });
            }
        }
    }
    Ok(())
}

fn meta_value(v: &yara_x::MetaValue<'_>) -> Value {
    match v {
        yara_x::MetaValue::Integer(i) => json!(i),
        yara_x::MetaValue::Float(f) => json!(f),
        yara_x::MetaValue::Bool(b) => json!(b),
        yara_x::MetaValue::String(s) => json!(s),
        yara_x::MetaValue::Bytes(b) => json!(String::from_utf8_lossy(b.as_ref())),
    }
}

/// Scans the memory of `memories` (and with `options.files`, the files of
/// the checkpoint) with `rules`, on every core.
pub fn scan_memories(memories: &[&ProcessMemory<'_>], rules: &Rules, options: &YaraOptions<'_>) -> Result<YaraReport> {
    // Tasks: one per area with something to scan.
    let mut tasks: Vec<(usize, usize)> = Vec::new();
    let mut total = 0u64;
    for (m, mem) in memories.iter().enumerate() {
        for (i, vma) in mem.vmas().iter().enumerate() {
            let wanted = options.perms.as_deref().is_none_or(|p| vma.perms_match(p))
                && (options.kinds.is_empty() || options.kinds.contains(&vma.kind()));
            if wanted {
                total += mem.pieces_in(vma.start, vma.end).filter(|p| p.content.bytes().is_some()).map(|p| p.len()).sum::<u64>();
                tasks.push((m, i));
            }
        }
    }
    if let Some(p) = options.progress {
        p.add_total(total);
    }
    let max_hits = options.max_hits.unwrap_or(DEFAULT_MAX_HITS);
    let found = crate::parallel::map_tasks(tasks.len(), |t| {
        let (m, i) = tasks[t];
        let mem = memories[m];
        let vma = &mem.vmas()[i];
        let mut scanner = yara_x::Scanner::new(&rules.rules);
        scanner.max_matches_per_pattern(MAX_MATCHES_PER_STRING.min(max_hits.max(1)));
        let mut hits = Vec::new();
        let mut scanned = 0u64;
        for stretch in stretches(mem, vma) {
            if let Some(p) = options.progress {
                p.check()?;
            }
            scan_bytes(&mut scanner, &stretch.bytes, stretch.start, Some(mem.pid()), None, Some(vma), options.context, &mut hits)?;
            scanned += stretch.bytes.len() as u64;
            if let Some(p) = options.progress {
                p.advance(stretch.bytes.len() as u64);
            }
        }
        Ok((hits, scanned))
    })?;
    let mut report = YaraReport::default();
    for (hits, scanned) in found {
        report.scanned_bytes += scanned;
        report.hits.extend(hits);
    }
    if report.hits.len() > max_hits {
        report.hits.truncate(max_hits);
        report.truncated = true;
    }
    Ok(report)
}

/// Scans a checkpoint: the memory of every process (or `options.pid`), and
/// with `options.files` the files of `rootfs-diff.tar` and the ghost files.
pub fn scan_checkpoint(checkpoint: &Checkpoint, rules: &Rules, options: &YaraOptions<'_>) -> Result<YaraReport> {
    let pids = match options.pid {
        Some(pid) => {
            checkpoint.require_pid(pid)?;
            vec![pid]
        }
        None => checkpoint.memory_pids()?,
    };
    let mut warnings = Vec::new();
    let mut memories = Vec::new();
    for pid in pids {
        match checkpoint.memory(pid) {
            Ok(m) => memories.push(m),
            Err(e) => warnings.push(format!("pid {pid}: memory not scanned: {e}")),
        }
    }
    let refs: Vec<&ProcessMemory<'_>> = memories.iter().map(|m| m.as_ref()).collect();
    let mut report = scan_memories(&refs, rules, options)?;
    report.warnings.extend(warnings);
    if options.files {
        scan_files(checkpoint, rules, options, &mut report)?;
    }
    Ok(report)
}

fn scan_files(checkpoint: &Checkpoint, rules: &Rules, options: &YaraOptions<'_>, report: &mut YaraReport) -> Result<()> {
    let max_hits = options.max_hits.unwrap_or(DEFAULT_MAX_HITS);
    let mut scanner = yara_x::Scanner::new(&rules.rules);
    scanner.max_matches_per_pattern(MAX_MATCHES_PER_STRING.min(max_hits.max(1)));
    // Declared first: ghost file bytes borrow the image names.
    let image_names = checkpoint.image_names();
    // (path, offset of the bytes in the file, bytes)
    let mut inputs: Vec<(String, u64, &[u8])> = Vec::new();
    match checkpoint.rootfs_diff() {
        Ok(Some(tar)) => {
            let names: Vec<String> = tar.members().map(|(name, _, _)| name.to_string()).collect();
            for name in names {
                if let Some(bytes) = tar.get(&name) {
                    inputs.push((format!("/{}", name.trim_start_matches('/')), 0, bytes));
                }
            }
        }
        Ok(None) => {}
        Err(e) => report.warnings.push(format!("rootfs-diff.tar not scanned: {e}")),
    }
    // Ghost files: the contents of files deleted while open or mapped, one
    // run of bytes, or chunks at their offsets (each scanned alone, like
    // stretches of memory).
    for name in &image_names {
        if !(name.starts_with("ghost-file-") && name.ends_with(".img")) {
            continue;
        }
        let image = match checkpoint.image(name) {
            Ok(image) => image,
            Err(e) => {
                report.warnings.push(format!("{name} not scanned: {e}"));
                continue;
            }
        };
        for entry in image.entries() {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    report.warnings.push(format!("{name} not scanned further: {e}"));
                    break;
                }
            };
            let crate::image::Extra::Bytes(bytes) = *entry.extra() else { continue };
            let offset = match entry.decode() {
                Ok(crate::proto::Message::GhostChunkEntry(chunk)) => chunk.off,
                _ => 0,
            };
            inputs.push((format!("{name} (deleted file)"), offset, bytes));
        }
    }
    for (path, offset, bytes) in inputs {
        if report.hits.len() >= max_hits {
            report.truncated = true;
            break;
        }
        if let Some(p) = options.progress {
            p.check()?;
        }
        scan_bytes(&mut scanner, bytes, offset, None, Some(&path), None, options.context, &mut report.hits)?;
        report.scanned_bytes += bytes.len() as u64;
    }
    if report.hits.len() > max_hits {
        report.hits.truncate(max_hits);
        report.truncated = true;
    }
    Ok(())
}
