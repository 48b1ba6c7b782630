//! The `criu-images` command line tool.
//!
//! `decode`, `encode`, `info` and `show` behave like crit's commands of the
//! same names (same JSON, same use of standard input and output when `-i` /
//! `-o` are absent), with errors that say where an input is broken.

use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

mod explore;
mod inspect;
mod mem;
pub mod text;

use std::fmt::Write as _;

use crate::archive::{Archive, OpenOptions};
use crate::checkpoint::{describe_file, Checkpoint};
use crate::error::{Error, Result};
use crate::image::{Image, ImageFile};
use crate::json::{self, DecodeOptions};
use text::outln;

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

/// `--image`, set once from the command line before any command runs.
static IMAGE: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();

/// The open options of the command line (`--image`).
pub(crate) fn open_options() -> OpenOptions {
    OpenOptions { image: IMAGE.get().cloned().flatten(), ..OpenOptions::default() }
}

/// Opens a checkpoint with the command line's options.
pub(crate) fn open_checkpoint(path: &std::path::Path) -> Result<Checkpoint> {
    Checkpoint::open_with(path, &open_options())
}

#[derive(Subcommand, Debug)]
#[command(defer = true)]
enum Command {
    /// Convert an image to JSON (crit decode).
    Decode(DecodeArgs),
    /// Convert JSON back to an image (crit encode).
    Encode(EncodeArgs),
    /// Decode every protobuf image of a checkpoint to OUTDIR/NAME.json.
    DecodeAll {
        /// The checkpoint: images directory, tar, tar.gz, tar.zst.
        path: PathBuf,
        /// Directory to write the JSON files into (created if missing).
        #[arg(short = 'o', long = "out")]
        output: PathBuf,
        /// Indented, humanised JSON, as crit --pretty.
        #[arg(long)]
        pretty: bool,
    },
    /// Print the image type and number of entries (crit info).
    Info {
        /// The image file, or ARCHIVE:MEMBER.
        #[arg(value_name = "IN")]
        input: PathBuf,
    },
    /// Summarise a checkpoint (directory or archive), or print one image as
    /// indented, humanised JSON (crit show).
    Show {
        /// A checkpoint; or an image file, or ARCHIVE:MEMBER (e.g. checkpoint.tar:checkpoint/pstree.img).
        #[arg(value_name = "IN")]
        input: PathBuf,
        /// Replace extra payloads (pipe data, socket queues, ...) by their size.
        #[arg(long)]
        nopl: bool,
        /// With a checkpoint: also CRIU's dump statistics.
        #[arg(long)]
        stats: bool,
        /// With a container image (oci-archive, oci-layout, docker-archive):
        /// check the sha256 of every blob and print the results; fails if one
        /// does not match.
        #[arg(long)]
        verify: bool,
    },
    /// List the members of a checkpoint (directory, tar, tar.gz, tar.zst) with sizes.
    Ls {
        /// The checkpoint.
        path: PathBuf,
        /// Largest decompressed size of a compressed archive, in bytes.
        #[arg(long)]
        max_decompressed: Option<u64>,
        /// With a container image: check the sha256 of every blob and print
        /// the results; fails if one does not match.
        #[arg(long)]
        verify: bool,
    },
    /// Process memory: maps, search, strings, read, dump.
    #[command(subcommand)]
    Mem(mem::MemCommand),
    /// Processes, credentials, command lines, environment, files and sockets of a checkpoint.
    Inspect(inspect::InspectArgs),
    /// crit's explorers: ps, fds, mems, rss (and sk).
    X(explore::ExploreArgs),
    /// The container's changed files (rootfs-diff.tar), read without extracting.
    Rootfs {
        /// The checkpoint.
        path: PathBuf,
        #[command(subcommand)]
        action: RootfsAction,
    },
}

#[derive(Subcommand, Debug)]
#[command(defer = true)]
enum RootfsAction {
    /// List the files with their sizes.
    Ls,
    /// Write one file's contents to standard output.
    Cat {
        /// Path inside the root filesystem, e.g. /data/run/app.log.
        file: String,
    },
}

