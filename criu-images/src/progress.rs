//! Progress of long operations (memory search, strings, dump), shared
//! between the threads doing the work and one watching it, which may also
//! cancel it.
//!
//! The work only adds to counters and checks a flag, between chunks of a
//! few MiB, so that watching costs nothing measurable; whoever watches reads
//! the counters when it likes (the Python bindings: a few times a second,
//! from the thread that holds the GIL).
//!
//! ```
//! use criu_images::progress::Progress;
//!
//! let progress = Progress::new();
//! progress.set_total(100);
//! progress.advance(40);
//! assert_eq!((progress.done(), progress.total()), (40, 100));
//! progress.cancel();
//! assert!(progress.check().is_err());
//! ```

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::error::{Error, Result};

/// Done and total units (bytes, for memory) of one operation, and whether
/// it was asked to stop.
#[derive(Debug)]
pub struct Progress {
    done: AtomicU64,
    total: AtomicU64,
    cancelled: AtomicBool,
}

impl Progress {
    /// Nothing done, total 0, not cancelled.
    pub const fn new() -> Progress {
        Progress { done: AtomicU64::new(0), total: AtomicU64::new(0), cancelled: AtomicBool::new(false) }
    }

    /// Adds `units` to the total, keeping what is done: for work that
    /// finds out its size as it goes (the pagemaps of a process's index).
    pub fn add_total(&self, units: u64) {
        let _ = self.total.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |total| Some(total.saturating_add(units)));
    }

    /// Sets the total, and nothing done yet.
    pub fn set_total(&self, total: u64) {
        self.total.store(total, Ordering::Relaxed);
        self.done.store(0, Ordering::Relaxed);
    }

    /// Adds `units` to what is done (never beyond the total).
    pub fn advance(&self, units: u64) {
        let total = self.total.load(Ordering::Relaxed);
        let _ = self.done.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |done| Some(done.saturating_add(units).min(total)));
    }

    /// Marks the whole total as done (the operation completed, possibly
    /// early, e.g. at `max_hits`).
    pub fn finish(&self) {
        self.done.store(self.total.load(Ordering::Relaxed), Ordering::Relaxed);
    }

    /// Units done so far.
    pub fn done(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }

    /// Units in all.
    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    /// Asks the work to stop at its next check.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Relaxed);
    }

    /// Whether [`cancel`](Self::cancel) was called.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }

    /// [`Error::Cancelled`] once cancelled.
    pub fn check(&self) -> Result<()> {
        if self.is_cancelled() {
            return Err(Error::Cancelled);
        }
        Ok(())
    }
}

impl Default for Progress {
    fn default() -> Progress {
        Progress::new()
    }
}

/// Units of work between two progress reports (and cancellation checks):
/// large enough to cost nothing, small enough to stop within milliseconds.
pub const STEP: usize = 8 << 20;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn done_never_exceeds_total_and_finish_reaches_it() {
        let p = Progress::new();
        p.set_total(10);
        p.advance(4);
        p.advance(100);
        assert_eq!(p.done(), 10);
        p.set_total(20);
        assert_eq!(p.done(), 0);
        p.advance(5);
        p.finish();
        assert_eq!((p.done(), p.total()), (20, 20));
        assert!(p.check().is_ok());
        p.cancel();
        assert!(matches!(p.check(), Err(Error::Cancelled)));
    }
}
