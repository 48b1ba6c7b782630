//! `criu-images mem ...`: process memory of a checkpoint.

use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand, ValueEnum};

use crate::checkpoint::{Checkpoint, Rootfs};
use crate::error::{Error, Result};
use crate::evidence::Provenance;
use crate::memory::{Encoding, Hit, Origin, Pattern, ProcessMemory, SearchOptions, VmaKind};
use crate::progress::Progress;

use super::interrupt;
use super::RootfsArg;

/// Matches `mem search` prints unless told otherwise: a pattern that
/// matches everywhere must not flood the terminal.
pub(crate) const DEFAULT_MAX: usize = 10_000;

#[derive(Subcommand, Debug)]
#[command(defer = true)]
pub(crate) enum MemCommand {
    /// Memory areas with dumped, zero and missing page counts.
    Maps(MapsArgs),
    /// Find text, bytes or a regular expression in process memory.
    Search(SearchArgs),
    /// Printable strings in process memory, with their addresses.
    Strings(StringsArgs),
    /// Read bytes at an address.
    Read(ReadArgs),
    /// Write a memory area or address range to a file.
    Dump(DumpArgs),
}

#[derive(Args, Debug)]
pub(crate) struct Target {
    /// Checkpoint: images directory, tar, tar.gz, tar.zst.
    path: PathBuf,
    /// Process id as the checkpoint holds it (default: every process).
    #[arg(long)]
    pid: Option<u32>,
    #[command(flatten)]
    rootfs: RootfsArg,
}

#[derive(Args, Debug)]
pub(crate) struct Filters {
    /// Only areas with these permissions, e.g. r-x, rw, rw-p.
    #[arg(long)]
    perms: Option<String>,
    /// Only areas of this kind (repeatable).
    #[arg(long, value_parser = parse_kind)]
    kind: Vec<VmaKind>,
    /// Only addresses in START-END (hex with 0x, or decimal).
    #[arg(long, value_parser = parse_range)]
    range: Option<(u64, u64)>,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub(crate) enum Format {
    Table,
    Json,
}

#[derive(Args, Debug)]
pub(crate) struct MapsArgs {
    #[command(flatten)]
    target: Target,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("pattern").required(true).args(["string", "regex", "hex"])))]
pub(crate) struct SearchArgs {
    #[command(flatten)]
    target: Target,
    /// Text to find (its UTF-8 bytes).
    #[arg(short = 's', long = "string")]
    string: Option<String>,
    /// Regular expression over bytes.
    #[arg(short = 'r', long = "regex")]
    regex: Option<String>,
    /// Bytes to find, as hex (`deadbeef`).
    #[arg(short = 'x', long = "hex")]
    hex: Option<String>,
    /// ASCII letters match in either case (with -s or -r).
    #[arg(short = 'i', long = "ignore-case", conflicts_with = "hex")]
    ignore_case: bool,
    /// Bytes of context before and after each match.
    #[arg(long, default_value_t = 0)]
    context: u64,
    #[command(flatten)]
    filters: Filters,
    /// Stop after this many matches (0: no limit); a note on stderr says
    /// when it stopped there.
    #[arg(long, default_value_t = DEFAULT_MAX, conflicts_with = "all")]
    max: usize,
    /// Every match (same as --max 0).
    #[arg(long)]
    all: bool,
    /// Output format (JSON: see docs/memory.md).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub(crate) enum EncodingArg {
    Ascii,
    Utf16le,
    All,
}

