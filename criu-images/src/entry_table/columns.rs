//! Column builders made from the message schema, and the one-pass decoder
//! that fills them straight from the wire bytes (no JSON, tape or
//! per-field objects in between).
//!
//! A [`Col`] is one Arrow column: an optional list level (repeated fields)
//! over a [`Leaf`] of values. A struct leaf holds its children and the
//! map from field numbers to them; the decoder walks a message once,
//! writing singular scalars and strings into their row as they come (a
//! later occurrence replaces the value: the last one wins), appending
//! repeated values, decoding singular messages at the end (their parts
//! merge), and closes one row of every child (null where the field was
//! absent, as crit leaves the key out).

use std::sync::Arc;

use arrow_array::types::Int32Type;
use arrow_array::{
    ArrayRef, BinaryArray, BooleanArray, DictionaryArray, Float32Array, Float64Array, Int32Array, Int64Array, ListArray, StringArray,
    StructArray, UInt16Array, UInt32Array, UInt64Array,
};
use arrow_buffer::{BooleanBuffer, BooleanBufferBuilder, Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
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

/// The fields of a message mapped to their columns: sorted by field
/// number, with a dense index for the small numbers (every CRIU field's)
/// so that a field is found without a search.
pub(crate) struct Mapping {
    fields: Box<[Mapped]>,
    /// `dense[number]`: the index in `fields` of field `number`, or `NONE`.
    dense: Box<[u8]>,
    /// Every field is a singular scalar read from a varint ([`decode_flat`]).
    flat: bool,
    /// `by_key[key]`: for a one-byte key (a field number below 16 with the
    /// varint wire type), the index in `fields` of its field, or `NONE`;
    /// filled for flat messages only.
    by_key: [u8; 128],
}

impl Mapping {
    /// Field numbers below this are looked up in the dense index.
    const DENSE: u32 = 256;
    const NONE: u8 = u8::MAX;

    /// The map of `fields` (any order).
    pub(crate) fn new(mut fields: Vec<Mapped>) -> Mapping {
        fields.sort_by_key(|m| m.number);
        let top = fields.iter().map(|m| m.number).filter(|&n| n < Self::DENSE).max().map_or(0, |n| n as usize + 1);
        let mut dense = vec![Self::NONE; top];
        for (i, m) in fields.iter().enumerate() {
            // More fields than fit an u8 index are found by searching.
            if let (Some(slot), Ok(i)) = (dense.get_mut(m.number as usize), u8::try_from(i)) {
                if i != Self::NONE {
                    *slot = i;
                }
            }
        }
        let flat = fields.iter().all(|m| !m.repeated && reads_varint(m.ty));
        let mut by_key = [Self::NONE; 128];
        if flat {
            for (key, slot) in by_key.iter_mut().enumerate() {
                if key & 7 == 0 && key >> 3 != 0 {
                    *slot = dense.get(key >> 3).copied().unwrap_or(Self::NONE);
                }
            }
        }
        Mapping { fields: fields.into(), dense: dense.into(), flat, by_key }
    }

    /// The field numbered `number`, if the message has it.
    #[inline]
    fn get(&self, number: u32) -> Option<Mapped> {
        match self.dense.get(number as usize) {
            Some(&i) if i != Self::NONE => self.fields.get(usize::from(i)).copied(),
            _ => self.fields.binary_search_by_key(&number, |m| m.number).ok().map(|i| self.fields[i]),
        }
    }
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
    /// A nested message: its columns are made from `shape` when its first
    /// row comes (a message no entry has, such as the registers of every
    /// other architecture in a core image, costs nothing until finished).
    Struct {
        shape: Arc<Shape>,
        children: Vec<Col>,
    },
}

/// What the columns of a nested message are made from.
pub(crate) struct Shape {
    /// Its fields mapped to `template`.
    pub(crate) mapping: Mapping,
    /// Empty columns, copied ([`Col::fresh`]) for every image that has the message.
    template: Vec<Col>,
}

impl Values {
    /// The values of a nested message with these field map and columns.
    pub(crate) fn structure(mapping: Mapping, columns: Vec<Col>) -> Values {
        Values::Struct { shape: Arc::new(Shape { mapping, template: columns }), children: Vec::new() }
    }
}

/// The columns of a nested message, made from its shape if they are not yet.
#[inline]
fn made<'c>(shape: &Shape, children: &'c mut Vec<Col>) -> &'c mut Vec<Col> {
    if children.len() != shape.template.len() {
        *children = shape.template.iter().map(Col::fresh).collect();
    }
    children
}