#[derive(Args, Debug)]
struct DecodeArgs {
    /// Image to read, or ARCHIVE:MEMBER (default: standard input).
    #[arg(short = 'i', long = "in", value_name = "IN")]
    input: Option<PathBuf>,
    /// Where to write the JSON (default: standard output).
    #[arg(short = 'o', long = "out", value_name = "OUT")]
    output: Option<PathBuf>,
    /// Indent and humanise (hex, flag names, devices, IP addresses), as crit --pretty.
    #[arg(long)]
    pretty: bool,
    /// Replace extra payloads by their size.
    #[arg(long)]
    nopl: bool,
}

#[derive(Args, Debug)]
struct EncodeArgs {
    /// JSON to read (default: standard input).
    #[arg(short = 'i', long = "in", value_name = "IN")]
    input: Option<PathBuf>,
    /// Where to write the image (default: standard output).
    #[arg(short = 'o', long = "out", value_name = "OUT")]
    output: Option<PathBuf>,
}

/// Runs the tool with these arguments (the first one is the program name)
/// and returns its exit status: 0 on success, 1 on bad input, 2 on bad usage.
pub fn main<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return if err.use_stderr() { ExitCode::from(2) } else { ExitCode::SUCCESS };
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Error::Io { source, .. }) if source.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("criu-images: error: {}", text::escape(&err.to_string()));
            ExitCode::from(1)
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    let _ = IMAGE.set(cli.image);
    match cli.command {
        Command::Decode(args) => {
            let input = read_input(args.input.as_ref())?;
            let options = DecodeOptions { pretty: args.pretty, no_payload: args.nopl };
            write_json_output(&input.image()?, &options, args.output.as_ref())
        }
        Command::DecodeAll { path, output, pretty } => {
            let checkpoint = open_checkpoint(&path)?;
            std::fs::create_dir_all(&output).map_err(|e| Error::io(output.display().to_string(), e))?;
            let options = DecodeOptions { pretty, no_payload: false };
            // Member names of one directory: never a path, but make sure.
            let names: Vec<String> =
                checkpoint.image_names().into_iter().filter(|name| !name.contains('/') && !name.starts_with('.')).collect();
            // Images are independent: decode them on every core.
            let decoded = crate::parallel::map_tasks(names.len(), |i| {
                let name = &names[i];
                match Image::parse(name, checkpoint.image_bytes(name)?) {
                    Ok(image) => {
                        write_json_output(&image, &options, Some(&output.join(format!("{name}.json"))))?;
                        Ok(true)
                    }
                    // Pages, raw network dumps, logs and other files have no JSON form.
                    Err(Error::RawImage { .. }) => Ok(false),
                    Err(err) if name.ends_with(".img") => {
                        eprintln!("criu-images: warning: {}", text::escape(&format!("{name} not decoded: {err}")));
                        Ok(false)
                    }
                    Err(_) => Ok(false),
                }
            })?;
            let written = decoded.into_iter().filter(|&written| written).count();
            eprintln!("decoded {written} images into {}", output.display());
            Ok(())
        }
        Command::Show { input, stats, verify, .. } if input.is_dir() || is_archive(&input) => {
            let checkpoint = open_checkpoint(&input)?;
            let mut text = summary(&checkpoint, stats)?;
            let checks = if verify { verify_text(checkpoint.archive(), &mut text)? } else { None };
            write_output(None, text.as_bytes())?;
            verify_outcome(checkpoint.archive(), checks)
        }
        Command::Show { input, nopl, .. } => {
            let input = open_input(&input)?;
            write_json_output(&input.image()?, &DecodeOptions { pretty: true, no_payload: nopl }, None)
        }
        Command::Encode(args) => {
            let input = read_input(args.input.as_ref())?;
            let bytes = json::from_json(input.bytes()?, input.name())?;
            write_output(args.output.as_ref(), &bytes)
        }
        Command::Info { input } => {
            let input = open_input(&input)?;
            let mut text = json::info_json(&input.image()?)?.into_bytes();
            text.push(b'\n');
            write_output(None, &text)
        }
        Command::Ls { path, max_decompressed, verify } => {
            let mut options = open_options();
            if let Some(limit) = max_decompressed {
                options.max_decompressed = limit;
            }
            // Any archive can be listed, checkpoint or not.
            let archive = Archive::open(&path, &options)?;
            let archive = &archive;
            let mut text = String::new();
            if let Some(image) = archive.image() {
                outln!(text, "{}: {} {}", archive.format().name(), image.kind.name(), text::escape(&image.chosen.to_string())).ok();
                for blob in &image.blobs {
                    let (digest, media_type) = (text::escape(&blob.digest), text::escape(&blob.media_type));
                    outln!(text, "  {:<20} {digest} {:>10}  {media_type}", blob.role, blob.size).ok();
                }
            }
            let checks = if verify { verify_text(archive, &mut text)? } else { None };
            for member in archive.members() {
                let what = match member.kind {
                    crate::archive::MemberKind::File => match archive.read(member.name) {
                        Ok(bytes) => describe_file(member.name.rsplit('/').next().unwrap_or(member.name), bytes),
                        Err(_) => "unreadable".into(),
                    },
                    crate::archive::MemberKind::Directory => "directory".into(),
                    crate::archive::MemberKind::Symlink(target) => format!("symlink -> {target}"),
                    crate::archive::MemberKind::HardLink(target) => format!("hard link -> {target}"),
                    crate::archive::MemberKind::Other(flag) => format!("special file ({flag})"),
                };
                outln!(text, "{:>12}  {:<24} {}", member.size, what, member.name).ok();
            }
            write_output(None, text.as_bytes())?;
            verify_outcome(archive, checks)
        }
        Command::Mem(command) => {
            let stdout = io::stdout();
            let mut out = io::BufWriter::new(stdout.lock());
            mem::run(command, &mut out)?;
            out.flush().map_err(|e| Error::io("<stdout>", e))
        }
        Command::Rootfs { path, action } => {
            let checkpoint = open_checkpoint(&path)?;
            let diff = checkpoint.rootfs_diff()?.ok_or_else(|| Error::NotFound {
                container: path.display().to_string(),
                name: "rootfs-diff.tar".into(),
                hint: " (only container checkpoints from Podman or CRI-O have one)".into(),
            })?;
            match action {
                RootfsAction::Ls => {
                    let mut text = String::new();
                    for (name, size, kind) in diff.members() {
                        let what = match kind {
                            crate::archive::MemberKind::File => "file".to_string(),
                            crate::archive::MemberKind::Directory => "directory".to_string(),
                            crate::archive::MemberKind::Symlink(t) => format!("symlink -> {t}"),
                            crate::archive::MemberKind::HardLink(t) => format!("hard link -> {t}"),
                            crate::archive::MemberKind::Other(c) => format!("special ({c})"),
                        };
                        outln!(text, "{size:>12}  {what:<12} /{name}").ok();
                    }
                    write_output(None, text.as_bytes())
                }
                RootfsAction::Cat { file } => {
                    let bytes = diff.get(&file).ok_or_else(|| Error::NotFound {
                        container: format!("{}:rootfs-diff.tar", path.display()),
                        name: file.clone(),
                        hint: " (see `criu-images rootfs PATH ls`)".into(),
                    })?;
                    write_output(None, bytes)
                }
            }
        }
        Command::X(args) => {
            let stdout = io::stdout();
            let mut out = io::BufWriter::new(stdout.lock());
            explore::run(args, &mut out)?;
            out.flush().map_err(|e| Error::io("<stdout>", e))
        }
        Command::Inspect(args) => {
            let stdout = io::stdout();
            let mut out = io::BufWriter::new(stdout.lock());
            inspect::run(args, &mut out)?;
            out.flush().map_err(|e| Error::io("<stdout>", e))
        }
    }
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

