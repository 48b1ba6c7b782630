//! One directory of CRIU images inside an archive ([`ImageDir`]): where a
//! checkpoint keeps its images, and the `parent` links of a pre-dump chain.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::ImageStore;
use crate::archive::{Archive, ArchiveFormat, MemberKind, OpenOptions};
use crate::error::{Error, Location, Result};
use crate::image::Image;

/// How many `parent` links a chain may have (CRIU's own chains are short).
const MAX_CHAIN: usize = 32;

/// One directory of images: the dump itself or one of its pre-dumps.
#[derive(Clone)]
pub struct ImageDir {
    pub(crate) archive: Arc<Archive>,
    pub(crate) dir: String,
}

impl ImageDir {
    /// The archive holding this directory.
    pub fn archive(&self) -> &Archive {
        &self.archive
    }

    /// The directory inside the archive (`""` for the top).
    pub fn dir(&self) -> &str {
        &self.dir
    }

    pub(crate) fn member_name(&self, name: &str) -> String {
        if self.dir.is_empty() {
            name.to_string()
        } else {
            format!("{}/{name}", self.dir)
        }
    }

    /// The bytes of file `name` of this directory, if present.
    pub fn file(&self, name: &str) -> Result<Option<&[u8]>> {
        let member = self.member_name(name);
        match self.archive.get(&member) {
            None => Ok(None),
            Some(_) => self.archive.read(&member).map(Some),
        }
    }

    /// A name for errors: `archive.tar:checkpoint`, or the directory path.
    pub fn label(&self) -> String {
        match (self.archive.format(), self.dir.as_str()) {
            (ArchiveFormat::Directory, "") => self.archive.display_name().to_string(),
            (ArchiveFormat::Directory, dir) => format!("{}/{dir}", self.archive.display_name()),
            (_, "") => self.archive.display_name().to_string(),
            (_, dir) => format!("{}:{dir}", self.archive.display_name()),
        }
    }

    /// Names of the files in this directory (not in subdirectories), sorted.
    pub fn file_names(&self) -> Vec<String> {
        let prefix = if self.dir.is_empty() { String::new() } else { format!("{}/", self.dir) };
        self.archive
            .members()
            .filter(|m| matches!(m.kind, MemberKind::File | MemberKind::HardLink(_)))
            .filter_map(|m| m.name.strip_prefix(prefix.as_str()).map(str::to_string))
            .filter(|rest| !rest.contains('/'))
            .collect()
    }
}

impl ImageStore for ImageDir {
    fn file(&self, name: &str) -> Result<Option<&[u8]>> {
        ImageDir::file(self, name)
    }

    fn label(&self) -> String {
        ImageDir::label(self)
    }
}

/// Where the CRIU images are: `checkpoint/` in container archives, the top
/// of an images directory, or the shallowest directory holding an inventory.
/// Input without any (a text file, zeros, an unrelated tar or directory) is
/// not a checkpoint: say so at once rather than show an empty one.
pub(crate) fn find_images_dir(archive: &Archive) -> Result<String> {
    let not_a_checkpoint = |detail: String| Error::Archive { at: Location::new(archive.display_name(), 0), detail };
    if archive.format() == ArchiveFormat::File {
        // A single image: it must at least be one.
        let name = archive.members().next().map(|m| m.name.to_string()).unwrap_or_default();
        let bytes = archive.read(&name)?;
        return match Image::parse(archive.display_name(), bytes) {
            Ok(_) => Ok(String::new()),
            Err(err) => Err(not_a_checkpoint(format!(
                "not a CRIU checkpoint: neither a directory of images, a tar / tar.gz / tar.zst archive nor a CRIU image ({})",
                error_detail(&err)
            ))),
        };
    }
    for dir in ["checkpoint", ""] {
        let probe = |name: &str| if dir.is_empty() { name.to_string() } else { format!("{dir}/{name}") };
        if archive.get(&probe("inventory.img")).is_some() || archive.get(&probe("pstree.img")).is_some() {
            return Ok(dir.to_string());
        }
    }
    archive
        .members()
        .filter(|m| m.name.ends_with("/inventory.img") || m.name.ends_with("/pstree.img"))
        .map(|m| m.name.rsplit_once('/').map(|(d, _)| d.to_string()).unwrap_or_default())
        .min_by_key(|d| (d.matches('/').count(), d.clone()))
        .ok_or_else(|| {
            not_a_checkpoint(format!(
                "not a CRIU checkpoint: no inventory.img or pstree.img in this {} (looked at the top, in checkpoint/ and in every subdirectory)",
                archive.format().name()
            ))
        })
}

