//! Checkpoint containers, opened without extracting them: an images
//! directory, a tar (memory-mapped, indexed from its headers), a tar.gz or
//! tar.zst (decompressed once, streaming, into memory or an anonymous
//! temporary file), or a single file.
//!
//! Members are named by normalised relative paths (`checkpoint/pstree.img`)
//! and read as borrowed bytes. Nothing is ever written next to the input.
//!
//! ```no_run
//! use criu_images::archive::{Archive, OpenOptions};
//!
//! let archive = Archive::open("checkpoint.tar.zst", &OpenOptions::default())?;
//! for member in archive.members() {
//!     println!("{:>10} {}", member.size, member.name);
//! }
//! let pstree: &[u8] = archive.read("checkpoint/pstree.img")?;
//! # Ok::<(), criu_images::Error>(())
//! ```

mod compressed;
mod dir;
mod mapping;
pub mod oci;
mod tar;
mod view;

pub(crate) use mapping::{map, Backing};
pub use view::{RootDir, TarStat, TarView};

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::error::{Error, Location, Result};

/// Limits for opening archives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenOptions {
    /// Largest decompressed size of a `.tar.gz` / `.tar.zst`, in bytes; a
    /// larger (or bomb) archive fails with [`Error::Limit`]. Default 64 GiB.
    /// Whatever it is, what spills to the temporary directory (beyond 256
    /// MiB kept in memory) may not exceed 90% of the space free there, and
    /// decompression stops as soon as the tar headers declare more than the
    /// limit, or are invalid (docs/reliability.md).
    pub max_decompressed: u64,
    /// Which image of an OCI index or docker-archive to open when it holds
    /// several (checkpoints, platforms): a reference
    /// (`org.opencontainers.image.ref.name`, `io.containerd.image.name`,
    /// docker `RepoTags`), a digest (`sha256:<hex>`, or 12+ leading hex
    /// digits) or a platform (`linux/amd64`). `None`: the only one, or an
    /// error listing the choices. Ignored for inputs that are not images.
    pub image: Option<String>,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions { max_decompressed: 64 << 30, image: None }
    }
}

/// How the input was stored.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ArchiveFormat {
    /// A directory on disk.
    Directory,
    /// An uncompressed tar.
    Tar,
    /// A gzip-compressed tar.
    TarGz,
    /// A zstd-compressed tar (Podman's default).
    TarZst,
    /// A single file that is not an archive (e.g. one image).
    File,
    /// A tar of an OCI image layout (`podman save --format oci-archive`,
    /// `ctr images export`): the checkpoint is read from its image.
    OciArchive,
    /// An OCI image layout directory (`oci-layout`, `index.json`, `blobs/`).
    OciLayout,
    /// A `docker save` / `podman save --format docker-archive` tar.
    DockerArchive,
}

impl ArchiveFormat {
    /// `directory`, `tar`, `tar.gz`, `tar.zst`, `file`, `oci-archive`,
    /// `oci-layout` or `docker-archive`.
    pub fn name(self) -> &'static str {
        match self {
            ArchiveFormat::Directory => "directory",
            ArchiveFormat::Tar => "tar",
            ArchiveFormat::TarGz => "tar.gz",
            ArchiveFormat::TarZst => "tar.zst",
            ArchiveFormat::File => "file",
            ArchiveFormat::OciArchive => "oci-archive",
            ArchiveFormat::OciLayout => "oci-layout",
            ArchiveFormat::DockerArchive => "docker-archive",
        }
    }
}

/// What a member is.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum MemberKind {
    /// A regular file.
    File,
    /// A directory.
    Directory,
    /// A symbolic link, with its target as stored.
    Symlink(String),
    /// A hard link to another member (normalised name).
    HardLink(String),
    /// A device, FIFO or other special file (tar type flag).
    Other(char),
}

impl MemberKind {
    /// `file`, `directory`, `symlink`, `hardlink` or `special`.
    pub fn name(&self) -> &'static str {
        match self {
            MemberKind::File => "file",
            MemberKind::Directory => "directory",
            MemberKind::Symlink(_) => "symlink",
            MemberKind::HardLink(_) => "hardlink",
            MemberKind::Other(_) => "special",
        }
    }

    /// The target of a symbolic or hard link.
    pub fn target(&self) -> Option<&str> {
        match self {
            MemberKind::Symlink(target) | MemberKind::HardLink(target) => Some(target),
            _ => None,
        }
    }
}

/// A member as listed.
#[derive(Clone, Copy, Debug)]
pub struct MemberInfo<'a> {
    /// Normalised path from the top of the archive.
    pub name: &'a str,
    /// Size in bytes (0 for non-files).
    pub size: u64,
    /// What it is.
    pub kind: &'a MemberKind,
}

