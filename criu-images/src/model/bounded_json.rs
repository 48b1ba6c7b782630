//! The JSON members of container checkpoints (`config.dump`, `spec.dump`,
//! `network.status`, `bind.mounts`, `deleted.files`), read with bounds and
//! walked with errors that name the member and the JSON path.
//!
//! These members come from the checkpointed machine and may be hostile, so:
//! the member size is capped before parsing; the number of JSON values is
//! capped while parsing, because a parsed value costs tens of bytes per input
//! byte (`[[],[],...]`); nesting is capped by serde_json (128 levels). Walking
//! is lenient about what is absent (a missing key or a `null` is "not
//! there") and strict about what is there: a value of the wrong type is an
//! [`Error::Malformed`] naming the member and the path, e.g.
//! `spec.dump: ... $.process.args[2]: expected a string, found a number`.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use crate::error::{Error, Location, Result};

/// Most JSON values (scalars, arrays and objects) one member may hold. Real
/// members hold a few thousand; this bounds a hostile one to a few tens of MiB.
pub(crate) const MAX_JSON_VALUES: usize = 1 << 18;

/// Parses `bytes` (the member `member`) as one JSON document, refusing
/// members larger than `max_size` bytes or with more than
/// [`MAX_JSON_VALUES`] values. Syntax errors (a truncated document, trailing
/// bytes) are [`Error::Json`] with line and column.
pub(crate) fn parse(member: &str, bytes: &[u8], max_size: usize) -> Result<Value> {
    if bytes.len() > max_size {
        return Err(Error::Limit { file: member.to_string(), what: "metadata member".to_string(), limit: max_size as u64 });
    }
    let budget = Cell::new(MAX_JSON_VALUES);
    let mut de = serde_json::Deserializer::from_slice(bytes);
    Budget(&budget).deserialize(&mut de).and_then(|value| de.end().map(|()| value)).map_err(|err| json_error(member, &err))
}

fn json_error(member: &str, err: &serde_json::Error) -> Error {
    // serde_json's message ends with " at line L column C"; the variant
    // carries those as fields, so drop the duplicate.
    let message = err.to_string();
    let suffix = format!(" at line {} column {}", err.line(), err.column());
    let detail = message.strip_suffix(&suffix).unwrap_or(&message).to_string();
    Error::Json { file: member.to_string(), line: err.line(), column: err.column(), detail }
}

/// Builds a [`Value`] like serde_json's own `Deserialize`, spending one unit
/// of a shared budget per value.
struct Budget<'b>(&'b Cell<usize>);

impl Budget<'_> {
    fn spend<E: de::Error>(&self) -> Result<(), E> {
        match self.0.get().checked_sub(1) {
            Some(left) => {
                self.0.set(left);
                Ok(())
            }
            None => Err(E::custom(format_args!("more than {MAX_JSON_VALUES} JSON values; refusing a member this large"))),
        }
    }
}

