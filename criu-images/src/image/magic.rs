//! Which image a file is: its head and type magics (little- or
//! big-endian), or a raw image known by its name.

use std::path::Path;

use super::{raw_image_kind, Endian, Head, ImageKind, IMG_COMMON_MAGIC, IMG_SERVICE_MAGIC, KDAT_MAGIC};
use crate::error::{Error, Location, Result};

pub(super) fn detect(name: &str, data: &[u8]) -> Result<(ImageKind, Head, Endian, usize)> {
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
