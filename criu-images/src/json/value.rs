//! A small JSON reader for `encode`. It keeps what crit's JSON needs and
//! general-purpose parsers lose: object key order, integers up to 64 bits
//! (signed or not) without rounding, lone surrogates (`\udcff`, our
//! escape for non-UTF-8 bytes) and the byte offset of every value for
//! error messages. Depth is bounded so hostile input cannot overflow the stack.

/// Nesting limit; CRIU messages nest a handful of levels.
const MAX_DEPTH: usize = 128;

/// A parsed JSON value with the byte offset where it starts.
#[derive(Clone, PartialEq, Debug)]
pub(crate) struct Node {
    pub(crate) at: usize,
    pub(crate) value: Value,
}

#[derive(Clone, PartialEq, Debug)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    /// An integer literal (no fraction or exponent).
    Int(i128),
    Float(f64),
    /// String contents as bytes: UTF-8, except that `\udc80`..`\udcff`
    /// escapes stand for the raw bytes 0x80..0xff.
    Str(Vec<u8>),
    Array(Vec<Node>),
    Object(Vec<(Vec<u8>, Node)>),
}

impl Value {
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Array(_) => "an array",
            Value::Object(_) => "an object",
        }
    }
}

/// A syntax error at a byte offset.
#[derive(Debug)]
pub(crate) struct SyntaxError {
    pub(crate) at: usize,
    pub(crate) what: String,
}

/// Parses one JSON document; white space may surround it.
pub(crate) fn parse(text: &[u8]) -> Result<Node, SyntaxError> {
    let mut parser = Parser { text, pos: 0 };
    parser.skip_ws();
    let node = parser.value(0)?;
    parser.skip_ws();
    if parser.pos != text.len() {
        return Err(parser.error("end of input after the JSON value"));
    }
    Ok(node)
}

