//! The dump chain: the images of one dump and of the pre-dumps it builds on,
//! and typed access to them. Below memory and model, above image framing:
//!
//! * [`ImageStore`]: one level of the chain, named files (an [`ImageDir`]
//!   of an archive, or anything a test builds);
//! * [`DumpChain`]: the dump (`top`) and its parents, nearest first, never
//!   empty;
//! * [`decode_all`]: every message of an image, typed.

mod dir;

pub use dir::ImageDir;
pub(crate) use dir::{find_images_dir, follow_parents};

use crate::error::Result;
use crate::image::Image;
use crate::proto::Message;

/// One level of a dump chain: named files. A checkpoint is the top level;
/// its `parent` pre-dump is the next, and so on.
pub trait ImageStore {
    /// The bytes of the file `name` at this level (`None` if it has none).
    fn file(&self, name: &str) -> Result<Option<&[u8]>>;
    /// How to name this level in errors, e.g. `checkpoint.tar:checkpoint`.
    fn label(&self) -> String;
}

/// A dump and the pre-dumps it builds on, nearest first. It has a top level
/// by construction: there is no empty chain to index into.
///
/// ```no_run
/// use criu_images::Checkpoint;
///
/// let checkpoint = Checkpoint::open("checkpoint.tar")?;
/// let chain = checkpoint.chain();
/// println!("{} with {} parent levels", chain.top().label(), chain.len() - 1);
/// # Ok::<(), criu_images::Error>(())
/// ```
#[derive(Clone)]
pub struct DumpChain<'a> {
    /// `levels[0]` is the top; never empty (every constructor puts it there).
    levels: Vec<&'a dyn ImageStore>,
}

impl<'a> DumpChain<'a> {
    /// The chain of `top` and its `parents`, nearest first.
    pub fn new(top: &'a dyn ImageStore, parents: impl IntoIterator<Item = &'a dyn ImageStore>) -> DumpChain<'a> {
        let mut levels = vec![top];
        levels.extend(parents);
        DumpChain { levels }
    }

    /// A chain of one level (a dump without pre-dumps).
    pub fn single(top: &'a dyn ImageStore) -> DumpChain<'a> {
        DumpChain { levels: vec![top] }
    }

    /// The dump itself.
    pub fn top(&self) -> &'a dyn ImageStore {
        self.levels[0]
    }

    /// Level `index` (0 is the top, 1 its parent, ...), if the chain is that long.
    pub fn level(&self, index: usize) -> Option<&'a dyn ImageStore> {
        self.levels.get(index).copied()
    }

    /// Every level, the top first.
    pub fn levels(&self) -> &[&'a dyn ImageStore] {
        &self.levels
    }

    /// Number of levels (at least 1).
    pub fn len(&self) -> usize {
        self.levels.len()
    }

    /// Always false: a chain has its top level. (For `len`'s lint.)
    pub fn is_empty(&self) -> bool {
        false
    }
}

/// Every message of image `name` at `store`, typed; `None` if the file is
/// absent.
pub(crate) fn decode_all(store: &dyn ImageStore, name: &str) -> Result<Option<Vec<Message>>> {
    let Some(bytes) = store.file(name)? else { return Ok(None) };
    let label = format!("{}/{name}", store.label());
    let image = Image::parse(&label, bytes)?;
    let mut messages = Vec::new();
    for entry in image.entries() {
        messages.push(entry?.decode()?);
    }
    Ok(Some(messages))
}