impl<'de> DeserializeSeed<'de> for Budget<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Budget<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        self.spend()?;
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        self.spend()?;
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        self.spend()?;
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        self.spend()?;
        // JSON text cannot spell NaN or infinity, so this is always Some.
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        self.spend()?;
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        self.spend()?;
        Ok(Value::String(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        self.spend()?;
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        self.spend()?;
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(Budget(self.0))? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        self.spend()?;
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(Budget(self.0))?;
            // A repeated key keeps its last value, as Go's encoding/json does.
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

/// A value inside a member, with the path that leads to it, for errors.
#[derive(Clone)]
pub(crate) struct Node<'v> {
    member: &'v str,
    value: &'v Value,
    path: String,
}

impl<'v> Node<'v> {
    /// The document root, `$`.
    pub(crate) fn root(member: &'v str, value: &'v Value) -> Self {
        Node { member, value, path: "$".to_string() }
    }

    /// A document nested in a string of another one (a JSON annotation),
    /// reported under `path`.
    pub(crate) fn nested(member: &'v str, value: &'v Value, path: String) -> Self {
        Node { member, value, path }
    }

    /// The JSON path of this value, e.g. `$.process.args[2]`.
    pub(crate) fn path(&self) -> &str {
        &self.path
    }

    pub(crate) fn value(&self) -> &'v Value {
        self.value
    }

    /// An error saying this value is not `expected`.
    pub(crate) fn error(&self, expected: &str) -> Error {
        self.malformed(format!("expected {expected}, found {}", describe(self.value)))
    }

    /// An error about this value.
    pub(crate) fn malformed(&self, what: String) -> Error {
        // Parsed JSON keeps no byte offsets; the path says where instead.
        Error::Malformed { at: Location::new(self.member, 0), detail: format!("{}: {what}", self.path) }
    }

    fn child(&self, value: &'v Value, segment: fmt::Arguments<'_>) -> Node<'v> {
        Node { member: self.member, value, path: format!("{}{segment}", self.path) }
    }

    /// The fields of an object (`null` has none).
    pub(crate) fn fields(&self) -> Result<Vec<(&'v str, Node<'v>)>> {
        match self.value {
            Value::Object(map) => {
                Ok(map.iter().map(|(key, value)| (key.as_str(), self.child(value, format_args!("{}", KeySegment(key))))).collect())
            }
            Value::Null => Ok(Vec::new()),
            _ => Err(self.error("an object")),
        }
    }

    /// The elements of an array (`null` has none).
    pub(crate) fn items(&self) -> Result<Vec<Node<'v>>> {
        match self.value {
            Value::Array(items) => Ok(items.iter().enumerate().map(|(i, item)| self.child(item, format_args!("[{i}]"))).collect()),
            Value::Null => Ok(Vec::new()),
            _ => Err(self.error("an array")),
        }
    }

    /// Field `key` of this object; `None` when absent or `null`.
    pub(crate) fn get(&self, key: &str) -> Result<Option<Node<'v>>> {
        match self.value {
            Value::Object(map) => {
                Ok(map.get(key).filter(|value| !value.is_null()).map(|value| self.child(value, format_args!("{}", KeySegment(key)))))
            }
            Value::Null => Ok(None),
            _ => Err(self.error("an object")),
        }
    }

    /// This value as a string.
    pub(crate) fn as_str(&self) -> Result<&'v str> {
        self.value.as_str().ok_or_else(|| self.error("a string"))
    }

    /// This value as an unsigned integer.
    pub(crate) fn as_u64(&self) -> Result<u64> {
        self.value.as_u64().ok_or_else(|| self.error("an unsigned integer"))
    }

    /// This value as an unsigned 32-bit integer.
    pub(crate) fn as_u32(&self) -> Result<u32> {
        self.value.as_u64().and_then(|v| u32::try_from(v).ok()).ok_or_else(|| self.error("an unsigned 32-bit integer"))
    }

    /// String field `key`, if present.
    pub(crate) fn opt_str(&self, key: &str) -> Result<Option<String>> {
        self.get(key)?.map(|node| node.as_str().map(str::to_string)).transpose()
    }

    /// String field `key`, which must be present.
    pub(crate) fn req_str(&self, key: &str) -> Result<String> {
        match self.get(key)? {
            Some(node) => node.as_str().map(str::to_string),
            None => Err(self.malformed(format!("missing the required field \"{key}\""))),
        }
    }

    /// Unsigned integer field `key`, if present.
    pub(crate) fn opt_u64(&self, key: &str) -> Result<Option<u64>> {
        self.get(key)?.map(|node| node.as_u64()).transpose()
    }

    /// Unsigned 32-bit integer field `key`, if present.
    pub(crate) fn opt_u32(&self, key: &str) -> Result<Option<u32>> {
        self.get(key)?.map(|node| node.as_u32()).transpose()
    }

    /// The elements of array field `key` (none when absent).
    pub(crate) fn list(&self, key: &str) -> Result<Vec<Node<'v>>> {
        match self.get(key)? {
            Some(node) => node.items(),
            None => Ok(Vec::new()),
        }
    }

    /// Array-of-strings field `key` (empty when absent).
    pub(crate) fn str_list(&self, key: &str) -> Result<Vec<String>> {
        self.list(key)?.iter().map(|node| node.as_str().map(str::to_string)).collect()
    }

    /// This array of strings (`null` is empty).
    pub(crate) fn as_str_list(&self) -> Result<Vec<String>> {
        self.items()?.iter().map(|node| node.as_str().map(str::to_string)).collect()
    }

    /// Object-of-strings field `key`, sorted by key (empty when absent).
    pub(crate) fn str_map(&self, key: &str) -> Result<BTreeMap<String, String>> {
        let Some(node) = self.get(key)? else { return Ok(BTreeMap::new()) };
        node.fields()?.into_iter().map(|(k, v)| Ok((k.to_string(), v.as_str()?.to_string()))).collect()
    }
}

/// One step of a JSON path: `.key` for plain keys, `["key"]` otherwise.
struct KeySegment<'k>(&'k str);

impl fmt::Display for KeySegment<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Keys come from the input: keep error messages short.
        const MAX_KEY: usize = 80;
        let key = self.0;
        let plain = !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if plain && key.len() <= MAX_KEY {
            return write!(f, ".{key}");
        }
        let mut end = key.len().min(MAX_KEY);
        while !key.is_char_boundary(end) {
            end -= 1;
        }
        let shown = Value::String(key[..end].to_string());
        let ellipsis = if end < key.len() { "..." } else { "" };
        write!(f, "[{shown}{ellipsis}]")
    }
}

