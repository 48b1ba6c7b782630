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
use arrow_buffer::{BooleanBuffer, BooleanBufferBuilder, Buffer, NullBuffer, NullBufferBuilder, OffsetBuffer, ScalarBuffer};
use arrow_schema::{ArrowError, DataType, Field, FieldRef, Fields};
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
        /// The enum's names, made once with the plan.
        names: ArrayRef,
    },
    /// A nested message: `mapping` sorted by field number.
    Struct {
        mapping: Arc<[Mapped]>,
        children: Vec<Col>,
    },
}

/// A column's values and their validity.
pub(crate) struct Leaf {
    pub(crate) values: Values,
    nulls: NullBufferBuilder,
    len: usize,
    /// The first rows while they are all null, not written to `values`
    /// and `nulls` yet: a column no entry has costs nothing until it is
    /// finished (as arrays sharing one zeroed buffer).
    pending: usize,
}

/// The list level of a repeated field: offsets (empty until the first
/// row is written: then 0 and one per row) and validity, the first rows
/// kept pending while they are all null as in [`Leaf`].
struct ListLevel {
    offsets: Vec<i32>,
    nulls: NullBufferBuilder,
    rows: usize,
    pending: usize,
}

/// One zeroed buffer shared by the all-null arrays of an image's table.
pub(crate) struct Zeros(Buffer);

impl Zeros {
    pub(crate) fn new() -> Zeros {
        Zeros(Buffer::from_vec(Vec::<u64>::new()))
    }

    /// Zeros for `len` values of up to 8 bytes, plus one offset.
    fn get(&mut self, len: usize) -> Buffer {
        let words = len.saturating_add(2);
        if self.0.len() / 8 < words {
            self.0 = Buffer::from_vec(vec![0u64; words]);
        }
        self.0.clone()
    }
}

/// One Arrow column: a name, an optional list level, its values.
pub(crate) struct Col {
    pub(crate) name: &'static str,
    /// Its Arrow field, made once with the plan of its kind (a struct's
    /// holds its children's: finishing a column never rebuilds one).
    field: FieldRef,
    /// Offsets (empty until the first row: then 0 and one per row) and
    /// validity of the list level of a repeated field.
    list: Option<ListLevel>,
    pub(crate) leaf: Leaf,
}

/// Where a failure lies: an offset in the image file and what was wrong.
pub(crate) type Failure = WireError;

/// Too much for one column of one image: Arrow's 32-bit offsets.
const TOO_LARGE: &str = "more than 2 GiB of values in one column of one image";