/// Warns on standard error about parent links that loop (the processes are
/// shown, each once, the loop broken at the first of them).
pub(crate) fn warn_about_loops(tree: &crate::model::ProcessTree) {
    for pid in &tree.loops {
        eprintln!("criu-images: warning: pstree.img: the parent links of process {pid} loop back to it; shown as a root");
    }
}

/// True for a tar, tar.gz or tar.zst file, judged by its first bytes: a
/// broken archive is still an archive, and opening it reports what is
/// broken (not "unknown image magic").
fn is_archive(path: &std::path::Path) -> bool {
    path.is_file()
        && Archive::detect(path).is_ok_and(|f| !matches!(f, crate::archive::ArchiveFormat::File | crate::archive::ArchiveFormat::Directory))
}

fn human_bytes(n: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < units.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", units[unit])
    }
}

/// `--verify`: checks every blob, appends one line per blob to `text`.
/// `None` for inputs that are not images (said in the text).
fn verify_text(archive: &Archive, text: &mut String) -> Result<Option<usize>> {
    let Some(checks) = archive.verify_blobs(&open_options())? else {
        outln!(text, "Verify:         not a container image: no blob digests to check").ok();
        return Ok(None);
    };
    let bad = checks.iter().filter(|c| !c.ok()).count();
    outln!(text, "Verify:         {} blobs, {} ok, {} mismatched", checks.len(), checks.len() - bad, bad).ok();
    for check in &checks {
        if check.ok() {
            outln!(text, "  ok        {} {:>10}  {}", check.actual, check.size, text::escape(&check.name)).ok();
        } else {
            let expected = text::escape(&check.expected);
            outln!(text, "  MISMATCH  {} {:>10}  {} (expected {expected})", check.actual, check.size, text::escape(&check.name)).ok();
        }
    }
    Ok(Some(bad))
}

