//! Read-only views used as root filesystems: a tar held in memory (such as
//! the `rootfs-diff.tar` inside a checkpoint archive) and a directory.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::{normalize_member_name, tar, Backing, MemberKind};
use crate::error::Result;

/// A tar archive over borrowed bytes, indexed from its headers.
pub struct TarView<'a> {
    bytes: &'a [u8],
    /// Normalised name -> (offset, length) of regular files; hard links resolved.
    files: HashMap<String, (usize, usize)>,
    names: Vec<(String, u64, MemberKind)>,
    /// Normalised name -> offset of the member's tar header.
    headers: HashMap<String, usize>,
}

/// The ownership, permissions and time a tar header records for a member.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct TarStat {
    /// Permission and special bits (`0o755`, `0o4755`, ...), without the file type.
    pub mode: u32,
    /// Owner's user id.
    pub uid: u64,
    /// Owner's group id.
    pub gid: u64,
    /// Modification time, seconds since the epoch.
    pub mtime: u64,
}

impl<'a> TarView<'a> {
    /// Indexes the tar `bytes`; `name` is used in errors.
    pub fn parse(name: &str, bytes: &'a [u8]) -> Result<TarView<'a>> {
        let members = tar::index(name, bytes)?;
        let mut files = HashMap::new();
        let mut names = Vec::with_capacity(members.len());
        let mut headers = HashMap::with_capacity(members.len());
        for m in &members {
            if m.kind == MemberKind::File {
                files.insert(m.name.clone(), (m.offset as usize, m.len as usize));
            }
        }
        for m in &members {
            if let MemberKind::HardLink(target) = &m.kind {
                if let Some(&span) = files.get(target) {
                    files.insert(m.name.clone(), span);
                }
            }
            names.push((m.name.clone(), m.len, m.kind.clone()));
            headers.insert(m.name.clone(), m.header_offset as usize);
        }
        names.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(TarView { bytes, files, names, headers })
    }

    /// Members: (normalised name, size, kind), sorted by name.
    pub fn members(&self) -> impl Iterator<Item = (&str, u64, &MemberKind)> {
        self.names.iter().map(|(n, s, k)| (n.as_str(), *s, k))
    }

    /// Mode, owner and time of a member, by name or absolute path, from its
    /// tar header; `None` if there is no such member or a field is not a number.
    pub fn stat(&self, path: &str) -> Option<TarStat> {
        let name = normalize_member_name(path.trim_start_matches('/')).ok()?;
        let at = *self.headers.get(&name)?;
        let header = self.bytes.get(at..at.checked_add(512)?)?;
        Some(TarStat {
            mode: u32::try_from(tar_number(&header[100..108])? & 0o7777).ok()?,
            uid: tar_number(&header[108..116])?,
            gid: tar_number(&header[116..124])?,
            mtime: tar_number(&header[136..148])?,
        })
    }

    /// The bytes of a regular file (or hard link to one), by name or absolute path.
    pub fn get(&self, path: &str) -> Option<&'a [u8]> {
        let name = normalize_member_name(path.trim_start_matches('/')).ok()?;
        let &(offset, len) = self.files.get(&name)?;
        Some(&self.bytes[offset..offset + len])
    }
}

/// A numeric tar header field: octal text (NUL or space ended), or GNU's
/// base-256 (first byte 0x80) for values octal cannot hold.
fn tar_number(field: &[u8]) -> Option<u64> {
    if let Some((&first, rest)) = field.split_first() {
        if first == 0x80 {
            return rest.iter().try_fold(0u64, |n, &b| n.checked_mul(256)?.checked_add(u64::from(b)));
        }
    }
    let text = field.iter().take_while(|&&b| b != 0).map(|&b| b as char).collect::<String>();
    let text = text.trim();
    if text.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(text, 8).ok()
}

/// A root filesystem on disk. Paths are resolved inside it: a path or
/// symlink that leads outside the directory is not followed, so an
/// attacker's absolute symlink cannot make us read the analyst's own files.
pub struct RootDir {
    root: PathBuf,
    // Maps are never removed, and a mapping's address does not change when
    // its Mmap handle moves, so slices handed out stay valid for the life
    // of the RootDir.
    maps: Mutex<Vec<Backing>>,
}

impl RootDir {
    /// A root filesystem at `root`.
    pub fn new(root: impl AsRef<Path>) -> std::io::Result<RootDir> {
        let root = std::fs::canonicalize(root)?;
        Ok(RootDir { root, maps: Mutex::new(Vec::new()) })
    }

    /// The contents of the regular file at absolute `path` inside the root,
    /// mapped; `None` if it is absent, not a regular file, or leads outside.
    pub fn file(&self, path: &str) -> Option<&[u8]> {
        let name = normalize_member_name(path.trim_start_matches('/')).ok()?;
        let full = std::fs::canonicalize(self.root.join(name)).ok()?;
        if !full.starts_with(&self.root) {
            return None;
        }
        // Check before opening: opening a FIFO would block.
        if !std::fs::metadata(&full).ok()?.is_file() {
            return None;
        }
        let file = std::fs::File::open(&full).ok()?;
        // An empty file stays absent, as before mapping went through `map`.
        let map = match super::map(&file, &full.to_string_lossy()).ok()? {
            Backing::Empty => return None,
            map => map,
        };
        let slice: *const [u8] = map.bytes();
        self.maps.lock().ok()?.push(map);
        // SAFETY: the mapping stays where it is until its Mmap is dropped,
        // which happens only with `self`, so the slice lives as long as `&self`.
        Some(unsafe { &*slice })
    }
}
