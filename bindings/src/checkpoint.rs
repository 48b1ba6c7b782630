//! `Checkpoint`, its archive members and `rootfs-diff.tar`: the facade
//! over the state (`crate::state`) that hands out images, processes and
//! memory.

use std::path::PathBuf;
use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use criu_images::archive::{MemberKind, OpenOptions, TarStat, TarView};
use criu_images::json::DecodeOptions;
use criu_images::memory::search_all;
use criu_images::{Checkpoint, Error};

use crate::arrow_stream::ArrowTable;
use crate::display;
use crate::errors::{quick, run, CriuImagesError};
use crate::image::Image;
use crate::memory::{hits_to_py, search_options, to_pattern, Memory};
use crate::process::Process;
use crate::progress::{run_indexed, Callback};
use crate::state::{DiffCell, Handle, RootfsChoice, Shared};
use crate::tables;

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
    format: &'static str,
    handle: Arc<Handle>,
}

impl PyCheckpoint {
    pub(crate) fn open(
        py: Python<'_>,
        path: PathBuf,
        max_decompressed: Option<u64>,
        rootfs: Option<&Bound<'_, PyAny>>,
        image: Option<String>,
        id: Option<String>,
    ) -> PyResult<PyCheckpoint> {
        let default_rootfs = RootfsChoice::from_py(rootfs, &RootfsChoice::Auto)?;
        let mut options = OpenOptions { image, ..OpenOptions::default() };
        if let Some(limit) = max_decompressed {
            options.max_decompressed = limit;
        }
        let opened = run(py, || Checkpoint::open_with(&path, &options))?;
        let format = opened.archive().format().name();
        let id = id.unwrap_or_else(|| path.to_string_lossy().into_owned());
        Ok(PyCheckpoint { format, handle: Arc::new(Handle::new(path, id, opened, default_rootfs)) })
    }

    /// The open state, or `CriuImagesError` once closed.
    pub(crate) fn shared(&self) -> PyResult<Arc<Shared>> {
        self.handle.shared()
    }

    fn checkpoint(&self) -> PyResult<Arc<Checkpoint>> {
        Ok(self.shared()?.checkpoint.clone())
    }
}

#[pymethods]
impl PyCheckpoint {
    /// The path given to `open()`.
    #[getter]
    fn path(&self) -> PathBuf {
        self.handle.path().to_path_buf()
    }

    /// The id in the `checkpoint` column of its tables: `open(path, id=...)`,
    /// by default the path as given.
    #[getter]
    fn id(&self) -> PyResult<String> {
        Ok(self.shared()?.id.clone())
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
        self.handle.is_closed()
    }

    /// Releases the checkpoint. Objects handed out before keep working;
    /// the checkpoint itself raises `CriuImagesError` from now on.
    fn close(&self) {
        self.handle.close();
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

    /// Every image with protobuf entries (the images `decode_all` decodes)
    /// as `{name: criu_images.Table}` in name order, decoded on several threads.
    fn image_tables<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let checkpoint = self.checkpoint()?;
        crate::entry_table::all_tables(py, &checkpoint)
    }

