//! An image file held in memory: mapped from disk, or bytes given.

use std::path::Path;

use super::Image;
use crate::archive::{map, open_regular, Backing};
use crate::error::Result;

/// An image file held in memory: memory-mapped from disk, or owned bytes
/// (e.g. read from standard input).
pub struct ImageFile {
    name: String,
    bytes: Backing,
}

impl ImageFile {
    /// Memory-maps the file at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<ImageFile> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let bytes = map(&open_regular(path, &name)?, &name)?;
        Ok(ImageFile { name, bytes })
    }

    /// Wraps bytes already in memory.
    pub fn from_bytes(name: impl Into<String>, bytes: Vec<u8>) -> ImageFile {
        ImageFile { name: name.into(), bytes: Backing::Owned(bytes) }
    }

    /// The file's name, as used in errors.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The file's bytes.
    pub fn bytes(&self) -> &[u8] {
        self.bytes.bytes()
    }

    /// Parses the image head; entries are read lazily from the mapping.
    pub fn image(&self) -> Result<Image<'_>> {
        Image::parse(&self.name, self.bytes())
    }
}