/// A column's values and their validity.
pub(crate) struct Leaf {
    pub(crate) values: Values,
    nulls: Validity,
    len: usize,
    /// The last rows while they are null, not written to `values` and
    /// `nulls` yet (they are, in bulk, when a value follows or the column
    /// is finished): a null costs a count, and a column no entry has
    /// costs nothing until it is finished (as arrays sharing one zeroed
    /// buffer).
    pending: usize,
    /// The rows the column will have in all, when known (the entries of a
    /// plain image): its values get that room when the first one comes
    /// (from then on every row writes one), instead of growing.
    expect: usize,
}

/// The list level of a repeated field: offsets (empty until the first
/// row is written: then 0 and one per row) and validity, the last null
/// rows kept pending as in [`Leaf`].
struct ListLevel {
    offsets: Vec<i32>,
    nulls: Validity,
    rows: usize,
    pending: usize,
}

/// The validity of a column's rows, written lazily: the current run of
/// rows of one kind (valid or null) is only counted, and set in bulk when
/// a row of the other kind follows it; a column without nulls has no
/// bitmap at all.
struct Validity {
    /// The rows before `written`, once a null came.
    bits: Option<BooleanBufferBuilder>,
    written: usize,
    len: usize,
    /// The kind of the rows from `written` to `len`.
    run_valid: bool,
}

impl Validity {
    fn new() -> Validity {
        Validity { bits: None, written: 0, len: 0, run_valid: true }
    }

    #[inline]
    fn append(&mut self, valid: bool) {
        if valid != self.run_valid {
            self.flush();
            self.run_valid = valid;
        }
        self.len += 1;
    }

    #[inline]
    fn append_non_null(&mut self) {
        self.append(true);
    }

    fn append_n_nulls(&mut self, n: usize) {
        if self.run_valid {
            self.flush();
            self.run_valid = false;
        }
        self.len += n;
    }

    /// Writes the current run.
    #[cold]
    #[inline(never)]
    fn flush(&mut self) {
        let n = self.len - self.written;
        if n > 0 {
            self.bits.get_or_insert_with(|| BooleanBufferBuilder::new(0)).append_n(n, self.run_valid);
        }
        self.written = self.len;
    }

    /// The validity bitmap, `None` when every row is valid.
    fn finish(mut self) -> Option<NullBuffer> {
        if self.bits.is_none() && self.run_valid {
            return None;
        }
        self.flush();
        let mut bits = self.bits?;
        Some(NullBuffer::new(bits.finish()))
    }
}

/// What all-null arrays share. Columns no entry has are most of a wide
/// table (a core image's message has hundreds of nested columns, one row
/// each), and their arrays depend only on the column and the length: up
/// to [`CACHED_ROWS`] rows they are made once per process and shared by
/// `Arc` ([`NullCache`]); longer ones once per call (the images of one
/// kind in one call, when `shared`), every buffer a view of one zeroed
/// buffer.
pub(crate) struct Zeros {
    buffer: Buffer,
    /// `None`: for one image alone, where no column repeats.
    arrays: Option<std::collections::HashMap<(usize, usize), ArrayRef, KeyHash>>,
}