    /// Every image of `kind` (`"pagemap"`, `"core"`, `"INETSK"`, ...) as one
    /// `criu_images.Table`: `checkpoint` (`Checkpoint.id`), `image`, the id from the file name
    /// (e.g. `pid`), then the entry columns (docs/python.md).
    fn image_table(&self, py: Python<'_>, kind: &str) -> PyResult<ArrowTable> {
        let shared = self.shared()?;
        crate::entry_table::checkpoint_table(py, &shared.checkpoint, &shared.id, kind)
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
    fn processes(&self, py: Python<'_>) -> PyResult<Vec<Process>> {
        let all = self.shared()?.processes(py)?;
        Ok(all.iter().map(|p| Process::new(p.clone(), self.handle.clone())).collect())
    }

    /// The process `pid`; raises `NotFoundError` if the checkpoint has none.
    fn process(&self, py: Python<'_>, pid: u32) -> PyResult<Process> {
        let shared = self.shared()?;
        let all = shared.processes(py)?;
        match all.iter().find(|p| p.pid == pid) {
            Some(p) => Ok(Process::new(p.clone(), self.handle.clone())),
            None => {
                // Every pstree.img task is loaded, so this is the crate's NotFound.
                let checkpoint = shared.checkpoint.clone();
                quick(py, || checkpoint.require_pid(pid))?;
                Err(CriuImagesError::new_err(format!("{}: process {pid} could not be loaded", self.handle.path().display())))
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
    /// `progress`, as in `search()`, counts the pagemap bytes a build reads
    /// (`(0, 0)` when the index was built already).
    #[pyo3(signature = (pid, rootfs = None, *, progress = None))]
    fn memory(&self, py: Python<'_>, pid: u32, rootfs: Option<&Bound<'_, PyAny>>, progress: Option<&Bound<'_, PyAny>>) -> PyResult<Memory> {
        let shared = self.shared()?;
        let choice = RootfsChoice::from_py(rootfs, &shared.default_rootfs)?;
        Memory::of(py, &shared, pid, choice, progress)
    }

    /// Finds `pattern` in the memory of every process (or of `pid`), like
    /// `Memory.search`; dead and zombie tasks have no memory and are skipped.
    /// `progress` counts the bytes of all of them.
    #[pyo3(signature = (pattern, *, regex = false, ignore_case = false, context = 0, perms = None, kind = None, pid = None, max_hits = None, rootfs = None, progress = None))]
    #[allow(clippy::too_many_arguments)]
    fn search<'py>(
        &self,
        py: Python<'py>,
        pattern: &Bound<'py, PyAny>,
        regex: bool,
        ignore_case: bool,
        context: u64,
        perms: Option<String>,
        kind: Option<&Bound<'py, PyAny>>,
        pid: Option<u32>,
        max_hits: Option<usize>,
        rootfs: Option<&Bound<'py, PyAny>>,
        progress: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let pattern = to_pattern(py, pattern, regex, ignore_case)?;
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
        // The indexes not built yet are built first, counted in the same
        // `progress` (their pagemap bytes) and stopped by Ctrl-C as the search.
        let (hits, cells) = run_indexed(py, progress, |index, counter| {
            let cells = pids.iter().map(|&p| shared.memory_counted(p, &choice, index)).collect::<criu_images::Result<Vec<_>>>()?;
            options.progress = Some(counter.clone());
            Ok((search_all(cells.iter().map(|c| c.index()), &pattern, &options)?, cells))
        })?;
        hits_to_py(py, hits, &cells, &shared.id)
    }

    /// YARA rules over the memory of every process (or of `pid`), area by
    /// area at the real virtual addresses (docs/yara.md); with `files=True`
    /// also the files of rootfs-diff.tar and the deleted files the checkpoint
    /// holds. `rules`: a `YaraRules`, a rules file path or rules source.
    /// Returns a `YaraHits` list of dicts (`pid`, `rule`, `namespace`,
    /// `tags`, `metadata`, `string`, `address`, `vma`, `matched_hex`, ...;
    /// `path` instead of `pid`/`vma` for files) with `to_pandas()` /
    /// `to_arrow()`. GIL released; `progress` and Ctrl-C as in `search()`.
    #[pyo3(signature = (rules, *, pid = None, perms = None, kind = None, files = false, max_hits = None, context = 16, progress = None))]
    #[allow(clippy::too_many_arguments)]
    fn yara<'py>(
        &self,
        py: Python<'py>,
        rules: &Bound<'py, PyAny>,
        pid: Option<u32>,
        perms: Option<String>,
        kind: Option<&Bound<'py, PyAny>>,
        files: bool,
        max_hits: Option<usize>,
        context: usize,
        progress: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let rules = crate::yara::compile(py, rules)?;
        let kinds = crate::memory::vma_kinds(kind)?;
        let shared = self.shared()?;
        let checkpoint = shared.checkpoint.clone();
        if let Some(pid) = pid {
            quick(py, || checkpoint.require_pid(pid))?;
        }
        let report = run_indexed(py, progress, |_, counter| {
            let options = criu_images::yara::YaraOptions { pid, perms, kinds, files, max_hits, context, progress: Some(counter) };
            criu_images::yara::scan_checkpoint(&checkpoint, &rules, &options)
        })?;
        crate::yara::hits_to_py(py, &report, &shared.id)
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
        let value = run(py, || Ok(checkpoint.container()?.map(|c| c.to_json())))?;
        value.map(|v| crate::pyvalue::to_py(py, &v)).transpose()
    }

    /// Triage: suspicious traces as a list of dicts (`id`, `severity`
    /// info|low|medium|high, `pid` or None, `summary`, `evidence`), most
    /// severe first; the checks are described in docs/triage.md. Credentials
    /// found in memory are masked unless `show_secrets`; `rootfs`, a directory
    /// holding the container's root filesystem, lets modified code pages be
    /// compared with their files. Runs with the GIL released.
    #[pyo3(signature = (*, show_secrets = false, rootfs = None))]
    fn findings<'py>(&self, py: Python<'py>, show_secrets: bool, rootfs: Option<PathBuf>) -> PyResult<Bound<'py, PyAny>> {
        let checkpoint = self.checkpoint()?;
        crate::triage::findings(py, &checkpoint, show_secrets, rootfs.map(|p| p.to_string_lossy().into_owned()))
    }

