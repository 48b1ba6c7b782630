//! crit JSON to image encoding of arbitrary text; what encodes must frame.
#![no_main]

use criu_images::json;
use criu_images::Image;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(bytes) = json::from_json(data, "fuzz.json") {
        let image = Image::parse("encoded.img", &bytes).expect("an encoded image has a known magic");
        for entry in image.entries() {
            entry.expect("encoded entries frame").decode().expect("encoded entries decode");
        }
    }
});
