//! Writing a range of a process's memory to a file, sparse where it holds nothing.

use std::io::{Seek, SeekFrom, Write};
use std::path::Path;

use super::content::Content;
use super::ProcessMemory;
use crate::error::{Error, Result};
use crate::progress::{Progress, STEP};

/// What [`ProcessMemory::dump`] wrote.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct DumpSummary {
    /// Size of the file: the length of the range.
    pub size: u64,
    /// Bytes written from the checkpoint (or the root filesystem).
    pub dumped: u64,
    /// Bytes not in the checkpoint, left as zeros.
    pub missing: u64,
}

/// Holes shorter than this between dumped runs are written as zeros by
/// [`ProcessMemory::dump`] (a file extent per page costs more than the zeros).
const DUMP_HOLE: u64 = 64 << 10;

/// Pieces between two cancellation checks of a dump.
const PIECES_PER_CHECK: usize = 1 << 14;

/// Bytes [`ProcessMemory::dump`] gathers from small runs before a write.
const DUMP_BUFFER: usize = 8 << 20;

impl ProcessMemory<'_> {
    /// Writes `[start, end)` to a new file at `path`: dumped bytes at their
    /// offsets, zero and missing pages as holes (sparse where the file
    /// system allows), so that file offset = address - `start`.
    pub fn dump(&self, start: u64, end: u64, path: &Path) -> Result<DumpSummary> {
        self.dump_with(start, end, path, None)
    }

    /// [`dump`](Self::dump), reporting the bytes written to `progress` (its
    /// total: the dumped bytes of the range). Cancelling it stops the work
    /// with [`Error::Cancelled`] and removes the incomplete file.
    pub fn dump_with(&self, start: u64, end: u64, path: &Path, progress: Option<&Progress>) -> Result<DumpSummary> {
        // Checked before the file exists: file offsets are signed 64-bit.
        if end < start {
            return Err(self.error(start, &format!("range {start:#x}-{end:#x} ends before it starts")));
        }
        if end - start > i64::MAX as u64 {
            return Err(
                self.error(start, &format!("range {start:#x}-{end:#x} is {} bytes, more than a file can hold (2^63 - 1)", end - start))
            );
        }
        if let Some(progress) = progress {
            progress.set_total(self.pieces_in(start, end).filter_map(|p| p.content.bytes()).map(|b| b.len() as u64).sum());
        }
        let name = path.display().to_string();
        let file = std::fs::File::create(path).map_err(|e| Error::io(&name, e))?;
        let written = self.write_dump(file, start, end, &name, progress);
        if written.is_err() {
            // An incomplete dump must not pass for the memory.
            let _ = std::fs::remove_file(path);
        }
        written
    }

    /// Writes the pieces of `[start, end)` to `file`. Runs of small pieces
    /// are gathered into one buffer, and holes shorter than [`DUMP_HOLE`]
    /// between them are written as zeros, so that memory cut into many
    /// runs is written in large sequential writes, not one write (and one
    /// file extent) per page; longer holes stay sparse.
    fn write_dump(&self, mut file: std::fs::File, start: u64, end: u64, name: &str, progress: Option<&Progress>) -> Result<DumpSummary> {
        let name = name.to_string();
        let mut summary = DumpSummary { size: end - start, ..DumpSummary::default() };
        let mut buffer: Vec<u8> = Vec::new();
        // File offset of the buffer's first byte.
        let mut buffered_at = 0u64;
        let write_at = |file: &mut std::fs::File, offset: u64, bytes: &[u8]| -> Result<()> {
            file.seek(SeekFrom::Start(offset)).map_err(|e| Error::io(&name, e))?;
            for chunk in bytes.chunks(STEP) {
                if let Some(progress) = progress {
                    progress.check()?;
                }
                file.write_all(chunk).map_err(|e| Error::io(&name, e))?;
            }
            Ok(())
        };
        for (i, piece) in self.pieces_in(start, end).enumerate() {
            // Pieces without bytes are not written: check between them too.
            if i % PIECES_PER_CHECK == PIECES_PER_CHECK - 1 {
                if let Some(progress) = progress {
                    progress.check()?;
                }
            }
            let offset = piece.start - start;
            let Some(bytes) = piece.content.bytes() else {
                if let Content::Missing(_) = piece.content {
                    summary.missing += piece.len();
                }
                if !buffer.is_empty() && piece.len() < DUMP_HOLE && buffer.len() as u64 + piece.len() <= DUMP_BUFFER as u64 {
                    buffer.resize(buffer.len() + piece.len() as usize, 0);
                }
                continue;
            };
            summary.dumped += bytes.len() as u64;
            if let Some(progress) = progress {
                progress.advance(bytes.len() as u64);
            }
            let joins = buffered_at + buffer.len() as u64 == offset;
            if !buffer.is_empty() && (!joins || buffer.len() + bytes.len() > DUMP_BUFFER) {
                write_at(&mut file, buffered_at, &buffer)?;
                buffer.clear();
            }
            if bytes.len() >= DUMP_BUFFER {
                write_at(&mut file, offset, bytes)?;
                continue;
            }
            if buffer.is_empty() {
                buffered_at = offset;
            }
            buffer.extend_from_slice(bytes);
        }
        if !buffer.is_empty() {
            write_at(&mut file, buffered_at, &buffer)?;
        }
        file.set_len(summary.size).map_err(|e| Error::io(&name, e))?;
        if let Some(progress) = progress {
            progress.finish();
        }
        Ok(summary)
    }
}
