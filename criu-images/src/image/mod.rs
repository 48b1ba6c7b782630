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

mod kind;

use std::fmt;
use std::path::Path;

use nom::number::complete::{be_u32, le_u32};
use nom::IResult;

pub use kind::{
    match_file_pattern, raw_image_kind, ExtraKind, Head, ImageKind, Layout, IMG_COMMON_MAGIC, IMG_SERVICE_MAGIC, KDAT_MAGIC, RAW_IMAGES,
};

use crate::archive::{map, open_regular, Backing};
use crate::error::{Error, Location, Result};
use crate::proto::{message_ids as m, wire, FieldType, Message, MessageId};

/// Byte order of an image's framing (sizes, magics and raw extras).
///
/// CRIU writes these in the dumping machine's byte order, so images from
/// s390x are big-endian. Protobuf messages themselves are endian-neutral.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum Endian {
    /// x86-64, arm64, ppc64le, riscv64, ...
    #[default]
    Little,
    /// s390x.
    Big,
}

impl Endian {
    /// Reads a u32 in this byte order.
    #[inline]
    pub fn u32(self, bytes: [u8; 4]) -> u32 {
        match self {
            Endian::Little => u32::from_le_bytes(bytes),
            Endian::Big => u32::from_be_bytes(bytes),
        }
    }

    /// Writes a u32 in this byte order.
    #[inline]
    pub fn u32_bytes(self, value: u32) -> [u8; 4] {
        match self {
            Endian::Little => value.to_le_bytes(),
            Endian::Big => value.to_be_bytes(),
        }
    }

    fn parse_u32(self, input: &[u8]) -> IResult<&[u8], u32> {
        match self {
            Endian::Little => le_u32(input),
            Endian::Big => be_u32(input),
        }
    }
}

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
        let no_extra = self.kind.extra() == ExtraKind::None && self.kind.layout() != Layout::GhostFile;
        Entries { image: *self, pos: self.body, index: 0, chunked_ghost: false, done: false, no_extra }
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

fn detect(name: &str, data: &[u8]) -> Result<(ImageKind, Head, Endian, usize)> {
    let truncated = |offset: usize, expected: &str| Error::Truncated {
        at: Location::new(name, offset as u64),
        expected: expected.to_string(),
        available: data.len().saturating_sub(offset) as u64,
    };
    if data.len() < 4 {
        if let Some(raw) = raw_image_kind(base_name(name)) {
            return Err(Error::RawImage { file: name.to_string(), kind: raw });
        }
        return Err(truncated(0, "a 4-byte image magic"));
    }

    for endian in [Endian::Little, Endian::Big] {
        let (rest, first) = endian.parse_u32(data).expect("length checked above");
        let head = match first {
            IMG_COMMON_MAGIC => Head::Common,
            IMG_SERVICE_MAGIC => Head::Service,
            _ => Head::None,
        };
        if head == Head::None {
            if let Some(kind) = ImageKind::from_magic(first) {
                return Ok((kind, head, endian, 4));
            }
            continue;
        }
        let Ok((_, second)) = endian.parse_u32(rest) else {
            return Err(truncated(4, "the image type magic after the head magic"));
        };
        return match ImageKind::from_magic(second) {
            Some(kind) => Ok((kind, head, endian, 8)),
            None => Err(Error::UnknownMagic { at: Location::new(name, 4), magic: second, hint: String::new() }),
        };
    }

    if let Some(raw) = raw_image_kind(base_name(name)) {
        return Err(Error::RawImage { file: name.to_string(), kind: raw });
    }
    let magic = u32::from_le_bytes(data[..4].try_into().unwrap());
    let hint = if magic == KDAT_MAGIC {
        ": this is CRIU's kernel-features cache (criu.kdat), not an image".to_string()
    } else if data.len().is_multiple_of(4096) {
        ". Maybe this is raw data such as pages-*.img (page contents have no magic)?".to_string()
    } else {
        String::new()
    };
    Err(Error::UnknownMagic { at: Location::new(name, 0), magic, hint })
}

fn base_name(name: &str) -> &str {
    // Accept both plain paths and `archive.tar:member` names.
    let name = name.rsplit(':').next().unwrap_or(name);
    Path::new(name).file_name().and_then(|n| n.to_str()).unwrap_or(name)
}

