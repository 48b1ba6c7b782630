//! `Vma`: the one Python record of a memory area, whatever handed it out:
//! `Process.vmas` (the model's areas), `Memory.regions()` (the memory
//! index's) and `Hit.vma` (the area of a search hit). All three are the
//! crate's `memory::Vma`, borrowed where it lives; the page counts and
//! origins come from the process's memory index.

use std::sync::{Arc, OnceLock};

use pyo3::prelude::*;
use self_cell::self_cell;

use criu_images::memory::{self, PageCounts, ProcessMemory};
use criu_images::model;

use crate::errors::CriuImagesError;
use crate::state::{Handle, MemoryCell};

/// What holds the area's record.
enum Owner {
    /// `Process.vmas`: the model's process.
    Process(Arc<model::Process>),
    /// `Memory.regions()`: the memory index.
    Memory(Arc<MemoryCell>),
    /// `Hit.vma`: the hit.
    Hit(Arc<memory::Hit>),
}

type AreaRef<'a> = &'a memory::Vma;

self_cell!(
    /// A memory area borrowed from what holds it.
    struct AreaCell {
        owner: Owner,
        #[covariant]
        dependent: AreaRef,
    }
);

impl AreaCell {
    /// Area `index` of the owner's list (a hit has one area: `index` is
    /// not used); None if there is no such area.
    fn at(owner: Owner, index: usize) -> Option<AreaCell> {
        AreaCell::try_new(owner, |owner| match owner {
            Owner::Process(process) => process.vmas.get(index).ok_or(()),
            Owner::Memory(cell) => cell.borrow_dependent().vmas().get(index).ok_or(()),
            Owner::Hit(hit) => Ok(&hit.area),
        })
        .ok()
    }
}

/// The memory index the page counts and origins are read from.
enum MemoryOf {
    /// The index the area came from (`Memory.regions()`, `Hit.vma`).
    Index(Arc<MemoryCell>),
    /// The process's memory with the checkpoint's default rootfs, built
    /// when first asked (`Process.vmas`; as `Process.memory`).
    Process { checkpoint: Arc<Handle>, pid: u32 },
}

/// A memory area of a process (a VMA), as /proc/PID/maps shows it, with
/// how many of its pages the checkpoint has and where its bytes come from.
/// `Process.vmas`, `Memory.regions()` and `Hit.vma` give it; `Region` and
/// `HitArea` are other names of this class.
#[pyclass(frozen, name = "Vma", module = "criu_images")]
pub struct PyVma {
    area: AreaCell,
    memory: MemoryOf,
    /// Page counts, computed once (on creation for `Memory.regions()`).
    counts: OnceLock<PageCounts>,
}

impl PyVma {
    fn new(area: AreaCell, memory: MemoryOf) -> PyVma {
        PyVma { area, memory, counts: OnceLock::new() }
    }

    /// The areas of a process's model (`Process.vmas`).
    pub(crate) fn of_process(process: &Arc<model::Process>, checkpoint: &Arc<Handle>) -> Vec<PyVma> {
        let pid = process.pid;
        // Every index is in range (the process does not change): none is left out.
        (0..process.vmas.len())
            .filter_map(|i| AreaCell::at(Owner::Process(process.clone()), i))
            .map(|area| PyVma::new(area, MemoryOf::Process { checkpoint: checkpoint.clone(), pid }))
            .collect()
    }

    /// The areas of a memory index with their page counts (`Memory.regions()`).
    pub(crate) fn of_memory(cell: &Arc<MemoryCell>) -> Vec<PyVma> {
        let index = cell.borrow_dependent();
        (0..index.vmas().len())
            .filter_map(|i| {
                let area = AreaCell::at(Owner::Memory(cell.clone()), i)?;
                let vma = PyVma::new(area, MemoryOf::Index(cell.clone()));
                let _ = vma.counts.set(index.page_counts(i));
                Some(vma)
            })
            .collect()
    }

    /// The area of a hit found in `cell`.
    pub(crate) fn of_hit(hit: &Arc<memory::Hit>, cell: &Arc<MemoryCell>) -> Option<PyVma> {
        AreaCell::at(Owner::Hit(hit.clone()), 0).map(|area| PyVma::new(area, MemoryOf::Index(cell.clone())))
    }

    fn data(&self) -> &memory::Vma {
        self.area.borrow_dependent()
    }

    /// The memory index of the area's process.
    fn memory_index(&self, py: Python<'_>) -> PyResult<Arc<MemoryCell>> {
        match &self.memory {
            MemoryOf::Index(cell) => Ok(cell.clone()),
            MemoryOf::Process { checkpoint, pid } => {
                let shared = checkpoint.shared()?;
                shared.memory(py, *pid, &shared.default_rootfs)
            }
        }
    }

