//! What the renderer writes decoded values into: JSON text
//! ([`super::writer::JsonWriter`]) or a [`super::tape::Tape`] of values
//! for building another language's objects without text in between. The
//! renderer (`decode.rs`) is written once against this trait, so both
//! forms hold the same values by construction.

/// Receives crit's JSON values in document order. Object members are a
/// key call followed by one value (a scalar call or a whole container).
pub(crate) trait Sink {
    /// A position to come back to with [`Sink::rollback`].
    type Mark: Copy;
    fn mark(&self) -> Self::Mark;
    /// Forgets everything written since `mark`.
    fn rollback(&mut self, mark: Self::Mark);

    fn begin_object(&mut self);
    fn end_object(&mut self);
    fn begin_array(&mut self);
    fn end_array(&mut self);

    /// The key of a schema field (its name, with the quoted form ready).
    fn field_key(&mut self, field: &'static crate::proto::FieldSchema);
    /// Any other key (`magic`, `entries`, `extra`, ...).
    fn key(&mut self, key: &'static str);

    fn u64(&mut self, value: u64);
    fn i64(&mut self, value: i64);
    fn f64(&mut self, value: f64);
    fn bool(&mut self, value: bool);
    /// `"0x1f"` (and `"-0x5"`), crit's pretty hex.
    fn hex_string(&mut self, value: i128);
    /// A string; bytes that are not UTF-8 stand for themselves (JSON text
    /// escapes them as lone surrogates `\udc80`..`\udcff`).
    fn string(&mut self, value: &[u8]);
    /// A name from the schema or crit's tables (enum values, dict names).
    fn name(&mut self, value: &'static str);
    /// A string of printable ASCII without `"` or `\\` that `text`
    /// appends to the buffer it is given (flag lists, devices, IP addresses).
    fn ascii_string_with(&mut self, text: impl FnOnce(&mut Vec<u8>));
}
