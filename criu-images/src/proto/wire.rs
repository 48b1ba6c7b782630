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
        let key = read_varint(self.data, &mut self.pos)?;
        let number = key >> 3;
        if number == 0 || number > 0x1fff_ffff {
            return Err(WireError { offset: start, what: "invalid field number" });
        }
        let value = match key & 7 {
            0 => WireValue::Varint(read_varint(self.data, &mut self.pos)?),
            1 => {
                let bytes = self.take(8, "truncated 64-bit field")?;
                WireValue::Fixed64(u64::from_le_bytes(bytes.try_into().unwrap()))
            }
            2 => {
                let len_at = self.pos;
                let len = read_varint(self.data, &mut self.pos)?;
                let remaining = (self.data.len() - self.pos) as u64;
                if len > remaining {
                    return Err(WireError { offset: len_at, what: "length-delimited field longer than the message" });
                }
                WireValue::Bytes(self.take(len as usize, "truncated length-delimited field")?)
            }
            5 => {
                let bytes = self.take(4, "truncated 32-bit field")?;
                WireValue::Fixed32(u32::from_le_bytes(bytes.try_into().unwrap()))
            }
            3 | 4 => return Err(WireError { offset: start, what: "groups are not used by CRIU" }),
            _ => return Err(WireError { offset: start, what: "invalid wire type" }),
        };
        Ok((number as u32, value))
    }

    #[inline(always)]
    fn take(&mut self, len: usize, what: &'static str) -> Result<&'a [u8], WireError> {
        let end = self.pos.checked_add(len).filter(|&end| end <= self.data.len());
        let Some(end) = end else {
            return Err(WireError { offset: self.pos, what });
        };
        let bytes = &self.data[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }
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
