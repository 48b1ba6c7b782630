//! Every protobuf image of every real fixture decodes to exactly the JSON
//! upstream crit 4.2 printed for it (plain and pretty), and encoding that
//! JSON gives back the original bytes.

mod common;

use criu_images::image::{raw_image_kind, Image};
use criu_images::json::{self, tape, DecodeOptions};

fn read_golden(path: &std::path::Path) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

#[test]
fn every_fixture_image_matches_crit_4_2_byte_for_byte() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for set in common::image_sets() {
        for (name, bytes) in &set.files {
            let pretty_golden = read_golden(&set.pretty_goldens.join(format!("{name}.json")));
            let plain_golden = read_golden(&set.plain_goldens.join(format!("{name}.json")));
            let label = format!("{}/{name}", set.label);
            let image = match Image::parse(&label, bytes) {
                Ok(image) => image,
                Err(err) => {
                    // Only raw images and non-image files may fail to parse,
                    // and crit has no golden for them.
                    assert!(pretty_golden.is_none(), "{label}: crit decoded it but we fail: {err}");
                    let is_raw = raw_image_kind(name).is_some();
                    let is_known_other = name.ends_with(".log") || name.ends_with(".json");
                    assert!(is_raw || is_known_other, "{label}: unexpected file we cannot parse: {err}");
                    continue;
                }
            };
            let Some(pretty_golden) = pretty_golden else {
                // The fixtures' crit 4.2 run skipped the (empty) irmap-cache
                // of the pre-dumps; Debian's crit 3.17 prints exactly this.
                if name == "irmap-cache" {
                    let plain = json::to_json(&image, &DecodeOptions::PLAIN).unwrap();
                    assert_eq!(plain, r#"{"magic": "IRMAP_CACHE", "entries": []}"#, "{label}");
                    assert_eq!(json::from_json(plain.as_bytes(), &label).unwrap(), *bytes, "{label}");
                    checked += 1;
                } else {
                    failures.push(format!("{label}: parses as {} but has no crit golden", image.kind()));
                }
                continue;
            };
            checked += 1;
            let pretty = json::to_json(&image, &DecodeOptions::PRETTY).unwrap();
            if pretty != pretty_golden {
                failures.push(format!("{label}: pretty JSON differs from crit 4.2"));
            }
            // The values without the text (what Python's decode builds on).
            if tape::to_tape(&image, &DecodeOptions::PRETTY).unwrap().to_json(true) != pretty_golden {
                failures.push(format!("{label}: pretty tape differs from crit 4.2"));
            }
            if let Some(plain_golden) = &plain_golden {
                let plain = json::to_json(&image, &DecodeOptions::PLAIN).unwrap();
                if &plain != plain_golden {
                    failures.push(format!("{label}: plain JSON differs from crit 4.2"));
                }
                if tape::to_tape(&image, &DecodeOptions::PLAIN).unwrap().to_json(false) != *plain_golden {
                    failures.push(format!("{label}: plain tape differs from crit 4.2"));
                }
                if json::from_json(plain_golden.as_bytes(), &label).unwrap() != *bytes {
                    failures.push(format!("{label}: encoding crit's plain JSON does not give the image back"));
                }
            }
            if json::from_json(pretty_golden.as_bytes(), &label).unwrap() != *bytes {
                failures.push(format!("{label}: encoding crit's pretty JSON does not give the image back"));
            }
        }
    }
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
    // 200 protobuf images across the 11 image sets; a lower count means a
    // fixture silently went missing.
    assert!(checked >= 200, "only {checked} images checked");
}

#[test]
fn tcp_stream_queues_and_sk_queues_come_out_as_crit_shows_them() {
    // A direct look at extras in a real image, beside the golden comparison.
    let set = common::image_sets().into_iter().find(|s| s.label == "pytree").unwrap();
    let (name, bytes) = set.files.iter().find(|(n, _)| n.starts_with("tcp-stream-")).unwrap();
    let image = Image::parse(name, bytes).unwrap();
    let entry = image.entries().next().unwrap().unwrap();
    match entry.extra() {
        criu_images::Extra::TcpQueues { inq, outq } => assert!(inq.len() + outq.len() > 0),
        other => panic!("{name}: expected TCP queues, found {other:?}"),
    }
}