impl Leaf {
    pub(crate) fn new(values: Values) -> Leaf {
        Leaf { values, nulls: NullBufferBuilder::new(0), len: 0, pending: 0 }
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
            Values::Struct { children, .. } => DataType::Struct(children.iter().map(|c| c.field.clone()).collect::<Fields>()),
        }
    }

    /// An empty leaf of the same shape (the builders of one image, from its kind's plan).
    fn fresh(&self) -> Leaf {
        let values = match &self.values {
            Values::Bool(_) => Values::Bool(BooleanBufferBuilder::new(0)),
            Values::I32(_) => Values::I32(Vec::new()),
            Values::I64(_) => Values::I64(Vec::new()),
            Values::U16(_) => Values::U16(Vec::new()),
            Values::U32(_) => Values::U32(Vec::new()),
            Values::U64(_) => Values::U64(Vec::new()),
            Values::F32(_) => Values::F32(Vec::new()),
            Values::F64(_) => Values::F64(Vec::new()),
            Values::Bytes { utf8, json, .. } => Values::Bytes { utf8: *utf8, json: *json, offsets: Vec::new(), data: Vec::new() },
            Values::Enum { id, names, .. } => Values::Enum { id: *id, keys: Vec::new(), unknown: Vec::new(), names: names.clone() },
            Values::Struct { mapping, children } => {
                Values::Struct { mapping: mapping.clone(), children: children.iter().map(Col::fresh).collect() }
            }
        };
        Leaf::new(values)
    }

    /// Appends a null.
    pub(crate) fn push_null(&mut self) {
        if self.pending == self.len {
            self.pending += 1;
            self.len += 1;
            return;
        }
        self.write_null();
    }

    /// Writes the pending nulls: a value comes (before the children of a
    /// struct row are filled: [`begin_row`](Self::begin_row)).
    fn materialize(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        self.len -= pending;
        for _ in 0..pending {
            self.write_null();
        }
    }

    /// To call before the children of a struct row are filled.
    pub(crate) fn begin_row(&mut self) {
        self.materialize();
    }

    /// Writes a null (a default value under it).
    fn write_null(&mut self) {
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
        self.materialize();
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
            (Values::Enum { id, keys, unknown, .. }, _) => {
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
                self.write_null();
                return;
            }
        }
        self.nulls.append_non_null();
        self.len += 1;
    }

    /// Appends bytes (a string, bytes field or payload).
    pub(crate) fn push_bytes(&mut self, bytes: &[u8]) -> Result<(), &'static str> {
        self.materialize();
        let Values::Bytes { utf8, json, offsets, data } = &mut self.values else {
            self.write_null();
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

    /// Closes one row of a struct leaf whose children were filled (after [`begin_row`](Self::begin_row)).
    pub(crate) fn push_struct_row(&mut self) {
        debug_assert_eq!(self.pending, 0, "begin_row first");
        self.nulls.append_non_null();
        self.len += 1;
    }

    /// The array of the values, of type `data_type` (the leaf's own, from its column's field).
    fn finish(self, data_type: &DataType, zeros: &mut Zeros) -> Result<ArrayRef, ArrowError> {
        if self.pending == self.len {
            let len = self.len;
            return self.finish_null(data_type, len, zeros);
        }
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
            Values::Enum { id, keys, unknown, names } => {
                let keys = Int32Array::try_new(ScalarBuffer::from(keys), nulls)?;
                let values = match unknown.is_empty() {
                    true => names,
                    false => enum_names(id, &unknown),
                };
                // Every key indexes `names` by construction.
                Arc::new(DictionaryArray::<Int32Type>::try_new(keys, values)?)
            }
            Values::Struct { children, .. } => struct_array(data_type, children, len, nulls, |c| c.finish(zeros))?,
        })
    }

    /// `len` nulls of type `data_type` (this leaf's), every buffer a view of `zeros`.
    fn finish_null(self, data_type: &DataType, len: usize, zeros: &mut Zeros) -> Result<ArrayRef, ArrowError> {
        let z = zeros.get(len);
        let nulls = Some(NullBuffer::new(BooleanBuffer::new(z.clone(), 0, len)));
        Ok(match self.values {
            Values::Bool(_) => Arc::new(BooleanArray::new(BooleanBuffer::new(z, 0, len), nulls)),
            Values::I32(_) => Arc::new(Int32Array::try_new(ScalarBuffer::new(z, 0, len), nulls)?),
            Values::I64(_) => Arc::new(Int64Array::try_new(ScalarBuffer::new(z, 0, len), nulls)?),
            Values::U16(_) => Arc::new(UInt16Array::try_new(ScalarBuffer::new(z, 0, len), nulls)?),
            Values::U32(_) => Arc::new(UInt32Array::try_new(ScalarBuffer::new(z, 0, len), nulls)?),
            Values::U64(_) => Arc::new(UInt64Array::try_new(ScalarBuffer::new(z, 0, len), nulls)?),
            Values::F32(_) => Arc::new(Float32Array::try_new(ScalarBuffer::new(z, 0, len), nulls)?),
            Values::F64(_) => Arc::new(Float64Array::try_new(ScalarBuffer::new(z, 0, len), nulls)?),
            Values::Bytes { utf8, .. } => {
                let offsets = OffsetBuffer::new(ScalarBuffer::new(z.clone(), 0, len + 1));
                let data = z.slice_with_length(0, 0);
                if utf8 {
                    Arc::new(StringArray::try_new(offsets, data, nulls)?)
                } else {
                    Arc::new(BinaryArray::try_new(offsets, data, nulls)?)
                }
            }
            Values::Enum { names, .. } => {
                let keys = Int32Array::try_new(ScalarBuffer::new(z, 0, len), nulls)?;
                Arc::new(DictionaryArray::<Int32Type>::try_new(keys, names)?)
            }
            Values::Struct { children, .. } => struct_array(data_type, children, len, nulls, |c| c.finish_null(len, zeros))?,
        })
    }
}