/// All-null arrays of at most this many rows are kept for the process.
const CACHED_ROWS: usize = 4096;
/// At most this many arrays are kept (a few MB: each is its `Arc`s and
/// views of one zeroed buffer); when full the cache starts again empty.
const CACHED_ARRAYS: usize = 32 * 1024;

/// All-null arrays of up to [`CACHED_ROWS`] rows by (column, length),
/// shared by every thread and call. A column is named by the address of
/// its field, which the entry holds: no other field can take that address
/// while the entry is there.
struct NullCache {
    zeros: Buffer,
    arrays: std::sync::Mutex<KeptArrays>,
}

/// (column, length) -> the column's field and the array.
type KeptArrays = std::collections::HashMap<(usize, usize), (FieldRef, ArrayRef), KeyHash>;

impl NullCache {
    fn get() -> &'static NullCache {
        static CACHE: std::sync::OnceLock<NullCache> = std::sync::OnceLock::new();
        CACHE.get_or_init(|| NullCache { zeros: Buffer::from_vec(vec![0u64; CACHED_ROWS + 2]), arrays: Default::default() })
    }

    fn lookup(&self, key: (usize, usize)) -> Option<ArrayRef> {
        // A panic elsewhere while holding the lock leaves the map as it was: use it.
        self.arrays.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).get(&key).map(|(_, array)| array.clone())
    }

    fn keep(&self, key: (usize, usize), field: &FieldRef, array: &ArrayRef) {
        let mut arrays = self.arrays.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if arrays.len() >= CACHED_ARRAYS {
            arrays.clear();
        }
        arrays.insert(key, (field.clone(), array.clone()));
    }
}

/// The hash of a (column, length) key: two words mixed, no need to resist
/// collisions made on purpose (the keys come from the plan, not the input).
#[derive(Default, Clone, Copy)]
struct KeyHash;

impl std::hash::BuildHasher for KeyHash {
    type Hasher = KeyHasher;
    fn build_hasher(&self) -> KeyHasher {
        KeyHasher(0)
    }
}

struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u64(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    fn write_usize(&mut self, word: usize) {
        self.write_u64(word as u64);
    }
}

impl Zeros {
    /// For one image.
    pub(crate) fn new() -> Zeros {
        Zeros { buffer: Buffer::from_vec(Vec::<u64>::new()), arrays: None }
    }

    /// For the images of one call, one after the other: the all-null
    /// column arrays longer than the process keeps are shared too.
    pub(crate) fn shared() -> Zeros {
        Zeros { arrays: Some(Default::default()), ..Zeros::new() }
    }

