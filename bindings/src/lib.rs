//! Python bindings of criu-images: the `criu_images._criu_images` module.
//!
//! Only conversion glue lives here; parsing and formatting are the Rust
//! crate's. The public Python face is `python/criu_images/`, its contract
//! `python/criu_images/_criu_images.pyi`.

#![deny(unsafe_op_in_unsafe_fn)]

mod area;
mod arrow_stream;
mod buffer;
mod checkpoint;
mod coredump;
mod diff;
mod display;
mod entry_table;
mod errors;
mod image;
mod memory;
mod process;
mod progress;
mod pytape;
mod pyvalue;
mod state;
mod tables;
mod triage;
mod yara;

use std::path::PathBuf;

use pyo3::prelude::*;
use pyo3::types::PyBytes;

use criu_images::image::{Image, ImageFile};
use criu_images::json::{self, DecodeOptions};

use errors::{guard, run};

/// Where an image comes from: a path, or bytes already in memory.
enum Source<'py> {
    Path(PathBuf),
    Bytes(Bound<'py, PyBytes>),
}

impl<'py> FromPyObject<'_, 'py> for Source<'py> {
    type Error = PyErr;

    fn extract(obj: Borrowed<'_, 'py, PyAny>) -> PyResult<Self> {
        if let Ok(bytes) = obj.cast::<PyBytes>() {
            return Ok(Source::Bytes(bytes.to_owned()));
        }
        if let Ok(path) = obj.extract::<PathBuf>() {
            return Ok(Source::Path(path));
        }
        Err(pyo3::exceptions::PyTypeError::new_err("expected a path (str or os.PathLike) or bytes"))
    }
}

/// Runs `work` on the image, with the GIL released.
fn with_image<T: Send>(py: Python<'_>, source: Source<'_>, work: impl FnOnce(&Image<'_>) -> criu_images::Result<T> + Send) -> PyResult<T> {
    match source {
        Source::Path(path) => run(py, || {
            let file = ImageFile::open(&path)?;
            work(&file.image()?)
        }),
        Source::Bytes(bytes) => {
            let data: &[u8] = bytes.as_bytes();
            run(py, || work(&Image::parse("<bytes>", data)?))
        }
    }
}

/// Decode an image (path or bytes) to crit's JSON text.
#[pyfunction]
#[pyo3(signature = (source, pretty = false, nopl = false))]
fn decode_json(py: Python<'_>, source: Source<'_>, pretty: bool, nopl: bool) -> PyResult<String> {
    let options = DecodeOptions { pretty, no_payload: nopl };
    with_image(py, source, |image| json::to_json(image, &options))
}

/// Decode an image (path or bytes) to the dict `json.loads` makes of
/// crit's JSON text, built directly from the decoded values.
#[pyfunction]
#[pyo3(signature = (source, pretty = false, nopl = false))]
fn decode_obj<'py>(py: Python<'py>, source: Source<'_>, pretty: bool, nopl: bool) -> PyResult<Bound<'py, PyAny>> {
    let options = DecodeOptions { pretty, no_payload: nopl };
    let tape = with_image(py, source, |image| json::tape::to_tape(image, &options))?;
    let _gc = pytape::GcPaused::new(py)?;
    pytape::Builder::new(py).build(&tape)
}

/// Sets the calling thread's thread limit (0: none), returning the one it
/// replaces: behind `criu_images.thread_limit`.
#[pyfunction]
fn _set_thread_limit(threads: usize) -> usize {
    criu_images::parallel::set_thread_limit(threads)
}

/// Encode crit's JSON text to image bytes.
#[pyfunction]
fn encode_json<'py>(py: Python<'py>, text: &str) -> PyResult<Bound<'py, PyBytes>> {
    let bytes = run(py, || json::from_json(text.as_bytes(), "<json>"))?;
    Ok(PyBytes::new(py, &bytes))
}

/// crit's `info` as JSON text: image type and entry count.
#[pyfunction]
fn info_json(py: Python<'_>, source: Source<'_>) -> PyResult<String> {
    with_image(py, source, json::info_json)
}

/// Run the `criu-images` command line tool; returns its exit status.
#[pyfunction]
fn cli_main(py: Python<'_>, argv: Vec<String>) -> PyResult<i32> {
    py.detach(|| guard(|| Ok(criu_images::cli::main(argv)))).map(|code| {
        // ExitCode has no accessor; the CLI only returns 0, 1 or 2.
        if code == std::process::ExitCode::SUCCESS {
            0
        } else if code == std::process::ExitCode::from(2) {
            2
        } else {
            1
        }
    })
}

/// The built-in secret patterns, `(name, regular expression)`, of the Rust
/// crate (`criu_images::secrets::KINDS`): `criu_images.secrets` uses them.
#[pyfunction]
fn _secret_patterns() -> Vec<(&'static str, &'static str)> {
    criu_images::secrets::patterns()
}

