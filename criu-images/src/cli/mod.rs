//! The `criu-images` command line tool.
//!
//! `decode`, `encode`, `info` and `show` behave like crit's commands of the
//! same names (same JSON, same use of standard input and output when `-i` /
//! `-o` are absent), with errors that say where an input is broken.
//!
//! This file holds the command tree and the dispatch; each group of
//! commands lives in its own file with its arguments: [`crit`] (decode,
//! encode, info, show IMAGE, decode-all), [`show`] (the checkpoint
//! summary), [`archive`] (ls, rootfs), [`inspect`], [`triage`], [`explore`] (x), [`mem`],
//! [`core`] (ELF core files), [`diff`], [`net`], [`hash`], [`report`];
//! [`io`] reads inputs and writes outputs, [`text`] escapes and formats.

use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod archive;
mod core;
mod crit;
mod diff;
mod explore;
#[cfg(feature = "parquet")]
mod export;
mod hash;
mod inspect;
mod interrupt;
mod io;
mod mem;
mod net;
mod report;
mod show;
pub mod text;
mod triage;
#[cfg(feature = "yara")]
mod yara;

pub use diff::diff_text;

use crate::checkpoint::Checkpoint;
use crate::error::{Error, Result};

/// Read CRIU checkpoint images: decode them to crit-compatible JSON and back.
#[derive(Parser, Debug)]
#[command(name = "criu-images", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// With an OCI image index or docker-archive holding several images
    /// (checkpoints, platforms): the one to open, by reference, digest (or
    /// its first 12+ hex digits) or platform (linux/amd64).
    #[arg(long, global = true, value_name = "REF|DIGEST")]
    image: Option<String>,
}

/// The command line as given, for the provenance sidecars of evidence files.
static ARGV: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();

/// The command line this run was given (empty before [`main`] parsed it).
pub(crate) fn command_line() -> Vec<String> {
    ARGV.get().cloned().unwrap_or_default()
}

/// `--image`, set once from the command line before any command runs.
static IMAGE: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();

/// The open options of the command line (`--image`).
pub(crate) fn open_options() -> crate::archive::OpenOptions {
    crate::archive::OpenOptions { image: IMAGE.get().cloned().flatten(), ..crate::archive::OpenOptions::default() }
}

/// Opens a checkpoint with the command line's options.
pub(crate) fn open_checkpoint(path: &std::path::Path) -> Result<Checkpoint> {
    Checkpoint::open_with(path, &open_options())
}

// `--rootfs` of the commands that read process memory (`mem`, `core`); a
// plain comment: a doc comment here would become their help text.
#[derive(clap::Args, Debug)]
pub(crate) struct RootfsArg {
    /// Where unmodified file-backed pages come from: `auto` (the default:
    /// the checkpoint's rootfs-diff.tar when it has one), `none`, `diff`
    /// (rootfs-diff.tar, required), or a directory added after the diff.
    #[arg(long, value_name = "auto|none|diff|DIR")]
    rootfs: Option<String>,
}

impl RootfsArg {
    pub(crate) fn load<'c>(&self, checkpoint: &'c Checkpoint) -> Result<crate::checkpoint::Rootfs<'c>> {
        crate::checkpoint::Rootfs::load(checkpoint, self.rootfs.as_deref())
    }
}

#[derive(Subcommand, Debug)]
#[command(defer = true)]
enum Command {
    /// Convert an image to JSON (crit decode).
    Decode(crit::DecodeArgs),
    /// Convert JSON back to an image (crit encode).
    Encode(crit::EncodeArgs),
    /// Decode every protobuf image of a checkpoint to OUTDIR/NAME.json.
    DecodeAll(crit::DecodeAllArgs),
    /// Print the image type and number of entries (crit info).
    Info(crit::InfoArgs),
    /// Summarise a checkpoint (directory or archive), or print one image as
    /// indented, humanised JSON (crit show).
    Show(crit::ShowArgs),
    /// List the members of a checkpoint (directory, tar, tar.gz, tar.zst) with sizes.
    Ls(archive::LsArgs),
    /// Process memory: maps, search, strings, read, dump.
    #[command(subcommand)]
    Mem(mem::MemCommand),
    /// Processes, credentials, command lines, environment, files and sockets of a checkpoint.
    Inspect(inspect::InspectArgs),
    /// crit's explorers: ps, fds, mems, rss (and sk).
    X(explore::ExploreArgs),
    /// The container's changed files (rootfs-diff.tar), read without extracting.
    Rootfs(archive::RootfsArgs),
    /// Write ELF core files of checkpointed processes, for gdb.
    Core(core::CoreArgs),
    /// What changed between two checkpoints: processes, files, sockets, memory, root filesystem.
    Diff(diff::DiffArgs),
    /// Suspicious traces (injected code, reverse shells, privileges, secrets, shell history), most severe first.
    Triage(triage::TriageArgs),
    /// Every socket of the container with its process and fd, addresses,
    /// state, queued bytes and the pid/fd at the other end.
    Net(net::NetArgs),
    /// SHA-256 of the checkpoint archive and of each member (sha256sum lines, or JSON).
    Hash(hash::HashArgs),
    /// One self-contained HTML page (or JSON): summary, hashes, process tree,
    /// command lines and environments (secrets masked), network, rootfs changes, memory maps.
    Report(report::ReportArgs),
    /// YARA rules over every process's memory (and with --rootfs the checkpoint's files).
    #[cfg(feature = "yara")]
    Yara(yara::YaraArgs),
    /// The tables of many checkpoints (processes, vmas, fds, sockets, hits, ...) as Parquet datasets, in parallel.
    #[cfg(feature = "parquet")]
    Export(export::ExportArgs),
}

