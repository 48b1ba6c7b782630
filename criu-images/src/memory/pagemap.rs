//! Pagemap images: which pages of an address space (or shared memory
//! segment) a dump holds, and where their bytes sit in `pages-<id>.img`.

use crate::error::{Error, Location, Result};
use crate::image::{Image, ImageKind};
use crate::progress::Progress;
use crate::proto::{message_ids, Message, PagemapEntry};

/// The pages are in the parent (pre-dump) images.
pub const PE_PARENT: u32 = 1 << 0;
/// The pages may be restored lazily (a hint; they are dumped if also present).
pub const PE_LAZY: u32 = 1 << 1;
/// The pages are in this dump's `pages-<pages_id>.img`.
pub const PE_PRESENT: u32 = 1 << 2;

/// Entries parsed between two progress reports and cancellation checks.
const ENTRIES_PER_CHECK: usize = 1 << 16;

/// One run of pages, normalised the way CRIU reads it (`in_parent` becomes
/// `PE_PARENT`, a missing `flags` means `PE_PRESENT`, `nr_pages` (field 5)
/// wins over the old 32-bit `compat_nr_pages` (field 2)).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PageRun {
    /// First virtual address (or offset in a shared memory segment).
    pub vaddr: u64,
    /// Number of pages.
    pub nr_pages: u64,
    /// `PE_*` bits.
    pub flags: u32,
    /// Byte offset of the run's data in the pages file, for `PE_PRESENT` runs.
    pub pages_offset: Option<u64>,
}

impl PageRun {
    /// End address (exclusive) for a given page size. [`Pagemap::parse`]
    /// refuses runs whose end overflows; a run built otherwise saturates.
    pub fn end(&self, page_size: u64) -> u64 {
        self.vaddr.saturating_add(self.nr_pages.saturating_mul(page_size))
    }
}

/// A parsed pagemap image.
#[derive(Clone, Debug)]
pub struct Pagemap {
    /// Id of the pages file holding the `PE_PRESENT` data (`pages-<id>.img`).
    pub pages_id: u32,
    /// Runs in ascending address order, never overlapping.
    pub runs: Vec<PageRun>,
    /// Bytes of page data the runs need in the pages file.
    pub pages_len: u64,
}

impl Pagemap {
    /// Parses a pagemap image. Offsets in the pages file advance only for
    /// `PE_PRESENT` runs, as CRIU writes them.
    pub fn parse(image: &Image<'_>, page_size: u64) -> Result<Pagemap> {
        Pagemap::parse_with(image, page_size, None)
    }

