//! crit's JSON values without the text: a [`Tape`] lists the values of an
//! image (or of one entry) as [`Event`]s in document order, for building
//! another language's objects (Python dicts in our bindings) directly,
//! with no formatting and parsing of JSON text in between. The events are
//! produced by the same renderer as the JSON text, so reading a tape
//! gives exactly the values `json.loads` of [`super::to_json`] gives.
//!
//! ```
//! use criu_images::image::Image;
//! use criu_images::json::tape::{self, Event};
//! use criu_images::json::DecodeOptions;
//!
//! let bytes = [
//!     0x19, 0x43, 0x56, 0x54, 0x30, 0x30, 0x27, 0x50, // IMG_COMMON, PSTREE
//!     0x04, 0x00, 0x00, 0x00, 0x08, 0x01, 0x10, 0x00, // { pid: 1, ppid: 0 }
//! ];
//! let image = Image::parse("pstree.img", &bytes)?;
//! let tape = tape::to_tape(&image, &DecodeOptions::PLAIN)?;
//! let events: Vec<Event<'_>> = tape.events().collect();
//! assert_eq!(
//!     events,
//!     [
//!         Event::BeginObject,
//!         Event::Key("magic"),
//!         Event::Name("PSTREE"),
//!         Event::Key("entries"),
//!         Event::BeginArray,
//!         Event::BeginObject,
//!         Event::Key("pid"),
//!         Event::UInt(1),
//!         Event::Key("ppid"),
//!         Event::UInt(0),
//!         Event::EndObject,
//!         Event::EndArray,
//!         Event::EndObject,
//!     ]
//! );
//! # Ok::<(), criu_images::Error>(())
//! ```

use super::decode::write_entry;
use super::sink::Sink;
use super::writer::{write_hex, JsonWriter};
use super::DecodeOptions;
use crate::error::Result;
use crate::image::{Entry, Image};
use crate::proto::FieldSchema;

