//! Column builders made from the message schema, and the one-pass decoder
//! that fills them straight from the wire bytes (no JSON, tape or
//! per-field objects in between).
//!
//! A [`Col`] is one Arrow column: an optional list level (repeated fields)
//! over a [`Leaf`] of values. A struct leaf holds its children and the
//! map from field numbers to them; the decoder walks a message once,
//! appending repeated values as they come and keeping the last value of
//! each singular field in a slot, and closes one row of every child at the
//! end of the message (null where the field was absent, as crit leaves the
//! key out).

use std::sync::Arc;

use arrow_array::types::Int32Type;
use arrow_array::{
    ArrayRef, BinaryArray, BooleanArray, DictionaryArray, Float32Array, Float64Array, Int32Array, Int64Array, ListArray, StringArray,
    StructArray, UInt16Array, UInt32Array, UInt64Array,
};
use arrow_buffer::{BooleanBufferBuilder, NullBufferBuilder, OffsetBuffer, ScalarBuffer};
use arrow_schema::{ArrowError, DataType, Field, Fields};
use smallvec::SmallVec;

use crate::proto::wire::{self, WireError, WireValue};
use crate::proto::{EnumId, FieldType, MessageId};

/// One field of a message mapped to the child column it fills.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Mapped {
    pub(crate) number: u32,
    pub(crate) ty: FieldType,
    pub(crate) repeated: bool,
    pub(crate) column: usize,
}

/// The values of one column (below its list level, if any).
pub(crate) enum Values {
    Bool(BooleanBufferBuilder),
    I32(Vec<i32>),
    I64(Vec<i64>),
    U16(Vec<u16>),
    U32(Vec<u32>),
    U64(Vec<u64>),
    F32(Vec<f32>),
    F64(Vec<f64>),
    /// `utf8`: a string column (text that is not UTF-8 is read lossily);
    /// `json`: a message kept as its crit JSON text (recursive messages).
    Bytes {
        utf8: bool,
        json: Option<MessageId>,
        offsets: Vec<i32>,
        data: Vec<u8>,
    },
    /// Enum names as dictionary keys: the enum's names in schema order,
    /// then the numbers it does not declare, as decimal text.
    Enum {
        id: EnumId,
        keys: Vec<i32>,
        unknown: Vec<i32>,
    },
    /// A nested message: `mapping` sorted by field number.
    Struct {
        mapping: Vec<Mapped>,
        children: Vec<Col>,
    },
}

/// A column's values and their validity.
pub(crate) struct Leaf {
    pub(crate) values: Values,
    nulls: NullBufferBuilder,
    len: usize,
}

/// One Arrow column: a name, an optional list level, its values.
pub(crate) struct Col {
    pub(crate) name: &'static str,
    /// Offsets and validity of the list level of a repeated field.
    list: Option<(Vec<i32>, NullBufferBuilder)>,
    pub(crate) leaf: Leaf,
}

/// Where a failure lies: an offset in the image file and what was wrong.
pub(crate) type Failure = WireError;

/// Too much for one column of one image: Arrow's 32-bit offsets.
const TOO_LARGE: &str = "more than 2 GiB of values in one column of one image";

impl Leaf {
    pub(crate) fn new(values: Values) -> Leaf {
        Leaf { values, nulls: NullBufferBuilder::new(0), len: 0 }
    }

    fn data_type(&self) -> DataType {
        match &self.values {
            Values::Bool(_) => DataType::Boolean,
            Values::I32(_) => DataType::Int32,
            Values::I64(_) => DataType::Int64,
            Values::U16(_) => DataType::UInt16,
            Values::U32(_) => DataType::UInt32,
            Values::U64(_) => DataType::UInt64,
            Values::F32(_) => DataType::Float32,
            Values::F64(_) => DataType::Float64,
            Values::Bytes { utf8: true, .. } => DataType::Utf8,
            Values::Bytes { utf8: false, .. } => DataType::Binary,
            Values::Enum { .. } => DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
            Values::Struct { children, .. } => DataType::Struct(children.iter().map(Col::field).collect::<Fields>()),
        }
    }

    /// Appends a null (a default value under it).
    pub(crate) fn push_null(&mut self) {
        match &mut self.values {
            Values::Bool(v) => v.append(false),
            Values::I32(v) => v.push(0),
            Values::I64(v) => v.push(0),
            Values::U16(v) => v.push(0),
            Values::U32(v) => v.push(0),
            Values::U64(v) => v.push(0),
            Values::F32(v) => v.push(0.0),
            Values::F64(v) => v.push(0.0),
            Values::Bytes { offsets, .. } => {
                if offsets.is_empty() {
                    offsets.push(0);
                }
                let last = offsets.last().copied().unwrap_or(0);
                offsets.push(last);
            }
            Values::Enum { keys, .. } => keys.push(0),
            Values::Struct { children, .. } => {
                for child in children {
                    child.push_null();
                }
            }
        }
        self.nulls.append_null();
        self.len += 1;
    }

