//! One entry -> its crit JSON object, rendered straight from the wire
//! bytes by walking the schema tables.

use crate::error::{Error, Location, Result};
use crate::image::{Entry, Extra, Image};
use crate::json::pretty;
use crate::json::sink::Sink;
use crate::json::text::{mime_base64, quoted_printable};
use crate::json::writer::JsonWriter;
use crate::json::DecodeOptions;
use crate::proto::wire::{self, Fields, WireError, WireValue};
use crate::proto::{message_ids as m, FieldSchema, FieldType, MessageId};

/// Writes the JSON object of one entry, as it appears in the `entries` list.
pub(crate) fn write_one_entry(image: &Image<'_>, entry: &Entry<'_>, options: &DecodeOptions, out: &mut Vec<u8>) -> Result<()> {
    let mut w = JsonWriter::new(out, options.pretty.then_some(4));
    write_entry(&mut w, image, entry, options)
}

pub(crate) fn write_entry(w: &mut impl Sink, image: &Image<'_>, entry: &Entry<'_>, options: &DecodeOptions) -> Result<()> {
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

/// The plain crit JSON object of one message (`id` from `bytes`), for
/// callers that keep a nested message as text (the entry tables cut
/// recursive messages this way).
#[cfg(feature = "tables")]
pub(crate) fn message_json(id: MessageId, bytes: &[u8]) -> Result<String, WireError> {
    let mut out = Vec::new();
    let mut w = JsonWriter::new(&mut out, None);
    w.begin_object();
    write_fields(&mut w, id, bytes, false, false, 0)?;
    w.end_object();
    // The writer escapes everything that is not ASCII.
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// crit's `--nopl` size: 1024-based units, one decimal unless whole.
pub(crate) fn human_size(bytes: u64) -> String {
    let mut num = bytes as f64;
    for unit in ["", "K", "M", "G", "T", "P", "E", "Z"] {
        if num < 1024.0 {
            return if num.fract() == 0.0 { format!("{num:.0}{unit}B") } else { format!("{num:.1}{unit}B") };
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
fn write_fields(w: &mut impl Sink, id: MessageId, bytes: &[u8], pretty: bool, hex_inherited: bool, depth: usize) -> Result<(), WireError> {
    let schema = id.schema();
    if schema.flat {
        // Most entries of the largest images (pagemap runs, ...) are flat
        // messages written in field order: render them as they are read,
        // and leave anything unusual to the general path below.
        let mark = w.mark();
        if write_flat_in_order(w, schema.fields, bytes, pretty, hex_inherited) {
            return Ok(());
        }
        w.rollback(mark);
    }
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
    // Walk the schema (sorted by number too) alongside.
    let schema = schema.fields;
    let mut cursor = 0;
    let mut rest = &fields[..];
    while let Some(&(number, value)) = rest.first() {
        // All values of one field number: the key is only written when at
        // least one has the declared wire type (values of another type are
        // unknown fields to protobuf, and crit drops them).
        let run = rest.iter().position(|(n, _)| *n != number).unwrap_or(rest.len());
        let (values, tail) = rest.split_at(run);
        rest = tail;
        while cursor < schema.len() && schema[cursor].number < number {
            cursor += 1;
        }
        let Some(field) = schema.get(cursor).filter(|f| f.number == number) else {
            continue; // unknown to our schema: crit drops these too
        };
        if run == 1 && !field.repeated {
            if let Some(raw) = lone_scalar(field.ty, value) {
                w.field_key(field);
                write_scalar(w, field, raw, pretty, pretty && (hex_inherited || field.opts.hex));
                continue;
            }
        }
        write_field(w, field, bytes, values, pretty, hex_inherited, depth)?;
    }
    Ok(())
}

/// Renders a message of a flat schema (`fields`) in one pass, for the
/// usual case only: every field well framed, known, of its declared wire
/// type, and field numbers strictly ascending. Returns `false` at anything
/// else, leaving partial output for the caller to roll back (one pass of
/// a message with no nested ones: the retry costs at most as much again).
#[inline]
fn write_flat_in_order(w: &mut impl Sink, fields: &'static [FieldSchema], bytes: &[u8], pretty: bool, hex_inherited: bool) -> bool {
    let mut cursor = 0;
    let mut last = 0;
    for field in Fields::new(bytes) {
        let Ok((number, value)) = field else { return false };
        if number <= last {
            return false;
        }
        last = number;
        while cursor < fields.len() && fields[cursor].number < number {
            cursor += 1;
        }
        let Some(field) = fields.get(cursor).filter(|f| f.number == number) else { return false };
        let Some(raw) = lone_scalar(field.ty, value) else { return false };
        w.field_key(field);
        write_scalar(w, field, raw, pretty, pretty && (hex_inherited || field.opts.hex));
    }
    true
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
        (FieldType::Fixed32 | FieldType::Sfixed32 | FieldType::Float | FieldType::Fixed64 | FieldType::Sfixed64 | FieldType::Double, _) => {
            None
        }
        (_, WireValue::Varint(v)) => Some(v),
        _ => None,
    }
}

/// `values`: every `(number, value)` of the field, in order; `message` is
/// the message they come from (for error offsets).
fn write_field(
    w: &mut impl Sink,
    field: &'static FieldSchema,
    message: &[u8],
    values: &[(u32, WireValue<'_>)],
    pretty: bool,
    hex_inherited: bool,
    depth: usize,
) -> Result<(), WireError> {
    let hex = pretty && (hex_inherited || field.opts.hex);
    match field.ty {
        FieldType::Message(child) => {
            let parts: Vec<&[u8]> = values
                .iter()
                .filter_map(|(_, v)| match v {
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
            w.field_key(field);
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
                .filter_map(|(_, v)| match v {
                    WireValue::Bytes(b) => Some(*b),
                    _ => None,
                })
                .collect();
            let Some(last) = parts.last() else {
                return Ok(());
            };
            w.field_key(field);
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
            for (_, value) in values {
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
            w.field_key(field);
            if field.repeated {
                if pretty && field.opts.ipadd {
                    let words: Vec<u32> = scalars.iter().map(|&v| v as u32).collect();
                    if let Some(address) = pretty::ip_address(&words) {
                        w.begin_array();
                        w.ascii_string_with(|out| out.extend_from_slice(address.as_bytes()));
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

#[inline]
fn write_scalar(w: &mut impl Sink, field: &'static FieldSchema, raw: u64, pretty: bool, hex: bool) {
    match field.ty {
        FieldType::Bool => w.bool(raw != 0),
        FieldType::Float => w.f64(f64::from(f32::from_bits(raw as u32))),
        FieldType::Double => w.f64(f64::from_bits(raw)),
        FieldType::Enum(e) => {
            let value = raw as u32 as i32;
            match e.schema().name_of(value) {
                Some(name) => w.name(name),
                // crit crashes on values its enum does not know; print the number.
                None => w.i64(value.into()),
            }
        }
        ty if !pretty => match ty {
            FieldType::Int32 | FieldType::Sfixed32 => w.i64((raw as u32 as i32).into()),
            FieldType::Int64 | FieldType::Sfixed64 => w.i64(raw as i64),
            FieldType::Uint32 | FieldType::Fixed32 => w.u64((raw as u32).into()),
            FieldType::Sint32 => w.i64((wire::unzigzag(u64::from(raw as u32)) as i32).into()),
            FieldType::Sint64 => w.i64(wire::unzigzag(raw)),
            _ => w.u64(raw),
        },
        ty => {
            let value = integer(ty, raw);
            if pretty {
                if hex {
                    return w.hex_string(value);
                }
                let opts = &field.opts;
                if opts.dev || opts.odev {
                    return w.ascii_string_with(|out| out.extend_from_slice(pretty::dev(value as u64, opts.odev).as_bytes()));
                }
                if let Some(table) = opts.flags {
                    return w.ascii_string_with(|out| pretty::write_flags(out, table, value as u64));
                }
                if let Some(dict) = opts.dict {
                    if let Some(name) = pretty::dict_name(dict, field.name, value as u64) {
                        return w.name(name);
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

fn write_bytes_value(w: &mut impl Sink, field: &FieldSchema, bytes: &[u8]) {
    match field.ty {
        FieldType::String => w.string(bytes),
        _ if field.opts.conv == Some("unix_name") => w.string(quoted_printable(bytes).as_bytes()),
        _ => w.string(mime_base64(bytes).as_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::image_of;
    use super::*;

    #[test]
    fn flat_messages_out_of_the_usual_order_render_like_crit() {
        // pagemap runs (a flat message): in order, out of order, a field
        // given twice (the last wins), an unknown field, a foreign wire type.
        let cases: [(&[u8], &str); 5] = [
            (&[0x08, 0x80, 0x20, 0x20, 0x04, 0x28, 0x02], r#"{"vaddr": 4096, "flags": 4, "nr_pages": 2}"#),
            (&[0x28, 0x02, 0x08, 0x80, 0x20, 0x20, 0x04], r#"{"vaddr": 4096, "flags": 4, "nr_pages": 2}"#),
            (&[0x08, 0x80, 0x20, 0x28, 0x02, 0x28, 0x03], r#"{"vaddr": 4096, "nr_pages": 3}"#),
            (&[0x08, 0x80, 0x20, 0x38, 0x09, 0x28, 0x02], r#"{"vaddr": 4096, "nr_pages": 2}"#),
            (&[0x08, 0x80, 0x20, 0x2a, 0x01, 0x02], r#"{"vaddr": 4096}"#),
        ];
        for (payload, expected) in cases {
            let mut bytes = image_of(crate::image::ImageKind::Pagemap, &[0x08, 0x01]);
            bytes.extend((payload.len() as u32).to_le_bytes());
            bytes.extend(payload);
            let image = Image::parse("pagemap-1.img", &bytes).unwrap();
            let text = crate::json::to_json(&image, &DecodeOptions::PLAIN).unwrap();
            assert_eq!(text, format!(r#"{{"magic": "PAGEMAP", "entries": [{{"pages_id": 1}}, {expected}]}}"#), "{payload:x?}");
        }
    }

    #[test]
    fn human_sizes_match_crit() {
        assert_eq!(human_size(100), "100B");
        assert_eq!(human_size(8192), "8KB");
        assert_eq!(human_size(1536), "1.5KB");
        assert_eq!(human_size(0), "0B");
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
                    crate::json::to_json(&image, &DecodeOptions::PRETTY).map_err(|e| e.to_string())
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
        let err = crate::json::to_json(&image, &DecodeOptions::PLAIN).unwrap_err().to_string();
        assert!(err.starts_with("files.img: offset 17 (entry 0)") && err.contains("truncated varint"), "{err}");

        // pstree_entry { pid: 1, threads (5, packed): [1, 2, <truncated varint>] }:
        // the run starts at 16, the bad varint at 18.
        let bytes = image_of(crate::image::ImageKind::Pstree, &[0x08, 0x01, 0x2a, 0x03, 0x01, 0x02, 0x80]);
        let image = Image::parse("pstree.img", &bytes).unwrap();
        let err = crate::json::to_json(&image, &DecodeOptions::PLAIN).unwrap_err().to_string();
        assert!(err.starts_with("pstree.img: offset 18 (entry 0)") && err.contains("truncated varint"), "{err}");
    }

    #[test]
    fn singular_scalars_ignore_packed_runs() {
        // pipe_data_entry { pipe_id: 7, bytes: 3, bytes as a packed run [5] }
        // then "abc": the extra is sized by the varint, and so is the JSON.
        let mut bytes = image_of(crate::image::ImageKind::PipesData, &[0x08, 7, 0x10, 3, 0x12, 0x01, 0x05]);
        bytes.extend(b"abc");
        let image = Image::parse("pipes-data.img", &bytes).unwrap();
        let text = crate::json::to_json(&image, &DecodeOptions::PLAIN).unwrap();
        assert_eq!(text, r#"{"magic": "PIPES_DATA", "entries": [{"pipe_id": 7, "bytes": 3, "extra": "YWJj\n"}]}"#);
        crate::json::from_json(text.as_bytes(), "pipes-data.json").unwrap();
    }

    #[test]
    fn integers_are_read_per_type() {
        assert_eq!(integer(FieldType::Int32, u64::MAX), -1);
        assert_eq!(integer(FieldType::Sint32, 3), -2);
        assert_eq!(integer(FieldType::Uint64, u64::MAX), u64::MAX as i128);
        assert_eq!(integer(FieldType::Uint32, 0x1_0000_0005), 5);
    }
}