/// An error when `--verify` found mismatched blobs (after the listing).
fn verify_outcome(archive: &Archive, mismatched: Option<usize>) -> Result<()> {
    match mismatched {
        Some(bad) if bad > 0 => Err(Error::Archive {
            at: crate::error::Location::new(archive.display_name(), 0),
            detail: format!("{bad} blob(s) do not match their digest (see the MISMATCH lines)"),
        }),
        _ => Ok(()),
    }
}

/// The lines `show` prints about a container image input.
fn image_summary(archive: &Archive, s: &mut String) {
    use text::escape;
    let Some(image) = archive.image() else { return };
    outln!(s, "Delivered as:   {} ({})", archive.format().name(), image.kind.name()).ok();
    outln!(s, "Checkpoint image: {}", escape(&image.chosen.to_string())).ok();
    if image.choices.len() > 1 {
        let all = image.choices.iter().map(|c| c.to_string()).collect::<Vec<_>>().join("; ");
        outln!(s, "  one of {} images: {}", image.choices.len(), escape(&all)).ok();
    }
    if let Some(created) = &image.created {
        outln!(s, "Image created:  {}", escape(created)).ok();
    }
    if let Some(base) = &image.base_image {
        outln!(s, "Base image:     {}", escape(base)).ok();
    }
    if !image.annotations.is_empty() {
        outln!(s, "Annotations:").ok();
        for (key, value) in &image.annotations {
            outln!(s, "  {}={}", escape(key), escape(value)).ok();
        }
    }
    outln!(s, "Blobs read (sha256 checked):").ok();
    for blob in &image.blobs {
        outln!(s, "  {:<20} {} {:>10}  {}", blob.role, escape(&blob.digest), blob.size, escape(&blob.media_type)).ok();
    }
}

