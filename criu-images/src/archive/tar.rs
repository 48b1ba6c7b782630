//! Indexing a tar archive over borrowed bytes: headers only, no data copies.
//!
//! Supports ustar and GNU headers, GNU long names and long link names
//! (`L`, `K`), PAX extended headers (`x`: `path`, `linkpath`, `size`),
//! octal and base-256 sizes. Every header's checksum is verified.

use super::{normalize_member_name, Member, MemberKind};
use crate::error::{Error, Location, Result};

const BLOCK: usize = 512;

/// Largest GNU long name or PAX header we accept (they are names, not data).
pub(super) const MAX_META: u64 = 1 << 20;

/// Members found in `data`, in archive order. `file` names the archive in errors.
pub(crate) fn index(file: &str, data: &[u8]) -> Result<Vec<Member>> {
    let mut members = Vec::new();
    let mut pos = 0usize;
    let mut long_name: Option<Vec<u8>> = None;
    let mut long_link: Option<Vec<u8>> = None;
    let mut pax: Vec<(String, Vec<u8>)> = Vec::new();
    let at = |offset: usize| Location::new(file, offset as u64);

    loop {
        if pos + BLOCK > data.len() {
            if pos == data.len() {
                break; // no end-of-archive blocks: accept, as GNU tar does with a warning
            }
            return Err(Error::Archive {
                at: at(pos),
                detail: format!("truncated tar header: expected 512 bytes, {} remain", data.len() - pos),
            });
        }
        let header = &data[pos..pos + BLOCK];
        if header.iter().all(|&b| b == 0) {
            break; // end of archive
        }
        verify_checksum(header).map_err(|detail| Error::Archive { at: at(pos), detail })?;
        let typeflag = header[156];
        let mut size = parse_number(&header[124..136])
            .ok_or_else(|| Error::Archive { at: at(pos + 124), detail: "invalid size field in tar header".into() })?;
        if let Some(pax_size) = pax.iter().find(|(k, _)| k == "size").and_then(|(_, v)| std::str::from_utf8(v).ok()?.parse().ok()) {
            size = pax_size;
        }
        let data_start = pos + BLOCK;
        let available = (data.len() - data_start) as u64;
        if size > available {
            return Err(Error::Archive {
                at: at(pos),
                detail: format!("tar member claims {size} bytes but only {available} remain in the archive"),
            });
        }
        let content = &data[data_start..data_start + size as usize];
        let next = data_start + (size as usize).div_ceil(BLOCK) * BLOCK;

        match typeflag {
            b'L' | b'K' | b'x' if size > MAX_META => {
                return Err(Error::Archive {
                    at: at(pos),
                    detail: format!("tar metadata header of {size} bytes is larger than {MAX_META}"),
                });
            }
            b'L' => long_name = Some(trim_nul(content).to_vec()),
            b'K' => long_link = Some(trim_nul(content).to_vec()),
            b'x' => pax = parse_pax(content).map_err(|detail| Error::Archive { at: at(data_start), detail })?,
            b'g' => {} // global PAX defaults: nothing we need
            _ => {
                let name = pax
                    .iter()
                    .find(|(k, _)| k == "path")
                    .map(|(_, v)| v.clone())
                    .or_else(|| long_name.take())
                    .unwrap_or_else(|| header_name(header));
                let link = pax
                    .iter()
                    .find(|(k, _)| k == "linkpath")
                    .map(|(_, v)| v.clone())
                    .or_else(|| long_link.take())
                    .unwrap_or_else(|| trim_nul(&header[157..257]).to_vec());
                pax.clear();
                long_name = None;
                long_link = None;
                let name = String::from_utf8_lossy(&name).into_owned();
                let link = String::from_utf8_lossy(&link).into_owned();
                let normalized = normalize_member_name(&name)
                    .map_err(|detail| Error::Archive { at: at(pos), detail: format!("member {name:?}: {detail}") })?;
                let kind =
                    match typeflag {
                        b'0' | 0 | b'7' => MemberKind::File,
                        b'1' => MemberKind::HardLink(normalize_member_name(&link).map_err(|detail| Error::Archive {
                            at: at(pos),
                            detail: format!("hard link {name:?} -> {link:?}: {detail}"),
                        })?),
                        b'2' => MemberKind::Symlink(link),
                        b'5' => MemberKind::Directory,
                        // Devices, FIFOs and unknown types carry no data we read.
                        _ => MemberKind::Other(typeflag as char),
                    };
                let (offset, len) = match kind {
                    MemberKind::File => (data_start as u64, size),
                    _ => (0, 0),
                };
                if !normalized.is_empty() {
                    members.push(Member { name: normalized, kind, offset, len, header_offset: pos as u64, source: 0 });
                }
            }
        }
        pos = next.min(data.len());
    }
    Ok(members)
}

fn trim_nul(bytes: &[u8]) -> &[u8] {
    let end = memchr::memchr(0, bytes).unwrap_or(bytes.len());
    &bytes[..end]
}

fn header_name(header: &[u8]) -> Vec<u8> {
    let name = trim_nul(&header[0..100]);
    // ustar: a prefix of up to 155 bytes joins the name with '/'.
    if &header[257..262] == b"ustar" {
        let prefix = trim_nul(&header[345..500]);
        if !prefix.is_empty() {
            let mut full = prefix.to_vec();
            full.push(b'/');
            full.extend_from_slice(name);
            return full;
        }
    }
    name.to_vec()
}

