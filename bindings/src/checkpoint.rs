//! `Checkpoint`, its archive members, `rootfs-diff.tar`, and the shared state
//! behind every object handed out: an `Arc` of the crate's `Checkpoint` with
//! the indexes built from it (memory, processes), each built once.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use self_cell::self_cell;

use criu_images::json::DecodeOptions;

use criu_images::archive::{MemberKind, OpenOptions, TarView};
use criu_images::checkpoint::Rootfs;
use criu_images::memory::{search_all, ProcessMemory};
use criu_images::model::Process as ProcessData;
use criu_images::{Checkpoint, Error};

use crate::display;
use crate::errors::{quick, run, CriuImagesError};
use crate::image::Image;
use crate::memory::{hits_to_py, search_options, to_pattern, Memory};
use crate::process::Process;
use crate::progress::{run_with, Callback};
use crate::tables;

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
    rootfs: Option<Arc<RootfsCell>>,
}

type Mem<'a> = ProcessMemory<'a>;

self_cell!(
    /// The memory index of one process, built once, with what it borrows.
    pub(crate) struct MemoryCell {
        owner: MemoryOwner,
        #[covariant]
        dependent: Mem,
    }
);

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
    fn as_crate(&self) -> &str {
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
        let key = (pid, rootfs.clone());
        if let Some(cell) = lock(&self.memories).get(&key) {
            return Ok(cell.clone());
        }
        let checkpoint = self.checkpoint.clone();
        let choice = rootfs.clone();
        let rootfs_cell = run(py, move || RootfsCell::try_new(checkpoint, |c| Rootfs::load(c, Some(choice.as_crate()))))?;
        let owner = MemoryOwner { checkpoint: self.checkpoint.clone(), rootfs: Some(Arc::new(rootfs_cell)) };
        let cell = run(py, move || {
            MemoryCell::try_new(owner, |owner| {
                let source = owner.rootfs.as_ref().and_then(|r| r.borrow_dependent().source());
                owner.checkpoint.memory_with(pid, source)
            })
        })?;
        Ok(lock(&self.memories).entry(key).or_insert_with(|| Arc::new(cell)).clone())
    }

    /// Every process, loaded on first use.
    pub(crate) fn processes(&self, py: Python<'_>) -> PyResult<Arc<Vec<Arc<ProcessData>>>> {
        if let Some(all) = lock(&self.processes).as_ref() {
            return Ok(all.clone());
        }
        let checkpoint = self.checkpoint.clone();
        let all = run(py, move || ProcessData::load_all(&checkpoint.levels()))?;
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

/// An opened checkpoint: an images directory, a tar / tar.gz / tar.zst
/// archive (Podman, CRI-O, kubelet) or a single image. Made by
/// `criu_images.open()`; use it as a context manager, or call `close()`.
///
/// After `close()` every method raises `CriuImagesError`. Objects already
/// handed out (Memory, Image, memoryviews from Memory.view()) stay valid:
/// they hold the checkpoint's data themselves, and the files are unmapped
/// when the last of them is gone.
#[pyclass(frozen, name = "Checkpoint", module = "criu_images")]
pub struct PyCheckpoint {
    path: PathBuf,
    format: &'static str,
    state: RwLock<Option<Arc<Shared>>>,
}

impl PyCheckpoint {
    pub(crate) fn open(
        py: Python<'_>,
        path: PathBuf,
        max_decompressed: Option<u64>,
        rootfs: Option<&Bound<'_, PyAny>>,
        image: Option<String>,
    ) -> PyResult<PyCheckpoint> {
        let default_rootfs = RootfsChoice::from_py(rootfs, &RootfsChoice::Auto)?;
        let mut options = OpenOptions { image, ..OpenOptions::default() };
        if let Some(limit) = max_decompressed {
            options.max_decompressed = limit;
        }
        let opened = run(py, || Checkpoint::open_with(&path, &options))?;
        let format = opened.archive().format().name();
        let shared = Shared {
            checkpoint: Arc::new(opened),
            default_rootfs,
            diff: Mutex::new(None),
            memories: Mutex::new(HashMap::new()),
            processes: Mutex::new(None),
        };
        Ok(PyCheckpoint { path, format, state: RwLock::new(Some(Arc::new(shared))) })
    }

    /// The open state, or `CriuImagesError` once closed.
    pub(crate) fn shared(&self) -> PyResult<Arc<Shared>> {
        let state = self.state.read().unwrap_or_else(|p| p.into_inner());
        state.clone().ok_or_else(|| CriuImagesError::new_err(format!("{}: the checkpoint is closed", self.path.display())))
    }

    fn checkpoint(&self) -> PyResult<Arc<Checkpoint>> {
        Ok(self.shared()?.checkpoint.clone())
    }

    /// The memory of `pid`, for `Checkpoint.memory` and `Process.memory`.
    pub(crate) fn memory_of(&self, py: Python<'_>, pid: u32, rootfs: RootfsChoice) -> PyResult<Memory> {
        let cell = self.shared()?.memory(py, pid, &rootfs)?;
        Ok(Memory::new(cell, rootfs.describe()))
    }
}

#[pymethods]
impl PyCheckpoint {
    /// The path given to `open()`.
    #[getter]
    fn path(&self) -> PathBuf {
        self.path.clone()
    }

    /// How the checkpoint is stored: `directory`, `tar`, `tar.gz`, `tar.zst`,
    /// `file`, `oci-archive`, `oci-layout` or `docker-archive`.
    #[getter]
    fn format(&self) -> &'static str {
        self.format
    }

    /// True once `close()` was called.
    #[getter]
    fn closed(&self) -> bool {
        self.state.read().unwrap_or_else(|p| p.into_inner()).is_none()
    }

    /// Releases the checkpoint. Objects handed out before keep working;
    /// the checkpoint itself raises `CriuImagesError` from now on.
    fn close(&self) {
        self.state.write().unwrap_or_else(|p| p.into_inner()).take();
    }

    /// Returns the checkpoint itself.
    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// Closes the checkpoint.
    #[pyo3(signature = (*_args))]
    fn __exit__(&self, _args: &Bound<'_, pyo3::types::PyTuple>) -> bool {
        self.close();
        false
    }

    /// Names of the files in the CRIU images directory (`checkpoint/` in
    /// container archives), e.g. `["core-1.img", "pstree.img", ...]`.
    fn images(&self) -> PyResult<Vec<String>> {
        Ok(self.checkpoint()?.image_names())
    }

    /// Image `name` of the images directory (e.g. `"pstree.img"`); raises
    /// `FormatError` for raw images such as `pages-1.img`.
    fn image(&self, py: Python<'_>, name: &str) -> PyResult<Image> {
        Image::new(py, self.checkpoint()?, name)
    }

    /// Every member of the archive (or file of the directory), sorted by name.
    fn members(&self) -> PyResult<Vec<Member>> {
        Ok(self.checkpoint()?.archive().members().map(|m| Member::new(m.name, m.size, m.kind)).collect())
    }

    /// The bytes of an archive member by its path from the top, e.g.
    /// `"config.dump"` or `"checkpoint/pstree.img"`.
    fn member<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyBytes>> {
        let checkpoint = self.checkpoint()?;
        let bytes = run(py, || checkpoint.member(name))?;
        Ok(PyBytes::new(py, bytes))
    }

    /// Process ids as `pstree.img` lists them (ids inside the container).
    #[getter]
    fn pids(&self, py: Python<'_>) -> PyResult<Vec<u32>> {
        let checkpoint = self.checkpoint()?;
        run(py, || checkpoint.pids())
    }

    /// Every process, in `pstree.img` order.
    #[getter]
    fn processes(slf: &Bound<'_, Self>) -> PyResult<Vec<Process>> {
        let py = slf.py();
        let all = slf.get().shared()?.processes(py)?;
        Ok(all.iter().map(|p| Process::new(p.clone(), slf.clone().unbind())).collect())
    }

    /// The process `pid`; raises `NotFoundError` if the checkpoint has none.
    fn process(slf: &Bound<'_, Self>, pid: u32) -> PyResult<Process> {
        let py = slf.py();
        let shared = slf.get().shared()?;
        let all = shared.processes(py)?;
        match all.iter().find(|p| p.pid == pid) {
            Some(p) => Ok(Process::new(p.clone(), slf.clone().unbind())),
            None => {
                // Every pstree.img task is loaded, so this is the crate's NotFound.
                let checkpoint = shared.checkpoint.clone();
                quick(py, || checkpoint.require_pid(pid))?;
                Err(CriuImagesError::new_err(format!("{}: process {pid} could not be loaded", slf.get().path.display())))
            }
        }
    }

    /// The address space of process `pid`, read through the pre-dump chain.
    ///
    /// `rootfs` fills the unmodified pages of file mappings, which CRIU does
    /// not dump: `None` (the default given to `open()`, itself `"auto"` by
    /// default), `"auto"` (the checkpoint's rootfs-diff.tar when it has one),
    /// `"none"` (they stay missing), `"diff"` (rootfs-diff.tar, required) or
    /// a directory holding the container's root filesystem, used after
    /// rootfs-diff.tar. The index is built once per (pid, rootfs) and shared.
    #[pyo3(signature = (pid, rootfs = None))]
    fn memory(&self, py: Python<'_>, pid: u32, rootfs: Option<&Bound<'_, PyAny>>) -> PyResult<Memory> {
        let choice = RootfsChoice::from_py(rootfs, &self.shared()?.default_rootfs)?;
        self.memory_of(py, pid, choice)
    }

    /// Finds `pattern` in the memory of every process (or of `pid`), like
    /// `Memory.search`; dead and zombie tasks have no memory and are skipped.
    /// `progress` counts the bytes of all of them.
    #[pyo3(signature = (pattern, *, regex = false, context = 0, perms = None, kind = None, pid = None, max_hits = None, rootfs = None, progress = None))]
    #[allow(clippy::too_many_arguments)]
    fn search<'py>(
        &self,
        py: Python<'py>,
        pattern: &Bound<'py, PyAny>,
        regex: bool,
        context: u64,
        perms: Option<String>,
        kind: Option<&Bound<'py, PyAny>>,
        pid: Option<u32>,
        max_hits: Option<usize>,
        rootfs: Option<&Bound<'py, PyAny>>,
        progress: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let pattern = to_pattern(py, pattern, regex)?;
        let mut options = search_options(context, perms, kind, None, max_hits)?;
        let shared = self.shared()?;
        let choice = RootfsChoice::from_py(rootfs, &shared.default_rootfs)?;
        let checkpoint = shared.checkpoint.clone();
        let pids = match pid {
            Some(pid) => {
                quick(py, || checkpoint.require_pid(pid))?;
                vec![pid]
            }
            None => run(py, || checkpoint.memory_pids())?,
        };
        let cells = pids.into_iter().map(|p| shared.memory(py, p, &choice)).collect::<PyResult<Vec<_>>>()?;
        let hits = run_with(py, progress, |counter| {
            options.progress = Some(counter.clone());
            search_all(cells.iter().map(|c| c.borrow_dependent()), &pattern, &options)
        })?;
        hits_to_py(py, hits)
    }

    /// Every image with protobuf entries (not pages-*.img and other raw
    /// files) decoded, as `{name: {"magic": ..., "entries": [...]}}` in name
    /// order: each value equals `criu_images.decode()` of that image, and
    /// crit's JSON. Images are rendered on a worker thread while this one
    /// turns the text into dicts. `progress` counts the images' bytes.
    #[pyo3(signature = (*, pretty = false, nopl = false, progress = None))]
    fn decode_all<'py>(
        &self,
        py: Python<'py>,
        pretty: bool,
        nopl: bool,
        progress: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let checkpoint = self.checkpoint()?;
        let callback = Callback::new(progress)?;
        crate::image::decode_all(py, &checkpoint, DecodeOptions { pretty, no_payload: nopl }, callback)
    }

    /// What the container engine recorded (Podman, CRI-O, containerd): the
    /// `container` object of `criu-images inspect --format json` (engine,
    /// name, id, image, pod, namespace, created, checkpointed, hostname, ip,
    /// network, annotations, ...); None for a plain CRIU images directory.
    #[getter]
    fn container<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let checkpoint = self.checkpoint()?;
        let text = run(py, || Ok(checkpoint.container()?.map(|c| c.to_json().to_string())))?;
        text.map(|t| crate::pyjson::loads(py, &t)).transpose()
    }

    /// The container image the checkpoint came in, as a dict (`form`,
    /// `kind`, `reference`, `digest`, `platform`, `choices`, `created`,
    /// `base_image`, `annotations`, `blobs` read with their sha256 digests);
    /// None when it did not come as an image.
    #[getter]
    fn container_image<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let checkpoint = self.checkpoint()?;
        let archive = checkpoint.archive();
        let text = archive.image().map(|image| {
            let mut value = image.to_json();
            value["form"] = serde_json::Value::from(archive.format().name());
            value.to_string()
        });
        text.map(|t| crate::pyjson::loads(py, &t)).transpose()
    }

    /// What of the checkpoint is present but could not be read (a corrupt
    /// `config.dump`, `stats-dump`, `dump.log` or `deleted.files`), one str
    /// each naming the part, the file, the offset and what was expected;
    /// empty when all can be read. The rest of the checkpoint still reads.
    #[getter]
    fn warnings(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        let checkpoint = self.checkpoint()?;
        run(py, || Ok(checkpoint.warnings().iter().map(ToString::to_string).collect()))
    }

    /// A table as a `pyarrow.Table`: `"processes"` (one row per process),
    /// `"vmas"` (memory areas of every process with their page counts),
    /// `"fds"` (open file descriptors) or `"sockets"` (socket descriptors
    /// with addresses, ports, states and queued bytes). Columns are listed
    /// in docs/python.md. Needs pyarrow (`pip install 'criu-images[tables]'`).
    fn to_arrow<'py>(slf: &Bound<'py, Self>, kind: &str) -> PyResult<Bound<'py, PyAny>> {
        table(slf, kind, "to_arrow", false)
    }

    /// A table as a `pandas.DataFrame`, with the columns of `to_arrow()`;
    /// integer columns have pandas' nullable dtypes (`UInt64`, ...). Needs
    /// pandas and pyarrow (`pip install 'criu-images[tables]'`).
    fn to_pandas<'py>(slf: &Bound<'py, Self>, kind: &str) -> PyResult<Bound<'py, PyAny>> {
        table(slf, kind, "to_pandas", true)
    }

    /// The files the container changed or added (`rootfs-diff.tar`, written
    /// by Podman and CRI-O), or None if the checkpoint has none.
    #[getter]
    fn rootfs_diff(&self, py: Python<'_>) -> PyResult<Option<RootfsDiff>> {
        let cell = self.shared()?.diff(py)?;
        if cell.borrow_dependent().is_none() {
            return Ok(None);
        }
        Ok(Some(RootfsDiff { cell }))
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let path = self.path.display();
        match self.shared() {
            Err(_) => format!("<Checkpoint {path:?} {} (closed)>", self.format),
            Ok(shared) => {
                let checkpoint = shared.checkpoint.clone();
                match run(py, || checkpoint.pids()) {
                    Ok(pids) => format!("<Checkpoint {path:?} {} pids={pids:?}>", self.format),
                    Err(_) => format!("<Checkpoint {path:?} {}>", self.format),
                }
            }
        }
    }

    /// The processes as an HTML table, for notebooks.
    fn _repr_html_(slf: &Bound<'_, Self>) -> PyResult<String> {
        display::html(slf.py(), "checkpoint_html", slf.as_any())
    }
}

