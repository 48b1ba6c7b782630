//! `Image`: one CRIU image of a checkpoint, decoded to crit's JSON objects
//! one entry at a time.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Instant;

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyDict;
use self_cell::self_cell;

use criu_images::archive::ArchiveFormat;
use criu_images::image::{Entries, Image as ImageView};
use criu_images::json::{self, DecodeOptions};
use criu_images::Checkpoint;

use crate::checkpoint::lock;
use crate::errors::{panic_to_py, quick, run, to_py, CriuImagesError};
use crate::progress::{Callback, INTERVAL};

/// Where an image's bytes are: a checkpoint (kept alive) and the file name.
struct Source {
    checkpoint: Arc<Checkpoint>,
    name: String,
    /// The name in errors: `archive.tar.zst:checkpoint/core-1.img`.
    label: String,
}

impl Source {
    fn image(&self) -> criu_images::Result<ImageView<'_>> {
        ImageView::parse(&self.label, self.checkpoint.image_bytes(&self.name)?)
    }
}

/// One image of a checkpoint (e.g. `pstree.img`), framed without copying.
/// Iterating gives its entries as dicts equal to the objects of crit's
/// `decode` JSON; `to_json()` gives crit's text.
#[pyclass(frozen, module = "criu_images")]
pub struct Image {
    source: Arc<Source>,
    magic: &'static str,
}

impl Image {
    pub(crate) fn new(py: Python<'_>, checkpoint: Arc<Checkpoint>, name: &str) -> PyResult<Image> {
        let images = checkpoint.images();
        let label = match (checkpoint.archive().format(), images.dir()) {
            (ArchiveFormat::File, _) => checkpoint.archive().display_name().to_string(),
            (ArchiveFormat::Directory, _) => format!("{}/{name}", images.label()),
            (_, "") => format!("{}:{name}", images.label()),
            _ => format!("{}/{name}", images.label()),
        };
        let source = Source { checkpoint, name: name.to_string(), label };
        let magic = quick(py, || source.image().map(|image| image.kind().name()))?;
        Ok(Image { source: Arc::new(source), magic })
    }
}

static JSON_LOADS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

pub(crate) fn json_loads<'py>(py: Python<'py>, text: &str) -> PyResult<Bound<'py, PyAny>> {
    JSON_LOADS.import(py, "json", "loads")?.call1((text,))
}

/// What the rendering thread of [`decode_all`] sends for each image.
type Rendered = Result<criu_images::Result<String>, Box<dyn Any + Send>>;

/// `Checkpoint.decode_all`: a worker thread renders each image's JSON text
/// (no GIL needed) while this thread turns the texts into dicts, so that
/// the two run at the same time.
pub(crate) fn decode_all<'py>(
    py: Python<'py>,
    checkpoint: &Checkpoint,
    options: DecodeOptions,
    mut callback: Option<Callback<'py>>,
) -> PyResult<Bound<'py, PyDict>> {
    let names = run(py, || Ok(checkpoint.protobuf_image_names()))?;
    let sizes = quick(py, || names.iter().map(|n| checkpoint.image_bytes(n).map(|b| b.len() as u64)).collect::<criu_images::Result<Vec<_>>>())?;
    let total: u64 = sizes.iter().sum();
    let out = PyDict::new(py);
    let stop = AtomicBool::new(false);
    // A few images ahead at most: the texts wait in memory until converted.
    let (sender, receiver) = mpsc::sync_channel::<Rendered>(4);
    let receiver = Mutex::new(Some(receiver));
    std::thread::scope(|scope| {
        let worker = scope.spawn(|| {
            for name in &names {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let text = catch_unwind(AssertUnwindSafe(|| json::to_json(&checkpoint.image(name)?, &options)));
                let failed = !matches!(text, Ok(Ok(_)));
                // A send fails once the receiver is gone: nobody wants the rest.
                if sender.send(text).is_err() || failed {
                    break;
                }
            }
        });
        let mut convert = || -> PyResult<()> {
            let (mut done, mut reported) = (0u64, Instant::now());
            for (name, size) in names.iter().zip(&sizes) {
                let rendered = py.detach(|| lock(&receiver).as_ref().map(|r| r.recv()));
                let text = match rendered {
                    Some(Ok(Ok(Ok(text)))) => text,
                    Some(Ok(Ok(Err(err)))) => return Err(to_py(py, err)),
                    Some(Ok(Err(payload))) => return Err(panic_to_py(payload)),
                    _ => return Err(CriuImagesError::new_err("internal error in criu-images: the decoding thread stopped early")),
                };
                out.set_item(name, crate::pyjson::loads(py, &text)?)?;
                done += size;
                // Ctrl-C is looked for with or without a callback.
                if reported.elapsed() >= INTERVAL || done == total {
                    py.check_signals()?;
                    if let Some(callback) = callback.as_mut() {
                        callback.report(done, total)?;
                    }
                    reported = Instant::now();
                }
            }
            Ok(())
        };
        let converted = convert();
        if converted.is_err() {
            stop.store(true, Ordering::Relaxed);
            // Dropping the receiver wakes a worker blocked on a full channel.
            lock(&receiver).take();
        }
        let _ = py.detach(|| worker.join());
        converted
    })?;
    Ok(out)
}

