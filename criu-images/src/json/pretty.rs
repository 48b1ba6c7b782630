//! Value tables and formats of crit's pretty output: named flag sets
//! (`(criu).flags`), named values (`(criu).dict`), device numbers
//! (`(criu).dev` / `odev`) and IP addresses (`(criu).ipadd`).

/// `(criu).flags` tables: name -> bits, in crit's printing order.
static FLAG_TABLES: &[(&str, &[(&str, u64)])] = &[
    ("mmap.prot", &[("PROT_READ", 0x1), ("PROT_WRITE", 0x2), ("PROT_EXEC", 0x4)]),
    ("mmap.flags", &[("MAP_SHARED", 0x1), ("MAP_PRIVATE", 0x2), ("MAP_DROPPABLE", 0x08), ("MAP_ANON", 0x20), ("MAP_GROWSDOWN", 0x0100)]),
    (
        "mmap.status",
        &[
            ("VMA_AREA_NONE", 0),
            ("VMA_AREA_REGULAR", 1 << 0),
            ("VMA_AREA_STACK", 1 << 1),
            ("VMA_AREA_VSYSCALL", 1 << 2),
            ("VMA_AREA_VDSO", 1 << 3),
            ("VMA_AREA_HEAP", 1 << 5),
            ("VMA_FILE_PRIVATE", 1 << 6),
            ("VMA_FILE_SHARED", 1 << 7),
            ("VMA_ANON_SHARED", 1 << 8),
            ("VMA_ANON_PRIVATE", 1 << 9),
            ("VMA_AREA_SYSVIPC", 1 << 10),
            ("VMA_AREA_SOCKET", 1 << 11),
            ("VMA_AREA_VVAR", 1 << 12),
            ("VMA_AREA_AIORING", 1 << 13),
            ("VMA_AREA_MEMFD", 1 << 14),
            ("VMA_AREA_SHSTK", 1 << 15),
            ("VMA_AREA_UPROBES", 1 << 17),
            ("VMA_UNSUPP", 1 << 31),
        ],
    ),
    (
        "rfile.flags",
        &[
            ("O_WRONLY", 0o1),
            ("O_RDWR", 0o2),
            ("O_CREAT", 0o100),
            ("O_EXCL", 0o200),
            ("O_NOCTTY", 0o400),
            ("O_TRUNC", 0o1000),
            ("O_APPEND", 0o2000),
            ("O_NONBLOCK", 0o4000),
            ("O_DSYNC", 0o10000),
            ("FASYNC", 0o20000),
            ("O_DIRECT", 0o40000),
            ("O_LARGEFILE", 0o100000),
            ("O_DIRECTORY", 0o200000),
            ("O_NOFOLLOW", 0o400000),
            ("O_NOATIME", 0o1000000),
            ("O_CLOEXEC", 0o2000000),
        ],
    ),
    ("pmap.flags", &[("PE_PARENT", 1 << 0), ("PE_LAZY", 1 << 1), ("PE_PRESENT", 1 << 2)]),
    (
        "seals.flags",
        &[("F_SEAL_SEAL", 0x1), ("F_SEAL_SHRINK", 0x2), ("F_SEAL_GROW", 0x4), ("F_SEAL_WRITE", 0x8), ("F_SEAL_FUTURE_WRITE", 0x10)],
    ),
];

/// One `(criu).dict` table: (dict name, field name, value -> name).
type DictTable = (&'static str, &'static str, &'static [(u64, &'static str)]);