/// One value (or container boundary, or object key) of a [`Tape`]. An
/// object's members are a `Key` followed by one value: a scalar event or
/// a whole container.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Event<'t> {
    /// `{`: the members follow, up to the matching `EndObject`.
    BeginObject,
    /// `}`
    EndObject,
    /// `[`: the items follow, up to the matching `EndArray`.
    BeginArray,
    /// `]`
    EndArray,
    /// An object key: a field name, or one of crit's own (`magic`,
    /// `entries`, `extra`, `inq`, `outq`). The same key is always the
    /// same `&'static str`, so a consumer can cache what it makes of it
    /// by address.
    Key(&'static str),
    /// A non-negative integer.
    UInt(u64),
    /// A negative integer (never `>= 0`: those are `UInt`).
    Int(i64),
    /// A `float`/`double` field (NaN and infinities included).
    Float(f64),
    /// `true` or `false`.
    Bool(bool),
    /// A string from the schema or crit's tables: an enum value name, a
    /// `dict` name, the image's magic name. Static, like keys.
    Name(&'static str),
    /// Any other string: file names, base64, hex, flag lists. UTF-8,
    /// except for bytes of the image that are not: those stand for
    /// themselves (crit's JSON writes them as lone surrogates
    /// `\udc80`..`\udcff`, Python's `surrogateescape`).
    Str(&'t [u8]),
}

/// The values of an image or entry; see the [module documentation](self).
#[derive(Clone, Debug, Default)]
pub struct Tape {
    ops: Vec<Op>,
    /// The bytes of every `Str`, one after another.
    text: Vec<u8>,
}

/// An [`Event`] with strings as ranges of `Tape::text`.
#[derive(Clone, Copy, Debug)]
enum Op {
    BeginObject,
    EndObject,
    BeginArray,
    EndArray,
    Key(&'static str),
    UInt(u64),
    Int(i64),
    Float(f64),
    Bool(bool),
    Name(&'static str),
    Str { start: usize, end: usize },
}

impl Tape {
    /// The events in document order.
    pub fn events(&self) -> impl ExactSizeIterator<Item = Event<'_>> + '_ {
        self.ops.iter().map(|op| match *op {
            Op::BeginObject => Event::BeginObject,
            Op::EndObject => Event::EndObject,
            Op::BeginArray => Event::BeginArray,
            Op::EndArray => Event::EndArray,
            Op::Key(key) => Event::Key(key),
            Op::UInt(v) => Event::UInt(v),
            Op::Int(v) => Event::Int(v),
            Op::Float(v) => Event::Float(v),
            Op::Bool(v) => Event::Bool(v),
            Op::Name(name) => Event::Name(name),
            Op::Str { start, end } => Event::Str(&self.text[start..end]),
        })
    }

    /// Number of events.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether the tape has no event.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Removes every event, keeping the memory for the next ones.
    pub fn clear(&mut self) {
        self.ops.clear();
        self.text.clear();
    }

    /// The JSON text of the values, laid out as [`super::to_json`] lays
    /// out a document (`pretty` for crit's indented form): for a tape of
    /// an image, exactly the text `to_json` gives.
    pub fn to_json(&self, pretty: bool) -> String {
        let mut out = Vec::with_capacity(self.ops.len() * 8 + self.text.len() * 2);
        let mut w = JsonWriter::new(&mut out, pretty.then_some(4));
        for event in self.events() {
            match event {
                Event::BeginObject => w.begin_object(),
                Event::EndObject => w.end_object(),
                Event::BeginArray => w.begin_array(),
                Event::EndArray => w.end_array(),
                Event::Key(key) => w.key(key),
                Event::UInt(v) => w.u64(v),
                Event::Int(v) => w.i64(v),
                Event::Float(v) => w.f64(v),
                Event::Bool(v) => w.bool(v),
                Event::Name(name) => w.name(name),
                Event::Str(bytes) => w.string(bytes),
            }
        }
        String::from_utf8(out).expect("the JSON writer emits ASCII only")
    }

    /// Room for the events of `bytes` bytes of image: about what the usual
    /// images need, and never a huge reservation for a huge (maybe hostile)
    /// image before its content is seen; growing from there for the rest.
    fn reserve_for(&mut self, bytes: usize) {
        self.ops.reserve((bytes / 2).min(1 << 20) + 8);
    }

    fn push_str(&mut self, write: impl FnOnce(&mut Vec<u8>)) {
        let start = self.text.len();
        write(&mut self.text);
        self.ops.push(Op::Str { start, end: self.text.len() });
    }
}

/// The values of the whole image: `{"magic": ..., "entries": [...]}` as
/// [`super::to_json`] writes them. Errors are those of `to_json`: the
/// image is framed first, then the first malformed entry fails the whole.
pub fn to_tape(image: &Image<'_>, options: &DecodeOptions) -> Result<Tape> {
    let mut tape = Tape::default();
    write_tape(image, options, &mut tape)?;
    Ok(tape)
}

/// [`to_tape`] appended to `tape` (clear it first to reuse its memory
/// for another image). On an error, what `tape` holds is unspecified.
pub fn write_tape(image: &Image<'_>, options: &DecodeOptions, tape: &mut Tape) -> Result<()> {
    // Framing first, as for the text: a mis-framed image gives its framing
    // error even when an earlier entry is malformed inside.
    image.count()?;
    tape.reserve_for(image.data().len());
    tape.begin_object();
    tape.key("magic");
    tape.name(image.kind().name());
    tape.key("entries");
    tape.begin_array();
    for entry in image.entries() {
        write_entry(tape, image, &entry?, options)?;
    }
    tape.end_array();
    tape.end_object();
    Ok(())
}

/// The values of one entry, as [`super::entry_to_json`] writes them.
pub fn entry_to_tape(image: &Image<'_>, entry: &Entry<'_>, options: &DecodeOptions) -> Result<Tape> {
    let mut tape = Tape::default();
    tape.reserve_for(entry.payload().len());
    write_entry(&mut tape, image, entry, options)?;
    Ok(tape)
}

impl Sink for Tape {
    type Mark = (usize, usize);

    #[inline]
    fn mark(&self) -> (usize, usize) {
        (self.ops.len(), self.text.len())
    }

    #[inline]
    fn rollback(&mut self, (ops, text): (usize, usize)) {
        self.ops.truncate(ops);
        self.text.truncate(text);
    }

    fn begin_object(&mut self) {
        self.ops.push(Op::BeginObject);
    }

    fn end_object(&mut self) {
        self.ops.push(Op::EndObject);
    }

    fn begin_array(&mut self) {
        self.ops.push(Op::BeginArray);
    }

    fn end_array(&mut self) {
        self.ops.push(Op::EndArray);
    }

    #[inline]
    fn field_key(&mut self, field: &'static FieldSchema) {
        self.ops.push(Op::Key(field.name));
    }

    fn key(&mut self, key: &'static str) {
        self.ops.push(Op::Key(key));
    }

    #[inline]
    fn u64(&mut self, value: u64) {
        self.ops.push(Op::UInt(value));
    }

    #[inline]
    fn i64(&mut self, value: i64) {
        self.ops.push(if value >= 0 { Op::UInt(value as u64) } else { Op::Int(value) });
    }

    fn f64(&mut self, value: f64) {
        self.ops.push(Op::Float(value));
    }

    fn bool(&mut self, value: bool) {
        self.ops.push(Op::Bool(value));
    }

    fn hex_string(&mut self, value: i128) {
        self.push_str(|text| write_hex(text, value));
    }

    fn string(&mut self, value: &[u8]) {
        self.push_str(|text| text.extend_from_slice(value));
    }

    fn name(&mut self, value: &'static str) {
        self.ops.push(Op::Name(value));
    }

    fn ascii_string_with(&mut self, write: impl FnOnce(&mut Vec<u8>)) {
        self.push_str(write);
    }
}