/// `Checkpoint.to_arrow(kind)` or `.to_pandas(kind)`.
fn table<'py>(slf: &Bound<'py, PyCheckpoint>, kind: &str, method: &str, pandas: bool) -> PyResult<Bound<'py, PyAny>> {
    let py = slf.py();
    if !tables::KINDS.contains(&kind) {
        return Err(tables::unknown_kind(kind));
    }
    let module = py.import("criu_images._tables")?;
    module.getattr("require")?.call1((format!("Checkpoint.{method}()"), pandas))?;
    let shared = slf.get().shared()?;
    let columns = if kind == "vmas" {
        let checkpoint = shared.checkpoint.clone();
        let pids = run(py, || checkpoint.memory_pids())?;
        let cells = pids.into_iter().map(|p| shared.memory(py, p, &shared.default_rootfs)).collect::<PyResult<Vec<_>>>()?;
        let memories: Vec<_> = cells.iter().map(|c| c.borrow_dependent()).collect();
        tables::vmas(&memories)
    } else {
        let all = shared.processes(py)?;
        let processes: Vec<&ProcessData> = all.iter().map(|p| &**p).collect();
        match kind {
            "processes" => tables::processes(&processes),
            "fds" => tables::fds(&processes),
            _ => tables::sockets(&processes),
        }
    };
    module.getattr(method)?.call1((tables::to_py(py, &columns)?,))
}

