//! `criu_images.Table`: record batches handed to Python through the Arrow
//! PyCapsule interface (`__arrow_c_stream__`), so pyarrow, Polars and
//! DuckDB read them without a copy and without pyarrow being required.

use std::ffi::CString;

use arrow_array::ffi_stream::FFI_ArrowArrayStream;
use arrow_array::{RecordBatch, RecordBatchIterator};
use arrow_schema::SchemaRef;
use pyo3::prelude::*;
use pyo3::types::PyCapsule;

/// A table: an Arrow schema and its record batches.
#[pyclass(frozen, name = "Table", module = "criu_images")]
pub struct ArrowTable {
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
}

impl ArrowTable {
    /// A table of `batches`, each of `schema`.
    pub fn new(schema: SchemaRef, batches: Vec<RecordBatch>) -> ArrowTable {
        ArrowTable { schema, batches }
    }
}

#[pymethods]
impl ArrowTable {
    /// The Arrow C stream of the batches, as a PyCapsule named
    /// `arrow_array_stream` (the Arrow PyCapsule interface).
    #[pyo3(signature = (requested_schema = None))]
    fn __arrow_c_stream__<'py>(&self, py: Python<'py>, requested_schema: Option<Bound<'py, PyAny>>) -> PyResult<Bound<'py, PyCapsule>> {
        // The schema is fixed by the image kind: a requested one is a hint
        // the interface lets producers ignore.
        let _ = requested_schema;
        let reader = RecordBatchIterator::new(self.batches.clone().into_iter().map(Ok), self.schema.clone());
        let stream = FFI_ArrowArrayStream::new(Box::new(reader));
        // The consumer moves the stream out; a capsule never consumed
        // releases it when dropped (FFI_ArrowArrayStream's Drop).
        PyCapsule::new(py, stream, Some(CString::from(c"arrow_array_stream")))
    }

    /// The table as a `pyarrow.Table`.
    fn to_arrow<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        slf.py().import("pyarrow")?.call_method1("table", (slf,))
    }
}
