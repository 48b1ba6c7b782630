//! crit JSON -> image bytes. Accepts both plain and pretty JSON (hex
//! strings, flag names, devices, dict names, IP addresses) and writes fields
//! in field-number order, as protobuf serialisers do, so that decoding then
//! encoding an image gives back its exact bytes.

use super::pretty;
use super::text::{decode_base64, decode_quoted_printable};
use super::value::{self, Node, Value};
use crate::error::{Error, Result};
use crate::image::{Endian, ExtraKind, ImageKind, Layout};
use crate::proto::wire::{self, put_bytes_field, put_key, put_varint};
use crate::proto::{message_ids as m, FieldSchema, FieldType, MessageId};

/// An encoding problem at a byte offset of the JSON text.
struct Problem {
    at: usize,
    what: String,
}

type Encoded<T> = std::result::Result<T, Problem>;

fn problem(node: &Node, what: impl Into<String>) -> Problem {
    Problem { at: node.at, what: what.into() }
}

/// Encodes crit JSON (`{"magic": ..., "entries": [...]}`) into image bytes.
pub(crate) fn encode_image(text: &[u8], name: &str) -> Result<Vec<u8>> {
    let to_error = |at: usize, what: String| {
        let (line, column) = value::line_column(text, at);
        Error::Json { file: name.to_string(), line, column, detail: what }
    };
    let root = value::parse(text).map_err(|e| to_error(e.at, e.what))?;
    let mut out = Vec::new();
    encode_root(&root, &mut out).map_err(|p| to_error(p.at, p.what))?;
    Ok(out)
}

