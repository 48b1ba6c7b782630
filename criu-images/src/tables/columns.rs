//! The column builder every table uses: typed columns appended one by one,
//! with their Arrow field declared next to the values, so that a table's
//! schema is written once and does not depend on the data (an empty batch
//! has the same schema as a full one).

use std::sync::Arc;

use arrow_array::builder::{LargeListBuilder, LargeStringBuilder, MapBuilder, UInt64Builder};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Int64Array, LargeBinaryArray, LargeStringArray, RecordBatch, StringArray, UInt32Array, UInt64Array,
};
use arrow_schema::{DataType, Field, Schema};

use crate::error::{Error, Location, Result};

/// The columns of one batch, in order.
pub(crate) struct Columns {
    rows: usize,
    fields: Vec<Field>,
    arrays: Vec<ArrayRef>,
}

/// A large list field of `item` (nullable items, Arrow's default).
pub(crate) fn list_of(name: &str, item: DataType) -> Field {
    Field::new_large_list(name, Field::new_list_field(item, true), false)
}

/// A map field with Utf8 keys and nullable `value` values (the layout
/// `MapBuilder` writes: `entries`, `key`, `value`).
pub(crate) fn map_of(name: &str, value: DataType) -> Field {
    Field::new_map(name, "entries", Field::new("key", DataType::LargeUtf8, false), Field::new("value", value, true), false, false)
}

impl Columns {
    /// A batch of `rows` rows whose first column is `checkpoint` (every row `id`).
    pub(crate) fn new(id: &str, rows: usize) -> Columns {
        // A Utf8 column holds at most i32::MAX bytes: an id too long for
        // the batch repeats no id (finish() then fails on the short column).
        let fits = id.len().checked_mul(rows).is_some_and(|n| n <= i32::MAX as usize);
        let array = StringArray::from_iter_values(std::iter::repeat_n(id, if fits { rows } else { 0 }));
        let mut columns = Columns { rows, fields: Vec::new(), arrays: Vec::new() };
        columns.push(Field::new("checkpoint", DataType::Utf8, false), Arc::new(array));
        columns
    }

    /// A batch whose `checkpoint` column holds `ids`, one per row.
    pub(crate) fn per_row<'i>(ids: impl IntoIterator<Item = &'i str>) -> Columns {
        let array: StringArray = ids.into_iter().map(Some).collect();
        let mut columns = Columns { rows: array.len(), fields: Vec::new(), arrays: Vec::new() };
        columns.push(Field::new("checkpoint", DataType::Utf8, false), Arc::new(array));
        columns
    }

    fn push(&mut self, field: Field, array: ArrayRef) {
        self.fields.push(field);
        self.arrays.push(array);
    }

    pub(crate) fn u32(&mut self, name: &str, nullable: bool, values: impl IntoIterator<Item = Option<u32>>) {
        self.push(Field::new(name, DataType::UInt32, nullable), Arc::new(values.into_iter().collect::<UInt32Array>()));
    }

    pub(crate) fn u64(&mut self, name: &str, nullable: bool, values: impl IntoIterator<Item = Option<u64>>) {
        self.push(Field::new(name, DataType::UInt64, nullable), Arc::new(values.into_iter().collect::<UInt64Array>()));
    }

    pub(crate) fn i64(&mut self, name: &str, nullable: bool, values: impl IntoIterator<Item = Option<i64>>) {
        self.push(Field::new(name, DataType::Int64, nullable), Arc::new(values.into_iter().collect::<Int64Array>()));
    }

    pub(crate) fn bool(&mut self, name: &str, nullable: bool, values: impl IntoIterator<Item = Option<bool>>) {
        self.push(Field::new(name, DataType::Boolean, nullable), Arc::new(values.into_iter().collect::<BooleanArray>()));
    }

    pub(crate) fn str<S: AsRef<str>>(&mut self, name: &str, nullable: bool, values: impl IntoIterator<Item = Option<S>>) {
        self.push(Field::new(name, DataType::LargeUtf8, nullable), Arc::new(values.into_iter().collect::<LargeStringArray>()));
    }

    pub(crate) fn binary<'v>(&mut self, name: &str, values: impl IntoIterator<Item = &'v [u8]>) {
        let array: LargeBinaryArray = values.into_iter().map(Some).collect();
        self.push(Field::new(name, DataType::LargeBinary, false), Arc::new(array));
    }

    /// A list of strings per row (never null; empty lists for none).
    pub(crate) fn str_list<S: AsRef<str>, R: IntoIterator<Item = S>>(&mut self, name: &str, rows: impl IntoIterator<Item = R>) {
        let mut builder = LargeListBuilder::new(LargeStringBuilder::new());
        for row in rows {
            for item in row {
                builder.values().append_value(item);
            }
            builder.append(true);
        }
        self.push(list_of(name, DataType::LargeUtf8), Arc::new(builder.finish()));
    }

    /// A map of strings to strings per row (never null), entries in order.
    pub(crate) fn str_map<K: AsRef<str>, V: AsRef<str>, R: IntoIterator<Item = (K, V)>>(
        &mut self,
        name: &str,
        rows: impl IntoIterator<Item = R>,
    ) -> Result<()> {
        let mut builder = MapBuilder::new(None, LargeStringBuilder::new(), LargeStringBuilder::new());
        for row in rows {
            for (key, value) in row {
                builder.keys().append_value(key);
                builder.values().append_value(value);
            }
            // Keys and values were appended in pairs: the lengths agree.
            builder.append(true).map_err(|e| self.arrow(e))?;
        }
        self.push(map_of(name, DataType::LargeUtf8), Arc::new(builder.finish()));
        Ok(())
    }

    /// A map of strings to unsigned 64-bit integers per row (never null).
    pub(crate) fn u64_map<K: AsRef<str>, R: IntoIterator<Item = (K, u64)>>(
        &mut self,
        name: &str,
        rows: impl IntoIterator<Item = R>,
    ) -> Result<()> {
        let mut builder = MapBuilder::new(None, LargeStringBuilder::new(), UInt64Builder::new());
        for row in rows {
            for (key, value) in row {
                builder.keys().append_value(key);
                builder.values().append_value(value);
            }
            builder.append(true).map_err(|e| self.arrow(e))?;
        }
        self.push(map_of(name, DataType::UInt64), Arc::new(builder.finish()));
        Ok(())
    }

    fn arrow(&self, error: arrow_schema::ArrowError) -> Error {
        Error::Malformed { at: Location::new("<table>", 0), detail: format!("building an Arrow column: {error}") }
    }

    /// The batch; its schema is the fields as declared.
    pub(crate) fn finish(self) -> Result<RecordBatch> {
        let rows = self.rows;
        let schema = Arc::new(Schema::new(self.fields));
        if let Some(bad) = self.arrays.iter().position(|a| a.len() != rows) {
            return Err(Error::Malformed {
                at: Location::new("<table>", 0),
                detail: format!("column {} has {} rows, not {rows}", schema.field(bad).name(), self.arrays[bad].len()),
            });
        }
        RecordBatch::try_new(schema, self.arrays)
            .map_err(|e| Error::Malformed { at: Location::new("<table>", 0), detail: format!("building an Arrow batch: {e}") })
    }
}
