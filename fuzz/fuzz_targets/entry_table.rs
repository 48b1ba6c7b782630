//! Image entries as Arrow record batches (`entry_table::image_batch`) of
//! arbitrary bytes taken as one image file: its magics decide the kind. A
//! batch that is built must have the kind's schema, one value per row in
//! every column, and pass Arrow's full validation (offsets, dictionary keys,
//! UTF-8, null counts, children).
#![no_main]

use arrow_array::Array;
use criu_images::{entry_table, Image};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(image) = Image::parse("fuzz.img", data) else { return };
    let Ok(batch) = entry_table::image_batch(&image) else { return };
    assert_eq!(batch.schema(), entry_table::entry_schema(image.kind()), "{:?}: not the kind's schema", image.kind());
    for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
        assert_eq!(column.len(), batch.num_rows(), "column {}: not one value per row", field.name());
        if let Err(err) = column.to_data().validate_full() {
            panic!("column {} of {:?}: invalid Arrow data: {err}", field.name(), image.kind());
        }
    }
});
