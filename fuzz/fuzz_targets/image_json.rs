//! Image framing and crit-compatible JSON decoding of arbitrary bytes: the
//! image name (hence the kind, for raw images) comes from the first byte.
#![no_main]

use criu_images::json::{self, tape, DecodeOptions};
use criu_images::Image;
use libfuzzer_sys::fuzz_target;

const NAMES: &[&str] = &["x.img", "pages-1.img", "pagemap-1.img", "core-1.img", "inventory.img", "ghost-file-1.img", "stats-dump"];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, bytes)) = data.split_first() else { return };
    let name = NAMES[pick as usize % NAMES.len()];
    let Ok(image) = Image::parse(name, bytes) else { return };
    for entry in image.entries() {
        match entry {
            Ok(entry) => {
                let _ = entry.decode();
            }
            Err(_) => break,
        }
    }
    let _ = json::info_json(&image);
    for options in [DecodeOptions::PLAIN, DecodeOptions::PRETTY, DecodeOptions { pretty: true, no_payload: true }] {
        let text = json::to_json(&image, &options);
        let tape = tape::to_tape(&image, &options);
        if let (Ok(text), Ok(tape)) = (&text, &tape) {
            assert_eq!(&tape.to_json(options.pretty), text, "tape and text differ");
            if !options.no_payload {
                // What we decode, we encode again.
                if let Err(err) = json::from_json(text.as_bytes(), "decoded.json") {
                    panic!("decoded JSON does not encode: {err}");
                }
            }
        }
        assert_eq!(text.is_ok(), tape.is_ok(), "text and tape disagree on success");
    }
});