fn encode_root(root: &Node, out: &mut Vec<u8>) -> Encoded<()> {
    let Value::Object(members) = &root.value else {
        return Err(problem(root, format!("expected an object with \"magic\" and \"entries\", found {}", root.value.kind())));
    };
    let mut magic = None;
    let mut entries = None;
    for (key, node) in members {
        match key.as_slice() {
            b"magic" => magic = Some(node),
            b"entries" => entries = Some(node),
            other => {
                return Err(problem(
                    node,
                    format!("unexpected key {:?} at the top level (expected \"magic\" and \"entries\")", String::from_utf8_lossy(other)),
                ))
            }
        }
    }
    let magic = magic.ok_or_else(|| problem(root, "missing \"magic\""))?;
    let Value::Str(magic_name) = &magic.value else {
        return Err(problem(magic, "\"magic\" must be a string such as \"PSTREE\""));
    };
    let magic_name = String::from_utf8_lossy(magic_name);
    let kind = ImageKind::from_name(&magic_name).ok_or_else(|| problem(magic, format!("unknown image magic name {magic_name:?}")))?;
    let entries = entries.ok_or_else(|| problem(root, "missing \"entries\""))?;
    let Value::Array(entries) = &entries.value else {
        return Err(problem(entries, "\"entries\" must be an array"));
    };

    let endian = Endian::Little;
    if let Some(head) = kind.head().magic() {
        out.extend(endian.u32_bytes(head));
    }
    out.extend(endian.u32_bytes(kind.magic()));

    let mut chunked_ghost = false;
    for (index, entry) in entries.iter().enumerate() {
        let Value::Object(fields) = &entry.value else {
            return Err(problem(entry, format!("entry {index} must be an object, found {}", entry.value.kind())));
        };
        let extra = fields.iter().rev().find(|(k, _)| k == b"extra").map(|(_, v)| v);
        let message = kind.entry_message(if chunked_ghost { 1 } else { index });
        let mut payload = Vec::new();
        encode_fields(message, fields, &mut payload)?;
        out.extend(endian.u32_bytes(u32::try_from(payload.len()).map_err(|_| problem(entry, "entry larger than 4 GiB"))?));
        out.extend_from_slice(&payload);

        let declared = |name: &str| -> u64 {
            let number = message.schema().field_by_name(name).map(|f| f.number).unwrap_or(0);
            wire::last_varint(&payload, number).ok().flatten().unwrap_or(0)
        };
        match (kind.layout(), kind.extra()) {
            (Layout::Pagemap, _) | (Layout::Entries(_), ExtraKind::None) => {
                if let Some(extra) = extra {
                    return Err(problem(extra, format!("{} entries have no \"extra\"", kind.name())));
                }
            }
            (Layout::GhostFile, _) if index == 0 && declared("chunks") != 0 => {
                chunked_ghost = true;
                if let Some(extra) = extra {
                    return Err(problem(extra, "a chunked ghost file keeps its data in the chunk entries"));
                }
            }
            (Layout::GhostFile, _) => {
                if let Some(extra) = extra {
                    out.extend(base64_extra(extra)?);
                }
                if index > 0 {
                    check_len(entry, extra, declared("len"), "len")?;
                }
            }
            (_, ExtraKind::PipeData) => write_sized(out, entry, extra, declared("bytes"), "bytes")?,
            (_, ExtraKind::SkQueue) => write_sized(out, entry, extra, declared("length"), "length")?,
            (_, ExtraKind::BpfmapData) => {
                write_sized(out, entry, extra, declared("keys_bytes") + declared("values_bytes"), "keys_bytes + values_bytes")?
            }
            (_, ExtraKind::TcpStream) => {
                let extra = extra.ok_or_else(|| problem(entry, "missing \"extra\" with \"inq\" and \"outq\""))?;
                let Value::Object(queues) = &extra.value else {
                    return Err(problem(extra, "\"extra\" must be an object with \"inq\" and \"outq\""));
                };
                for (queue, len_field) in [("inq", "inq_len"), ("outq", "outq_len")] {
                    let node = queues
                        .iter()
                        .find(|(k, _)| k == queue.as_bytes())
                        .map(|(_, v)| v)
                        .ok_or_else(|| problem(extra, format!("missing \"{queue}\"")))?;
                    let bytes = base64_extra(node)?;
                    if bytes.len() as u64 != declared(len_field) {
                        return Err(problem(
                            node,
                            format!("\"{queue}\" holds {} bytes but {len_field} is {}", bytes.len(), declared(len_field)),
                        ));
                    }
                    out.extend(bytes);
                }
            }
            (_, ExtraKind::IpcSem) => {
                let nsems = declared("nsems");
                let extra = extra.ok_or_else(|| problem(entry, "missing \"extra\" with the semaphore values"))?;
                let Value::Array(values) = &extra.value else {
                    return Err(problem(extra, "\"extra\" must be an array of semaphore values"));
                };
                if values.len() as u64 != nsems {
                    return Err(problem(extra, format!("{} semaphore values but nsems is {nsems}", values.len())));
                }
                for value in values {
                    let v = match value.value {
                        Value::Int(v) => u16::try_from(v).ok(),
                        _ => None,
                    }
                    .ok_or_else(|| problem(value, "a semaphore value must be an integer from 0 to 65535"))?;
                    out.extend(v.to_le_bytes());
                }
                pad(out, values.len() * 2, 8);
            }
            (_, ExtraKind::IpcMsg) => {
                let Some(extra) = extra else { continue };
                let Value::Array(items) = &extra.value else {
                    return Err(problem(extra, "\"extra\" must be an array of [ipc_msg, data, ...]"));
                };
                if items.len() % 2 != 0 {
                    return Err(problem(extra, "\"extra\" must alternate ipc_msg objects and their data"));
                }
                for pair in items.chunks(2) {
                    let Value::Object(header_fields) = &pair[0].value else {
                        return Err(problem(&pair[0], "expected an ipc_msg object"));
                    };
                    let mut header = Vec::new();
                    encode_fields(m::IPC_MSG, header_fields, &mut header)?;
                    let msize = wire::last_varint(&header, 2).ok().flatten().unwrap_or(0) as usize;
                    let data = base64_extra(&pair[1])?;
                    if data.len() < msize {
                        return Err(problem(&pair[1], format!("message data has {} bytes but msize is {msize}", data.len())));
                    }
                    out.extend((header.len() as u32).to_le_bytes());
                    out.extend(&header);
                    out.extend(&data[..msize]);
                    pad(out, msize, 8);
                }
            }
            (_, ExtraKind::IpcShm) => {
                if declared("in_pagemaps") != 0 {
                    if let Some(extra) = extra {
                        return Err(problem(
                            extra,
                            "segments with in_pagemaps keep their contents in pagemap-shmem images, not in \"extra\"",
                        ));
                    }
                    continue;
                }
                let size = declared("size") as usize;
                let extra = extra.ok_or_else(|| problem(entry, "missing \"extra\" with the segment contents"))?;
                let data = base64_extra(extra)?;
                if data.len() < size {
                    return Err(problem(extra, format!("segment data has {} bytes but size is {size}", data.len())));
                }
                out.extend(&data[..size]);
                pad(out, size, 4);
            }
        }
    }
    Ok(())
}

fn check_len(entry: &Node, extra: Option<&Node>, declared: u64, field: &str) -> Encoded<()> {
    let actual = match extra {
        Some(node) => base64_extra(node)?.len() as u64,
        None => 0,
    };
    if actual != declared {
        return Err(problem(extra.unwrap_or(entry), format!("\"extra\" holds {actual} bytes but {field} is {declared}")));
    }
    Ok(())
}

