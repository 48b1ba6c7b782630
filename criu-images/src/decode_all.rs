//! `decode-all`: every image of a checkpoint that has protobuf entries,
//! decoded to crit's JSON. The one pipeline behind the command line's
//! `criu-images decode-all` (a JSON file per image, images on every core)
//! and Python's `Checkpoint.decode_all` (a dict per image, built while the
//! next one renders): both take the images [`Checkpoint::decode_all`]
//! selects, in its order, and render each with [`DecodeAll::write_json_to`]
//! or [`DecodeAll::write_tape`], which give the same values.

use std::io::Write;

use crate::checkpoint::Checkpoint;
use crate::error::{Error, Result};
use crate::image::Image;
use crate::json::tape::{self, Tape};
use crate::json::{self, DecodeOptions};

/// One image that `decode-all` decodes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageToDecode {
    /// Its file name in the images directory, e.g. `core-1.img`.
    pub name: String,
    /// Its size in bytes (progress is counted in these).
    pub size: u64,
}

/// The images of a checkpoint that `decode-all` decodes, and the `.img`
/// files it leaves out because they are not CRIU images with entries.
///
/// ```
/// use criu_images::json::DecodeOptions;
/// use criu_images::Checkpoint;
///
/// let checkpoint = Checkpoint::open("../tests/fixtures/counter-host/images")?;
/// let all = checkpoint.decode_all()?;
/// let pstree = all.images().iter().position(|i| i.name == "pstree.img").expect("a process tree");
/// let mut text = Vec::new();
/// all.write_json_to(pstree, &DecodeOptions::PLAIN, &mut text, "pstree.img.json")?;
/// assert!(text.starts_with(br#"{"magic": "PSTREE", "entries": [{"pid": "#));
/// assert!(all.images().iter().all(|i| !i.name.starts_with("pages-"))); // raw pages have no JSON form
/// # Ok::<(), criu_images::Error>(())
/// ```
pub struct DecodeAll<'c> {
    checkpoint: &'c Checkpoint,
    images: Vec<ImageToDecode>,
    not_decoded: Vec<(String, Error)>,
}

impl Checkpoint {
    /// The images `decode-all` decodes: every file of the images directory
    /// that is a CRIU image with protobuf entries, in name order. Raw images
    /// (`pages-*.img`, tarballs, iproute2 dumps) and files that are not
    /// images (logs, `stats-dump` is one) are left out; `.img` files whose
    /// magic is unknown or whose header is cut are left out too, and listed
    /// in [`DecodeAll::not_decoded`] with the reason. A file that cannot be
    /// read at all is an error.
    pub fn decode_all(&self) -> Result<DecodeAll<'_>> {
        let mut images = Vec::new();
        let mut not_decoded = Vec::new();
        for name in self.image_names() {
            // Member names of one directory: never a path, but make sure.
            if name.contains('/') || name.starts_with('.') {
                continue;
            }
            let bytes = self.image_bytes(&name)?;
            match Image::parse(&name, bytes) {
                Ok(_) => images.push(ImageToDecode { size: bytes.len() as u64, name }),
                // Pages, raw network dumps, logs and other files have no JSON form.
                Err(Error::RawImage { .. }) => {}
                Err(err) if name.ends_with(".img") => not_decoded.push((name, err)),
                Err(_) => {}
            }
        }
        Ok(DecodeAll { checkpoint: self, images, not_decoded })
    }
}

impl DecodeAll<'_> {
    /// The images to decode, in name order.
    pub fn images(&self) -> &[ImageToDecode] {
        &self.images
    }

    /// The bytes of all images to decode.
    pub fn total_size(&self) -> u64 {
        self.images.iter().map(|i| i.size).sum()
    }

    /// `.img` files left out, with why (an unknown magic, a cut header):
    /// what the command line warns about.
    pub fn not_decoded(&self) -> &[(String, Error)] {
        &self.not_decoded
    }

    /// Image `index` of [`images`](Self::images), framed.
    pub fn image(&self, index: usize) -> Result<Image<'_>> {
        let Some(image) = self.images.get(index) else {
            return Err(Error::NotFound {
                container: self.checkpoint.images().label(),
                name: format!("image number {index} of decode-all"),
                hint: format!(" (there are {})", self.images.len()),
            });
        };
        self.checkpoint.image(&image.name)
    }

    /// Image `index` as crit's JSON text, streamed to `out` (named
    /// `out_name` in errors), as [`json::write_json_to`].
    pub fn write_json_to<W: Write + ?Sized>(&self, index: usize, options: &DecodeOptions, out: &mut W, out_name: &str) -> Result<()> {
        json::write_json_to(&self.image(index)?, options, out, out_name)
    }

    /// Image `index` as values appended to `tape` (clear it first to reuse
    /// it), as [`tape::write_tape`]: the values of
    /// [`write_json_to`](Self::write_json_to)'s text.
    pub fn write_tape(&self, index: usize, options: &DecodeOptions, tape: &mut Tape) -> Result<()> {
        tape::write_tape(&self.image(index)?, options, tape)
    }
}
