//! One side of a diff: the checkpoint, what was read from it, and errors
//! that say which side they come from.

use crate::chain::ImageStore;
use crate::checkpoint::Checkpoint;
use crate::error::{Error, Result};
use crate::metadata::Metadata;
use crate::model::Process;

/// One checkpoint of a comparison, read once.
pub struct Side<'c> {
    /// `old` or `new`.
    pub name: &'static str,
    /// The checkpoint.
    pub checkpoint: &'c Checkpoint,
    /// Its processes; `None` for a pre-dump level (no `pstree.img`).
    pub processes: Option<Vec<Process>>,
    /// Container metadata and dump statistics, read leniently.
    pub metadata: Metadata,
}

impl<'c> Side<'c> {
    /// Reads the processes and metadata of `checkpoint`; errors name `name`.
    pub fn load(checkpoint: &'c Checkpoint, name: &'static str) -> Result<Side<'c>> {
        let has_tree = checkpoint.images().file("pstree.img").map_err(|e| on_side(e, name))?.is_some();
        let processes = match has_tree {
            true => Some(checkpoint.processes().map_err(|e| on_side(e, name))?),
            false => None,
        };
        Ok(Side { name, checkpoint, processes, metadata: checkpoint.metadata() })
    }

    /// The pids whose memory this side holds: the processes, or for a
    /// pre-dump level the `pagemap-<pid>.img` files it has.
    pub fn memory_pids(&self) -> Vec<u32> {
        match &self.processes {
            Some(processes) => processes.iter().map(|p| p.pid).collect(),
            None => {
                let mut pids: Vec<u32> = self
                    .checkpoint
                    .image_names()
                    .iter()
                    .filter_map(|n| n.strip_prefix("pagemap-")?.strip_suffix(".img")?.parse().ok())
                    .collect();
                pids.sort_unstable();
                pids
            }
        }
    }

    /// An error of this side.
    pub fn err(&self, err: Error) -> Error {
        on_side(err, self.name)
    }
}

/// A pre-dump level seen through the areas of a full dump: the memory
/// images (`pagemap-*`, `pages-*`) of `level`, every other file (`mm-*`,
/// `core-*`, `files.img`, ...) from `donor`. A pre-dump writes only memory;
/// CRIU lays its pages out in the areas the process had, which the final
/// dump records.
pub(crate) struct PredumpView<'a> {
    pub(crate) level: &'a dyn ImageStore,
    pub(crate) donor: &'a dyn ImageStore,
}

impl ImageStore for PredumpView<'_> {
    fn file(&self, name: &str) -> Result<Option<&[u8]>> {
        if name.starts_with("pagemap") || name.starts_with("pages-") {
            return self.level.file(name);
        }
        match self.level.file(name)? {
            Some(bytes) => Ok(Some(bytes)),
            None => self.donor.file(name),
        }
    }

    fn label(&self) -> String {
        self.level.label()
    }
}

/// `err` with `side: ` before the file (or checkpoint) it names.
pub fn on_side(err: Error, side: &str) -> Error {
    let tag = |s: String| format!("{side}: {s}");
    match err {
        Error::Io { path, source } => Error::Io { path: tag(path), source },
        Error::Truncated { mut at, expected, available } => {
            at.file = tag(at.file);
            Error::Truncated { at, expected, available }
        }
        Error::UnknownMagic { mut at, magic, hint } => {
            at.file = tag(at.file);
            Error::UnknownMagic { at, magic, hint }
        }
        Error::RawImage { file, kind } => Error::RawImage { file: tag(file), kind },
        Error::Protobuf { mut at, message, detail } => {
            at.file = tag(at.file);
            Error::Protobuf { at, message, detail }
        }
        Error::Malformed { mut at, detail } => {
            at.file = tag(at.file);
            Error::Malformed { at, detail }
        }
        Error::Archive { mut at, detail } => {
            at.file = tag(at.file);
            Error::Archive { at, detail }
        }
        Error::NotFound { container, name, hint } => Error::NotFound { container: tag(container), name, hint },
        Error::Limit { file, what, limit } => Error::Limit { file: tag(file), what, limit },
        Error::Memory { pid, address, detail, checkpoint } => {
            let checkpoint = if checkpoint.is_empty() { side.to_string() } else { tag(checkpoint) };
            Error::Memory { pid, address, detail, checkpoint }
        }
        Error::Json { file, line, column, detail } => Error::Json { file: tag(file), line, column, detail },
        other => other,
    }
}
