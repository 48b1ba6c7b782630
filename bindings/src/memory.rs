//! `Memory`: one process's address space, its regions, reads, zero-copy
//! views, search and strings; and the records they return.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString};

use criu_images::memory::{self, Encoding, Pattern, ProcessMemory, SearchCursor, SearchOptions, StringsCursor, VmaKind};
use criu_images::Error;

use crate::area::{origin_names, PyVma};
use crate::buffer;
use crate::display;
use crate::errors::{quick, run, to_py, CriuImagesError};
use crate::progress::run_with;
use crate::state::{MemoryCell, RootfsChoice, Shared};

/// The address space of one process, reconstructed from `mm`, `pagemap`
/// and `pages` images through the pre-dump chain. Every byte of every
/// region is *dumped* (its bytes are in the checkpoint), *zero*, or
/// *missing* (lazy pages, unmodified file pages, kernel areas). The page
/// index is built once and serves every call; it is safe to use from
/// several threads.
#[pyclass(frozen, module = "criu_images")]
pub struct Memory {
    cell: Arc<MemoryCell>,
    rootfs: Option<String>,
    /// The checkpoint's id (`Checkpoint.id`), for the tables of its hits.
    id: String,
}

impl Memory {
    /// The memory of `pid` with file pages from `rootfs`, for
    /// `Checkpoint.memory` and `Process.memory`; `progress` is the user's
    /// callback for the index build.
    pub(crate) fn of(
        py: Python<'_>,
        shared: &Shared,
        pid: u32,
        rootfs: RootfsChoice,
        progress: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Memory> {
        let cell = shared.memory_reporting(py, pid, &rootfs, progress)?;
        Ok(Memory { cell, rootfs: rootfs.describe(), id: shared.id.clone() })
    }

    fn index(&self) -> &ProcessMemory<'_> {
        self.cell.borrow_dependent()
    }

    /// The strings of `strings()` / `strings_table()`, given to `then` with
    /// the GIL released and progress counted.
    #[allow(clippy::too_many_arguments)]
    fn find_strings<T: Send>(
        &self,
        py: Python<'_>,
        min_len: usize,
        encodings: Option<&Bound<'_, PyAny>>,
        perms: Option<String>,
        kind: Option<&Bound<'_, PyAny>>,
        range: Option<(u64, u64)>,
        progress: Option<&Bound<'_, PyAny>>,
        then: impl FnOnce(Vec<criu_images::memory::StringHit>) -> criu_images::Result<T> + Send,
    ) -> PyResult<T> {
        let encodings = parse_encodings(encodings)?;
        let mut options = search_options(0, perms, kind, range, None)?;
        run_with(py, progress, |counter| {
            options.progress = Some(counter.clone());
            then(self.index().strings(min_len, &encodings, &options)?)
        })
    }
}

#[pymethods]
impl Memory {
    /// The process id as the images hold it.
    #[getter]
    fn pid(&self) -> u32 {
        self.index().pid()
    }

    /// The page size of the checkpointed machine.
    #[getter]
    fn page_size(&self) -> u64 {
        self.index().page_size()
    }

    /// The root filesystem unmodified file pages are filled from: None,
    /// `"diff"` or a directory.
    #[getter]
    fn rootfs(&self) -> Option<String> {
        self.rootfs.clone()
    }

    /// Memory areas (VMAs) in address order, with their page counts.
    fn regions(&self) -> Vec<PyVma> {
        PyVma::of_memory(&self.cell)
    }

