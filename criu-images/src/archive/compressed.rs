//! Decompressing `.tar.gz` / `.tar.zst` once, streaming, with a size limit:
//! into memory while small, then into an anonymous temporary file that is
//! memory-mapped (so a multi-GB archive does not need multi-GB of RAM).

use std::io::{Read, Write};

use super::Backing;
use crate::error::{Error, Result};

/// Output kept in memory up to this size before it spills to a temporary file.
const IN_MEMORY: usize = 256 << 20;

pub(crate) fn gunzip(bytes: &[u8], display: &str, limit: u64) -> Result<Backing> {
    inflate(flate2::read::MultiGzDecoder::new(bytes), display, "gzip", limit)
}

pub(crate) fn unzstd(bytes: &[u8], display: &str, limit: u64) -> Result<Backing> {
    let mut decoder = zstd::stream::read::Decoder::with_buffer(bytes).map_err(|e| Error::io(display, e))?;
    // Accept archives made with `zstd --long` (windows up to 2 GiB); the
    // output limit still bounds what we keep.
    decoder.window_log_max(31).map_err(|e| Error::io(display, e))?;
    inflate(decoder, display, "zstd", limit)
}

fn inflate(mut reader: impl Read, display: &str, what: &str, limit: u64) -> Result<Backing> {
    let corrupt = |e: std::io::Error| Error::Archive {
        at: crate::error::Location::new(display, 0),
        detail: format!("{what} data is corrupt or truncated: {e}"),
    };
    let mut memory: Vec<u8> = Vec::new();
    let mut spill: Option<std::fs::File> = None;
    let mut total: u64 = 0;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(corrupt(e)),
        };
        total += n as u64;
        if total > limit {
            return Err(Error::Limit { file: display.to_string(), what: format!("decompressed {what} data"), limit });
        }
        match spill.as_mut() {
            Some(file) => file.write_all(&buf[..n]).map_err(|e| Error::io("temporary file", e))?,
            None if memory.len() + n > IN_MEMORY => {
                let mut file = tempfile::tempfile().map_err(|e| Error::io("temporary file", e))?;
                file.write_all(&memory).and_then(|()| file.write_all(&buf[..n])).map_err(|e| Error::io("temporary file", e))?;
                memory = Vec::new();
                spill = Some(file);
            }
            None => memory.extend_from_slice(&buf[..n]),
        }
    }
    match spill {
        None => Ok(Backing::Owned(memory)),
        Some(file) => {
            // SAFETY: the temporary file is unlinked and private to us.
            let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| Error::io("temporary file", e))?;
            Ok(Backing::Mapped(map))
        }
    }
}