    /// Zeros for `len` values of up to 8 bytes, plus one offset.
    fn get(&mut self, len: usize) -> Buffer {
        if len <= CACHED_ROWS {
            return NullCache::get().zeros.clone();
        }
        let words = len.saturating_add(2);
        if self.buffer.len() / 8 < words {
            self.buffer = Buffer::from_vec(vec![0u64; words]);
        }
        self.buffer.clone()
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
        Leaf { values, nulls: Validity::new(), len: 0, pending: 0, expect: 0 }
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
            Values::Struct { shape, .. } => DataType::Struct(shape.template.iter().map(|c| c.field.clone()).collect::<Fields>()),
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
            Values::Struct { shape, .. } => Values::Struct { shape: shape.clone(), children: Vec::new() },
        };
        Leaf::new(values)
    }

    /// Appends a null.
    #[inline]
    pub(crate) fn push_null(&mut self) {
        self.push_nulls(1);
    }

    /// Appends `n` nulls.
    #[inline]
    fn push_nulls(&mut self, n: usize) {
        self.pending += n;
        self.len += n;
    }

    /// Writes the pending nulls: a value comes (before the children of a
    /// struct row are filled: [`begin_row`](Self::begin_row)).
    #[inline]
    fn materialize(&mut self) {
        if self.pending | self.expect != 0 {
            self.prepare();
        }
    }

    /// Makes room for the expected rows, once; writes the pending nulls.
    #[inline(never)]
    fn prepare(&mut self) {
        let room = std::mem::take(&mut self.expect).saturating_sub(self.len - self.pending);
        if room != 0 {
            match &mut self.values {
                Values::Bool(v) => v.reserve(room),
                Values::I32(v) => v.reserve_exact(room),
                Values::I64(v) => v.reserve_exact(room),
                Values::U16(v) => v.reserve_exact(room),
                Values::U32(v) => v.reserve_exact(room),
                Values::U64(v) => v.reserve_exact(room),
                Values::F32(v) => v.reserve_exact(room),
                Values::F64(v) => v.reserve_exact(room),
                Values::Bytes { offsets, .. } => offsets.reserve_exact(room + 1),
                Values::Enum { keys, .. } => keys.reserve_exact(room),
                Values::Struct { .. } => {}
            }
        }
        if self.pending != 0 {
            self.write_pending();
        }
    }

    /// Says how many rows the column will have in all (see `expect`).
    fn expect_rows(&mut self, rows: usize) {
        self.expect = rows;
    }

    /// Writes the pending nulls in bulk: default values under them (a
    /// struct's children get them as their own pending nulls).
    #[inline(never)]
    fn write_pending(&mut self) {
        let n = std::mem::take(&mut self.pending);
        match &mut self.values {
            Values::Bool(v) => v.append_n(n, false),
            Values::I32(v) => v.resize(v.len() + n, 0),
            Values::I64(v) => v.resize(v.len() + n, 0),
            Values::U16(v) => v.resize(v.len() + n, 0),
            Values::U32(v) => v.resize(v.len() + n, 0),
            Values::U64(v) => v.resize(v.len() + n, 0),
            Values::F32(v) => v.resize(v.len() + n, 0.0),
            Values::F64(v) => v.resize(v.len() + n, 0.0),
            Values::Bytes { offsets, .. } => {
                if offsets.is_empty() {
                    offsets.push(0);
                }
                let last = offsets.last().copied().unwrap_or(0);
                offsets.resize(offsets.len() + n, last);
            }
            Values::Enum { keys, .. } => keys.resize(keys.len() + n, 0),
            Values::Struct { shape, children } => {
                for child in made(shape, children) {
                    child.push_nulls(n);
                }
            }
        }
        self.nulls.append_n_nulls(n);
    }

    /// The rows written (nulls included).
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// To call before the children of a struct row are filled (they are made then).
    pub(crate) fn begin_row(&mut self) {
        self.materialize();
        if let Values::Struct { shape, children } = &mut self.values {
            made(shape, children);
        }
    }

    /// Appends a scalar read from the wire as `raw`, read as the field type `ty`.
    #[inline]
    pub(crate) fn push_scalar(&mut self, ty: FieldType, raw: u64) {
        self.put_scalar(ty, raw, false);
    }

    /// Sets the value of row `row` (the row being filled: the leaf holds
    /// `row` rows, or `row + 1` when a value came already and is replaced,
    /// as protobuf's last value of a singular field wins).
    #[inline]
    fn set_scalar(&mut self, ty: FieldType, raw: u64, row: usize) {
        if self.len > row {
            self.replace_scalar(ty, raw);
        } else {
            self.put_scalar(ty, raw, false);
        }
    }

    #[inline(never)]
    fn replace_scalar(&mut self, ty: FieldType, raw: u64) {
        self.put_scalar(ty, raw, true);
    }

    /// Appends a scalar, or replaces the last value (`replace`, a value and
    /// not a null: the row's earlier value of the same field).
    #[inline(always)]
    fn put_scalar(&mut self, ty: FieldType, raw: u64, replace: bool) {
        if !replace {
            self.materialize();
        }
        macro_rules! put {
            ($v:expr, $x:expr) => {{
                let x = $x;
                match replace {
                    false => $v.push(x),
                    true => {
                        if let Some(last) = $v.last_mut() {
                            *last = x;
                        }
                    }
                }
            }};
        }
        match (&mut self.values, ty) {
            (Values::Bool(v), _) => match replace {
                false => v.append(raw != 0),
                true if !v.is_empty() => v.set_bit(v.len() - 1, raw != 0),
                true => {}
            },
            (Values::I32(v), FieldType::Sint32) => put!(v, wire::unzigzag(u64::from(raw as u32)) as i32),
            (Values::I32(v), _) => put!(v, raw as u32 as i32),
            (Values::I64(v), FieldType::Sint64) => put!(v, wire::unzigzag(raw)),
            (Values::I64(v), _) => put!(v, raw as i64),
            (Values::U16(v), _) => put!(v, raw as u16),
            (Values::U32(v), _) => put!(v, raw as u32),
            (Values::U64(v), _) => put!(v, raw),
            (Values::F32(v), _) => put!(v, f32::from_bits(raw as u32)),
            (Values::F64(v), _) => put!(v, f64::from_bits(raw)),
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
                put!(keys, i32::try_from(key).unwrap_or(i32::MAX));
            }
            // The plan never maps a scalar onto these.
            (Values::Bytes { .. } | Values::Struct { .. }, _) => {
                if !replace {
                    self.push_null();
                }
                return;
            }
        }
        if !replace {
            self.nulls.append_non_null();
            self.len += 1;
        }
    }

    /// Appends bytes (a string, bytes field or payload).
    pub(crate) fn push_bytes(&mut self, bytes: &[u8]) -> Result<(), &'static str> {
        self.put_bytes(bytes, false)
    }

    /// [`set_scalar`](Self::set_scalar) for bytes.
    fn set_bytes(&mut self, bytes: &[u8], row: usize) -> Result<(), &'static str> {
        self.put_bytes(bytes, self.len > row)
    }

    fn put_bytes(&mut self, bytes: &[u8], replace: bool) -> Result<(), &'static str> {
        if !replace {
            self.materialize();
        }
        let Values::Bytes { utf8, json, offsets, data } = &mut self.values else {
            if !replace {
                self.push_null();
            }
            return Ok(());
        };
        if replace {
            // The last value goes: its end offset, and its bytes.
            offsets.pop();
            let start = offsets.last().copied().unwrap_or(0);
            data.truncate(usize::try_from(start).unwrap_or(0));
        }
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
        if !replace {
            self.nulls.append_non_null();
            self.len += 1;
        }
        Ok(())
    }

    /// Closes one row of a struct leaf whose children were filled (after [`begin_row`](Self::begin_row)).
    pub(crate) fn push_struct_row(&mut self) {
        debug_assert_eq!(self.pending, 0, "begin_row first");
        self.nulls.append_non_null();
        self.len += 1;
    }

    /// The array of the values, of type `data_type` (the leaf's own, from its column's field).
    fn finish(mut self, data_type: &DataType, zeros: &mut Zeros) -> Result<ArrayRef, ArrowError> {
        if self.pending == self.len {
            let len = self.len;
            return self.finish_null(data_type, len, zeros);
        }
        self.materialize();
        let nulls = self.nulls.finish();
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
            Values::Struct { shape, mut children } => {
                made(&shape, &mut children);
                struct_array(data_type, children, len, nulls, |c| c.finish_null(len, zeros))?
            }
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

    /// Says how many rows the column will have in all, for a column of one
    /// value a row (a list's values are not counted by rows).
    pub(crate) fn expect_rows(&mut self, rows: usize) {
        if self.list.is_none() {
            self.leaf.expect_rows(rows);
        }
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
        self.push_nulls(1);
    }

    fn push_nulls(&mut self, n: usize) {
        match &mut self.list {
            Some(list) => list.push_nulls(n),
            None => self.leaf.push_nulls(n),
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
    pub(crate) fn finish(mut self, zeros: &mut Zeros) -> Result<ArrayRef, ArrowError> {
        let all_null = match &self.list {
            Some(list) => (list.pending == list.rows).then_some(list.rows),
            None => (self.leaf.pending == self.leaf.len).then_some(self.leaf.len),
        };
        if let Some(rows) = all_null {
            return self.finish_null(rows, zeros);
        }
        if let Some(list) = &mut self.list {
            list.materialize();
        }
        if self.list.is_none() {
            return self.leaf.finish(self.field.data_type(), zeros);
        }
        let item = self.item();
        Ok(match self.list {
            None => self.leaf.finish(self.field.data_type(), zeros)?,
            Some(ListLevel { mut offsets, nulls, .. }) => {
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

    /// `len` null rows of this column, every buffer a view of `zeros`;
    /// made once per process or call for each column and length ([`Zeros`]).
    fn finish_null(self, len: usize, zeros: &mut Zeros) -> Result<ArrayRef, ArrowError> {
        // The plan's field of this column: one allocation per column, alive with the plan.
        let key = (Arc::as_ptr(&self.field) as usize, len);
        if len <= CACHED_ROWS {
            let cache = NullCache::get();
            if let Some(array) = cache.lookup(key) {
                return Ok(array);
            }
            let field = self.field.clone();
            let array = self.make_null(len, zeros)?;
            cache.keep(key, &field, &array);
            return Ok(array);
        }
        if let Some(array) = zeros.arrays.as_ref().and_then(|arrays| arrays.get(&key)) {
            return Ok(array.clone());
        }
        let array = self.make_null(len, zeros)?;
        if let Some(arrays) = &mut zeros.arrays {
            arrays.insert(key, array.clone());
        }
        Ok(array)
    }

    fn make_null(self, len: usize, zeros: &mut Zeros) -> Result<ArrayRef, ArrowError> {
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
        ListLevel { offsets: Vec::new(), nulls: Validity::new(), rows: 0, pending: 0 }
    }

    fn push_null(&mut self) {
        self.push_nulls(1);
    }

    #[inline]
    fn push_nulls(&mut self, n: usize) {
        self.pending += n;
        self.rows += n;
    }

    /// Writes the pending null rows (empty lists: the last offset again).
    fn materialize(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        if pending == 0 {
            return;
        }
        if self.offsets.is_empty() {
            self.offsets.push(0);
        }
        let last = self.offsets.last().copied().unwrap_or(0);
        self.offsets.resize(self.offsets.len() + pending, last);
        self.nulls.append_n_nulls(pending);
    }
}

/// A singular message field of the message being decoded, decoded once
/// the other fields are in (several occurrences merge).
#[derive(Clone, Copy)]
struct Deferred<'a> {
    column: usize,
    /// Its first occurrence.
    first: &'a [u8],
    /// Given several times: the parts are gathered again at the end (rare).
    parts: bool,
}

/// Width of a fixed-size wire value for `ty`, `None` for varints.
fn fixed_width(ty: FieldType) -> Option<usize> {
    match ty {
        FieldType::Fixed32 | FieldType::Sfixed32 | FieldType::Float => Some(4),
        FieldType::Fixed64 | FieldType::Sfixed64 | FieldType::Double => Some(8),
        _ => None,
    }
}

/// Whether a scalar of type `ty` is read from a varint.
#[inline]
fn reads_varint(ty: FieldType) -> bool {
    !matches!(ty, FieldType::Message(_) | FieldType::String | FieldType::Bytes) && fixed_width(ty).is_none()
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

/// Decodes one message (`bytes`, found at file offset `origin`) into row
/// `row` of each of `children` (each holds `row` rows), through `mapping`.
/// Errors carry the file offset.
///
/// Singular scalars and strings are written in place as they come (a
/// later occurrence replaces the row's value: the last one wins), repeated
/// values appended, singular messages decoded at the end (their parts
/// merge); then every column without a value gets a null.
pub(crate) fn decode_fields(mapping: &Mapping, children: &mut [Col], bytes: &[u8], origin: usize, row: usize) -> Result<(), Failure> {
    if mapping.flat && !tests::general_only() {
        return decode_flat(mapping, children, bytes, origin, row);
    }
    let fail = |offset: usize, what: &'static str| WireError { offset: origin.saturating_add(offset), what };
    let mut messages: SmallVec<[Deferred<'_>; 4]> = SmallVec::new();
    // wire::Fields, with the key looked up before the value is read: most
    // fields are varints of scalar fields, stored without a `WireValue`.
    let mut pos = 0;
    while pos < bytes.len() {
        let key_at = pos;
        let key = wire::read_key(bytes, &mut pos).map_err(|e| fail(e.offset, e.what))?;
        let mapped = mapping.get(key.number);
        if key.wire_type == 0 {
            let raw = wire::read_varint(bytes, &mut pos).map_err(|e| fail(e.offset, e.what))?;
            // Unknown to the schema (crit drops these too), or a varint
            // where the field's type reads none (protobuf ignores it).
            let Some(m) = mapped.filter(|m| reads_varint(m.ty)) else { continue };
            let Some(col) = children.get_mut(m.column) else { continue };
            if m.repeated {
                col.leaf.push_scalar(m.ty, raw);
            } else if col.list.is_none() {
                col.leaf.set_scalar(m.ty, raw, row);
            }
            continue;
        }
        let value = wire::read_value(bytes, &mut pos, key, key_at).map_err(|e| fail(e.offset, e.what))?;
        let Some(m) = mapped else {
            continue; // unknown to the schema: crit drops these too
        };
        let Some(col) = children.get_mut(m.column) else { continue };
        match (m.ty, value) {
            (FieldType::Message(_), WireValue::Bytes(part)) if m.repeated => {
                decode_message_into(&mut col.leaf, part, origin + shift(bytes, part))?;
            }
            (FieldType::Message(_), WireValue::Bytes(part)) => match messages.iter_mut().find(|d| d.column == m.column) {
                Some(earlier) => earlier.parts = true,
                None => messages.push(Deferred { column: m.column, first: part, parts: false }),
            },
            (FieldType::String | FieldType::Bytes, WireValue::Bytes(part)) if m.repeated => {
                col.leaf.push_bytes(part).map_err(|what| fail(shift(bytes, part), what))?;
            }
            (FieldType::String | FieldType::Bytes, WireValue::Bytes(part)) if col.list.is_none() => {
                col.leaf.set_bytes(part, row).map_err(|what| fail(shift(bytes, part), what))?;
            }
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
                } else if col.list.is_none() {
                    col.leaf.set_scalar(ty, raw, row);
                }
            }
        }
    }
    for d in &messages {
        let Some(col) = children.get_mut(d.column) else { continue };
        if !d.parts {
            decode_message_into(&mut col.leaf, d.first, origin + shift(bytes, d.first))?;
            continue;
        }
        // Several occurrences of a singular message merge into one
        // (their bytes concatenated); errors point at the first.
        let mut merged = Vec::new();
        for field in wire::Fields::new(bytes) {
            let Ok((number, WireValue::Bytes(part))) = field else { continue };
            if mapping.get(number).is_some_and(|m| m.column == d.column) {
                merged.extend_from_slice(part);
            }
        }
        decode_message_into(&mut col.leaf, &merged, origin + shift(bytes, d.first))?;
    }
    close_row(children, row).map_err(|what| fail(bytes.len(), what))
}

/// One row of every child: the lists close, the absent values are null.
#[inline]
fn close_row(children: &mut [Col], row: usize) -> Result<(), &'static str> {
    for col in children.iter_mut() {
        if col.list.is_some() {
            col.close_list()?;
        } else if col.leaf.len == row {
            col.leaf.push_null();
        }
    }
    Ok(())
}

/// [`decode_fields`] for a message whose fields are all singular scalars
/// read from varints (most entry messages: pagemap runs, VMAs, fds, ...):
/// the same values and errors (the test below compares the two), without
/// the branches for strings, messages and lists.
fn decode_flat(mapping: &Mapping, children: &mut [Col], bytes: &[u8], origin: usize, row: usize) -> Result<(), Failure> {
    let fail = |e: WireError| WireError { offset: origin.saturating_add(e.offset), what: e.what };
    let mut pos = 0;
    while let Some(&first) = bytes.get(pos) {
        // A one-byte key of a field of the message: its varint, stored.
        if let Some(m) =
            mapping.by_key.get(usize::from(first)).filter(|&&i| i != Mapping::NONE).and_then(|&i| mapping.fields.get(usize::from(i)))
        {
            pos += 1;
            let raw = wire::read_varint(bytes, &mut pos).map_err(fail)?;
            if let Some(col) = children.get_mut(m.column).filter(|col| col.list.is_none()) {
                col.leaf.set_scalar(m.ty, raw, row);
            }
            continue;
        }
        let key_at = pos;
        let key = wire::read_key(bytes, &mut pos).map_err(fail)?;
        if key.wire_type != 0 {
            // No field of the message reads it (protobuf ignores it); it
            // must still be whole for the fields after it to be found.
            wire::read_value(bytes, &mut pos, key, key_at).map_err(fail)?;
            continue;
        }
        let raw = wire::read_varint(bytes, &mut pos).map_err(fail)?;
        let Some(m) = mapping.get(key.number) else { continue };
        if let Some(col) = children.get_mut(m.column).filter(|col| col.list.is_none()) {
            col.leaf.set_scalar(m.ty, raw, row);
        }
    }
    close_row(children, row).map_err(|what| WireError { offset: origin.saturating_add(bytes.len()), what })
}

/// Appends one message as a row of a struct leaf (or as JSON text when
/// the plan cut a recursive message there).
fn decode_message_into(leaf: &mut Leaf, bytes: &[u8], origin: usize) -> Result<(), Failure> {
    match &mut leaf.values {
        Values::Struct { .. } => {
            leaf.begin_row();
            let row = leaf.len;
            let Values::Struct { shape, children } = &mut leaf.values else { return Ok(()) };
            decode_fields(&shape.mapping, children, bytes, origin, row)?;
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

#[cfg(not(test))]
mod tests {
    /// Always false outside tests.
    #[inline(always)]
    pub(super) fn general_only() -> bool {
        false
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::cell::Cell;

    thread_local! {
        static GENERAL_ONLY: Cell<bool> = const { Cell::new(false) };
    }

    /// Whether this thread decodes flat messages the general way too (to compare the two).
    pub(super) fn general_only() -> bool {
        GENERAL_ONLY.get()
    }

    /// Runs `work` with every message decoded by `decode_fields`' general loop.
    pub(crate) fn without_flat_decoder<T>(work: impl FnOnce() -> T) -> T {
        GENERAL_ONLY.set(true);
        let out = work();
        GENERAL_ONLY.set(false);
        out
    }

    #[test]
    fn flat_messages_are_found() {
        // What decode_flat is for: pagemap runs (and not a message with strings).
        let flat = |id: crate::proto::MessageId| {
            let mapping = super::Mapping::new(
                id.schema()
                    .fields
                    .iter()
                    .enumerate()
                    .map(|(column, f)| super::Mapped { number: f.number, ty: f.ty, repeated: f.repeated, column })
                    .collect(),
            );
            mapping.flat
        };
        use crate::proto::message_ids as m;
        assert!(flat(m::PAGEMAP_ENTRY) && flat(m::VMA_ENTRY));
        assert!(!flat(m::REG_FILE_ENTRY) && !flat(m::CORE_ENTRY));
    }
}
