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
    for entry in image.entries() {
        let entry = entry?;
        write_entry(&mut w, image, &entry, options)?;
    }
    w.end_array();
    w.end_object();
    Ok(())
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
    write_fields(w, entry.message_id(), entry.payload(), options.pretty, false).map_err(at)?;

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
                write_fields(w, m::IPC_MSG, message.header, false, false).map_err(at)?;
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

/// Writes the fields of one message (without the surrounding braces).
fn write_fields(
    w: &mut JsonWriter<'_>,
    id: MessageId,
    bytes: &[u8],
    pretty: bool,
    hex_inherited: bool,
) -> Result<(), WireError> {
    // CRIU's writers emit fields in ascending number order, so the common
    // case streams the wire fields as they come. Anything else is sorted
    // first (stable, so repeated values keep their order).
    let mut in_order = true;
    let mut last = 0u32;
    for field in Fields::new(bytes) {
        let (number, _) = field?;
        if number < last {
            in_order = false;
        }
        last = number;
    }
    if in_order {
        write_sorted(w, id, Fields::new(bytes).map(|f| f.expect("validated above")), pretty, hex_inherited)
    } else {
        let mut fields: Vec<(u32, WireValue<'_>)> = Fields::new(bytes).map(|f| f.expect("validated above")).collect();
        fields.sort_by_key(|(number, _)| *number);
        write_sorted(w, id, fields.into_iter(), pretty, hex_inherited)
    }
}

fn write_sorted<'a>(
    w: &mut JsonWriter<'_>,
    id: MessageId,
    fields: impl Iterator<Item = (u32, WireValue<'a>)>,
    pretty: bool,
    hex_inherited: bool,
) -> Result<(), WireError> {
    let schema = id.schema();
    let mut fields = fields.peekable();
    // Values of one field number, gathered before printing: the key is only
    // written when at least one value has the declared wire type (values of
    // another type are unknown fields to protobuf, and crit drops them).
    let mut group: Vec<WireValue<'a>> = Vec::new();
    while let Some((number, first)) = fields.next() {
        group.clear();
        group.push(first);
        while let Some((_, value)) = fields.next_if(|(n, _)| *n == number) {
            group.push(value);
        }
        let Some(field) = schema.field(number) else {
            continue; // unknown to our schema: crit drops these too
        };
        write_field(w, field, &group, pretty, hex_inherited)?;
    }
    Ok(())
}

fn write_field(
    w: &mut JsonWriter<'_>,
    field: &FieldSchema,
    values: &[WireValue<'_>],
    pretty: bool,
    hex_inherited: bool,
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
            w.key(field.name);
            if field.repeated {
                w.begin_array();
                for part in parts {
                    w.begin_object();
                    write_fields(w, child, part, pretty, hex)?;
                    w.end_object();
                }
                w.end_array();
            } else {
                // Several occurrences of a singular message merge into one.
                let merged: std::borrow::Cow<'_, [u8]> = if parts.len() == 1 {
                    parts[0].into()
                } else {
                    parts.concat().into()
                };
                w.begin_object();
                write_fields(w, child, &merged, pretty, hex)?;
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
            w.key(field.name);
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
            let mut scalars: Vec<u64> = Vec::new();
            for value in values {
                collect_scalars(field.ty, *value, &mut scalars)?;
            }
            if scalars.is_empty() {
                return Ok(());
            }
            w.key(field.name);
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
fn collect_scalars(ty: FieldType, value: WireValue<'_>, out: &mut Vec<u64>) -> Result<(), WireError> {
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
                    return w.string(pretty::hex(value).as_bytes());
                }
                let opts = &field.opts;
                if opts.dev || opts.odev {
                    return w.string(pretty::dev(value as u64, opts.odev).as_bytes());
                }
                if let Some(table) = opts.flags {
                    return w.string(pretty::flags(table, value as u64).as_bytes());
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
    fn human_sizes_match_crit() {
        assert_eq!(human_size(100), "100B");
        assert_eq!(human_size(8192), "8KB");
        assert_eq!(human_size(1536), "1.5KB");
        assert_eq!(human_size(0), "0B");
    }

    #[test]
    fn integers_are_read_per_type() {
        assert_eq!(integer(FieldType::Int32, u64::MAX), -1);
        assert_eq!(integer(FieldType::Sint32, 3), -2);
        assert_eq!(integer(FieldType::Uint64, u64::MAX), u64::MAX as i128);
        assert_eq!(integer(FieldType::Uint32, 0x1_0000_0005), 5);
    }
}
