//! A streaming JSON writer that lays text out exactly as Python's
//! `json.dump` does: `", "` and `": "` separators on one line, or
//! `indent=4` with `","` at line ends and `[]`/`{}` for empty containers.

use super::text::write_json_string;

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

    /// Where the writer stands, to come back to with [`JsonWriter::rollback`].
    #[inline]
    pub(crate) fn mark(&self) -> WriterMark {
        WriterMark { len: self.out.len(), depth: self.depth, empty: self.empty, after_key: self.after_key }
    }

    /// Forgets everything written since `mark`.
    #[inline]
    pub(crate) fn rollback(&mut self, mark: WriterMark) {
        self.out.truncate(mark.len);
        self.depth = mark.depth;
        self.empty = mark.empty;
        self.after_key = mark.after_key;
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

    pub(crate) fn begin_object(&mut self) {
        self.item();
        self.out.push(b'{');
        self.depth += 1;
        self.empty = true;
    }

    pub(crate) fn end_object(&mut self) {
        self.close(b'}');
    }

    pub(crate) fn begin_array(&mut self) {
        self.item();
        self.out.push(b'[');
        self.depth += 1;
        self.empty = true;
    }

    pub(crate) fn end_array(&mut self) {
        self.close(b']');
    }

    fn close(&mut self, bracket: u8) {
        self.depth -= 1;
        if !self.empty {
            self.newline();
        }
        self.out.push(bracket);
        self.empty = false;
    }

    /// Writes an object key; the next call writes its value. `json_key` is
    /// the key already quoted with its separator (`"name": `, a schema's
    /// [`crate::proto::FieldSchema::json_key`]): a protobuf field name needs
    /// no escaping.
    #[inline]
    pub(crate) fn field_key(&mut self, json_key: &str) {
        debug_assert!(json_key.starts_with('"') && json_key.ends_with("\": "));
        self.item();
        self.out.extend_from_slice(json_key.as_bytes());
        self.after_key = true;
    }

    pub(crate) fn key(&mut self, key: &str) {
        self.item();
        write_json_string(self.out, key.as_bytes());
        self.out.extend_from_slice(b": ");
        self.after_key = true;
    }

    #[inline]
    pub(crate) fn u64(&mut self, value: u64) {
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
    pub(crate) fn i64(&mut self, value: i64) {
        if value >= 0 {
            return self.u64(value as u64);
        }
        self.item();
        self.out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
    }

    /// `"0x1f"` (and `"-0x5"`), crit's pretty hex, without a temporary string.
    pub(crate) fn hex_string(&mut self, value: i128) {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        self.item();
        self.out.push(b'"');
        if value < 0 {
            self.out.push(b'-');
        }
        self.out.extend_from_slice(b"0x");
        let magnitude = value.unsigned_abs();
        let mut buf = [0u8; 32];
        let mut i = buf.len();
        let mut v = magnitude;
        loop {
            i -= 1;
            buf[i] = DIGITS[(v & 15) as usize];
            v >>= 4;
            if v == 0 {
                break;
            }
        }
        self.out.extend_from_slice(&buf[i..]);
        self.out.push(b'"');
    }

    pub(crate) fn bool(&mut self, value: bool) {
        self.item();
        self.out.extend_from_slice(if value { b"true" } else { b"false" });
    }

    /// A string value; bytes that are not UTF-8 are escaped as lone surrogates.
    pub(crate) fn string(&mut self, value: &[u8]) {
        self.item();
        write_json_string(self.out, value);
    }

    /// A string value of printable ASCII without `"` or `\\` (names from the
    /// schema, flag and dict tables, hex, device numbers, IP addresses),
    /// written without looking for bytes to escape.
    pub(crate) fn ascii_string(&mut self, value: &[u8]) {
        self.ascii_string_with(|out| out.extend_from_slice(value));
    }

    /// [`JsonWriter::ascii_string`] of the text `text` appends to the output.
    pub(crate) fn ascii_string_with(&mut self, text: impl FnOnce(&mut Vec<u8>)) {
        self.item();
        self.out.push(b'"');
        let start = self.out.len();
        text(self.out);
        debug_assert!(self.out[start..].iter().all(|&b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\'));
        self.out.push(b'"');
    }

    /// A value whose JSON text the caller has already formed (ASCII only).
    pub(crate) fn raw(&mut self, json: &str) {
        self.item();
        self.out.extend_from_slice(json.as_bytes());
    }
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
        assert_eq!(
            sample(None),
            r#"{"magic": "PSTREE", "entries": [{"pid": 1, "threads": [-1], "none": []}, {}]}"#
        );
    }

    #[test]
    fn indented_layout_matches_python() {
        let expected = "{\n    \"magic\": \"PSTREE\",\n    \"entries\": [\n        {\n            \"pid\": 1,\n            \"threads\": [\n                -1\n            ],\n            \"none\": []\n        },\n        {}\n    ]\n}";
        assert_eq!(sample(Some(4)), expected);
    }
}
