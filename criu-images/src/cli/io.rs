//! Where the commands read and write: an image file, `ARCHIVE:MEMBER` or
//! standard input; a file or standard output.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use super::interrupt;
use crate::archive::Archive;
use crate::error::{Error, Result};
use crate::evidence::Provenance;
use crate::image::{Image, ImageFile};
use crate::json::{self, DecodeOptions};
use crate::progress::{Progress, STEP};

/// An image named by a path, or by `ARCHIVE:MEMBER` inside a checkpoint
/// archive (read without extracting it).
pub(super) enum Input {
    File(ImageFile),
    Member { archive: Box<Archive>, member: String, label: String },
}

impl Input {
    pub(super) fn name(&self) -> &str {
        match self {
            Input::File(file) => file.name(),
            Input::Member { label, .. } => label,
        }
    }

    pub(super) fn bytes(&self) -> Result<&[u8]> {
        match self {
            Input::File(file) => Ok(file.bytes()),
            Input::Member { archive, member, .. } => archive.read(member),
        }
    }

    pub(super) fn image(&self) -> Result<Image<'_>> {
        Image::parse(self.name(), self.bytes()?)
    }

    /// Where the input came from, for the sidecar of what is written from it.
    pub(super) fn provenance(&self) -> Provenance {
        match self {
            Input::File(file) => Provenance { source: PathBuf::from(file.name()), ..Provenance::default() },
            Input::Member { archive, member, .. } => {
                Provenance { source: archive.path().to_path_buf(), member: Some(member.clone()), ..Provenance::default() }
            }
        }
    }
}

pub(super) fn open_input(path: &std::path::Path) -> Result<Input> {
    if path.exists() {
        return Ok(Input::File(ImageFile::open(path)?));
    }
    let text = path.to_string_lossy();
    if let Some((archive_path, member)) = text.rsplit_once(':') {
        if std::path::Path::new(archive_path).is_file() || std::path::Path::new(archive_path).is_dir() {
            let archive = Box::new(Archive::open(archive_path, &super::open_options())?);
            let member = archive.member_name(member);
            let label = format!("{archive_path}:{member}");
            return Ok(Input::Member { archive, member, label });
        }
    }
    // Let the open fail with the operating system's words.
    Ok(Input::File(ImageFile::open(path)?))
}

