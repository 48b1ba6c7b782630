//! crit-compatible JSON: `decode` (image -> JSON) and `encode` (JSON ->
//! image), byte for byte the text crit 4.2 prints and the bytes it writes.
//!
//! The rules (key order by field number, only fields present, enum names,
//! MIME base64, pretty hex/flags/dev/dict/IP forms, `extra` payloads) and the
//! few places where we deliberately differ from crit are documented in
//! `docs/json.md` at the repository root.
//!
//! ```
//! use criu_images::image::Image;
//! use criu_images::json::{self, DecodeOptions};
//!
//! let bytes = [
//!     0x19, 0x43, 0x56, 0x54, 0x30, 0x30, 0x27, 0x50, // IMG_COMMON, PSTREE
//!     0x04, 0x00, 0x00, 0x00, 0x08, 0x01, 0x10, 0x00, // { pid: 1, ppid: 0 }
//! ];
//! let image = Image::parse("pstree.img", &bytes)?;
//! let text = json::to_json(&image, &DecodeOptions::default())?;
//! assert_eq!(text, r#"{"magic": "PSTREE", "entries": [{"pid": 1, "ppid": 0}]}"#);
//! assert_eq!(json::from_json(text.as_bytes(), "pstree.json")?, bytes);
//! let entry = image.entries().next().unwrap()?;
//! assert_eq!(json::entry_to_json(&image, &entry, &DecodeOptions::default())?, r#"{"pid": 1, "ppid": 0}"#);
//! # Ok::<(), criu_images::Error>(())
//! ```

mod decode;
mod encode;
mod pretty;
mod sink;
pub mod tape;
mod text;
mod value;
mod writer;

use crate::error::Result;
use crate::image::{Entry, Image};

/// How to render an image as JSON.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DecodeOptions {
    /// crit's `--pretty` (and `show`): indented, with hex, flag names,
    /// devices, dict names and IP addresses.
    pub pretty: bool,
    /// crit's `--nopl`: replace `extra` payloads by their size, e.g. `"... <100B>"`.
    pub no_payload: bool,
}

impl DecodeOptions {
    /// Plain one-line JSON, as `crit decode`.
    pub const PLAIN: DecodeOptions = DecodeOptions { pretty: false, no_payload: false };
    /// Indented, humanised JSON, as `crit show` / `crit decode --pretty`.
    pub const PRETTY: DecodeOptions = DecodeOptions { pretty: true, no_payload: false };
}

#[cfg(feature = "tables")]
pub(crate) use decode::message_json;

/// Appends the JSON of `image` to `out` (no trailing newline).
pub fn write_json(image: &Image<'_>, options: &DecodeOptions, out: &mut Vec<u8>) -> Result<()> {
    decode::write_image(image, options, out)
}

/// Writes the JSON of `image` to `out` (no trailing newline) while it is
/// rendered, a few hundred KB at a time: memory stays small whatever the
/// size of the image, and large images render on several threads. The
/// text is that of [`to_json`]. `out_name` names `out` in I/O errors. The
/// whole image is framed before anything is written, so a truncated or
/// mis-framed image writes nothing; a malformed message further in stops
/// the output there, with the error.
///
/// ```
/// # use criu_images::image::Image;
/// # use criu_images::json::{self, DecodeOptions};
/// # let bytes = [0x19, 0x43, 0x56, 0x54, 0x30, 0x30, 0x27, 0x50, 0x04, 0x00, 0x00, 0x00, 0x08, 0x01, 0x10, 0x00];
/// let image = Image::parse("pstree.img", &bytes)?;
/// let mut out = std::io::Cursor::new(Vec::new());
/// json::write_json_to(&image, &DecodeOptions::PRETTY, &mut out, "pstree.json")?;
/// assert!(out.get_ref().starts_with(b"{\n    \"magic\": \"PSTREE\""));
/// # Ok::<(), criu_images::Error>(())
/// ```
pub fn write_json_to<W: std::io::Write + ?Sized>(image: &Image<'_>, options: &DecodeOptions, out: &mut W, out_name: &str) -> Result<()> {
    let buf = Vec::with_capacity(image.data().len().saturating_mul(8).min(1 << 20) + 64);
    decode::write_image(image, options, &mut decode::Streamed { buf, out, name: out_name })
}

/// The JSON of `image` as a string (no trailing newline). The text is pure
/// ASCII: everything else is `\u` escaped, as Python's `json` does.
pub fn to_json(image: &Image<'_>, options: &DecodeOptions) -> Result<String> {
    let mut out = Vec::with_capacity(image.data().len() * 4 + 64);
    write_json(image, options, &mut out)?;
    Ok(String::from_utf8(out).expect("the JSON writer emits ASCII only"))
}

/// The JSON object of one entry of `image`, exactly as it appears in the
/// `entries` list of [`to_json`] (pretty output is indented as if at the
/// top level). Lets a caller decode an image one entry at a time.
pub fn entry_to_json(image: &Image<'_>, entry: &Entry<'_>, options: &DecodeOptions) -> Result<String> {
    let mut out = Vec::with_capacity(entry.payload().len() * 4 + 16);
    decode::write_one_entry(image, entry, options, &mut out)?;
    Ok(String::from_utf8(out).expect("the JSON writer emits ASCII only"))
}

/// Encodes crit JSON (plain or pretty) back into image bytes. `name` names
/// the input in errors.
pub fn from_json(json: &[u8], name: &str) -> Result<Vec<u8>> {
    encode::encode_image(json, name)
}

/// How crit's pretty output writes an `ipadd` field: IPv4 for one word,
/// IPv6 for four (`None` otherwise).
pub fn ip_address(words: &[u32]) -> Option<String> {
    pretty::ip_address(words)
}

/// The name crit's pretty output gives a `(criu).dict` value, e.g.
/// `dict_name("sk", "state", 10)` is `LISTEN`.
pub fn dict_name(dict: &str, field: &str, value: u64) -> Option<&'static str> {
    pretty::dict_name(dict, field, value)
}

/// crit's text for a `unix_name` bytes field (quoted-printable); used by
/// `x sk`, so only with the CLI.
#[cfg(feature = "cli")]
pub(crate) fn quoted_printable_text(bytes: &[u8]) -> String {
    text::quoted_printable(bytes)
}

/// Appends `bytes` as a JSON string literal, escaped as Python's `json`
/// does (ASCII only; bytes that are not UTF-8 become `\udcXX`).
pub fn write_json_str(out: &mut Vec<u8>, bytes: &[u8]) {
    text::write_json_string(out, bytes)
}

/// crit's `info`: `{"magic": NAME, "count": N}` with indent 4. Like crit,
/// the count of a pagemap leaves out its head entry.
pub fn info_json(image: &Image<'_>) -> Result<String> {
    let mut count = image.count()?;
    if image.kind() == crate::image::ImageKind::Pagemap {
        count = count.saturating_sub(1);
    }
    Ok(format!("{{\n    \"magic\": \"{}\",\n    \"count\": {count}\n}}", image.kind().name()))
}
