//! Image -> crit JSON. Messages are rendered straight from the wire bytes by
//! walking the schema tables: only the fields present, in field-number
//! order, with crit's scalar and pretty rules.

use super::pretty;
use super::text::{mime_base64, quoted_printable};
use super::writer::JsonWriter;
use super::DecodeOptions;
use crate::error::{Error, Location, Result};
use crate::image::{Entry, Extra, Image};
use crate::proto::wire::{self, Fields, WireError, WireValue};
use crate::proto::{message_ids as m, FieldSchema, FieldType, MessageId};

/// Writes `{"magic": ..., "entries": [...]}` for the whole image.
pub(crate) fn write_image(image: &Image<'_>, options: &DecodeOptions, out: &mut Vec<u8>) -> Result<()> {
    let mut w = JsonWriter::new(out, options.pretty.then_some(4));
    w.begin_object();
    w.key("magic");
    w.string(image.kind().name().as_bytes());
    w.key("entries");
    w.begin_array();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(8);
    if image.data().len() < PARALLEL_BYTES || threads < 2 {
        let mut entries = image.entries();
        while let Some(entry) = entries.next() {
            if let Err(err) = write_entry(&mut w, image, &entry?, options) {
                // The errors of framing every entry before rendering any:
                // a framing error further on comes first.
                for entry in entries {
                    entry?;
                }
                return Err(err);
            }
        }
    } else {
        write_entries_parallel(&mut w, image, options, threads)?;
    }
    w.end_array();
    w.end_object();
    Ok(())
}

/// Images of at least this many bytes and entries are rendered on several
/// threads.
const PARALLEL_BYTES: usize = 256 << 10;
const PARALLEL_ENTRIES: usize = 20_000;

/// Entries per resumption point of the framing pass.
const BLOCK: usize = 1024;

/// Framing is cheap and sequential; rendering is the work, and entries are
/// independent. So one framing pass checks every entry (a malformed image
/// fails before any of it is rendered) and keeps a resumable iterator every
/// [`BLOCK`] entries; then `threads` ranges of blocks render at once, the
/// first straight into the output on this thread, the others into buffers
/// appended in order (the text is the same as rendered serially).
fn write_entries_parallel(w: &mut JsonWriter<'_>, image: &Image<'_>, options: &DecodeOptions, threads: usize) -> Result<()> {
    // (iterator at the block's first entry, its byte offset)
    let mut blocks = Vec::new();
    let mut entries = image.entries();
    let mut count = 0usize;
    loop {
        if count.is_multiple_of(BLOCK) {
            blocks.push((entries.clone(), entries.offset()));
        }
        match entries.next() {
            Some(entry) => {
                entry?;
                count += 1;
            }
            None => break,
        }
    }
    let end = entries.offset();
    let render = |w: &mut JsonWriter<'_>, first: usize, last: usize| -> Result<()> {
        let n = ((last - first) * BLOCK).min(count - first * BLOCK);
        for entry in blocks[first].0.clone().take(n) {
            write_entry(w, image, &entry?, options)?;
        }
        Ok(())
    };
    if count < PARALLEL_ENTRIES {
        return render(w, 0, blocks.len());
    }
    let per = blocks.len().div_ceil(threads);
    let ranges: Vec<(usize, usize)> =
        (0..blocks.len()).step_by(per).map(|first| (first, (first + per).min(blocks.len()))).collect();
    let indent = options.pretty.then_some(4);
    let ratio = if options.pretty { 10 } else { 5 };
    std::thread::scope(|scope| -> Result<()> {
        let handles: Vec<_> = ranges[1..]
            .iter()
            .map(|&(first, last)| {
                let bytes = blocks.get(last).map_or(end, |b| b.1) - blocks[first].1;
                scope.spawn(move || -> Result<Vec<u8>> {
                    let mut buf = Vec::with_capacity(bytes * ratio);
                    render(&mut JsonWriter::inside_array(&mut buf, indent, 2, false), first, last)?;
                    Ok(buf)
                })
            })
            .collect();
        let mine = render(w, ranges[0].0, ranges[0].1);
        let parts: Vec<Result<Vec<u8>>> =
            handles.into_iter().map(|h| h.join().expect("rendering does not panic")).collect();
        mine?;
        let parts = parts.into_iter().collect::<Result<Vec<_>>>()?;
        w.reserve(parts.iter().map(Vec::len).sum());
        for part in &parts {
            w.append_items(part);
        }
        Ok(())
    })
}

