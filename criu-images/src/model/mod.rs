//! What a checkpoint means to an investigator, built from the images and the
//! archive's other members: the container it came from, and (later) its
//! processes, files and sockets.
//!
//! The model does not open archives itself: its entry points take the bytes
//! of members, or a lookup by member name, so that directories, tar, gzip
//! and zstd sources all feed it the same way.

mod bounded_json;
pub mod container;
