//! Decompressing `.tar.gz` / `.tar.zst` once, streaming, with limits:
//! into memory while small, then into an anonymous temporary file that is
//! memory-mapped (so a multi-GB archive does not need multi-GB of RAM).
//!
//! A few hundred KB of compressed data can expand to any size, so the tar
//! headers are checked as they stream out: decompression stops at the
//! first invalid header (the index would refuse it anyway), at the
//! end-of-archive block (what follows is never read), and as soon as the
//! sizes the headers declare exceed the caller's limit or what the
//! temporary directory has free.

use std::io::{Read, Write};
use std::path::Path;

use super::tar::{parse_number, parse_pax, verify_checksum, MAX_META};
use super::Backing;
use crate::error::{Error, Location, Result};

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

/// Bytes free for us in the file system of the temporary directory
/// (`TMPDIR`, else `/tmp`), where large archives are decompressed to.
fn temp_space_free(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: statvfs writes into the zeroed struct we own; the path is a
    // NUL-terminated string that lives across the call.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(path.as_ptr(), &mut st) } != 0 {
        return None;
    }
    Some((st.f_bavail as u64).saturating_mul(st.f_frsize as u64))
}

/// Follows the tar headers in the decompressed stream.
struct TarHeaders<'a> {
    display: &'a str,
    what: &'a str,
    /// Offset of the next header in the decompressed data.
    next: u64,
    /// The header (or PAX extended header data) being collected.
    buf: Vec<u8>,
    /// Collecting the data of a PAX header of this size after its header.
    pax_len: Option<usize>,
    /// `size` of the PAX header that applies to the next member.
    pax_size: Option<u64>,
}

enum Step {
    More,
    /// The end-of-archive block ends at this offset: nothing after it is read.
    End(u64),
}

impl TarHeaders<'_> {
    /// Looks at `chunk`, which starts at offset `start` of the decompressed data.
    fn feed(&mut self, chunk: &[u8], start: u64, limit: u64) -> Result<Step> {
        let end = start + chunk.len() as u64;
        loop {
            let want = self.pax_len.unwrap_or(512);
            let pos = self.next + self.buf.len() as u64;
            if pos >= end {
                return Ok(Step::More);
            }
            let from = (pos - start) as usize;
            let take = (want - self.buf.len()).min(chunk.len() - from);
            self.buf.extend_from_slice(&chunk[from..from + take]);
            if self.buf.len() < want {
                return Ok(Step::More);
            }
            let at = |offset: u64| Location::new(self.display, offset);
            if let Some(len) = self.pax_len.take() {
                // The PAX data is done: the next header follows its padding.
                let pax = parse_pax(&self.buf).map_err(|detail| Error::Archive { at: at(self.next), detail })?;
                self.pax_size = pax.iter().find(|(k, _)| k == "size").and_then(|(_, v)| std::str::from_utf8(v).ok()?.parse().ok());
                self.next += (len as u64).div_ceil(512) * 512;
                self.buf.clear();
                continue;
            }
            let header = std::mem::take(&mut self.buf);
            if header.iter().all(|&b| b == 0) {
                return Ok(Step::End(self.next + 512));
            }
            verify_checksum(&header).map_err(|detail| Error::Archive {
                at: at(self.next),
                detail: format!("{detail} (found while decompressing the {} data: stopped there)", self.what),
            })?;
            let mut size = parse_number(&header[124..136])
                .ok_or_else(|| Error::Archive { at: at(self.next + 124), detail: "invalid size field in tar header".into() })?;
            if let Some(pax_size) = self.pax_size.take() {
                size = pax_size;
            }
            let typeflag = header[156];
            if matches!(typeflag, b'L' | b'K' | b'x') && size > MAX_META {
                return Err(Error::Archive {
                    at: at(self.next),
                    detail: format!("tar metadata header of {size} bytes is larger than {MAX_META}"),
                });
            }
            let data = self.next + 512;
            let padded = size.checked_add(511).map(|s| s / 512 * 512);
            let Some(next) = padded.and_then(|p| data.checked_add(p)) else {
                return Err(Error::Archive { at: at(self.next), detail: format!("tar member size {size} is out of range") });
            };
            if next > limit {
                return Err(Error::Limit {
                    file: self.display.to_string(),
                    what: format!("decompressed {} data (its tar headers declare at least {next} bytes)", self.what),
                    limit,
                });
            }
            if typeflag == b'x' {
                self.next = data;
                self.pax_len = Some(size as usize);
            } else {
                self.next = next;
            }
        }
    }
}

fn inflate(mut reader: impl Read, display: &str, what: &str, limit: u64) -> Result<Backing> {
    let corrupt =
        |e: std::io::Error| Error::Archive { at: Location::new(display, 0), detail: format!("{what} data is corrupt or truncated: {e}") };
    let temp_dir = std::env::temp_dir();
    let mut limit = limit;
    let mut disk_checked = false;
    let mut headers = TarHeaders { display, what, next: 0, buf: Vec::with_capacity(512), pax_len: None, pax_size: None };
    let mut memory: Vec<u8> = Vec::new();
    let mut spill: Option<std::fs::File> = None;
    let mut total: u64 = 0;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let mut n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(corrupt(e)),
        };
        // Not a tar at all: say so before decompressing the rest.
        if total == 0 && n >= 512 && !super::looks_like_tar(&buf[..n]) {
            return Err(Error::Archive { at: Location::new(display, 0), detail: "the compressed data is not a tar archive".into() });
        }
        let step = headers.feed(&buf[..n], total, limit)?;
        let mut done = false;
        if let Step::End(end) = step {
            // The end-of-archive block: keep it, read nothing more.
            n = (end.saturating_sub(total) as usize).min(n);
            done = true;
        }
        total += n as u64;
        if !disk_checked && (total.max(headers.next) > IN_MEMORY as u64) {
            // What spills to disk may not exceed what the disk has free.
            disk_checked = true;
            if let Some(free) = temp_space_free(&temp_dir) {
                let fits = (IN_MEMORY as u64).saturating_add(free / 10 * 9);
                if fits < limit {
                    limit = fits;
                }
                if headers.next > limit {
                    return Err(Error::Limit {
                        file: display.to_string(),
                        what: format!(
                            "decompressed {what} data (its tar headers declare at least {} bytes; the limit is 90% of the {free} bytes free in the temporary directory {}, set TMPDIR to use another)",
                            headers.next,
                            temp_dir.display()
                        ),
                        limit,
                    });
                }
            }
        }
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
        if done {
            break;
        }
    }
    match spill {
        None => Ok(Backing::Owned(memory)),
        Some(file) => super::map(&file, "temporary file"),
    }
}
