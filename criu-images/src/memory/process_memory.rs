//! The reconstructed address space of one process, and its reads.

use std::borrow::Cow;

use super::content::{Content, FileOrigin, Origin, PageCounts, Piece};
use super::Vma;
use crate::error::{Error, Result};

/// The reconstructed address space of one process.
pub struct ProcessMemory<'a> {
    pub(super) pid: u32,
    pub(super) page_size: u64,
    pub(super) vmas: Vec<Vma>,
    pub(super) pieces: Vec<Piece<'a>>,
    /// Every data source the pieces' bytes are cut from (pages files, filled
    /// files), sorted by address: a search finds which one holds a piece and
    /// scans the bytes of neighbouring pieces as one slice (dumped pages
    /// follow each other in a pages file whatever the address layout).
    pub(super) sources: Vec<&'a [u8]>,
}

/// The most zero bytes one read copies out beyond the dumped and file bytes
/// of its range: zero pages cost nothing in the checkpoint, so a hostile
/// range over a huge zero area must not turn into gigabytes of allocation.
/// Larger ranges: [`ProcessMemory::read_up_to`] in parts, or
/// [`ProcessMemory::dump`].
pub const MAX_ZERO_READ: u64 = 64 << 20;

impl<'a> ProcessMemory<'a> {
    /// The process id as the images hold it.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The page size of the checkpointed machine.
    pub fn page_size(&self) -> u64 {
        self.page_size
    }

    /// Memory areas in address order.
    pub fn vmas(&self) -> &[Vma] {
        &self.vmas
    }

    /// The VMA containing `addr`.
    pub fn vma_at(&self, addr: u64) -> Option<&Vma> {
        let i = self.vmas.partition_point(|v| v.end <= addr);
        self.vmas.get(i).filter(|v| v.start <= addr)
    }

    /// The VMA containing `addr`; an [`Error::Memory`] if none does.
    pub fn area_containing(&self, addr: u64) -> Result<&Vma> {
        self.vma_at(addr).ok_or_else(|| self.error(addr, "no memory area contains this address"))
    }

    /// Every piece of every VMA, in address order.
    pub fn pieces(&self) -> &[Piece<'a>] {
        &self.pieces
    }

    /// The pieces overlapping `[start, end)`, clipped to it. Addresses outside
    /// every VMA yield nothing.
    pub fn pieces_in(&self, start: u64, end: u64) -> impl Iterator<Item = Piece<'a>> + '_ {
        let first = self.pieces.partition_point(|p| p.end <= start);
        self.pieces[first..].iter().take_while(move |p| p.start < end).map(move |p| p.clip(start, end))
    }

    /// Where the byte at `addr` comes from; `None` outside every VMA.
    pub fn origin_at(&self, addr: u64) -> Option<Origin> {
        let i = self.pieces.partition_point(|p| p.end <= addr);
        self.pieces.get(i).filter(|p| p.start <= addr).map(|p| p.content.origin())
    }

    /// Page counts of VMA `index` by kind of content. A page split between
    /// pieces (the end of a file) counts once, for the kind of its first byte.
    pub fn page_counts(&self, index: usize) -> PageCounts {
        let Some(vma) = self.vmas.get(index) else { return PageCounts::default() };
        let mut counts = PageCounts::default();
        // Page starts (from the area's start) in [piece.start, piece.end).
        let starts_before = |addr: u64| (addr - vma.start).div_ceil(self.page_size);
        for piece in self.pieces_in(vma.start, vma.end) {
            let pages = starts_before(piece.end) - starts_before(piece.start);
            match piece.content {
                Content::Dumped(_) => counts.dumped += pages,
                Content::Zero => counts.zero += pages,
                Content::Missing(_) => counts.missing += pages,
                Content::File(_, from) => {
                    counts.from_file += pages;
                    match from {
                        FileOrigin::Checkpoint => counts.from_rootfs_diff += pages,
                        FileOrigin::Supplied => counts.from_rootfs_dir += pages,
                    }
                }
            }
        }
        counts
    }