    /// The `size` bytes at `addr`, as bytes (zero pages read as zeros).
    /// Raises `MemoryReadError` if any byte is unmapped or not in the checkpoint.
    fn read<'py>(&self, py: Python<'py>, addr: u64, size: u64) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = run(py, || self.index().read(addr, size))?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// The `size` bytes at `addr` as a read-only memoryview.
    ///
    /// When the range lies in one run of dumped pages (the usual case for
    /// a region CRIU wrote in one piece), the view is over the checkpoint's
    /// mapped pages, without a copy: its `obj` is a `PagesBuffer` that keeps
    /// the checkpoint open. Otherwise (a range spanning zero pages or
    /// several runs) the bytes are assembled into a new bytes object and the
    /// view is over that copy. Raises `MemoryReadError` like `read()`.
    fn view<'py>(&self, py: Python<'py>, addr: u64, size: u64) -> PyResult<Bound<'py, PyAny>> {
        let index = self.index();
        match run(py, || index.read(addr, size))? {
            Cow::Borrowed(bytes) => buffer::memoryview(py, Box::new(self.cell.clone()), bytes, index.pid(), addr),
            // Not one contiguous run: the bytes had to be assembled.
            Cow::Owned(bytes) => {
                let copy = PyBytes::new(py, &bytes);
                py.import("builtins")?.getattr("memoryview")?.call1((copy,))
            }
        }
    }

    /// The NUL-terminated string at `addr`, without the NUL, reading at
    /// most `max` bytes.
    #[pyo3(signature = (addr, max = 4096))]
    fn read_cstring<'py>(&self, py: Python<'py>, addr: u64, max: u64) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = quick(py, || self.index().read_cstring(addr, max))?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// Finds `pattern` in this process's memory.
    ///
    /// `pattern` is bytes or str (searched as UTF-8); with `regex=True` it
    /// is a regular expression over bytes (Rust `regex` syntax, `.` and
    /// classes match bytes). `context` bytes before and after each match are
    /// returned in `Hit.context`. `perms` keeps regions whose permissions
    /// match (`"r-x"`, `"rw"`, `"rw-p"`); `kind` keeps regions of a kind or
    /// kinds (`heap`, `stack`, `anon`, `file`, `shared`, `vdso`); `range`
    /// is `(start, end)`. Matches that straddle pages or regions are found
    /// wherever memory is contiguous. Returns a `SearchResults` list of `Hit`
    /// (with `to_arrow()` and `to_pandas()`).
    ///
    /// `progress`: a callable `f(done, total)` or a tqdm bar, called from
    /// this thread a few times a second with the bytes searched, and at the
    /// end with `done == total`; an exception it raises stops the search
    /// and is raised here.
    #[pyo3(signature = (pattern, *, regex = false, ignore_case = false, context = 0, perms = None, kind = None, range = None, max_hits = None, progress = None))]
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
        range: Option<(u64, u64)>,
        max_hits: Option<usize>,
        progress: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let pattern = to_pattern(py, pattern, regex, ignore_case)?;
        let mut options = search_options(context, perms, kind, range, max_hits)?;
        let hits = run_with(py, progress, |counter| {
            options.progress = Some(counter.clone());
            self.index().search(&pattern, &options)
        })?;
        hits_to_py(py, hits, std::slice::from_ref(&self.cell), &self.id)
    }

    /// YARA rules over this process's memory, area by area at the real
    /// virtual addresses, as `Checkpoint.yara()` (docs/yara.md).
    #[pyo3(signature = (rules, *, perms = None, kind = None, max_hits = None, context = 16, progress = None))]
    #[allow(clippy::too_many_arguments)]
    fn yara<'py>(
        &self,
        py: Python<'py>,
        rules: &Bound<'py, PyAny>,
        perms: Option<String>,
        kind: Option<&Bound<'py, PyAny>>,
        max_hits: Option<usize>,
        context: usize,
        progress: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let rules = crate::yara::compile(py, rules)?;
        let kinds = vma_kinds(kind)?;
        let options = criu_images::yara::YaraOptions { pid: None, perms, kinds, files: false, max_hits, context, progress: None };
        crate::yara::scan(py, &[self.index()], &rules, options, progress, &self.id)
    }

    /// Printable strings of at least `min_len` characters, in address order.
    /// `encodings`: `"ascii"` (the default) and/or `"utf-16le"`; `perms`, `kind` and
    /// `range` select regions as in `search()`. `progress` as in `search()`
    /// (bytes read, once per encoding).
    #[pyo3(signature = (min_len = 4, encodings = None, *, perms = None, kind = None, range = None, progress = None))]
    #[allow(clippy::too_many_arguments)]
    fn strings(
        &self,
        py: Python<'_>,
        min_len: usize,
        encodings: Option<&Bound<'_, PyAny>>,
        perms: Option<String>,
        kind: Option<&Bound<'_, PyAny>>,
        range: Option<(u64, u64)>,
        progress: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Vec<StringHit>> {
        let found = self.find_strings(py, min_len, encodings, perms, kind, range, progress, Ok)?;
        Ok(found.into_iter().map(StringHit::from).collect())
    }

    /// `strings()` as a `criu_images.Table` (Arrow; `to_arrow()`,
    /// `to_pandas()`, `to_polars()`), the `strings` table of `criu-images
    /// export`: `checkpoint`, `pid`, `address`, `encoding`, `text`. No
    /// Python object per string: the way to take millions of them.
    #[pyo3(signature = (min_len = 4, encodings = None, *, perms = None, kind = None, range = None, progress = None))]
    #[allow(clippy::too_many_arguments)]
    fn strings_table(
        &self,
        py: Python<'_>,
        min_len: usize,
        encodings: Option<&Bound<'_, PyAny>>,
        perms: Option<String>,
        kind: Option<&Bound<'_, PyAny>>,
        range: Option<(u64, u64)>,
        progress: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<crate::arrow_stream::ArrowTable> {
        let table = self.find_strings(py, min_len, encodings, perms, kind, range, progress, |found| {
            criu_images::tables::strings(&self.id, &found.iter().collect::<Vec<_>>())
        })?;
        Ok(crate::tables::to_py(table))
    }

    /// Like `search()`, as an iterator of `Hit` in address order: hits are
    /// found a batch at a time (a few MiB per core, in parallel, with the
    /// GIL released) as the loop asks for them, so memory holds one batch,
    /// not every hit. `max_hits=None`: every hit. Ctrl-C stops a batch.
    #[pyo3(signature = (pattern, *, regex = false, ignore_case = false, context = 0, perms = None, kind = None, range = None, max_hits = None))]
    #[allow(clippy::too_many_arguments)]
    fn search_iter<'py>(
        &self,
        py: Python<'py>,
        pattern: &Bound<'py, PyAny>,
        regex: bool,
        ignore_case: bool,
        context: u64,
        perms: Option<String>,
        kind: Option<&Bound<'py, PyAny>>,
        range: Option<(u64, u64)>,
        max_hits: Option<usize>,
    ) -> PyResult<HitIterator> {
        let pattern = to_pattern(py, pattern, regex, ignore_case)?;
        let options = search_options(context, perms, kind, range, max_hits)?;
        let cursor = self.index().search_cursor(&options);
        Ok(HitIterator { cell: self.cell.clone(), pattern, options, cursor, batch: VecDeque::new() })
    }

    /// Like `strings()`, as an iterator of `StringHit` in address order,
    /// found a batch at a time as the loop asks for them (see `search_iter()`).
    #[pyo3(signature = (min_len = 4, encodings = None, *, perms = None, kind = None, range = None))]
    fn strings_iter(
        &self,
        min_len: usize,
        encodings: Option<&Bound<'_, PyAny>>,
        perms: Option<String>,
        kind: Option<&Bound<'_, PyAny>>,
        range: Option<(u64, u64)>,
    ) -> PyResult<StringIterator> {
        let encodings = parse_encodings(encodings)?;
        let options = search_options(0, perms, kind, range, None)?;
        let cursor = self.index().strings_cursor(min_len, &encodings, &options);
        Ok(StringIterator { cell: self.cell.clone(), options, cursor, batch: VecDeque::new() })
    }

    /// Writes memory to the file `path`: `addr` and `size`, or the whole
    /// region containing `vma` (an address, or a Vma). File offset =
    /// address - start; zero and missing pages are holes (zeros). Returns
    /// `{"start", "size", "dumped", "missing"}` (bytes). `progress` as in
    /// `search()` (bytes written); when it raises, the incomplete file is removed.
    #[pyo3(signature = (path, *, addr = None, size = None, vma = None, progress = None))]
    fn dump<'py>(
        &self,
        py: Python<'py>,
        path: PathBuf,
        addr: Option<u64>,
        size: Option<u64>,
        vma: Option<&Bound<'py, PyAny>>,
        progress: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let index = self.index();
        let (start, end) = match (addr, size, vma) {
            (Some(addr), Some(size), None) => match addr.checked_add(size) {
                Some(end) => (addr, end),
                None => {
                    let detail = format!("size {size:#x} from {addr:#x} runs past the end of the address space");
                    return Err(to_py(py, Error::Memory { pid: index.pid(), address: addr, detail, checkpoint: String::new() }));
                }
            },
            (None, None, Some(vma)) => {
                let inside: u64 = match vma.extract() {
                    Ok(address) => address,
                    Err(_) => vma.getattr("start")?.extract()?,
                };
                let area = quick(py, || index.area_containing(inside).map(|v| (v.start, v.end)))?;
                area
            }
            _ => return Err(PyValueError::new_err("give addr and size, or vma")),
        };
        let summary = run_with(py, progress, |counter| index.dump_with(start, end, &path, Some(counter)))?;
        let out = PyDict::new(py);
        out.set_item("start", start)?;
        out.set_item("size", summary.size)?;
        out.set_item("dumped", summary.dumped)?;
        out.set_item("missing", summary.missing)?;
        Ok(out)
    }

    fn __repr__(&self) -> String {
        let index = self.index();
        let dumped: u64 = (0..index.vmas().len()).map(|i| index.page_counts(i).dumped).sum();
        let rootfs = self.rootfs.as_deref().map(|r| format!(" rootfs={r:?}")).unwrap_or_default();
        format!(
            "<Memory pid={} regions={} dumped={} KiB page_size={}{rootfs}>",
            index.pid(),
            index.vmas().len(),
            dumped * index.page_size() / 1024,
            index.page_size()
        )
    }

    /// The regions as an HTML table, for notebooks.
    fn _repr_html_(slf: &Bound<'_, Self>) -> PyResult<String> {
        display::html(slf.py(), "memory_html", slf.as_any())
    }
}

