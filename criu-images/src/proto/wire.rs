//! The protobuf wire format, read over borrowed bytes and written to a `Vec`.
//!
//! Only what CRIU images use: varints, 32- and 64-bit fixed values and
//! length-delimited fields. Groups (wire types 3 and 4) are rejected.

use std::fmt;

/// A wire-level value, borrowed from the message bytes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum WireValue<'a> {
    /// Wire type 0.
    Varint(u64),
    /// Wire type 1.
    Fixed64(u64),
    /// Wire type 2: strings, bytes, messages and packed repeated scalars.
    Bytes(&'a [u8]),
    /// Wire type 5.
    Fixed32(u32),
}

impl WireValue<'_> {
    /// The protobuf wire type number of this value.
    pub fn wire_type(&self) -> u8 {
        match self {
            WireValue::Varint(_) => 0,
            WireValue::Fixed64(_) => 1,
            WireValue::Bytes(_) => 2,
            WireValue::Fixed32(_) => 5,
        }
    }
}

/// A malformed protobuf message: where inside the message, and what was wrong.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct WireError {
    /// Byte offset inside the message where the problem starts.
    pub offset: usize,
    /// What was expected there.
    pub what: &'static str,
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {} of the message", self.what, self.offset)
    }
}

impl std::error::Error for WireError {}

/// Reads a varint at `*pos`, advancing it.
#[inline(always)]
pub fn read_varint(data: &[u8], pos: &mut usize) -> Result<u64, WireError> {
    let start = *pos;
    match data.get(start..) {
        Some([first, ..]) if *first < 0x80 => {
            *pos = start + 1;
            return Ok(u64::from(*first));
        }
        // Up to 8 bytes (every address, size and flag word CRIU writes),
        // read as one word: the end is the first byte below 0x80, and the
        // 7-bit groups are packed in three shift-and-mask steps.
        Some([b0, b1, b2, b3, b4, b5, b6, b7, ..]) if u64::from_le_bytes([*b0, *b1, *b2, *b3, *b4, *b5, *b6, *b7]) & STOPS != STOPS => {
            let word = u64::from_le_bytes([*b0, *b1, *b2, *b3, *b4, *b5, *b6, *b7]);
            let ends = !word & STOPS;
            let len = ends.trailing_zeros() as usize / 8 + 1;
            let kept = if len == 8 { !0 } else { (1u64 << (8 * len)) - 1 };
            let mut value = word & kept & !STOPS;
            value = (value & 0x00ff_00ff_00ff_00ff) | ((value & 0xff00_ff00_ff00_ff00) >> 1);
            value = (value & 0x0000_ffff_0000_ffff) | ((value & 0xffff_0000_ffff_0000) >> 2);
            value = (value & 0x0000_0000_ffff_ffff) | ((value & 0xffff_ffff_0000_0000) >> 4);
            *pos = start + len;
            return Ok(value);
        }
        // Room for the longest varint: no bounds to check byte by byte.
        Some([b0, b1, b2, b3, b4, b5, b6, b7, b8, b9, ..]) => {
            let mut value = 0u64;
            for (i, &byte) in [*b0, *b1, *b2, *b3, *b4, *b5, *b6, *b7, *b8].iter().enumerate() {
                value |= u64::from(byte & 0x7f) << (7 * i);
                if byte < 0x80 {
                    *pos = start + i + 1;
                    return Ok(value);
                }
            }
            if *b9 > 1 {
                return Err(WireError { offset: start, what: "varint longer than 64 bits" });
            }
            *pos = start + 10;
            return Ok(value | (u64::from(*b9) << 63));
        }
        _ => {}
    }
    read_varint_near_end(data, pos)
}

/// The continuation bits of eight varint bytes.
const STOPS: u64 = 0x8080_8080_8080_8080;

/// [`read_varint`] where fewer than 10 bytes remain.
fn read_varint_near_end(data: &[u8], pos: &mut usize) -> Result<u64, WireError> {
    let start = *pos;
    let mut value: u64 = 0;
    for shift in (0..70).step_by(7) {
        let Some(&byte) = data.get(*pos) else {
            return Err(WireError { offset: start, what: "truncated varint" });
        };
        *pos += 1;
        if shift == 63 && byte > 1 {
            return Err(WireError { offset: start, what: "varint longer than 64 bits" });
        }
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(WireError { offset: start, what: "varint longer than 10 bytes" })
}

/// Iterator over the fields of one message: `(field number, value)`.
#[derive(Clone)]
pub struct Fields<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Fields<'a> {
    /// Iterates the fields of the encoded message `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Fields { data, pos: 0 }
    }

    /// Offset of the next field inside the message.
    pub fn offset(&self) -> usize {
        self.pos
    }

    #[inline(always)]
    fn read_field(&mut self) -> Result<(u32, WireValue<'a>), WireError> {
        let start = self.pos;
        let key = read_key(self.data, &mut self.pos)?;
        let value = read_value(self.data, &mut self.pos, key, start)?;
        Ok((key.number, value))
    }
}

/// A field's key: its number and wire type.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Key {
    /// The field number (1 to 2^29 - 1).
    pub number: u32,
    /// The wire type (0 to 7; 3 and 4, groups, and 6 and 7 fail in [`read_value`]).
    pub wire_type: u8,
}

/// Reads a field key at `*pos`, advancing it. [`Fields`] is this and
/// [`read_value`]; decoders that branch on the key before reading the
/// value use the two (the errors are the same).
#[inline(always)]
pub fn read_key(data: &[u8], pos: &mut usize) -> Result<Key, WireError> {
    let start = *pos;
    let key = read_varint(data, pos)?;
    let number = key >> 3;
    if number == 0 || number > 0x1fff_ffff {
        return Err(WireError { offset: start, what: "invalid field number" });
    }
    Ok(Key { number: number as u32, wire_type: (key & 7) as u8 })
}

