//! Independent tasks on every core: how many threads to use, and a queue
//! of numbered tasks that threads take one after the other.
//!
//! The library uses up to 8 threads for one large job (the CPUs this
//! process may run on). A caller that runs many jobs side by side (Dask
//! workers, `export --jobs`) limits each with [`with_thread_limit`], or the
//! whole process with the environment variable `CRIU_IMAGES_THREADS`: the
//! cores are then shared between jobs instead of every job starting a
//! thread per core.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use crate::error::Result;

/// The environment variable that sets the default number of threads.
pub const THREADS_VARIABLE: &str = "CRIU_IMAGES_THREADS";

thread_local! {
    /// This thread's limit from [`with_thread_limit`] (0: none).
    static LIMIT: Cell<usize> = const { Cell::new(0) };
}

/// Threads worth starting for CPU-bound work: this thread's limit if one is
/// set, else `CRIU_IMAGES_THREADS` if it is a positive number, else the CPUs
/// this thread may run on, at most 8.
pub(crate) fn threads() -> usize {
    match LIMIT.get() {
        0 => default_threads(),
        limit => limit,
    }
}

fn default_threads() -> usize {
    // The variable is read once; the CPUs at every call, as they follow the
    // process's affinity (`taskset`, `os.sched_setaffinity`).
    static VARIABLE: OnceLock<Option<usize>> = OnceLock::new();
    let variable =
        *VARIABLE.get_or_init(|| std::env::var(THREADS_VARIABLE).ok().and_then(|v| v.trim().parse::<usize>().ok()).filter(|&n| n > 0));
    variable.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()).min(8))
}

/// Runs `work` on this thread with the library's work inside it spread over
/// at most `threads` threads (1: none started; 0: no limit, the default).
/// The limit is this thread's: other threads keep theirs.
///
/// ```
/// # fn main() -> criu_images::Result<()> {
/// let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/counter-host/images");
/// // One thread for this checkpoint: other jobs run on the other cores.
/// let pids = criu_images::parallel::with_thread_limit(1, || -> criu_images::Result<Vec<u32>> {
///     let checkpoint = criu_images::Checkpoint::open(dir)?;
///     Ok(checkpoint.processes()?.iter().map(|p| p.pid).collect())
/// })?;
/// assert!(!pids.is_empty());
/// # Ok(())
/// # }
/// ```
pub fn with_thread_limit<R>(threads: usize, work: impl FnOnce() -> R) -> R {
    /// Puts the caller's limit back, also when `work` unwinds.
    struct Restore(usize);
    impl Drop for Restore {
        fn drop(&mut self) {
            LIMIT.set(self.0);
        }
    }
    let _restore = Restore(set_thread_limit(threads));
    work()
}

/// This thread's limit (0: none): what a thread that hands work to a
/// thread of its own passes on with [`with_thread_limit`].
pub fn thread_limit() -> usize {
    LIMIT.get()
}

/// Sets this thread's limit until it is set again, returning the one it
/// replaces; for callers that cannot wrap the work in one closure (a Python
/// `with` block). [`with_thread_limit`] is the scoped form.
pub fn set_thread_limit(threads: usize) -> usize {
    LIMIT.replace(threads)
}

/// `task(0)`, `task(1)`, ... `task(count - 1)` on up to [`threads`] threads,
/// each taking the next number when it is done with one. Returns the
/// results in task order, or the error of the first failed task in task
/// order; after a failure no new task is started.
pub(crate) fn map_tasks<T: Send>(count: usize, task: impl Fn(usize) -> Result<T> + Sync) -> Result<Vec<T>> {
    let threads = threads().min(count);
    if threads <= 1 {
        return (0..count).map(task).collect();
    }
    let next = AtomicUsize::new(0);
    // Tasks that start work of their own keep the caller's limit.
    let limit = LIMIT.get();
    let mut done: Vec<(usize, Result<T>)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    LIMIT.set(limit);
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= count {
                            break;
                        }
                        let result = task(i);
                        let failed = result.is_err();
                        mine.push((i, result));
                        if failed {
                            // No new task for anyone.
                            next.store(count, Ordering::Relaxed);
                            break;
                        }
                    }
                    mine
                })
            })
            .collect();
        workers.into_iter().flat_map(|worker| worker.join().expect("tasks do not panic")).collect()
    });
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, result)| result).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{Error, Location};

    #[test]
    fn results_come_in_task_order_and_the_first_error_wins() {
        let squares = map_tasks(1000, |i| Ok(i * i)).unwrap();
        assert_eq!(squares, (0..1000).map(|i| i * i).collect::<Vec<_>>());
        let fail = |i: usize| Error::Malformed { at: Location::new("tasks", i as u64), detail: format!("task {i}") };
        let err = map_tasks(1000, |i| if i % 100 == 37 { Err(fail(i)) } else { Ok(i) }).unwrap_err();
        assert_eq!(err.to_string(), fail(37).to_string());
        assert!(map_tasks(0, Ok::<usize, Error>).unwrap().is_empty());
    }

    #[test]
    fn a_limit_holds_inside_the_call_and_in_its_tasks_and_ends_with_it() {
        let threads_seen = |outer: usize| {
            // Each task reports the limit it sees and how many threads ran the tasks.
            let ids = std::sync::Mutex::new(std::collections::HashSet::new());
            let seen = map_tasks(64, |_| {
                ids.lock().unwrap().insert(std::thread::current().id());
                std::thread::sleep(std::time::Duration::from_millis(1));
                Ok(threads())
            })
            .unwrap();
            assert!(seen.iter().all(|&n| n == outer), "{seen:?}");
            ids.into_inner().unwrap().len()
        };
        let before = threads();
        assert_eq!(with_thread_limit(1, || threads_seen(1)), 1);
        // Up to 3 (a thread that starts late may find no task left).
        assert!(with_thread_limit(3, || threads_seen(3)) <= 3);
        assert_eq!(threads(), before);
        let unwound = std::panic::catch_unwind(|| with_thread_limit(2, || panic!("work failed")));
        assert!(unwound.is_err());
        assert_eq!(threads(), before);
    }
}
