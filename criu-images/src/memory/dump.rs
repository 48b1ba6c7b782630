//! Writing a range of a process's memory to a file, sparse where it holds nothing.

use std::io::{IoSlice, Seek, SeekFrom, Write};
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

/// Slices gathered for one `writev` (Linux's `IOV_MAX`).
const DUMP_SLICES: usize = 1024;

/// What the short holes between gathered runs are written from.
static ZEROS: [u8; DUMP_HOLE as usize] = [0; DUMP_HOLE as usize];

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
    /// are gathered (as slices of the checkpoint's bytes, not copied) into
    /// one vectored write, and holes shorter than [`DUMP_HOLE`] between
    /// them are written as zeros, so that memory cut into many runs is
    /// written in large sequential writes, not one write (and one file
    /// extent) per page; longer holes stay sparse.
    fn write_dump(&self, mut file: std::fs::File, start: u64, end: u64, name: &str, progress: Option<&Progress>) -> Result<DumpSummary> {
        let name = name.to_string();
        let mut summary = DumpSummary { size: end - start, ..DumpSummary::default() };
        let mut gathered: Vec<IoSlice<'_>> = Vec::with_capacity(DUMP_SLICES);
        // File offset of the gathered slices' first byte, and their length.
        let (mut gathered_at, mut gathered_len) = (0u64, 0usize);
        let write_at = |file: &mut std::fs::File, offset: u64, mut slices: &mut [IoSlice<'_>]| -> Result<()> {
            file.seek(SeekFrom::Start(offset)).map_err(|e| Error::io(&name, e))?;
            while !slices.is_empty() {
                if let Some(progress) = progress {
                    progress.check()?;
                }
                match file.write_vectored(slices) {
                    Ok(0) => return Err(Error::io(&name, std::io::ErrorKind::WriteZero.into())),
                    Ok(n) => IoSlice::advance_slices(&mut slices, n),
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(Error::io(&name, e)),
                }
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
                if gathered_len > 0 && piece.len() < DUMP_HOLE && gathered_len as u64 + piece.len() <= DUMP_BUFFER as u64 {
                    if gathered.len() == DUMP_SLICES {
                        write_at(&mut file, gathered_at, &mut gathered)?;
                        gathered.clear();
                        gathered_at += gathered_len as u64;
                        gathered_len = 0;
                    }
                    // `piece.len() < DUMP_HOLE`: inside ZEROS.
                    gathered.push(IoSlice::new(&ZEROS[..piece.len() as usize]));
                    gathered_len += piece.len() as usize;
                }
                continue;
            };
            summary.dumped += bytes.len() as u64;
            if let Some(progress) = progress {
                progress.advance(bytes.len() as u64);
            }
            let joins = gathered_at + gathered_len as u64 == offset;
            if gathered_len > 0 && (!joins || gathered_len + bytes.len() > DUMP_BUFFER || gathered.len() == DUMP_SLICES) {
                write_at(&mut file, gathered_at, &mut gathered)?;
                gathered.clear();
                gathered_len = 0;
            }
            if bytes.len() >= DUMP_BUFFER {
                // One write per STEP bytes: cancellation is checked between them.
                for (k, chunk) in bytes.chunks(STEP).enumerate() {
                    write_at(&mut file, offset + (k * STEP) as u64, &mut [IoSlice::new(chunk)])?;
                }
                continue;
            }
            if gathered_len == 0 {
                gathered_at = offset;
            }
            gathered.push(IoSlice::new(bytes));
            gathered_len += bytes.len();
        }
        if gathered_len > 0 {
            write_at(&mut file, gathered_at, &mut gathered)?;
        }
        file.set_len(summary.size).map_err(|e| Error::io(&name, e))?;
        if let Some(progress) = progress {
            progress.finish();
        }
        Ok(summary)
    }
}
