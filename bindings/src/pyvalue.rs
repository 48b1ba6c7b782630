//! The crate's JSON values (`serde_json::Value`: the records of
//! `inspect --format json`) as the Python objects `json.loads` would make
//! of their text (dict, list, str, int, float, bool, None), built from the
//! values themselves: no text in between. Object keys repeat from record
//! to record, so each distinct key becomes one str per call, shared.

use std::collections::HashMap;

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString};
use serde_json::Value;

/// `json.loads(value.to_string())`, without the text.
pub(crate) fn to_py<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    Builder { py, keys: HashMap::new() }.value(value)
}

struct Builder<'py, 'v> {
    py: Python<'py>,
    keys: HashMap<&'v str, Bound<'py, PyString>>,
}

impl<'py, 'v> Builder<'py, 'v> {
    fn value(&mut self, value: &'v Value) -> PyResult<Bound<'py, PyAny>> {
        let py = self.py;
        Ok(match value {
            Value::Null => py.None().into_bound(py),
            Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
            Value::Number(n) => {
                if let Some(u) = n.as_u64() {
                    PyInt::new(py, u).into_any()
                } else if let Some(i) = n.as_i64() {
                    PyInt::new(py, i).into_any()
                } else {
                    // Neither u64 nor i64: serde_json holds an f64.
                    PyFloat::new(py, n.as_f64().unwrap_or(f64::NAN)).into_any()
                }
            }
            Value::String(text) => PyString::new(py, text).into_any(),
            Value::Array(items) => {
                let list = PyList::empty(py);
                for item in items {
                    list.append(self.value(item)?)?;
                }
                list.into_any()
            }
            Value::Object(map) => {
                let dict = PyDict::new(py);
                for (key, item) in map {
                    let key = self.keys.entry(key.as_str()).or_insert_with(|| PyString::new(py, key)).clone();
                    dict.set_item(key, self.value(item)?)?;
                }
                dict.into_any()
            }
        })
    }
}
