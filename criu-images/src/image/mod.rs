//! Framing of CRIU images: the magics, the size-prefixed entries and the raw
//! payloads that follow some of them, as borrowed views over the file bytes.
//!
//! ```text
//! image := [HEAD u32] TYPE u32 { SIZE u32, MESSAGE[SIZE], [EXTRA] }*
//! ```
//!
//! Nothing here copies: an [`Image`] borrows the bytes (usually a memory map),
//! and iterating [`Image::entries`] yields [`Entry`] values whose message and
//! extra payload are slices of those bytes. Decoding a message into its typed
//! form happens only when asked, with [`Entry::decode`].

mod endian;
mod entries;
mod file;
mod kind;
mod magic;

use std::fmt;

pub use endian::Endian;
pub use entries::{Entries, Entry, Extra, Frame, IpcMessage};
pub use file::ImageFile;

pub use kind::{
    match_file_pattern, raw_image_kind, ExtraKind, Head, ImageKind, Layout, IMG_COMMON_MAGIC, IMG_SERVICE_MAGIC, KDAT_MAGIC, RAW_IMAGES,
};

use crate::error::{Location, Result};
use magic::detect;

/// A CRIU protobuf image, borrowed from its bytes.
///
/// ```
/// use criu_images::image::{Image, ImageKind};
///
/// // IMG_COMMON, PSTREE, then one 2-byte entry: pstree_entry { pid: 1 }
/// let bytes = [
///     0x19, 0x43, 0x56, 0x54, 0x30, 0x30, 0x27, 0x50,
///     0x02, 0x00, 0x00, 0x00, 0x08, 0x01,
/// ];
/// let image = Image::parse("pstree.img", &bytes)?;
/// assert_eq!(image.kind(), ImageKind::Pstree);
/// for entry in image.entries() {
///     let entry = entry?;
///     assert_eq!(entry.payload(), &[0x08, 0x01]);
/// }
/// # Ok::<(), criu_images::Error>(())
/// ```
#[derive(Clone, Copy)]
pub struct Image<'a> {
    name: &'a str,
    data: &'a [u8],
    kind: ImageKind,
    head: Head,
    endian: Endian,
    body: usize,
}

impl fmt::Debug for Image<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Image")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("head", &self.head)
            .field("endian", &self.endian)
            .field("len", &self.data.len())
            .finish()
    }
}