/// `encodings=`: a str or a sequence of str, `ascii` by default.
fn parse_encodings(encodings: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<Encoding>> {
    let encodings = one_or_many(encodings)?.unwrap_or_else(|| vec!["ascii".to_string()]);
    encodings
        .iter()
        .map(|e| Encoding::parse(e).ok_or_else(|| PyValueError::new_err(format!("unknown encoding {e:?}: use \"ascii\" or \"utf-16le\""))))
        .collect()
}

/// Hits (or strings) an iterator asks the crate for at a time.
const ITER_BATCH: usize = 1024;

/// The next item of a batched iterator: when `batch` is empty, `fetch`
/// refills it with up to [`ITER_BATCH`] items from the cursor, with the GIL
/// released and `options` counting into a progress that Ctrl-C cancels.
fn next_batched<T: Send>(
    py: Python<'_>,
    batch: &mut VecDeque<T>,
    options: &SearchOptions,
    fetch: impl FnOnce(&SearchOptions, usize) -> criu_images::Result<Vec<T>> + Send,
) -> PyResult<Option<T>> {
    if batch.is_empty() {
        let found = run_with(py, None, |counter| fetch(&SearchOptions { progress: Some(counter.clone()), ..options.clone() }, ITER_BATCH))?;
        batch.extend(found);
    }
    Ok(batch.pop_front())
}

/// Hits of `Memory.search_iter()`, in address order.
#[pyclass(module = "criu_images")]
pub struct HitIterator {
    cell: Arc<MemoryCell>,
    pattern: Pattern,
    options: SearchOptions,
    cursor: SearchCursor,
    batch: VecDeque<memory::Hit>,
}

#[pymethods]
impl HitIterator {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&mut self, py: Python<'_>) -> PyResult<Option<Hit>> {
        let HitIterator { cell, pattern, options, cursor, batch } = self;
        let index = cell.borrow_dependent();
        let next = next_batched(py, batch, options, |options, max| index.search_next(cursor, pattern, options, max))?;
        Ok(next.map(|hit| Hit::new(hit, self.cell.clone())))
    }
}