/// An error's text without the file name it starts with (the caller names it).
fn error_detail(err: &Error) -> String {
    match err {
        Error::Truncated { expected, available, .. } => format!("expected {expected}, but only {available} bytes"),
        Error::UnknownMagic { magic, .. } => format!("unknown magic {magic:#010x}"),
        other => other.to_string(),
    }
}

/// Follows `parent` links from `images` to the first dump of the chain.
pub(crate) fn follow_parents(images: &ImageDir, options: &OpenOptions) -> Result<Vec<ImageDir>> {
    let mut chain: Vec<ImageDir> = Vec::new();
    let mut seen: Vec<(PathBuf, String)> = vec![(canonical(images), images.dir.clone())];
    let mut current = images.clone();
    loop {
        let link_name = current.member_name("parent");
        let Some(info) = current.archive.get(&link_name) else { break };
        let at = || Location::new(format!("{}:{link_name}", current.archive.display_name()), 0);
        let next = match (info.kind, current.archive.format()) {
            (MemberKind::Directory, _) => ImageDir { archive: current.archive.clone(), dir: link_name.clone() },
            (MemberKind::Symlink(target), ArchiveFormat::Directory) => {
                // A directory's parent may be anywhere on disk, as CRIU allows.
                let base = current.archive.path().join(&current.dir);
                let target_path = base.join(target);
                if !target_path.is_dir() {
                    return Err(Error::Archive {
                        at: at(),
                        detail: format!("parent link points to {}, which is not a directory", target_path.display()),
                    });
                }
                // Look before indexing: a link to `/` or to $HOME must not
                // make us walk a whole file system.
                if !holds_dump_images(&target_path) {
                    return Err(Error::Archive {
                        at: at(),
                        detail: format!(
                            "parent link points to {}, which is not a dump directory (no inventory.img or pagemap-*.img in it)",
                            target_path.display()
                        ),
                    });
                }
                let archive = Arc::new(Archive::open(&target_path, options)?);
                ImageDir { archive, dir: String::new() }
            }
            (MemberKind::Symlink(target), _) => {
                let resolved = current
                    .archive
                    .resolve_link(&current.dir, target)
                    .map_err(|_| Error::Archive { at: at(), detail: format!("parent link {target:?} points outside the archive") })?;
                let probe = format!("{resolved}/inventory.img");
                if current.archive.get(&probe).is_none() && current.archive.get(&format!("{resolved}/")).is_none() {
                    return Err(Error::Archive {
                        at: at(),
                        detail: format!("parent link {target:?} points to {resolved:?}, which holds no images"),
                    });
                }
                ImageDir { archive: current.archive.clone(), dir: resolved }
            }
            (other, _) => {
                return Err(Error::Archive {
                    at: at(),
                    detail: format!("`parent` must be a link to the previous dump's directory, found {other:?}"),
                })
            }
        };
        let key = (canonical(&next), next.dir.clone());
        if seen.contains(&key) {
            return Err(Error::Archive { at: at(), detail: "parent links form a loop".to_string() });
        }
        if chain.len() >= MAX_CHAIN {
            return Err(Error::Archive { at: at(), detail: format!("pre-dump chain longer than {MAX_CHAIN} levels") });
        }
        seen.push(key);
        chain.push(next.clone());
        current = next;
    }
    Ok(chain)
}

/// Whether directory `dir` holds what every CRIU dump or pre-dump writes:
/// `inventory.img`, or pagemaps. Reads that one directory, and only the
/// first entries of a huge one.
fn holds_dump_images(dir: &Path) -> bool {
    const LOOK_AT: usize = 100_000;
    if dir.join("inventory.img").symlink_metadata().is_ok_and(|m| m.is_file()) {
        return true;
    }
    let Ok(entries) = std::fs::read_dir(dir) else { return false };
    entries.take(LOOK_AT).filter_map(|e| e.ok()).any(|e| {
        let name = e.file_name();
        let name = name.to_string_lossy();
        name.starts_with("pagemap-") && name.ends_with(".img")
    })
}

fn canonical(dir: &ImageDir) -> PathBuf {
    std::fs::canonicalize(dir.archive.path()).unwrap_or_else(|_| dir.archive.path().to_path_buf())
}
