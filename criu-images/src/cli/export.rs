//! `criu-images export`: the tables of many checkpoints as Parquet
//! datasets, one directory per table (`DIR/TABLE/part-NNNNN.parquet`, one
//! file per checkpoint), checkpoints in parallel. A checkpoint (or one of
//! its tables) that fails is a row of the `errors` table and a line on
//! standard error; the others still export. docs/export.md.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::{Args, ValueEnum};

use super::interrupt;
use super::text::escape;
use crate::checkpoint::Checkpoint;
use crate::error::{Error, Result};
use crate::memory::{Pattern, SearchOptions};
use crate::progress::Progress;
use crate::tables::{self, Failure, Table, CHECKPOINT_TABLES};

/// The tables written when `--tables` is not given.
const DEFAULT_TABLES: &str = "processes,threads,vmas,fds,sockets,connections";

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub(crate) enum IdFrom {
    /// The path as given on the command line.
    Path,
    /// The file (or directory) name of the checkpoint.
    Name,
}

#[derive(Args, Debug)]
pub(crate) struct ExportArgs {
    /// Checkpoints: images directories, tar, tar.gz, tar.zst archives.
    #[arg(required = true, value_name = "CHECKPOINT")]
    paths: Vec<PathBuf>,
    /// The directory to write the datasets in (created if missing; the
    /// table directories in it must not exist yet).
    #[arg(short = 'o', long = "output", value_name = "DIR")]
    output: PathBuf,
    /// Tables to write, comma-separated: processes, threads, vmas, fds,
    /// sockets, connections, findings (triage).
    #[arg(long, value_delimiter = ',', default_value = DEFAULT_TABLES)]
    tables: Vec<String>,
    /// Search every process's memory for this text (repeatable): the `hits` table.
    #[arg(long = "search", value_name = "PATTERN")]
    search: Vec<String>,
    /// Bytes of context around each hit.
    #[arg(long, default_value_t = 32)]
    context: u64,
    /// YARA rules (a file, a directory of .yar files, or rule text): the `yara` table.
    #[cfg(feature = "yara")]
    #[arg(long, value_name = "RULES")]
    yara: Option<String>,
    /// Checkpoints exported at once (default: every core).
    #[arg(short = 'j', long, value_name = "N")]
    jobs: Option<usize>,
    /// What the `checkpoint` column holds.
    #[arg(long, value_enum, default_value_t = IdFrom::Path)]
    id_from: IdFrom,
}

/// What every worker shares.
struct Job<'a> {
    args: &'a ExportArgs,
    tables: Vec<&'static str>,
    patterns: Vec<(String, Pattern)>,
    #[cfg(feature = "yara")]
    rules: Option<crate::yara::Rules>,
    progress: Arc<Progress>,
    failures: Mutex<Vec<Failure>>,
    /// Checkpoints done (exported or failed).
    done: AtomicUsize,
}