/// Reads the value of a field of key `key` (which started at `key_at`) at `*pos`, advancing it.
#[inline(always)]
pub fn read_value<'a>(data: &'a [u8], pos: &mut usize, key: Key, key_at: usize) -> Result<WireValue<'a>, WireError> {
    Ok(match key.wire_type {
        0 => WireValue::Varint(read_varint(data, pos)?),
        1 => WireValue::Fixed64(u64::from_le_bytes(take(data, pos, 8, "truncated 64-bit field")?.try_into().unwrap())),
        2 => {
            let len_at = *pos;
            let len = read_varint(data, pos)?;
            let remaining = (data.len() - *pos) as u64;
            if len > remaining {
                return Err(WireError { offset: len_at, what: "length-delimited field longer than the message" });
            }
            WireValue::Bytes(take(data, pos, len as usize, "truncated length-delimited field")?)
        }
        5 => WireValue::Fixed32(u32::from_le_bytes(take(data, pos, 4, "truncated 32-bit field")?.try_into().unwrap())),
        3 | 4 => return Err(WireError { offset: key_at, what: "groups are not used by CRIU" }),
        _ => return Err(WireError { offset: key_at, what: "invalid wire type" }),
    })
}

#[inline(always)]
fn take<'a>(data: &'a [u8], pos: &mut usize, len: usize, what: &'static str) -> Result<&'a [u8], WireError> {
    let end = pos.checked_add(len).filter(|&end| end <= data.len());
    let Some(end) = end else {
        return Err(WireError { offset: *pos, what });
    };
    let bytes = &data[*pos..end];
    *pos = end;
    Ok(bytes)
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(u32, WireValue<'a>), WireError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.data.len() {
            return None;
        }
        let item = self.read_field();
        if item.is_err() {
            // Stop after the first error: the rest cannot be framed.
            self.pos = self.data.len();
        }
        Some(item)
    }
}

/// The last varint value of field `number` in `message` (protobuf's "last one
/// wins" rule), or `None` when absent. Used by the framing layer to learn the
/// size of an entry's extra payload without decoding the whole message.
pub fn last_varint(message: &[u8], number: u32) -> Result<Option<u64>, WireError> {
    let mut found = None;
    for field in Fields::new(message) {
        if let (n, WireValue::Varint(v)) = field? {
            if n == number {
                found = Some(v);
            }
        }
    }
    Ok(found)
}

/// Appends a varint.
#[inline]
pub fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Appends a field key (number and wire type).
#[inline]
pub fn put_key(out: &mut Vec<u8>, number: u32, wire_type: u8) {
    put_varint(out, (u64::from(number) << 3) | u64::from(wire_type));
}

/// Appends a length-delimited field.
pub fn put_bytes_field(out: &mut Vec<u8>, number: u32, bytes: &[u8]) {
    put_key(out, number, 2);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// Zigzag decoding of `sint32`/`sint64`.
#[inline]
pub fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// Zigzag encoding of `sint32`/`sint64`.
#[inline]
pub fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip() {
        for value in [0u64, 1, 127, 128, 300, u32::MAX as u64, u64::MAX] {
            let mut buf = Vec::new();
            put_varint(&mut buf, value);
            let mut pos = 0;
            assert_eq!(read_varint(&buf, &mut pos).unwrap(), value);
            assert_eq!(pos, buf.len());
        }
    }

    #[test]
    fn every_varint_reads_as_the_byte_by_byte_reader_reads_it() {
        // Bytes with the continuation bit set more often than not, so that
        // every length from 1 to 11 bytes (and the cut ones) comes up,
        // followed by more bytes or by the end.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..200_000 {
            let len = (next() % 14) as usize;
            let stop_at = next() % 12;
            let data: Vec<u8> = (0..len as u64).map(|i| (next() as u8 & 0x7f) | if i < stop_at { 0x80 } else { 0 }).collect();
            let start = (next() % 2) as usize;
            if start > data.len() {
                continue;
            }
            let (mut fast, mut slow) = (start, start);
            let read = read_varint(&data, &mut fast);
            assert_eq!(read, read_varint_near_end(&data, &mut slow), "{data:02x?} from {start}");
            // After an error the position is not used (nothing can be framed).
            if read.is_ok() {
                assert_eq!(fast, slow, "{data:02x?} from {start}");
            }
        }
    }

    #[test]
    fn overlong_and_truncated_varints_are_errors() {
        let mut pos = 0;
        assert_eq!(read_varint(&[0x80, 0x80], &mut pos).unwrap_err().what, "truncated varint");
        let mut pos = 0;
        let eleven = [0xffu8; 11];
        assert!(read_varint(&eleven, &mut pos).is_err());
    }

    #[test]
    fn fields_reject_lengths_past_the_end() {
        // field 1, wire type 2, length 5, but only 2 bytes follow
        let data = [0x0a, 0x05, 0x01, 0x02];
        let err = Fields::new(&data).next().unwrap().unwrap_err();
        assert_eq!(err.offset, 1);
    }

    #[test]
    fn zigzag_round_trips() {
        for v in [0i64, -1, 1, i64::MIN, i64::MAX, -64] {
            assert_eq!(unzigzag(zigzag(v)), v);
        }
    }

    #[test]
    fn last_varint_takes_the_last_occurrence() {
        let data = [0x08, 0x01, 0x08, 0x02, 0x10, 0x07];
        assert_eq!(last_varint(&data, 1).unwrap(), Some(2));
        assert_eq!(last_varint(&data, 2).unwrap(), Some(7));
        assert_eq!(last_varint(&data, 3).unwrap(), None);
    }
}
