//! The forensic picture of a checkpoint: the container it came from, and
//! its processes with their credentials, command lines, environment, memory
//! areas, open files and sockets.
//!
//! The model does not open archives itself: its entry points take image
//! stores ([`ImageStore`]) or a lookup of members by name, so that
//! directories, tar, gzip and zstd sources all feed it the same way.

mod bounded_json;
pub mod container;
mod files;
mod names;
mod namespaces;
mod process;

pub use files::{Detail, FileTable};
pub use names::{capability_names, signal_mask_names, signal_name, CAPABILITIES, RLIMITS};
pub use namespaces::{mounts, uts, Mount};
pub use process::{Creds, Fd, MapEntry, Namespaces, Process, Rlimit, SigAction, TaskState, Thread};

use crate::error::Result;
use crate::image::Image;
use crate::memory::ImageStore;
use crate::proto::Message;

/// Every message of image `name` at `store`, typed; `None` if the file is absent.
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