/// One entry of an image: its message bytes and any raw payload after it.
#[derive(Clone, Debug)]
pub struct Entry<'a> {
    index: usize,
    offset: usize,
    message: MessageId,
    payload: &'a [u8],
    extra: Extra<'a>,
    name: &'a str,
}

impl<'a> Entry<'a> {
    /// Position of the entry in the image, from 0.
    pub fn index(&self) -> usize {
        self.index
    }

    /// Byte offset of the entry's size field in the image.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// The message type of this entry.
    pub fn message_id(&self) -> MessageId {
        self.message
    }

    /// The encoded protobuf message, borrowed from the image.
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }

    /// The raw payload that follows the message, if the image kind has one.
    pub fn extra(&self) -> &Extra<'a> {
        &self.extra
    }

    /// Decodes the message into its typed prost form (strings that are not
    /// UTF-8 are read lossily: see [`MessageId::decode`]).
    pub fn decode(&self) -> Result<Message> {
        self.message.decode(self.payload).map_err(|err| Error::Protobuf {
            at: Location::new(self.name, self.offset as u64 + 4).in_entry(self.index),
            message: self.message.name(),
            detail: err.to_string(),
        })
    }
}

/// Raw bytes stored after an entry's message.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Extra<'a> {
    /// Nothing follows the message.
    None,
    /// One run of bytes: pipe/FIFO contents, a queued socket packet, BPF map
    /// keys and values, SysV shm contents, or ghost file data.
    Bytes(&'a [u8]),
    /// A TCP connection's receive and send queues.
    TcpQueues {
        /// Received, not yet read by the application.
        inq: &'a [u8],
        /// Written, not yet acknowledged by the peer.
        outq: &'a [u8],
    },
    /// Semaphore values: `nsems` u16 in the image's byte order.
    Semaphores {
        /// `2 * nsems` bytes.
        values: &'a [u8],
        /// Byte order of the values.
        endian: Endian,
    },
    /// The messages of a SysV message queue.
    Messages(Vec<IpcMessage<'a>>),
}

impl Extra<'_> {
    /// Number of payload bytes (padding excluded), as crit's `--nopl` counts them.
    pub fn payload_len(&self) -> u64 {
        match self {
            Extra::None => 0,
            Extra::Bytes(b) => b.len() as u64,
            Extra::TcpQueues { inq, outq } => (inq.len() + outq.len()) as u64,
            Extra::Semaphores { values, .. } => values.len() as u64,
            Extra::Messages(msgs) => msgs.iter().map(|m| (m.header.len() + m.data.len()) as u64).sum(),
        }
    }

    /// The semaphore values, for [`Extra::Semaphores`].
    pub fn semaphores(&self) -> Option<Vec<u16>> {
        match self {
            Extra::Semaphores { values, endian } => Some(
                values
                    .chunks_exact(2)
                    .map(|c| match endian {
                        Endian::Little => u16::from_le_bytes([c[0], c[1]]),
                        Endian::Big => u16::from_be_bytes([c[0], c[1]]),
                    })
                    .collect(),
            ),
            _ => None,
        }
    }
}

/// One message of a SysV message queue (`ipcns-msg-*.img`).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct IpcMessage<'a> {
    /// Encoded `ipc_msg` (mtype, msize).
    pub header: &'a [u8],
    /// `msize` bytes of message text.
    pub data: &'a [u8],
}

/// Iterator over the entries of an [`Image`]. A clone resumes where the
/// original stands.
#[derive(Clone)]
pub struct Entries<'a> {
    image: Image<'a>,
    pos: usize,
    index: usize,
    chunked_ghost: bool,
    done: bool,
    // Entries are a size and a message, nothing after: the common case,
    // framed without looking at the payload.
    no_extra: bool,
}

impl<'a> Entries<'a> {
    /// Byte offset of the next entry.
    pub fn offset(&self) -> usize {
        self.pos
    }

    fn next_entry(&mut self) -> Result<Entry<'a>> {
        if let Some(entry) = self.next_plain_entry() {
            return Ok(entry);
        }
        // Entries with extra payloads, and truncated ones: the general path
        // frames them and words the error.
        let image = self.image;
        let data = image.data;
        let start = self.pos;
        let index = self.index;
        let size = self.read_u32(start, "a 4-byte entry size")?;
        let payload = self.slice_at(start + 4, size as u64, || format!("an entry of {size} bytes"))?;
        let mut pos = start + 4 + payload.len();
        let message = image.kind.entry_message(if self.chunked_ghost { 1 } else { index });