/// A member of a checkpoint archive (or of rootfs-diff.tar).
#[pyclass(frozen, get_all, module = "criu_images")]
pub struct Member {
    /// Path from the top of the archive, normalised (`checkpoint/pstree.img`).
    name: String,
    /// Size in bytes (0 for directories and links).
    size: u64,
    /// `file`, `directory`, `symlink`, `hardlink` or `special`.
    kind: &'static str,
    /// The target of a link, as stored; None for other kinds.
    target: Option<String>,
}

impl Member {
    fn new(name: &str, size: u64, kind: &MemberKind) -> Member {
        Member { name: name.to_string(), size, kind: kind.name(), target: kind.target().map(str::to_string) }
    }
}

#[pymethods]
impl Member {
    fn __repr__(&self) -> String {
        match &self.target {
            Some(target) => format!("<Member {:?} {} -> {:?}>", self.name, self.kind, target),
            None => format!("<Member {:?} {} size={}>", self.name, self.kind, self.size),
        }
    }
}

/// `rootfs-diff.tar`: the files a container changed or added, indexed
/// without extracting them.
#[pyclass(frozen, module = "criu_images")]
pub struct RootfsDiff {
    cell: Arc<DiffCell>,
}

impl RootfsDiff {
    fn view(&self) -> Option<&TarView<'_>> {
        self.cell.borrow_dependent().as_ref()
    }
}

