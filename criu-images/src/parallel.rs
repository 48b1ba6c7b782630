//! Independent tasks on every core: how many threads to use, and a queue
//! of numbered tasks that threads take one after the other.

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::error::Result;

/// Threads worth starting for CPU-bound work: the CPUs this thread may run
/// on, at most 8.
pub(crate) fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()).min(8)
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
    let mut done: Vec<(usize, Result<T>)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
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
}
