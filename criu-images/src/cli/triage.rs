//! `criu-images triage`: the suspicious traces of a checkpoint, most severe first.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use serde_json::Value;

use super::text::escape;
use crate::checkpoint::Rootfs;
use crate::error::{Error, Result};
use crate::triage::{triage, Severity, TriageOptions};

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub(crate) enum Format {
    /// One screen for a person: each finding with its key evidence.
    Text,
    /// The versioned report (docs/triage.md).
    Json,
}

#[derive(Args, Debug)]
pub(crate) struct TriageArgs {
    /// Checkpoint: images directory, tar, tar.gz, tar.zst.
    path: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Show credentials found in memory in full (masked by default).
    #[arg(long)]
    show_secrets: bool,
    /// The container's root filesystem: modified code pages are compared
    /// with the files in it (the checkpoint's rootfs-diff.tar is always used).
    #[arg(long, value_name = "DIR")]
    rootfs: Option<String>,
    /// YARA rules: their hits are added as `yara.match` findings (no rules, no YARA).
    #[cfg(feature = "yara")]
    #[arg(short = 'r', long = "rules", value_name = "RULES")]
    rules: Vec<PathBuf>,
    /// Only findings at least this severe.
    #[arg(long, value_enum, default_value_t = MinSeverity::Info)]
    min_severity: MinSeverity,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub(crate) enum MinSeverity {
    Info,
    Low,
    Medium,
    High,
}

pub(crate) fn run(args: TriageArgs, out: &mut dyn Write) -> Result<()> {
    let min = match args.min_severity {
        MinSeverity::Info => Severity::Info,
        MinSeverity::Low => Severity::Low,
        MinSeverity::Medium => Severity::Medium,
        MinSeverity::High => Severity::High,
    };
    let checkpoint = super::open_checkpoint(&args.path)?;
    super::require_process_tree(&checkpoint)?;
    let rootfs = match &args.rootfs {
        Some(dir) => Some(Rootfs::load(&checkpoint, Some(dir))?),
        None => None,
    };
    let options = TriageOptions { show_secrets: args.show_secrets, rootfs: rootfs.as_ref().and_then(Rootfs::source) };
    let mut report = triage(&checkpoint, &options)?;
    #[cfg(feature = "yara")]
    if !args.rules.is_empty() {
        add_yara_findings(&checkpoint, &args.rules, &mut report)?;
    }
    report.findings.retain(|f| f.severity >= min);
    let w = |e| Error::io("<stdout>", e);
    match args.format {
        Format::Json => super::io::write_pretty_json(out, &report.to_json())?,
        Format::Text => {
            let count = |s: Severity| report.findings.iter().filter(|f| f.severity == s).count();
            writeln!(
                out,
                "{}: {} findings ({} high, {} medium, {} low, {} info)",
                escape(&args.path.display().to_string()),
                report.findings.len(),
                count(Severity::High),
                count(Severity::Medium),
                count(Severity::Low),
                count(Severity::Info)
            )
            .map_err(w)?;
            for f in &report.findings {
                let pid = f.pid.map_or_else(|| "-".to_string(), |p| p.to_string());
                writeln!(out, "{:<6} {:>6}  {}  {}", f.severity.name().to_uppercase(), pid, f.id, escape(&f.summary)).map_err(w)?;
                for line in evidence_lines(&f.evidence) {
                    writeln!(out, "                {}", escape(&line)).map_err(w)?;
                }
            }
            super::io::write_warnings(out, &report.warnings)?;
        }
    }
    Ok(())
}

/// Widest evidence line in text output.
const LINE: usize = 160;

/// The evidence a person reads: history entries one per line, otherwise
/// the scalar fields on one line.
pub(super) fn evidence_lines(evidence: &Value) -> Vec<String> {
    let cut = |s: String| if s.chars().count() > LINE { format!("{}...", s.chars().take(LINE).collect::<String>()) } else { s };
    if let Some(Value::Array(entries)) = evidence.get("entries") {
        return entries
            .iter()
            .map(|e| {
                cut(format!(
                    "{:>4}  {}  {}  {}",
                    e["index"],
                    e["time"].as_str().unwrap_or(""),
                    e["address_hex"].as_str().unwrap_or(""),
                    e["line"].as_str().unwrap_or("")
                ))
            })
            .collect();
    }
    let Value::Object(map) = evidence else { return Vec::new() };
    let mut parts = Vec::new();
    for (key, value) in map {
        let shown = match value {
            Value::String(s) => s.clone(),
            Value::Number(n) if key.contains("address") || key == "start" || key == "end" => {
                n.as_u64().map_or_else(|| n.to_string(), |v| format!("{v:#x}"))
            }
            Value::Number(_) | Value::Bool(_) => value.to_string(),
            Value::Object(o) if o.contains_key("start") && o.contains_key("perms") => {
                format!(
                    "{:#x}-{:#x} {} {}",
                    o["start"].as_u64().unwrap_or(0),
                    o["end"].as_u64().unwrap_or(0),
                    o["perms"].as_str().unwrap_or(""),
                    o["path"].as_str().unwrap_or("")
                )
            }
            Value::Object(o) if o.contains_key("hex") => {
                format!("{} {}", o.get("address_hex").and_then(Value::as_str).unwrap_or(""), o["hex"].as_str().unwrap_or(""))
            }
            Value::Array(a) if !a.is_empty() && a.iter().all(|v| !v.is_object()) => {
                a.iter().map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string)).collect::<Vec<_>>().join(" ")
            }
            Value::Array(a) if !a.is_empty() => a.first().map(compact).unwrap_or_default() + if a.len() > 1 { " ..." } else { "" },
            _ => continue,
        };
        if key.ends_with("_hex") && map.contains_key(key.trim_end_matches("_hex")) {
            continue;
        }
        parts.push(format!("{key}={shown}"));
    }
    if parts.is_empty() {
        return Vec::new();
    }
    vec![cut(parts.join("  "))]
}

