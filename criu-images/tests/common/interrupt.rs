//! Ctrl-C in the command line tool: run a command, send SIGINT once it
//! writes, and check that it ends as interrupted. Include with
//! `#[path = "common/interrupt.rs"] mod interrupt;` (it needs the binary,
//! so it is not part of `common`).

use std::ffi::OsStr;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Generous: the tool checks for Ctrl-C every few MiB written
/// (milliseconds); this bound only catches an interrupt not acted upon.
pub const BOUND: Duration = Duration::from_secs(10);

/// The command line tool with `args`, its output piped, SIGINT at its
/// default action (a test runner started in the background may have it
/// ignored, and the tool, rightly, keeps an ignored SIGINT ignored).
pub fn command<S: AsRef<OsStr>>(args: &[S]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_criu-images"));
    command.args(args);
    // SAFETY: only resets a signal disposition between fork and exec.
    unsafe {
        command.pre_exec(|| {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            Ok(())
        });
    }
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    command
}

/// Runs `command` until `writing` says it writes, then sends Ctrl-C and
/// checks that it ends as interrupted (SIGINT, one line on stderr, nothing
/// on stdout) within [`BOUND`].
pub fn interrupt_while_writing(mut command: Command, writing: impl Fn() -> bool) {
    let mut child = command.spawn().unwrap();
    let waiting = Instant::now();
    while !writing() {
        assert!(child.try_wait().unwrap().is_none(), "the command ended before it was interrupted");
        assert!(waiting.elapsed() < BOUND, "the command did not start writing");
        std::thread::sleep(Duration::from_micros(200));
    }
    // SAFETY: kill with a child's pid and a valid signal number.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) }, 0);
    let sent = Instant::now();
    let output = child.wait_with_output().unwrap();
    let took = sent.elapsed();
    assert_eq!(output.status.signal(), Some(libc::SIGINT), "ends by SIGINT (status 130 in the shell): {:?}", output.status);
    assert_eq!(String::from_utf8_lossy(&output.stderr), "criu-images: interrupted\n");
    assert!(output.stdout.is_empty(), "nothing on stdout: {}", String::from_utf8_lossy(&output.stdout));
    assert!(took < BOUND, "stopped {took:?} after Ctrl-C");
}
