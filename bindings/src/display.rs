//! Notebook faces, written in Python (`criu_images/_display.py`): the HTML
//! tables and the `SearchResults` list. The bindings only call them.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyList;

const MODULE: &str = "criu_images._display";

/// `_display.<function>(object)`: the HTML of a notebook cell.
pub(crate) fn html(py: Python<'_>, function: &str, object: &Bound<'_, PyAny>) -> PyResult<String> {
    py.import(MODULE)?.getattr(function)?.call1((object,))?.extract()
}

/// `_display.<function>(object)`: a Python object built from `object`.
pub(crate) fn call<'py>(py: Python<'py>, function: &str, object: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    py.import(MODULE)?.getattr(function)?.call1((object,))
}

static SEARCH_RESULTS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// A `SearchResults` list holding `items`, found in checkpoint `id`.
pub(crate) fn search_results<'py>(py: Python<'py>, items: Bound<'py, PyList>, id: &str) -> PyResult<Bound<'py, PyAny>> {
    SEARCH_RESULTS.import(py, MODULE, "SearchResults")?.call1((items, id))
}
