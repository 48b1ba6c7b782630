//! `criu-images show CHECKPOINT`: what `checkpointctl show` tells, and more.

use crate::archive::Archive;
use crate::checkpoint::Checkpoint;
use crate::error::Result;
use crate::metadata::Metadata;
use crate::warning::{Part, Warning};

use super::text::{escape, outln};

/// True for a tar, tar.gz or tar.zst file, judged by its first bytes: a
/// broken archive is still an archive, and opening it reports what is
/// broken (not "unknown image magic").
pub(super) fn is_archive(path: &std::path::Path) -> bool {
    path.is_file()
        && Archive::detect(path).is_ok_and(|f| !matches!(f, crate::archive::ArchiveFormat::File | crate::archive::ArchiveFormat::Directory))
}

fn human_bytes(n: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < units.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", units[unit])
    }
}

/// `--verify`: checks every blob, appends one line per blob to `text`.
/// `None` for inputs that are not images (said in the text).
pub(super) fn verify_text(archive: &Archive, text: &mut String) -> Result<Option<usize>> {
    use std::fmt::Write as _;
    let Some(checks) = archive.verify_blobs(&super::open_options())? else {
        outln!(text, "Verify:         not a container image: no blob digests to check").ok();
        return Ok(None);
    };
    let bad = checks.iter().filter(|c| !c.ok()).count();
    outln!(text, "Verify:         {} blobs, {} ok, {} mismatched", checks.len(), checks.len() - bad, bad).ok();
    for check in &checks {
        if check.ok() {
            outln!(text, "  ok        {} {:>10}  {}", check.actual, check.size, escape(&check.name)).ok();
        } else {
            let expected = escape(&check.expected);
            outln!(text, "  MISMATCH  {} {:>10}  {} (expected {expected})", check.actual, check.size, escape(&check.name)).ok();
        }
    }
    Ok(Some(bad))
}

/// An error when `--verify` found mismatched blobs (after the listing).
pub(super) fn verify_outcome(archive: &Archive, mismatched: Option<usize>) -> Result<()> {
    match mismatched {
        Some(bad) if bad > 0 => Err(crate::error::Error::Archive {
            at: crate::error::Location::new(archive.display_name(), 0),
            detail: format!("{bad} blob(s) do not match their digest (see the MISMATCH lines)"),
        }),
        _ => Ok(()),
    }
}

/// The lines `show` prints about a container image input.
fn image_summary(archive: &Archive, s: &mut String) {
    use std::fmt::Write as _;
    let Some(image) = archive.image() else { return };
    outln!(s, "Delivered as:   {} ({})", archive.format().name(), image.kind.name()).ok();
    outln!(s, "Checkpoint image: {}", escape(&image.chosen.to_string())).ok();
    if image.choices.len() > 1 {
        let all = image.choices.iter().map(|c| c.to_string()).collect::<Vec<_>>().join("; ");
        outln!(s, "  one of {} images: {}", image.choices.len(), escape(&all)).ok();
    }
    match (&image.created, image.kind) {
        (Some(written), crate::archive::oci::ImageKind::Containerd) => {
            outln!(s, "Checkpointed:   {} (when the CRIU images were written)", escape(written)).ok();
        }
        (Some(created), _) => {
            outln!(s, "Image created:  {}", escape(created)).ok();
        }
        (None, _) => {}
    }
    if let Some(base) = &image.base_image {
        outln!(s, "Base image:     {}", escape(base)).ok();
    }
    if !image.annotations.is_empty() {
        outln!(s, "Annotations:").ok();
        for (key, value) in &image.annotations {
            outln!(s, "  {}={}", escape(key), escape(value)).ok();
        }
    }
    outln!(s, "Blobs read (sha256 checked):").ok();
    for blob in &image.blobs {
        outln!(s, "  {:<20} {} {:>10}  {}", blob.role, escape(&blob.digest), blob.size, escape(&blob.media_type)).ok();
    }
}

