//! The records beside a checkpoint's images, each read on its own: the
//! container engine's metadata, CRIU's dump statistics and log, the list of
//! deleted files. One that cannot be read is left out with a [`Warning`];
//! the others, and the images, are still there.

use crate::checkpoint::Checkpoint;
use crate::model::container::{ContainerInfo, DumpLog, DumpStats};
use crate::warning::{Part, Warning, Warnings};

/// The optional records of a checkpoint, read leniently
/// ([`Checkpoint::metadata`]). `None` means absent, or unreadable: then
/// [`warnings`](Self::warnings) says why.
#[derive(Debug)]
pub struct Metadata {
    /// [`Checkpoint::container`].
    pub container: Option<ContainerInfo>,
    /// [`Checkpoint::dump_stats`].
    pub dump_stats: Option<DumpStats>,
    /// [`Checkpoint::dump_log`].
    pub dump_log: Option<DumpLog>,
    /// [`Checkpoint::deleted_files`].
    pub deleted_files: Option<Vec<String>>,
    /// What could not be read, in the order above.
    pub warnings: Vec<Warning>,
}

impl Checkpoint {
    /// Reads the container metadata, CRIU's dump statistics and log and the
    /// deleted files list, each on its own: one that is present but cannot
    /// be read is `None` with a warning, instead of an error for all (the
    /// strict accessors, e.g. [`Checkpoint::container`], return the error).
    pub fn metadata(&self) -> Metadata {
        let mut warnings = Warnings::default();
        let container = warnings.take(Part::Container, self.container());
        let dump_stats = warnings.take(Part::DumpStats, self.dump_stats());
        let dump_log = warnings.take(Part::DumpLog, self.dump_log());
        let deleted_files = warnings.take(Part::DeletedFiles, self.deleted_files());
        Metadata { container, dump_stats, dump_log, deleted_files, warnings: warnings.into_vec() }
    }

    /// The parts of the checkpoint beside its images that are present but
    /// cannot be read (see [`Checkpoint::metadata`]); empty when all can.
    pub fn warnings(&self) -> Vec<Warning> {
        self.metadata().warnings
    }
}
