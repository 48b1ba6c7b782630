//! Container metadata, CRIU's dump statistics, and the root filesystem
//! (`rootfs-diff.tar`, `deleted.files`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::side::Side;
use super::{field_changes, Diff, RootfsChange};
use crate::archive::MemberKind;
use crate::error::Result;
use crate::model::container::DumpStats;

/// `prefix.key` -> leaf value; arrays are leaves.
fn flatten(prefix: &str, value: &Value, out: &mut Vec<(String, Value)>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                flatten(&format!("{prefix}.{key}"), v, out);
            }
        }
        other => out.push((prefix.to_string(), other.clone())),
    }
}

fn stats_fields(stats: &DumpStats) -> Vec<(String, Value)> {
    let s = stats;
    [
        ("freezing_time", s.freezing_time),
        ("frozen_time", s.frozen_time),
        ("memdump_time", s.memdump_time),
        ("memwrite_time", s.memwrite_time),
        ("pages_scanned", s.pages_scanned),
        ("pages_skipped_parent", s.pages_skipped_parent),
        ("pages_written", s.pages_written),
        ("irmap_resolve", s.irmap_resolve),
        ("pages_lazy", s.pages_lazy),
        ("page_pipes", s.page_pipes),
        ("page_pipe_bufs", s.page_pipe_bufs),
        ("shpages_scanned", s.shpages_scanned),
        ("shpages_skipped_parent", s.shpages_skipped_parent),
        ("shpages_written", s.shpages_written),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.map(|v| (format!("stats.{k}"), json!(v))))
    .collect()
}

fn metadata_fields(side: &Side<'_>) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    if let Some(container) = &side.metadata.container {
        flatten("container", &container.to_json(), &mut out);
    }
    if let Some(stats) = &side.metadata.dump_stats {
        out.extend(stats_fields(stats));
    }
    out
}

pub(super) fn metadata(old: &Side<'_>, new: &Side<'_>, diff: &mut Diff) {
    diff.metadata = field_changes(&metadata_fields(old), &metadata_fields(new));
    for side in [old, new] {
        for warning in &side.metadata.warnings {
            diff.notes.push(format!("{}: {warning}", side.name));
        }
    }
}

/// A file of `rootfs-diff.tar`.
#[derive(PartialEq)]
struct Entry {
    kind: &'static str,
    size: Option<u64>,
    mode: Option<u32>,
    sha256: Option<String>,
}

/// The mode of a regular member: the octal field of the 512-byte header
/// right before its data (a PAX or GNU long-name header comes before that
/// one, never between it and the data).
fn mode_before(tar: &[u8], data: &[u8]) -> Option<u32> {
    let offset = (data.as_ptr() as usize).checked_sub(tar.as_ptr() as usize)?;
    let header = tar.get(offset.checked_sub(512)?..offset)?;
    let field = std::str::from_utf8(&header[100..108]).ok()?;
    u32::from_str_radix(field.trim_matches(|c: char| c == '\0' || c == ' '), 8).ok()
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn absolute(name: &str) -> String {
    format!("/{}", name.trim_start_matches("./").trim_start_matches('/'))
}

fn entries(side: &Side<'_>) -> Result<BTreeMap<String, Entry>> {
    let mut out = BTreeMap::new();
    let Some(view) = side.checkpoint.rootfs_diff().map_err(|e| side.err(e))? else { return Ok(out) };
    let tar = side.checkpoint.member("rootfs-diff.tar").map_err(|e| side.err(e))?;
    for (name, size, kind) in view.members() {
        let entry = match kind {
            MemberKind::File | MemberKind::HardLink(_) => {
                let data = view.get(name);
                Entry {
                    kind: "file",
                    size: Some(data.map_or(size, |d| d.len() as u64)),
                    mode: data.and_then(|d| mode_before(tar, d)),
                    sha256: data.map(|d| hex(&Sha256::digest(d))),
                }
            }
            MemberKind::Directory => Entry { kind: "directory", size: None, mode: None, sha256: None },
            MemberKind::Symlink(target) => {
                Entry { kind: "symlink", size: None, mode: None, sha256: Some(hex(&Sha256::digest(target.as_bytes()))) }
            }
            MemberKind::Other(_) => Entry { kind: "special", size: None, mode: None, sha256: None },
        };
        out.insert(absolute(name), entry);
    }
    Ok(out)
}

fn deleted(side: &Side<'_>) -> BTreeSet<String> {
    side.metadata.deleted_files.iter().flatten().map(|p| absolute(p)).collect()
}

pub(super) fn rootfs(old: &Side<'_>, new: &Side<'_>, diff: &mut Diff) -> Result<()> {
    let (old_files, new_files) = (entries(old)?, entries(new)?);
    let (old_deleted, new_deleted) = (deleted(old), deleted(new));
    let mut paths: BTreeSet<&String> = old_files.keys().chain(new_files.keys()).collect();
    paths.extend(old_deleted.iter().chain(new_deleted.iter()));
    for path in paths {
        let (o, n) = (old_files.get(path), new_files.get(path));
        let change = match (o, n) {
            (Some(o), Some(n)) if o == n => continue,
            (Some(_), Some(_)) => "changed",
            (None, Some(_)) => "added",
            (Some(_), None) => "deleted",
            (None, None) => match (old_deleted.contains(path), new_deleted.contains(path)) {
                (false, true) => "deleted",
                (true, false) => "added",
                _ => continue,
            },
        };
        diff.rootfs.push(RootfsChange {
            path: path.clone(),
            change,
            old_size: o.and_then(|e| e.size),
            new_size: n.and_then(|e| e.size),
            old_mode: o.and_then(|e| e.mode),
            new_mode: n.and_then(|e| e.mode),
            old_sha256: o.and_then(|e| e.sha256.clone()),
            new_sha256: n.and_then(|e| e.sha256.clone()),
        });
    }
    Ok(())
}