/// Test hook (private): panics inside the wrapper named by `place`
/// (`"run"`, `"quick"` or `"guard"`: the ones every entry point goes
/// through) to show that a panic reaches Python as `CriuImagesError`, not
/// as pyo3's `PanicException` (a `BaseException` that `except Exception`
/// misses). Only raises; has no other effect.
#[pyfunction]
fn _test_panic(py: Python<'_>, place: &str) -> PyResult<()> {
    let message = format!("deliberate panic in {place}, for tests");
    match place {
        "run" => run(py, || -> criu_images::Result<()> { panic!("{message}") }),
        "quick" => errors::quick(py, || -> criu_images::Result<()> { panic!("{message}") }),
        "guard" => guard(|| -> PyResult<()> { panic!("{message}") }),
        _ => Err(pyo3::exceptions::PyValueError::new_err(format!("no wrapper named {place:?}"))),
    }
}

/// The table of `SearchResults.to_arrow()`: one row per `Hit` of `hits`,
/// found in checkpoint `id`, built without asking the hits for their
/// attributes one by one.
#[pyfunction]
#[pyo3(signature = (hits, id, pattern = None))]
fn _hits_table<'py>(
    py: Python<'py>,
    hits: Vec<Bound<'py, memory::Hit>>,
    id: &str,
    pattern: Option<&str>,
) -> PyResult<arrow_stream::ArrowTable> {
    let refs: Vec<(Option<&str>, &criu_images::memory::Hit)> = hits.iter().map(|h| (pattern, h.get().data())).collect();
    Ok(tables::to_py(errors::quick(py, || criu_images::tables::hits(id, &refs))?))
}

/// `checkpoint.findings(show_secrets=...)` as the `findings` table (for
/// criu_images.dask; `Checkpoint.table("findings")` is the default form).
#[pyfunction]
fn _findings_table(
    py: Python<'_>,
    checkpoint: &Bound<'_, checkpoint::PyCheckpoint>,
    show_secrets: bool,
) -> PyResult<arrow_stream::ArrowTable> {
    let shared = checkpoint.get().shared()?;
    triage::findings_table(py, &shared.checkpoint, &shared.id, show_secrets)
}

/// Open a checkpoint: an images directory, a tar, tar.gz or tar.zst archive
/// (Podman, CRI-O, kubelet), or a single image file. The format is detected
/// from the content. `max_decompressed` bounds the decompressed size of a
/// compressed archive in bytes (default 64 GiB); beyond it `LimitError`.
/// `rootfs` is where memory fills unmodified file pages from when a call
/// does not say: `"auto"` (the default: rootfs-diff.tar when the checkpoint
/// has one), `"none"`, `"diff"` or a directory (see `Checkpoint.memory`).
/// Container images (oci-archive, OCI layout directory, docker-archive,
/// containerd checkpoint images) are opened too; `image` chooses one when
/// the index holds several (a reference, a digest or its first 12+ hex
/// digits, or a platform), else the error lists them. `id` is the value of
/// the `checkpoint` column of its tables (`Checkpoint.id`; default: the
/// path as given).
#[pyfunction]
#[pyo3(signature = (path, *, max_decompressed = None, rootfs = None, image = None, id = None))]
fn open(
    py: Python<'_>,
    path: PathBuf,
    max_decompressed: Option<u64>,
    rootfs: Option<&Bound<'_, PyAny>>,
    image: Option<String>,
    id: Option<String>,
) -> PyResult<checkpoint::PyCheckpoint> {
    checkpoint::PyCheckpoint::open(py, path, max_decompressed, rootfs, image, id)
}

#[pymodule]
fn _criu_images(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    errors::register(m)?;
    m.add_function(wrap_pyfunction!(open, m)?)?;
    m.add_class::<checkpoint::PyCheckpoint>()?;
    m.add_class::<checkpoint::Member>()?;
    m.add_class::<checkpoint::RootfsDiff>()?;
    m.add_class::<arrow_stream::ArrowTable>()?;
    m.add_class::<diff::Diff>()?;
    m.add_class::<diff::DiffPart>()?;
    m.add_class::<image::Image>()?;
    m.add_class::<image::ImageEntries>()?;
    m.add_function(wrap_pyfunction!(entry_table::image_table, m)?)?;
    m.add_class::<memory::Memory>()?;
    m.add_class::<memory::Hit>()?;
    m.add_class::<memory::StringHit>()?;
    m.add_class::<memory::HitIterator>()?;
    m.add_class::<memory::StringIterator>()?;
    m.add_class::<process::Process>()?;
    m.add_class::<process::Thread>()?;
    m.add_class::<process::Creds>()?;
    m.add_class::<area::PyVma>()?;
    m.add_class::<process::Fd>()?;
    m.add_class::<process::Rlimit>()?;
    m.add_class::<process::SigAction>()?;
    m.add_class::<yara::PyYaraRules>()?;
    m.add("PagesBuffer", buffer::pages_type(m.py())?)?;
    m.add_function(wrap_pyfunction!(decode_json, m)?)?;
    m.add_function(wrap_pyfunction!(decode_obj, m)?)?;
    m.add_function(wrap_pyfunction!(encode_json, m)?)?;
    m.add_function(wrap_pyfunction!(info_json, m)?)?;
    m.add_function(wrap_pyfunction!(cli_main, m)?)?;
    m.add_function(wrap_pyfunction!(_hits_table, m)?)?;
    m.add_function(wrap_pyfunction!(_set_thread_limit, m)?)?;
    m.add_function(wrap_pyfunction!(_findings_table, m)?)?;
    m.add_function(wrap_pyfunction!(_test_panic, m)?)?;
    m.add_function(wrap_pyfunction!(_secret_patterns, m)?)?;
    Ok(())
}
