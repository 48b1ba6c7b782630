//! Where the commands read and write: an image file, `ARCHIVE:MEMBER` or
//! standard input; a file or standard output.

use std::io::{self, Read, Write};
use std::path::PathBuf;

use crate::archive::Archive;
use crate::error::{Error, Result};
use crate::image::{Image, ImageFile};
use crate::json::{self, DecodeOptions};

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
/// half-written: on an error it is removed.
pub(super) fn write_json_output(image: &Image<'_>, options: &DecodeOptions, path: Option<&PathBuf>) -> Result<()> {
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

pub(super) fn write_output(path: Option<&PathBuf>, bytes: &[u8]) -> Result<()> {
    match path {
        Some(path) => std::fs::write(path, bytes).map_err(|e| Error::io(path.display().to_string(), e)),
        None => {
            let mut stdout = io::stdout().lock();
            stdout.write_all(bytes).and_then(|()| stdout.flush()).map_err(|e| Error::io("<stdout>", e))
        }
    }
}