pub(super) fn verify_checksum(header: &[u8]) -> std::result::Result<(), String> {
    let stored = parse_octal(&header[148..156]).ok_or("invalid checksum field in tar header")?;
    let mut unsigned: u64 = 0;
    let mut signed: i64 = 0;
    for (i, &b) in header.iter().enumerate() {
        let b = if (148..156).contains(&i) { b' ' } else { b };
        unsigned += u64::from(b);
        signed += i64::from(b as i8);
    }
    if stored == unsigned || stored as i64 == signed {
        Ok(())
    } else {
        Err(format!("tar header checksum mismatch (stored {stored}, computed {unsigned}): not a tar header"))
    }
}

fn parse_octal(field: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(field).ok()?;
    let text = text.trim_matches(|c: char| c == '\0' || c == ' ');
    if text.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(text, 8).ok()
}

/// Octal, or GNU base-256 (high bit of the first byte set).
pub(crate) fn parse_number(field: &[u8]) -> Option<u64> {
    if field[0] & 0x80 != 0 {
        if field[0] & 0x40 != 0 {
            return None; // negative
        }
        let mut value: u64 = u64::from(field[0] & 0x3f);
        for &b in &field[1..] {
            value = value.checked_mul(256)?.checked_add(u64::from(b))?;
        }
        return Some(value);
    }
    parse_octal(field)
}

/// PAX records: `"<len> <key>=<value>\n"`.
pub(super) fn parse_pax(mut content: &[u8]) -> std::result::Result<Vec<(String, Vec<u8>)>, String> {
    let mut records = Vec::new();
    while !content.is_empty() {
        let space = memchr::memchr(b' ', content).ok_or("PAX record without a length")?;
        let len: usize =
            std::str::from_utf8(&content[..space]).ok().and_then(|s| s.parse().ok()).ok_or("PAX record with an invalid length")?;
        if len <= space + 1 || len > content.len() {
            return Err("PAX record length out of range".into());
        }
        let record = &content[space + 1..len];
        let record = record.strip_suffix(b"\n").unwrap_or(record);
        let eq = memchr::memchr(b'=', record).ok_or("PAX record without '='")?;
        records.push((String::from_utf8_lossy(&record[..eq]).into_owned(), record[eq + 1..].to_vec()));
        content = &content[len..];
    }
    Ok(records)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A ustar header for `name` with `size` bytes, checksum filled in.
    pub(crate) fn header(name: &str, typeflag: u8, size: u64, link: &str) -> Vec<u8> {
        let mut h = vec![0u8; BLOCK];
        h[..name.len().min(100)].copy_from_slice(&name.as_bytes()[..name.len().min(100)]);
        h[100..107].copy_from_slice(b"0000644");
        h[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
        h[156] = typeflag;
        h[157..157 + link.len()].copy_from_slice(link.as_bytes());
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        h
    }

    pub(crate) fn member(name: &str, data: &[u8]) -> Vec<u8> {
        let mut out = header(name, b'0', data.len() as u64, "");
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(BLOCK) * BLOCK, 0);
        out
    }

    fn end(mut tar: Vec<u8>) -> Vec<u8> {
        tar.extend(vec![0u8; 2 * BLOCK]);
        tar
    }

    #[test]
    fn indexes_files_links_and_long_names() {
        let long = "checkpoint/".to_string() + &"x".repeat(150) + ".img";
        let mut tar = member("./checkpoint/pstree.img", b"abc");
        let mut gnu = header("././@LongLink", b'L', long.len() as u64 + 1, "");
        gnu.extend(long.as_bytes());
        gnu.push(0);
        gnu.resize(gnu.len().div_ceil(BLOCK) * BLOCK, 0);
        tar.extend(gnu);
        tar.extend(member("ignored-short-name", b"long one"));
        tar.extend(header("checkpoint/parent", b'2', 0, "../pre"));
        tar.extend(header("checkpoint/", b'5', 0, ""));
        let tar = end(tar);
        let members = index("t.tar", &tar).unwrap();
        assert_eq!(members[0].name, "checkpoint/pstree.img");
        assert_eq!(&tar[members[0].offset as usize..][..3], b"abc");
        assert_eq!(members[1].name, long);
        assert_eq!(members[1].len, 8);
        assert_eq!(members[2].kind, MemberKind::Symlink("../pre".into()));
        assert_eq!(members[3].kind, MemberKind::Directory);
    }

    #[test]
    fn pax_paths_and_base256_sizes() {
        let record = "29 path=checkpoint/very/long\n";
        let mut tar = header("PaxHeader", b'x', record.len() as u64, "");
        tar.extend(record.as_bytes());
        tar.resize(tar.len().div_ceil(BLOCK) * BLOCK, 0);
        tar.extend(member("short", b"data"));
        let members = index("t.tar", &end(tar)).unwrap();
        assert_eq!(members[0].name, "checkpoint/very/long");
        let mut field = [0u8; 12];
        field[0] = 0x80;
        field[11] = 5;
        assert_eq!(parse_number(&field), Some(5));
    }

    #[test]
    fn hostile_headers_are_errors() {
        let mut bad = member("a", b"x");
        bad[0] = b'b'; // checksum no longer matches
        assert!(index("t.tar", &end(bad)).unwrap_err().to_string().contains("checksum"));

        let traversal = end(member("../../etc/passwd", b"x"));
        let err = index("t.tar", &traversal).unwrap_err().to_string();
        assert!(err.contains("t.tar: offset 0") && err.contains("outside"), "{err}");

        let mut big = header("a", b'0', 1 << 32, "");
        big.extend(vec![0u8; BLOCK]);
        assert!(index("t.tar", &big).unwrap_err().to_string().contains("claims"));

        let truncated = member("a", b"x")[..300].to_vec();
        assert!(index("t.tar", &truncated).unwrap_err().to_string().contains("truncated"));
    }
}
