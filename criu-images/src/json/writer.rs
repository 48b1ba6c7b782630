//! A streaming JSON writer that lays text out exactly as Python's
//! `json.dump` does: `", "` and `": "` separators on one line, or
//! `indent=4` with `","` at line ends and `[]`/`{}` for empty containers.

use std::io::Write as _;

use super::sink::Sink;
use super::text::write_json_string;
use crate::proto::FieldSchema;

/// Writes JSON into a byte buffer.
pub(crate) struct JsonWriter<'o> {
    out: &'o mut Vec<u8>,
    indent: Option<usize>,
    depth: usize,
    // Whether the innermost open container has no item yet.
    empty: bool,
    // A key was just written: the next value is its value, not a new item.
    after_key: bool,
}

/// A position of a [`JsonWriter`] (see [`JsonWriter::mark`]).
#[derive(Clone, Copy)]
pub(crate) struct WriterMark {
    len: usize,
    depth: usize,
    empty: bool,
    after_key: bool,
}

impl<'o> JsonWriter<'o> {
    /// `indent: None` gives crit's one-line `decode` output, `Some(4)` its
    /// `--pretty` / `show` layout.
    pub(crate) fn new(out: &'o mut Vec<u8>, indent: Option<usize>) -> Self {
        JsonWriter { out, indent, depth: 0, empty: true, after_key: false }
    }

    /// A writer for items of an array open at `depth` elsewhere; `first`
    /// says whether the array has no item yet (so no separator is due).
    pub(crate) fn inside_array(out: &'o mut Vec<u8>, indent: Option<usize>, depth: usize, first: bool) -> Self {
        JsonWriter { out, indent, depth, empty: first, after_key: false }
    }

    #[inline]
    fn newline(&mut self) {
        /// A newline and the indentation of the usual depths, copied at once.
        const LINE: &[u8; 65] = b"\n                                                                ";
        if let Some(indent) = self.indent {
            // Constant lengths for the usual depths: copied inline.
            match 1 + indent * self.depth {
                5 => self.out.extend_from_slice(&LINE[..5]),
                9 => self.out.extend_from_slice(&LINE[..9]),
                13 => self.out.extend_from_slice(&LINE[..13]),
                17 => self.out.extend_from_slice(&LINE[..17]),
                n if n <= LINE.len() => self.out.extend_from_slice(&LINE[..n]),
                _ => {
                    self.out.push(b'\n');
                    self.out.resize(self.out.len() + indent * self.depth, b' ');
                }
            }
        }
    }

    #[inline]
    fn item(&mut self) {
        if self.after_key {
            self.after_key = false;
            return;
        }
        if self.depth == 0 {
            return;
        }
        match (self.empty, self.indent) {
            (true, None) => {}
            (false, None) => self.out.extend_from_slice(b", "),
            (empty, Some(_)) => {
                if !empty {
                    self.out.push(b',');
                }
                self.newline();
            }
        }
        self.empty = false;
    }

    fn close(&mut self, bracket: u8) {
        self.depth -= 1;
        if !self.empty {
            self.newline();
        }
        self.out.push(bracket);
        self.empty = false;
    }
}