/// What `checkpointctl show --print-stats` tells, and more; with the parts
/// of the checkpoint left out because they could not be read.
pub(super) fn summary(checkpoint: &Checkpoint, stats: bool) -> Result<(String, Vec<Warning>)> {
    use std::fmt::Write as _;
    let mut s = String::new();
    let archive = checkpoint.archive();
    let Metadata { container, dump_stats, dump_log, deleted_files, mut warnings } = checkpoint.metadata();
    let unreadable = |warnings: &[Warning], part: Part| warnings.iter().any(|w| w.part == part);
    // `show` exists to list the deleted files: one list that cannot be read
    // fails it, as it always has (tests/cli.rs holds it to that).
    if let Some(at) = warnings.iter().position(|w| w.part == Part::DeletedFiles) {
        return Err(warnings.swap_remove(at).error);
    }
    if let Some(c) = &container {
        let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
        outln!(
            s,
            "Container:      {} ({}{})",
            opt(&c.name),
            c.engine.name(),
            c.runtime.as_ref().map(|r| format!(", {r}")).unwrap_or_default()
        )
        .ok();
        outln!(s, "ID:             {}", opt(&c.id)).ok();
        outln!(s, "Image:          {}", opt(&c.image_name)).ok();
        if c.pod.is_some() || c.namespace.is_some() {
            outln!(s, "Pod:            {} (namespace {})", opt(&c.pod), opt(&c.namespace)).ok();
        }
        outln!(s, "Created:        {}", opt(&c.created)).ok();
        outln!(s, "Hostname:       {}", opt(&c.hostname)).ok();
        outln!(s, "IP:             {}", c.primary_ip().unwrap_or("-")).ok();
    }
    image_summary(archive, &mut s);
    let size = std::fs::metadata(checkpoint.path()).map(|m| m.len()).unwrap_or(0);
    let members: Vec<_> = archive.members().collect();
    let total: u64 = members.iter().map(|m| m.size).sum();
    outln!(
        s,
        "Checkpoint:     {} ({}, {} members, {}{})",
        checkpoint.path().display(),
        archive.format().name(),
        members.len(),
        human_bytes(total),
        if archive.format() == crate::archive::ArchiveFormat::Directory {
            String::new()
        } else {
            format!(", {} on disk", human_bytes(size))
        }
    )
    .ok();
    let mut pages = 0u64;
    for name in checkpoint.image_names().iter().filter(|n| crate::image::raw_image_kind(n) == Some("pages")) {
        match checkpoint.image_bytes(name) {
            Ok(bytes) => pages += bytes.len() as u64,
            Err(error) => warnings.push(Warning { part: Part::Pages, error }),
        }
    }
    let uncounted = if unreadable(&warnings, Part::Pages) { " (without unreadable files, see the warning)" } else { "" };
    outln!(s, "Memory pages:   {}{uncounted}", human_bytes(pages)).ok();
    if let Some(diff) = archive.get("rootfs-diff.tar") {
        outln!(s, "Root fs diff:   {}", human_bytes(diff.size)).ok();
    }
    if let Some(shm) = archive.get("devshm-checkpoint.tar") {
        outln!(s, "/dev/shm:       {} (devshm-checkpoint.tar)", human_bytes(shm.size)).ok();
    }
    if let Some(files) = deleted_files {
        const SHOWN: usize = 10;
        outln!(s, "Deleted files:  {}", files.len()).ok();
        for file in files.iter().take(SHOWN) {
            outln!(s, "  {file}").ok();
        }
        if files.len() > SHOWN {
            outln!(s, "  ... and {} more", files.len() - SHOWN).ok();
        }
    }
    if unreadable(&warnings, Part::DumpLog) {
        outln!(s, "CRIU dump log:  unreadable (see the warning)").ok();
    } else if dump_log.is_none() && container.is_some() {
        outln!(s, "CRIU dump log:  none in the archive (Podman keeps it out)").ok();
    }
    if let Some(log) = dump_log {
        let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
        let outcome = match log.finished {
            Some(true) => "finished successfully",
            Some(false) => "FAILED",
            None => "no end (truncated?)",
        };
        outln!(
            s,
            "CRIU dump log:  CRIU {}, {}, {}, {outcome}",
            log.version.as_deref().unwrap_or("version unknown"),
            plural(log.warning_count, "warning"),
            plural(log.error_count, "error")
        )
        .ok();
        const SHOWN: usize = 5;
        for line in log.errors.iter().chain(&log.warnings).take(SHOWN) {
            outln!(s, "  line {}: {}", line.number, line.text).ok();
        }
        if log.error_count + log.warning_count > SHOWN {
            outln!(s, "  ... {} more", log.error_count + log.warning_count - SHOWN).ok();
        }
    }
    if !checkpoint.parents().is_empty() {
        let parents: Vec<String> = checkpoint.parents().iter().map(|p| p.label()).collect();
        outln!(s, "Pre-dumps:      {}", parents.join(" <- ")).ok();
    }
    // No pstree.img (a pre-dump directory): no processes, and no warning.
    let pids = match checkpoint.images().file("pstree.img") {
        Ok(None) => Vec::new(),
        _ => checkpoint.pids().unwrap_or_else(|error| {
            warnings.push(Warning { part: Part::ProcessTree, error });
            Vec::new()
        }),
    };
    outln!(s, "Processes:      {} ({})", pids.len(), pids.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")).ok();
    if stats {
        match dump_stats {
            None if unreadable(&warnings, Part::DumpStats) => {
                outln!(s, "CRIU dump statistics: unreadable (see the warning)").map(|_| ()).unwrap_or(())
            }
            None => outln!(s, "CRIU dump statistics: none in this checkpoint").map(|_| ()).unwrap_or(()),
            Some(st) => {
                outln!(s, "CRIU dump statistics:").ok();
                let us = |v: Option<u64>| v.map_or("-".to_string(), |v| format!("{v} us"));
                let n = |v: Option<u64>| v.map_or("-".to_string(), |v| v.to_string());
                outln!(s, "  Freezing time:   {}", us(st.freezing_time)).ok();
                outln!(s, "  Frozen time:     {}", us(st.frozen_time)).ok();
                outln!(s, "  Memdump time:    {}", us(st.memdump_time)).ok();
                outln!(s, "  Memwrite time:   {}", us(st.memwrite_time)).ok();
                outln!(s, "  Pages scanned:   {}", n(st.pages_scanned)).ok();
                outln!(s, "  Pages written:   {}", n(st.pages_written)).ok();
                outln!(s, "  Pages in parent: {}", n(st.pages_skipped_parent)).ok();
            }
        }
    }
    Ok((s, warnings))
}