#[derive(Debug)]
pub(crate) struct Member {
    pub(crate) name: String,
    pub(crate) kind: MemberKind,
    /// Offset of the data in the backing bytes (tar) .
    pub(crate) offset: u64,
    pub(crate) len: u64,
    /// Offset of the member's header (tar), for errors.
    pub(crate) header_offset: u64,
    /// Which bytes `offset` is in: 0 the archive's own, n > 0 its n-th
    /// extra backing (a decompressed layer of an image, a blob file).
    pub(crate) source: u32,
}

/// An opened checkpoint container. `Send + Sync`: members can be read from
/// several threads.
pub struct Archive {
    path: PathBuf,
    display: String,
    format: ArchiveFormat,
    /// Tar bytes (tar, tar.gz, tar.zst) or the single file.
    backing: Backing,
    members: Vec<Member>,
    by_name: HashMap<String, usize>,
    /// Lazily mapped files of a directory, one slot per member.
    dir_files: Vec<OnceLock<Backing>>,
    /// Images: more bytes members live in (see [`Member::source`]).
    extra: Vec<Backing>,
    /// Images: what the image said, and how to reach its blobs again.
    image: Option<Box<(oci::ImageInfo, oci::Store)>>,
}

impl std::fmt::Debug for Archive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Archive").field("path", &self.path).field("format", &self.format).field("members", &self.members.len()).finish()
    }
}

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];

