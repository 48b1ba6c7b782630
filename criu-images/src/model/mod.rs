//! The forensic picture of a checkpoint: the container it came from, and
//! its processes with their credentials, command lines, environment, memory
//! areas, open files and sockets.
//!
//! The model does not open archives itself: its entry points take image
//! chains ([`DumpChain`](crate::chain::DumpChain)) or a lookup of members by name, so that
//! directories, tar, gzip and zstd sources all feed it the same way.

mod bounded_json;
mod cgroups;
pub mod container;
mod files;
mod locks;
mod names;
mod namespaces;
mod network;
mod process;
mod registers;
mod seccomp;
mod signals;
mod tree;

pub use cgroups::{cgroups, CgroupController, CgroupDir, CgroupMember, CgroupSet, Cgroups};
pub use files::{Detail, FileTable};
pub use locks::{file_locks, FileLock};
pub use names::{capability_names, signal_mask_names, signal_name, CAPABILITIES, RLIMITS};
pub use namespaces::{mounts, uts, Mount};
pub use network::{connections, Connection, Endpoint, MAX_PEERS};
pub use process::{Creds, Fd, MemoryOf, Namespaces, Process, Rlimit, TaskState, Thread, ARGS_MAX_BYTES, ARGS_MAX_STRINGS};
pub use seccomp::{filter_chain, seccomp_filters, SeccompFilter};
pub use signals::{sa_flag_names, signal_set_names, PendingSignal, SigAction};
pub use tree::{process_tree, ProcessTree, TreeNode};
