//! The one error type of the crate.
//!
//! Every variant says where (file, byte offset, entry index) and what was
//! expected, because checkpoints of compromised containers are
//! attacker-controlled and a reader must explain why it refused one.

use std::fmt;
use std::io;

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Where in an input something went wrong.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Location {
    /// File name (or `<stdin>`, or `archive.tar:member`).
    pub file: String,
    /// Byte offset from the start of the file.
    pub offset: u64,
    /// Index of the entry, when the problem lies inside one.
    pub entry: Option<usize>,
}

impl Location {
    /// A location at `offset` in `file`, outside any entry.
    pub fn new(file: impl Into<String>, offset: u64) -> Self {
        Location { file: file.into(), offset, entry: None }
    }

    /// The same location, inside entry `index`.
    pub fn in_entry(mut self, index: usize) -> Self {
        self.entry = Some(index);
        self
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: offset {}", self.file, self.offset)?;
        if let Some(entry) = self.entry {
            write!(f, " (entry {entry})")?;
        }
        Ok(())
    }
}

/// Everything that can go wrong while reading or writing CRIU images.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The operating system refused a read or write.
    #[error("{path}: {source}")]
    Io {
        /// The file that could not be read or written.
        path: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// The input ends before a complete structure.
    #[error("{at}: truncated: expected {expected}, but only {available} bytes remain")]
    Truncated {
        /// Where the incomplete structure starts.
        at: Location,
        /// What should have been there.
        expected: String,
        /// How many bytes were left.
        available: u64,
    },

    /// The image type magic is not one of CRIU's.
    #[error("{at}: unknown image magic {magic:#010x}{hint}")]
    UnknownMagic {
        /// Where the magic was read.
        at: Location,
        /// The value found.
        magic: u32,
        /// A suggestion, e.g. that the file looks like raw page data.
        hint: String,
    },

    /// A file CRIU writes without any magic (pages, iproute2 dumps, tarballs).
    #[error("{file}: {kind} image holds raw data, not protobuf entries")]
    RawImage {
        /// The file name.
        file: String,
        /// What kind of raw image the name says it is.
        kind: &'static str,
    },

    /// A protobuf message that does not parse.
    #[error("{at}: invalid {message}: {detail}")]
    Protobuf {
        /// Where the message starts.
        at: Location,
        /// The message type that was expected.
        message: &'static str,
        /// What was wrong with it.
        detail: String,
    },

    /// A structure that parses but makes no sense (e.g. a size that cannot be).
    #[error("{at}: {detail}")]
    Malformed {
        /// Where the structure starts.
        at: Location,
        /// What was expected.
        detail: String,
    },

    /// An archive or directory whose structure is broken or hostile: a bad
    /// tar header, a member name that escapes the archive, a link that
    /// points outside it or loops.
    #[error("{at}: {detail}")]
    Archive {
        /// Where the problem is (archive path and byte offset, or the member).
        at: Location,
        /// What was expected.
        detail: String,
    },

    /// A member, image or process that the checkpoint does not have.
    #[error("{container}: no {name}{hint}")]
    NotFound {
        /// The checkpoint, archive or image searched.
        container: String,
        /// What was looked for, e.g. `member checkpoint/pstree.img`.
        name: String,
        /// A suggestion, e.g. the names that do exist.
        hint: String,
    },

    /// A limit set by the caller (or its default) would be exceeded, e.g. the
    /// decompressed size of a `.tar.gz` (a decompression bomb).
    #[error("{file}: {what} exceeds the limit of {limit} bytes")]
    Limit {
        /// The input.
        file: String,
        /// What grew too large.
        what: String,
        /// The limit in bytes.
        limit: u64,
    },

    /// Process memory that cannot be read as asked: not mapped, or not in the
    /// checkpoint (lazy pages, unmodified file pages).
    #[error("{}process {pid}: {address:#x}: {detail}", if checkpoint.is_empty() { String::new() } else { format!("{checkpoint}: ") })]
    Memory {
        /// The process id as the images hold it.
        pid: u32,
        /// The first address that could not be read.
        address: u64,
        /// Why.
        detail: String,
        /// The checkpoint, where the caller knows it (the command line names
        /// it); empty otherwise.
        checkpoint: String,
    },

    /// A search pattern that cannot be used (bad regex, bad hex).
    #[error("invalid pattern: {detail}")]
    Pattern {
        /// What is wrong with it.
        detail: String,
    },

    /// JSON that is not valid, or not a CRIU image in crit's JSON shape.
    #[error("{file}: line {line}, column {column}: {detail}")]
    Json {
        /// The JSON input's name.
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based column (in bytes).
        column: usize,
        /// What was expected.
        detail: String,
    },

    /// The operation was cancelled through its [`Progress`](crate::progress::Progress).
    #[error("cancelled")]
    Cancelled,
}

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<String>, source: io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }
}
