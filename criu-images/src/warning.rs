//! Warnings: a part of a checkpoint that could not be read, while what was
//! read without it is still returned.
//!
//! A checkpoint of a compromised container may have a corrupt or hostile
//! `config.dump`, `stats-dump` or `dump.log`; the processes and their memory
//! are still worth reading. Where a part is optional, the result carries a
//! [`Warning`] instead of failing as a whole, and never drops the error
//! silently: the command line prints it (standard error, and a `warnings`
//! key in JSON) and Python lists it in `Checkpoint.warnings`.

use std::fmt;

use crate::error::{Error, Result};

/// The part of a checkpoint a [`Warning`] is about.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
pub enum Part {
    /// The container engine's metadata (`config.dump`, `spec.dump`,
    /// `network.status`, `bind.mounts`).
    Container,
    /// CRIU's dump statistics (`stats-dump`).
    DumpStats,
    /// CRIU's log of the dump (`dump.log`).
    DumpLog,
    /// The list of files deleted from the container image (`deleted.files`).
    DeletedFiles,
    /// The process tree (`pstree.img`).
    ProcessTree,
    /// A file of memory pages (`pages-*.img`).
    Pages,
}

impl Part {
    /// What the part is, as the warnings say it.
    pub fn name(self) -> &'static str {
        match self {
            Part::Container => "container metadata",
            Part::DumpStats => "CRIU dump statistics",
            Part::DumpLog => "CRIU dump log",
            Part::DeletedFiles => "deleted files list",
            Part::ProcessTree => "process tree",
            Part::Pages => "memory pages",
        }
    }
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A part of a checkpoint left out because it could not be read. The error
/// says where (file, byte offset, entry) and what was expected there.
///
/// ```
/// use criu_images::warning::{Part, Warning};
/// use criu_images::{Error, Location};
///
/// let error = Error::Malformed { at: Location::new("stats-dump", 0), detail: "expected a STATS image".into() };
/// let warning = Warning { part: Part::DumpStats, error };
/// assert_eq!(warning.to_string(), "CRIU dump statistics left out: stats-dump: offset 0: expected a STATS image");
/// ```
#[derive(Debug)]
pub struct Warning {
    /// What was left out.
    pub part: Part,
    /// Why.
    pub error: Error,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} left out: {}", self.part, self.error)
    }
}

/// Warnings collected while reading the optional parts of a checkpoint.
#[derive(Debug, Default)]
pub struct Warnings(Vec<Warning>);

impl Warnings {
    /// The value of an optional part, or `None` with a warning if reading
    /// it failed.
    pub fn take<T>(&mut self, part: Part, result: Result<Option<T>>) -> Option<T> {
        match result {
            Ok(value) => value,
            Err(error) => {
                self.0.push(Warning { part, error });
                None
            }
        }
    }

    /// The warnings, in the order they were found.
    pub fn into_vec(self) -> Vec<Warning> {
        self.0
    }
}