impl Archive {
    /// Opens `path`, detecting the format from its content.
    pub fn open(path: impl AsRef<Path>, options: &OpenOptions) -> Result<Archive> {
        let path = path.as_ref();
        let display = path.display().to_string();
        let meta = std::fs::metadata(path).map_err(|e| Error::io(&display, e))?;
        if !meta.is_dir() && !meta.is_file() {
            // A FIFO or a device would block (or never end) on the first read.
            return Err(not_regular(&display, &meta));
        }
        if meta.is_dir() && oci::is_layout_dir(path) {
            let opened = oci::open_dir(&display, path, options)?;
            return Ok(Archive::from_image(path, display, Backing::Empty, opened));
        }
        if meta.is_dir() {
            let members = dir::walk(path, &display)?;
            return Ok(Archive::new(path, display, ArchiveFormat::Directory, Backing::Empty, members));
        }
        let backing = map_file(path, &display)?;
        let bytes = backing.bytes();
        let (format, backing) = if bytes.starts_with(GZIP_MAGIC) {
            (ArchiveFormat::TarGz, compressed::gunzip(bytes, &display, options.max_decompressed)?)
        } else if bytes.starts_with(ZSTD_MAGIC) {
            (ArchiveFormat::TarZst, compressed::unzstd(bytes, &display, options.max_decompressed)?)
        } else if looks_like_tar(bytes) {
            (ArchiveFormat::Tar, backing)
        } else {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| display.clone());
            let len = bytes.len() as u64;
            let member = Member { name, kind: MemberKind::File, offset: 0, len, header_offset: 0, source: 0 };
            return Ok(Archive::new(path, display, ArchiveFormat::File, backing, vec![member]));
        };
        if format != ArchiveFormat::Tar && !looks_like_tar(backing.bytes()) {
            return Err(Error::Archive { at: Location::new(&display, 0), detail: "the compressed data is not a tar archive".into() });
        }
        let members = tar::index(&display, backing.bytes())?;
        if let Some(form) = oci::tar_form(&members) {
            let opened = oci::open_tar(&display, backing.bytes(), &members, form, options)?;
            return Ok(Archive::from_image(path, display, backing, opened));
        }
        Ok(Archive::new(path, display, format, backing, members))
    }

    fn from_image(path: &Path, display: String, backing: Backing, opened: oci::Opened) -> Archive {
        let mut archive = Archive::new(path, display, opened.format, backing, opened.members);
        archive.extra = opened.extra;
        archive.image = Some(Box::new((opened.info, opened.store)));
        archive
    }

    /// What the container image said (form, digests read, annotations),
    /// when the checkpoint came as one (`oci-archive`, `oci-layout`,
    /// `docker-archive`, containerd's checkpoint image).
    pub fn image(&self) -> Option<&oci::ImageInfo> {
        self.image.as_deref().map(|(info, _)| info)
    }

    /// Checks the sha256 of every blob of an image input (all of
    /// `blobs/sha256/`, also those the checkpoint does not use; for a
    /// docker-archive, the config and layers of the image opened) and
    /// returns the results; `None` for inputs that are not images. A
    /// mismatch is reported in the result, not as an error.
    pub fn verify_blobs(&self, options: &OpenOptions) -> Result<Option<Vec<oci::BlobCheck>>> {
        let Some((info, store)) = self.image.as_deref() else { return Ok(None) };
        oci::verify(&self.display, self.backing.bytes(), store, self.format, info, options.max_decompressed).map(Some)
    }

    /// The format of `path` judged from its first bytes only (a gzip or
    /// zstd magic, a tar header), without reading the rest: so that a broken
    /// archive is reported as one (with its own error from
    /// [`Archive::open`]), not read as something else.
    pub fn detect(path: impl AsRef<Path>) -> Result<ArchiveFormat> {
        use std::io::Read;
        let path = path.as_ref();
        let display = path.display().to_string();
        let meta = std::fs::metadata(path).map_err(|e| Error::io(&display, e))?;
        if meta.is_dir() {
            return Ok(ArchiveFormat::Directory);
        }
        let file = open_regular(path, &display)?;
        let mut head = Vec::with_capacity(512);
        file.take(512).read_to_end(&mut head).map_err(|e| Error::io(&display, e))?;
        Ok(if head.starts_with(GZIP_MAGIC) {
            ArchiveFormat::TarGz
        } else if head.starts_with(ZSTD_MAGIC) {
            ArchiveFormat::TarZst
        } else if looks_like_tar(&head) {
            ArchiveFormat::Tar
        } else {
            ArchiveFormat::File
        })
    }

    fn new(path: &Path, display: String, format: ArchiveFormat, backing: Backing, mut members: Vec<Member>) -> Archive {
        // Later members replace earlier ones of the same name, as extraction would.
        let mut by_name: HashMap<String, usize> = HashMap::with_capacity(members.len());
        let mut keep = vec![true; members.len()];
        for (i, m) in members.iter().enumerate() {
            if let Some(old) = by_name.insert(m.name.clone(), i) {
                keep[old] = false;
            }
        }
        let mut i = 0;
        members.retain(|_| {
            i += 1;
            keep[i - 1]
        });
        members.sort_by(|a, b| a.name.cmp(&b.name));
        let by_name = members.iter().enumerate().map(|(i, m)| (m.name.clone(), i)).collect();
        let dir_files = if format == ArchiveFormat::Directory { (0..members.len()).map(|_| OnceLock::new()).collect() } else { Vec::new() };
        Archive { path: path.to_path_buf(), display, format, backing, members, by_name, dir_files, extra: Vec::new(), image: None }
    }

    /// The format detected.
    pub fn format(&self) -> ArchiveFormat {
        self.format
    }

    /// The path given to [`Archive::open`].
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The path as text, for messages.
    pub fn display_name(&self) -> &str {
        &self.display
    }

    /// Every member, sorted by name.
    pub fn members(&self) -> impl Iterator<Item = MemberInfo<'_>> {
        self.members.iter().map(|m| MemberInfo { name: &m.name, size: m.len, kind: &m.kind })
    }

    /// The member with this (normalised) name.
    pub fn get(&self, name: &str) -> Option<MemberInfo<'_>> {
        let m = &self.members[*self.by_name.get(name)?];
        Some(MemberInfo { name: &m.name, size: m.len, kind: &m.kind })
    }

    /// The bytes of a regular file member (hard links are followed).
    pub fn read(&self, name: &str) -> Result<&[u8]> {
        let mut index = *self.by_name.get(name).ok_or_else(|| Error::NotFound {
            container: self.display.clone(),
            name: format!("member {name}"),
            hint: String::new(),
        })?;
        for _ in 0..8 {
            let member = &self.members[index];
            match &member.kind {
                MemberKind::File => return self.member_bytes(index),
                MemberKind::HardLink(target) => {
                    index = *self.by_name.get(target).ok_or_else(|| Error::Archive {
                        at: Location::new(&self.display, member.header_offset),
                        detail: format!("hard link {name:?} points to {target:?}, which the archive does not have"),
                    })?;
                }
                other => {
                    return Err(Error::Archive {
                        at: Location::new(&self.display, member.header_offset),
                        detail: format!("member {name:?} is not a regular file ({other:?})"),
                    })
                }
            }
        }
        Err(Error::Archive {
            at: Location::new(&self.display, self.members[index].header_offset),
            detail: format!("hard link chain from {name:?} is longer than 8"),
        })
    }

    fn member_bytes(&self, index: usize) -> Result<&[u8]> {
        let member = &self.members[index];
        if self.format == ArchiveFormat::Directory {
            if let Some(mapped) = self.dir_files[index].get() {
                return Ok(mapped.bytes());
            }
            let path = self.path.join(&member.name);
            let mapped = map_file(&path, &format!("{}/{}", self.display, member.name))?;
            return Ok(self.dir_files[index].get_or_init(|| mapped).bytes());
        }
        let bytes = match member.source {
            0 => self.backing.bytes(),
            n => self.extra.get(n as usize - 1).map_or(&[][..], Backing::bytes),
        };
        let range =
            usize::try_from(member.offset).ok().and_then(|start| Some(start..start.checked_add(usize::try_from(member.len).ok()?)?));
        range.and_then(|range| bytes.get(range)).ok_or_else(|| Error::Archive {
            at: Location::new(&self.display, member.header_offset),
            detail: format!("member {:?} lies outside the archive's bytes", member.name),
        })
    }

    /// Resolves a symlink `target` stored in directory `from_dir` (`""` for
    /// the top) to a member name; fails if it leaves the archive.
    pub fn resolve_link(&self, from_dir: &str, target: &str) -> Result<String> {
        let at = || Location::new(&self.display, 0);
        if target.starts_with('/') {
            return Err(Error::Archive { at: at(), detail: format!("link target {target:?} is absolute: it points outside the archive") });
        }
        let joined = if from_dir.is_empty() { target.to_string() } else { format!("{from_dir}/{target}") };
        normalize_member_name(&joined).map_err(|detail| Error::Archive { at: at(), detail: format!("link target {target:?}: {detail}") })
    }

    /// Normalises a member path given by a user (`./checkpoint//x.img` -> `checkpoint/x.img`).
    pub fn member_name(&self, path_inside: &str) -> String {
        normalize_member_name(path_inside).unwrap_or_else(|_| path_inside.to_string())
    }
}

