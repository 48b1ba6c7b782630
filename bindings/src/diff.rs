//! `Checkpoint.diff()`: the crate's `Diff`, its parts as lists of dicts
//! and as Arrow / pandas tables, and the text tree as its HTML repr.

use std::sync::Arc;

use pyo3::exceptions::{PyIndexError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyList;
use serde_json::Value;

use criu_images::diff::{Diff as DiffData, DiffOptions};

use crate::arrow_stream::ArrowTable;

/// The parts of a diff, in the order of `criu-images diff --format json`.
pub(crate) const PARTS: [&str; 7] = ["metadata", "processes", "files", "sockets", "areas", "pages", "rootfs"];

/// Compares `old` with `new` with the GIL released; `progress` counts the
/// bytes of pages compared.
pub(crate) fn compute(
    py: Python<'_>,
    old: Arc<criu_images::Checkpoint>,
    new: Arc<criu_images::Checkpoint>,
    id: String,
    memory: bool,
    pid: Option<u32>,
    progress: Option<&Bound<'_, PyAny>>,
) -> PyResult<Diff> {
    let options = DiffOptions { memory, pid };
    let diff = crate::progress::run_with(py, progress, |counter| DiffData::compute(&old, &new, &options, Some(counter)))?;
    Ok(Diff { diff: Arc::new(diff), id: Arc::from(id) })
}

/// What changed between two checkpoints (`Checkpoint.diff()`): container
/// metadata, processes, files, sockets, memory areas and pages, root
/// filesystem. Each part is a `DiffPart` (a sequence of dicts, with
/// `to_arrow()` / `to_pandas()`); `to_dict()` is the JSON of
/// `criu-images diff --format json` (docs/diff.md).
#[pyclass(frozen, name = "Diff", module = "criu_images")]
pub(crate) struct Diff {
    diff: Arc<DiffData>,
    /// The new checkpoint's id: the `checkpoint` column of the part tables.
    id: Arc<str>,
}

impl Diff {
    fn part(&self, kind: &'static str) -> DiffPart {
        DiffPart { diff: self.diff.clone(), id: self.id.clone(), kind }
    }
}

#[pymethods]
impl Diff {
    /// Container metadata (`container.*`) and CRIU dump statistics (`stats.*`): field, old, new.
    #[getter]
    fn metadata(&self) -> DiffPart {
        self.part("metadata")
    }

    /// Processes that appeared, disappeared or changed (field-level old/new).
    #[getter]
    fn processes(&self) -> DiffPart {
        self.part("processes")
    }

    /// File descriptors (not sockets) opened, closed, repointed, moved.
    #[getter]
    fn files(&self) -> DiffPart {
        self.part("files")
    }

    /// Sockets opened, listening, closed, with queued data.
    #[getter]
    fn sockets(&self) -> DiffPart {
        self.part("sockets")
    }

    /// Memory areas added, removed, moved, grown, shrunk, with changed permissions.
    #[getter]
    fn areas(&self) -> DiffPart {
        self.part("areas")
    }

    /// Ranges of consecutive pages added, removed or changed.
    #[getter]
    fn pages(&self) -> DiffPart {
        self.part("pages")
    }

    /// Root filesystem files added, changed or deleted.
    #[getter]
    fn rootfs(&self) -> DiffPart {
        self.part("rootfs")
    }

    /// What was not compared and why.
    #[getter]
    fn notes(&self) -> Vec<String> {
        self.diff.notes.clone()
    }

    /// The whole diff as `criu-images diff --format json` prints it.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        crate::pyvalue::to_py(py, &self.diff.to_json())
    }

    /// Part `part` as a `pyarrow.Table` (see `DiffPart.to_arrow`).
    fn to_arrow<'py>(&self, py: Python<'py>, part: &str) -> PyResult<Bound<'py, PyAny>> {
        self.part(part_name(part)?).to_arrow(py)
    }

    /// Part `part` as a `pandas.DataFrame` (see `DiffPart.to_pandas`).
    fn to_pandas<'py>(&self, py: Python<'py>, part: &str) -> PyResult<Bound<'py, PyAny>> {
        self.part(part_name(part)?).to_pandas(py)
    }

    /// True when something differs.
    fn __bool__(&self) -> bool {
        !self.diff.is_empty()
    }

    fn __repr__(&self) -> String {
        let d = &self.diff;
        format!(
            "<Diff processes={} files={} sockets={} areas={} page_ranges={} rootfs={} metadata={}>",
            d.processes.len(),
            d.files.len(),
            d.sockets.len(),
            d.areas.len(),
            d.pages.len(),
            d.rootfs.len(),
            d.metadata.len()
        )
    }

    /// The text tree of `criu-images diff`, for notebooks.
    fn _repr_html_(&self) -> String {
        let text = criu_images::cli::diff_text(&self.diff);
        let escaped = text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
        format!("<pre class=\"criu-images-diff\">{escaped}</pre>")
    }
}

