//! CRI-O's `bind.mounts`: the bind mounts it set up for the container.

use super::bounded_json::{self, Node};
use super::members::BIND_MOUNTS;
use super::MAX_METADATA_SIZE;
use crate::error::Result;

/// A bind mount CRI-O set up for the container (`bind.mounts`), so that the
/// restore can recreate missing mount points.
#[derive(Clone, Debug, PartialEq)]
pub struct BindMount {
    /// Where it is mounted inside the container.
    pub destination: String,
    /// The host path.
    pub source: Option<String>,
    /// `file` or `directory`.
    pub file_type: Option<String>,
    /// Go `os.FileMode` bits of the source (`420` is `0o644`).
    pub permissions: Option<u32>,
}

pub(super) fn parse_bind_mounts(bytes: &[u8]) -> Result<Vec<BindMount>> {
    let value = bounded_json::parse(BIND_MOUNTS, bytes, MAX_METADATA_SIZE)?;
    let root = Node::root(BIND_MOUNTS, &value);
    root.items()?
        .iter()
        .map(|mount| {
            Ok(BindMount {
                destination: mount.req_str("destination")?,
                source: mount.opt_str("source")?,
                file_type: mount.opt_str("file_type")?,
                permissions: mount.opt_u32("permissions")?,
            })
        })
        .collect()
}