/// `(criu).dict` tables: dict name -> field name -> (value, name).
///
/// `task_state` follows the kernel-side meaning CRIU uses (compel's
/// `task-state.h`: 1 alive, 2 dead, 3 stopped, 6 zombie); crit 4.2 swaps
/// stopped and zombie and has no name for dead.
static DICT_TABLES: &[DictTable] = &[
    ("gen", "task_state", &[(1, "Alive"), (2, "Dead"), (3, "Stopped"), (6, "Zombie")]),
    ("sk", "family", &[(1, "UNIX"), (2, "INET"), (10, "INET6"), (16, "NETLINK"), (17, "PACKET")]),
    ("sk", "type", &[(1, "STREAM"), (2, "DGRAM"), (3, "RAW"), (5, "SEQPACKET"), (10, "PACKET")]),
    (
        "sk",
        "state",
        &[
            (1, "ESTABLISHED"),
            (2, "SYN_SENT"),
            (3, "SYN_RECV"),
            (4, "FIN_WAIT1"),
            (5, "FIN_WAIT2"),
            (6, "TIME_WAIT"),
            (7, "CLOSE"),
            (8, "CLOSE_WAIT"),
            (9, "LAST_ACK"),
            (10, "LISTEN"),
        ],
    ),
    ("sk", "proto", &[(0, "IP"), (6, "TCP"), (17, "UDP"), (136, "UDPLITE")]),
];

fn flag_table(name: &str) -> Option<&'static [(&'static str, u64)]> {
    FLAG_TABLES.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

fn dict_table(dict: &str, field: &str) -> Option<&'static [(u64, &'static str)]> {
    DICT_TABLES.iter().find(|(d, f, _)| *d == dict && *f == field).map(|(_, _, t)| *t)
}

/// crit's `"0x%x"` of a Python int (negative values print as `-0x..`).
pub(crate) fn hex(value: i128) -> String {
    if value < 0 {
        format!("-0x{:x}", -value)
    } else {
        format!("0x{value:x}")
    }
}

/// `"PROT_READ | PROT_WRITE | 0x100"`; `""` for zero. An unknown table
/// prints plain hex, as crit does.
#[cfg(test)]
pub(crate) fn flags(table: &str, value: u64) -> String {
    let mut out = Vec::new();
    write_flags(&mut out, table, value);
    String::from_utf8(out).expect("flag names and hex are ASCII")
}

/// Appends the text of [`flags`] (ASCII) to `out`.
pub(crate) fn write_flags(out: &mut Vec<u8>, table: &str, value: u64) {
    let Some(table) = flag_table(table) else {
        out.extend_from_slice(hex(value.into()).as_bytes());
        return;
    };
    let start = out.len();
    let mut known = 0u64;
    for (name, bits) in table {
        known |= bits;
        if value & bits != 0 {
            if out.len() > start {
                out.extend_from_slice(b" | ");
            }
            out.extend_from_slice(name.as_bytes());
        }
    }
    let rest = value & !known;
    if rest != 0 {
        if out.len() > start {
            out.extend_from_slice(b" | ");
        }
        out.extend_from_slice(format!("0x{rest:x}").as_bytes());
    }
}

/// Parses flags written by [`flags`]: names and numbers joined by `|`.
pub(crate) fn parse_flags(table: &str, text: &str) -> Result<u64, String> {
    if text.trim().is_empty() {
        return Ok(0);
    }
    let table = flag_table(table).unwrap_or(&[]);
    let mut value = 0u64;
    for part in text.split('|').map(str::trim) {
        let bits = match table.iter().find(|(n, _)| *n == part) {
            Some((_, bits)) => *bits,
            None => parse_int(part).and_then(|v| u64::try_from(v).ok()).ok_or_else(|| format!("unknown flag {part:?}"))?,
        };
        value = value.wrapping_add(bits);
    }
    Ok(value)
}

/// The name of a `(criu).dict` value, if the table has one.
pub(crate) fn dict_name(dict: &str, field: &str, value: u64) -> Option<&'static str> {
    dict_table(dict, field)?.iter().find(|(v, _)| *v == value).map(|(_, n)| *n)
}

/// The value of a `(criu).dict` name.
pub(crate) fn dict_value(dict: &str, field: &str, name: &str) -> Option<u64> {
    let table = dict_table(dict, field)?;
    table.iter().find(|(_, n)| *n == name).map(|(value, _)| *value)
}

const KERNEL_MINOR_BITS: u32 = 20;