    /// The container image the checkpoint came in, as a dict (`form`,
    /// `kind`, `reference`, `digest`, `platform`, `choices`, `created`,
    /// `base_image`, `annotations`, `blobs` read with their sha256 digests);
    /// None when it did not come as an image.
    #[getter]
    fn container_image<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let checkpoint = self.checkpoint()?;
        let archive = checkpoint.archive();
        let value = archive.image().map(|image| {
            let mut value = image.to_json();
            value["form"] = serde_json::Value::from(archive.format().name());
            value
        });
        value.map(|v| crate::pyvalue::to_py(py, &v)).transpose()
    }

    /// The process tree: `str()` of it is an indented text tree (pid, comm,
    /// state, threads, uid, command line), and it renders as HTML in notebooks.
    fn tree<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        display::call(slf.py(), "process_tree", slf.as_any())
    }

    /// Every socket of every process, one dict per process and descriptor,
    /// with the other end linked when it is in the checkpoint: the rows of
    /// `criu-images net --format json` (docs/network.md): `pid`, `comm`,
    /// `fd`, `family`, `protocol`, `type`, `state`, `local_address`,
    /// `local_port`, `peer_address`, `peer_port`, `inode`, `peer_inode`,
    /// `listening`, `inq_bytes`, `outq_bytes`, `queued_packets`,
    /// `queued_bytes`, `peers` (list of {"pid", "fd"}) and `listener`.
    fn connections<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let checkpoint = self.checkpoint()?;
        let rows = run(py, || Ok(checkpoint.connections()?.iter().map(|c| c.to_json()).collect::<Vec<_>>()))?;
        crate::pyvalue::to_py(py, &serde_json::Value::Array(rows))
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

    /// A table as a `criu_images.Table` (Arrow record batches, read by
    /// pyarrow, Polars and DuckDB through the Arrow PyCapsule interface):
    /// `"processes"` (one row per process), `"threads"`, `"vmas"` (memory
    /// areas of every process with their page counts), `"fds"` (open file
    /// descriptors), `"sockets"` (socket descriptors with addresses, ports,
    /// states and queued bytes), `"connections"` (`criu-images net`) or
    /// `"findings"` (triage). Every table starts with a `checkpoint` column
    /// (`Checkpoint.id`). Columns are listed in docs/python.md.
    fn table(&self, py: Python<'_>, kind: &str) -> PyResult<ArrowTable> {
        tables::checkpoint_table(py, &*self.shared()?, kind)
    }

    /// `table(kind)` as a `pyarrow.Table`. Needs pyarrow
    /// (`pip install 'criu-images[tables]'`).
    fn to_arrow<'py>(&self, py: Python<'py>, kind: &str) -> PyResult<Bound<'py, PyAny>> {
        let table = Bound::new(py, self.table(py, kind)?)?;
        py.import("criu_images._tables")?.getattr("to_arrow")?.call1((table, "Checkpoint.to_arrow()"))
    }

    /// `table(kind)` as a `pandas.DataFrame`; integer columns have pandas'
    /// nullable dtypes (`UInt64`, ...). Needs pandas and pyarrow
    /// (`pip install 'criu-images[tables]'`).
    fn to_pandas<'py>(&self, py: Python<'py>, kind: &str) -> PyResult<Bound<'py, PyAny>> {
        let table = Bound::new(py, self.table(py, kind)?)?;
        py.import("criu_images._tables")?.getattr("to_pandas")?.call1((table, "Checkpoint.to_pandas()"))
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
        let path = self.handle.path().display();
        match self.shared() {
            Err(_) => format!("<Checkpoint {path:?} ({}, closed)>", self.format),
            Ok(shared) => {
                let checkpoint = shared.checkpoint.clone();
                // As a person would write it: "tar.zst, 1 process".
                match run(py, || checkpoint.pids()) {
                    Ok(pids) if pids.len() == 1 => format!("<Checkpoint {path:?} ({}, 1 process: pid {})>", self.format, pids[0]),
                    Ok(pids) => format!("<Checkpoint {path:?} ({}, {} processes: pids {pids:?})>", self.format, pids.len()),
                    Err(_) => format!("<Checkpoint {path:?} ({})>", self.format),
                }
            }
        }
    }

    /// What changed from this checkpoint (the old one) to `other` (the
    /// new one): a `Diff` (docs/diff.md). `memory=False` leaves out the
    /// page comparison; `pid` keeps one process (its pid on either side);
    /// `progress`, as in `search()`, counts the bytes of pages compared.
    /// Errors name the side (`old: ...`, `new: ...`).
    #[pyo3(signature = (other, memory = true, *, pid = None, progress = None))]
    fn diff(
        &self,
        py: Python<'_>,
        other: PyRef<'_, PyCheckpoint>,
        memory: bool,
        pid: Option<u32>,
        progress: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<crate::diff::Diff> {
        let (old, new) = (self.checkpoint()?, other.checkpoint()?);
        crate::diff::compute(py, old, new, other.shared()?.id.clone(), memory, pid, progress)
    }

    /// The processes as an HTML table, for notebooks.
    fn _repr_html_(slf: &Bound<'_, Self>) -> PyResult<String> {
        display::html(slf.py(), "checkpoint_html", slf.as_any())
    }
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
    /// Permission bits from the tar header (`0o644`), for members of
    /// `rootfs_diff`; None for the checkpoint archive's members.
    mode: Option<u32>,
    /// Owner's user id (rootfs_diff members).
    uid: Option<u64>,
    /// Owner's group id (rootfs_diff members).
    gid: Option<u64>,
    /// Modification time, seconds since the epoch (rootfs_diff members).
    mtime: Option<u64>,
}

