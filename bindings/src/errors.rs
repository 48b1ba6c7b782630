//! The exception hierarchy, the mapping from `criu_images::Error`, and the
//! one way bindings call into the crate: with the GIL released and panics
//! caught, so that no Rust panic reaches Python.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::PyType;

use criu_images::Error;

create_exception!(
    criu_images,
    CriuImagesError,
    PyException,
    "Base class of every error criu_images raises. The message names the file (or archive member) and the byte offset; the attributes `file`, `offset` and `entry` hold them where known (else None)."
);
create_exception!(
    criu_images,
    FormatError,
    CriuImagesError,
    "An image, protobuf message or crit JSON document that is broken or is not what it should be (truncated, unknown magic, raw data, invalid message)."
);
create_exception!(
    criu_images,
    ArchiveError,
    CriuImagesError,
    "A checkpoint archive or directory whose structure is broken or hostile: bad tar header, a path or link leaving the archive, a parent chain that loops."
);
create_exception!(
    criu_images,
    LimitError,
    ArchiveError,
    "A limit would be exceeded, e.g. the decompressed size of a .tar.gz or .tar.zst (max_decompressed)."
);
create_exception!(criu_images, NotFoundError, CriuImagesError, "A file, archive member, image or process that does not exist.");
create_exception!(
    criu_images,
    MemoryReadError,
    CriuImagesError,
    "Process memory that cannot be read as asked: not mapped, or not in the checkpoint (lazy or file-backed pages). Attributes `pid` and `address`."
);
create_exception!(criu_images, PatternError, CriuImagesError, "A search pattern that cannot be used (e.g. an invalid regular expression).");

/// The Python exception for a crate error, with `file`, `offset` and
/// `entry` (and `pid`, `address` for memory) set as attributes.
pub(crate) fn to_py(py: Python<'_>, err: Error) -> PyErr {
    let mut file: Option<String> = None;
    let mut offset: Option<u64> = None;
    let mut entry: Option<usize> = None;
    let mut memory: Option<(u32, u64)> = None;
    let kind: Bound<'_, PyType> = match &err {
        Error::Truncated { at, .. } | Error::UnknownMagic { at, .. } | Error::Protobuf { at, .. } | Error::Malformed { at, .. } => {
            (file, offset, entry) = (Some(at.file.clone()), Some(at.offset), at.entry);
            py.get_type::<FormatError>()
        }
        Error::RawImage { file: name, .. } => {
            file = Some(name.clone());
            py.get_type::<FormatError>()
        }
        Error::Json { file: name, .. } => {
            file = Some(name.clone());
            py.get_type::<FormatError>()
        }
        Error::Archive { at, .. } => {
            (file, offset, entry) = (Some(at.file.clone()), Some(at.offset), at.entry);
            py.get_type::<ArchiveError>()
        }
        Error::Limit { file: name, .. } => {
            file = Some(name.clone());
            py.get_type::<LimitError>()
        }
        Error::NotFound { container, .. } => {
            file = Some(container.clone());
            py.get_type::<NotFoundError>()
        }
        Error::Io { path, source } => {
            file = Some(path.clone());
            if source.kind() == std::io::ErrorKind::NotFound {
                py.get_type::<NotFoundError>()
            } else {
                py.get_type::<CriuImagesError>()
            }
        }
        Error::Memory { pid, address, .. } => {
            memory = Some((*pid, *address));
            py.get_type::<MemoryReadError>()
        }
        Error::Pattern { .. } => py.get_type::<PatternError>(),
        _ => py.get_type::<CriuImagesError>(),
    };
    let exception = PyErr::from_type(kind, err.to_string());
    let value = exception.value(py);
    // Setting attributes on a fresh exception instance cannot fail in practice;
    // if it did, the message still says everything.
    let _ = value.setattr("file", file);
    let _ = value.setattr("offset", offset);
    let _ = value.setattr("entry", entry);
    if let Some((pid, address)) = memory {
        let _ = value.setattr("pid", pid);
        let _ = value.setattr("address", address);
    }
    exception
}

/// A panic turned into an exception: a bug to report, never a crash.
pub(crate) fn panic_to_py(payload: Box<dyn Any + Send>) -> PyErr {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string());
    CriuImagesError::new_err(format!("internal error in criu-images (please report it): {what}"))
}

/// Runs crate work with the GIL released; crate errors become the matching
/// exception, panics a `CriuImagesError`.
pub(crate) fn run<T: Send>(py: Python<'_>, work: impl FnOnce() -> criu_images::Result<T> + Send) -> PyResult<T> {
    match py.detach(|| catch_unwind(AssertUnwindSafe(work))) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => Err(to_py(py, err)),
        Err(payload) => Err(panic_to_py(payload)),
    }
}

/// Like [`run`] for quick work that is not worth releasing the GIL for.
pub(crate) fn quick<T>(py: Python<'_>, work: impl FnOnce() -> criu_images::Result<T>) -> PyResult<T> {
    match catch_unwind(AssertUnwindSafe(work)) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => Err(to_py(py, err)),
        Err(payload) => Err(panic_to_py(payload)),
    }
}

/// For glue that returns Python values itself (no crate error to map):
/// a panic becomes a `CriuImagesError` all the same.
pub(crate) fn guard<T>(work: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    catch_unwind(AssertUnwindSafe(work)).unwrap_or_else(|payload| Err(panic_to_py(payload)))
}

/// Adds the exception classes to the module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("CriuImagesError", py.get_type::<CriuImagesError>())?;
    m.add("FormatError", py.get_type::<FormatError>())?;
    m.add("ArchiveError", py.get_type::<ArchiveError>())?;
    m.add("LimitError", py.get_type::<LimitError>())?;
    m.add("NotFoundError", py.get_type::<NotFoundError>())?;
    m.add("MemoryReadError", py.get_type::<MemoryReadError>())?;
    m.add("PatternError", py.get_type::<PatternError>())?;
    Ok(())
}
