//! Writing a range of a process's memory to a file, sparse where it holds nothing.

use std::io::{IoSlice, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

use sha2::{Digest, Sha256};

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

/// Zeros written at a time: holes in outputs written in order, and hashed.
const DUMP_HOLE: u64 = 64 << 10;

/// Holes shorter than this between dumped runs are written as zeros by
/// [`ProcessMemory::dump`] (parts of a page); from one page on they stay
/// sparse: a positioned write per run costs less than writing the page of
/// zeros into the page cache (ext4 and tmpfs, one-page runs: 0.54x and
/// 0.85x the CPU time).
const ZERO_FILL_BELOW: u64 = 4096;

/// Pieces between two cancellation checks of a dump.
const PIECES_PER_CHECK: usize = 1 << 14;

/// Bytes [`ProcessMemory::dump`] gathers from small runs before a write.
const DUMP_BUFFER: usize = 8 << 20;

/// Slices gathered for one `writev` (Linux's `IOV_MAX`).
const DUMP_SLICES: usize = 1024;

/// What the short holes between gathered runs are written from.
static ZEROS: [u8; DUMP_HOLE as usize] = [0; DUMP_HOLE as usize];

/// Bytes of the file handed to the hashing thread at a time, and how many
/// such batches may wait for it: what a hashed dump holds besides the
/// checkpoint's own bytes is a few slices, never a copy.
const HASH_BATCH: u64 = 8 << 20;
const HASH_BATCHES_WAITING: usize = 4;

/// A stretch of the file being written, in file order, for its hash.
enum Stretch<'a> {
    Bytes(&'a [u8]),
    Zeros(u64),
}

/// Hands what the dump writes, in file order, to the hashing thread:
/// the checkpoint's bytes as slices, and the holes between them (written
/// as zeros or left sparse: both read back as zeros) as lengths.
struct HashFeed<'a> {
    sender: SyncSender<Vec<Stretch<'a>>>,
    batch: Vec<Stretch<'a>>,
    batch_bytes: u64,
    /// File offset up to which everything was handed over.
    at: u64,
}

impl<'a> HashFeed<'a> {
    fn zeros_to(&mut self, offset: u64) {
        if offset > self.at {
            self.push(Stretch::Zeros(offset - self.at), offset - self.at);
            self.at = offset;
        }
    }

    fn bytes(&mut self, offset: u64, bytes: &'a [u8]) {
        self.zeros_to(offset);
        self.push(Stretch::Bytes(bytes), bytes.len() as u64);
        self.at = offset + bytes.len() as u64;
    }

    fn push(&mut self, stretch: Stretch<'a>, len: u64) {
        self.batch.push(stretch);
        self.batch_bytes += len;
        if self.batch_bytes >= HASH_BATCH || self.batch.len() >= DUMP_SLICES {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if !self.batch.is_empty() {
            // A hasher that stopped (cancelled) no longer listens: the dump ends anyway.
            let _ = self.sender.send(std::mem::take(&mut self.batch));
            self.batch_bytes = 0;
        }
    }
}

/// The hashing thread: SHA-256 of the stretches in the order given.
/// `None` once `progress` is cancelled (long sparse holes hash as zeros
/// and can take a while).
fn hash_stretches(batches: Receiver<Vec<Stretch<'_>>>, progress: Option<&Progress>) -> Option<[u8; 32]> {
    let mut hasher = Sha256::new();
    for batch in batches {
        for stretch in batch {
            match stretch {
                Stretch::Bytes(bytes) => hasher.update(bytes),
                Stretch::Zeros(len) => {
                    let mut left = len;
                    while left > 0 {
                        let n = left.min(DUMP_HOLE);
                        hasher.update(&ZEROS[..n as usize]);
                        left -= n;
                        // A check per STEP of zeros hashed.
                        if (len - left) % STEP as u64 == 0 && progress.is_some_and(|p| p.check().is_err()) {
                            return None;
                        }
                    }
                }
            }
        }
        if progress.is_some_and(|p| p.check().is_err()) {
            return None;
        }
    }
    Some(hasher.finalize().into())
}

/// The file a dump writes, and where its writes are.
struct DumpFile<'p> {
    file: std::fs::File,
    name: String,
    progress: Option<&'p Progress>,
    /// Written in order (no seeking): not a regular file.
    sequential: bool,
    /// Offset after the last byte written.
    at: u64,
}