/// `"major:minor"` of a device number; `odev` uses the glibc encoding of
/// `os.major`/`os.minor`, otherwise the kernel's (`major << 20 | minor`).
pub(crate) fn dev(value: u64, odev: bool) -> String {
    let (major, minor) = if odev {
        (((value >> 8) & 0xfff) | ((value >> 32) & !0xfff), (value & 0xff) | ((value >> 12) & !0xff))
    } else {
        (value >> KERNEL_MINOR_BITS, value & ((1 << KERNEL_MINOR_BITS) - 1))
    };
    format!("{major}:{minor}")
}

/// Inverse of [`dev`].
pub(crate) fn parse_dev(text: &str, odev: bool) -> Result<u64, String> {
    let err = || format!("expected a device number \"major:minor\", found {text:?}");
    let (major, minor) = text.split_once(':').ok_or_else(err)?;
    let major: u64 = major.trim().parse().map_err(|_| err())?;
    let minor: u64 = minor.trim().parse().map_err(|_| err())?;
    Ok(if odev {
        ((major & 0xfff) << 8) | ((major & !0xfff) << 32) | (minor & 0xff) | ((minor & !0xff) << 12)
    } else {
        (major << KERNEL_MINOR_BITS) | minor
    })
}

/// Python's `int(text, 0)`: optional sign, `0x`/`0o`/`0b` prefixes,
/// underscores between digits; a decimal with a leading zero is refused.
pub(crate) fn parse_int(text: &str) -> Option<i128> {
    let text = text.trim();
    let (negative, digits) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let lower = digits.to_ascii_lowercase();
    let (radix, body) = if let Some(b) = lower.strip_prefix("0x") {
        (16, b.to_string())
    } else if let Some(b) = lower.strip_prefix("0o") {
        (8, b.to_string())
    } else if let Some(b) = lower.strip_prefix("0b") {
        (2, b.to_string())
    } else {
        if lower.len() > 1 && lower.starts_with('0') && lower.bytes().any(|b| b != b'0' && b != b'_') {
            return None;
        }
        (10, lower.clone())
    };
    let body = body.strip_prefix('_').unwrap_or(&body);
    if body.is_empty() || body.starts_with('_') || body.ends_with('_') || body.contains("__") {
        return None;
    }
    let body: String = body.chars().filter(|&c| c != '_').collect();
    if body.starts_with(['+', '-']) {
        // One sign, before the prefix: `from_str_radix` would take another
        // (and `--2**127` would overflow the negation below).
        return None;
    }
    let value = i128::from_str_radix(&body, radix).ok()?;
    Some(if negative { -value } else { value })
}

/// crit's rendering of an `ipadd` field: one word is IPv4, four are IPv6;
/// each word holds the address bytes in network order, read as a
/// little-endian u32 (`socket.ntohl` on the x86 machines crit runs on).
/// Other lengths have no address form and return `None`.
pub(crate) fn ip_address(words: &[u32]) -> Option<String> {
    match words {
        [v4] => {
            let b = v4.to_le_bytes();
            Some(format!("{}.{}.{}.{}", b[0], b[1], b[2], b[3]))
        }
        [a, b, c, d] => {
            let mut groups = [0u16; 8];
            for (i, word) in [a, b, c, d].into_iter().enumerate() {
                let bytes = word.to_le_bytes();
                groups[2 * i] = u16::from_be_bytes([bytes[0], bytes[1]]);
                groups[2 * i + 1] = u16::from_be_bytes([bytes[2], bytes[3]]);
            }
            Some(ipv6_compressed(&groups))
        }
        _ => None,
    }
}

/// Python's `IPv6Address.compressed`: the longest run of two or more zero
/// groups (the first, on ties) becomes `::`; hex without leading zeros.
fn ipv6_compressed(groups: &[u16; 8]) -> String {
    let (mut best_start, mut best_len) = (usize::MAX, 0);
    let mut i = 0;
    while i < 8 {
        if groups[i] == 0 {
            let start = i;
            while i < 8 && groups[i] == 0 {
                i += 1;
            }
            if i - start > best_len {
                (best_start, best_len) = (start, i - start);
            }
        } else {
            i += 1;
        }
    }
    let hexes: Vec<String> = groups.iter().map(|g| format!("{g:x}")).collect();
    if best_len < 2 {
        return hexes.join(":");
    }
    let head = hexes[..best_start].join(":");
    let tail = hexes[best_start + best_len..].join(":");
    format!("{head}::{tail}")
}

