//! File bytes as the crate holds them: a read-only memory map, or bytes in
//! memory. [`map`] is the one place a file is mapped.

use std::fs::File;

use crate::error::{Error, Result};

/// Bytes read from: a mapped file, bytes in memory, or nothing.
pub(crate) enum Backing {
    Mapped(memmap2::Mmap),
    Owned(Vec<u8>),
    Empty,
}

impl Backing {
    pub(crate) fn bytes(&self) -> &[u8] {
        match self {
            Backing::Mapped(map) => map,
            Backing::Owned(vec) => vec,
            Backing::Empty => &[],
        }
    }
}

/// Maps `file` read-only (`name` for errors); an empty file is
/// [`Backing::Empty`] (a zero-length map fails on Linux). The slice a
/// mapping gives stays at one address until the `Mmap` is dropped, even when
/// the `Backing` moves.
pub(crate) fn map(file: &File, name: &str) -> Result<Backing> {
    let len = file.metadata().map_err(|e| Error::io(name, e))?.len();
    if len == 0 {
        return Ok(Backing::Empty);
    }
    // SAFETY: `Mmap::map` is unsafe because the file may change under the
    // mapping. We map read-only and never write through it; what we assume
    // is that nobody writes to or truncates the file while it is mapped:
    // true for the unlinked temporary files we spill decompressed archives
    // to (nobody else can open them), and for checkpoints only as far as the
    // analyst leaves them alone (as with every mmap-based reader). If they
    // do not, bytes written by another process show through slices we treat
    // as immutable (our parsers check every length against the slice, so
    // that gives wrong values or parse errors, not reads out of bounds), and
    // a truncation makes a later access to the lost pages raise SIGBUS,
    // which ends the process.
    let map = unsafe { memmap2::Mmap::map(file) }.map_err(|e| Error::io(name, e))?;
    Ok(Backing::Mapped(map))
}
