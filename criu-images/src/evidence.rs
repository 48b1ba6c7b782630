//! Evidence: SHA-256 of a checkpoint archive and of each of its members
//! (what `criu-images hash` prints), and the provenance sidecar
//! (`FILE.json`) written beside every file the tool produces as evidence:
//! which archive (and its hash), member, process and address range it came
//! from, by which tool version, when, and with which command line.
//! Schema: docs/evidence.md.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::archive::{Archive, MemberKind};
use crate::error::{Error, Result};
use crate::progress::{Progress, STEP};

/// Version of the sidecar and `hash --format json` schemas (docs/evidence.md).
pub const EVIDENCE_SCHEMA_VERSION: u32 = 1;

/// Lowercase hex of a digest.
pub fn hex(digest: &[u8]) -> String {
    let mut out = String::with_capacity(digest.len() * 2);
    for b in digest {
        out.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        out.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
    }
    out
}

/// SHA-256 (hex) of a file, read in 1 MiB pieces: memory stays constant
/// whatever the size. Counts bytes into `progress` and stops once it is
/// cancelled.
pub fn sha256_file(path: &Path, progress: Option<&Progress>) -> Result<String> {
    let name = path.display().to_string();
    let mut file = File::open(path).map_err(|e| Error::io(&name, e))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        if let Some(p) = progress {
            p.check()?;
        }
        let n = match file.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io(&name, e)),
        };
        hasher.update(&buffer[..n]);
        if let Some(p) = progress {
            p.advance(n as u64);
        }
    }
    Ok(hex(&hasher.finalize()))
}

/// SHA-256 (hex) of bytes, in steps that look at `progress` between them.
pub fn sha256_bytes(bytes: &[u8], progress: Option<&Progress>) -> Result<String> {
    let mut hasher = Sha256::new();
    for chunk in bytes.chunks(STEP) {
        if let Some(p) = progress {
            p.check()?;
        }
        hasher.update(chunk);
        if let Some(p) = progress {
            p.advance(chunk.len() as u64);
        }
    }
    Ok(hex(&hasher.finalize()))
}

/// One member of an archive and its hash.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct MemberDigest {
    /// Normalised path from the top of the archive.
    pub name: String,
    /// `file`, `directory`, `symlink`, `hardlink` or `special`.
    pub kind: &'static str,
    /// Size in bytes (of the content a hard link points to, for one).
    pub size: u64,
    /// SHA-256 of the content (regular files and hard links); `None` otherwise.
    pub sha256: Option<String>,
}

/// The hash of an archive file and of each member.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ArchiveDigests {
    /// The path as given.
    pub path: String,
    /// `tar`, `tar.gz`, `tar.zst`, `directory`, ...
    pub format: &'static str,
    /// Size of the archive file (`None` for a directory).
    pub size: Option<u64>,
    /// SHA-256 of the archive file as it is on disk, compressed (`None` for
    /// a directory: its files are the members).
    pub sha256: Option<String>,
    /// Every member, sorted by name.
    pub members: Vec<MemberDigest>,
}

impl ArchiveDigests {
    /// As `criu-images hash --format json` prints it.
    pub fn to_json(&self) -> Value {
        json!({
            "schema_version": EVIDENCE_SCHEMA_VERSION,
            "path": self.path,
            "format": self.format,
            "size": self.size,
            "sha256": self.sha256,
            "members": self.members.iter().map(|m| json!({"name": m.name, "kind": m.kind, "size": m.size, "sha256": m.sha256})).collect::<Vec<_>>(),
        })
    }
}

/// SHA-256 of the archive at `archive.path()` (streamed from the file) and
/// of every regular member's content (decompressed, as `tar -x` would write
/// it). `progress` gets the total number of bytes to hash first.
pub fn archive_digests(archive: &Archive, progress: Option<&Progress>) -> Result<ArchiveDigests> {
    let path = archive.path();
    let meta = std::fs::metadata(path).map_err(|e| Error::io(archive.display_name(), e))?;
    let file_size = meta.is_file().then_some(meta.len());
    if let Some(p) = progress {
        let members: u64 = archive.members().filter(|m| matches!(m.kind, MemberKind::File)).map(|m| m.size).sum();
        p.add_total(members.saturating_add(file_size.unwrap_or(0)));
    }
    let sha256 = match file_size {
        Some(_) => Some(sha256_file(path, progress)?),
        None => None,
    };
    let mut members = Vec::new();
    for member in archive.members() {
        let sha256 = match member.kind {
            MemberKind::File | MemberKind::HardLink(_) => Some(archive.read(member.name)?),
            _ => None,
        };
        let size = sha256.map_or(member.size, |b| b.len() as u64);
        let sha256 = sha256.map(|bytes| sha256_bytes(bytes, progress)).transpose()?;
        members.push(MemberDigest { name: member.name.to_string(), kind: member.kind.name(), size, sha256 });
    }
    Ok(ArchiveDigests { path: archive.display_name().to_string(), format: archive.format().name(), size: file_size, sha256, members })
}