    /// [`Pagemap::parse`], adding the bytes of the entries read to
    /// `progress` and stopping with [`Error::Cancelled`] once it is cancelled.
    pub(crate) fn parse_with(image: &Image<'_>, page_size: u64, progress: Option<&Progress>) -> Result<Pagemap> {
        if image.kind() != ImageKind::Pagemap {
            return Err(Error::Malformed {
                at: Location::new(image.name(), 0),
                detail: format!("expected a PAGEMAP image, found {}", image.kind()),
            });
        }
        let mut pages_id = None;
        // An entry takes at least 16 bytes (its size, vaddr, flags and
        // nr_pages fields; 18 to 22 as CRIU writes them): room for every run
        // at once, never more than the image's own size in runs.
        let mut runs: Vec<PageRun> = Vec::with_capacity(image.data().len() / 16);
        let mut offset = 0u64;
        // Bytes of the image up to the last progress report.
        let mut reported = 0usize;
        for entry in image.entries() {
            let entry = entry?;
            if entry.index() % ENTRIES_PER_CHECK == ENTRIES_PER_CHECK - 1 {
                if let Some(progress) = progress {
                    progress.check()?;
                    progress.advance((entry.offset() - reported) as u64);
                    reported = entry.offset();
                }
            }
            let at = || Location::new(image.name(), entry.offset() as u64).in_entry(entry.index());
            // The runs straight into their own type: through `Message`, an
            // enum as large as the largest message, every run was copied
            // several times (a third of the index build of 200k runs).
            let typed = if entry.message_id() == message_ids::PAGEMAP_ENTRY {
                <PagemapEntry as prost::Message>::decode(entry.payload()).ok()
            } else {
                None
            };
            let e = match typed {
                Some(e) => e,
                // (A run that does not decode goes through `Message` for the same error as every other decode.)
                None => match entry.decode()? {
                    Message::PagemapHead(head) => {
                        pages_id = Some(head.pages_id);
                        continue;
                    }
                    Message::PagemapEntry(e) => e,
                    _ => unreachable!("pagemap images hold only pagemap messages"),
                },
            };
            let mut flags = e.flags.unwrap_or(0);
            if e.in_parent == Some(true) {
                flags |= PE_PARENT;
            } else if e.flags.is_none() {
                flags = PE_PRESENT;
            }
            let nr_pages = e.nr_pages.unwrap_or(u64::from(e.compat_nr_pages));
            let bytes = nr_pages.checked_mul(page_size).filter(|&b| e.vaddr.checked_add(b).is_some());
            let Some(bytes) = bytes else {
                return Err(Error::Malformed {
                    at: at(),
                    detail: format!("run of {nr_pages} pages at {:#x} overflows the address space", e.vaddr),
                });
            };
            if e.vaddr % page_size != 0 {
                return Err(Error::Malformed {
                    at: at(),
                    detail: format!("run address {:#x} is not aligned to the {page_size}-byte page size", e.vaddr),
                });
            }
            if let Some(prev) = runs.last() {
                if prev.end(page_size) > e.vaddr {
                    return Err(Error::Malformed {
                        at: at(),
                        detail: format!(
                            "run at {:#x} overlaps or precedes the previous run ({:#x}..{:#x}); pagemaps are sorted",
                            e.vaddr,
                            prev.vaddr,
                            prev.end(page_size)
                        ),
                    });
                }
            }
            let pages_offset = if flags & PE_PRESENT != 0 {
                let here = offset;
                offset =
                    offset.checked_add(bytes).ok_or_else(|| Error::Malformed { at: at(), detail: "page data offset overflows".into() })?;
                Some(here)
            } else {
                None
            };
            if nr_pages > 0 {
                runs.push(PageRun { vaddr: e.vaddr, nr_pages, flags, pages_offset });
            }
        }
        let pages_id = pages_id.ok_or_else(|| Error::Malformed {
            at: Location::new(image.name(), image.body_offset() as u64),
            detail: "pagemap has no pagemap_head entry".into(),
        })?;
        if let Some(progress) = progress {
            progress.advance(image.data().len().saturating_sub(reported) as u64);
        }
        Ok(Pagemap { pages_id, runs, pages_len: offset })
    }

    /// Index of the run containing `addr`, if any.
    pub fn find(&self, addr: u64, page_size: u64) -> Option<usize> {
        let i = self.runs.partition_point(|r| r.end(page_size) <= addr);
        (i < self.runs.len() && self.runs[i].vaddr <= addr).then_some(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::from_json;

    fn parse(runs: &str) -> Result<Pagemap> {
        let json = format!(r#"{{"magic": "PAGEMAP", "entries": [{{"pages_id": 1}}, {runs}]}}"#);
        let bytes = from_json(json.as_bytes(), "pagemap-1.img").unwrap();
        Pagemap::parse(&Image::parse("pagemap-1.img", &bytes).unwrap(), 4096)
    }

    #[test]
    fn runs_that_wrap_the_address_space_are_errors() {
        let top = u64::MAX - 4095;
        for runs in [
            format!(r#"{{"vaddr": {top}, "compat_nr_pages": 0, "flags": 4, "nr_pages": 1}}"#),
            format!(r#"{{"vaddr": 4096, "compat_nr_pages": 0, "flags": 4, "nr_pages": {}}}"#, u64::MAX / 4096),
            format!(r#"{{"vaddr": 0, "compat_nr_pages": 0, "flags": 1, "nr_pages": {}}}"#, 1u64 << 60),
        ] {
            let err = parse(&runs).expect_err(&runs).to_string();
            assert!(err.contains("pagemap-1.img") && err.contains("overflows the address space"), "{err}");
        }
        // The last page of the address space is a run like any other.
        let last = parse(&format!(r#"{{"vaddr": {}, "compat_nr_pages": 0, "flags": 4, "nr_pages": 1}}"#, top - 4096)).unwrap();
        assert_eq!((last.runs[0].end(4096), last.pages_len), (top, 4096));
        let built = PageRun { vaddr: top, nr_pages: u64::MAX, flags: PE_PRESENT, pages_offset: None };
        assert_eq!(built.end(4096), u64::MAX);
    }
}
