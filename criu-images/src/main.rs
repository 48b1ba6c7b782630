//! The `criu-images` command line tool; see `criu-images --help`.
//!
//! A C `main` instead of Rust's: std's start-up (`lang_start`) costs about
//! 0.3 ms per run, mostly finding the main thread's stack guard (glibc's
//! `pthread_getattr_np` reads /proc/self/maps) and installing a SIGSEGV
//! handler on an alternate stack, which only turns a stack overflow into a
//! "has overflowed its stack" message (the tree walks are iterative; an
//! overflow is now a plain SIGSEGV). Shell loops pay this once per image.
//!
//! What std did that the tool relies on is done here the same way:
//! - SIGPIPE ignored, so a write to a closed pipe is an EPIPE error, which
//!   `cli::main` treats as a quiet success (`decode ... | head -1`);
//! - file descriptors 0, 1 and 2 opened on /dev/null if closed, so that no
//!   file the tool opens becomes its standard output or error;
//! - a panic exits with status 101 (unwinding out of a C function aborts);
//! - `std::process::exit` flushes standard output like a return from Rust's
//!   `main`.
//!
//! The arguments: on Linux with glibc std captures argc/argv in an
//! `.init_array` function, so `std::env::args_os()` works as usual (tested
//! with non-UTF-8 arguments in tests/cli_start.rs).
#![no_main]

use std::process::ExitCode;

#[no_mangle]
extern "C" fn main(_argc: libc::c_int, _argv: *const *const libc::c_char) -> libc::c_int {
    standard_descriptors();
    // SAFETY: installs the SIG_IGN disposition, no handler code; done before
    // any other thread exists.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    let status = match std::panic::catch_unwind(|| criu_images::cli::main(std::env::args_os())) {
        // ExitCode has no accessor; `cli::main` returns 0, 1 or 2.
        Ok(code) if code == ExitCode::SUCCESS => 0,
        Ok(code) if code == ExitCode::from(2) => 2,
        Ok(_) => 1,
        // The panic hook has printed the message, as std's `main` does.
        Err(_) => 101,
    };
    std::process::exit(status)
}

/// Opens /dev/null on whichever of descriptors 0, 1 and 2 is closed (one
/// `poll` when none is), as std's start-up does on Linux.
fn standard_descriptors() {
    let mut fds = [0, 1, 2].map(|fd| libc::pollfd { fd, events: 0, revents: 0 });
    loop {
        // SAFETY: `fds` is a valid array of three pollfd for the call.
        let ready = unsafe { libc::poll(fds.as_mut_ptr(), 3, 0) };
        if ready >= 0 {
            break;
        }
        match std::io::Error::last_os_error().raw_os_error() {
            Some(libc::EINTR) => continue,
            // poll refused (e.g. a sandbox without it): nothing is known to
            // be closed, as std then checks each descriptor with fcntl.
            _ => return check_each_with_fcntl(),
        }
    }
    for pollfd in fds {
        if pollfd.revents & libc::POLLNVAL != 0 {
            open_dev_null();
        }
    }
}

fn check_each_with_fcntl() {
    for fd in 0..3 {
        // SAFETY: F_GETFD on a descriptor number only reads its flags.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EBADF) {
            open_dev_null();
        }
    }
}

/// The lowest closed descriptor becomes /dev/null (open returns the lowest).
fn open_dev_null() {
    // SAFETY: a NUL-terminated path; the descriptor is kept for the process.
    if unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) } == -1 {
        // As std: without /dev/null the process cannot run safely.
        std::process::abort();
    }
}
