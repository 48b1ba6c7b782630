//! Ctrl-C (SIGINT) in the command line tool: a long memory command stops
//! within a second, and a command writing files (`mem dump`, `decode -o`,
//! `encode -o`, `decode-all`) stops at its next write and removes the files
//! it created (never a file that existed before: see `io::Output`); then
//! it prints one line and ends as interrupted (status 130 in the shell).
//!
//! Commands that can take long or write files call [`watch`] around their
//! work (the writing ones from where they start writing): the first
//! call installs the handler (one `sigaction`, so start-up of every other
//! command costs nothing more). While a watch is held, SIGINT only cancels
//! the shared [`Progress`] that the work checks between chunks of a few
//! MiB: the work stops, removes what it was writing and returns
//! [`Error::Cancelled`](crate::Error::Cancelled), and `cli::main` then calls
//! [`end_interrupted`]. Outside a watch (opening the checkpoint, printing),
//! or at a second Ctrl-C (a write blocked on a stalled pipe does not see the
//! flag), the handler ends the process at once, as the default action would.
//!
//! The process ends by re-raising SIGINT with its default action rather
//! than exiting with status 130: the shell shows 130 all the same, and a
//! shell loop running the tool stops too (bash continues a loop whose
//! command merely exited 130, taking it for a program that handled Ctrl-C).

use std::ptr::null_mut;
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};
use std::sync::{Arc, OnceLock};

use crate::progress::Progress;

/// The progress the work under a [`Watch`] checks; null outside one. It
/// points into [`shared`]'s `Arc`, which a static holds to the end of the
/// process, so the handler may use it whenever it runs.
static WATCHED: AtomicPtr<Progress> = AtomicPtr::new(null_mut());

/// Whether a SIGINT arrived.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

const MESSAGE: &[u8] = b"criu-images: interrupted\n";

/// The one progress of this process that SIGINT cancels.
fn shared() -> &'static Arc<Progress> {
    static SHARED: OnceLock<Arc<Progress>> = OnceLock::new();
    SHARED.get_or_init(|| {
        install();
        Arc::new(Progress::new())
    })
}

/// While this lives, SIGINT cancels the progress [`watch`] returned.
pub(crate) struct Watch(());

impl Drop for Watch {
    fn drop(&mut self) {
        WATCHED.store(null_mut(), Ordering::SeqCst);
    }
}

/// Hands out the progress that the work must check (and count into), and
/// makes SIGINT cancel it until the returned [`Watch`] is dropped.
pub(crate) fn watch() -> (Watch, Arc<Progress>) {
    let progress = shared();
    WATCHED.store(Arc::as_ptr(progress).cast_mut(), Ordering::SeqCst);
    (Watch(()), progress.clone())
}

/// Whether a SIGINT arrived (and was turned into a cancellation).
pub(crate) fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Installs the handler, unless SIGINT is ignored (a background job of a
/// non-interactive shell must stay deaf to it).
fn install() {
    // SAFETY: plain sigaction calls with zero-initialised, then filled,
    // structures; the handler only does async-signal-safe work.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_sigint as extern "C" fn(libc::c_int) as libc::sighandler_t;
        // Interrupted system calls resume: the flag is seen at the next check.
        action.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        let mut old: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(libc::SIGINT, &action, &mut old) == 0 && old.sa_sigaction == libc::SIG_IGN {
            libc::sigaction(libc::SIGINT, &old, null_mut());
        }
    }
}

extern "C" fn on_sigint(_: libc::c_int) {
    let first = !INTERRUPTED.swap(true, Ordering::SeqCst);
    let watched = WATCHED.load(Ordering::SeqCst);
    if first && !watched.is_null() {
        // SAFETY: `watched` points into an Arc a static holds for the whole
        // process (see `WATCHED`); `cancel` is one atomic store.
        unsafe { (*watched).cancel() };
        return;
    }
    end_interrupted();
}

/// Ends the process as interrupted: the message on standard error, then
/// SIGINT with its default action. Only async-signal-safe calls: it also
/// runs inside the handler.
pub(crate) fn end_interrupted() -> ! {
    // SAFETY: write, sigaction, sigprocmask, raise and _exit are
    // async-signal-safe and take valid arguments here.
    unsafe {
        libc::write(2, MESSAGE.as_ptr().cast(), MESSAGE.len());
        let mut default: libc::sigaction = std::mem::zeroed();
        default.sa_sigaction = libc::SIG_DFL;
        libc::sigemptyset(&mut default.sa_mask);
        libc::sigaction(libc::SIGINT, &default, null_mut());
        // Inside the handler SIGINT is blocked: unblock it so that it is delivered now.
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, null_mut());
        libc::raise(libc::SIGINT);
        libc::_exit(130)
    }
}