/// Strings of `Memory.strings_iter()`, in address order.
#[pyclass(module = "criu_images")]
pub struct StringIterator {
    cell: Arc<MemoryCell>,
    options: SearchOptions,
    cursor: StringsCursor,
    batch: VecDeque<memory::StringHit>,
}

#[pymethods]
impl StringIterator {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&mut self, py: Python<'_>) -> PyResult<Option<StringHit>> {
        let StringIterator { cell, options, cursor, batch } = self;
        let index = cell.borrow_dependent();
        let next = next_batched(py, batch, options, |options, max| index.strings_next(cursor, options, max))?;
        Ok(next.map(StringHit::from))
    }
}

/// The search pattern from bytes or str.
/// `ignore_case`: ASCII letters match in either case (CLI `-i`).
pub(crate) fn to_pattern(py: Python<'_>, pattern: &Bound<'_, PyAny>, regex: bool, ignore_case: bool) -> PyResult<Pattern> {
    let regex_of = |text: &str| quick(py, || if ignore_case { Pattern::regex_ignore_case(text) } else { Pattern::regex(text) });
    let literal_of = |bytes: &[u8]| {
        if ignore_case {
            quick(py, || Pattern::literal_ignore_case(bytes))
        } else {
            Ok(Pattern::literal(bytes))
        }
    };
    if let Ok(text) = pattern.cast::<PyString>() {
        let text = text.to_cow()?;
        return if regex { regex_of(&text) } else { literal_of(text.as_bytes()) };
    }
    let bytes: Vec<u8> = pattern.extract().map_err(|_| pyo3::exceptions::PyTypeError::new_err("pattern must be bytes or str"))?;
    if !regex {
        return literal_of(&bytes);
    }
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| to_py(py, Error::Pattern { detail: "a regular expression must be valid UTF-8; write other bytes as \\xNN".into() }))?;
    regex_of(text)
}

