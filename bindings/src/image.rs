//! `Image`: one CRIU image of a checkpoint, decoded to crit's JSON objects
//! one entry at a time.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::time::Instant;

use pyo3::prelude::*;
use pyo3::types::PyDict;
use self_cell::self_cell;

use criu_images::archive::ArchiveFormat;
use criu_images::image::{Entries, Image as ImageView};
use criu_images::json::tape::{self, Tape};
use criu_images::json::{self, DecodeOptions};
use criu_images::Checkpoint;

use crate::errors::{panic_to_py, quick, run, to_py, CriuImagesError};
use crate::progress::{Callback, INTERVAL};
use crate::pytape::{Builder, GcPaused, Strings};
use crate::state::lock;

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

/// What the decoding thread of [`decode_all`] sends for each image.
type Rendered = Result<criu_images::Result<Tape>, Box<dyn Any + Send>>;

/// How far the decoding thread of [`decode_all`] may run ahead of the
/// building, in bytes of images (their tapes take about 15 times that).
const AHEAD_BYTES: u64 = 4 << 20;

/// `Checkpoint.decode_all`: a worker thread decodes image after image into
/// tapes of values (no GIL needed) while this thread builds the dicts of
/// the ones before, so that the two run at the same time. The worker is
/// usually ahead: this thread then takes each tape without waiting (no
/// thread wake-ups per image, which would cost more than small images).
pub(crate) fn decode_all<'py>(
    py: Python<'py>,
    checkpoint: &Checkpoint,
    options: DecodeOptions,
    callback: Option<Callback<'py>>,
) -> PyResult<Bound<'py, PyDict>> {
    // The images and their order are the command line's decode-all's.
    let all = run(py, || checkpoint.decode_all())?;
    let images = all.images();
    let mut build =
        Build { out: PyDict::new(py), builder: Builder::new(py), callback, done: 0, total: all.total_size(), reported: Instant::now() };
    let _gc = GcPaused::new(py)?;
    // Bytes of images decoded and not yet built; the worker waits for room.
    let ahead = (Mutex::new(0u64), Condvar::new());
    let stop = AtomicBool::new(false);
    let (sender, receiver) = mpsc::channel::<Rendered>();
    // In a mutex only to cross into `py.detach`; this thread alone uses it.
    let receiver = Mutex::new(receiver);
    // Tapes come back once built, so their memory serves the next images.
    let (recycle, recycled) = mpsc::channel::<Tape>();
    let limit = criu_images::parallel::thread_limit();
    std::thread::scope(|scope| {
        let (all, stop, ahead) = (&all, &stop, &ahead);
        let worker = scope.spawn(move || {
            // A new thread: it takes the caller's `criu_images.thread_limit()`.
            criu_images::parallel::set_thread_limit(limit);
            for (index, image) in images.iter().enumerate() {
                {
                    let mut bytes = lock(&ahead.0);
                    while *bytes >= AHEAD_BYTES && !stop.load(Ordering::Relaxed) {
                        bytes = ahead.1.wait(bytes).unwrap_or_else(|poisoned| poisoned.into_inner());
                    }
                    *bytes += image.size;
                }
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let mut tape = recycled.try_recv().unwrap_or_default();
                tape.clear();
                let tape = catch_unwind(AssertUnwindSafe(|| all.write_tape(index, &options, &mut tape).map(|()| tape)));
                let failed = !matches!(tape, Ok(Ok(_)));
                // A send fails once the receiver is gone: nobody wants the rest.
                if sender.send(tape).is_err() || failed {
                    break;
                }
            }
        });
        let mut convert = || -> PyResult<()> {
            for image in images {
                let ready = lock(&receiver).try_recv();
                let rendered = match ready {
                    Ok(rendered) => Ok(rendered),
                    Err(_) => py.detach(|| lock(&receiver).recv()),
                };
                let tape = match rendered {
                    Ok(Ok(Ok(tape))) => tape,
                    Ok(Ok(Err(err))) => return Err(to_py(py, err)),
                    Ok(Err(payload)) => return Err(panic_to_py(payload)),
                    Err(_) => return Err(CriuImagesError::new_err("internal error in criu-images: the decoding thread stopped early")),
                };
                build.add(&image.name, image.size, &tape)?;
                // The worker may be done: then the tape is dropped.
                let _ = recycle.send(tape);
                let mut bytes = lock(&ahead.0);
                let was_full = *bytes >= AHEAD_BYTES;
                *bytes -= image.size;
                if was_full {
                    ahead.1.notify_one();
                }
            }
            Ok(())
        };
        let converted = convert();
        if converted.is_err() {
            stop.store(true, Ordering::Relaxed);
            // Wakes a worker waiting for room; it then sees `stop`.
            let _bytes = lock(&ahead.0);
            ahead.1.notify_one();
        }
        let _ = py.detach(|| worker.join());
        converted
    })?;
    Ok(build.out)
}

/// The dict [`decode_all`] returns, as it fills, and its progress.
struct Build<'py> {
    out: Bound<'py, PyDict>,
    builder: Builder<'py>,
    callback: Option<Callback<'py>>,
    /// Bytes of the images built so far, of `total`.
    done: u64,
    total: u64,
    reported: Instant,
}

impl Build<'_> {
    fn add(&mut self, name: &str, size: u64, tape: &Tape) -> PyResult<()> {
        self.out.set_item(name, self.builder.build(tape)?)?;
        self.done += size;
        if self.reported.elapsed() >= INTERVAL || self.done == self.total {
            // This thread holds the GIL while the worker keeps ahead: let
            // other Python threads (timers, progress displays) have a turn.
            self.out.py().detach(|| ());
            // Ctrl-C is looked for with or without a callback.
            self.out.py().check_signals()?;
            if let Some(callback) = self.callback.as_mut() {
                callback.report(self.done, self.total)?;
            }
            self.reported = Instant::now();
        }
        Ok(())
    }
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
        Ok(ImageEntries { cell, options: DecodeOptions { pretty, no_payload: nopl }, strings: Mutex::default() })
    }

    /// The entries as a `criu_images.Table` (Arrow): one row per entry, a
    /// column per field of the message schema (docs/python.md).
    fn table(&self, py: Python<'_>) -> PyResult<crate::arrow_stream::ArrowTable> {
        let source = self.source.clone();
        run(py, move || crate::entry_table::one_image(&source.image()?))
    }

    /// The entries as a `pyarrow.Table` (`table().to_arrow()`).
    fn to_arrow<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let table = Bound::new(py, self.table(py)?)?;
        py.import("pyarrow")?.call_method1("table", (table,))
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
    /// Keys and names already made into strs, shared by all entries.
    strings: Mutex<Strings>,
}

#[pymethods]
impl ImageEntries {
    /// The iterator itself.
    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// The next entry as a dict.
    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let tape = quick(py, || {
            self.cell.with_dependent(|_, state| {
                let mut state = lock(state);
                let (image, entries) = &mut *state;
                match entries.next() {
                    None => Ok(None),
                    Some(entry) => tape::entry_to_tape(image, &entry?, &self.options).map(Some),
                }
            })
        })?;
        let Some(tape) = tape else { return Ok(None) };
        let mut builder = Builder::with_strings(py, std::mem::take(&mut *lock(&self.strings)));
        let built = builder.build(&tape);
        *lock(&self.strings) = builder.into_strings();
        built.map(Some)
    }

    fn __repr__(&self) -> String {
        format!("<ImageEntries of {:?}>", self.cell.borrow_owner().name)
    }
}