impl DumpFile<'_> {
    /// Writes `slices` at `offset`: after a sparse hole in a regular file,
    /// after zeros in anything else.
    fn write_at(&mut self, offset: u64, slices: &mut [IoSlice<'_>]) -> Result<()> {
        if self.sequential {
            self.zeros_to(offset)?;
        } else {
            self.file.seek(SeekFrom::Start(offset)).map_err(|e| Error::io(&self.name, e))?;
        }
        let len: usize = slices.iter().map(|s| s.len()).sum();
        self.write_all(slices)?;
        self.at = offset + len as u64;
        Ok(())
    }

    fn write_all(&mut self, mut slices: &mut [IoSlice<'_>]) -> Result<()> {
        while !slices.is_empty() {
            if let Some(progress) = self.progress {
                progress.check()?;
            }
            match self.file.write_vectored(slices) {
                Ok(0) => return Err(Error::io(&self.name, std::io::ErrorKind::WriteZero.into())),
                Ok(n) => IoSlice::advance_slices(&mut slices, n),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::io(&self.name, e)),
            }
        }
        Ok(())
    }

    /// Zeros from the last byte written up to `offset` (a sequential file).
    fn zeros_to(&mut self, offset: u64) -> Result<()> {
        while self.at < offset {
            let n = (offset - self.at).min(DUMP_HOLE);
            self.write_all(&mut [IoSlice::new(&ZEROS[..n as usize])])?;
            self.at += n;
        }
        Ok(())
    }

    /// Makes the file `size` bytes long: the trailing hole.
    fn end_at(&mut self, size: u64) -> Result<()> {
        match self.sequential {
            true => self.zeros_to(size),
            false => self.file.set_len(size).map_err(|e| Error::io(&self.name, e)),
        }
    }
}

