//! `criu-images yara`: YARA rules over process memory (and the
//! checkpoint's files), hits at their virtual addresses.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::interrupt;
use super::text::escape;
use crate::error::{Error, Result};
use crate::memory::VmaKind;
use crate::yara::{scan_checkpoint, Rules, YaraOptions, DEFAULT_MAX_HITS};

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub(crate) enum Format {
    /// One line per hit.
    Text,
    /// `{"schema_version": 1, "hits": [...]}`.
    Json,
}

#[derive(Args, Debug)]
pub(crate) struct YaraArgs {
    /// Checkpoint: images directory, tar, tar.gz, tar.zst.
    path: PathBuf,
    /// A rules file (repeat for more); compiled once for every process.
    #[arg(short = 'r', long = "rules", value_name = "RULES", required = true)]
    rules: Vec<PathBuf>,
    /// Only this process.
    #[arg(long)]
    pid: Option<u32>,
    /// Only areas with these permissions, e.g. `r-x` or `rw-p`.
    #[arg(long)]
    perms: Option<String>,
    /// Only areas of these kinds: heap, stack, vdso, anon, file, shared (comma-separated or repeated).
    #[arg(long, value_delimiter = ',')]
    kind: Vec<String>,
    /// Also the files of rootfs-diff.tar and the deleted files the checkpoint holds.
    #[arg(long)]
    rootfs: bool,
    /// Stop after this many hits.
    #[arg(long, default_value_t = DEFAULT_MAX_HITS)]
    max_hits: usize,
    /// Bytes of context around each match.
    #[arg(long, default_value_t = 16)]
    context: usize,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

pub(crate) fn run(args: YaraArgs, out: &mut dyn Write) -> Result<()> {
    let kinds = args
        .kind
        .iter()
        .map(|k| {
            VmaKind::parse(k)
                .ok_or_else(|| Error::Pattern { detail: format!("--kind {k:?}: expected heap, stack, vdso, anon, file or shared") })
        })
        .collect::<Result<Vec<_>>>()?;
    let rules = Rules::from_files(&args.rules)?;
    let checkpoint = super::open_checkpoint(&args.path)?;
    super::require_process_tree(&checkpoint)?;
    let (watch, progress) = interrupt::watch();
    let options = YaraOptions {
        pid: args.pid,
        perms: args.perms.clone(),
        kinds,
        files: args.rootfs,
        max_hits: Some(args.max_hits),
        context: args.context,
        progress: Some(&progress),
    };
    let report = scan_checkpoint(&checkpoint, &rules, &options)?;
    drop(watch);
    let w = |e| Error::io("<stdout>", e);
    match args.format {
        Format::Json => super::io::write_pretty_json(out, &report.to_json())?,
        Format::Text => {
            for hit in &report.hits {
                let place = match (&hit.pid, &hit.vma) {
                    (Some(pid), Some(vma)) => {
                        format!("pid {pid} {:#x} {} {}", hit.address, vma.perms, vma.path.as_deref().unwrap_or("[anon]"))
                    }
                    _ => format!("{} +{:#x}", hit.path.as_deref().unwrap_or("?"), hit.address),
                };
                let shown: String = hit.matched.iter().take(48).map(|&b| if (0x20..0x7f).contains(&b) { b as char } else { '.' }).collect();
                writeln!(out, "{}:{} {} {} {:?}", hit.namespace, hit.rule, hit.string, escape(&place), shown).map_err(w)?;
            }
            if report.truncated {
                writeln!(out, "note: stopped at {} hits (--max-hits); more may exist", args.max_hits).map_err(w)?;
            }
            super::io::write_warnings(out, &report.warnings)?;
        }
    }
    if report.truncated && args.format == Format::Json {
        eprintln!("criu-images: note: stopped at {} hits (--max-hits); more may exist", args.max_hits);
    }
    Ok(())
}