/// Search options from the keyword arguments.
pub(crate) fn search_options(
    context: u64,
    perms: Option<String>,
    kind: Option<&Bound<'_, PyAny>>,
    range: Option<(u64, u64)>,
    max_hits: Option<usize>,
) -> PyResult<SearchOptions> {
    Ok(SearchOptions { context, perms, kinds: vma_kinds(kind)?, range, max_hits, progress: None })
}

/// `kind=` of search and yara: a str or a sequence of str, none by default.
pub(crate) fn vma_kinds(kind: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<VmaKind>> {
    one_or_many(kind)?
        .unwrap_or_default()
        .iter()
        .map(|name| {
            VmaKind::parse(name)
                .ok_or_else(|| PyValueError::new_err(format!("unknown kind {name:?}: use heap, stack, anon, file, shared or vdso")))
        })
        .collect()
}

/// A str, or a sequence of str; None for None.
fn one_or_many(value: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Vec<String>>> {
    match value.filter(|v| !v.is_none()) {
        None => Ok(None),
        Some(value) => match value.extract::<String>() {
            Ok(one) => Ok(Some(vec![one])),
            Err(_) => value.extract().map(Some),
        },
    }
}

/// Hits found in the memory indexes `cells` as a `SearchResults` list.
pub(crate) fn hits_to_py<'py>(py: Python<'py>, hits: Vec<memory::Hit>, cells: &[Arc<MemoryCell>], id: &str) -> PyResult<Bound<'py, PyAny>> {
    let items = PyList::empty(py);
    for hit in hits {
        let Some(cell) = cells.iter().find(|c| c.borrow_dependent().pid() == hit.pid) else {
            return Err(CriuImagesError::new_err(format!("internal error in criu-images: a hit in process {} not searched", hit.pid)));
        };
        items.append(Hit::new(hit, cell.clone()))?;
    }
    display::search_results(py, items, id)
}