impl ProcessMemory<'_> {
    /// Writes `[start, end)` to a new file at `path`: dumped bytes at their
    /// offsets, zero and missing pages as holes (sparse where the file
    /// system allows), so that file offset = address - `start`.
    pub fn dump(&self, start: u64, end: u64, path: &Path) -> Result<DumpSummary> {
        self.dump_with(start, end, path, None)
    }

    /// [`dump`](Self::dump), reporting the bytes written to `progress` (its
    /// total: the dumped bytes of the range). Cancelling it stops the work
    /// with [`Error::Cancelled`] and removes the incomplete file if this call
    /// created it (a file that existed, such as `/dev/null`, is left).
    pub fn dump_with(&self, start: u64, end: u64, path: &Path, progress: Option<&Progress>) -> Result<DumpSummary> {
        self.dump_to(start, end, path, progress, false).map(|(summary, _)| summary)
    }

    /// [`dump_with`](Self::dump_with), also giving the SHA-256 of the file
    /// written (holes read back as zeros), what the provenance sidecar
    /// records. The hash is computed on a second thread from the bytes as
    /// they are written, instead of reading the file back afterwards.
    /// `None` when `path` is not a regular file (`/dev/null`, a FIFO).
    pub fn dump_sha256(&self, start: u64, end: u64, path: &Path, progress: Option<&Progress>) -> Result<(DumpSummary, Option<[u8; 32]>)> {
        self.dump_to(start, end, path, progress, true)
    }

    fn dump_to(
        &self,
        start: u64,
        end: u64,
        path: &Path,
        progress: Option<&Progress>,
        hash: bool,
    ) -> Result<(DumpSummary, Option<[u8; 32]>)> {
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
        // A file that already exists (one to overwrite, `/dev/null`, a FIFO)
        // is truncated and written, and never removed.
        let (file, created) = match std::fs::OpenOptions::new().write(true).create_new(true).open(path) {
            Ok(file) => (file, true),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                (std::fs::File::create(path).map_err(|e| Error::io(&name, e))?, false)
            }
            Err(e) => return Err(Error::io(&name, e)),
        };
        let hash = hash && file.metadata().is_ok_and(|m| m.is_file());
        let written = match hash {
            false => self.write_dump(file, start, end, &name, progress, None).map(|summary| (summary, None)),
            true => std::thread::scope(|scope| {
                let (sender, receiver) = sync_channel(HASH_BATCHES_WAITING);
                let hasher = scope.spawn(move || hash_stretches(receiver, progress));
                let mut feed = HashFeed { sender, batch: Vec::new(), batch_bytes: 0, at: 0 };
                let summary = self.write_dump(file, start, end, &name, progress, Some(&mut feed));
                drop(feed);
                let digest = hasher.join().ok().flatten();
                let summary = summary?;
                match digest {
                    Some(digest) => Ok((summary, Some(digest))),
                    // The hasher stops only when cancelled (or if it panicked).
                    None => progress.map_or(Err(Error::Cancelled), |p| p.check().map(|()| (summary, None))),
                }
            }),
        };
        if written.is_err() && created {
            // An incomplete dump must not pass for the memory.
            let _ = std::fs::remove_file(path);
        }
        written
    }

    /// Writes the pieces of `[start, end)` to `file`. Contiguous runs are
    /// gathered (as slices of the checkpoint's bytes, not copied) into one
    /// vectored write of up to [`DUMP_BUFFER`]; holes shorter than
    /// [`ZERO_FILL_BELOW`] (parts of a page) are written as zeros among
    /// them, longer ones stay sparse (zeros only in an output written in
    /// order: see [`DumpFile`]).
    fn write_dump<'f>(
        &'f self,
        file: std::fs::File,
        start: u64,
        end: u64,
        name: &str,
        progress: Option<&Progress>,
        mut hash: Option<&mut HashFeed<'f>>,
    ) -> Result<DumpSummary> {
        // A regular file gets holes by seeking (sparse); anything else (a
        // FIFO, a terminal, `/dev/null`) is written in order, zeros included.
        let sequential = !file.metadata().is_ok_and(|m| m.is_file());
        let mut out = DumpFile { file, name: name.to_string(), progress, sequential, at: 0 };
        let mut summary = DumpSummary { size: end - start, ..DumpSummary::default() };
        let mut gathered: Vec<IoSlice<'_>> = Vec::with_capacity(DUMP_SLICES);
        // File offset of the gathered slices' first byte, and their length.
        let (mut gathered_at, mut gathered_len) = (0u64, 0usize);
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
                if gathered_len > 0 && piece.len() < ZERO_FILL_BELOW && gathered_len as u64 + piece.len() <= DUMP_BUFFER as u64 {
                    if gathered.len() == DUMP_SLICES {
                        out.write_at(gathered_at, &mut gathered)?;
                        gathered.clear();
                        gathered_at += gathered_len as u64;
                        gathered_len = 0;
                    }
                    // `piece.len() < ZERO_FILL_BELOW <= DUMP_HOLE`: inside ZEROS.
                    gathered.push(IoSlice::new(&ZEROS[..piece.len() as usize]));
                    gathered_len += piece.len() as usize;
                }
                continue;
            };
            summary.dumped += bytes.len() as u64;
            if let Some(feed) = hash.as_deref_mut() {
                feed.bytes(offset, bytes);
            }
            if let Some(progress) = progress {
                progress.advance(bytes.len() as u64);
            }
            let joins = gathered_at + gathered_len as u64 == offset;
            if gathered_len > 0 && (!joins || gathered_len + bytes.len() > DUMP_BUFFER || gathered.len() == DUMP_SLICES) {
                out.write_at(gathered_at, &mut gathered)?;
                gathered.clear();
                gathered_len = 0;
            }
            if bytes.len() >= DUMP_BUFFER {
                // One write per STEP bytes: cancellation is checked between them.
                for (k, chunk) in bytes.chunks(STEP).enumerate() {
                    out.write_at(offset + (k * STEP) as u64, &mut [IoSlice::new(chunk)])?;
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
            out.write_at(gathered_at, &mut gathered)?;
        }
        out.end_at(summary.size)?;
        if let Some(feed) = hash {
            feed.zeros_to(summary.size);
            feed.flush();
        }
        if let Some(progress) = progress {
            progress.finish();
        }
        Ok(summary)
    }
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    use super::super::content::{Content, Piece};
    use super::super::{Missing, ProcessMemory, Vma};
    use super::DUMP_HOLE;

    fn file_sha256(path: &std::path::Path) -> [u8; 32] {
        Sha256::digest(std::fs::read(path).unwrap()).into()
    }

    /// The hash taken while writing is the hash of the file as written, on
    /// every shape: holes written as zeros, holes left sparse, gaps between
    /// areas, a range that starts or ends inside a piece or past the last one.
    #[test]
    fn the_hash_taken_while_writing_is_the_hash_of_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("dump.bin");
        // Many tiny pieces (dumped, zero, missing, gaps) in three areas.
        let bytes: Vec<u8> = (0..20_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
        for seed in [1, 7, 42] {
            let memory = super::super::search::tests::fragmented(seed, &bytes);
            let (first, last) = (memory.vmas[0].start, memory.vmas[2].end);
            for (start, end) in [(first, last), (first + 3, last - 5), (first - 0x800, last + 0x2_0000), (last - 1, last + 1)] {
                let (summary, digest) = memory.dump_sha256(start, end, &out, None).unwrap();
                assert_eq!(summary.size, end - start);
                assert_eq!(std::fs::metadata(&out).unwrap().len(), end - start);
                assert_eq!(digest, Some(file_sha256(&out)), "seed {seed}, {start:#x}-{end:#x}");
                assert_eq!(memory.dump_with(start, end, &out, None).unwrap(), summary);
            }
        }
        // Long holes (left sparse), and a run larger than one gathered write.
        let big: Vec<u8> = (0..(9u32 << 20)).map(|i| (i % 251) as u8).collect();
        let base = 0x10_0000u64;
        let hole = 3 * DUMP_HOLE + 17;
        let mut pieces = Vec::new();
        let mut at = base;
        for (len, content) in [
            (5, Content::Dumped(&big[..5])),
            (hole, Content::Zero),
            (big.len() as u64 - 10, Content::Dumped(&big[5..big.len() - 5])),
            (3, Content::Missing(Missing::Lazy)),
            (5, Content::Dumped(&big[big.len() - 5..])),
        ] {
            pieces.push(Piece { start: at, end: at + len, vma: 0, content });
            at += len;
        }
        let vmas = vec![Vma { start: base, end: at, pgoff: 0, shmid: 0, prot: 3, flags: 0x22, status: 1, path: None }];
        let memory = ProcessMemory { pid: 1, page_size: 4096, vmas, pieces, sources: vec![&big] };
        for (start, end) in [(base, at), (base + 2, at + DUMP_HOLE * 2), (base + 6, base + 7)] {
            let (_, digest) = memory.dump_sha256(start, end, &out, None).unwrap();
            assert_eq!(digest, Some(file_sha256(&out)), "{start:#x}-{end:#x}");
        }
        // Not a regular file (here a FIFO; `/dev/null` alike): written in
        // order, holes as zeros, and nothing to hash.
        let fifo = dir.path().join("fifo");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let reader = std::thread::spawn({
            let fifo = fifo.clone();
            move || std::fs::read(fifo).unwrap()
        });
        let (summary, digest) = memory.dump_sha256(base + 2, at + 5, &fifo, None).unwrap();
        assert_eq!(digest, None);
        let streamed = reader.join().unwrap();
        memory.dump(base + 2, at + 5, &out).unwrap();
        assert_eq!(streamed.len() as u64, summary.size);
        assert!(streamed == std::fs::read(&out).unwrap(), "the FIFO got what the file holds");
    }

    /// A dump that fails removes the file it created, never one that was
    /// there (a file to overwrite, `/dev/null`).
    #[test]
    fn a_failed_dump_removes_only_a_file_it_created() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = vec![7u8; 4096];
        let memory = super::super::search::tests::fragmented(3, &bytes);
        let (start, end) = (memory.vmas[0].start, memory.vmas[2].end);
        let cancelled = crate::progress::Progress::new();
        cancelled.cancel();
        let new = dir.path().join("new.bin");
        let err = memory.dump_sha256(start, end, &new, Some(&cancelled)).unwrap_err();
        assert!(matches!(err, crate::error::Error::Cancelled), "{err:?}");
        assert!(!new.exists());
        let there = dir.path().join("there.bin");
        std::fs::write(&there, b"before").unwrap();
        assert!(memory.dump_with(start, end, &there, Some(&cancelled)).is_err());
        assert!(there.exists());
    }
}
