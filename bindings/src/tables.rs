//! The tables of `Checkpoint.table(kind)` (and `to_arrow` / `to_pandas`):
//! built by the crate (`criu_images::tables`) from the checkpoint's cached
//! processes and memory indexes, handed to Python as a `criu_images.Table`.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use criu_images::model::Process;
use criu_images::tables::{self, Table, CHECKPOINT_TABLES};

use crate::arrow_stream::ArrowTable;
use crate::errors::{quick, run};
use crate::state::Shared;

/// A ValueError for a kind `Checkpoint.table()` does not know.
pub(crate) fn unknown_kind(kind: &str) -> PyErr {
    PyValueError::new_err(format!("unknown table {kind:?}: use one of {}", CHECKPOINT_TABLES.join(", ")))
}

/// The crate's table as a Python `Table`.
pub(crate) fn to_py(table: Table) -> ArrowTable {
    ArrowTable::new(table.schema, table.batches)
}

/// Table `kind` of the open checkpoint: processes and memory indexes come
/// from the caches the rest of the bindings share (memory with the
/// checkpoint's default rootfs); connections and findings are built with
/// the GIL released.
pub(crate) fn checkpoint_table(py: Python<'_>, shared: &Shared, kind: &str) -> PyResult<ArrowTable> {
    let id = shared.id.as_str();
    let table = match kind {
        "vmas" => {
            let checkpoint = shared.checkpoint.clone();
            let pids = run(py, || checkpoint.memory_pids())?;
            let cells = pids.into_iter().map(|p| shared.memory(py, p, &shared.default_rootfs)).collect::<PyResult<Vec<_>>>()?;
            let memories: Vec<_> = cells.iter().map(|c| c.index()).collect();
            quick(py, || tables::vmas(id, &memories))?
        }
        "processes" | "threads" | "fds" | "sockets" => {
            let all = shared.processes(py)?;
            let processes: Vec<&Process> = all.iter().map(|p| &**p).collect();
            quick(py, || match kind {
                "processes" => tables::processes(id, &processes),
                "threads" => tables::threads(id, &processes),
                "fds" => tables::fds(id, &processes),
                _ => tables::sockets(id, &processes),
            })?
        }
        "connections" | "findings" => {
            let checkpoint = shared.checkpoint.clone();
            run(py, || tables::checkpoint_table(&checkpoint, id, kind))?
        }
        _ => return Err(unknown_kind(kind)),
    };
    Ok(to_py(table))
}
