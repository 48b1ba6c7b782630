//! Byte order of the framing: CRIU writes sizes and magics in the dumping
//! machine's order.

use nom::number::complete::{be_u32, le_u32};
use nom::IResult;

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

    pub(super) fn parse_u32(self, input: &[u8]) -> IResult<&[u8], u32> {
        match self {
            Endian::Little => le_u32(input),
            Endian::Big => be_u32(input),
        }
    }
}