fn write_sized(out: &mut Vec<u8>, entry: &Node, extra: Option<&Node>, declared: u64, field: &str) -> Encoded<()> {
    let bytes = match extra {
        Some(node) => base64_extra(node)?,
        None => Vec::new(),
    };
    if bytes.len() as u64 != declared {
        return Err(problem(extra.unwrap_or(entry), format!("\"extra\" holds {} bytes but {field} is {declared}", bytes.len())));
    }
    out.extend(bytes);
    Ok(())
}

fn pad(out: &mut Vec<u8>, len: usize, to: usize) {
    let padded = len.div_ceil(to) * to;
    out.resize(out.len() + (padded - len), 0);
}

fn base64_extra(node: &Node) -> Encoded<Vec<u8>> {
    let Value::Str(text) = &node.value else {
        return Err(problem(node, format!("expected base64 text, found {}", node.value.kind())));
    };
    if text.starts_with(b"... <") {
        return Err(problem(node, "this is a --nopl placeholder, not data: decode without --nopl to get JSON that encodes"));
    }
    decode_base64(text).map_err(|e| problem(node, e))
}

/// Encodes the members of a JSON object as message `id` (the `"extra"` key
/// of an entry is skipped: the caller writes it after the message).
fn encode_fields(id: MessageId, members: &[(Vec<u8>, Node)], out: &mut Vec<u8>) -> Encoded<()> {
    let schema = id.schema();
    let mut present: Vec<(&'static FieldSchema, &Node)> = Vec::with_capacity(members.len());
    for (key, value) in members {
        if key == b"extra" {
            continue;
        }
        let name = String::from_utf8_lossy(key);
        let field = schema.field_by_name(&name).ok_or_else(|| problem(value, format!("{} has no field {name:?}", schema.name)))?;
        // A repeated key replaces the earlier one, as in a Python dict.
        present.retain(|(f, _)| f.number != field.number);
        present.push((field, value));
    }
    present.sort_by_key(|(f, _)| f.number);
    for (field, value) in present {
        encode_field(field, value, out)?;
    }
    Ok(())
}

fn encode_field(field: &'static FieldSchema, node: &Node, out: &mut Vec<u8>) -> Encoded<()> {
    if !field.repeated {
        return encode_one(field, node, out);
    }
    let Value::Array(items) = &node.value else {
        return Err(problem(node, format!("{} is repeated: expected an array, found {}", field.name, node.value.kind())));
    };
    if field.opts.ipadd {
        if let Some(Node { value: Value::Str(text), .. }) = items.first() {
            let words = pretty::parse_ip_address(&String::from_utf8_lossy(text)).map_err(|e| problem(&items[0], e))?;
            for word in words {
                put_key(out, field.number, 0);
                put_varint(out, word.into());
            }
            return Ok(());
        }
    }
    if field.packed && !matches!(field.ty, FieldType::Message(_) | FieldType::String | FieldType::Bytes) {
        let mut packed = Vec::new();
        for item in items {
            match scalar(field, item)? {
                Scalar::Varint(v) => put_varint(&mut packed, v),
                Scalar::Fixed32(v) => packed.extend(v.to_le_bytes()),
                Scalar::Fixed64(v) => packed.extend(v.to_le_bytes()),
            }
        }
        if !items.is_empty() {
            put_bytes_field(out, field.number, &packed);
        }
        return Ok(());
    }
    for item in items {
        encode_one(field, item, out)?;
    }
    Ok(())
}

fn encode_one(field: &'static FieldSchema, node: &Node, out: &mut Vec<u8>) -> Encoded<()> {
    match field.ty {
        FieldType::Message(child) => {
            let Value::Object(members) = &node.value else {
                return Err(problem(node, format!("{} must be an object, found {}", field.name, node.value.kind())));
            };
            let mut nested = Vec::new();
            encode_fields(child, members, &mut nested)?;
            put_bytes_field(out, field.number, &nested);
        }
        FieldType::String => {
            let Value::Str(text) = &node.value else {
                return Err(problem(node, format!("{} must be a string, found {}", field.name, node.value.kind())));
            };
            put_bytes_field(out, field.number, text);
        }
        FieldType::Bytes => {
            let Value::Str(text) = &node.value else {
                return Err(problem(node, format!("{} must be a string, found {}", field.name, node.value.kind())));
            };
            let bytes = if field.opts.conv == Some("unix_name") {
                decode_quoted_printable(text)
            } else {
                decode_base64(text).map_err(|e| problem(node, format!("{}: {e}", field.name)))?
            };
            put_bytes_field(out, field.number, &bytes);
        }
        _ => match scalar(field, node)? {
            Scalar::Varint(v) => {
                put_key(out, field.number, 0);
                put_varint(out, v);
            }
            Scalar::Fixed32(v) => {
                put_key(out, field.number, 5);
                out.extend(v.to_le_bytes());
            }
            Scalar::Fixed64(v) => {
                put_key(out, field.number, 1);
                out.extend(v.to_le_bytes());
            }
        },
    }
    Ok(())
}

enum Scalar {
    Varint(u64),
    Fixed32(u32),
    Fixed64(u64),
}

fn scalar(field: &FieldSchema, node: &Node) -> Encoded<Scalar> {
    let name = field.name;
    match field.ty {
        FieldType::Bool => match node.value {
            Value::Bool(b) => Ok(Scalar::Varint(b.into())),
            Value::Int(v @ (0 | 1)) => Ok(Scalar::Varint(v as u64)),
            _ => Err(problem(node, format!("{name} must be true or false, found {}", node.value.kind()))),
        },
        FieldType::Enum(e) => {
            let schema = e.schema();
            let number = match &node.value {
                Value::Str(text) => {
                    let text = String::from_utf8_lossy(text);
                    schema.number_of(&text).ok_or_else(|| problem(node, format!("{text:?} is not a value of enum {}", schema.name)))?
                }
                Value::Int(v) => i32::try_from(*v).map_err(|_| problem(node, format!("{name}: {v} does not fit an enum")))?,
                other => return Err(problem(node, format!("{name} must be an enum name, found {}", other.kind()))),
            };
            Ok(Scalar::Varint(number as i64 as u64))
        }
        FieldType::Float | FieldType::Double => {
            let v = match node.value {
                Value::Float(f) => f,
                Value::Int(i) => i as f64,
                _ => return Err(problem(node, format!("{name} must be a number"))),
            };
            Ok(if field.ty == FieldType::Float { Scalar::Fixed32((v as f32).to_bits()) } else { Scalar::Fixed64(v.to_bits()) })
        }
        ty => {
            let value = integer_value(field, node)?;
            let out_of_range = || problem(node, format!("{name}: {value} is out of range for {ty:?}"));
            Ok(match ty {
                FieldType::Int32 => Scalar::Varint(i32::try_from(value).map_err(|_| out_of_range())? as i64 as u64),
                FieldType::Int64 => Scalar::Varint(i64::try_from(value).map_err(|_| out_of_range())? as u64),
                FieldType::Uint32 => Scalar::Varint(u32::try_from(value).map_err(|_| out_of_range())?.into()),
                FieldType::Uint64 => Scalar::Varint(u64::try_from(value).map_err(|_| out_of_range())?),
                FieldType::Sint32 => {
                    Scalar::Varint(u64::from(wire::zigzag(i32::try_from(value).map_err(|_| out_of_range())?.into()) as u32))
                }
                FieldType::Sint64 => Scalar::Varint(wire::zigzag(i64::try_from(value).map_err(|_| out_of_range())?)),
                FieldType::Fixed32 => Scalar::Fixed32(u32::try_from(value).map_err(|_| out_of_range())?),
                FieldType::Sfixed32 => Scalar::Fixed32(i32::try_from(value).map_err(|_| out_of_range())? as u32),
                FieldType::Fixed64 => Scalar::Fixed64(u64::try_from(value).map_err(|_| out_of_range())?),
                FieldType::Sfixed64 => Scalar::Fixed64(i64::try_from(value).map_err(|_| out_of_range())? as u64),
                _ => unreachable!("non-integer types are handled above"),
            })
        }
    }
}

/// An integer field's value from a JSON number or from any of crit's pretty
/// strings (hex, device, flags, dict name).
fn integer_value(field: &FieldSchema, node: &Node) -> Encoded<i128> {
    let text = match &node.value {
        Value::Int(v) => return Ok(*v),
        Value::Str(text) => String::from_utf8_lossy(text).into_owned(),
        other => return Err(problem(node, format!("{} must be an integer, found {}", field.name, other.kind()))),
    };
    let opts = &field.opts;
    if (opts.dev || opts.odev) && text.contains(':') {
        return pretty::parse_dev(&text, opts.odev).map(i128::from).map_err(|e| problem(node, e));
    }
    if let Some(table) = opts.flags {
        return pretty::parse_flags(table, &text).map(i128::from).map_err(|e| problem(node, format!("{}: {e}", field.name)));
    }
    if let Some(dict) = opts.dict {
        if let Some(v) = pretty::dict_value(dict, field.name, &text) {
            return Ok(v.into());
        }
    }
    pretty::parse_int(&text).ok_or_else(|| problem(node, format!("{}: {text:?} is not an integer", field.name)))
}