impl Member {
    fn new(name: &str, size: u64, kind: &MemberKind) -> Member {
        Member {
            name: name.to_string(),
            size,
            kind: kind.name(),
            target: kind.target().map(str::to_string),
            mode: None,
            uid: None,
            gid: None,
            mtime: None,
        }
    }

    fn with_stat(self, stat: Option<TarStat>) -> Member {
        match stat {
            Some(st) => Member { mode: Some(st.mode), uid: Some(st.uid), gid: Some(st.gid), mtime: Some(st.mtime), ..self },
            None => self,
        }
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
    /// Every member, sorted by name, with mode, owner and time.
    fn members(&self) -> Vec<Member> {
        self.view()
            .map(|v| v.members().map(|(name, size, kind)| Member::new(name, size, kind).with_stat(v.stat(name))).collect())
            .unwrap_or_default()
    }

    /// The members as a `pandas.DataFrame`: `name`, `kind`, `size`, `mode`
    /// (int), `permissions` (`-rwxr-xr-x`), `uid`, `gid`, `mtime`
    /// (a UTC timestamp), `target`. Needs pandas.
    fn to_pandas<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        display::call(slf.py(), "rootfs_diff_frame", slf.as_any())
    }

    /// The members as an HTML table with sizes and modes, for notebooks.
    fn _repr_html_(slf: &Bound<'_, Self>) -> PyResult<String> {
        display::html(slf.py(), "rootfs_diff_html", slf.as_any())
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
