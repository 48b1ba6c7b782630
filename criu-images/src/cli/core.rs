//! `core`: ELF core files of checkpointed processes, for gdb.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use super::interrupt;
use crate::checkpoint::{Checkpoint, Rootfs};
use crate::coredump::{write_core_file, CoreOptions, CoreSummary};
use crate::error::{Error, Result};
use crate::evidence::Provenance;
use crate::progress::Progress;

#[derive(Args, Debug)]
pub(crate) struct CoreArgs {
    /// Checkpoint: images directory, tar, tar.gz, tar.zst.
    path: PathBuf,
    /// Process id (repeat for several; then -o is a directory). Default: the
    /// first process of the tree (the container's init).
    #[arg(long, conflicts_with = "all")]
    pid: Vec<u32>,
    /// Every process with an address space, as DIR/core.PID.
    #[arg(long)]
    all: bool,
    /// The core file, or with several processes the directory for core.PID files.
    #[arg(short, long, value_name = "PATH")]
    output: PathBuf,
    #[command(flatten)]
    rootfs: super::RootfsArg,
}

pub(super) fn run(args: CoreArgs, out: &mut dyn Write) -> Result<()> {
    let checkpoint = super::open_checkpoint(&args.path)?;
    super::require_process_tree(&checkpoint)?;
    let rootfs = args.rootfs.load(&checkpoint)?;
    let several = args.all || args.pid.len() > 1;
    let pids = if args.all {
        checkpoint.memory_pids()?
    } else if args.pid.is_empty() {
        checkpoint.pids()?.into_iter().take(1).collect()
    } else {
        args.pid.clone()
    };
    for &pid in &pids {
        checkpoint.require_pid(pid)?;
    }
    let targets: Vec<(u32, PathBuf)> = match several {
        true => pids.iter().map(|&pid| (pid, args.output.join(format!("core.{pid}")))).collect(),
        false => pids.iter().map(|&pid| (pid, args.output.clone())).collect(),
    };
    let made_dir = several && !args.output.exists();
    if made_dir {
        std::fs::create_dir_all(&args.output).map_err(|e| Error::io(args.output.display().to_string(), e))?;
    }
    // Ctrl-C stops the write; the core being written is never renamed into place.
    let (watch, progress) = interrupt::watch();
    let mut created = Vec::new();
    let mut result = Ok(());
    for (pid, path) in &targets {
        let existed = path.exists();
        match write_one(&checkpoint, *pid, &rootfs, path, &progress) {
            Ok(summary) => {
                if !existed {
                    created.push(path.clone());
                }
                // The provenance sidecar core.PID.json (docs/evidence.md).
                let provenance = Provenance { source: args.path.clone(), pid: Some(*pid), ..Provenance::default() };
                match super::io::write_provenance(path, provenance) {
                    Ok(sidecar) => {
                        if let Some(sidecar) = sidecar {
                            created.push(sidecar.clone());
                            let name = sidecar.display().to_string();
                            writeln!(out, "{}; provenance in {}", summary_line(path, &summary), super::text::escape(&name)).ok();
                        } else {
                            writeln!(out, "{}", summary_line(path, &summary)).ok();
                        }
                    }
                    Err(err) => {
                        result = Err(err);
                        break;
                    }
                }
            }
            Err(err) => {
                result = Err(err);
                break;
            }
        }
    }
    if result.is_ok() {
        result = progress.check();
    }
    drop(watch);
    if result.is_err() {
        // No partial set of cores either: remove the ones this run created.
        for path in &created {
            let _ = std::fs::remove_file(path);
        }
        if made_dir {
            let _ = std::fs::remove_dir(&args.output);
        }
    }
    result
}

fn write_one(checkpoint: &Checkpoint, pid: u32, rootfs: &Rootfs<'_>, path: &Path, progress: &Arc<Progress>) -> Result<CoreSummary> {
    let bar = std::io::stderr().is_terminal().then(|| Bar::start(path, progress.clone()));
    let options = CoreOptions { rootfs: rootfs.source(), progress: Some(progress) };
    let written = write_core_file(checkpoint, pid, &options, path);
    if let Some(bar) = bar {
        bar.stop();
    }
    written
}

/// `core.7: x86_64, pid 7, 3 threads, 41 areas (2 without contents), 5.2 MiB of memory in a 1.1 GiB sparse file, 12 pages not in the checkpoint read as zeros`
fn summary_line(path: &Path, s: &CoreSummary) -> String {
    format!(
        "{}: {}, pid {}, {} threads, {} areas ({} without contents), {} of memory in a {} sparse file, {} pages not in the checkpoint read as zeros",
        super::text::escape(&path.display().to_string()),
        s.machine,
        s.pid,
        s.threads,
        s.areas,
        s.areas_without_contents,
        mib(s.memory_bytes),
        mib(s.size),
        s.zero_filled_pages
    )
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64)
}

/// A one-line progress bar on standard error, redrawn a few times a second.
struct Bar {
    done: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl Bar {
    fn start(path: &Path, progress: Arc<Progress>) -> Bar {
        let done = Arc::new(AtomicBool::new(false));
        let stop = done.clone();
        let name = super::text::escape(&path.display().to_string()).to_string();
        let thread = std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let (d, t) = (progress.done(), progress.total().max(1));
                let filled = (d.min(t) * 30 / t) as usize;
                eprint!("\r{name} [{}{}] {} / {}", "#".repeat(filled), " ".repeat(30 - filled), mib(d), mib(t));
                std::thread::sleep(Duration::from_millis(200));
            }
            eprint!("\r\x1b[2K");
        });
        Bar { done, thread }
    }

    fn stop(self) {
        self.done.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
    }
}