/// Writes the JSON object of one entry, as it appears in the `entries` list.
pub(crate) fn write_one_entry(image: &Image<'_>, entry: &Entry<'_>, options: &DecodeOptions, out: &mut Vec<u8>) -> Result<()> {
    let mut w = JsonWriter::new(out, options.pretty.then_some(4));
    write_entry(&mut w, image, entry, options)
}

fn write_entry(w: &mut JsonWriter<'_>, image: &Image<'_>, entry: &Entry<'_>, options: &DecodeOptions) -> Result<()> {
    let at = |err: WireError| Error::Protobuf {
        at: Location::new(image.name(), (entry.offset() + 4 + err.offset) as u64).in_entry(entry.index()),
        message: entry.message_id().name(),
        detail: err.what.to_string(),
    };
    w.begin_object();
    write_fields(w, entry.message_id(), entry.payload(), options.pretty, false, 0).map_err(at)?;

    match entry.extra() {
        Extra::None => {}
        _ if options.no_payload => {
            // crit leaves ghost file data out altogether with --nopl.
            if image.kind().layout() != crate::image::Layout::GhostFile {
                w.key("extra");
                w.string(format!("... <{}>", human_size(entry.extra().payload_len())).as_bytes());
            }
        }
        Extra::Bytes(bytes) => {
            w.key("extra");
            w.string(mime_base64(bytes).as_bytes());
        }
        Extra::TcpQueues { inq, outq } => {
            w.key("extra");
            w.begin_object();
            w.key("inq");
            w.string(mime_base64(inq).as_bytes());
            w.key("outq");
            w.string(mime_base64(outq).as_bytes());
            w.end_object();
        }
        extra @ Extra::Semaphores { .. } => {
            w.key("extra");
            w.begin_array();
            for value in extra.semaphores().unwrap_or_default() {
                w.u64(value.into());
            }
            w.end_array();
        }
        Extra::Messages(messages) => {
            w.key("extra");
            w.begin_array();
            for message in messages {
                // crit renders the queued message headers without pretty options.
                w.begin_object();
                write_fields(w, m::IPC_MSG, message.header, false, false, 0)
                    .map_err(|err| at(within(entry.payload(), message.header, err)))?;
                w.end_object();
                w.string(mime_base64(message.data).as_bytes());
            }
            w.end_array();
        }
    }
    w.end_object();
    Ok(())
}

/// crit's `--nopl` size: 1024-based units, one decimal unless whole.
pub(crate) fn human_size(bytes: u64) -> String {
    let mut num = bytes as f64;
    for unit in ["", "K", "M", "G", "T", "P", "E", "Z"] {
        if num < 1024.0 {
            return if num.fract() == 0.0 {
                format!("{num:.0}{unit}B")
            } else {
                format!("{num:.1}{unit}B")
            };
        }
        num /= 1024.0;
    }
    format!("{num:.1}YB")
}

/// How deep messages may nest inside messages, as in prost's decoder. CRIU's
/// deepest real nesting (cgroup directory trees) is far below; without a
/// limit, a hostile image of nested length-delimited fields would overflow
/// the stack.
const MAX_DEPTH: usize = 100;

/// `err`, found inside `part`, re-based to an offset inside `whole`.
/// `part` must lie inside `whole`, or follow it in the same image bytes.
fn within(whole: &[u8], part: &[u8], err: WireError) -> WireError {
    let shift = (part.as_ptr() as usize).wrapping_sub(whole.as_ptr() as usize);
    WireError { offset: err.offset + shift, ..err }
}