        let scalar = |field: &str| -> Result<u64> {
            let field = message.schema().field_by_name(field).expect("extra-size fields exist in the schema");
            wire::last_varint(payload, field.number).map(|v| declared_value(field.ty, v.unwrap_or(0))).map_err(|err| Error::Protobuf {
                at: image.at(start + 4 + err.offset).in_entry(index),
                message: message.name(),
                detail: err.what.to_string(),
            })
        };

        let extra = match (image.kind.layout(), image.kind.extra()) {
            (Layout::GhostFile, _) if index == 0 => {
                if scalar("chunks")? != 0 {
                    self.chunked_ghost = true;
                    Extra::None
                } else {
                    // The whole file's contents follow the only entry.
                    let rest = &data[pos..];
                    pos = data.len();
                    self.done = true;
                    Extra::Bytes(rest)
                }
            }
            (Layout::GhostFile, _) => {
                let len = scalar("len")?;
                let bytes = self.slice_at(pos, len, || format!("{len} bytes of ghost file data"))?;
                pos += bytes.len();
                Extra::Bytes(bytes)
            }
            (_, ExtraKind::None) => Extra::None,
            (_, ExtraKind::PipeData) => {
                let len = scalar("bytes")?;
                let bytes = self.slice_at(pos, len, || format!("{len} bytes of pipe data"))?;
                pos += bytes.len();
                Extra::Bytes(bytes)
            }
            (_, ExtraKind::SkQueue) => {
                let len = scalar("length")?;
                let bytes = self.slice_at(pos, len, || format!("{len} bytes of queued socket data"))?;
                pos += bytes.len();
                Extra::Bytes(bytes)
            }
            (_, ExtraKind::BpfmapData) => {
                let len = scalar("keys_bytes")?.saturating_add(scalar("values_bytes")?);
                let bytes = self.slice_at(pos, len, || format!("{len} bytes of BPF map keys and values"))?;
                pos += bytes.len();
                Extra::Bytes(bytes)
            }
            (_, ExtraKind::TcpStream) => {
                let inq_len = scalar("inq_len")?;
                let outq_len = scalar("outq_len")?;
                let inq = self.slice_at(pos, inq_len, || format!("{inq_len} bytes of TCP receive queue"))?;
                pos += inq.len();
                let outq = self.slice_at(pos, outq_len, || format!("{outq_len} bytes of TCP send queue"))?;
                pos += outq.len();
                Extra::TcpQueues { inq, outq }
            }
            (_, ExtraKind::IpcSem) => {
                let len = scalar("nsems")?.saturating_mul(2);
                let padded = round_up(len, 8);
                let bytes = self.slice_at(pos, padded, || format!("{len} bytes of semaphore values padded to {padded}"))?;
                pos += bytes.len();
                Extra::Semaphores { values: &bytes[..len as usize], endian: image.endian }
            }
            (_, ExtraKind::IpcShm) => {
                if scalar("in_pagemaps")? != 0 {
                    // Modern CRIU keeps the contents in pagemap-shmem images.
                    Extra::None
                } else {
                    let len = scalar("size")?;
                    let padded = round_up(len, 4);
                    let bytes = self.slice_at(pos, padded, || format!("{len} bytes of shared memory padded to {padded}"))?;
                    pos += bytes.len();
                    Extra::Bytes(&bytes[..len as usize])
                }
            }
            (_, ExtraKind::IpcMsg) => {
                let qnum = scalar("qnum")?;
                // Each message takes at least its 4-byte size: bound the allocation by the input.
                let mut messages = Vec::with_capacity(qnum.min(((data.len() - pos) / 4) as u64) as usize);
                for _ in 0..qnum {
                    if pos == data.len() {
                        break; // crit stops at end of file as well
                    }
                    let header_size = self.read_u32(pos, "a 4-byte message size")?;
                    let header = self.slice_at(pos + 4, header_size as u64, || format!("an ipc_msg of {header_size} bytes"))?;
                    let msize = wire::last_varint(header, 2)
                        .map(|v| v.map(|v| declared_value(FieldType::Uint32, v)))
                        .map_err(|err| Error::Protobuf {
                            at: image.at(pos + 4 + err.offset).in_entry(index),
                            message: m::IPC_MSG.name(),
                            detail: err.what.to_string(),
                        })?
                        .unwrap_or(0);
                    pos += 4 + header.len();
                    let padded = round_up(msize, 8);
                    let body = self.slice_at(pos, padded, || format!("{msize} bytes of message text padded to {padded}"))?;
                    pos += body.len();
                    messages.push(IpcMessage { header, data: &body[..msize as usize] });
                }
                Extra::Messages(messages)
            }
        };

