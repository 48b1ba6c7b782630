//! `progress=`: long operations run on a worker thread with the GIL
//! released, while the calling thread wakes a few times a second, takes the
//! GIL and calls the user's callback with `(done, total)`. An exception from
//! the callback (or a signal such as Ctrl-C) cancels the work through the
//! crate's [`Progress`] and is raised once the worker has stopped.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

use criu_images::progress::Progress;

use crate::errors::{panic_to_py, to_py};

/// How often the callback is called while the work runs.
pub(crate) const INTERVAL: Duration = Duration::from_millis(100);

static ADAPT: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// The user's `progress=` argument: None, or a callable `f(done, total)`
/// (a tqdm bar is wrapped by `criu_images._progress.adapt`).
pub(crate) struct Callback<'py> {
    call: Bound<'py, PyAny>,
    last: Option<(u64, u64)>,
}

impl<'py> Callback<'py> {
    /// None for None; a `TypeError` for something that is neither callable nor tqdm-like.
    pub(crate) fn new(progress: Option<&Bound<'py, PyAny>>) -> PyResult<Option<Callback<'py>>> {
        let Some(progress) = progress.filter(|p| !p.is_none()) else { return Ok(None) };
        let call = ADAPT.import(progress.py(), "criu_images._progress", "adapt")?.call1((progress,))?;
        Ok(Some(Callback { call, last: None }))
    }

    /// Calls `f(done, total)` unless these values were the last reported.
    pub(crate) fn report(&mut self, done: u64, total: u64) -> PyResult<()> {
        if self.last == Some((done, total)) {
            return Ok(());
        }
        self.last = Some((done, total));
        self.call.call1((done, total))?;
        Ok(())
    }
}

/// Runs `work` with the GIL released, on a scoped thread, handing it the
/// [`Progress`] it must count into and watch. Meanwhile the calling thread
/// wakes every [`INTERVAL`] to see whether a signal (Ctrl-C, a notebook's
/// interrupt) arrived and to report to the user's `progress=` callback, if
/// any, and once more, `(total, total)`, when the work is done. A signal or
/// an exception from the callback cancels the work.
pub(crate) fn run_with<T: Send>(
    py: Python<'_>,
    callback: Option<&Bound<'_, PyAny>>,
    work: impl FnOnce(&Arc<Progress>) -> criu_images::Result<T> + Send,
) -> PyResult<T> {
    run_indexed(py, callback, |_, progress| work(progress))
}

/// [`run_with`] for work that first builds the memory indexes it needs:
/// `work` gets two counters, the first for the index builds (pagemap bytes,
/// which a build adds to the total as it finds them), the second for the
/// work itself (which sets its own total when it starts). The callback sees
/// their sums, so that the bar moves while an index is built and its total
/// includes the pagemap bytes; a signal or an exception from the callback
/// cancels both.
pub(crate) fn run_indexed<T: Send>(
    py: Python<'_>,
    callback: Option<&Bound<'_, PyAny>>,
    work: impl FnOnce(&Arc<Progress>, &Arc<Progress>) -> criu_images::Result<T> + Send,
) -> PyResult<T> {
    let mut callback = Callback::new(callback)?;
    let index = &Arc::new(Progress::new());
    let progress = &Arc::new(Progress::new());
    let counted = || (index.done().saturating_add(progress.done()), index.total().saturating_add(progress.total()));
    let finished = (Mutex::new(false), Condvar::new());
    let mut raised: Option<PyErr> = None;
    // The worker keeps the caller's `criu_images.thread_limit()`.
    let limit = criu_images::parallel::thread_limit();
    let outcome = std::thread::scope(|scope| {
        let worker = scope.spawn(|| {
            let outcome = criu_images::parallel::with_thread_limit(limit, || catch_unwind(AssertUnwindSafe(|| work(index, progress))));
            *finished.0.lock().unwrap_or_else(|p| p.into_inner()) = true;
            finished.1.notify_all();
            outcome
        });
        loop {
            let done = py.detach(|| {
                let guard = finished.0.lock().unwrap_or_else(|p| p.into_inner());
                let (guard, _) = finished.1.wait_timeout_while(guard, INTERVAL, |done| !*done).unwrap_or_else(|p| p.into_inner());
                *guard
            });
            if done {
                break;
            }
            if raised.is_none() {
                let (now, total) = counted();
                // Before the work has counted its total there is nothing to say.
                let checked = py.check_signals().and_then(|_| match callback.as_mut() {
                    Some(callback) if total > 0 => callback.report(now, total),
                    _ => Ok(()),
                });
                if let Err(err) = checked {
                    index.cancel();
                    progress.cancel();
                    raised = Some(err);
                }
            }
        }
        // The worker has finished; joining only collects its result.
        worker.join()
    });
    if let Some(err) = raised {
        return Err(err);
    }
    match outcome {
        Ok(Ok(Ok(value))) => {
            if let Some(callback) = callback.as_mut() {
                let (_, total) = counted();
                callback.report(total, total)?;
            }
            Ok(value)
        }
        Ok(Ok(Err(err))) => Err(to_py(py, err)),
        Ok(Err(payload)) | Err(payload) => Err(panic_to_py(payload)),
    }
}