#[derive(Args, Debug)]
pub(crate) struct StringsArgs {
    #[command(flatten)]
    target: Target,
    /// Minimum length in characters.
    #[arg(short = 'n', long = "min-len", default_value_t = 4)]
    min_len: usize,
    /// Encodings to look for.
    #[arg(long, value_enum, default_value_t = EncodingArg::Ascii)]
    encoding: EncodingArg,
    #[command(flatten)]
    filters: Filters,
    /// Stop after this many strings (0, the default: no limit); a note on
    /// stderr says when it stopped there.
    #[arg(long, default_value_t = 0)]
    max: usize,
    /// Output format (JSON: an array of {pid, address, encoding, text}, see docs/memory.md).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

#[derive(Args, Debug)]
pub(crate) struct ReadArgs {
    /// Checkpoint: images directory, tar, tar.gz, tar.zst.
    path: PathBuf,
    /// Process id.
    #[arg(long)]
    pid: u32,
    #[command(flatten)]
    rootfs: RootfsArg,
    /// First address (hex with 0x, or decimal).
    #[arg(long, value_parser = parse_u64)]
    addr: u64,
    /// Number of bytes.
    #[arg(long, value_parser = parse_u64, default_value = "256")]
    len: u64,
    /// Write the bytes as they are instead of a hex dump.
    #[arg(long, conflicts_with = "hexdump")]
    raw: bool,
    /// Hex dump (the default).
    #[arg(long)]
    hexdump: bool,
}

#[derive(Args, Debug)]
pub(crate) struct DumpArgs {
    /// Checkpoint: images directory, tar, tar.gz, tar.zst.
    path: PathBuf,
    /// Process id.
    #[arg(long)]
    pid: u32,
    #[command(flatten)]
    rootfs: RootfsArg,
    /// First address of the range.
    #[arg(long, value_parser = parse_u64, requires = "len", conflicts_with = "vma")]
    addr: Option<u64>,
    /// Length of the range.
    #[arg(long, value_parser = parse_u64, requires = "addr")]
    len: Option<u64>,
    /// Any address inside the memory area to dump whole.
    #[arg(long, value_parser = parse_u64)]
    vma: Option<u64>,
    /// The file to write (zeros for zero pages and missing pages, sparse where possible).
    #[arg(short = 'o', long = "out")]
    output: PathBuf,
}

fn parse_u64(text: &str) -> std::result::Result<u64, String> {
    let t = text.trim();
    let parsed = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => t.parse(),
    };
    parsed.map_err(|_| format!("{text:?} is not a number (use 0x for hex)"))
}

fn parse_range(text: &str) -> std::result::Result<(u64, u64), String> {
    let (a, b) = text.split_once('-').ok_or_else(|| format!("{text:?} is not START-END"))?;
    let (a, b) = (parse_u64(a)?, parse_u64(b)?);
    if a >= b {
        return Err(format!("{text:?}: START must be below END"));
    }
    Ok((a, b))
}

fn parse_kind(text: &str) -> std::result::Result<VmaKind, String> {
    VmaKind::parse(text).ok_or_else(|| format!("{text:?} is not one of heap, stack, anon, file, shared, vdso"))
}

/// Processes with memory: dead and zombie tasks have none and are skipped
/// when every process is asked for.
fn memory_pids(checkpoint: &Checkpoint, pid: Option<u32>) -> Result<Vec<u32>> {
    match pid {
        None => checkpoint.memory_pids(),
        Some(pid) => {
            checkpoint.require_pid(pid)?;
            Ok(vec![pid])
        }
    }
}

fn memories<'c>(
    checkpoint: &'c Checkpoint,
    pid: Option<u32>,
    rootfs: &'c Rootfs<'c>,
    progress: &Progress,
) -> Result<Vec<ProcessMemory<'c>>> {
    memory_pids(checkpoint, pid)?.into_iter().map(|p| checkpoint.memory_with_progress(p, rootfs.source(), Some(progress))).collect()
}

/// Memory errors name the checkpoint, as other errors of a checkpoint do.
fn named(path: &Path) -> impl Fn(Error) -> Error + '_ {
    move |err| match err {
        Error::Memory { pid, address, detail, checkpoint } if checkpoint.is_empty() => {
            Error::Memory { pid, address, detail, checkpoint: path.display().to_string() }
        }
        other => other,
    }
}

fn options(filters: &Filters) -> SearchOptions {
    SearchOptions { perms: filters.perms.clone(), kinds: filters.kind.clone(), range: filters.range, ..Default::default() }
}

pub(crate) fn run(command: MemCommand, out: &mut dyn Write) -> Result<()> {
    match command {
        MemCommand::Maps(args) => maps(args, out),
        MemCommand::Search(args) => {
            let path = args.target.path.clone();
            search(args, out).map_err(named(&path))
        }
        MemCommand::Strings(args) => {
            let path = args.target.path.clone();
            strings(args, out).map_err(named(&path))
        }
        MemCommand::Read(args) => {
            let path = args.path.clone();
            read(args, out).map_err(named(&path))
        }
        MemCommand::Dump(args) => {
            let path = args.path.clone();
            dump(args, out).map_err(named(&path))
        }
    }
}

/// Writes to the output; a closed pipe (`| head`) ends the command quietly.
fn emit(out: &mut dyn Write, text: std::fmt::Arguments<'_>) -> Result<()> {
    out.write_fmt(text).map_err(|e| Error::io("<stdout>", e))
}

