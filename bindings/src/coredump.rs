//! `Process.write_core()`: an ELF core file of a process, for gdb
//! (`criu_images::coredump`), written with the GIL released.

use std::path::PathBuf;

use pyo3::prelude::*;
use pyo3::types::PyDict;

use criu_images::checkpoint::Rootfs;
use criu_images::coredump::{write_core_file, CoreOptions};

use crate::progress::run_with;
use crate::state::{RootfsChoice, Shared};

/// Writes process `pid` as an ELF core file at `path` (under a temporary
/// name, renamed when complete) and returns the summary as a dict.
pub(crate) fn write_core<'py>(
    py: Python<'py>,
    shared: &Shared,
    pid: u32,
    path: PathBuf,
    rootfs: Option<&Bound<'py, PyAny>>,
    progress: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    let choice = RootfsChoice::from_py(rootfs, &shared.default_rootfs)?;
    let checkpoint = &shared.checkpoint;
    let existed = path.exists();
    let written = run_with(py, progress, |counter| {
        let rootfs = Rootfs::load(checkpoint, Some(choice.as_crate()))?;
        write_core_file(checkpoint, pid, &CoreOptions { rootfs: rootfs.source(), progress: Some(counter) }, &path)
    });
    let summary = match written {
        Ok(summary) => summary,
        Err(err) => {
            // The callback may raise (or Ctrl-C come) after the rename: a core this call created goes too.
            if !existed {
                let _ = std::fs::remove_file(&path);
            }
            return Err(err);
        }
    };
    let out = PyDict::new(py);
    out.set_item("path", path)?;
    out.set_item("pid", summary.pid)?;
    out.set_item("machine", summary.machine)?;
    out.set_item("threads", summary.threads)?;
    out.set_item("areas", summary.areas)?;
    out.set_item("areas_without_contents", summary.areas_without_contents)?;
    out.set_item("size", summary.size)?;
    out.set_item("memory_bytes", summary.memory_bytes)?;
    out.set_item("zero_filled_pages", summary.zero_filled_pages)?;
    Ok(out)
}