impl Values {
    /// The values of a column of enum `id`.
    pub(crate) fn enumeration(id: EnumId) -> Values {
        Values::Enum { id, keys: Vec::new(), unknown: Vec::new(), names: enum_names(id, &[]) }
    }
}

/// The dictionary of an enum column: the enum's names in schema order,
/// then `unknown` numbers as decimal text.
fn enum_names(id: EnumId, unknown: &[i32]) -> ArrayRef {
    let names: Vec<String> =
        id.schema().values.iter().map(|(_, name)| (*name).to_owned()).chain(unknown.iter().map(i32::to_string)).collect();
    Arc::new(StringArray::from(names))
}

impl Col {
    pub(crate) fn new(name: &'static str, repeated: bool, leaf: Leaf) -> Col {
        // Every column is nullable: crit leaves absent fields out.
        let item = leaf.data_type();
        let data_type = match repeated {
            true => DataType::List(Arc::new(Field::new("item", item, true))),
            false => item,
        };
        let field = Arc::new(Field::new(name, data_type, true));
        Col { name, field, list: repeated.then(ListLevel::new), leaf }
    }

    /// The Arrow field.
    pub(crate) fn field(&self) -> &FieldRef {
        &self.field
    }

    /// An empty column of the same shape and field.
    pub(crate) fn fresh(&self) -> Col {
        Col { name: self.name, field: self.field.clone(), list: self.list.as_ref().map(|_| ListLevel::new()), leaf: self.leaf.fresh() }
    }

    pub(crate) fn push_null(&mut self) {
        match &mut self.list {
            Some(list) => list.push_null(),
            None => self.leaf.push_null(),
        }
    }

    /// Closes one row of a repeated column: every value appended since
    /// the last row is in it (null when none were, as crit leaves the key out).
    pub(crate) fn close_list(&mut self) -> Result<(), &'static str> {
        let len = self.leaf.len;
        if let Some(list) = &mut self.list {
            let last = list.offsets.last().copied().unwrap_or(0);
            let end = i32::try_from(len).map_err(|_| TOO_LARGE)?;
            if end == last {
                list.push_null();
            } else {
                list.materialize();
                if list.offsets.is_empty() {
                    list.offsets.push(0);
                }
                list.offsets.push(end);
                list.nulls.append_non_null();
                list.rows += 1;
            }
        }
        Ok(())
    }

    /// The column's array; `zeros` backs its all-null parts.
    pub(crate) fn finish(self, zeros: &mut Zeros) -> Result<ArrayRef, ArrowError> {
        if let Some(list) = &self.list {
            if list.pending == list.rows {
                let rows = list.rows;
                return self.finish_null(rows, zeros);
            }
        }
        if self.list.is_none() {
            return self.leaf.finish(self.field.data_type(), zeros);
        }
        let item = self.item();
        Ok(match self.list {
            None => self.leaf.finish(self.field.data_type(), zeros)?,
            Some(ListLevel { mut offsets, mut nulls, .. }) => {
                let values = self.leaf.finish(item.data_type(), zeros)?;
                if offsets.is_empty() {
                    offsets.push(0);
                }
                // Offsets ascend by construction; try_new checks them against the values.
                let offsets = OffsetBuffer::new(ScalarBuffer::from(offsets));
                Arc::new(ListArray::try_new(item, offsets, values, nulls.finish())?)
            }
        })
    }

    /// The item field of a list column.
    fn item(&self) -> FieldRef {
        match self.field.data_type() {
            DataType::List(item) => item.clone(),
            other => Arc::new(Field::new("item", other.clone(), true)),
        }
    }

    /// `len` null rows of this column, every buffer a view of `zeros`.
    fn finish_null(self, len: usize, zeros: &mut Zeros) -> Result<ArrayRef, ArrowError> {
        if self.list.is_none() {
            return self.leaf.finish_null(self.field.data_type(), len, zeros);
        }
        let item = self.item();
        let values = self.leaf.finish_null(item.data_type(), 0, zeros)?;
        let z = zeros.get(len);
        let offsets = OffsetBuffer::new(ScalarBuffer::new(z.clone(), 0, len + 1));
        let nulls = Some(NullBuffer::new(BooleanBuffer::new(z, 0, len)));
        Ok(Arc::new(ListArray::try_new(item, offsets, values, nulls)?))
    }
}

