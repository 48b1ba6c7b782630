//! The state behind every object the bindings hand out: an `Arc` of the
//! crate's `Checkpoint` with the indexes built from it (rootfs-diff.tar,
//! memory of each process, the process records), each built once and
//! shared; and the open/closed switch `Checkpoint.close()` turns.
//!
//! The bottom of the bindings' modules with `errors` and `progress`: it
//! imports no other module of the bindings.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use pyo3::prelude::*;
use self_cell::self_cell;

use criu_images::archive::TarView;
use criu_images::checkpoint::Rootfs;
use criu_images::memory::ProcessMemory;
use criu_images::model::Process as ProcessData;
use criu_images::progress::Progress;
use criu_images::Checkpoint;

use crate::errors::{run, CriuImagesError};
use crate::progress::run_with;

self_cell!(
    /// A root filesystem (`rootfs-diff.tar` and/or a directory) of a checkpoint it borrows.
    pub(crate) struct RootfsCell {
        owner: Arc<Checkpoint>,
        #[covariant]
        dependent: Rootfs,
    }
);

type DiffView<'a> = Option<TarView<'a>>;

self_cell!(
    /// The `rootfs-diff.tar` index of a checkpoint it borrows, for `Checkpoint.rootfs_diff`.
    pub(crate) struct DiffCell {
        owner: Arc<Checkpoint>,
        #[covariant]
        dependent: DiffView,
    }
);

/// What a process memory index borrows from.
pub(crate) struct MemoryOwner {
    checkpoint: Arc<Checkpoint>,
    /// Where file pages come from; None for the checkpoint's own index
    /// (rootfs `auto`), which `Checkpoint::memory` builds once and caches.
    rootfs: Option<Arc<RootfsCell>>,
}

type Mem<'a> = Arc<ProcessMemory<'a>>;

self_cell!(
    /// The memory index of one process, built once, with what it borrows.
    pub(crate) struct MemoryCell {
        owner: MemoryOwner,
        #[covariant]
        dependent: Mem,
    }
);

impl MemoryCell {
    /// The memory index.
    pub(crate) fn index(&self) -> &ProcessMemory<'_> {
        self.borrow_dependent()
    }
}

/// How memory was asked for (the crate's [`Rootfs`] choices): the cache
/// key of [`Shared::memory`].
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub(crate) enum RootfsChoice {
    /// rootfs-diff.tar when the checkpoint has one.
    Auto,
    /// No files: unmodified file pages stay missing.
    Off,
    /// rootfs-diff.tar, required.
    Diff,
    /// rootfs-diff.tar when there is one, then this directory.
    Dir(String),
}

impl RootfsChoice {
    /// `None` (then `default`), `"auto"`, `"none"`, `"diff"`, or a
    /// directory (str or os.PathLike).
    pub(crate) fn from_py(value: Option<&Bound<'_, PyAny>>, default: &RootfsChoice) -> PyResult<RootfsChoice> {
        let Some(value) = value.filter(|v| !v.is_none()) else { return Ok(default.clone()) };
        if let Ok(text) = value.extract::<String>() {
            match text.as_str() {
                "auto" => return Ok(RootfsChoice::Auto),
                "none" => return Ok(RootfsChoice::Off),
                "diff" => return Ok(RootfsChoice::Diff),
                _ => {}
            }
        }
        let path: PathBuf = value.extract()?;
        let text = path.to_string_lossy().into_owned();
        // A directory literally named like a choice (a pathlib.Path) is `./name` to the crate.
        Ok(RootfsChoice::Dir(if matches!(text.as_str(), "auto" | "none" | "diff") { format!("./{text}") } else { text }))
    }

    /// The choice as the crate's [`Rootfs::load`] takes it.
    pub(crate) fn as_crate(&self) -> &str {
        match self {
            RootfsChoice::Auto => "auto",
            RootfsChoice::Off => "none",
            RootfsChoice::Diff => "diff",
            RootfsChoice::Dir(dir) => dir,
        }
    }

    /// `Memory.rootfs`: None when no files are used.
    pub(crate) fn describe(&self) -> Option<String> {
        match self {
            RootfsChoice::Off => None,
            other => Some(other.as_crate().to_string()),
        }
    }
}

/// One open checkpoint and the indexes built from it.
pub(crate) struct Shared {
    pub(crate) checkpoint: Arc<Checkpoint>,
    /// The id of the `checkpoint` column of its tables (`open(path, id=...)`).
    pub(crate) id: String,
    /// Where memory fills file pages from when a call does not say (`open(rootfs=...)`).
    pub(crate) default_rootfs: RootfsChoice,
    /// `rootfs-diff.tar`, indexed once (`None` inside if there is none).
    diff: Mutex<Option<Arc<DiffCell>>>,
    memories: Mutex<HashMap<(u32, RootfsChoice), Arc<MemoryCell>>>,
    processes: Mutex<Option<Arc<Vec<Arc<ProcessData>>>>>,
}

