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

pub(crate) use crate::memory::decode_all;
