//! The CRIU image messages: prost types generated from `proto/*.proto`, the
//! schema tables the JSON layer walks, and the protobuf wire format.
//!
//! This is the lowest layer of the crate. Everything here is generated at
//! build time from our `.proto` files (see `build.rs`), except [`wire`].

pub mod schema;
pub mod wire;

pub use schema::{message_ids, EnumId, EnumSchema, FieldOptions, FieldSchema, FieldType, Message, MessageId, MessageSchema};

// The generated structs: one per message of `proto/*.proto`, named in
// UpperCamelCase (`core_entry` -> `CoreEntry`), nested types in snake_case
// modules, exactly as prost-build names them.
#[allow(missing_docs, clippy::all, non_camel_case_types)]
mod generated {
    include!(concat!(env!("OUT_DIR"), "/_.rs"));
}
pub use generated::*;