pub(crate) fn run(args: ExportArgs) -> Result<()> {
    let mut tables = Vec::new();
    for name in &args.tables {
        let Some(known) = CHECKPOINT_TABLES.iter().find(|t| **t == name.trim()) else {
            return Err(Error::NotFound {
                container: "export".into(),
                name: format!("table {name:?}"),
                hint: format!(": use some of {}", CHECKPOINT_TABLES.join(", ")),
            });
        };
        if !tables.contains(known) {
            tables.push(*known);
        }
    }
    let patterns = args.search.iter().map(|s| (s.clone(), Pattern::literal(s.as_bytes()))).collect::<Vec<_>>();
    #[cfg(feature = "yara")]
    let rules = args.yara.as_deref().map(crate::yara::Rules::from_path_or_source).transpose()?;

    // Every directory this run writes in: fresh ones, so that a dataset never
    // mixes with the parts of an earlier run and nothing is written through
    // a link that leads elsewhere.
    let mut names: Vec<&str> = tables.clone();
    if !patterns.is_empty() {
        names.push("hits");
    }
    #[cfg(feature = "yara")]
    if rules.is_some() {
        names.push("yara");
    }
    names.push("errors");
    let out = &args.output;
    let made_output = !out.exists();
    std::fs::create_dir_all(out).map_err(|e| Error::io(out.display().to_string(), e))?;
    let mut created = Vec::new();
    for name in &names {
        let dir = out.join(name);
        if let Err(e) = std::fs::create_dir(&dir) {
            remove(&created, made_output.then_some(out.as_path()));
            let hint = if e.kind() == std::io::ErrorKind::AlreadyExists { ": export into a new or empty directory" } else { "" };
            return Err(Error::io(dir.display().to_string(), std::io::Error::new(e.kind(), format!("{e}{hint}"))));
        }
        created.push(dir);
    }

    let (watch, progress) = interrupt::watch();
    let job = Job {
        args: &args,
        tables,
        patterns,
        #[cfg(feature = "yara")]
        rules,
        progress,
        failures: Mutex::new(Vec::new()),
        done: AtomicUsize::new(0),
    };
    let count = args.paths.len();
    let jobs = args.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())).clamp(1, count.max(1));
    let bar = std::io::stderr().is_terminal().then(|| Bar::start(count));
    let next = AtomicUsize::new(0);
    // The cores are shared between the jobs: each checkpoint's own work
    // (pagemap parse, search) gets its part of them, not one thread per core.
    let threads_per_job = (crate::parallel::threads() / jobs).max(1);
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                crate::parallel::with_thread_limit(threads_per_job, || loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count || job.progress.is_cancelled() {
                        break;
                    }
                    export_one(&job, i);
                    let done = job.done.fetch_add(1, Ordering::Relaxed) + 1;
                    if let Some(bar) = &bar {
                        bar.update(done, lock(&job.failures).len());
                    }
                })
            });
        }
    });
    if let Some(bar) = bar {
        bar.stop();
    }
    let cancelled = job.progress.check();
    drop(watch);
    if let Err(e) = cancelled {
        // Ctrl-C: no partial datasets; only what this run created goes.
        remove(&created, made_output.then_some(out.as_path()));
        return Err(e);
    }
    let failures = std::mem::take(&mut *lock(&job.failures));
    let mut failures = failures;
    failures.sort_by(|a, b| (&a.checkpoint, &a.table).cmp(&(&b.checkpoint, &b.table)));
    tables::parquet::write(&tables::errors(&failures)?, &part(out, "errors", 0))?;
    if failures.is_empty() {
        return Ok(());
    }
    let failed = failures.iter().map(|f| &f.checkpoint).collect::<std::collections::BTreeSet<_>>().len();
    let errors = out.join("errors");
    Err(Error::io(
        errors.display().to_string(),
        std::io::Error::other(format!("{failed} of {count} checkpoints failed, in part or whole (one row per failure in this table)")),
    ))
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// `DIR/TABLE/part-NNNNN.parquet`: the table's part of checkpoint `index`.
fn part(out: &Path, table: &str, index: usize) -> PathBuf {
    out.join(table).join(format!("part-{index:05}.parquet"))
}

/// Removes the table directories this run created (and the output directory if it made it).
fn remove(created: &[PathBuf], output: Option<&Path>) {
    for dir in created {
        let _ = std::fs::remove_dir_all(dir);
    }
    if let Some(output) = output {
        let _ = std::fs::remove_dir(output);
    }
}

/// The `checkpoint` column's value for `path`.
fn id_of(path: &Path, from: IdFrom) -> String {
    match from {
        IdFrom::Path => path.display().to_string(),
        IdFrom::Name => path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned()),
    }
}

