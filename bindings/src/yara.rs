//! YARA from Python: `criu_images.YaraRules` (compiled once, reused), and
//! the scans behind `Checkpoint.yara()` and `Memory.yara()`, run with the
//! GIL released, progress and Ctrl-C like `search()`.

use std::path::PathBuf;
use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyList;

use criu_images::memory::ProcessMemory;
use criu_images::yara::{scan_memories, Rules, YaraOptions, YaraReport};

use crate::errors::{quick, run};

/// Compiled YARA rules, made from a rules file path or source text; pass it
/// to `Checkpoint.yara()` / `Memory.yara()` to compile once and scan many times.
#[pyclass(frozen, name = "YaraRules", module = "criu_images")]
pub struct PyYaraRules {
    pub(crate) rules: Arc<Rules>,
}

#[pymethods]
impl PyYaraRules {
    /// `rules`: a path of a rules file (str or PathLike) or rules source text.
    /// Raises `CriuImagesError` with the compiler's message (file and line) when they do not compile.
    #[new]
    fn new(py: Python<'_>, rules: &Bound<'_, PyAny>) -> PyResult<Self> {
        let rules = compile(py, rules)?;
        Ok(PyYaraRules { rules })
    }

    fn __repr__(&self) -> String {
        "YaraRules(...)".to_string()
    }
}

/// A `YaraRules`, a path or source text as compiled rules.
pub(crate) fn compile(py: Python<'_>, rules: &Bound<'_, PyAny>) -> PyResult<Arc<Rules>> {
    if let Ok(compiled) = rules.cast::<PyYaraRules>() {
        return Ok(compiled.get().rules.clone());
    }
    if let Ok(text) = rules.extract::<String>() {
        return run(py, || Rules::from_path_or_source(&text).map(Arc::new));
    }
    let path: PathBuf = rules.extract()?;
    run(py, || Rules::from_files(&[path]).map(Arc::new))
}

static YARA_HITS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// The hits as a `criu_images.yara.YaraHits` list of dicts, with their
/// table (`criu_images::tables::yara_hits`, `id` in its `checkpoint` column).
pub(crate) fn hits_to_py<'py>(py: Python<'py>, report: &YaraReport, id: &str) -> PyResult<Bound<'py, PyAny>> {
    let json = report.to_json();
    let hits = crate::pyvalue::to_py(py, &json["hits"])?;
    let list = hits.cast_into::<PyList>()?;
    let table = crate::tables::to_py(quick(py, || criu_images::tables::yara_hits(id, &report.hits))?);
    YARA_HITS.import(py, "criu_images.yara", "YaraHits")?.call1((list, report.truncated, table))
}

/// Scans `memories` (already built) with the GIL released; `options`
/// without progress (the counter of this call is set here).
pub(crate) fn scan<'py>(
    py: Python<'py>,
    memories: &[&ProcessMemory<'_>],
    rules: &Rules,
    options: YaraOptions<'static>,
    progress: Option<&Bound<'py, PyAny>>,
    id: &str,
) -> PyResult<Bound<'py, PyAny>> {
    let report = crate::progress::run_with(py, progress, |counter| {
        let options = YaraOptions { progress: Some(counter), ..options };
        scan_memories(memories, rules, &options)
    })?;
    hits_to_py(py, &report, id)
}
