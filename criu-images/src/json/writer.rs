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

impl<'o> JsonWriter<'o> {
    /// `indent: None` gives crit's one-line `decode` output, `Some(4)` its
    /// `--pretty` / `show` layout.
    pub(crate) fn new(out: &'o mut Vec<u8>, indent: Option<usize>) -> Self {
        JsonWriter { out, indent, depth: 0, empty: true, after_key: false }
    }

    fn newline(&mut self) {
        if let Some(indent) = self.indent {
            self.out.push(b'\n');
            self.out.resize(self.out.len() + indent * self.depth, b' ');
        }
    }

    fn item(&mut self) {
        if self.after_key {
            self.after_key = false;
            return;
        }
        if self.depth == 0 {
            return;
        }
        if !self.empty {
            self.out.push(b',');
            if self.indent.is_none() {
                self.out.push(b' ');
            }
        }
        self.newline();
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

    /// Writes an object key; the next call writes its value.
    pub(crate) fn key(&mut self, key: &str) {
        self.item();
        write_json_string(self.out, key.as_bytes());
        self.out.extend_from_slice(b": ");
        self.after_key = true;
    }

    pub(crate) fn u64(&mut self, value: u64) {
        self.item();
        let mut buf = itoa_buf();
        self.out.extend_from_slice(format_u64(&mut buf, value));
    }

    pub(crate) fn i64(&mut self, value: i64) {
        self.item();
        if value < 0 {
            self.out.push(b'-');
        }
        let mut buf = itoa_buf();
        self.out.extend_from_slice(format_u64(&mut buf, value.unsigned_abs()));
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

    /// A value whose JSON text the caller has already formed (ASCII only).
    pub(crate) fn raw(&mut self, json: &str) {
        self.item();
        self.out.extend_from_slice(json.as_bytes());
    }
}

fn itoa_buf() -> [u8; 20] {
    [0; 20]
}

fn format_u64(buf: &mut [u8; 20], mut value: u64) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    &buf[i..]
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