/// Writes every table of checkpoint `index`, recording failures.
fn export_one(job: &Job<'_>, index: usize) {
    let Some(path) = job.args.paths.get(index) else { return };
    let id = id_of(path, job.args.id_from);
    let fail = |table: Option<&str>, error: &Error| {
        if matches!(error, Error::Cancelled) {
            return;
        }
        let failure = Failure::new(&id, table, error);
        let within = table.map(|t| format!(" ({t})")).unwrap_or_default();
        eprintln!("criu-images: error: {}{within}: {}", escape(&id), escape(&failure.message));
        lock(&job.failures).push(failure);
    };
    let checkpoint = match super::open_checkpoint(path).and_then(|c| super::require_process_tree(&c).map(|()| c)) {
        Ok(c) => c,
        Err(e) => return fail(None, &e),
    };
    for name in &job.tables {
        if job.progress.is_cancelled() {
            return;
        }
        let written =
            tables::checkpoint_table(&checkpoint, &id, name).and_then(|t| tables::parquet::write(&t, &part(&job.args.output, name, index)));
        if let Err(e) = written {
            fail(Some(name), &e);
        }
    }
    if !job.patterns.is_empty() && !job.progress.is_cancelled() {
        if let Err(e) = search(job, &checkpoint, &id).and_then(|t| tables::parquet::write(&t, &part(&job.args.output, "hits", index))) {
            fail(Some("hits"), &e);
        }
    }
    #[cfg(feature = "yara")]
    if let Some(rules) = &job.rules {
        let options = crate::yara::YaraOptions { context: 32, progress: Some(&job.progress), ..Default::default() };
        let written = crate::yara::scan_checkpoint(&checkpoint, rules, &options)
            .and_then(|report| tables::yara_hits(&id, &report.hits))
            .and_then(|t| tables::parquet::write(&t, &part(&job.args.output, "yara", index)));
        if let Err(e) = written {
            fail(Some("yara"), &e);
        }
    }
}

/// The `hits` table of every pattern over every process's memory.
fn search(job: &Job<'_>, checkpoint: &Checkpoint, id: &str) -> Result<Table> {
    // The job's progress for its Ctrl-C: a search stops at its next step, not
    // only between processes (its counts are not shown: the bar counts checkpoints).
    let options = SearchOptions { context: job.args.context, progress: Some(job.progress.clone()), ..SearchOptions::default() };
    let mut all = Vec::new();
    for pid in checkpoint.memory_pids()? {
        let memory = checkpoint.memory(pid)?;
        for (text, pattern) in &job.patterns {
            job.progress.check()?;
            all.extend(memory.search(pattern, &options)?.into_iter().map(|hit| (text.as_str(), hit)));
        }
    }
    let rows: Vec<(Option<&str>, &crate::memory::Hit)> = all.iter().map(|(p, h)| (Some(*p), h)).collect();
    tables::hits(id, &rows)
}

/// A one-line progress bar on standard error: checkpoints done of all.
struct Bar {
    state: Arc<(AtomicUsize, AtomicUsize, AtomicBool)>,
    thread: std::thread::JoinHandle<()>,
}

impl Bar {
    fn start(total: usize) -> Bar {
        let state = Arc::new((AtomicUsize::new(0), AtomicUsize::new(0), AtomicBool::new(false)));
        let shared = state.clone();
        let thread = std::thread::spawn(move || {
            while !shared.2.load(Ordering::Relaxed) {
                let (done, failed) = (shared.0.load(Ordering::Relaxed), shared.1.load(Ordering::Relaxed));
                let filled = done.min(total) * 30 / total.max(1);
                eprint!("\rexport [{}{}] {done} / {total} checkpoints, {failed} failed", "#".repeat(filled), " ".repeat(30 - filled));
                std::thread::sleep(Duration::from_millis(200));
            }
            eprint!("\r\x1b[2K");
        });
        Bar { state, thread }
    }

    fn update(&self, done: usize, failed: usize) {
        self.state.0.store(done, Ordering::Relaxed);
        self.state.1.store(failed, Ordering::Relaxed);
    }

    fn stop(self) {
        self.state.2.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
    }
}