impl<'a> Image<'a> {
    /// Recognises the image from its magics. `name` is used in errors and to
    /// explain magic-less (raw) images such as `pages-1.img`.
    pub fn parse(name: &'a str, data: &'a [u8]) -> Result<Image<'a>> {
        let (kind, head, endian, body) = detect(name, data)?;
        Ok(Image { name, data, kind, head, endian, body })
    }

    /// The image kind, from its type magic.
    pub fn kind(&self) -> ImageKind {
        self.kind
    }

    /// The type magic.
    pub fn magic(&self) -> u32 {
        self.kind.magic()
    }

    /// The head magic found before the type magic.
    pub fn head(&self) -> Head {
        self.head
    }

    /// Byte order of the framing.
    pub fn endian(&self) -> Endian {
        self.endian
    }

    /// The name given to [`Image::parse`].
    pub fn name(&self) -> &'a str {
        self.name
    }

    /// All bytes of the image, magics included.
    pub fn data(&self) -> &'a [u8] {
        self.data
    }

    /// Offset of the first entry (after the magics).
    pub fn body_offset(&self) -> usize {
        self.body
    }

    /// Iterates the entries lazily; each item borrows from the image bytes.
    pub fn entries(&self) -> Entries<'a> {
        Entries::new(*self)
    }

    /// Number of entries, after checking that every one of them is framed
    /// correctly (extra payloads included).
    pub fn count(&self) -> Result<usize> {
        let mut count = 0;
        for entry in self.entries() {
            entry?;
            count += 1;
        }
        Ok(count)
    }

    fn at(&self, offset: usize) -> Location {
        Location::new(self.name, offset as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use crate::proto::wire;

    fn image_bytes(head: Option<u32>, magic: u32, entries: &[&[u8]], endian: Endian) -> Vec<u8> {
        let mut out = Vec::new();
        if let Some(head) = head {
            out.extend(endian.u32_bytes(head));
        }
        out.extend(endian.u32_bytes(magic));
        for e in entries {
            out.extend(endian.u32_bytes(e.len() as u32));
            out.extend_from_slice(e);
        }
        out
    }

    #[test]
    fn detects_heads_and_byte_order() {
        let le = image_bytes(Some(IMG_COMMON_MAGIC), ImageKind::Pstree.magic(), &[&[8, 1]], Endian::Little);
        let image = Image::parse("pstree.img", &le).unwrap();
        assert_eq!((image.kind(), image.head(), image.endian()), (ImageKind::Pstree, Head::Common, Endian::Little));

        let be = image_bytes(Some(IMG_COMMON_MAGIC), ImageKind::Pstree.magic(), &[&[8, 1]], Endian::Big);
        let image = Image::parse("pstree.img", &be).unwrap();
        assert_eq!(image.endian(), Endian::Big);
        let entry = image.entries().next().unwrap().unwrap();
        assert_eq!(entry.payload(), &[8, 1]);

        let inv = image_bytes(None, ImageKind::Inventory.magic(), &[], Endian::Little);
        let image = Image::parse("inventory.img", &inv).unwrap();
        assert_eq!((image.kind(), image.head()), (ImageKind::Inventory, Head::None));
        assert_eq!(image.count().unwrap(), 0);

        let stats = image_bytes(Some(IMG_SERVICE_MAGIC), ImageKind::Stats.magic(), &[], Endian::Little);
        assert_eq!(Image::parse("stats-dump", &stats).unwrap().head(), Head::Service);
    }

    #[test]
    fn raw_and_unknown_images_are_explained() {
        let pages = vec![0u8; 4096];
        let err = Image::parse("dir/pages-1.img", &pages).unwrap_err();
        assert!(matches!(err, Error::RawImage { kind: "pages", .. }), "{err}");

        let err = Image::parse("mystery.bin", &pages).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("unknown image magic 0x00000000") && text.contains("pages"), "{text}");

        let err = Image::parse("x.img", &[1, 2]).unwrap_err();
        assert!(err.to_string().contains("truncated"), "{err}");

        let bad_type = image_bytes(Some(IMG_COMMON_MAGIC), 0xdead_beef, &[], Endian::Little);
        let err = Image::parse("x.img", &bad_type).unwrap_err();
        assert!(err.to_string().contains("offset 4") && err.to_string().contains("0xdeadbeef"), "{err}");
    }

    #[test]
    fn oversized_entries_are_truncation_errors() {
        let mut bytes = image_bytes(Some(IMG_COMMON_MAGIC), ImageKind::Pstree.magic(), &[&[8, 1]], Endian::Little);
        bytes.extend(1_000_000u32.to_le_bytes());
        bytes.extend([1, 2, 3]);
        let image = Image::parse("pstree.img", &bytes).unwrap();
        let results: Vec<_> = image.entries().collect();
        assert_eq!(results.len(), 2);
        let err = results[1].as_ref().unwrap_err().to_string();
        assert!(err.contains("offset 18") && err.contains("entry 1") && err.contains("1000000 bytes"), "{err}");
    }

    #[test]
    fn pipe_data_extra_follows_the_message() {
        // pipe_data_entry { pipe_id: 7, bytes: 3 } then "abc"
        let mut bytes = image_bytes(Some(IMG_COMMON_MAGIC), ImageKind::PipesData.magic(), &[&[0x08, 7, 0x10, 3]], Endian::Little);
        bytes.extend(b"abc");
        let image = Image::parse("pipes-data.img", &bytes).unwrap();
        let entries: Vec<_> = image.entries().map(Result::unwrap).collect();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].extra(), &Extra::Bytes(b"abc"));
    }

    #[test]
    fn huge_extra_sizes_are_truncation_errors_not_overflows() {
        let mut max = Vec::new();
        wire::put_varint(&mut max, u64::MAX);
        let tagged = |key: u8| [&[key][..], &max].concat();
        // ipc_shm_entry { size: u64::MAX }: padding the size must not overflow.
        // ipc_sem_entry { nsems: u64::MAX varint }, bpfmap_data_entry
        // { keys_bytes, values_bytes: u64::MAX varints }: the uint32 fields
        // keep their low 32 bits, as protobuf reads them.
        let cases: [(ImageKind, Vec<u8>, &str); 3] = [
            (ImageKind::IpcnsShm, tagged(0x10), "18446744073709551615 bytes of shared memory"),
            (ImageKind::IpcnsSem, tagged(0x10), "8589934590 bytes of semaphore values"),
            (ImageKind::BpfmapData, [tagged(0x10), tagged(0x18)].concat(), "8589934590 bytes of BPF map"),
        ];
        for (kind, payload, expected) in cases {
            let bytes = image_bytes(Some(IMG_COMMON_MAGIC), kind.magic(), &[&payload], Endian::Little);
            let image = Image::parse("x.img", &bytes).unwrap();
            let result: Result<Vec<_>> = image.entries().collect();
            let err = result.unwrap_err().to_string();
            assert!(err.contains(expected) && err.contains("x.img: offset"), "{kind}: {err}");
        }
    }

    #[test]
    fn uint32_extra_sizes_keep_their_low_32_bits() {
        // pipe_data_entry { pipe_id: 7, bytes: 2^32 + 3 } then "abc": protobuf
        // (and the decoded JSON) says bytes = 3.
        let mut entry = vec![0x08, 7, 0x10];
        wire::put_varint(&mut entry, (1 << 32) + 3);
        let mut bytes = image_bytes(Some(IMG_COMMON_MAGIC), ImageKind::PipesData.magic(), &[&entry], Endian::Little);
        bytes.extend(b"abc");
        let image = Image::parse("pipes-data.img", &bytes).unwrap();
        let entries: Vec<_> = image.entries().map(Result::unwrap).collect();
        assert_eq!(entries[0].extra(), &Extra::Bytes(b"abc"));
    }

    #[test]
    fn ipc_shm_in_pagemaps_has_no_inline_data() {
        // ipc_shm_entry { size: 4096 (field 2), in_pagemaps: true (field 3) }, twice.
        let shm: &[u8] = &[0x10, 0x80, 0x20, 0x18, 0x01];
        let bytes = image_bytes(Some(IMG_COMMON_MAGIC), ImageKind::IpcnsShm.magic(), &[shm, shm], Endian::Little);
        let image = Image::parse("ipcns-shm-9.img", &bytes).unwrap();
        assert_eq!(image.count().unwrap(), 2);
    }
}