    /// Appends a scalar read from the wire as `raw`, read as the field type `ty`.
    pub(crate) fn push_scalar(&mut self, ty: FieldType, raw: u64) {
        match (&mut self.values, ty) {
            (Values::Bool(v), _) => v.append(raw != 0),
            (Values::I32(v), FieldType::Sint32) => v.push(wire::unzigzag(u64::from(raw as u32)) as i32),
            (Values::I32(v), _) => v.push(raw as u32 as i32),
            (Values::I64(v), FieldType::Sint64) => v.push(wire::unzigzag(raw)),
            (Values::I64(v), _) => v.push(raw as i64),
            (Values::U16(v), _) => v.push(raw as u16),
            (Values::U32(v), _) => v.push(raw as u32),
            (Values::U64(v), _) => v.push(raw),
            (Values::F32(v), _) => v.push(f32::from_bits(raw as u32)),
            (Values::F64(v), _) => v.push(f64::from_bits(raw)),
            (Values::Enum { id, keys, unknown }, _) => {
                let number = raw as u32 as i32;
                let known = id.schema().values;
                let key = match known.binary_search_by_key(&number, |(n, _)| *n) {
                    Ok(i) => i,
                    Err(_) => {
                        let at = unknown.iter().position(|&n| n == number).unwrap_or_else(|| {
                            unknown.push(number);
                            unknown.len() - 1
                        });
                        known.len() + at
                    }
                };
                // Bounded by the enum's names plus the distinct values of one image.
                keys.push(i32::try_from(key).unwrap_or(i32::MAX));
            }
            // The plan never maps a scalar onto these.
            (Values::Bytes { .. } | Values::Struct { .. }, _) => {
                self.push_null();
                return;
            }
        }
        self.nulls.append_non_null();
        self.len += 1;
    }

    /// Appends bytes (a string, bytes field or payload).
    pub(crate) fn push_bytes(&mut self, bytes: &[u8]) -> Result<(), &'static str> {
        let Values::Bytes { utf8, json, offsets, data } = &mut self.values else {
            self.push_null();
            return Ok(());
        };
        if offsets.is_empty() {
            offsets.push(0);
        }
        match (json.is_some(), *utf8) {
            // Text already rendered by `decode_message_into`.
            (true, _) => data.extend_from_slice(bytes),
            (false, true) => match std::str::from_utf8(bytes) {
                Ok(_) => data.extend_from_slice(bytes),
                Err(_) => data.extend_from_slice(String::from_utf8_lossy(bytes).as_bytes()),
            },
            (false, false) => data.extend_from_slice(bytes),
        }
        offsets.push(i32::try_from(data.len()).map_err(|_| TOO_LARGE)?);
        self.nulls.append_non_null();
        self.len += 1;
        Ok(())
    }

    /// Closes one row of a struct leaf whose children were filled.
    pub(crate) fn push_struct_row(&mut self) {
        self.nulls.append_non_null();
        self.len += 1;
    }

    fn finish(self) -> Result<ArrayRef, ArrowError> {
        let mut nulls = self.nulls;
        let nulls = nulls.finish();
        let len = self.len;
        Ok(match self.values {
            Values::Bool(mut v) => Arc::new(BooleanArray::new(v.finish(), nulls)),
            Values::I32(v) => Arc::new(Int32Array::try_new(ScalarBuffer::from(v), nulls)?),
            Values::I64(v) => Arc::new(Int64Array::try_new(ScalarBuffer::from(v), nulls)?),
            Values::U16(v) => Arc::new(UInt16Array::try_new(ScalarBuffer::from(v), nulls)?),
            Values::U32(v) => Arc::new(UInt32Array::try_new(ScalarBuffer::from(v), nulls)?),
            Values::U64(v) => Arc::new(UInt64Array::try_new(ScalarBuffer::from(v), nulls)?),
            Values::F32(v) => Arc::new(Float32Array::try_new(ScalarBuffer::from(v), nulls)?),
            Values::F64(v) => Arc::new(Float64Array::try_new(ScalarBuffer::from(v), nulls)?),
            Values::Bytes { utf8, mut offsets, data, .. } => {
                if offsets.is_empty() {
                    offsets.push(0);
                }
                // Offsets ascend and every string is whole UTF-8 by construction.
                let offsets = OffsetBuffer::new(ScalarBuffer::from(offsets));
                if utf8 {
                    Arc::new(StringArray::try_new(offsets, data.into(), nulls)?)
                } else {
                    Arc::new(BinaryArray::try_new(offsets, data.into(), nulls)?)
                }
            }
            Values::Enum { id, keys, unknown } => {
                let names: Vec<String> =
                    id.schema().values.iter().map(|(_, name)| (*name).to_owned()).chain(unknown.iter().map(i32::to_string)).collect();
                let keys = Int32Array::try_new(ScalarBuffer::from(keys), nulls)?;
                let values = Arc::new(StringArray::from(names));
                // Every key indexes `names` by construction.
                Arc::new(DictionaryArray::<Int32Type>::try_new(keys, values)?)
            }
            Values::Struct { children, .. } => {
                if children.is_empty() {
                    return Ok(Arc::new(StructArray::new_empty_fields(len, nulls)));
                }
                let fields: Fields = children.iter().map(Col::field).collect();
                let arrays = children.into_iter().map(Col::finish).collect::<Result<Vec<ArrayRef>, _>>()?;
                Arc::new(StructArray::try_new(fields, arrays, nulls)?)
            }
        })
    }
}