/// Where a piece of evidence came from: what the sidecar `FILE.json` records.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Provenance {
    /// The checkpoint (archive or directory) as named on the command line.
    pub source: PathBuf,
    /// The member of the checkpoint the evidence was taken from, if one.
    pub member: Option<String>,
    /// The process, if one.
    pub pid: Option<u32>,
    /// The address range `[start, end)`, if one.
    pub range: Option<(u64, u64)>,
    /// The command line that wrote the evidence.
    pub command_line: Vec<String>,
    /// SHA-256 (hex) of the evidence file, when its writer computed it from
    /// the bytes as it wrote them (`mem dump`); `None`: the file is read
    /// back and hashed.
    pub evidence_sha256: Option<String>,
}

impl Provenance {
    /// The sidecar path of `evidence`: the same name with `.json` added.
    pub fn sidecar_path(evidence: &Path) -> PathBuf {
        let mut name = evidence.as_os_str().to_os_string();
        name.push(".json");
        PathBuf::from(name)
    }

    /// The sidecar document of `evidence` (already written): hashes of the
    /// evidence file and of the source archive, tool, time, command line.
    pub fn to_json(&self, evidence: &Path, progress: Option<&Progress>) -> Result<Value> {
        let source_meta = std::fs::metadata(&self.source).map_err(|e| Error::io(self.source.display().to_string(), e))?;
        let source_sha256 = match source_meta.is_file() {
            true => Some(sha256_file(&self.source, progress)?),
            false => None,
        };
        let evidence_meta = std::fs::metadata(evidence).map_err(|e| Error::io(evidence.display().to_string(), e))?;
        Ok(json!({
            "schema_version": EVIDENCE_SCHEMA_VERSION,
            "evidence": {
                "path": evidence.display().to_string(),
                "size": evidence_meta.len(),
                "sha256": match &self.evidence_sha256 {
                    Some(digest) => digest.clone(),
                    None => sha256_file(evidence, progress)?,
                },
            },
            "source": {
                "path": self.source.display().to_string(),
                "kind": if source_meta.is_file() { "file" } else { "directory" },
                "size": source_meta.is_file().then_some(source_meta.len()),
                "sha256": source_sha256,
            },
            "member": self.member,
            "pid": self.pid,
            "address_range": self.range.map(|(start, end)| json!({"start": start, "end": end, "start_hex": format!("{start:#x}"), "end_hex": format!("{end:#x}")})),
            "tool": {"name": "criu-images", "version": env!("CARGO_PKG_VERSION")},
            "created_utc": utc_now(),
            "command_line": self.command_line,
        }))
    }

    /// Writes the sidecar of `evidence` (an existing file) beside it and
    /// returns its path. A sidecar this call created and left half-written
    /// is removed (a file that was there is not).
    pub fn write_sidecar(&self, evidence: &Path, progress: Option<&Progress>) -> Result<PathBuf> {
        let doc = self.to_json(evidence, progress)?;
        let path = Provenance::sidecar_path(evidence);
        let name = path.display().to_string();
        let existed = std::fs::symlink_metadata(&path).is_ok();
        let written = File::create(&path).and_then(|mut f| {
            f.write_all(format!("{doc:#}\n").as_bytes())?;
            f.sync_all()
        });
        if let Err(e) = written {
            // Only a sidecar this call created: never a file that was there.
            if !existed {
                let _ = std::fs::remove_file(&path);
            }
            return Err(Error::io(&name, e));
        }
        Ok(path)
    }
}

/// The current time in UTC as RFC 3339 (`2026-12-01T21:03:04Z`).
pub fn utc_now() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    crate::utc::rfc3339(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_and_sidecar_names() {
        // sha256("abc")
        assert_eq!(sha256_bytes(b"abc", None).unwrap(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(Provenance::sidecar_path(Path::new("out/area.bin")), Path::new("out/area.bin.json"));
    }
}