/// Normalises a member path: relative, `/`-separated, no `.` or empty
/// components; `..` is resolved and may not climb above the top.
pub(crate) fn normalize_member_name(name: &str) -> std::result::Result<String, String> {
    if name.starts_with('/') {
        return Err("absolute path: it would be written outside the extraction directory".into());
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in name.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err("path climbs outside the archive with '..'".into());
                }
            }
            p => parts.push(p),
        }
    }
    Ok(parts.join("/"))
}

fn looks_like_tar(bytes: &[u8]) -> bool {
    bytes.len() >= 512 && (&bytes[257..262] == b"ustar" || tar_checksum_ok(&bytes[..512]))
}

fn tar_checksum_ok(header: &[u8]) -> bool {
    let text = String::from_utf8_lossy(&header[148..156]);
    let Ok(stored) = u64::from_str_radix(text.trim_matches(|c: char| c == '\0' || c == ' '), 8) else { return false };
    let sum: u64 = header.iter().enumerate().map(|(i, &b)| if (148..156).contains(&i) { 32 } else { u64::from(b) }).sum();
    stored == sum && header.iter().any(|&b| b != 0)
}

/// The error for an input that is neither a regular file nor a directory.
fn not_regular(display: &str, meta: &std::fs::Metadata) -> Error {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    let what = if t.is_fifo() {
        "a FIFO (named pipe)"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else {
        "not a regular file"
    };
    Error::Archive {
        at: Location::new(display, 0),
        detail: format!(
            "{what}: expected a directory, a tar / tar.gz / tar.zst archive or an image file (decode and encode read a pipe as `-i -`)"
        ),
    }
}

/// Opens `path` for reading if it is a regular file; a FIFO, socket or
/// device is refused before it is opened (opening a FIFO blocks until a
/// writer comes, reading a device may never end).
pub(crate) fn open_regular(path: &Path, display: &str) -> Result<std::fs::File> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(display, e))?;
    if !meta.is_file() {
        if meta.is_dir() {
            return Err(Error::io(display, std::io::Error::new(std::io::ErrorKind::InvalidInput, "is a directory, not a file")));
        }
        return Err(not_regular(display, &meta));
    }
    let file = std::fs::File::open(path).map_err(|e| Error::io(display, e))?;
    // The path may have been swapped between the two looks.
    let meta = file.metadata().map_err(|e| Error::io(display, e))?;
    if !meta.is_file() {
        return Err(not_regular(display, &meta));
    }
    Ok(file)
}

fn map_file(path: &Path, display: &str) -> Result<Backing> {
    map(&open_regular(path, display)?, display)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_normalised_and_confined() {
        assert_eq!(normalize_member_name("./checkpoint//x.img").unwrap(), "checkpoint/x.img");
        assert_eq!(normalize_member_name("a/../b").unwrap(), "b");
        assert!(normalize_member_name("../x").is_err());
        assert!(normalize_member_name("a/../../x").is_err());
        assert!(normalize_member_name("/etc/passwd").is_err());
    }
}