impl Col {
    pub(crate) fn new(name: &'static str, repeated: bool, leaf: Leaf) -> Col {
        Col { name, list: repeated.then(|| (vec![0], NullBufferBuilder::new(0))), leaf }
    }

    /// The Arrow field (every column is nullable: crit leaves absent fields out).
    pub(crate) fn field(&self) -> Field {
        let item = self.leaf.data_type();
        let data_type = match self.list {
            Some(_) => DataType::List(Arc::new(Field::new("item", item, true))),
            None => item,
        };
        Field::new(self.name, data_type, true)
    }

    pub(crate) fn push_null(&mut self) {
        match &mut self.list {
            Some((offsets, nulls)) => {
                let last = offsets.last().copied().unwrap_or(0);
                offsets.push(last);
                nulls.append_null();
            }
            None => self.leaf.push_null(),
        }
    }

    /// Closes one row of a repeated column: every value appended since
    /// the last row is in it (null when none were, as crit leaves the key out).
    pub(crate) fn close_list(&mut self) -> Result<(), &'static str> {
        let len = self.leaf.len;
        if let Some((offsets, nulls)) = &mut self.list {
            let last = offsets.last().copied().unwrap_or(0);
            let end = i32::try_from(len).map_err(|_| TOO_LARGE)?;
            offsets.push(end);
            if end == last {
                nulls.append_null();
            } else {
                nulls.append_non_null();
            }
        }
        Ok(())
    }

    pub(crate) fn finish(self) -> Result<ArrayRef, ArrowError> {
        let item = Arc::new(Field::new("item", self.leaf.data_type(), true));
        let values = self.leaf.finish()?;
        Ok(match self.list {
            None => values,
            Some((offsets, mut nulls)) => {
                // Offsets ascend by construction; try_new checks them against the values.
                let offsets = OffsetBuffer::new(ScalarBuffer::from(offsets));
                Arc::new(ListArray::try_new(item, offsets, values, nulls.finish())?)
            }
        })
    }
}