/// What `checkpointctl show --print-stats` tells, and more.
fn summary(checkpoint: &Checkpoint, stats: bool) -> Result<String> {
    use std::fmt::Write as _;
    let mut s = String::new();
    let archive = checkpoint.archive();
    let container = checkpoint.container()?;
    if let Some(c) = &container {
        let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
        outln!(
            s,
            "Container:      {} ({}{})",
            opt(&c.name),
            c.engine.name(),
            c.runtime.as_ref().map(|r| format!(", {r}")).unwrap_or_default()
        )
        .ok();
        outln!(s, "ID:             {}", opt(&c.id)).ok();
        outln!(s, "Image:          {}", opt(&c.image_name)).ok();
        if c.pod.is_some() || c.namespace.is_some() {
            outln!(s, "Pod:            {} (namespace {})", opt(&c.pod), opt(&c.namespace)).ok();
        }
        outln!(s, "Created:        {}", opt(&c.created)).ok();
        outln!(s, "Hostname:       {}", opt(&c.hostname)).ok();
        outln!(s, "IP:             {}", c.primary_ip().unwrap_or("-")).ok();
    }
    image_summary(archive, &mut s);
    let size = std::fs::metadata(checkpoint.path()).map(|m| m.len()).unwrap_or(0);
    let members: Vec<_> = archive.members().collect();
    let total: u64 = members.iter().map(|m| m.size).sum();
    outln!(
        s,
        "Checkpoint:     {} ({:?}, {} members, {}{})",
        checkpoint.path().display(),
        archive.format(),
        members.len(),
        human_bytes(total),
        if archive.format() == crate::archive::ArchiveFormat::Directory {
            String::new()
        } else {
            format!(", {} on disk", human_bytes(size))
        }
    )
    .ok();
    let pages: u64 = checkpoint
        .image_names()
        .iter()
        .filter(|n| crate::image::raw_image_kind(n) == Some("pages"))
        .map(|n| checkpoint.image_bytes(n).map(|b| b.len() as u64).unwrap_or(0))
        .sum();
    outln!(s, "Memory pages:   {}", human_bytes(pages)).ok();
    if let Some(diff) = archive.get("rootfs-diff.tar") {
        outln!(s, "Root fs diff:   {}", human_bytes(diff.size)).ok();
    }
    if let Some(shm) = archive.get("devshm-checkpoint.tar") {
        outln!(s, "/dev/shm:       {} (devshm-checkpoint.tar)", human_bytes(shm.size)).ok();
    }
    if let Some(files) = checkpoint.deleted_files()? {
        const SHOWN: usize = 10;
        outln!(s, "Deleted files:  {}", files.len()).ok();
        for file in files.iter().take(SHOWN) {
            outln!(s, "  {file}").ok();
        }
        if files.len() > SHOWN {
            outln!(s, "  ... and {} more", files.len() - SHOWN).ok();
        }
    }
    let log = checkpoint.dump_log()?;
    if log.is_none() && container.is_some() {
        outln!(s, "CRIU dump log:  none in the archive (Podman keeps it out)").ok();
    }
    if let Some(log) = log {
        let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
        let outcome = match log.finished {
            Some(true) => "finished successfully",
            Some(false) => "FAILED",
            None => "no end (truncated?)",
        };
        outln!(
            s,
            "CRIU dump log:  CRIU {}, {}, {}, {outcome}",
            log.version.as_deref().unwrap_or("version unknown"),
            plural(log.warning_count, "warning"),
            plural(log.error_count, "error")
        )
        .ok();
        const SHOWN: usize = 5;
        for line in log.errors.iter().chain(&log.warnings).take(SHOWN) {
            outln!(s, "  line {}: {}", line.number, line.text).ok();
        }
        if log.error_count + log.warning_count > SHOWN {
            outln!(s, "  ... {} more", log.error_count + log.warning_count - SHOWN).ok();
        }
    }
    if !checkpoint.parents().is_empty() {
        let parents: Vec<String> = checkpoint.parents().iter().map(|p| p.label()).collect();
        outln!(s, "Pre-dumps:      {}", parents.join(" <- ")).ok();
    }
    let pids = checkpoint.pids().unwrap_or_default();
    outln!(s, "Processes:      {} ({})", pids.len(), pids.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")).ok();
    if stats {
        match checkpoint.dump_stats()? {
            None => outln!(s, "CRIU dump statistics: none in this checkpoint").map(|_| ()).unwrap_or(()),
            Some(st) => {
                outln!(s, "CRIU dump statistics:").ok();
                let us = |v: Option<u64>| v.map_or("-".to_string(), |v| format!("{v} us"));
                let n = |v: Option<u64>| v.map_or("-".to_string(), |v| v.to_string());
                outln!(s, "  Freezing time:   {}", us(st.freezing_time)).ok();
                outln!(s, "  Frozen time:     {}", us(st.frozen_time)).ok();
                outln!(s, "  Memdump time:    {}", us(st.memdump_time)).ok();
                outln!(s, "  Memwrite time:   {}", us(st.memwrite_time)).ok();
                outln!(s, "  Pages scanned:   {}", n(st.pages_scanned)).ok();
                outln!(s, "  Pages written:   {}", n(st.pages_written)).ok();
                outln!(s, "  Pages in parent: {}", n(st.pages_skipped_parent)).ok();
            }
        }
    }
    Ok(s)
}

/// An image named by a path, or by `ARCHIVE:MEMBER` inside a checkpoint
/// archive (read without extracting it).
enum Input {
    File(ImageFile),
    Member { archive: Box<Archive>, member: String, label: String },
}

impl Input {
    fn name(&self) -> &str {
        match self {
            Input::File(file) => file.name(),
            Input::Member { label, .. } => label,
        }
    }

    fn bytes(&self) -> Result<&[u8]> {
        match self {
            Input::File(file) => Ok(file.bytes()),
            Input::Member { archive, member, .. } => archive.read(member),
        }
    }

    fn image(&self) -> Result<Image<'_>> {
        Image::parse(self.name(), self.bytes()?)
    }
}

