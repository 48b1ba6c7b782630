//! `criu_images.Table`: record batches of the crate's tables (or any other
//! arrow-rs batches) handed to Python through the Arrow PyCapsule interface
//! (`__arrow_c_stream__`, `__arrow_c_schema__`), so that pyarrow, Polars and
//! DuckDB take them without a copy and without needing each other.
//!
//! The one constructor is [`ArrowTable::new`]; the rest is Python methods.

use std::ffi::CString;

use arrow_array::ffi_stream::FFI_ArrowArrayStream;
use arrow_array::{RecordBatch, RecordBatchIterator};
use arrow_schema::ffi::FFI_ArrowSchema;
use arrow_schema::SchemaRef;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyCapsule, PyDict};

/// A table: an Arrow schema and its record batches. Read it with
/// `pyarrow.table(t)`, `polars.DataFrame(t)`, `duckdb.sql("... from t")`
/// (the Arrow PyCapsule stream interface), or `to_arrow()`, `to_pandas()`,
/// `to_polars()`.
#[pyclass(frozen, name = "Table", module = "criu_images")]
pub struct ArrowTable {
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
}

impl ArrowTable {
    /// A table of `batches`, each of schema `schema`.
    pub fn new(schema: SchemaRef, batches: Vec<RecordBatch>) -> ArrowTable {
        ArrowTable { schema, batches }
    }
}

#[pymethods]
impl ArrowTable {
    /// The table as an `ArrowArrayStream` PyCapsule (the Arrow PyCapsule
    /// interface). `requested_schema` is accepted and ignored: the columns
    /// come with their own types.
    #[pyo3(signature = (requested_schema = None))]
    fn __arrow_c_stream__<'py>(&self, py: Python<'py>, requested_schema: Option<&Bound<'py, PyAny>>) -> PyResult<Bound<'py, PyCapsule>> {
        let _ = requested_schema;
        let reader = RecordBatchIterator::new(self.batches.clone().into_iter().map(Ok), self.schema.clone());
        let stream = FFI_ArrowArrayStream::new(Box::new(reader));
        PyCapsule::new(py, stream, Some(CString::from(c"arrow_array_stream")))
    }

    /// The schema as an `ArrowSchema` PyCapsule.
    fn __arrow_c_schema__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyCapsule>> {
        let schema = FFI_ArrowSchema::try_from(self.schema.as_ref()).map_err(|e| PyValueError::new_err(e.to_string()))?;
        PyCapsule::new(py, schema, Some(CString::from(c"arrow_schema")))
    }

    /// Column names and their Arrow types, as text (`{"pid": "UInt32", ...}`).
    #[getter]
    fn schema<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let out = PyDict::new(py);
        for field in self.schema.fields() {
            out.set_item(field.name(), field.data_type().to_string())?;
        }
        Ok(out)
    }

    /// Rows over all batches.
    #[getter]
    fn num_rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }

    fn __len__(&self) -> usize {
        self.num_rows()
    }

    /// A `pyarrow.Table` (needs pyarrow).
    fn to_arrow<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        slf.py().import("criu_images._tables")?.getattr("to_arrow")?.call1((slf, "Table.to_arrow()"))
    }

    /// A `pandas.DataFrame` with nullable dtypes (needs pandas and pyarrow).
    fn to_pandas<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        slf.py().import("criu_images._tables")?.getattr("to_pandas")?.call1((slf, "Table.to_pandas()"))
    }

    /// A `polars.DataFrame` (needs polars, not pyarrow).
    fn to_polars<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        slf.py().import("criu_images._tables")?.getattr("to_polars")?.call1((slf,))
    }

    fn __repr__(&self) -> String {
        let names: Vec<&str> = self.schema.fields().iter().map(|f| f.name().as_str()).collect();
        let shown = if names.len() > 8 { format!("{}, ...", names[..8].join(", ")) } else { names.join(", ") };
        format!("<Table {} rows × {} columns: {shown}>", self.num_rows(), names.len())
    }

    /// The columns and their types as an HTML table, for notebooks.
    fn _repr_html_(&self) -> String {
        let escape = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
        let columns: Vec<String> = self
            .schema
            .fields()
            .iter()
            .map(|f| format!("<tr><td>{}</td><td>{}</td></tr>", escape(f.name()), escape(&f.data_type().to_string())))
            .collect();
        format!(
            "<div class=\"criu-images-table\"><p>Table: {} rows × {} columns</p><table><tr><th>column</th><th>type</th></tr>{}</table></div>",
            self.num_rows(),
            self.schema.fields().len(),
            columns.join("")
        )
    }
}
