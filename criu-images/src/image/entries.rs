//! Entry framing: the size-prefixed messages of an image and the raw
//! payloads (extras) that follow some of them, as borrowed slices.

use super::{Endian, ExtraKind, Image, Layout};
use crate::error::{Error, Location, Result};
use crate::proto::{message_ids as m, wire, FieldType, Message, MessageId};

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

/// Where an entry is and its message bytes, without what follows it
/// ([`Entries::next_frame`]).
#[derive(Clone, Copy, Debug)]
pub struct Frame<'a> {
    /// Position of the entry in the image, from 0.
    pub index: usize,
    /// Byte offset of the entry's size field in the image.
    pub offset: usize,
    /// The encoded protobuf message, borrowed from the image.
    pub payload: &'a [u8],
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
    /// The entries of `image`, from its first.
    pub(super) fn new(image: Image<'a>) -> Entries<'a> {
        let no_extra = image.kind.extra() == ExtraKind::None && image.kind.layout() != Layout::GhostFile;
        Entries { pos: image.body, image, index: 0, chunked_ghost: false, done: false, no_extra }
    }

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

    /// The next entry as a [`Frame`] (no [`Entry`] built: the framing of
    /// decoders that read every entry of a large image, the entry tables').
    /// For an image whose kind has payloads after its entries, or an entry
    /// cut short, it is [`Iterator::next`]'s entry or error, so the two
    /// never disagree.
    #[inline]
    pub fn next_frame(&mut self) -> Option<Result<Frame<'a>>> {
        if !self.done {
            if let Some(end) = self.plain_entry_end() {
                let frame = Frame { index: self.index, offset: self.pos, payload: &self.image.data[self.pos + 4..end] };
                self.pos = end;
                self.index += 1;
                return Some(Ok(frame));
            }
        }
        self.next_frame_framed()
    }

    /// [`next_frame`](Self::next_frame) by the general path.
    #[cold]
    #[inline(never)]
    fn next_frame_framed(&mut self) -> Option<Result<Frame<'a>>> {
        self.next().map(|entry| entry.map(|e| Frame { index: e.index, offset: e.offset, payload: e.payload }))
    }

    /// How many whole entries follow, for an image without payloads after
    /// its entries (0 otherwise): one pass over the sizes, nothing decoded.
    pub fn count_plain(&self) -> usize {
        let mut rest = self.clone();
        let mut count = 0;
        while !rest.done {
            let Some(end) = rest.plain_entry_end() else { break };
            rest.pos = end;
            count += 1;
        }
        count
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::ImageKind;
    use crate::proto::wire;

    /// An image of `kind` with `entries` (message bytes, then what follows it).
    fn image_bytes(kind: ImageKind, entries: &[(&[u8], &[u8])]) -> Vec<u8> {
        let mut bytes = Vec::new();
        bytes.extend(crate::image::IMG_COMMON_MAGIC.to_le_bytes());
        bytes.extend(kind.magic().to_le_bytes());
        for (message, after) in entries {
            bytes.extend((message.len() as u32).to_le_bytes());
            bytes.extend(*message);
            bytes.extend(*after);
        }
        bytes
    }

    #[test]
    fn frames_are_the_entries_and_fail_as_they_do() {
        // pstree: plain entries; pipes-data: each entry's `bytes` (field 2)
        // of pipe data after it. Every cut of both frames as the entries do.
        let mut pipe = Vec::new();
        wire::put_key(&mut pipe, 1, 0);
        wire::put_varint(&mut pipe, 7);
        wire::put_key(&mut pipe, 2, 0);
        wire::put_varint(&mut pipe, 3);
        let images = [
            (ImageKind::Pstree, image_bytes(ImageKind::Pstree, &[(&[0x08, 0x01], &[]), (&[], &[]), (&[0x08, 0x02, 0x10, 0x01], &[])])),
            (ImageKind::PipesData, image_bytes(ImageKind::PipesData, &[(&pipe, b"abc"), (&pipe, b"def")])),
        ];
        for (kind, whole) in images {
            for cut in 8..=whole.len() {
                let image = Image::parse("x.img", &whole[..cut]).unwrap();
                let entries: Vec<_> =
                    image.entries().map(|e| e.map(|e| (e.index(), e.offset(), e.payload())).map_err(|e| e.to_string())).collect();
                let mut frames = Vec::new();
                let mut framing = image.entries();
                while let Some(frame) = framing.next_frame() {
                    frames.push(frame.map(|f| (f.index, f.offset, f.payload)).map_err(|e| e.to_string()));
                }
                assert_eq!(frames, entries, "{kind:?} cut at {cut}");
                let whole_entries = entries.iter().filter(|e| e.is_ok()).count();
                let counted = image.entries().count_plain();
                match kind {
                    ImageKind::Pstree => assert_eq!(counted, whole_entries, "cut at {cut}"),
                    _ => assert_eq!(counted, 0),
                }
            }
        }
    }
}
