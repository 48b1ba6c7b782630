//! `Checkpoint.diff()`: the crate's `Diff`, its parts as lists of dicts
//! and as Arrow / pandas tables, and the text tree as its HTML repr.

use std::sync::Arc;

use pyo3::exceptions::{PyIndexError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyList;
use serde_json::Value;

use criu_images::diff::{Diff as DiffData, DiffOptions};

use crate::tables::{self, Column};

/// The parts of a diff, in the order of `criu-images diff --format json`.
pub(crate) const PARTS: [&str; 7] = ["metadata", "processes", "files", "sockets", "areas", "pages", "rootfs"];

/// Compares `old` with `new` with the GIL released; `progress` counts the
/// bytes of pages compared.
pub(crate) fn compute(
    py: Python<'_>,
    old: Arc<criu_images::Checkpoint>,
    new: Arc<criu_images::Checkpoint>,
    memory: bool,
    pid: Option<u32>,
    progress: Option<&Bound<'_, PyAny>>,
) -> PyResult<Diff> {
    let options = DiffOptions { memory, pid };
    let diff = crate::progress::run_with(py, progress, |counter| DiffData::compute(&old, &new, &options, Some(counter)))?;
    Ok(Diff { diff: Arc::new(diff) })
}

/// What changed between two checkpoints (`Checkpoint.diff()`): container
/// metadata, processes, files, sockets, memory areas and pages, root
/// filesystem. Each part is a `DiffPart` (a sequence of dicts, with
/// `to_arrow()` / `to_pandas()`); `to_dict()` is the JSON of
/// `criu-images diff --format json` (docs/diff.md).
#[pyclass(frozen, name = "Diff", module = "criu_images")]
pub(crate) struct Diff {
    diff: Arc<DiffData>,
}

impl Diff {
    fn part(&self, kind: &'static str) -> DiffPart {
        DiffPart { diff: self.diff.clone(), kind }
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

    fn columns(&self) -> Vec<Column> {
        let d = &self.diff;
        match self.kind {
            "metadata" => {
                let text: Vec<(String, String)> = d.metadata.iter().map(|f| (f.old.to_string(), f.new.to_string())).collect();
                vec![
                    Column::str("field", d.metadata.iter().map(|f| Some(f.field.as_str()))),
                    Column::str("old", text.iter().map(|t| Some(t.0.as_str()))),
                    Column::str("new", text.iter().map(|t| Some(t.1.as_str()))),
                ]
            }
            "processes" => vec![
                Column::u32("pid", d.processes.iter().map(|p| Some(p.pid))),
                Column::u32("old_pid", d.processes.iter().map(|p| p.old_pid)),
                Column::str("comm", d.processes.iter().map(|p| Some(p.comm.as_str()))),
                Column::str("change", d.processes.iter().map(|p| Some(p.change.name()))),
                Column::str("matched_by", d.processes.iter().map(|p| p.matched_by)),
                Column::str_list("fields", d.processes.iter().map(|p| p.fields.iter().map(|f| f.field.as_str()))),
            ],
            "files" => vec![
                Column::u32("pid", d.files.iter().map(|f| Some(f.pid))),
                Column::u32("fd", d.files.iter().map(|f| Some(f.fd))),
                Column::str("change", d.files.iter().map(|f| Some(f.change))),
                Column::str("path", d.files.iter().map(|f| f.path.as_deref())),
                Column::str_list("fields", d.files.iter().map(|f| f.fields.iter().map(|c| c.field.as_str()))),
            ],
            "sockets" => vec![
                Column::u32("pid", d.sockets.iter().map(|s| Some(s.pid))),
                Column::u32("fd", d.sockets.iter().map(|s| Some(s.fd))),
                Column::str("change", d.sockets.iter().map(|s| Some(s.change))),
                Column::str("type", d.sockets.iter().map(|s| Some(s.r#type.as_str()))),
                Column::str("endpoint", d.sockets.iter().map(|s| Some(s.endpoint.as_str()))),
                Column::str_list("fields", d.sockets.iter().map(|s| s.fields.iter().map(|c| c.field.as_str()))),
            ],
            "areas" => vec![
                Column::u32("pid", d.areas.iter().map(|a| Some(a.pid))),
                Column::u64("start", d.areas.iter().map(|a| Some(a.start))),
                Column::u64("old_start", d.areas.iter().map(|a| a.old_start)),
                Column::u64("old_end", d.areas.iter().map(|a| a.old_end)),
                Column::u64("new_end", d.areas.iter().map(|a| a.new_end)),
                Column::str("change", d.areas.iter().map(|a| Some(a.change))),
                Column::str_list("what", d.areas.iter().map(|a| a.what.iter().copied())),
                Column::str("old_perms", d.areas.iter().map(|a| a.old_perms.as_deref())),
                Column::str("new_perms", d.areas.iter().map(|a| a.new_perms.as_deref())),
                Column::str("old_path", d.areas.iter().map(|a| a.old_path.as_deref())),
                Column::str("new_path", d.areas.iter().map(|a| a.new_path.as_deref())),
                Column::bool("became_executable", d.areas.iter().map(|a| Some(a.became_executable))),
            ],
            "pages" => vec![
                Column::u32("pid", d.pages.iter().map(|r| Some(r.pid))),
                Column::u64("start", d.pages.iter().map(|r| Some(r.start))),
                Column::u64("end", d.pages.iter().map(|r| Some(r.end))),
                Column::str("change", d.pages.iter().map(|r| Some(r.change.name()))),
                Column::u64("pages", d.pages.iter().map(|r| Some(r.pages))),
            ],
            _ => vec![
                Column::str("path", d.rootfs.iter().map(|r| Some(r.path.as_str()))),
                Column::str("change", d.rootfs.iter().map(|r| Some(r.change))),
                Column::u64("old_size", d.rootfs.iter().map(|r| r.old_size)),
                Column::u64("new_size", d.rootfs.iter().map(|r| r.new_size)),
                Column::u32("old_mode", d.rootfs.iter().map(|r| r.old_mode)),
                Column::u32("new_mode", d.rootfs.iter().map(|r| r.new_mode)),
                Column::str("old_sha256", d.rootfs.iter().map(|r| r.old_sha256.as_deref())),
                Column::str("new_sha256", d.rootfs.iter().map(|r| r.new_sha256.as_deref())),
            ],
        }
    }

    fn table<'py>(&self, py: Python<'py>, method: &str, pandas: bool) -> PyResult<Bound<'py, PyAny>> {
        let module = py.import("criu_images._tables")?;
        module.getattr("require")?.call1((format!("DiffPart.{method}()"), pandas))?;
        module.getattr(method)?.call1((tables::to_py(py, &self.columns())?,))
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
        self.table(py, "to_arrow", false)
    }

    /// The part as a `pandas.DataFrame`, integer columns with nullable dtypes. Needs pandas and pyarrow.
    fn to_pandas<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.table(py, "to_pandas", true)
    }

    fn __repr__(&self) -> String {
        format!("<DiffPart {} ({} rows)>", self.kind, self.__len__())
    }
}
