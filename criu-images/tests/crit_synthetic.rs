//! Synthetic images of every image kind (tests/fixtures/synthetic-crit, made by
//! scripts/synthetic-goldens.py with Debian's crit 3.17): our decode equals
//! crit's byte for byte, and encoding crit's JSON gives the image back.
//! Also the places where we deliberately differ from crit.

mod common;

use std::collections::HashSet;

use criu_images::image::{Image, ImageKind};
use criu_images::json::{from_json, to_json, DecodeOptions};

fn synthetic_dir() -> std::path::PathBuf {
    common::fixtures_dir().join("synthetic-crit")
}

/// crit 3.17 predates CRIU 4.2's rename of pagemap field 2.
fn as_crit_4_2(kind: ImageKind, golden: String) -> String {
    if kind == ImageKind::Pagemap {
        golden.replace("\"nr_pages\"", "\"compat_nr_pages\"")
    } else {
        golden
    }
}

#[test]
fn every_kind_decodes_like_crit_and_round_trips() {
    let mut covered = HashSet::new();
    let mut failures = Vec::new();
    let mut images = 0;
    for entry in std::fs::read_dir(synthetic_dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let Some(stem) = name.strip_suffix(".img") else { continue };
        images += 1;
        let bytes = std::fs::read(&path).unwrap();
        let image = Image::parse(&name, &bytes).unwrap();
        covered.insert(image.kind());
        for (kind, options) in [("plain", DecodeOptions::PLAIN), ("pretty", DecodeOptions::PRETTY)] {
            let golden = std::fs::read_to_string(synthetic_dir().join(format!("{stem}.crit-{kind}.json"))).unwrap();
            let golden = as_crit_4_2(image.kind(), golden);
            let ours = to_json(&image, &options).unwrap();
            if ours != golden {
                failures.push(format!("{stem}: {kind} JSON differs from crit"));
            }
            match from_json(golden.as_bytes(), &name) {
                Ok(encoded) if encoded == bytes => {}
                Ok(_) => failures.push(format!("{stem}: encoding crit's {kind} JSON gives other bytes")),
                Err(err) => failures.push(format!("{stem}: encoding crit's {kind} JSON fails: {err}")),
            }
        }
        let nopl = to_json(&image, &DecodeOptions { pretty: true, no_payload: true }).unwrap();
        assert!(!nopl.contains("\"extra\": \"") || nopl.contains("\"extra\": \"... <"), "{stem}: --nopl kept a payload");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(images >= 67, "only {images} synthetic images");

    // Our own JSON for the kinds crit has no handler for.
    for kind in ["SIGNAL", "PIDFD", "BINFMT_MISC"] {
        let text = std::fs::read_to_string(synthetic_dir().join(format!("{kind}.ours.json"))).unwrap();
        let bytes = from_json(text.trim_end().as_bytes(), kind).unwrap();
        let image = Image::parse(kind, &bytes).unwrap();
        assert_eq!(to_json(&image, &DecodeOptions::PLAIN).unwrap(), text.trim_end(), "{kind}");
        let pretty = to_json(&image, &DecodeOptions::PRETTY).unwrap();
        assert_eq!(from_json(pretty.as_bytes(), kind).unwrap(), bytes, "{kind}");
        covered.insert(image.kind());
    }
    let missing: Vec<&str> = ImageKind::all().filter(|k| !covered.contains(k)).map(|k| k.name()).collect();
    assert!(missing.is_empty(), "kinds without a synthetic image: {missing:?}");
}

fn image(kind: &str, entries: &str) -> Vec<u8> {
    from_json(format!(r#"{{"magic": "{kind}", "entries": [{entries}]}}"#).as_bytes(), kind).unwrap()
}

#[test]
fn task_state_names_follow_criu_not_crit_4_2() {
    let core = |state: u32| {
        format!(
            r#"{{"mtype": "X86_64", "tc": {{"task_state": {state}, "exit_code": 0, "personality": 0, "flags": 0, "blk_sigset": 0, "comm": "t"}}}}"#
        )
    };
    let bytes = image("CORE", &[core(1), core(2), core(3), core(6), core(9)].join(", "));
    let pretty = to_json(&Image::parse("core", &bytes).unwrap(), &DecodeOptions::PRETTY).unwrap();
    let states: Vec<&str> = pretty.lines().filter(|l| l.contains("task_state")).map(|l| l.trim()).collect();
    assert_eq!(
        states,
        [
            r#""task_state": "Alive","#,
            r#""task_state": "Dead","#,
            r#""task_state": "Stopped","#,
            r#""task_state": "Zombie","#,
            r#""task_state": 9,"#
        ]
    );
    assert_eq!(from_json(pretty.as_bytes(), "core").unwrap(), bytes);
}

#[test]
fn ipcns_shm_in_pagemaps_keeps_every_entry() {
    let desc = r#"{"key": 1, "uid": 0, "gid": 0, "cuid": 0, "cgid": 0, "mode": 438, "id": 5}"#;
    let bytes = image(
        "IPCNS_SHM",
        &format!(r#"{{"desc": {desc}, "size": 4096, "in_pagemaps": true}}, {{"desc": {desc}, "size": 8192, "in_pagemaps": true}}"#),
    );
    let img = Image::parse("ipcns-shm-1.img", &bytes).unwrap();
    assert_eq!(img.count().unwrap(), 2, "crit reads the second entry as the first one's data");
    let text = to_json(&img, &DecodeOptions::PLAIN).unwrap();
    assert!(!text.contains("extra"));
    assert_eq!(from_json(text.as_bytes(), "x").unwrap(), bytes);
}

#[test]
fn unknown_enum_values_and_non_utf8_strings_round_trip() {
    // mtype 99 is no march value; comm holds bytes that are not UTF-8.
    let bytes = image(
        "CORE",
        r#"{"mtype": 99, "tc": {"task_state": 1, "exit_code": 0, "personality": 0, "flags": 0, "blk_sigset": 0, "comm": "a\udcffb\udcfe"}}"#,
    );
    let img = Image::parse("core", &bytes).unwrap();
    let text = to_json(&img, &DecodeOptions::PLAIN).unwrap();
    assert!(text.contains(r#""mtype": 99"#) && text.contains(r#""comm": "a\udcffb\udcfe""#), "{text}");
    assert!(bytes.windows(4).any(|w| w == b"a\xffb\xfe"));
    assert_eq!(from_json(text.as_bytes(), "core").unwrap(), bytes);
}