fn maps(args: MapsArgs, out: &mut dyn Write) -> Result<()> {
    let checkpoint = super::open_checkpoint(&args.target.path)?;
    let rootfs = args.target.rootfs.load(&checkpoint)?;
    let mut json = String::from("[");
    // Ctrl-C stops the index build cleanly (see cli/interrupt.rs).
    let (watch, progress) = interrupt::watch();
    let memories = memories(&checkpoint, args.target.pid, &rootfs, &progress)?;
    drop(watch);
    for memory in memories {
        if args.format == Format::Table {
            writeln!(out, "process {} (page size {})", memory.pid(), memory.page_size()).ok();
            writeln!(
                out,
                "{:<33} {:<5} {:>10} {:>8} {:>8} {:>8} {:>9} {:>8}  PATH",
                "ADDRESS", "PERMS", "OFFSET", "DUMPED", "ZERO", "MISSING", "FROM-DIFF", "FROM-DIR"
            )
            .ok();
        }
        for (i, vma) in memory.vmas().iter().enumerate() {
            let counts = memory.page_counts(i);
            match args.format {
                Format::Table => {
                    writeln!(
                        out,
                        "{:016x}-{:016x} {:<5} {:>10x} {:>8} {:>8} {:>8} {:>9} {:>8}  {}",
                        vma.start,
                        vma.end,
                        vma.perms(),
                        vma.pgoff,
                        counts.dumped,
                        counts.zero,
                        counts.missing,
                        counts.from_rootfs_diff,
                        counts.from_rootfs_dir,
                        super::text::escape(vma.path.as_deref().unwrap_or(""))
                    )
                    .ok();
                }
                Format::Json => {
                    if json.len() > 1 {
                        json.push_str(", ");
                    }
                    write!(
                        json,
                        "{{\"pid\": {}, \"start\": {}, \"end\": {}, \"offset\": {}, \"perms\": \"{}\", \"kind\": \"{}\", \"path\": {}, \"pages_dumped\": {}, \"pages_zero\": {}, \"pages_missing\": {}, \"pages_from_rootfs_diff\": {}, \"pages_from_rootfs_dir\": {}}}",
                        memory.pid(),
                        vma.start,
                        vma.end,
                        vma.pgoff,
                        vma.perms(),
                        vma.kind().name(),
                        json_opt_string(vma.path.as_deref()),
                        counts.dumped,
                        counts.zero,
                        counts.missing,
                        counts.from_rootfs_diff,
                        counts.from_rootfs_dir
                    )
                    .ok();
                }
            }
        }
    }
    if args.format == Format::Json {
        json.push_str("]\n");
        out.write_all(json.as_bytes()).ok();
    }
    Ok(())
}

fn search(args: SearchArgs, out: &mut dyn Write) -> Result<()> {
    let pattern = match (&args.string, &args.regex, &args.hex) {
        (Some(s), _, _) if args.ignore_case => Pattern::literal_ignore_case(s.as_bytes())?,
        (Some(s), _, _) => Pattern::literal(s.as_bytes()),
        (_, Some(r), _) if args.ignore_case => Pattern::regex_ignore_case(r)?,
        (_, Some(r), _) => Pattern::regex(r)?,
        (_, _, Some(x)) => Pattern::hex(x)?,
        _ => unreachable!("clap requires one pattern"),
    };
    let checkpoint = super::open_checkpoint(&args.target.path)?;
    let rootfs = args.target.rootfs.load(&checkpoint)?;
    let mut options = options(&args.filters);
    options.context = args.context;
    // Ctrl-C stops the index build and the search at their next check (see cli/interrupt.rs).
    let (_watch, progress) = interrupt::watch();
    options.progress = Some(progress.clone());
    let max = if args.all || args.max == 0 { usize::MAX } else { args.max };
    let json = args.format == Format::Json;
    if json {
        emit(out, format_args!("["))?;
    } else {
        emit(out, format_args!("{:>7}  {:<18} {:<5} {:<40} MATCH\n", "PID", "ADDRESS", "PERMS", "AREA"))?;
    }
    // Hits go out as they are found, in address order, one process after the other.
    let mut count = 0usize;
    let mut stopped = false;
    'processes: for pid in memory_pids(&checkpoint, args.target.pid)? {
        let memory = checkpoint.memory_with_progress(pid, rootfs.source(), Some(&progress))?;
        // One more than allowed, to know whether there were more.
        options.max_hits = Some(max.saturating_sub(count).saturating_add(1));
        for hit in memory.search_iter(&pattern, &options) {
            let hit = hit?;
            if count == max {
                stopped = true;
                break 'processes;
            }
            if json {
                emit(out, format_args!("{}\n  {}", if count > 0 { "," } else { "" }, hit_json(&hit)))?;
            } else {
                let area = hit.area.path.clone().unwrap_or_else(|| format!("{:x}-{:x}", hit.area.start, hit.area.end));
                // Dumped bytes go without saying; anything else is named.
                let from = origins_note(&hit);
                emit(
                    out,
                    format_args!(
                        "{:>7}  {:#018x} {:<5} {:<40} {}{from}\n",
                        hit.pid,
                        hit.address,
                        hit.area.perms(),
                        super::text::escape(&area),
                        escape(&hit.matched)
                    ),
                )?;
                if args.context > 0 {
                    emit(out, format_args!("{:>7}  context at {:#x}: {}\n", "", hit.context_start, escape(&hit.context)))?;
                }
            }
            count += 1;
        }
    }
    if json {
        emit(out, format_args!("{}]\n", if count > 0 { "\n" } else { "" }))?;
    } else {
        emit(out, format_args!("{count} matches\n"))?;
    }
    if stopped {
        out.flush().map_err(|e| Error::io("<stdout>", e))?;
        eprintln!("criu-images: note: stopped after {max} matches (--max); --max N or --all for more");
    }
    Ok(())
}

