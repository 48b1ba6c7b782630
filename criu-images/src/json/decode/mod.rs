//! Image -> crit JSON, in two parts: [`render`] turns one entry into its
//! JSON object, straight from the wire bytes by walking the schema tables
//! (only the fields present, in field-number order, with crit's scalar and
//! pretty rules); [`pipeline`] frames a whole image and runs the renderer
//! over its entries, on several threads for large images, handing the text
//! on in bounded pieces.

mod pipeline;
mod render;

pub(crate) use pipeline::{write_image, Streamed};
#[cfg(feature = "tables")]
pub(crate) use render::message_json;
pub(crate) use render::{write_entry, write_one_entry};

/// An image of `kind` with one entry holding `payload`.
#[cfg(test)]
fn image_of(kind: crate::image::ImageKind, payload: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::new();
    bytes.extend(crate::image::IMG_COMMON_MAGIC.to_le_bytes());
    bytes.extend(kind.magic().to_le_bytes());
    bytes.extend((payload.len() as u32).to_le_bytes());
    bytes.extend(payload);
    bytes
}
