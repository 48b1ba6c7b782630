//! CRIU's statistics of the dump (`stats-dump`, a STATS image).

use super::members::STATS_DUMP;
use crate::error::{Error, Location, Result};
use crate::image::{Image, ImageKind};
use crate::proto::wire::{Fields, WireValue};
use crate::proto::Message;

/// CRIU's statistics of the dump (`stats-dump`, message `dump_stats_entry`).
///
/// Every field is `None` when the image does not hold it (CRIU always writes
/// the first seven and `pages_lazy`; the others depend on its version). Times
/// are in microseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct DumpStats {
    /// Time to freeze the process tree (µs).
    pub freezing_time: Option<u64>,
    /// Time the tree stayed frozen, i.e. the application's downtime (µs).
    pub frozen_time: Option<u64>,
    /// Time to collect memory pages into pipes (µs).
    pub memdump_time: Option<u64>,
    /// Time to write the pages to the images (µs).
    pub memwrite_time: Option<u64>,
    /// Pages examined.
    pub pages_scanned: Option<u64>,
    /// Pages not written because a parent (pre-dump) image has them.
    pub pages_skipped_parent: Option<u64>,
    /// Pages written to `pages-*.img`.
    pub pages_written: Option<u64>,
    /// Time to resolve inotify/fanotify watch paths (µs).
    pub irmap_resolve: Option<u64>,
    /// Pages left for lazy migration (a page server serves them at restore).
    pub pages_lazy: Option<u64>,
    /// Page pipes used to collect memory.
    pub page_pipes: Option<u64>,
    /// Buffers in those page pipes.
    pub page_pipe_bufs: Option<u64>,
    /// Shared memory pages examined.
    pub shpages_scanned: Option<u64>,
    /// Shared memory pages a parent image has.
    pub shpages_skipped_parent: Option<u64>,
    /// Shared memory pages written.
    pub shpages_written: Option<u64>,
}

impl DumpStats {
    /// Reads `stats-dump`, a STATS image. `Ok(None)` when it has no entry or
    /// its entry has no dump part (e.g. `stats-restore`). CRIU writes one
    /// entry; a second one is refused.
    ///
    /// ```
    /// use criu_images::model::container::DumpStats;
    ///
    /// // IMG_SERVICE, STATS, one entry: stats_entry { dump { freezing_time: 7, pages_written: 3 } }
    /// let bytes = [
    ///     0x40, 0x59, 0x10, 0x55, 0x06, 0x33, 0x09, 0x57,
    ///     0x06, 0x00, 0x00, 0x00, 0x0a, 0x04, 0x08, 0x07, 0x38, 0x03,
    /// ];
    /// let stats = DumpStats::parse(&bytes)?.expect("a dump entry");
    /// assert_eq!(stats.freezing_time, Some(7));
    /// assert_eq!(stats.pages_written, Some(3));
    /// assert_eq!(stats.frozen_time, None); // not in the entry
    /// # Ok::<(), criu_images::Error>(())
    /// ```
    pub fn parse(stats_dump: &[u8]) -> Result<Option<DumpStats>> {
        let image = Image::parse(STATS_DUMP, stats_dump)?;
        if image.kind() != ImageKind::Stats {
            return Err(Error::Malformed {
                at: Location::new(STATS_DUMP, 0),
                detail: format!("expected a STATS image, found {}", image.kind().name()),
            });
        }
        let mut entries = image.entries();
        let Some(entry) = entries.next().transpose()? else { return Ok(None) };
        if let Some(second) = entries.next().transpose()? {
            return Err(Error::Malformed {
                at: Location::new(STATS_DUMP, second.offset() as u64).in_entry(second.index()),
                detail: "a second stats entry; CRIU writes one".to_string(),
            });
        }
        let stats = match entry.decode()? {
            Message::StatsEntry(stats) => stats,
            other => {
                return Err(Error::Malformed {
                    at: Location::new(STATS_DUMP, entry.offset() as u64).in_entry(0),
                    detail: format!("expected a stats_entry, found {}", other.id().name()),
                })
            }
        };
        let Some(dump) = stats.dump else { return Ok(None) };

        // prost reads an absent `required` field as 0; the wire bytes tell
        // whether CRIU actually wrote it.
        let present = dump_fields_present(entry.payload()).map_err(|err| Error::Protobuf {
            at: Location::new(STATS_DUMP, (entry.offset() + 4 + err.offset) as u64).in_entry(0),
            message: "stats_entry",
            detail: err.what.to_string(),
        })?;
        let required = |number: u32, value: u64| (present & (1 << number) != 0).then_some(value);
        Ok(Some(DumpStats {
            freezing_time: required(1, dump.freezing_time.into()),
            frozen_time: required(2, dump.frozen_time.into()),
            memdump_time: required(3, dump.memdump_time.into()),
            memwrite_time: required(4, dump.memwrite_time.into()),
            pages_scanned: required(5, dump.pages_scanned),
            pages_skipped_parent: required(6, dump.pages_skipped_parent),
            pages_written: required(7, dump.pages_written),
            irmap_resolve: dump.irmap_resolve.map(u64::from),
            pages_lazy: required(9, dump.pages_lazy),
            page_pipes: dump.page_pipes,
            page_pipe_bufs: dump.page_pipe_bufs,
            shpages_scanned: dump.shpages_scanned,
            shpages_skipped_parent: dump.shpages_skipped_parent,
            shpages_written: dump.shpages_written,
        }))
    }
}

