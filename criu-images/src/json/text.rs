//! Byte-to-text conversions crit uses: MIME base64 for bytes fields and
//! payloads, quoted-printable for unix socket names, and JSON string escaping
//! as Python's `json.dump` does it (`ensure_ascii=True`).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

/// Python's `base64.encodebytes`: lines of at most 76 characters (57 input
/// bytes), each ending in `\n`; empty input gives an empty string.
pub(crate) fn mime_base64(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(57) * 77 + 4);
    for chunk in data.chunks(57) {
        STANDARD.encode_string(chunk, &mut out);
        out.push('\n');
    }
    out
}

/// Inverse of [`mime_base64`]; ASCII white space anywhere is ignored, like
/// Python's `base64.decodebytes`.
pub(crate) fn decode_base64(text: &[u8]) -> Result<Vec<u8>, String> {
    let compact: Vec<u8> = text.iter().copied().filter(|b| !b.is_ascii_whitespace()).collect();
    STANDARD.decode(&compact).map_err(|e| format!("invalid base64: {e}"))
}

const QP_LINE: usize = 76;

fn hex_upper(b: u8) -> [u8; 2] {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    [DIGITS[(b >> 4) as usize], DIGITS[(b & 15) as usize]]
}

/// Python's `quopri.encodestring` (binascii's `b2a_qp` with text line
/// breaks, tabs and spaces unquoted except at the end of a line, soft line
/// breaks at 76 characters). crit uses it for `unix_sk_entry.name`.
pub(crate) fn quoted_printable(data: &[u8]) -> String {
    let len = data.len();
    let crlf = match data.iter().position(|&b| b == b'\n') {
        Some(p) => p > 0 && data[p - 1] == b'\r',
        None => false,
    };
    let mut out: Vec<u8> = Vec::with_capacity(len * 3);
    let soft_break = |out: &mut Vec<u8>| {
        out.push(b'=');
        if crlf {
            out.push(b'\r');
        }
        out.push(b'\n');
    };
    let mut i = 0;
    let mut line_len = 0;
    while i < len {
        let c = data[i];
        let at_end = i + 1 == len;
        let lone_dot = c == b'.' && line_len == 0 && (at_end || matches!(data[i + 1], b'\n' | b'\r' | 0));
        let must_quote = c > 126
            || c == b'='
            || lone_dot
            || ((c == b'\t' || c == b' ') && at_end)
            || (c < 33 && c != b'\r' && c != b'\n' && c != b'\t' && c != b' ');
        if must_quote {
            if line_len + 3 >= QP_LINE {
                soft_break(&mut out);
                line_len = 0;
            }
            out.push(b'=');
            out.extend(hex_upper(c));
            i += 1;
            line_len += 3;
        } else if c == b'\n' || (c == b'\r' && i + 1 < len && data[i + 1] == b'\n') {
            line_len = 0;
            // White space at the end of a line is quoted.
            if let Some(&last) = out.last() {
                if last == b' ' || last == b'\t' {
                    let n = out.len();
                    out[n - 1] = b'=';
                    out.extend(hex_upper(last));
                }
            }
            if crlf {
                out.push(b'\r');
            }
            out.push(b'\n');
            i += if c == b'\r' { 2 } else { 1 };
        } else {
            if !at_end && data[i + 1] != b'\n' && line_len + 1 >= QP_LINE {
                soft_break(&mut out);
                line_len = 0;
            }
            line_len += 1;
            out.push(c);
            i += 1;
        }
    }
    // Every byte above is ASCII.
    String::from_utf8(out).expect("quoted-printable output is ASCII")
}

/// Python's `quopri.decodestring` (binascii's `a2b_qp`).
pub(crate) fn decode_quoted_printable(text: &[u8]) -> Vec<u8> {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        if text[i] != b'=' {
            out.push(text[i]);
            i += 1;
            continue;
        }
        i += 1;
        if i >= text.len() {
            break;
        }
        match text[i] {
            b'\n' | b'\r' => {
                // Soft line break.
                while i < text.len() && text[i] != b'\n' {
                    i += 1;
                }
                if i < text.len() {
                    i += 1;
                }
            }
            b'=' => {
                out.push(b'=');
                i += 1;
            }
            a if i + 1 < text.len() && hex(a).is_some() && hex(text[i + 1]).is_some() => {
                out.push((hex(a).unwrap() << 4) | hex(text[i + 1]).unwrap());
                i += 2;
            }
            _ => out.push(b'='),
        }
    }
    out
}

