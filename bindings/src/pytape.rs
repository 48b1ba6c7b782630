//! Decoded images straight into Python objects: the crate's
//! [`Tape`](criu_images::json::tape::Tape) of crit's JSON values (made
//! without the GIL) becomes dicts, lists, str, int, float and bool, equal
//! to what `json.loads` makes of the JSON text, with no text in between.
//! Keys and names (enum values, the magic) are `&'static str`s of the
//! schema: each becomes one shared Python str per builder.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use pyo3::exceptions::PyValueError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyModule, PyString};

use criu_images::json::tape::{Event, Tape};

/// Makes Python objects from tapes; keeps the strings of keys and names
/// for the tapes that follow (build many tapes with one builder, or hand
/// its [`Strings`] to the next one).
pub(crate) struct Builder<'py> {
    py: Python<'py>,
    strings: Strings,
}

/// The Python strs of keys and names made so far, by `&'static str`.
pub(crate) type Strings = HashMap<(usize, usize), Py<PyString>, BuildHasherDefault<AddressHasher>>;

/// Hashes a `&'static str` by its address and length: the same key is
/// the same address (the schema tables are statics), and a few distinct
/// addresses may name equal strings, which only costs a duplicate str.
/// (The length matters: the compiler may let a string start where another
/// one does.)
#[derive(Default)]
pub(crate) struct AddressHasher(u64);

impl Hasher for AddressHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Not used for (address, length) keys; correct all the same.
        for &byte in bytes {
            self.write_usize(byte.into());
        }
    }
    fn write_usize(&mut self, word: usize) {
        // Fibonacci hashing spreads the (clustered) addresses.
        self.0 = (self.0.rotate_left(26) ^ word as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

impl<'py> Builder<'py> {
    pub(crate) fn new(py: Python<'py>) -> Self {
        Builder::with_strings(py, Strings::default())
    }

    /// A builder that starts with the strs an earlier one made.
    pub(crate) fn with_strings(py: Python<'py>, strings: Strings) -> Self {
        Builder { py, strings }
    }

    /// The strs made, for the next builder.
    pub(crate) fn into_strings(self) -> Strings {
        self.strings
    }

    /// The value the tape holds (one document: an image or an entry).
    pub(crate) fn build(&mut self, tape: &Tape) -> PyResult<Bound<'py, PyAny>> {
        let mut events = tape.events();
        let first = events.next();
        let value = self.value(first, &mut events)?;
        match events.next() {
            None => Ok(value),
            Some(event) => Err(malformed(Some(event))),
        }
    }

    fn value<'t>(&mut self, event: Option<Event<'t>>, events: &mut impl Iterator<Item = Event<'t>>) -> PyResult<Bound<'py, PyAny>> {
        let py = self.py;
        Ok(match event {
            Some(Event::BeginObject) => {
                let dict = PyDict::new(py);
                loop {
                    match events.next() {
                        Some(Event::Key(key)) => {
                            let key = self.static_str(key).as_ptr();
                            let next = events.next();
                            let value = self.value(next, events)?;
                            // SAFETY: the three are live objects: the key is
                            // held by the cache, which only grows. The dict
                            // takes references of its own.
                            if unsafe { ffi::PyDict_SetItem(dict.as_ptr(), key, value.as_ptr()) } < 0 {
                                return Err(PyErr::fetch(py));
                            }
                        }
                        Some(Event::EndObject) => break,
                        other => return Err(malformed(other)),
                    }
                }
                dict.into_any()
            }
            Some(Event::BeginArray) => {
                let mut items = Vec::new();
                loop {
                    match events.next() {
                        Some(Event::EndArray) => break,
                        other => items.push(self.value(other, events)?),
                    }
                }
                PyList::new(py, items)?.into_any()
            }
            Some(Event::UInt(v)) => PyInt::new(py, v).into_any(),
            Some(Event::Int(v)) => PyInt::new(py, v).into_any(),
            Some(Event::Float(v)) => PyFloat::new(py, v).into_any(),
            Some(Event::Bool(v)) => PyBool::new(py, v).to_owned().into_any(),
            Some(Event::Name(name)) => self.static_str(name).clone().into_any(),
            Some(Event::Str(bytes)) => string(py, bytes)?.into_any(),
            other => return Err(malformed(other)),
        })
    }

    fn static_str(&mut self, text: &'static str) -> &Bound<'py, PyString> {
        let py = self.py;
        self.strings.entry((text.as_ptr() as usize, text.len())).or_insert_with(|| PyString::new(py, text).unbind()).bind(py)
    }
}

/// Python's cyclic garbage collector, off while it lives (when it was on).
/// Building runs the collector over and over for nothing: every few
/// hundred new dicts and lists trigger a pass, and what a tape builds has
/// no cycles. Turned back on when dropped, errors and panics included.
pub(crate) struct GcPaused<'py> {
    gc: Option<Bound<'py, PyModule>>,
}

impl<'py> GcPaused<'py> {
    pub(crate) fn new(py: Python<'py>) -> PyResult<Self> {
        let gc = py.import("gc")?;
        if !gc.call_method0("isenabled")?.is_truthy()? {
            return Ok(GcPaused { gc: None });
        }
        gc.call_method0("disable")?;
        Ok(GcPaused { gc: Some(gc) })
    }
}

impl Drop for GcPaused<'_> {
    fn drop(&mut self) {
        if let Some(gc) = &self.gc {
            if let Err(err) = gc.call_method0("enable") {
                err.write_unraisable(gc.py(), None);
            }
        }
    }
}

/// A str of image bytes: UTF-8 as it is, any other byte as the lone
/// surrogate U+DC80..U+DCFF (`surrogateescape`), as `json.loads` reads
/// crit's `\udcXX` escapes.
fn string<'py>(py: Python<'py>, bytes: &[u8]) -> PyResult<Bound<'py, PyString>> {
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Ok(PyString::new(py, text));
    }
    let len = ffi::Py_ssize_t::try_from(bytes.len()).map_err(|_| PyValueError::new_err("string too long"))?;
    // SAFETY: the pointer and length describe `bytes`, alive for the call;
    // the error handler name is a NUL-terminated static.
    unsafe {
        let made = ffi::PyUnicode_DecodeUTF8(bytes.as_ptr().cast(), len, c"surrogateescape".as_ptr());
        Ok(Bound::from_owned_ptr_or_err(py, made)?.cast_into_unchecked())
    }
}

/// A tape the renderer did not make (an internal error, never the input's).
fn malformed(event: Option<Event<'_>>) -> PyErr {
    crate::errors::CriuImagesError::new_err(format!("internal error in criu-images: unexpected {event:?} in a decoded tape"))
}