/// One search match.
#[pyclass(frozen, module = "criu_images")]
pub struct Hit {
    /// Shared with the `Vma` of `vma`.
    hit: Arc<memory::Hit>,
    /// The memory index the hit was found in (for `vma`'s page counts).
    memory: Arc<MemoryCell>,
}

impl Hit {
    fn new(hit: memory::Hit, memory: Arc<MemoryCell>) -> Hit {
        Hit { hit: Arc::new(hit), memory }
    }

    /// The crate's record.
    pub(crate) fn data(&self) -> &memory::Hit {
        &self.hit
    }
}

#[pymethods]
impl Hit {
    /// Process id as the images hold it.
    #[getter]
    fn pid(&self) -> u32 {
        self.hit.pid
    }

    /// Address of the first matched byte.
    #[getter]
    fn address(&self) -> u64 {
        self.hit.address
    }

    /// The matched bytes.
    #[getter(r#match)]
    fn matched<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.hit.matched)
    }

    /// Context before, the match, and context after (clipped to readable memory).
    #[getter]
    fn context<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.hit.context)
    }

    /// Address of the first byte of `context`.
    #[getter]
    fn context_start(&self) -> u64 {
        self.hit.context_start
    }

    /// Where the matched bytes come from: `(start, end, origin)` runs in
    /// address order, `origin` one of `"dumped"`, `"zero"`, `"rootfs-diff"`,
    /// `"rootfs-dir"`.
    #[getter]
    fn origins(&self) -> Vec<(u64, u64, &'static str)> {
        origin_names(&self.hit.origins)
    }

    /// The memory area of the match.
    #[getter]
    fn vma(&self) -> PyResult<PyVma> {
        PyVma::of_hit(&self.hit, &self.memory)
            .ok_or_else(|| CriuImagesError::new_err("internal error in criu-images: a hit without its area"))
    }

    fn __repr__(&self) -> String {
        let area = self.hit.area.path.clone().unwrap_or_else(|| format!("{:#x}-{:#x}", self.hit.area.start, self.hit.area.end));
        format!(
            "<Hit pid={} address={:#x} {} {} match={}>",
            self.hit.pid,
            self.hit.address,
            self.hit.area.perms(),
            area,
            bytes_repr(&self.hit.matched)
        )
    }
}

/// A printable string found in memory.
#[pyclass(frozen, module = "criu_images")]
pub struct StringHit {
    data: memory::StringHit,
}

impl From<memory::StringHit> for StringHit {
    fn from(data: memory::StringHit) -> StringHit {
        StringHit { data }
    }
}

#[pymethods]
impl StringHit {
    /// Process id.
    #[getter]
    fn pid(&self) -> u32 {
        self.data.pid
    }

    /// Address of the first byte.
    #[getter]
    fn address(&self) -> u64 {
        self.data.address
    }

    /// `ascii` or `utf-16le`.
    #[getter]
    fn encoding(&self) -> &'static str {
        self.data.encoding.name()
    }

    /// The text.
    #[getter]
    fn text(&self) -> String {
        self.data.text.clone()
    }

    fn __repr__(&self) -> String {
        let s = &self.data;
        format!("<StringHit pid={} address={:#x} {} {:?}>", s.pid, s.address, s.encoding.name(), s.text)
    }
}

/// Python's `repr()` of bytes, shortened.
fn bytes_repr(bytes: &[u8]) -> String {
    let mut text = String::from("b'");
    for &b in bytes.iter().take(64) {
        match b {
            b'\\' => text.push_str("\\\\"),
            b'\'' => text.push_str("\\'"),
            0x20..=0x7e => text.push(b as char),
            _ => text.push_str(&format!("\\x{b:02x}")),
        }
    }
    text.push('\'');
    if bytes.len() > 64 {
        text.push_str("...");
    }
    text
}