/// `  (from rootfs-diff)` when a hit's bytes are not all dumped pages.
fn origins_note(hit: &Hit) -> String {
    if hit.origins.iter().all(|(_, _, origin)| *origin == Origin::Dumped) {
        return String::new();
    }
    let mut names: Vec<&str> = hit.origins.iter().map(|(_, _, origin)| origin.name()).collect();
    names.dedup();
    format!("  (from {})", names.join(", "))
}

/// One hit of `mem search --format json` (schema: docs/memory.md,
/// version 1): an object on one line.
fn hit_json(hit: &Hit) -> String {
    let origins: Vec<String> = hit
        .origins
        .iter()
        .map(|(start, end, origin)| format!("{{\"start\": {start}, \"end\": {end}, \"origin\": \"{}\"}}", origin.name()))
        .collect();
    format!(
        "{{\"pid\": {}, \"address\": {}, \"vma_start\": {}, \"vma_end\": {}, \"perms\": \"{}\", \"path\": {}, \"match\": \"{}\", \"context_start\": {}, \"context\": \"{}\", \"origins\": [{}]}}",
        hit.pid,
        hit.address,
        hit.area.start,
        hit.area.end,
        hit.area.perms(),
        json_opt_string(hit.area.path.as_deref()),
        hex(&hit.matched),
        hit.context_start,
        hex(&hit.context),
        origins.join(", ")
    )
}

fn strings(args: StringsArgs, out: &mut dyn Write) -> Result<()> {
    let checkpoint = super::open_checkpoint(&args.target.path)?;
    let encodings: &[Encoding] = match args.encoding {
        EncodingArg::Ascii => &[Encoding::Ascii],
        EncodingArg::Utf16le => &[Encoding::Utf16Le],
        EncodingArg::All => &[Encoding::Ascii, Encoding::Utf16Le],
    };
    let mut options = options(&args.filters);
    let rootfs = args.target.rootfs.load(&checkpoint)?;
    let (_watch, progress) = interrupt::watch();
    options.progress = Some(progress.clone());
    let max = if args.max == 0 { usize::MAX } else { args.max };
    let json = args.format == Format::Json;
    if json {
        emit(out, format_args!("["))?;
    }
    let (mut count, mut stopped) = (0usize, false);
    // Strings go out as they are found, in address order: memory stays bounded by the index.
    'processes: for pid in memory_pids(&checkpoint, args.target.pid)? {
        let memory = checkpoint.memory_with_progress(pid, rootfs.source(), Some(&progress))?;
        for s in memory.strings_iter(args.min_len, encodings, &options) {
            let s = s?;
            if count == max {
                stopped = true;
                break 'processes;
            }
            let (tag, name) = match s.encoding {
                Encoding::Ascii => ("", "ascii"),
                Encoding::Utf16Le => (" (utf-16le)", "utf-16le"),
            };
            if json {
                let text = json_opt_string(Some(&s.text));
                let sep = if count > 0 { "," } else { "" };
                emit(
                    out,
                    format_args!("{sep}\n  {{\"pid\": {}, \"address\": {}, \"encoding\": \"{name}\", \"text\": {text}}}", s.pid, s.address),
                )?;
            } else {
                emit(out, format_args!("{} {:#x}{tag} {}\n", s.pid, s.address, s.text))?;
            }
            count += 1;
        }
    }
    if json {
        emit(out, format_args!("{}]\n", if count > 0 { "\n" } else { "" }))?;
    }
    if stopped {
        out.flush().map_err(|e| Error::io("<stdout>", e))?;
        eprintln!("criu-images: note: stopped after {max} strings (--max)");
    }
    Ok(())
}