    /// The page counts, from the memory index.
    fn counts(&self, py: Python<'_>) -> PyResult<PageCounts> {
        if let Some(counts) = self.counts.get() {
            return Ok(*counts);
        }
        let cell = self.memory_index(py)?;
        let index = cell.borrow_dependent();
        let i = position(index, self.data())?;
        Ok(*self.counts.get_or_init(|| index.page_counts(i)))
    }
}

/// Where `area` is in the areas of `index`; an error if it is not there
/// (the model and the memory index read the same `mm-<pid>.img`).
fn position(index: &ProcessMemory<'_>, area: &memory::Vma) -> PyResult<usize> {
    let i = index.vmas().partition_point(|v| v.start < area.start);
    match index.vmas().get(i) {
        Some(v) if v.start == area.start && v.end == area.end => Ok(i),
        _ => Err(CriuImagesError::new_err(format!(
            "internal error in criu-images: area {:#x}-{:#x} of process {} is not in its memory index",
            area.start,
            area.end,
            index.pid()
        ))),
    }
}

#[pymethods]
impl PyVma {
    /// First address.
    #[getter]
    fn start(&self) -> u64 {
        self.data().start
    }

    /// End address (exclusive).
    #[getter]
    fn end(&self) -> u64 {
        self.data().end
    }

    /// Size in bytes.
    #[getter]
    fn size(&self) -> u64 {
        self.data().len()
    }

    /// Permissions as /proc/PID/maps shows them, e.g. `r-xp`.
    #[getter]
    fn perms(&self) -> String {
        self.data().perms()
    }

    /// Offset in the mapped file, in bytes.
    #[getter]
    fn offset(&self) -> u64 {
        self.data().pgoff
    }

    /// Path as /proc/PID/maps prints it: `/usr/lib/x.so`, `/tmp/x (deleted)`,
    /// `[heap]`, `[stack]`, `[vdso]`, `/memfd:x (deleted)`, `/dev/zero (deleted)`,
    /// `/SYSV0000abcd (deleted)`; None for anonymous memory.
    #[getter]
    fn path(&self) -> Option<String> {
        self.data().path.clone()
    }

    /// `heap`, `stack`, `vdso`, `anon`, `file` or `shared`.
    #[getter]
    fn kind(&self) -> &'static str {
        self.data().kind().name()
    }

    /// Pages whose bytes are in the checkpoint.
    #[getter]
    fn pages_dumped(&self, py: Python<'_>) -> PyResult<u64> {
        Ok(self.counts(py)?.dumped)
    }

    /// Pages that read as zeros.
    #[getter]
    fn pages_zero(&self, py: Python<'_>) -> PyResult<u64> {
        Ok(self.counts(py)?.zero)
    }

    /// Pages not in the checkpoint (lazy, unmodified file pages, kernel areas).
    #[getter]
    fn pages_missing(&self, py: Python<'_>) -> PyResult<u64> {
        Ok(self.counts(py)?.missing)
    }

    /// Pages filled from a root filesystem: `pages_from_rootfs_diff + pages_from_rootfs_dir`.
    #[getter]
    fn pages_from_file(&self, py: Python<'_>) -> PyResult<u64> {
        Ok(self.counts(py)?.from_file)
    }

    /// Pages filled from the checkpoint's rootfs-diff.tar.
    #[getter]
    fn pages_from_rootfs_diff(&self, py: Python<'_>) -> PyResult<u64> {
        Ok(self.counts(py)?.from_rootfs_diff)
    }

    /// Pages filled from the directory given as `rootfs`.
    #[getter]
    fn pages_from_rootfs_dir(&self, py: Python<'_>) -> PyResult<u64> {
        Ok(self.counts(py)?.from_rootfs_dir)
    }

    /// Where the area's bytes come from: `(start, end, origin)` runs in
    /// address order covering the area, `origin` one of `"dumped"`,
    /// `"zero"`, `"rootfs-diff"`, `"rootfs-dir"`, `"missing"` (as
    /// `Hit.origins`).
    #[getter]
    fn origins(&self, py: Python<'_>) -> PyResult<Vec<(u64, u64, &'static str)>> {
        let cell = self.memory_index(py)?;
        let area = self.data();
        Ok(origin_names(&cell.borrow_dependent().origins(area.start, area.end)))
    }

    fn __repr__(&self) -> String {
        let v = self.data();
        let counts = self.counts.get().map(|c| format!(" dumped={} zero={} missing={}", c.dumped, c.zero, c.missing)).unwrap_or_default();
        let path = v.path.as_deref().map(|p| format!(" {p}")).unwrap_or_default();
        format!("<Vma {:#x}-{:#x} {} {:#x} {}{counts}{path}>", v.start, v.end, v.perms(), v.pgoff, v.kind().name())
    }
}

/// `(start, end, origin)` runs with the origins' names, as `Hit.origins`
/// and `Vma.origins` give them.
pub(crate) fn origin_names(runs: &[(u64, u64, memory::Origin)]) -> Vec<(u64, u64, &'static str)> {
    runs.iter().map(|&(start, end, origin)| (start, end, origin.name())).collect()
}