    /// The bytes at `[addr, addr + len)`: borrowed when they lie in one
    /// dumped run, assembled otherwise (zeros for zero pages). Fails if any
    /// byte is outside every VMA or not in the checkpoint, and (an
    /// [`Error::Memory`]) if assembling would copy more than
    /// [`MAX_ZERO_READ`] bytes of zero pages: use
    /// [`read_up_to`](Self::read_up_to) or [`dump`](Self::dump) for those.
    pub fn read(&self, addr: u64, len: u64) -> Result<Cow<'a, [u8]>> {
        let end = addr.checked_add(len).ok_or_else(|| self.error(addr, "address range overflows"))?;
        let bytes = self.readable_bytes(addr, end)?;
        if let Some(borrowed) = self.borrowed(addr, end) {
            return Ok(Cow::Borrowed(borrowed));
        }
        if len - bytes > MAX_ZERO_READ {
            return Err(self.error(
                addr,
                &format!(
                    "reading {len} bytes here copies {} bytes of zero pages, more than one read makes ({MAX_ZERO_READ}); read it in parts or dump it",
                    len - bytes
                ),
            ));
        }
        Ok(Cow::Owned(self.assemble(addr, end, len)))
    }

    /// How many bytes from `start` (at most `max`, and not past `end`) are
    /// in the checkpoint (dumped, zero, or filled from files), and where and
    /// why reading stops before that many: the part a
    /// [`read_up_to`](Self::read_up_to) of it returns without an error, as
    /// the kernel stops at the first byte it cannot read.
    pub fn readable_prefix(&self, start: u64, end: u64, max: u64) -> (u64, Option<(u64, &'static str)>) {
        let want_end = start.saturating_add(max).min(end);
        let mut at = start;
        for piece in self.pieces_in(start, want_end) {
            if piece.start != at {
                break;
            }
            if let Content::Missing(why) = piece.content {
                return (at - start, Some((at, why.describe())));
            }
            at = piece.end;
        }
        match at < want_end {
            true => (at - start, Some((at, "not in any memory area"))),
            false => (at - start, None),
        }
    }

    /// At most `max` bytes from `addr` of the `len` asked for: the bytes and
    /// whether they were cut short (by `max`, or by [`MAX_ZERO_READ`] bytes
    /// of zero pages). Errors as [`read`](Self::read) for unmapped or
    /// missing bytes inside the part returned; what lies beyond it is not
    /// looked at. Allocates at most the returned length.
    pub fn read_up_to(&self, addr: u64, len: u64, max: u64) -> Result<(Cow<'a, [u8]>, bool)> {
        let want = len.min(max);
        let end = addr.checked_add(want).ok_or_else(|| self.error(addr, "address range overflows"))?;
        // Find where the part ends (at `end`, or where the zero pages copied
        // would pass the limit), checking only the bytes before it.
        let mut at = addr;
        let mut cut = end;
        let mut zeros = 0u64;
        for piece in self.pieces_in(addr, end) {
            if piece.start != at {
                return Err(self.error(at, "address not mapped"));
            }
            match piece.content {
                Content::Missing(why) => return Err(self.error(at, why.describe())),
                Content::Zero if zeros + piece.len() > MAX_ZERO_READ => {
                    cut = piece.start + (MAX_ZERO_READ - zeros);
                    at = cut;
                    break;
                }
                Content::Zero => zeros += piece.len(),
                Content::Dumped(_) | Content::File(..) => {}
            }
            at = piece.end;
        }
        if at != cut {
            return Err(self.error(at, "address not mapped"));
        }
        let taken = cut - addr;
        let bytes = match self.borrowed(addr, cut) {
            Some(borrowed) => Cow::Borrowed(borrowed),
            None => Cow::Owned(self.assemble(addr, cut, taken)),
        };
        Ok((bytes, taken < len))
    }

    /// Checks that every byte of `[addr, end)` is readable (dumped, zero or
    /// from a file), before anything is allocated for it; returns how many
    /// of them are dumped or file bytes.
    fn readable_bytes(&self, addr: u64, end: u64) -> Result<u64> {
        let mut at = addr;
        let mut bytes = 0u64;
        for piece in self.pieces_in(addr, end) {
            if piece.start != at {
                return Err(self.error(at, "address not mapped"));
            }
            match piece.content {
                Content::Missing(why) => return Err(self.error(at, why.describe())),
                Content::Dumped(b) | Content::File(b, _) => bytes += b.len() as u64,
                Content::Zero => {}
            }
            at = piece.end;
        }
        if at != end {
            return Err(self.error(at, "address not mapped"));
        }
        Ok(bytes)
    }

    /// `[addr, end)` as one borrowed slice, when one piece with bytes holds it all.
    fn borrowed(&self, addr: u64, end: u64) -> Option<&'a [u8]> {
        let first = self.pieces_in(addr, end).next()?;
        first.content.bytes().filter(|_| first.start == addr && first.end == end)
    }

    /// The bytes of `[addr, end)` (`len` of them), already checked readable.
    fn assemble(&self, addr: u64, end: u64, len: u64) -> Vec<u8> {
        let mut out = Vec::with_capacity(len as usize);
        for piece in self.pieces_in(addr, end) {
            match piece.content {
                Content::Dumped(bytes) | Content::File(bytes, _) => out.extend_from_slice(bytes),
                Content::Zero => out.resize(out.len() + piece.len() as usize, 0),
                Content::Missing(_) => break,
            }
        }
        out
    }

    /// The NUL-terminated string at `addr` (without the NUL), at most `max` bytes.
    pub fn read_cstring(&self, addr: u64, max: u64) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut at = addr;
        for piece in self.pieces_in(addr, addr.saturating_add(max)) {
            if piece.start != at {
                return Err(self.error(at, "address not mapped"));
            }
            match piece.content {
                Content::Dumped(bytes) | Content::File(bytes, _) => {
                    if let Some(nul) = memchr::memchr(0, bytes) {
                        out.extend_from_slice(&bytes[..nul]);
                        return Ok(out);
                    }
                    out.extend_from_slice(bytes);
                }
                Content::Zero => return Ok(out),
                Content::Missing(why) => return Err(self.error(piece.start, why.describe())),
            }
            at = piece.end;
        }
        Ok(out)
    }

    pub(super) fn error(&self, address: u64, detail: &str) -> Error {
        Error::Memory { pid: self.pid, address, detail: detail.to_string(), checkpoint: String::new() }
    }
}
