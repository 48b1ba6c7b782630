//! The dump chain: the images of one dump and of the pre-dumps it builds on,
//! and typed access to them. Below memory and model, above image framing:
//!
//! * [`ImageStore`]: one level of the chain, named files (an [`ImageDir`]
//!   of an archive, or anything a test builds);
//! * [`DumpChain`]: the dump (`top`) and its parents, nearest first, never
//!   empty;
//! * [`decode_all`]: every message of an image, typed;
//! * [`FileObjects`]: `files.img` and what completes it, decoded once per
//!   chain ([`DumpChain::files`]) for memory and model alike.

mod dir;
mod files;

pub use dir::ImageDir;
pub(crate) use dir::{find_images_dir, follow_parents};
pub use files::{sysv_keys, FileObjects};

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

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
pub struct DumpChain<'a> {
    /// `levels[0]` is the top; never empty (every constructor puts it there).
    levels: Vec<&'a dyn ImageStore>,
    cache: Cache<'a>,
}

/// What a dump chain decodes once and then shares: the file objects and the
/// System V shm keys of its top level. A [`Checkpoint`](crate::Checkpoint)
/// keeps one, so that every chain it hands out (and every process read
/// through them) decodes `files.img` once.
#[derive(Default)]
pub struct ChainCache {
    files: OnceLock<Arc<FileObjects>>,
    sysv_keys: OnceLock<Arc<HashMap<u64, Option<u32>>>>,
}

enum Cache<'a> {
    Own(ChainCache),
    Shared(&'a ChainCache),
}

impl<'a> DumpChain<'a> {
    /// The chain of `top` and its `parents`, nearest first.
    pub fn new(top: &'a dyn ImageStore, parents: impl IntoIterator<Item = &'a dyn ImageStore>) -> DumpChain<'a> {
        let mut levels = vec![top];
        levels.extend(parents);
        DumpChain { levels, cache: Cache::Own(ChainCache::default()) }
    }

    /// A chain of one level (a dump without pre-dumps).
    pub fn single(top: &'a dyn ImageStore) -> DumpChain<'a> {
        DumpChain::new(top, [])
    }

    /// This chain, keeping what it decodes in `cache` (shared with other
    /// chains over the same levels) instead of its own.
    pub fn with_cache(mut self, cache: &'a ChainCache) -> DumpChain<'a> {
        self.cache = Cache::Shared(cache);
        self
    }

    fn cache(&self) -> &ChainCache {
        match &self.cache {
            Cache::Own(cache) => cache,
            Cache::Shared(cache) => cache,
        }
    }

    /// The file objects of the top level, decoded on first use and kept.
    pub fn files(&self) -> Result<Arc<FileObjects>> {
        let cell = &self.cache().files;
        if let Some(files) = cell.get() {
            return Ok(files.clone());
        }
        let files = Arc::new(FileObjects::load(self.top())?);
        Ok(cell.get_or_init(|| files).clone())
    }

    /// The System V shm keys by segment id ([`sysv_keys`]), found on first
    /// use (it reads every task's `ids` image) and kept.
    pub fn sysv_keys(&self) -> Result<Arc<HashMap<u64, Option<u32>>>> {
        let cell = &self.cache().sysv_keys;
        if let Some(keys) = cell.get() {
            return Ok(keys.clone());
        }
        let keys = Arc::new(sysv_keys(self.top())?);
        Ok(cell.get_or_init(|| keys).clone())
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