/// "a number", "a string", ... for errors.
fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_u64() => "an unsigned integer",
        Value::Number(n) if n.is_i64() => "a negative integer",
        Value::Number(_) => "a fractional number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(text: &str) -> Value {
        parse("test.json", text.as_bytes(), 1 << 20).expect("valid JSON")
    }

    #[test]
    fn parses_like_serde_json() {
        let text = r#"{"a": [1, -2, 3.5, "x", true, null], "b": {"c": {}}}"#;
        let ours = parse_ok(text);
        let theirs: Value = serde_json::from_str(text).expect("valid JSON");
        assert_eq!(ours, theirs);
    }

    #[test]
    fn syntax_errors_carry_line_and_column() {
        let err = parse("spec.dump", b"{\n  \"a\": [1, 2", 1 << 20).unwrap_err();
        let Error::Json { file, line, column, detail } = err else { panic!("{err:?}") };
        assert_eq!((file.as_str(), line), ("spec.dump", 2));
        assert!(column > 0);
        assert!(detail.contains("EOF"), "{detail}");
        assert!(!detail.contains(" at line "), "{detail}");
    }

    #[test]
    fn trailing_bytes_are_refused() {
        assert!(matches!(parse("x", b"{} {}", 100), Err(Error::Json { .. })));
    }

    #[test]
    fn oversized_members_are_refused_before_parsing() {
        let err = parse("config.dump", b"[1, 2, 3]", 4).unwrap_err();
        assert!(matches!(err, Error::Limit { limit: 4, .. }), "{err:?}");
        assert_eq!(err.to_string(), "config.dump: metadata member exceeds the limit of 4 bytes");
    }

    #[test]
    fn value_budget_stops_amplification() {
        // 3 bytes of input per value: far below the size cap, above the value cap.
        let mut text = String::from("[");
        for _ in 0..MAX_JSON_VALUES {
            text.push_str("[],");
        }
        text.push_str("[]]");
        let err = parse("bomb.json", text.as_bytes(), 64 << 20).unwrap_err();
        let Error::Json { detail, .. } = &err else { panic!("{err:?}") };
        assert!(detail.contains("JSON values"), "{detail}");
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let text = "[".repeat(100_000);
        assert!(matches!(parse("deep.json", text.as_bytes(), 1 << 20), Err(Error::Json { .. })));
    }

    #[test]
    fn absent_and_null_are_the_same() {
        let value = parse_ok(r#"{"a": null, "list": null}"#);
        let root = Node::root("m", &value);
        assert_eq!(root.opt_str("a").unwrap(), None);
        assert_eq!(root.opt_str("b").unwrap(), None);
        assert!(root.str_list("list").unwrap().is_empty());
        assert!(root.str_map("missing").unwrap().is_empty());
    }

    #[test]
    fn wrong_types_name_member_and_path() {
        let value = parse_ok(r#"{"process": {"args": ["a", 5]}, "annotations": {"io.x/y": 1}}"#);
        let root = Node::root("spec.dump", &value);
        let process = root.get("process").unwrap().unwrap();
        let err = process.str_list("args").unwrap_err();
        assert_eq!(err.to_string(), "spec.dump: offset 0: $.process.args[1]: expected a string, found an unsigned integer");
        let err = root.str_map("annotations").unwrap_err();
        assert!(err.to_string().contains(r#"$.annotations["io.x/y"]: expected a string"#), "{err}");
        let err = root.get("process").unwrap().unwrap().req_str("cwd").unwrap_err();
        assert!(err.to_string().contains(r#"$.process: missing the required field "cwd""#), "{err}");
    }

    #[test]
    fn numbers_out_of_range_are_errors() {
        let value = parse_ok(r#"{"uid": 4294967296, "gid": -1, "umask": 1.5}"#);
        let root = Node::root("m", &value);
        assert!(root.opt_u32("uid").is_err());
        assert!(root.opt_u32("gid").is_err());
        assert!(root.opt_u64("umask").is_err());
    }

    #[test]
    fn long_keys_are_shortened_in_paths() {
        let key = "k".repeat(1000) + "-";
        let text = format!(r#"{{"{key}": 1}}"#);
        let value = parse_ok(&text);
        let root = Node::root("m", &value);
        let err = root.str_map("missing").and_then(|_| {
            let (_, node) = root.fields()?.pop().expect("one field");
            node.as_str().map(|_| ())
        });
        let message = err.unwrap_err().to_string();
        assert!(message.len() < 250, "{message}");
        assert!(message.contains("...]"), "{message}");
    }
}