#[pymethods]
impl RootfsDiff {
    /// Every member, sorted by name.
    fn members(&self) -> Vec<Member> {
        self.view().map(|v| v.members().map(|(name, size, kind)| Member::new(name, size, kind)).collect()).unwrap_or_default()
    }

    /// The bytes of a regular file, by member name or absolute path
    /// (`"/etc/passwd"`); raises `NotFoundError` if the diff does not have it.
    fn read<'py>(&self, py: Python<'py>, path: &str) -> PyResult<Bound<'py, PyBytes>> {
        match self.view().and_then(|v| v.get(path)) {
            Some(bytes) => Ok(PyBytes::new(py, bytes)),
            None => Err(crate::errors::to_py(
                py,
                Error::NotFound {
                    container: format!("{}:rootfs-diff.tar", self.cell.borrow_owner().archive().display_name()),
                    name: format!("file {path}"),
                    hint: String::new(),
                },
            )),
        }
    }

    /// Whether the diff has this regular file (member name or absolute path).
    fn __contains__(&self, path: &str) -> bool {
        self.view().is_some_and(|v| v.get(path).is_some())
    }

    /// Number of members.
    fn __len__(&self) -> usize {
        self.view().map_or(0, |v| v.members().count())
    }

    fn __repr__(&self) -> String {
        format!("<RootfsDiff {} members>", self.__len__())
    }
}