/// Writes the fields of one message (without the surrounding braces);
/// `depth` counts the messages around it.
fn write_fields(
    w: &mut JsonWriter<'_>,
    id: MessageId,
    bytes: &[u8],
    pretty: bool,
    hex_inherited: bool,
    depth: usize,
) -> Result<(), WireError> {
    if framed_in_order(bytes) && !general_path_only() {
        write_in_order(w, id, bytes, pretty, hex_inherited, depth)
    } else {
        write_any_order(w, id, bytes, pretty, hex_inherited, depth)
    }
}

#[cfg(test)]
thread_local! {
    /// Tests compare the streaming path with the general one.
    static GENERAL_PATH_ONLY: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

#[inline(always)]
fn general_path_only() -> bool {
    #[cfg(test)]
    return GENERAL_PATH_ONLY.with(|only| only.get());
    #[cfg(not(test))]
    false
}

/// A varint of a message that [`framed_in_order`] accepted (or `None`
/// where [`wire::read_varint`] fails).
#[inline(always)]
fn varint(data: &[u8], pos: &mut usize) -> Option<u64> {
    let first = *data.get(*pos)?;
    if first < 0x80 {
        *pos += 1;
        return Some(u64::from(first));
    }
    let mut at = *pos;
    let mut value: u64 = 0;
    for shift in (0..70).step_by(7) {
        let byte = *data.get(at)?;
        at += 1;
        if shift == 63 && byte > 1 {
            return None;
        }
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            *pos = at;
            return Some(value);
        }
    }
    None
}

/// The field at `*pos`, as [`Fields`] reads it; `None` for anything that
/// [`Fields`] would reject.
#[inline(always)]
fn next_field<'a>(data: &'a [u8], pos: &mut usize) -> Option<(u32, WireValue<'a>)> {
    let key = varint(data, pos)?;
    let number = key >> 3;
    if number == 0 || number > 0x1fff_ffff {
        return None;
    }
    let value = match key & 7 {
        0 => WireValue::Varint(varint(data, pos)?),
        1 => {
            let bytes = data.get(*pos..*pos + 8)?;
            *pos += 8;
            WireValue::Fixed64(u64::from_le_bytes(bytes.try_into().unwrap()))
        }
        2 => {
            let len = varint(data, pos)?;
            if len > (data.len() - *pos) as u64 {
                return None;
            }
            let bytes = &data[*pos..*pos + len as usize];
            *pos += bytes.len();
            WireValue::Bytes(bytes)
        }
        5 => {
            let bytes = data.get(*pos..*pos + 4)?;
            *pos += 4;
            WireValue::Fixed32(u32::from_le_bytes(bytes.try_into().unwrap()))
        }
        _ => return None,
    };
    Some((number as u32, value))
}

/// Whether every field of `bytes` is well framed and the field numbers
/// never decrease: how CRIU writes messages. Such a message renders in one
/// streaming pass with the same text and the same errors as the general
/// path (which frames every field first, then sorts).
fn framed_in_order(bytes: &[u8]) -> bool {
    let mut pos = 0;
    let mut last = 0;
    while pos < bytes.len() {
        match next_field(bytes, &mut pos) {
            Some((number, _)) if number >= last => last = number,
            _ => return false,
        }
    }
    true
}