        self.pos = pos;
        self.index += 1;
        Ok(Entry { index, offset: start, message, payload, extra, name: image.name })
    }

    /// Steps over the next entry, checking its framing like
    /// [`Iterator::next`] does, without building it.
    #[inline]
    pub(crate) fn skip_entry(&mut self) -> Option<Result<()>> {
        if !self.done {
            if let Some(end) = self.plain_entry_end() {
                self.pos = end;
                self.index += 1;
                return Some(Ok(()));
            }
        }
        self.next().map(|entry| entry.map(drop))
    }

    /// The next entry of an image without extra payloads, when it is whole.
    #[inline]
    fn next_plain_entry(&mut self) -> Option<Entry<'a>> {
        let end = self.plain_entry_end()?;
        let image = self.image;
        let (start, index) = (self.pos, self.index);
        self.pos = end;
        self.index += 1;
        let payload = &image.data[start + 4..end];
        Some(Entry { index, offset: start, message: image.kind.entry_message(index), payload, extra: Extra::None, name: image.name })
    }

    /// Where the next entry ends, for an image without extra payloads and
    /// an entry that is whole (`None` otherwise: the general path decides).
    #[inline]
    fn plain_entry_end(&self) -> Option<usize> {
        if !self.no_extra {
            return None;
        }
        let data = self.image.data;
        let size = self.image.endian.u32(data.get(self.pos..self.pos + 4)?.try_into().ok()?);
        let end = (self.pos + 4).checked_add(size as usize)?;
        (end <= data.len()).then_some(end)
    }

    fn read_u32(&self, offset: usize, expected: &str) -> Result<u32> {
        let data = self.image.data;
        match data.get(offset..offset + 4) {
            Some(bytes) => Ok(self.image.endian.u32(bytes.try_into().unwrap())),
            None => Err(Error::Truncated {
                at: self.image.at(offset).in_entry(self.index),
                expected: expected.to_string(),
                available: data.len().saturating_sub(offset) as u64,
            }),
        }
    }

    fn slice_at(&self, offset: usize, len: u64, expected: impl FnOnce() -> String) -> Result<&'a [u8]> {
        let data = self.image.data;
        let available = data.len().saturating_sub(offset) as u64;
        if len > available {
            return Err(Error::Truncated { at: self.image.at(offset).in_entry(self.index), expected: expected(), available });
        }
        Ok(&data[offset..offset + len as usize])
    }
}

impl<'a> Iterator for Entries<'a> {
    type Item = Result<Entry<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.pos >= self.image.data.len() {
            return None;
        }
        let entry = self.next_entry();
        if entry.is_err() {
            self.done = true;
        }
        Some(entry)
    }
}

/// `value` rounded up to a multiple of `to`; saturates instead of
/// overflowing, so that a hostile size fails the bounds check instead.
fn round_up(value: u64, to: u64) -> u64 {
    value.div_ceil(to).saturating_mul(to)
}

/// The value protobuf gives a varint field of type `ty`: a `uint32` keeps
/// only the low 32 bits (as prost and crit read it), so the framing sizes an
/// extra payload exactly as the decoded message says.
fn declared_value(ty: FieldType, raw: u64) -> u64 {
    match ty {
        FieldType::Uint32 => u64::from(raw as u32),
        _ => raw,
    }
}

/// An image file held in memory: memory-mapped from disk, or owned bytes
/// (e.g. read from standard input).
pub struct ImageFile {
    name: String,
    bytes: Backing,
}

impl ImageFile {
    /// Memory-maps the file at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<ImageFile> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let bytes = map(&open_regular(path, &name)?, &name)?;
        Ok(ImageFile { name, bytes })
    }

    /// Wraps bytes already in memory.
    pub fn from_bytes(name: impl Into<String>, bytes: Vec<u8>) -> ImageFile {
        ImageFile { name: name.into(), bytes: Backing::Owned(bytes) }
    }

    /// The file's name, as used in errors.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The file's bytes.
    pub fn bytes(&self) -> &[u8] {
        self.bytes.bytes()
    }

    /// Parses the image head; entries are read lazily from the mapping.
    pub fn image(&self) -> Result<Image<'_>> {
        Image::parse(&self.name, self.bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