/// Appends `s` as a JSON string the way Python's `json.dumps` writes it:
/// ASCII only, `\uXXXX` (lowercase hex) for everything else. Bytes that are
/// not valid UTF-8 become lone surrogates `\udc80`..`\udcff` (Python's
/// "surrogateescape"), so that any byte string survives a round trip.
pub(crate) fn write_json_string(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    // Most strings (names, hex, base64, paths) need no escaping at all.
    if s.iter().all(|&b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\') {
        out.extend_from_slice(s);
        out.push(b'"');
        return;
    }
    let mut rest = s;
    loop {
        match std::str::from_utf8(rest) {
            Ok(valid) => {
                write_escaped(out, valid);
                break;
            }
            Err(err) => {
                let (valid, after) = rest.split_at(err.valid_up_to());
                write_escaped(out, std::str::from_utf8(valid).unwrap());
                let bad = err.error_len().unwrap_or(after.len());
                for &b in &after[..bad] {
                    write_u_escape(out, 0xdc00 | u32::from(b));
                }
                rest = &after[bad..];
            }
        }
    }
    out.push(b'"');
}

fn write_escaped(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\' {
            continue;
        }
        if b >= 0x80 {
            continue; // handled below, char by char
        }
        write_unescaped(out, &s[start..i]);
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            // Control characters and DEL: Python's ensure_ascii escapes
            // everything outside ' '..='~' (json.dumps("\x7f") is "\u007f").
            _ => write_u_escape(out, u32::from(b)),
        }
        start = i + 1;
    }
    write_unescaped(out, &s[start..]);
}

/// Text without quotes, backslashes or control characters: ASCII as is,
/// everything else as `\u` escapes (UTF-16 surrogate pairs above U+FFFF).
fn write_unescaped(out: &mut Vec<u8>, s: &str) {
    if s.is_ascii() {
        out.extend_from_slice(s.as_bytes());
        return;
    }
    for ch in s.chars() {
        if ch.is_ascii() {
            out.push(ch as u8);
        } else {
            let mut units = [0u16; 2];
            for unit in ch.encode_utf16(&mut units) {
                write_u_escape(out, u32::from(*unit));
            }
        }
    }
}

fn write_u_escape(out: &mut Vec<u8>, unit: u32) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    out.extend_from_slice(b"\\u");
    for shift in [12, 8, 4, 0] {
        out.push(DIGITS[((unit >> shift) & 15) as usize]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(s: &[u8]) -> String {
        let mut out = Vec::new();
        write_json_string(&mut out, s);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn strings_are_escaped_like_python() {
        assert_eq!(json(b"plain"), r#""plain""#);
        assert_eq!(json(b"a\"b\\c\n\t\x01"), "\"a\\\"b\\\\c\\n\\t\\u0001\"");
        // DEL is escaped too: Python's json.dumps("\x7f") == "\"\\u007f\"".
        assert_eq!(json(b"del\x7f"), r#""del\u007f""#);
        assert_eq!(json("\u{7f}é".as_bytes()), r#""\u007f\u00e9""#);
        assert_eq!(json("é€😀".as_bytes()), r#""\u00e9\u20ac\ud83d\ude00""#);
        assert_eq!(json(b"ok\xff\xfeA"), r#""ok\udcff\udcfeA""#);
        // Non-ASCII before an escaped character is escaped too.
        assert_eq!(json("é\n€\"x😀\t".as_bytes()), r#""\u00e9\n\u20ac\"x\ud83d\ude00\t""#);
    }

    #[test]
    fn base64_is_mime_style() {
        assert_eq!(mime_base64(b""), "");
        assert_eq!(mime_base64(b"abc"), "YWJj\n");
        let long = vec![0u8; 100];
        let text = mime_base64(&long);
        assert_eq!(text.lines().map(str::len).collect::<Vec<_>>(), vec![76, 60]);
        assert_eq!(decode_base64(text.as_bytes()).unwrap(), long);
    }

    #[test]
    fn quoted_printable_matches_python_examples() {
        // Values checked with CPython's quopri.encodestring.
        assert_eq!(quoted_printable(b"/run/x=y.sock"), "/run/x=3Dy.sock");
        assert_eq!(quoted_printable(b"\0abstract"), "=00abstract");
        assert_eq!(quoted_printable(b"tail "), "tail=20");
        assert_eq!(quoted_printable(b"."), "=2E");
        for sample in [&b"\0abstract"[..], b"a=b", b"x \ny", &[0xff; 100]] {
            assert_eq!(decode_quoted_printable(quoted_printable(sample).as_bytes()), sample);
        }
    }
}