/// A singular field's value in the message being decoded (the last one
/// given wins; several occurrences of a message merge).
#[derive(Clone, Default)]
enum Slot<'a> {
    #[default]
    Absent,
    Scalar(u64, FieldType),
    Bytes(&'a [u8]),
    Parts(SmallVec<[&'a [u8]; 1]>),
}

/// Width of a fixed-size wire value for `ty`, `None` for varints.
fn fixed_width(ty: FieldType) -> Option<usize> {
    match ty {
        FieldType::Fixed32 | FieldType::Sfixed32 | FieldType::Float => Some(4),
        FieldType::Fixed64 | FieldType::Sfixed64 | FieldType::Double => Some(8),
        _ => None,
    }
}

/// The value of a scalar of type `ty` given as `value`, when `value` has
/// the wire type `ty` is read from (protobuf ignores the others).
fn lone_scalar(ty: FieldType, value: WireValue<'_>) -> Option<u64> {
    match (fixed_width(ty), value) {
        (Some(4), WireValue::Fixed32(v)) => Some(v.into()),
        (Some(8), WireValue::Fixed64(v)) => Some(v),
        (None, WireValue::Varint(v)) => Some(v),
        _ => None,
    }
}

/// Offset of `part` (inside `whole`) from the start of `whole`.
fn shift(whole: &[u8], part: &[u8]) -> usize {
    (part.as_ptr() as usize).wrapping_sub(whole.as_ptr() as usize)
}

/// Decodes one message (`bytes`, found at file offset `origin`) into one
/// row of each of `children`, through `mapping`. Errors carry the file offset.
pub(crate) fn decode_fields(mapping: &[Mapped], children: &mut [Col], bytes: &[u8], origin: usize) -> Result<(), Failure> {
    let fail = |offset: usize, what: &'static str| WireError { offset: origin.saturating_add(offset), what };
    let mut slots: SmallVec<[Slot<'_>; 24]> = SmallVec::from_elem(Slot::Absent, children.len());
    for field in wire::Fields::new(bytes) {
        let (number, value) = field.map_err(|e| fail(e.offset, e.what))?;
        let Ok(at) = mapping.binary_search_by_key(&number, |m| m.number) else {
            continue; // unknown to the schema: crit drops these too
        };
        let m = mapping[at];
        let Some(col) = children.get_mut(m.column) else { continue };
        match (m.ty, value) {
            (FieldType::Message(_), WireValue::Bytes(part)) if m.repeated => {
                decode_message_into(&mut col.leaf, part, origin + shift(bytes, part))?;
            }
            (FieldType::Message(_), WireValue::Bytes(part)) => match &mut slots[m.column] {
                Slot::Parts(parts) => parts.push(part),
                slot => *slot = Slot::Parts(SmallVec::from_elem(part, 1)),
            },
            (FieldType::String | FieldType::Bytes, WireValue::Bytes(part)) if m.repeated => {
                col.leaf.push_bytes(part).map_err(|what| fail(shift(bytes, part), what))?;
            }
            (FieldType::String | FieldType::Bytes, WireValue::Bytes(part)) => slots[m.column] = Slot::Bytes(part),
            (FieldType::Message(_) | FieldType::String | FieldType::Bytes, _) => {}
            (ty, WireValue::Bytes(packed)) if m.repeated => {
                let base = shift(bytes, packed);
                let mut pos = 0;
                while pos < packed.len() {
                    let raw = match fixed_width(ty) {
                        None => wire::read_varint(packed, &mut pos).map_err(|e| fail(base + e.offset, e.what))?,
                        Some(n) => {
                            let Some(chunk) = packed.get(pos..pos + n) else {
                                return Err(fail(base + pos, "truncated packed fixed-width value"));
                            };
                            let mut buf = [0u8; 8];
                            buf[..n].copy_from_slice(chunk);
                            pos += n;
                            u64::from_le_bytes(buf)
                        }
                    };
                    col.leaf.push_scalar(ty, raw);
                }
            }
            (ty, value) => {
                let Some(raw) = lone_scalar(ty, value) else { continue };
                if m.repeated {
                    col.leaf.push_scalar(ty, raw);
                } else {
                    slots[m.column] = Slot::Scalar(raw, ty);
                }
            }
        }
    }
    // One row of every child: the lists close, the singular values land.
    for (col, slot) in children.iter_mut().zip(slots) {
        if col.list.is_some() {
            col.close_list().map_err(|what| fail(bytes.len(), what))?;
            continue;
        }
        match slot {
            Slot::Absent => col.leaf.push_null(),
            Slot::Scalar(raw, ty) => col.leaf.push_scalar(ty, raw),
            Slot::Bytes(part) => col.leaf.push_bytes(part).map_err(|what| fail(shift(bytes, part), what))?,
            Slot::Parts(parts) => {
                if let [part] = parts[..] {
                    decode_message_into(&mut col.leaf, part, origin + shift(bytes, part))?;
                } else {
                    // Several occurrences of a singular message merge into one;
                    // errors point at the first.
                    let merged = parts.concat();
                    decode_message_into(&mut col.leaf, &merged, origin + shift(bytes, parts[0]))?;
                }
            }
        }
    }
    Ok(())
}

/// Appends one message as a row of a struct leaf (or as JSON text when
/// the plan cut a recursive message there).
fn decode_message_into(leaf: &mut Leaf, bytes: &[u8], origin: usize) -> Result<(), Failure> {
    match &mut leaf.values {
        Values::Struct { mapping, children } => {
            decode_fields(mapping, children, bytes, origin)?;
            leaf.push_struct_row();
            Ok(())
        }
        Values::Bytes { json: Some(id), .. } => {
            let text =
                crate::json::message_json(*id, bytes).map_err(|e| WireError { offset: origin.saturating_add(e.offset), what: e.what })?;
            leaf.push_bytes(text.as_bytes()).map_err(|what| WireError { offset: origin, what })
        }
        _ => {
            leaf.push_null();
            Ok(())
        }
    }
}