#[pymethods]
impl Image {
    /// The file name, e.g. `core-1.img`.
    #[getter]
    fn name(&self) -> String {
        self.source.name.clone()
    }

    /// The image type as crit names it, e.g. `CORE`, `PSTREE`, `PAGEMAP`.
    #[getter]
    fn magic(&self) -> &'static str {
        self.magic
    }

    /// Size of the image file in bytes.
    #[getter]
    fn size(&self, py: Python<'_>) -> PyResult<usize> {
        quick(py, || self.source.checkpoint.image_bytes(&self.source.name).map(<[u8]>::len))
    }

    /// The entries, one dict at a time, decoded lazily. `pretty=True`
    /// gives crit's `--pretty` forms (hex, flag names, IP addresses).
    #[pyo3(signature = (pretty = false, nopl = false))]
    fn entries(&self, py: Python<'_>, pretty: bool, nopl: bool) -> PyResult<ImageEntries> {
        let source = self.source.clone();
        let cell = quick(py, || {
            EntriesCell::try_new(source, |source| {
                let image = source.image()?;
                Ok::<_, criu_images::Error>(Mutex::new((image, image.entries())))
            })
        })?;
        Ok(ImageEntries { cell, options: DecodeOptions { pretty, no_payload: nopl } })
    }

    /// The entries as dicts (plain crit JSON).
    fn __iter__(&self, py: Python<'_>) -> PyResult<ImageEntries> {
        self.entries(py, false, false)
    }

    /// Number of entries (every entry's framing is checked).
    fn __len__(&self, py: Python<'_>) -> PyResult<usize> {
        let source = self.source.clone();
        run(py, move || source.image()?.count())
    }

    /// The whole image as crit's JSON text (`crit decode`; `pretty=True`
    /// for `crit show`, `nopl=True` to replace payloads by their size).
    #[pyo3(signature = (pretty = false, nopl = false))]
    fn to_json(&self, py: Python<'_>, pretty: bool, nopl: bool) -> PyResult<String> {
        let source = self.source.clone();
        let options = DecodeOptions { pretty, no_payload: nopl };
        run(py, move || json::to_json(&source.image()?, &options))
    }

    fn __repr__(&self) -> String {
        format!("<Image {:?} {}>", self.source.name, self.magic)
    }
}

type EntryState<'a> = Mutex<(ImageView<'a>, Entries<'a>)>;

self_cell!(
    struct EntriesCell {
        owner: Arc<Source>,
        #[not_covariant]
        dependent: EntryState,
    }
);

/// An iterator over the entries of an `Image`, as dicts.
#[pyclass(frozen, module = "criu_images")]
pub struct ImageEntries {
    cell: EntriesCell,
    options: DecodeOptions,
}

#[pymethods]
impl ImageEntries {
    /// The iterator itself.
    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// The next entry as a dict.
    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let text = quick(py, || {
            self.cell.with_dependent(|_, state| {
                let mut state = lock(state);
                let (image, entries) = &mut *state;
                match entries.next() {
                    None => Ok(None),
                    Some(entry) => json::entry_to_json(image, &entry?, &self.options).map(Some),
                }
            })
        })?;
        text.map(|t| crate::pyjson::loads(py, &t)).transpose()
    }

    fn __repr__(&self) -> String {
        format!("<ImageEntries of {:?}>", self.cell.borrow_owner().name)
    }
}