/// Runs the tool with these arguments (the first one is the program name)
/// and returns its exit status: 0 on success, 1 on bad input, 2 on bad usage.
pub fn main<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<T> = args.into_iter().collect();
    let _ = ARGV.set(args.iter().map(|a| a.clone().into().to_string_lossy().into_owned()).collect());
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return if err.use_stderr() { ExitCode::from(2) } else { ExitCode::SUCCESS };
        }
    };
    let result = run(cli);
    if interrupt::interrupted() {
        // Ctrl-C stopped the work (or came as it ended): what was printed goes out, then the process ends as interrupted.
        let _ = std::io::stdout().flush();
        interrupt::end_interrupted();
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("criu-images: error: {}", text::escape(&err.to_string()));
            ExitCode::from(1)
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    let _ = IMAGE.set(cli.image);
    match cli.command {
        Command::Decode(args) => crit::decode(args),
        Command::Encode(args) => crit::encode(args),
        Command::DecodeAll(args) => crit::decode_all(args),
        Command::Info(args) => crit::info(args),
        Command::Show(args) => crit::show(args),
        Command::Ls(args) => archive::ls(args),
        Command::Rootfs(args) => archive::rootfs(args),
        Command::Mem(command) => to_stdout(|out| mem::run(command, out)),
        Command::X(args) => to_stdout(|out| explore::run(args, out)),
        Command::Inspect(args) => to_stdout(|out| inspect::run(args, out)),
        Command::Core(args) => to_stdout(|out| core::run(args, out)),
        Command::Diff(args) => to_stdout(|out| diff::run(args, out)),
        Command::Triage(args) => to_stdout(|out| triage::run(args, out)),
        Command::Net(args) => to_stdout(|out| net::run(args, out)),
        Command::Hash(args) => to_stdout(|out| hash::run(args, out)),
        Command::Report(args) => report::run(args),
        #[cfg(feature = "yara")]
        Command::Yara(args) => to_stdout(|out| yara::run(args, out)),
        #[cfg(feature = "parquet")]
        Command::Export(args) => export::run(args),
    }
}

/// Runs a command that writes to a buffered standard output.
fn to_stdout(command: impl FnOnce(&mut std::io::BufWriter<std::io::StdoutLock<'static>>) -> Result<()>) -> Result<()> {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    command(&mut out)?;
    out.flush().map_err(|e| Error::io("<stdout>", e))
}

/// Fails unless the checkpoint has a process tree (`pstree.img`): a
/// pre-dump directory, or a single image, has none, and listing "0
/// processes" would hide that.
pub(crate) fn require_process_tree(checkpoint: &Checkpoint) -> Result<()> {
    if checkpoint.images().file("pstree.img")?.is_some() {
        return Ok(());
    }
    Err(Error::NotFound {
        container: checkpoint.images().label(),
        name: "pstree.img".into(),
        hint: ": not a dump with processes (a pre-dump directory holds only memory; open the final dump)".into(),
    })
}

/// Prints each warning on standard error, escaped, as
/// `criu-images: warning: ...`.
pub(crate) fn print_warnings(warnings: &[crate::warning::Warning]) {
    for warning in warnings {
        eprintln!("criu-images: warning: {}", text::escape(&warning.to_string()));
    }
}

/// Warns on standard error about parent links that loop (the processes are
/// shown, each once, the loop broken at the first of them).
pub(crate) fn warn_about_loops(tree: &crate::model::ProcessTree) {
    for pid in &tree.loops {
        eprintln!("criu-images: warning: pstree.img: the parent links of process {pid} loop back to it; shown as a root");
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// Subcommands are built when used (`defer`), so a run checks only its
    /// own in debug builds; this checks clap's rules on the whole tree.
    /// Start-up builds the arguments of the subcommand that runs only.
    #[test]
    fn subcommands_are_built_when_used() {
        let tree = super::Cli::command();
        for name in ["decode", "decode-all", "info", "inspect", "rootfs"] {
            let sub = tree.find_subcommand(name).map(|sub| sub.get_arguments().count());
            assert_eq!(sub, Some(0), "{name}");
        }
        let mut tree = tree;
        tree.build();
        assert!(tree.find_subcommand("decode").is_some_and(|sub| sub.get_arguments().any(|a| a.get_id() == "pretty")));
    }

    #[test]
    fn the_whole_command_tree_is_valid() {
        super::Cli::command().debug_assert();
    }
}