/// [`write_fields`] for a message that [`framed_in_order`] accepted:
/// fields are read as they are written, the schema is walked alongside,
/// and a lone scalar is written without gathering its values.
fn write_in_order(
    w: &mut JsonWriter<'_>,
    id: MessageId,
    bytes: &[u8],
    pretty: bool,
    hex_inherited: bool,
    depth: usize,
) -> Result<(), WireError> {
    let schema = id.schema().fields;
    let mut cursor = 0;
    let mut pos = 0;
    let read = |pos: &mut usize| if *pos < bytes.len() { next_field(bytes, pos) } else { None };
    let mut next = read(&mut pos);
    let mut group: smallvec::SmallVec<[WireValue<'_>; 4]> = smallvec::SmallVec::new();
    while let Some((number, value)) = next {
        next = read(&mut pos);
        while cursor < schema.len() && schema[cursor].number < number {
            cursor += 1;
        }
        let field = schema.get(cursor).filter(|f| f.number == number);
        if next.is_some_and(|(n, _)| n == number) {
            // Several values of one field number.
            group.clear();
            group.push(value);
            while let Some((n, v)) = next {
                if n != number {
                    break;
                }
                group.push(v);
                next = read(&mut pos);
            }
            if let Some(field) = field {
                write_field(w, field, bytes, &group, pretty, hex_inherited, depth)?;
            }
            continue;
        }
        let Some(field) = field else {
            continue; // unknown to our schema: crit drops these too
        };
        if !field.repeated {
            if let Some(raw) = lone_scalar(field.ty, value) {
                w.field_key(field.name);
                write_scalar(w, field, raw, pretty, pretty && (hex_inherited || field.opts.hex));
                continue;
            }
        }
        write_field(w, field, bytes, std::slice::from_ref(&value), pretty, hex_inherited, depth)?;
    }
    Ok(())
}

/// The raw value of a singular scalar field of type `ty` given once as
/// `value`, when `value` has the wire type `ty` is read from (what
/// [`write_field`] would print); `None` leaves the case to [`write_field`].
#[inline(always)]
fn lone_scalar(ty: FieldType, value: WireValue<'_>) -> Option<u64> {
    match (ty, value) {
        (FieldType::Message(_) | FieldType::String | FieldType::Bytes, _) => None,
        (FieldType::Fixed32 | FieldType::Sfixed32 | FieldType::Float, WireValue::Fixed32(v)) => Some(v.into()),
        (FieldType::Fixed64 | FieldType::Sfixed64 | FieldType::Double, WireValue::Fixed64(v)) => Some(v),
        (
            FieldType::Fixed32 | FieldType::Sfixed32 | FieldType::Float | FieldType::Fixed64 | FieldType::Sfixed64 | FieldType::Double,
            _,
        ) => None,
        (_, WireValue::Varint(v)) => Some(v),
        _ => None,
    }
}

/// [`write_fields`] for any message: frames every field first (so a
/// malformed message fails before any of it is written), sorts the fields
/// by number if needed, then writes them.
fn write_any_order(
    w: &mut JsonWriter<'_>,
    id: MessageId,
    bytes: &[u8],
    pretty: bool,
    hex_inherited: bool,
    depth: usize,
) -> Result<(), WireError> {
    // One pass frames every field (so a malformed message fails before any
    // of it is written); CRIU's writers emit fields in ascending number
    // order, and anything else is sorted (stably: repeated values keep
    // their order).
    let mut fields: smallvec::SmallVec<[(u32, WireValue<'_>); 16]> = smallvec::SmallVec::new();
    let mut in_order = true;
    for field in Fields::new(bytes) {
        let field = field?;
        if fields.last().is_some_and(|(last, _)| field.0 < *last) {
            in_order = false;
        }
        fields.push(field);
    }
    if !in_order {
        fields.sort_by_key(|(number, _)| *number);
    }
    write_sorted(w, id, bytes, fields.iter().copied(), pretty, hex_inherited, depth)
}

/// `bytes` is the message the fields come from (for error offsets).
fn write_sorted<'a>(
    w: &mut JsonWriter<'_>,
    id: MessageId,
    bytes: &'a [u8],
    fields: impl Iterator<Item = (u32, WireValue<'a>)>,
    pretty: bool,
    hex_inherited: bool,
    depth: usize,
) -> Result<(), WireError> {
    let schema = id.schema();
    let mut fields = fields.peekable();
    // Values of one field number, gathered before printing: the key is only
    // written when at least one value has the declared wire type (values of
    // another type are unknown fields to protobuf, and crit drops them).
    let mut group: smallvec::SmallVec<[WireValue<'a>; 4]> = smallvec::SmallVec::new();
    while let Some((number, first)) = fields.next() {
        group.clear();
        group.push(first);
        while let Some((_, value)) = fields.next_if(|(n, _)| *n == number) {
            group.push(value);
        }
        let Some(field) = schema.field(number) else {
            continue; // unknown to our schema: crit drops these too
        };
        write_field(w, field, bytes, &group, pretty, hex_inherited, depth)?;
    }
    Ok(())
}

fn write_field(
    w: &mut JsonWriter<'_>,
    field: &FieldSchema,
    message: &[u8],
    values: &[WireValue<'_>],
    pretty: bool,
    hex_inherited: bool,
    depth: usize,
) -> Result<(), WireError> {
    let hex = pretty && (hex_inherited || field.opts.hex);
    match field.ty {
        FieldType::Message(child) => {
            let parts: Vec<&[u8]> = values
                .iter()
                .filter_map(|v| match v {
                    WireValue::Bytes(b) => Some(*b),
                    _ => None,
                })
                .collect();
            if parts.is_empty() {
                return Ok(());
            }
            if depth + 1 > MAX_DEPTH {
                let err = WireError { offset: 0, what: "messages nested more than 100 deep" };
                return Err(within(message, parts[0], err));
            }
            w.field_key(field.name);
            if field.repeated {
                w.begin_array();
                for part in parts {
                    w.begin_object();
                    write_fields(w, child, part, pretty, hex, depth + 1).map_err(|err| within(message, part, err))?;
                    w.end_object();
                }
                w.end_array();
            } else if let [part] = parts[..] {
                w.begin_object();
                write_fields(w, child, part, pretty, hex, depth + 1).map_err(|err| within(message, part, err))?;
                w.end_object();
            } else {
                // Several occurrences of a singular message merge into one.
                let merged = parts.concat();
                w.begin_object();
                write_fields(w, child, &merged, pretty, hex, depth + 1).map_err(|mut err| {
                    // Back to the occurrence the offset falls in.
                    for part in &parts {
                        if err.offset < part.len() {
                            return within(message, part, err);
                        }
                        err.offset -= part.len();
                    }
                    within(message, parts[parts.len() - 1], WireError { offset: parts[parts.len() - 1].len(), ..err })
                })?;
                w.end_object();
            }
        }
        FieldType::String | FieldType::Bytes => {
            let parts: Vec<&[u8]> = values
                .iter()
                .filter_map(|v| match v {
                    WireValue::Bytes(b) => Some(*b),
                    _ => None,
                })
                .collect();
            let Some(last) = parts.last() else {
                return Ok(());
            };
            w.field_key(field.name);
            if field.repeated {
                w.begin_array();
                for part in &parts {
                    write_bytes_value(w, field, part);
                }
                w.end_array();
            } else {
                write_bytes_value(w, field, last);
            }
        }
        _ => {
            let mut scalars: smallvec::SmallVec<[u64; 8]> = smallvec::SmallVec::new();
            for value in values {
                if !field.repeated && matches!(value, WireValue::Bytes(_)) {
                    // Only repeated scalars may be packed; for a singular one
                    // this is a foreign wire type, an unknown field to
                    // protobuf (and to the framing, which sizes extras by the
                    // last varint).
                    continue;
                }
                collect_scalars(field.ty, *value, &mut scalars).map_err(|err| match value {
                    WireValue::Bytes(packed) => within(message, packed, err),
                    _ => err,
                })?;
            }
            if scalars.is_empty() {
                return Ok(());
            }
            w.field_key(field.name);
            if field.repeated {
                if pretty && field.opts.ipadd {
                    let words: Vec<u32> = scalars.iter().map(|&v| v as u32).collect();
                    if let Some(address) = pretty::ip_address(&words) {
                        w.begin_array();
                        w.string(address.as_bytes());
                        w.end_array();
                        return Ok(());
                    }
                }
                w.begin_array();
                for raw in scalars {
                    write_scalar(w, field, raw, pretty, hex);
                }
                w.end_array();
            } else {
                write_scalar(w, field, *scalars.last().unwrap(), pretty, hex);
            }
        }
    }
    Ok(())
}

/// Appends the raw scalar values a wire value holds for a field of type `ty`
/// (several when packed); values of a foreign wire type are skipped.
fn collect_scalars(ty: FieldType, value: WireValue<'_>, out: &mut smallvec::SmallVec<[u64; 8]>) -> Result<(), WireError> {
    let fixed = match ty {
        FieldType::Fixed32 | FieldType::Sfixed32 | FieldType::Float => Some(4),
        FieldType::Fixed64 | FieldType::Sfixed64 | FieldType::Double => Some(8),
        _ => None,
    };
    match (value, fixed) {
        (WireValue::Varint(v), None) => out.push(v),
        (WireValue::Fixed32(v), Some(4)) => out.push(v.into()),
        (WireValue::Fixed64(v), Some(8)) => out.push(v),
        (WireValue::Bytes(packed), width) => {
            let mut pos = 0;
            while pos < packed.len() {
                match width {
                    None => out.push(wire::read_varint(packed, &mut pos)?),
                    Some(n) => {
                        let Some(chunk) = packed.get(pos..pos + n) else {
                            return Err(WireError { offset: pos, what: "truncated packed fixed-width value" });
                        };
                        let mut buf = [0u8; 8];
                        buf[..n].copy_from_slice(chunk);
                        out.push(u64::from_le_bytes(buf));
                        pos += n;
                    }
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// A decoded integer: its value as Python would hold it.
fn integer(ty: FieldType, raw: u64) -> i128 {
    match ty {
        FieldType::Int32 | FieldType::Enum(_) => i128::from(raw as u32 as i32),
        FieldType::Sfixed32 => i128::from(raw as u32 as i32),
        FieldType::Int64 | FieldType::Sfixed64 => i128::from(raw as i64),
        FieldType::Uint32 | FieldType::Fixed32 => i128::from(raw as u32),
        FieldType::Sint32 => i128::from(wire::unzigzag(u64::from(raw as u32)) as i32),
        FieldType::Sint64 => i128::from(wire::unzigzag(raw)),
        _ => i128::from(raw),
    }
}

fn write_scalar(w: &mut JsonWriter<'_>, field: &FieldSchema, raw: u64, pretty: bool, hex: bool) {
    match field.ty {
        FieldType::Bool => w.bool(raw != 0),
        FieldType::Float => w.raw(&python_float(f64::from(f32::from_bits(raw as u32)))),
        FieldType::Double => w.raw(&python_float(f64::from_bits(raw))),
        FieldType::Enum(e) => {
            let value = raw as u32 as i32;
            match e.schema().name_of(value) {
                Some(name) => w.string(name.as_bytes()),
                // crit crashes on values its enum does not know; print the number.
                None => w.i64(value.into()),
            }
        }
        ty => {
            let value = integer(ty, raw);
            if pretty {
                if hex {
                    return w.hex_string(value);
                }
                let opts = &field.opts;
                if opts.dev || opts.odev {
                    return w.string(pretty::dev(value as u64, opts.odev).as_bytes());
                }
                if let Some(table) = opts.flags {
                    let mut text = pretty::FlagsText::new();
                    pretty::write_flags(&mut text, table, value as u64);
                    return w.string(&text);
                }
                if let Some(dict) = opts.dict {
                    if let Some(name) = pretty::dict_name(dict, field.name, value as u64) {
                        return w.string(name.as_bytes());
                    }
                }
            }
            if value < 0 {
                w.i64(value as i64)
            } else {
                w.u64(value as u64)
            }
        }
    }
}

fn write_bytes_value(w: &mut JsonWriter<'_>, field: &FieldSchema, bytes: &[u8]) {
    match field.ty {
        FieldType::String => w.string(bytes),
        _ if field.opts.conv == Some("unix_name") => w.string(quoted_printable(bytes).as_bytes()),
        _ => w.string(mime_base64(bytes).as_bytes()),
    }
}

/// Python's `repr(float)` for the values JSON can hold.
fn python_float(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Infinity".into() } else { "-Infinity".into() };
    }
    format!("{v:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parallel_rendering_equals_serial_rendering() {
        let mut json = String::from(r#"{"magic": "PAGEMAP", "entries": [{"pages_id": 1}"#);
        for i in 0..(PARALLEL_ENTRIES as u64 + 1234) {
            json.push_str(&format!(r#", {{"vaddr": {}, "compat_nr_pages": 0, "flags": 4, "nr_pages": {}}}"#, i << 16, i % 7 + 1));
        }
        json.push_str("]}");
        let bytes = crate::json::from_json(json.as_bytes(), "big.json").unwrap();
        let image = Image::parse("big", &bytes).unwrap();
        for options in [DecodeOptions::PLAIN, DecodeOptions::PRETTY] {
            let parallel = crate::json::to_json(&image, &options).unwrap();
            let mut serial = Vec::new();
            let mut w = JsonWriter::new(&mut serial, options.pretty.then_some(4));
            w.begin_object();
            w.key("magic");
            w.string(b"PAGEMAP");
            w.key("entries");
            w.begin_array();
            for entry in image.entries() {
                write_entry(&mut w, &image, &entry.unwrap(), &options).unwrap();
            }
            w.end_array();
            w.end_object();
            assert!(parallel.as_bytes() == serial.as_slice(), "pretty: {}", options.pretty);
        }
        // The joined text encodes back to the same image.
        let text = crate::json::to_json(&image, &DecodeOptions::PLAIN).unwrap();
        assert_eq!(crate::json::from_json(text.as_bytes(), "big.json").unwrap(), bytes);
    }

    #[test]
    fn streaming_path_equals_general_path() {
        // Every real and synthetic image, intact, with bytes flipped and
        // truncated: the streaming path for in-order messages must give the
        // text and the errors of the general path.
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures");
        let mut files = Vec::new();
        for dir in ["synthetic", "counter-host/images"] {
            for entry in std::fs::read_dir(root.join(dir)).unwrap() {
                let path = entry.unwrap().path();
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                if name.ends_with(".img") && !name.starts_with("pages-") {
                    files.push((name, std::fs::read(&path).unwrap()));
                }
            }
        }
        assert!(files.len() > 60);
        let render = |name: &str, bytes: &[u8], options: &DecodeOptions, general: bool| {
            GENERAL_PATH_ONLY.with(|only| only.set(general));
            let text = Image::parse(name, bytes)
                .and_then(|image| super::super::to_json(&image, options))
                .map_err(|e| e.to_string());
            GENERAL_PATH_ONLY.with(|only| only.set(false));
            text
        };
        let mut variants = 0;
        for (name, bytes) in &files {
            let mut inputs = vec![bytes.clone()];
            for at in (8..bytes.len()).step_by(11) {
                let mut flipped = bytes.clone();
                flipped[at] ^= [0x80, 0x07, 0x10, 0xff][at % 4];
                inputs.push(flipped);
                inputs.push(bytes[..at].to_vec());
            }
            for input in &inputs {
                for options in [DecodeOptions::PLAIN, DecodeOptions::PRETTY] {
                    let streaming = render(name, input, &options, false);
                    assert_eq!(streaming, render(name, input, &options, true), "{name}");
                    variants += 1;
                }
            }
        }
        assert!(variants > 1000);
    }

    #[test]
    fn framing_errors_come_before_rendering_errors() {
        // pstree entry 0 ends in a truncated varint (a rendering error), then
        // entry 1 claims 100 bytes that are not there (a framing error).
        let mut bytes = image_of(crate::image::ImageKind::Pstree, &[0x08, 0x80]);
        bytes.extend(100u32.to_le_bytes());
        let image = Image::parse("pstree.img", &bytes).unwrap();
        let err = super::super::to_json(&image, &DecodeOptions::PLAIN).unwrap_err().to_string();
        assert!(err.contains("entry 1") && err.contains("100 bytes"), "{err}");
    }

    #[test]
    fn human_sizes_match_crit() {
        assert_eq!(human_size(100), "100B");
        assert_eq!(human_size(8192), "8KB");
        assert_eq!(human_size(1536), "1.5KB");
        assert_eq!(human_size(0), "0B");
    }

    fn image_of(kind: crate::image::ImageKind, payload: &[u8]) -> Vec<u8> {
        let mut bytes = Vec::new();
        bytes.extend(crate::image::IMG_COMMON_MAGIC.to_le_bytes());
        bytes.extend(kind.magic().to_le_bytes());
        bytes.extend((payload.len() as u32).to_le_bytes());
        bytes.extend(payload);
        bytes
    }

    #[test]
    fn nesting_is_bounded() {
        // cgroup_entry.controllers -> dirs -> children -> children -> ...:
        // all field 2, so any depth is one byte string away.
        let nest = |levels: usize| {
            // Sizes from the inside out, then the keys from the outside in.
            let mut sizes = vec![0u64];
            for _ in 0..levels {
                let inner = *sizes.last().unwrap();
                let mut head = vec![0x12];
                wire::put_varint(&mut head, inner);
                sizes.push(inner + head.len() as u64);
            }
            let mut message = Vec::new();
            for &inner in sizes[..levels].iter().rev() {
                message.push(0x12);
                wire::put_varint(&mut message, inner);
            }
            image_of(crate::image::ImageKind::Cgroup, &message)
        };
        let decode = |bytes: Vec<u8>| {
            // A small stack: the limit, not luck, must stop the recursion.
            std::thread::Builder::new()
                .stack_size(512 << 10)
                .spawn(move || {
                    let image = Image::parse("cgroup.img", &bytes).unwrap();
                    super::super::to_json(&image, &DecodeOptions::PRETTY).map_err(|e| e.to_string())
                })
                .unwrap()
                .join()
                .unwrap()
        };
        assert!(decode(nest(MAX_DEPTH)).is_ok());
        let too_deep = nest(MAX_DEPTH + 1);
        // The innermost (empty) message is the one too deep: it ends the file.
        let offset = too_deep.len();
        let err = decode(too_deep).unwrap_err();
        assert!(err.contains("nested more than 100 deep") && err.contains(&format!("offset {offset} ")), "{err}");
        let err = decode(nest(200_000)).unwrap_err();
        assert!(err.contains("nested more than 100 deep"), "{err}");
    }

    #[test]
    fn errors_in_nested_messages_have_file_offsets() {
        // files.img: file_entry { type: 1, reg (3): { id: <truncated varint> } }
        // The payload starts at 12; reg's contents at 16; the varint at 17.
        let bytes = image_of(crate::image::ImageKind::Files, &[0x08, 0x01, 0x1a, 0x02, 0x08, 0x80]);
        let image = Image::parse("files.img", &bytes).unwrap();
        let err = super::super::to_json(&image, &DecodeOptions::PLAIN).unwrap_err().to_string();
        assert!(err.starts_with("files.img: offset 17 (entry 0)") && err.contains("truncated varint"), "{err}");

        // pstree_entry { pid: 1, threads (5, packed): [1, 2, <truncated varint>] }:
        // the run starts at 16, the bad varint at 18.
        let bytes = image_of(crate::image::ImageKind::Pstree, &[0x08, 0x01, 0x2a, 0x03, 0x01, 0x02, 0x80]);
        let image = Image::parse("pstree.img", &bytes).unwrap();
        let err = super::super::to_json(&image, &DecodeOptions::PLAIN).unwrap_err().to_string();
        assert!(err.starts_with("pstree.img: offset 18 (entry 0)") && err.contains("truncated varint"), "{err}");
    }

    #[test]
    fn singular_scalars_ignore_packed_runs() {
        // pipe_data_entry { pipe_id: 7, bytes: 3, bytes as a packed run [5] }
        // then "abc": the extra is sized by the varint, and so is the JSON.
        let mut bytes = image_of(crate::image::ImageKind::PipesData, &[0x08, 7, 0x10, 3, 0x12, 0x01, 0x05]);
        bytes.extend(b"abc");
        let image = Image::parse("pipes-data.img", &bytes).unwrap();
        let text = super::super::to_json(&image, &DecodeOptions::PLAIN).unwrap();
        assert_eq!(text, r#"{"magic": "PIPES_DATA", "entries": [{"pipe_id": 7, "bytes": 3, "extra": "YWJj\n"}]}"#);
        super::super::from_json(text.as_bytes(), "pipes-data.json").unwrap();
    }

    #[test]
    fn integers_are_read_per_type() {
        assert_eq!(integer(FieldType::Int32, u64::MAX), -1);
        assert_eq!(integer(FieldType::Sint32, 3), -2);
        assert_eq!(integer(FieldType::Uint64, u64::MAX), u64::MAX as i128);
        assert_eq!(integer(FieldType::Uint32, 0x1_0000_0005), 5);
    }
}
