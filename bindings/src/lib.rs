//! Python bindings of criu-images: the `criu_images._criu_images` module.
//!
//! Only conversion glue lives here; parsing and formatting are the Rust
//! crate's. The public Python face is `python/criu_images/`.

use std::path::PathBuf;

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use criu_images::image::{Image, ImageFile};
use criu_images::json::{self, DecodeOptions};

create_exception!(
    _criu_images,
    CriuImagesError,
    PyException,
    "Base class of every error criu_images raises; the message names the file and byte offset."
);

fn error(err: criu_images::Error) -> PyErr {
    CriuImagesError::new_err(err.to_string())
}

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
        Err(pyo3::exceptions::PyTypeError::new_err(
            "expected a path (str or os.PathLike) or bytes",
        ))
    }
}

/// Runs `work` on the image, with the GIL released.
fn with_image<T: Send>(
    py: Python<'_>,
    source: Source<'_>,
    work: impl FnOnce(&Image<'_>) -> criu_images::Result<T> + Send,
) -> PyResult<T> {
    match source {
        Source::Path(path) => py
            .detach(|| {
                let file = ImageFile::open(&path)?;
                work(&file.image()?)
            })
            .map_err(error),
        Source::Bytes(bytes) => {
            let data: &[u8] = bytes.as_bytes();
            py.detach(|| work(&Image::parse("<bytes>", data)?)).map_err(error)
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

/// Encode crit's JSON text to image bytes.
#[pyfunction]
fn encode_json<'py>(py: Python<'py>, text: &str) -> PyResult<Bound<'py, PyBytes>> {
    let bytes = py
        .detach(|| json::from_json(text.as_bytes(), "<json>"))
        .map_err(error)?;
    Ok(PyBytes::new(py, &bytes))
}

/// crit's `info` as JSON text: image type and entry count.
#[pyfunction]
fn info_json(py: Python<'_>, source: Source<'_>) -> PyResult<String> {
    with_image(py, source, json::info_json)
}

/// Run the `criu-images` command line tool; returns its exit status.
#[pyfunction]
fn cli_main(py: Python<'_>, argv: Vec<String>) -> i32 {
    py.detach(|| {
        let code = criu_images::cli::main(argv);
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

#[pymodule]
fn _criu_images(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("CriuImagesError", m.py().get_type::<CriuImagesError>())?;
    m.add_function(wrap_pyfunction!(decode_json, m)?)?;
    m.add_function(wrap_pyfunction!(encode_json, m)?)?;
    m.add_function(wrap_pyfunction!(info_json, m)?)?;
    m.add_function(wrap_pyfunction!(cli_main, m)?)?;
    Ok(())
}