/// Inverse of [`ip_address`]: IPv4 gives one word, IPv6 four.
pub(crate) fn parse_ip_address(text: &str) -> Result<Vec<u32>, String> {
    if let Ok(v4) = text.parse::<std::net::Ipv4Addr>() {
        return Ok(vec![u32::from_le_bytes(v4.octets())]);
    }
    if let Ok(v6) = text.parse::<std::net::Ipv6Addr>() {
        let octets = v6.octets();
        return Ok(octets.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect());
    }
    Err(format!("expected an IPv4 or IPv6 address, found {text:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_print_and_parse() {
        assert_eq!(flags("mmap.prot", 0x3), "PROT_READ | PROT_WRITE");
        assert_eq!(flags("mmap.prot", 0), "");
        assert_eq!(flags("mmap.status", 0x10041), "VMA_AREA_REGULAR | VMA_FILE_PRIVATE | 0x10000");
        assert_eq!(flags("pmap.flags", 6), "PE_LAZY | PE_PRESENT");
        assert_eq!(flags("no.such.table", 255), "0xff");
        assert_eq!(parse_flags("mmap.status", "VMA_AREA_REGULAR | VMA_FILE_PRIVATE | 0x10000"), Ok(0x10041));
        assert_eq!(parse_flags("pmap.flags", ""), Ok(0));
        assert!(parse_flags("pmap.flags", "PE_BOGUS").is_err());
    }

    #[test]
    fn devices_use_kernel_or_glibc_encoding() {
        assert_eq!(dev((8 << 20) | 1, false), "8:1");
        assert_eq!(parse_dev("8:1", false), Ok((8 << 20) | 1));
        assert_eq!(dev(0x801, true), "8:1");
        for v in [0u64, 0x801, 0x1234_5678_9abc] {
            assert_eq!(parse_dev(&dev(v, true), true), Ok(v));
        }
    }

    #[test]
    fn addresses_match_python_ipaddress() {
        assert_eq!(ip_address(&[u32::from_le_bytes([127, 0, 0, 1])]).unwrap(), "127.0.0.1");
        let v6 = parse_ip_address("fe80::1:0:0:1").unwrap();
        assert_eq!(ip_address(&v6).unwrap(), "fe80::1:0:0:1");
        assert_eq!(ip_address(&parse_ip_address("::").unwrap()).unwrap(), "::");
        assert_eq!(ip_address(&parse_ip_address("1:0:2::").unwrap()).unwrap(), "1:0:2::");
        // Python 3.11 prints IPv4-mapped addresses in plain hex groups.
        assert_eq!(ip_address(&parse_ip_address("::ffff:127.0.0.1").unwrap()).unwrap(), "::ffff:7f00:1");
        assert_eq!(ip_address(&[1, 2]), None);
    }

    #[test]
    fn ints_parse_like_python_int_base_0() {
        assert_eq!(parse_int("0x1F"), Some(31));
        assert_eq!(parse_int("-0x5"), Some(-5));
        assert_eq!(parse_int("0"), Some(0));
        assert_eq!(parse_int("007"), None);
        assert_eq!(parse_int("1_000"), Some(1000));
        assert_eq!(parse_int("18446744073709551615"), Some(u64::MAX as i128));
        assert_eq!(parse_int("abc"), None);
        // One sign only, and no panic at the edge of i128.
        for text in ["--5", "+-5", "0x-5", "-0x+5", "0x_-5", "--170141183460469231731687303715884105728"] {
            assert_eq!(parse_int(text), None, "{text}");
        }
        assert_eq!(parse_int("-170141183460469231731687303715884105727"), Some(-i128::MAX));
    }
}