fn part_name(part: &str) -> PyResult<&'static str> {
    PARTS
        .iter()
        .find(|p| **p == part)
        .copied()
        .ok_or_else(|| PyValueError::new_err(format!("unknown part {part:?}: use one of {}", PARTS.join(", "))))
}

/// One part of a `Diff`: a sequence of dicts (the objects of that list in
/// `Diff.to_dict()`), and a table.
#[pyclass(frozen, name = "DiffPart", module = "criu_images")]
pub(crate) struct DiffPart {
    diff: Arc<DiffData>,
    id: Arc<str>,
    kind: &'static str,
}

impl DiffPart {
    /// The JSON list of this part.
    fn rows(&self) -> Vec<Value> {
        let key = if self.kind == "pages" { "memory" } else { self.kind };
        match self.diff.to_json().get(key) {
            Some(Value::Array(rows)) => rows.clone(),
            _ => Vec::new(),
        }
    }

    /// The part as a `criu_images.Table` (columns in docs/diff.md, after `checkpoint`).
    fn arrow(&self, py: Python<'_>) -> PyResult<ArrowTable> {
        let table = crate::errors::quick(py, || criu_images::tables::diff_part(&self.id, &self.diff, self.kind))?;
        Ok(crate::tables::to_py(table))
    }

    fn convert<'py>(&self, py: Python<'py>, method: &str) -> PyResult<Bound<'py, PyAny>> {
        let table = Bound::new(py, self.arrow(py)?)?;
        py.import("criu_images._tables")?.getattr(method)?.call1((table, format!("DiffPart.{method}()")))
    }
}

#[pymethods]
impl DiffPart {
    /// Which part: `processes`, `files`, `sockets`, `areas`, `pages`, `rootfs` or `metadata`.
    #[getter]
    fn kind(&self) -> &'static str {
        self.kind
    }

    fn __len__(&self) -> usize {
        let d = &self.diff;
        match self.kind {
            "metadata" => d.metadata.len(),
            "processes" => d.processes.len(),
            "files" => d.files.len(),
            "sockets" => d.sockets.len(),
            "areas" => d.areas.len(),
            "pages" => d.pages.len(),
            _ => d.rootfs.len(),
        }
    }

    fn __getitem__<'py>(&self, py: Python<'py>, index: isize) -> PyResult<Bound<'py, PyAny>> {
        let rows = self.rows();
        let at = if index < 0 { index + rows.len() as isize } else { index };
        match usize::try_from(at).ok().and_then(|i| rows.get(i)) {
            Some(row) => crate::pyvalue::to_py(py, row),
            None => Err(PyIndexError::new_err("DiffPart index out of range")),
        }
    }

    fn __iter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.to_list(py)?.try_iter().map(Bound::into_any)
    }

    /// The rows as a list of dicts.
    fn to_list<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for row in self.rows() {
            list.append(crate::pyvalue::to_py(py, &row)?)?;
        }
        Ok(list)
    }

    /// The part as a `pyarrow.Table` (columns in docs/diff.md). Needs pyarrow.
    fn to_arrow<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.convert(py, "to_arrow")
    }

    /// The part as a `criu_images.Table` (Arrow PyCapsule interface: pyarrow, Polars, DuckDB).
    fn table(&self, py: Python<'_>) -> PyResult<ArrowTable> {
        self.arrow(py)
    }

    /// The part as a `pandas.DataFrame`, integer columns with nullable dtypes. Needs pandas and pyarrow.
    fn to_pandas<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.convert(py, "to_pandas")
    }

    fn __repr__(&self) -> String {
        format!("<DiffPart {} ({} rows)>", self.kind, self.__len__())
    }
}