/// Bit `n` set for every field number `n` < 32 present in any `dump`
/// (field 1) of a `stats_entry`; repeated `dump`s merge, as in protobuf.
fn dump_fields_present(stats_entry: &[u8]) -> Result<u32, crate::proto::wire::WireError> {
    let mut present = 0u32;
    for field in Fields::new(stats_entry) {
        if let (1, WireValue::Bytes(dump)) = field? {
            for inner in Fields::new(dump) {
                let (number, _) = inner?;
                if number < 32 {
                    present |= 1 << number;
                }
            }
        }
    }
    Ok(present)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats_image(entries: &[&[u8]]) -> Vec<u8> {
        let mut out = vec![0x40, 0x59, 0x10, 0x55, 0x06, 0x33, 0x09, 0x57];
        for entry in entries {
            out.extend_from_slice(&(entry.len() as u32).to_le_bytes());
            out.extend_from_slice(entry);
        }
        out
    }

    #[test]
    fn stats_presence_of_required_fields() {
        // dump { frozen_time: 0 }: present but zero, the rest absent.
        let stats = DumpStats::parse(&stats_image(&[&[0x0a, 0x02, 0x10, 0x00]])).unwrap().unwrap();
        assert_eq!(stats, DumpStats { frozen_time: Some(0), ..DumpStats::default() });
        // optional fields come from prost's own presence.
        let stats = DumpStats::parse(&stats_image(&[&[0x0a, 0x02, 0x70, 0x05]])).unwrap().unwrap();
        assert_eq!(stats, DumpStats { shpages_written: Some(5), ..DumpStats::default() });
    }

    #[test]
    fn stats_without_dump_or_entries() {
        assert_eq!(DumpStats::parse(&stats_image(&[])).unwrap(), None);
        // stats_entry { restore { ... } } only.
        let restore = [0x12, 0x08, 0x08, 0x01, 0x10, 0x02, 0x18, 0x03, 0x20, 0x04];
        assert_eq!(DumpStats::parse(&stats_image(&[&restore])).unwrap(), None);
    }

    #[test]
    fn stats_refuses_other_images_and_extra_entries() {
        let pstree = [0x19, 0x43, 0x56, 0x54, 0x30, 0x30, 0x27, 0x50, 0x02, 0x00, 0x00, 0x00, 0x08, 0x01];
        let err = DumpStats::parse(&pstree).unwrap_err();
        assert!(err.to_string().contains("expected a STATS image, found PSTREE"), "{err}");
        let err = DumpStats::parse(&stats_image(&[&[0x0a, 0x00], &[0x0a, 0x00]])).unwrap_err();
        assert!(matches!(&err, Error::Malformed { at, .. } if at.entry == Some(1)), "{err:?}");
        assert!(DumpStats::parse(b"").is_err());
        let mut truncated = stats_image(&[&[0x0a, 0x02, 0x10, 0x00]]);
        truncated.pop();
        assert!(matches!(DumpStats::parse(&truncated), Err(Error::Truncated { .. })));
        assert!(DumpStats::parse(&stats_image(&[&[0x0a, 0x05, 0x10]])).is_err());
    }
}