fn open_input(path: &std::path::Path) -> Result<Input> {
    if path.exists() {
        return Ok(Input::File(ImageFile::open(path)?));
    }
    let text = path.to_string_lossy();
    if let Some((archive_path, member)) = text.rsplit_once(':') {
        if std::path::Path::new(archive_path).is_file() || std::path::Path::new(archive_path).is_dir() {
            let archive = Box::new(Archive::open(archive_path, &open_options())?);
            let member = archive.member_name(member);
            let label = format!("{archive_path}:{member}");
            return Ok(Input::Member { archive, member, label });
        }
    }
    // Let the open fail with the operating system's words.
    Ok(Input::File(ImageFile::open(path)?))
}

fn read_input(path: Option<&PathBuf>) -> Result<Input> {
    match path {
        // `-` is standard input, as for crit.
        Some(path) if path.as_os_str() != "-" => open_input(path),
        _ => {
            let mut bytes = Vec::new();
            io::stdin().lock().read_to_end(&mut bytes).map_err(|e| Error::io("<stdin>", e))?;
            Ok(Input::File(ImageFile::from_bytes("<stdin>", bytes)))
        }
    }
}

/// Streams the JSON of `image` to the file at `path` as is, or to standard
/// output with the newline crit adds there. A file is not left behind
/// half-written: on an error it is removed.
fn write_json_output(image: &Image<'_>, options: &DecodeOptions, path: Option<&PathBuf>) -> Result<()> {
    match path {
        Some(path) => {
            let name = path.display().to_string();
            let mut file = std::fs::File::create(path).map_err(|e| Error::io(&name, e))?;
            let written = json::write_json_to(image, options, &mut file, &name);
            if written.is_err() {
                drop(file);
                let _ = std::fs::remove_file(path);
            }
            written
        }
        None => {
            let mut stdout = io::stdout().lock();
            json::write_json_to(image, options, &mut stdout, "<stdout>")?;
            stdout.write_all(b"\n").and_then(|()| stdout.flush()).map_err(|e| Error::io("<stdout>", e))
        }
    }
}

fn write_output(path: Option<&PathBuf>, bytes: &[u8]) -> Result<()> {
    match path {
        Some(path) => std::fs::write(path, bytes).map_err(|e| Error::io(path.display().to_string(), e)),
        None => {
            let mut stdout = io::stdout().lock();
            stdout.write_all(bytes).and_then(|()| stdout.flush()).map_err(|e| Error::io("<stdout>", e))
        }
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
