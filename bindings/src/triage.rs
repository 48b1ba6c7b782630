//! `Checkpoint.findings()`: the triage report (criu_images::triage) as
//! Python dicts, computed with the GIL released.

use pyo3::prelude::*;

use criu_images::checkpoint::Rootfs;
use criu_images::triage::{triage, Triage, TriageOptions};
use criu_images::Checkpoint;

use crate::arrow_stream::ArrowTable;
use crate::errors::run;

/// The findings of `checkpoint`, most severe first, each a dict with `id`,
/// `severity`, `pid`, `summary` and `evidence` (docs/triage.md).
pub(crate) fn findings<'py>(
    py: Python<'py>,
    checkpoint: &Checkpoint,
    show_secrets: bool,
    rootfs: Option<String>,
) -> PyResult<Bound<'py, PyAny>> {
    let report = run(py, || Ok(report(checkpoint, show_secrets, rootfs.as_deref())?.to_json()))?;
    crate::pyvalue::to_py(py, &report["findings"])
}

/// The same findings as the `findings` table (`criu_images::tables::findings`,
/// `id` in its `checkpoint` column).
pub(crate) fn findings_table(py: Python<'_>, checkpoint: &Checkpoint, id: &str, show_secrets: bool) -> PyResult<ArrowTable> {
    let table = run(py, || criu_images::tables::findings(id, &report(checkpoint, show_secrets, None)?.findings))?;
    Ok(crate::tables::to_py(table))
}

fn report(checkpoint: &Checkpoint, show_secrets: bool, rootfs: Option<&str>) -> criu_images::Result<Triage> {
    let rootfs = rootfs.map(|dir| Rootfs::load(checkpoint, Some(dir))).transpose()?;
    let options = TriageOptions { show_secrets, rootfs: rootfs.as_ref().and_then(Rootfs::source) };
    triage(checkpoint, &options)
}
