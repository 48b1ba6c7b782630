//! `Checkpoint.findings()`: the triage report (criu_images::triage) as
//! Python dicts, computed with the GIL released.

use pyo3::prelude::*;

use criu_images::checkpoint::Rootfs;
use criu_images::triage::{triage, TriageOptions};
use criu_images::Checkpoint;

use crate::errors::run;

/// The findings of `checkpoint`, most severe first, each a dict with `id`,
/// `severity`, `pid`, `summary` and `evidence` (docs/triage.md).
pub(crate) fn findings<'py>(
    py: Python<'py>,
    checkpoint: &Checkpoint,
    show_secrets: bool,
    rootfs: Option<String>,
) -> PyResult<Bound<'py, PyAny>> {
    let report = run(py, || {
        let rootfs = rootfs.as_deref().map(|dir| Rootfs::load(checkpoint, Some(dir))).transpose()?;
        let options = TriageOptions { show_secrets, rootfs: rootfs.as_ref().and_then(Rootfs::source) };
        Ok(triage(checkpoint, &options)?.to_json())
    })?;
    crate::pyvalue::to_py(py, &report["findings"])
}
