//! Read, decode and encode CRIU checkpoint images.
//!
//! CRIU (Checkpoint/Restore In Userspace) saves a process tree as a set of
//! image files: protobuf records in a small binary framing, plus raw memory
//! pages. Kubernetes, CRI-O and Podman container checkpoints are tar
//! archives of such images. This crate reads them without copying:
//!
//! * [`proto`]: the messages of every image type (prost types generated from
//!   our `.proto` files) and their schema tables;
//! * [`image`]: the framing (magics, entries, extra payloads) as borrowed
//!   views over the file bytes, usually a memory map;
//! * [`json`]: crit-compatible JSON, both ways, byte-exact;
//! * [`chain`]: a dump and its pre-dumps ([`chain::DumpChain`]), typed
//!   access to their images;
//! * [`memory`]: process memory rebuilt from pagemaps and pages, reads and
//!   search;
//! * [`model`]: what the checkpoint means: the container it came from
//!   (engine, image, process spec, network, CRIU's dump statistics);
//! * [`diff`]: what changed between two checkpoints.
//! * [`triage`]: suspicious traces (code injection, reverse shells,
//!   privileges, secrets, shell history) as findings with evidence.
//!
//! ```no_run
//! use criu_images::image::ImageFile;
//! use criu_images::proto::Message;
//!
//! let file = ImageFile::open("checkpoint/pstree.img")?;
//! let image = file.image()?;
//! for entry in image.entries() {
//!     if let Message::PstreeEntry(task) = entry?.decode()? {
//!         println!("pid {} ppid {} threads {:?}", task.pid, task.ppid, task.threads);
//!     }
//! }
//! # Ok::<(), criu_images::Error>(())
//! ```
#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod archive;
pub mod chain;
pub mod checkpoint;
pub mod coredump;
pub mod decode_all;
pub mod diff;
#[cfg(feature = "tables")]
pub mod entry_table;
pub mod error;
pub mod evidence;
pub mod image;
pub mod json;
pub mod memory;
pub mod metadata;
pub mod model;
pub mod parallel;
pub mod progress;
pub mod proto;
pub mod secrets;
#[cfg(feature = "tables")]
pub mod tables;
pub mod triage;
mod utc;
pub mod warning;
#[cfg(feature = "yara")]
pub mod yara;

#[cfg(feature = "cli")]
pub mod cli;

pub use checkpoint::Checkpoint;
pub use error::{Error, Location, Result};
pub use image::{Entry, Extra, Image, ImageFile, ImageKind};
pub use proto::Message;
pub use warning::Warning;

// The README's Rust example is compiled as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