fn compact(v: &Value) -> String {
    match v {
        Value::Object(o) => o
            .iter()
            .filter(|(k, _)| !(k.ends_with("_hex") && o.contains_key(k.trim_end_matches("_hex"))) || k.as_str() == "address_hex")
            .filter(|(k, _)| k.as_str() != "address")
            .map(|(k, v)| format!("{k}:{}", v.as_str().map_or_else(|| v.to_string(), str::to_string)))
            .collect::<Vec<_>>()
            .join(","),
        other => other.to_string(),
    }
}

/// The hits of `rules` as `yara.match` findings (high: an analyst's rule
/// matched), most severe first with the others.
#[cfg(feature = "yara")]
pub(super) fn add_yara_findings(checkpoint: &crate::Checkpoint, rules: &[PathBuf], report: &mut crate::triage::Triage) -> Result<()> {
    use crate::triage::Finding;
    let rules = crate::yara::Rules::from_files(rules)?;
    let (watch, progress) = super::interrupt::watch();
    let options = crate::yara::YaraOptions { progress: Some(&progress), ..Default::default() };
    let hits = crate::yara::scan_checkpoint(checkpoint, &rules, &options)?;
    drop(watch);
    for hit in &hits.hits {
        let place = match &hit.vma {
            Some(vma) => format!("{:#x} ({} {})", hit.address, vma.perms, vma.path.as_deref().unwrap_or("anonymous")),
            None => format!("{} +{:#x}", hit.path.as_deref().unwrap_or("?"), hit.address),
        };
        report.findings.push(Finding {
            id: "yara.match",
            severity: Severity::High,
            pid: hit.pid,
            summary: format!("YARA rule {}:{} matched {} at {place}", hit.namespace, hit.rule, hit.string),
            evidence: hit.to_json(),
        });
    }
    if hits.truncated {
        report.warnings.push("YARA: the hit limit stopped the scan; more hits may exist".into());
    }
    report.findings.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.pid.cmp(&b.pid)).then(a.id.cmp(b.id)));
    Ok(())
}