fn read(args: ReadArgs, out: &mut dyn Write) -> Result<()> {
    let checkpoint = super::open_checkpoint(&args.path)?;
    let rootfs = args.rootfs.load(&checkpoint)?;
    let (watch, progress) = interrupt::watch();
    let memory = checkpoint.memory_with_progress(args.pid, rootfs.source(), Some(&progress))?;
    drop(watch);
    let bytes = memory.read(args.addr, args.len)?;
    if args.raw {
        out.write_all(&bytes).ok();
    } else {
        hexdump(args.addr, &bytes, out);
    }
    Ok(())
}

fn dump(args: DumpArgs, out: &mut dyn Write) -> Result<()> {
    let checkpoint = super::open_checkpoint(&args.path)?;
    let rootfs = args.rootfs.load(&checkpoint)?;
    // Ctrl-C stops the index build or the dump, which then removes its file (see cli/interrupt.rs).
    let (watch, progress) = interrupt::watch();
    let memory = checkpoint.memory_with_progress(args.pid, rootfs.source(), Some(&progress))?;
    let (start, end) = match (args.addr, args.len, args.vma) {
        (Some(addr), Some(len), _) => match addr.checked_add(len) {
            Some(end) => (addr, end),
            None => {
                return Err(Error::Memory {
                    pid: args.pid,
                    address: addr,
                    detail: format!("--len {len:#x} from {addr:#x} runs past the end of the address space"),
                    checkpoint: String::new(),
                })
            }
        },
        (_, _, Some(inside)) => {
            let vma = memory.area_containing(inside)?;
            (vma.start, vma.end)
        }
        _ => {
            return Err(Error::Pattern { detail: "give --addr and --len, or --vma".into() });
        }
    };
    // The file's hash is taken on a second core while it is written (for the sidecar).
    let (summary, digest) = memory.dump_sha256(start, end, &args.output, Some(&progress))?;
    drop(watch);
    let provenance = Provenance {
        source: args.path.clone(),
        pid: Some(args.pid),
        range: Some((start, end)),
        evidence_sha256: digest.map(|d| crate::evidence::hex(&d)),
        ..Provenance::default()
    };
    let sidecar = super::io::write_provenance(&args.output, provenance)?;
    writeln!(
        out,
        "wrote {} bytes ({} dumped, {} not in the checkpoint, as zeros) to {}{}",
        summary.size,
        summary.dumped,
        summary.missing,
        args.output.display(),
        sidecar.map(|p| format!("; provenance in {}", p.display())).unwrap_or_default()
    )
    .ok();
    Ok(())
}

fn json_opt_string(text: Option<&str>) -> String {
    match text {
        None => "null".into(),
        Some(t) => {
            let mut out = Vec::new();
            crate::json::write_json_str(&mut out, t.as_bytes());
            String::from_utf8(out).expect("ASCII JSON")
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        write!(s, "{b:02x}").ok();
    }
    s
}

/// Bytes as text: printable ASCII as is, the rest as `\xNN`.
fn escape(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len());
    for &b in bytes {
        if (0x20..0x7f).contains(&b) && b != b'\\' {
            s.push(b as char);
        } else {
            write!(s, "\\x{b:02x}").ok();
        }
    }
    s
}

fn hexdump(addr: u64, bytes: &[u8], out: &mut dyn Write) {
    for (i, line) in bytes.chunks(16).enumerate() {
        let mut text = format!("{:016x}  ", addr + 16 * i as u64);
        for j in 0..16 {
            match line.get(j) {
                Some(b) => write!(text, "{b:02x} ").ok(),
                None => write!(text, "   ").ok(),
            };
            if j == 7 {
                text.push(' ');
            }
        }
        text.push(' ');
        text.extend(line.iter().map(|&b| if (0x20..0x7f).contains(&b) { b as char } else { '.' }));
        writeln!(out, "{text}").ok();
    }
}