impl ListLevel {
    fn new() -> ListLevel {
        ListLevel { offsets: Vec::new(), nulls: NullBufferBuilder::new(0), rows: 0, pending: 0 }
    }

    fn push_null(&mut self) {
        if self.pending == self.rows {
            self.pending += 1;
        } else {
            let last = self.offsets.last().copied().unwrap_or(0);
            self.offsets.push(last);
            self.nulls.append_null();
        }
        self.rows += 1;
    }

    /// Writes the pending null rows (empty lists: offsets 0).
    fn materialize(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        if pending == 0 {
            return;
        }
        if self.offsets.is_empty() {
            self.offsets.push(0);
        }
        self.offsets.extend(std::iter::repeat_n(0, pending));
        self.nulls.append_n_nulls(pending);
    }
}

/// A singular field's value in the message being decoded (the last one
/// given wins; several occurrences of a message merge).
/// Small and `Copy`: one is made for every child of every message decoded.
#[derive(Clone, Copy, Default)]
enum Slot<'a> {
    #[default]
    Absent,
    Scalar(u64, FieldType),
    Bytes(&'a [u8]),
    /// A message field given once (so far).
    Message(&'a [u8]),
    /// A message field given several times, the first part here: the
    /// parts are gathered again at the end (rare), and merge.
    Parts(&'a [u8]),
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
    let mut slots: SmallVec<[Slot<'_>; 16]> = smallvec::smallvec![Slot::Absent; children.len()];
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
            (FieldType::Message(_), WireValue::Bytes(part)) => match slots[m.column] {
                Slot::Message(first) | Slot::Parts(first) => slots[m.column] = Slot::Parts(first),
                _ => slots[m.column] = Slot::Message(part),
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
    for (column, (col, slot)) in children.iter_mut().zip(slots).enumerate() {
        if col.list.is_some() {
            col.close_list().map_err(|what| fail(bytes.len(), what))?;
            continue;
        }
        match slot {
            Slot::Absent => col.leaf.push_null(),
            Slot::Scalar(raw, ty) => col.leaf.push_scalar(ty, raw),
            Slot::Bytes(part) => col.leaf.push_bytes(part).map_err(|what| fail(shift(bytes, part), what))?,
            Slot::Message(part) => decode_message_into(&mut col.leaf, part, origin + shift(bytes, part))?,
            Slot::Parts(first) => {
                // Several occurrences of a singular message merge into one
                // (their bytes concatenated); errors point at the first.
                let mut merged = Vec::new();
                for field in wire::Fields::new(bytes) {
                    let Ok((number, WireValue::Bytes(part))) = field else { continue };
                    if mapping.iter().any(|m| m.number == number && m.column == column) {
                        merged.extend_from_slice(part);
                    }
                }
                decode_message_into(&mut col.leaf, &merged, origin + shift(bytes, first))?;
            }
        }
    }
    Ok(())
}

/// Appends one message as a row of a struct leaf (or as JSON text when
/// the plan cut a recursive message there).
fn decode_message_into(leaf: &mut Leaf, bytes: &[u8], origin: usize) -> Result<(), Failure> {
    match &mut leaf.values {
        Values::Struct { .. } => {
            leaf.begin_row();
            let Values::Struct { mapping, children } = &mut leaf.values else { return Ok(()) };
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

/// A struct array of `children` (each finished by `finish`), of type
/// `data_type` when that is a struct, else of the children's fields.
fn struct_array(
    data_type: &DataType,
    children: Vec<Col>,
    len: usize,
    nulls: Option<NullBuffer>,
    finish: impl FnMut(Col) -> Result<ArrayRef, ArrowError>,
) -> Result<ArrayRef, ArrowError> {
    if children.is_empty() {
        return Ok(Arc::new(StructArray::new_empty_fields(len, nulls)));
    }
    let fields = match data_type {
        DataType::Struct(fields) => fields.clone(),
        _ => children.iter().map(|c| c.field.clone()).collect(),
    };
    let arrays = children.into_iter().map(finish).collect::<Result<Vec<ArrayRef>, _>>()?;
    Ok(Arc::new(StructArray::try_new(fields, arrays, nulls)?))
}