impl Shared {
    /// The rootfs-diff index, built on first use.
    pub(crate) fn diff(&self, py: Python<'_>) -> PyResult<Arc<DiffCell>> {
        if let Some(cell) = lock(&self.diff).as_ref() {
            return Ok(cell.clone());
        }
        let checkpoint = self.checkpoint.clone();
        let cell = run(py, move || DiffCell::try_new(checkpoint, |c| c.rootfs_diff()))?;
        Ok(lock(&self.diff).get_or_insert(Arc::new(cell)).clone())
    }

    /// The memory index of `pid`, built on first use and then shared.
    pub(crate) fn memory(&self, py: Python<'_>, pid: u32, rootfs: &RootfsChoice) -> PyResult<Arc<MemoryCell>> {
        self.memory_reporting(py, pid, rootfs, None)
    }

    /// [`Shared::memory`], reporting a build to the user's `progress=`
    /// callback (pagemap bytes; an index already built: `(0, 0)`).
    pub(crate) fn memory_reporting(
        &self,
        py: Python<'_>,
        pid: u32,
        rootfs: &RootfsChoice,
        callback: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Arc<MemoryCell>> {
        if callback.is_none() {
            if let Some(cell) = lock(&self.memories).get(&(pid, rootfs.clone())) {
                return Ok(cell.clone());
            }
        }
        // As other long work: Ctrl-C (KeyboardInterrupt) stops the index build.
        run_with(py, callback, |progress| self.memory_counted(pid, rootfs, progress))
    }

    /// [`Shared::memory`] without the GIL, for work that needs indexes
    /// first: a build counts the pagemap bytes it reads into `progress` and
    /// stops with `Error::Cancelled` once it is cancelled; an index already
    /// built is returned at once.
    pub(crate) fn memory_counted(&self, pid: u32, rootfs: &RootfsChoice, progress: &Progress) -> criu_images::Result<Arc<MemoryCell>> {
        let key = (pid, rootfs.clone());
        if let Some(cell) = lock(&self.memories).get(&key) {
            return Ok(cell.clone());
        }
        let rootfs_cell = match rootfs {
            // The index the crate keeps (also the one behind `processes`): rootfs-diff.tar when there is one.
            RootfsChoice::Auto => None,
            _ => Some(Arc::new(RootfsCell::try_new(self.checkpoint.clone(), |c| Rootfs::load(c, Some(rootfs.as_crate())))?)),
        };
        let owner = MemoryOwner { checkpoint: self.checkpoint.clone(), rootfs: rootfs_cell };
        let cell = MemoryCell::try_new(owner, |owner| match &owner.rootfs {
            None => owner.checkpoint.memory_reporting(pid, Some(progress)),
            Some(rootfs) => owner.checkpoint.memory_with_progress(pid, rootfs.borrow_dependent().source(), Some(progress)).map(Arc::new),
        })?;
        Ok(lock(&self.memories).entry(key).or_insert_with(|| Arc::new(cell)).clone())
    }

    /// Every process, loaded on first use.
    pub(crate) fn processes(&self, py: Python<'_>) -> PyResult<Arc<Vec<Arc<ProcessData>>>> {
        if let Some(all) = lock(&self.processes).as_ref() {
            return Ok(all.clone());
        }
        let checkpoint = self.checkpoint.clone();
        let all = run(py, move || checkpoint.processes())?;
        let all = Arc::new(all.into_iter().map(Arc::new).collect::<Vec<_>>());
        Ok(lock(&self.processes).get_or_insert(all).clone())
    }
}

/// Locks a mutex; a poisoned one (a panic while it was held, already
/// reported as an exception) still holds consistent data: whole values are
/// inserted or not.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// An opened checkpoint until `close()`: `Checkpoint` and every `Process`
/// it handed out hold it, so that both raise `CriuImagesError` once closed.
pub(crate) struct Handle {
    path: PathBuf,
    state: RwLock<Option<Arc<Shared>>>,
}

impl Handle {
    pub(crate) fn new(path: PathBuf, id: String, checkpoint: Checkpoint, default_rootfs: RootfsChoice) -> Handle {
        let shared = Shared {
            checkpoint: Arc::new(checkpoint),
            id,
            default_rootfs,
            diff: Mutex::new(None),
            memories: Mutex::new(HashMap::new()),
            processes: Mutex::new(None),
        };
        Handle { path, state: RwLock::new(Some(Arc::new(shared))) }
    }

    /// The path given to `open()`.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The open state, or `CriuImagesError` once closed.
    pub(crate) fn shared(&self) -> PyResult<Arc<Shared>> {
        let state = self.state.read().unwrap_or_else(|p| p.into_inner());
        state.clone().ok_or_else(|| CriuImagesError::new_err(format!("{}: the checkpoint is closed", self.path.display())))
    }

    /// Drops the open state; objects holding its parts keep them.
    pub(crate) fn close(&self) {
        self.state.write().unwrap_or_else(|p| p.into_inner()).take();
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.state.read().unwrap_or_else(|p| p.into_inner()).is_none()
    }
}