impl Sink for JsonWriter<'_> {
    type Mark = WriterMark;

    #[inline]
    fn mark(&self) -> WriterMark {
        WriterMark { len: self.out.len(), depth: self.depth, empty: self.empty, after_key: self.after_key }
    }

    #[inline]
    fn rollback(&mut self, mark: WriterMark) {
        self.out.truncate(mark.len);
        self.depth = mark.depth;
        self.empty = mark.empty;
        self.after_key = mark.after_key;
    }

    fn begin_object(&mut self) {
        self.item();
        self.out.push(b'{');
        self.depth += 1;
        self.empty = true;
    }

    fn end_object(&mut self) {
        self.close(b'}');
    }

    fn begin_array(&mut self) {
        self.item();
        self.out.push(b'[');
        self.depth += 1;
        self.empty = true;
    }

    fn end_array(&mut self) {
        self.close(b']');
    }

    /// The key is the schema's ready-quoted [`FieldSchema::json_key`]
    /// (`"name": `): a protobuf field name needs no escaping.
    #[inline]
    fn field_key(&mut self, field: &'static FieldSchema) {
        debug_assert!(field.json_key.starts_with('"') && field.json_key.ends_with("\": "));
        self.item();
        self.out.extend_from_slice(field.json_key.as_bytes());
        self.after_key = true;
    }

    fn key(&mut self, key: &'static str) {
        self.item();
        write_json_string(self.out, key.as_bytes());
        self.out.extend_from_slice(b": ");
        self.after_key = true;
    }

    #[inline]
    fn u64(&mut self, value: u64) {
        self.item();
        // Flags, counts and small ids are most of the numbers in images.
        if value < 10 {
            self.out.push(b'0' + value as u8);
        } else if value < 100 {
            self.out.extend_from_slice(&[b'0' + (value / 10) as u8, b'0' + (value % 10) as u8]);
        } else {
            self.out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
        }
    }

    #[inline]
    fn i64(&mut self, value: i64) {
        if value >= 0 {
            return self.u64(value as u64);
        }
        self.item();
        self.out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
    }

    /// Python's `repr(float)`, and its `NaN` / `Infinity` for the values
    /// JSON has no numbers for.
    fn f64(&mut self, value: f64) {
        self.item();
        if value.is_nan() {
            self.out.extend_from_slice(b"NaN");
        } else if value.is_infinite() {
            self.out.extend_from_slice(if value > 0.0 { b"Infinity" } else { b"-Infinity" });
        } else {
            write!(self.out, "{value:?}").expect("writing to a Vec does not fail");
        }
    }

    fn hex_string(&mut self, value: i128) {
        self.ascii_string_with(|out| write_hex(out, value));
    }

    fn bool(&mut self, value: bool) {
        self.item();
        self.out.extend_from_slice(if value { b"true" } else { b"false" });
    }

    /// Bytes that are not UTF-8 are escaped as lone surrogates.
    fn string(&mut self, value: &[u8]) {
        self.item();
        write_json_string(self.out, value);
    }

    fn name(&mut self, value: &'static str) {
        self.ascii_string_with(|out| out.extend_from_slice(value.as_bytes()));
    }

    /// Written without looking for bytes to escape.
    fn ascii_string_with(&mut self, text: impl FnOnce(&mut Vec<u8>)) {
        self.item();
        self.out.push(b'"');
        let start = self.out.len();
        text(self.out);
        debug_assert!(self.out[start..].iter().all(|&b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\'));
        self.out.push(b'"');
    }
}

/// Appends crit's pretty hex of `value` (`0x1f`, `-0x5`).
pub(crate) fn write_hex(out: &mut Vec<u8>, value: i128) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    if value < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(b"0x");
    let mut buf = [0u8; 32];
    let mut i = buf.len();
    let mut v = value.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = DIGITS[(v & 15) as usize];
        v >>= 4;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(indent: Option<usize>) -> String {
        let mut out = Vec::new();
        let mut w = JsonWriter::new(&mut out, indent);
        w.begin_object();
        w.key("magic");
        w.string(b"PSTREE");
        w.key("entries");
        w.begin_array();
        w.begin_object();
        w.key("pid");
        w.u64(1);
        w.key("threads");
        w.begin_array();
        w.i64(-1);
        w.end_array();
        w.key("none");
        w.begin_array();
        w.end_array();
        w.end_object();
        w.begin_object();
        w.end_object();
        w.end_array();
        w.end_object();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn one_line_layout_matches_python() {
        assert_eq!(sample(None), r#"{"magic": "PSTREE", "entries": [{"pid": 1, "threads": [-1], "none": []}, {}]}"#);
    }

    #[test]
    fn indented_layout_matches_python() {
        let expected = "{\n    \"magic\": \"PSTREE\",\n    \"entries\": [\n        {\n            \"pid\": 1,\n            \"threads\": [\n                -1\n            ],\n            \"none\": []\n        },\n        {}\n    ]\n}";
        assert_eq!(sample(Some(4)), expected);
    }
}
