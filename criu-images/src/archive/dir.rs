//! Listing an images directory: files, subdirectories and symlinks (such as
//! a pre-dump's `parent`), without following links and within bounds.

use std::path::Path;

use super::{Member, MemberKind};
use crate::error::{Error, Location, Result};

const MAX_DEPTH: usize = 16;
const MAX_MEMBERS: usize = 200_000;

pub(crate) fn walk(root: &Path, display: &str) -> Result<Vec<Member>> {
    let mut members = Vec::new();
    let mut stack = vec![(root.to_path_buf(), String::new(), 0usize)];
    while let Some((dir, prefix, depth)) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| Error::io(dir.display().to_string(), e))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(dir.display().to_string(), e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel = if prefix.is_empty() { name } else { format!("{prefix}/{}", entry.file_name().to_string_lossy()) };
            let file_type = entry.file_type().map_err(|e| Error::io(entry.path().display().to_string(), e))?;
            let (kind, len) = if file_type.is_symlink() {
                let target = std::fs::read_link(entry.path()).map_err(|e| Error::io(entry.path().display().to_string(), e))?;
                (MemberKind::Symlink(target.to_string_lossy().into_owned()), 0)
            } else if file_type.is_dir() {
                if depth + 1 >= MAX_DEPTH {
                    return Err(Error::Archive {
                        at: Location::new(display, 0),
                        detail: format!("{rel}: directories nested deeper than {MAX_DEPTH} levels"),
                    });
                }
                stack.push((entry.path(), rel.clone(), depth + 1));
                (MemberKind::Directory, 0)
            } else if file_type.is_file() {
                let len = entry.metadata().map_err(|e| Error::io(entry.path().display().to_string(), e))?.len();
                (MemberKind::File, len)
            } else {
                (MemberKind::Other('?'), 0)
            };
            members.push(Member { name: rel, kind, offset: 0, len, header_offset: 0, source: 0 });
            if members.len() > MAX_MEMBERS {
                return Err(Error::Archive {
                    at: Location::new(display, 0),
                    detail: format!("more than {MAX_MEMBERS} files: not an images directory"),
                });
            }
        }
    }
    Ok(members)
}