pub(super) fn read_input(path: Option<&PathBuf>) -> Result<Input> {
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
/// half-written: on an error or Ctrl-C it is removed, if this run created it
/// (a file that existed before is never removed).
/// `doc` as pretty JSON and a line end, on standard output (`out`).
pub(super) fn write_pretty_json(out: &mut dyn Write, doc: &serde_json::Value) -> Result<()> {
    serde_json::to_writer_pretty(&mut *out, doc).map_err(|e| Error::io("<stdout>", e.into()))?;
    writeln!(out).map_err(|e| Error::io("<stdout>", e))
}

/// One `warning: ` line each, escaped, on standard output (`out`).
pub(super) fn write_warnings(out: &mut dyn Write, warnings: &[String]) -> Result<()> {
    for warning in warnings {
        writeln!(out, "warning: {}", super::text::escape(warning)).map_err(|e| Error::io("<stdout>", e))?;
    }
    Ok(())
}

pub(super) fn write_json_output(image: &Image<'_>, options: &DecodeOptions, path: Option<&PathBuf>) -> Result<()> {
    match path {
        Some(path) => {
            let (_watch, progress) = interrupt::watch();
            write_json_file(image, options, path, &progress)?.finish(&progress)
        }
        None => {
            let mut stdout = io::stdout().lock();
            json::write_json_to(image, options, &mut stdout, "<stdout>")?;
            stdout.write_all(b"\n").and_then(|()| stdout.flush()).map_err(|e| Error::io("<stdout>", e))
        }
    }
}

/// The JSON of `image` into a new (or truncated) file at `path`, stopping
/// once `progress` is cancelled; on an error the file is discarded (see
/// [`Output::discard`]).
pub(super) fn write_json_file(image: &Image<'_>, options: &DecodeOptions, path: &Path, progress: &Progress) -> Result<Output> {
    progress.check()?;
    let mut output = Output::create(path)?;
    let name = output.name.clone();
    let written = json::write_json_to(image, options, &mut Checked { out: &mut output.file, progress }, &name);
    match written {
        Ok(()) => Ok(output),
        Err(err) => {
            output.discard();
            Err(err)
        }
    }
}

/// Writes the provenance sidecar `EVIDENCE.json` beside an evidence file
/// this run wrote (docs/evidence.md): the checkpoint `source` and its
/// SHA-256, and whichever of member, pid and address range apply; the tool
/// version, the time and this command line are added here. One call per
/// evidence file, after it is complete:
/// `io::write_provenance(&out, Provenance { source: path.into(), pid: Some(pid), ..Default::default() })?`.
/// Nothing is written for an output that is not a regular file (`/dev/null`, a FIFO).
pub(crate) fn write_provenance(evidence: &Path, provenance: Provenance) -> Result<Option<PathBuf>> {
    if !std::fs::metadata(evidence).is_ok_and(|m| m.is_file()) {
        return Ok(None);
    }
    let provenance = Provenance { command_line: super::command_line(), ..provenance };
    let (_watch, progress) = interrupt::watch();
    provenance.write_sidecar(evidence, Some(&progress)).map(Some)
}

pub(super) fn write_output(path: Option<&PathBuf>, bytes: &[u8]) -> Result<()> {
    match path {
        Some(path) => {
            let (_watch, progress) = interrupt::watch();
            progress.check()?;
            let mut output = Output::create(path)?;
            let written = Checked { out: &mut output.file, progress: &progress }.write_all(bytes);
            if let Err(err) = written {
                let err = Error::io(&output.name, err);
                output.discard();
                return Err(err);
            }
            output.finish(&progress)
        }
        None => {
            let mut stdout = io::stdout().lock();
            stdout.write_all(bytes).and_then(|()| stdout.flush()).map_err(|e| Error::io("<stdout>", e))
        }
    }
}

/// A file a command writes: either created by this run, and then removed
/// again if the run fails or is interrupted, or one that existed (a file to
/// overwrite, `/dev/null`, a FIFO), which is truncated and written but
/// never removed.
pub(super) struct Output {
    path: PathBuf,
    name: String,
    file: File,
    created: bool,
}

impl Output {
    /// Creates `path`, or opens it truncated if it exists.
    pub(super) fn create(path: &Path) -> Result<Output> {
        let name = path.display().to_string();
        let (file, created) = match OpenOptions::new().write(true).create_new(true).open(path) {
            Ok(file) => (file, true),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => (File::create(path).map_err(|e| Error::io(&name, e))?, false),
            Err(e) => return Err(Error::io(&name, e)),
        };
        Ok(Output { path: path.to_path_buf(), name, file, created })
    }

    /// The path of a file this run created, `None` for one that existed.
    pub(super) fn created(&self) -> Option<&Path> {
        self.created.then_some(self.path.as_path())
    }

    /// Closes the file and removes it if this run created it.
    pub(super) fn discard(self) {
        let Output { path, file, created, .. } = self;
        drop(file);
        if created {
            let _ = std::fs::remove_file(path);
        }
    }

    /// Closes a completely written file, unless Ctrl-C came meanwhile: then
    /// the file is discarded and the result is [`Error::Cancelled`].
    pub(super) fn finish(self, progress: &Progress) -> Result<()> {
        if let Err(err) = progress.check() {
            self.discard();
            return Err(err);
        }
        Ok(())
    }
}

/// A writer that fails once `progress` is cancelled (Ctrl-C), looking
/// before every write of at most [`STEP`] bytes.
struct Checked<'a, W: Write> {
    out: W,
    progress: &'a Progress,
}

impl<W: Write> Write for Checked<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.progress.is_cancelled() {
            // Not ErrorKind::Interrupted, which write_all retries.
            return Err(io::Error::other("interrupted"));
        }
        self.out.write(&buf[..buf.len().min(STEP)])
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
