//! The crate's JSON text straight into Python objects (dict, list, str,
//! int, float, bool, None), as `json.loads` gives them, without scanning
//! the text in Python: serde_json reads it and a visitor makes each object
//! once. Object keys repeat from entry to entry, so each distinct key is
//! made once per call and shared.

use std::collections::HashMap;
use std::fmt;

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyFloat, PyInt, PyList, PyString};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// `json.loads(text)`. Text serde_json refuses (the lone surrogates that
/// stand for non-UTF-8 bytes, in crit's convention) goes to `json.loads`,
/// which accepts them.
pub(crate) fn loads<'py>(py: Python<'py>, text: &str) -> PyResult<Bound<'py, PyAny>> {
    let mut keys = HashMap::new();
    let mut de = serde_json::Deserializer::from_str(text);
    let built = Seed { py, keys: &mut keys }.deserialize(&mut de).and_then(|v| de.end().map(|_| v));
    match built {
        Ok(value) => Ok(value),
        Err(_) => json_loads(py, text),
    }
}

static JSON_LOADS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

fn json_loads<'py>(py: Python<'py>, text: &str) -> PyResult<Bound<'py, PyAny>> {
    JSON_LOADS.import(py, "json", "loads")?.call1((text,))
}

struct Seed<'a, 'py> {
    py: Python<'py>,
    keys: &'a mut HashMap<String, Bound<'py, PyString>>,
}

/// A Python error carried through serde (the text is then read by json.loads,
/// which raises it again if it is not about the text).
fn py_err<E: de::Error>(err: PyErr) -> E {
    E::custom(err)
}

impl<'de, 'py> DeserializeSeed<'de> for Seed<'_, 'py> {
    type Value = Bound<'py, PyAny>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de, 'py> Visitor<'de> for Seed<'_, 'py> {
    type Value = Bound<'py, PyAny>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JSON")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(self.py.None().into_bound(self.py))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(pyo3::types::PyBool::new(self.py, v).to_owned().into_any())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(PyInt::new(self.py, v).into_any())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(PyInt::new(self.py, v).into_any())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(PyFloat::new(self.py, v).into_any())
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(PyString::new(self.py, v).into_any())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let list = PyList::empty(self.py);
        while let Some(item) = seq.next_element_seed(Seed { py: self.py, keys: &mut *self.keys })? {
            list.append(item).map_err(py_err)?;
        }
        Ok(list.into_any())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let dict = PyDict::new(self.py);
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            let key = match self.keys.get(key.as_ref()) {
                Some(k) => k.clone(),
                None => {
                    let made = PyString::new(self.py, &key);
                    self.keys.insert(key.into_owned(), made.clone());
                    made
                }
            };
            let value = map.next_value_seed(Seed { py: self.py, keys: &mut *self.keys })?;
            dict.set_item(key, value).map_err(py_err)?;
        }
        Ok(dict.into_any())
    }
}
