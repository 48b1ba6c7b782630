//! Image entries as Arrow tables (`Image.table()`, `Checkpoint.image_table()`,
//! `criu_images.image_table()`): the crate's `entry_table` record batches,
//! made without the GIL, handed over as a [`ArrowTable`].

use std::path::PathBuf;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use criu_images::entry_table;
use criu_images::image::{Image, ImageKind};
use criu_images::Checkpoint;

use crate::arrow_stream::ArrowTable;
use crate::errors::run;

/// The image kind a Python caller named, or a `ValueError` listing the names.
pub(crate) fn kind(name: &str) -> PyResult<ImageKind> {
    entry_table::kind_by_name(name).ok_or_else(|| {
        let names: Vec<&str> = ImageKind::all().map(ImageKind::name).collect();
        PyValueError::new_err(format!(
            "no image kind {name:?}: one of {} (any case), or a file name stem such as pagemap",
            names.join(", ")
        ))
    })
}

/// One image's entries as a table.
pub(crate) fn one_image(image: &Image<'_>) -> criu_images::Result<ArrowTable> {
    let batch = entry_table::image_batch(image)?;
    Ok(ArrowTable::new(batch.schema(), vec![batch]))
}

/// Every image of `kind` in `checkpoint`; `id` in the `checkpoint` column.
pub(crate) fn checkpoint_table(py: Python<'_>, checkpoint: &Checkpoint, id: &str, kind: &str) -> PyResult<ArrowTable> {
    let kind = self::kind(kind)?;
    let (schema, batches) = run(py, || entry_table::image_table_labelled(checkpoint, kind, id))?;
    Ok(ArrowTable::new(schema, batches))
}

/// Every image of `kind` in every checkpoint of `paths`, concatenated in
/// `paths` order; the checkpoints are read in parallel.
#[pyfunction]
pub(crate) fn image_table(py: Python<'_>, paths: Vec<PathBuf>, kind: &str) -> PyResult<ArrowTable> {
    let kind = self::kind(kind)?;
    let (schema, batches) = run(py, || entry_table::image_tables(&paths, kind))?;
    Ok(ArrowTable::new(schema, batches))
}

/// Every image with protobuf entries of `checkpoint`, as `{name: Table}` in name order.
pub(crate) fn all_tables<'py>(py: Python<'py>, checkpoint: &Checkpoint) -> PyResult<Bound<'py, pyo3::types::PyDict>> {
    let batches = run(py, || entry_table::all_image_batches(checkpoint))?;
    let out = pyo3::types::PyDict::new(py);
    for (name, batch) in batches {
        out.set_item(name, ArrowTable::new(batch.schema(), vec![batch]))?;
    }
    Ok(out)
}