/// 1-based line and column of a byte offset.
pub(crate) fn line_column(text: &[u8], at: usize) -> (usize, usize) {
    let before = &text[..at.min(text.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let column = before.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
    (line, column)
}

struct Parser<'t> {
    text: &'t [u8],
    pos: usize,
}

impl Parser<'_> {
    fn error(&self, expected: &str) -> SyntaxError {
        let found = match self.text.get(self.pos) {
            Some(&b) if b.is_ascii_graphic() => format!("'{}'", b as char),
            Some(&b) => format!("byte 0x{b:02x}"),
            None => "end of input".to_string(),
        };
        SyntaxError { at: self.pos, what: format!("expected {expected}, found {found}") }
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.text.get(self.pos) {
            self.pos += 1;
        }
    }

    fn value(&mut self, depth: usize) -> Result<Node, SyntaxError> {
        if depth > MAX_DEPTH {
            return Err(SyntaxError { at: self.pos, what: format!("JSON nested deeper than {MAX_DEPTH} levels") });
        }
        let at = self.pos;
        let value = match self.text.get(self.pos) {
            Some(b'{') => self.object(depth)?,
            Some(b'[') => self.array(depth)?,
            Some(b'"') => Value::Str(self.string()?),
            Some(b't') => self.literal(b"true", Value::Bool(true))?,
            Some(b'f') => self.literal(b"false", Value::Bool(false))?,
            Some(b'n') => self.literal(b"null", Value::Null)?,
            Some(b'-' | b'0'..=b'9') => self.number()?,
            _ => return Err(self.error("a JSON value")),
        };
        Ok(Node { at, value })
    }

    fn literal(&mut self, word: &[u8], value: Value) -> Result<Value, SyntaxError> {
        if self.text[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(self.error(std::str::from_utf8(word).unwrap()))
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value, SyntaxError> {
        self.pos += 1;
        let mut members = Vec::new();
        self.skip_ws();
        if self.text.get(self.pos) == Some(&b'}') {
            self.pos += 1;
            return Ok(Value::Object(members));
        }
        loop {
            self.skip_ws();
            if self.text.get(self.pos) != Some(&b'"') {
                return Err(self.error("an object key in double quotes"));
            }
            let key = self.string()?;
            self.skip_ws();
            if self.text.get(self.pos) != Some(&b':') {
                return Err(self.error("':' after an object key"));
            }
            self.pos += 1;
            self.skip_ws();
            let value = self.value(depth + 1)?;
            members.push((key, value));
            self.skip_ws();
            match self.text.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Value::Object(members));
                }
                _ => return Err(self.error("',' or '}' in an object")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value, SyntaxError> {
        self.pos += 1;
        let mut items = Vec::new();
        self.skip_ws();
        if self.text.get(self.pos) == Some(&b']') {
            self.pos += 1;
            return Ok(Value::Array(items));
        }
        loop {
            self.skip_ws();
            items.push(self.value(depth + 1)?);
            self.skip_ws();
            match self.text.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Value::Array(items));
                }
                _ => return Err(self.error("',' or ']' in an array")),
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, SyntaxError> {
        let digits = self.text.get(self.pos..self.pos + 4).ok_or_else(|| self.error("four hex digits"))?;
        let text = std::str::from_utf8(digits).map_err(|_| self.error("four hex digits"))?;
        let value = u32::from_str_radix(text, 16).map_err(|_| self.error("four hex digits"))?;
        self.pos += 4;
        Ok(value)
    }

    fn string(&mut self) -> Result<Vec<u8>, SyntaxError> {
        self.pos += 1; // opening quote
        let mut out = Vec::new();
        loop {
            let start = self.pos;
            while let Some(&b) = self.text.get(self.pos) {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            out.extend_from_slice(&self.text[start..self.pos]);
            match self.text.get(self.pos) {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let Some(&esc) = self.text.get(self.pos) else {
                        return Err(self.error("an escape character"));
                    };
                    self.pos += 1;
                    match esc {
                        b'"' => out.push(b'"'),
                        b'\\' => out.push(b'\\'),
                        b'/' => out.push(b'/'),
                        b'b' => out.push(0x08),
                        b'f' => out.push(0x0c),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let unit = self.hex4()?;
                            self.push_unit(unit, &mut out)?;
                        }
                        _ => {
                            self.pos -= 1;
                            return Err(self.error("a valid escape (\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u)"));
                        }
                    }
                }
                Some(_) => return Err(self.error("a closing '\"' (control characters must be escaped)")),
                None => return Err(self.error("a closing '\"'")),
            }
        }
    }

    fn push_unit(&mut self, unit: u32, out: &mut Vec<u8>) -> Result<(), SyntaxError> {
        let ch = if (0xd800..0xdc00).contains(&unit) {
            // A high surrogate must be followed by a low one.
            if self.text.get(self.pos..self.pos + 2) == Some(b"\\u") {
                let save = self.pos;
                self.pos += 2;
                let low = self.hex4()?;
                if (0xdc00..0xe000).contains(&low) {
                    char::from_u32(0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00))
                } else {
                    self.pos = save;
                    return Err(SyntaxError { at: save, what: "a high surrogate without its low surrogate".into() });
                }
            } else {
                return Err(SyntaxError { at: self.pos, what: "a high surrogate without its low surrogate".into() });
            }
        } else if (0xdc80..0xdd00).contains(&unit) {
            // Our escape for a byte that was not UTF-8.
            out.push((unit & 0xff) as u8);
            return Ok(());
        } else if (0xdc00..0xe000).contains(&unit) {
            return Err(SyntaxError { at: self.pos - 6, what: "a lone low surrogate outside \\udc80..\\udcff".into() });
        } else {
            char::from_u32(unit)
        };
        let ch = ch.expect("valid scalar value");
        let mut buf = [0u8; 4];
        out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
        Ok(())
    }

    fn number(&mut self) -> Result<Value, SyntaxError> {
        let start = self.pos;
        if self.text.get(self.pos) == Some(&b'-') {
            self.pos += 1;
        }
        let digits_start = self.pos;
        while let Some(b'0'..=b'9') = self.text.get(self.pos) {
            self.pos += 1;
        }
        if self.pos == digits_start {
            return Err(self.error("digits"));
        }
        if self.text[digits_start] == b'0' && self.pos - digits_start > 1 {
            return Err(SyntaxError { at: digits_start, what: "a number without leading zeros".into() });
        }
        let mut is_float = false;
        if self.text.get(self.pos) == Some(&b'.') {
            is_float = true;
            self.pos += 1;
            let frac = self.pos;
            while let Some(b'0'..=b'9') = self.text.get(self.pos) {
                self.pos += 1;
            }
            if self.pos == frac {
                return Err(self.error("digits after '.'"));
            }
        }
        if let Some(b'e' | b'E') = self.text.get(self.pos) {
            is_float = true;
            self.pos += 1;
            if let Some(b'+' | b'-') = self.text.get(self.pos) {
                self.pos += 1;
            }
            let exp = self.pos;
            while let Some(b'0'..=b'9') = self.text.get(self.pos) {
                self.pos += 1;
            }
            if self.pos == exp {
                return Err(self.error("exponent digits"));
            }
        }
        let text = std::str::from_utf8(&self.text[start..self.pos]).expect("ASCII digits");
        if is_float {
            return text.parse().map(Value::Float).map_err(|_| SyntaxError { at: start, what: "a number".into() });
        }
        // Anything beyond i128 is far out of range for protobuf anyway.
        text.parse::<i128>().map(Value::Int).map_err(|_| SyntaxError { at: start, what: "an integer within 128 bits".into() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_crit_json_shapes() {
        let node = parse(br#" {"magic": "PSTREE", "entries": [{"pid": 18446744073709551615, "x": -1, "f": 1.5, "b": true, "n": null}]} "#)
            .unwrap();
        let Value::Object(members) = node.value else { panic!() };
        assert_eq!(members[0].0, b"magic");
        let Value::Array(entries) = &members[1].1.value else { panic!() };
        let Value::Object(fields) = &entries[0].value else { panic!() };
        assert_eq!(fields[0].1.value, Value::Int(u64::MAX as i128));
        assert_eq!(fields[1].1.value, Value::Int(-1));
        assert_eq!(fields[2].1.value, Value::Float(1.5));
    }

    #[test]
    fn strings_keep_escapes_and_raw_bytes() {
        let node = parse(br#""a\n\u00e9\ud83d\ude00\udcff""#).unwrap();
        let mut expected = b"a\n".to_vec();
        expected.extend("é😀".as_bytes());
        expected.push(0xff);
        assert_eq!(node.value, Value::Str(expected));
    }

    #[test]
    fn errors_carry_offsets() {
        let err = parse(b"{\"a\": [1, 2,, 3]}").unwrap_err();
        assert_eq!(err.at, 12);
        assert_eq!(line_column(b"{\n  x", 4), (2, 3));
        assert!(parse(b"[1] x").is_err());
        assert!(parse(b"\"\\ud800\"").is_err());
        assert!(parse(b"01").is_err());
        let deep = "[".repeat(10_000);
        assert!(parse(deep.as_bytes()).unwrap_err().what.contains("deeper"));
    }
}
