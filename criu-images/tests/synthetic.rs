//! Synthetic images of every image kind and every extra-payload layout
//! (tests/fixtures/synthetic, see its README.md), checked against the
//! output of Debian's crit 3.17 recorded by scripts/synthetic-goldens.sh.
//! crit is not needed here: its output is committed.
//!
//! For each `<name>.json` (an image in crit's plain JSON form):
//! * encoding it gives `<name>.img`, the bytes crit decoded;
//! * our plain, pretty and `--nopl` JSON of those bytes equals crit's
//!   (`<name>.crit-{plain,pretty,nopl}.json`) byte for byte, after the
//!   documented transformation of crit-differences.json where one is listed,
//!   and equals our own golden `<name>.ours-*.json` where one is kept;
//! * encoding our plain and our pretty JSON gives the bytes back.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

use base64::Engine as _;
use criu_images::image::{Image, ImageKind};
use criu_images::json::{from_json, to_json, DecodeOptions};
use serde_json::Value;

fn synthetic_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/synthetic"))
}

const NOPL: DecodeOptions = DecodeOptions { pretty: true, no_payload: true };
const MODES: [(&str, DecodeOptions); 3] = [("plain", DecodeOptions::PLAIN), ("pretty", DecodeOptions::PRETTY), ("nopl", NOPL)];

/// The synthetic images: every `<name>.json` that is not a golden or the
/// differences list, by name.
fn image_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(synthetic_dir())
        .expect("tests/fixtures/synthetic")
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter_map(|f| f.strip_suffix(".json").map(str::to_owned))
        .filter(|n| !n.contains(".crit-") && !n.contains(".ours-") && n != "crit-differences")
        .collect();
    names.sort();
    names
}

fn read(name: &str) -> Option<String> {
    std::fs::read_to_string(synthetic_dir().join(name)).ok()
}

fn differences() -> serde_json::Map<String, Value> {
    let text = read("crit-differences.json").expect("crit-differences.json");
    match serde_json::from_str(&text).expect("crit-differences.json is JSON") {
        Value::Object(map) => map,
        _ => panic!("crit-differences.json must be an object"),
    }
}

/// The kind a file name stands for: `ipcns_shm-in-pagemaps` -> `IPCNS_SHM`.
fn kind_of_name(name: &str) -> String {
    name.split('-').next().unwrap().to_ascii_uppercase()
}

/// Removes the value at `path` (`entries/0/tc/stop_signo`, `*` = every
/// array element). Returns how many values were removed.
fn remove_path(value: &mut Value, path: &[&str]) -> usize {
    let (first, rest) = path.split_first().expect("non-empty path");
    match value {
        Value::Object(map) if rest.is_empty() => usize::from(map.shift_remove(*first).is_some()),
        Value::Object(map) => map.get_mut(*first).map_or(0, |v| remove_path(v, rest)),
        Value::Array(items) if *first == "*" => items.iter_mut().map(|v| remove_path(v, rest)).sum(),
        Value::Array(items) => {
            let index: usize = first.parse().expect("array index in path");
            items.get_mut(index).map_or(0, |v| remove_path(v, rest))
        }
        _ => 0,
    }
}

/// Replaces every occurrence of the `from` strings by their `to` in one
/// pass (so that two names can be swapped).
fn replace_all(text: &str, pairs: &[(String, String)]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    'outer: while !rest.is_empty() {
        for (from, to) in pairs {
            if let Some(after) = rest.strip_prefix(from.as_str()) {
                out.push_str(to);
                rest = after;
                continue 'outer;
            }
        }
        let ch = rest.chars().next().unwrap();
        out.push(ch);
        rest = &rest[ch.len_utf8()..];
    }
    out
}

fn strings(value: Option<&Value>) -> Vec<String> {
    value.and_then(Value::as_array).map(|a| a.iter().map(|v| v.as_str().expect("string").to_owned()).collect()).unwrap_or_default()
}

/// crit's golden text as we must print it: crit 3.17's old key names and
/// its wrong names replaced, as crit-differences.json says.
fn crit_as_ours(crit: &str, mode: &str, diff: Option<&Value>) -> String {
    let Some(diff) = diff else { return crit.to_owned() };
    let mut pairs: Vec<(String, String)> = Vec::new();
    if let Some(renames) = diff.get("crit_renames").and_then(Value::as_object) {
        for (old, new) in renames {
            pairs.push((format!("\"{old}\": "), format!("\"{}\": ", new.as_str().unwrap())));
        }
    }
    if let Some(list) = diff.get("crit_text_replaces").and_then(|r| r.get(mode)).and_then(Value::as_array) {
        for pair in list {
            let pair = strings(Some(pair));
            pairs.push((pair[0].clone(), pair[1].clone()));
        }
    }
    replace_all(crit, &pairs)
}

/// Our rendering of the image without the fields crit does not know:
/// our plain JSON with those keys removed, encoded and decoded again.
fn ours_without(name: &str, ours_plain: &str, drops: &[String], options: &DecodeOptions) -> Result<String, String> {
    let mut value: Value = serde_json::from_str(ours_plain).map_err(|e| format!("{name}: our JSON does not parse: {e}"))?;
    for path in drops {
        let parts: Vec<&str> = path.split('/').collect();
        if remove_path(&mut value, &parts) == 0 {
            return Err(format!("{name}: crit_drops path {path} matches nothing in our JSON"));
        }
    }
    let bytes = from_json(value.to_string().as_bytes(), name).map_err(|e| format!("{name}: re-encoding without {drops:?}: {e}"))?;
    let image = Image::parse(name, &bytes).map_err(|e| e.to_string())?;
    to_json(&image, options).map_err(|e| e.to_string())
}

/// crit 3.17 ignores `in_pagemaps` and reads `size` bytes after the first
/// entry as its contents: it shows one entry whose extra is the rest of the
/// file. Checks that this is what the golden records.
fn check_swallowed(mode: &str, crit: &str, bytes: &[u8], problems: &mut Vec<String>) {
    let golden: Value = serde_json::from_str(crit).unwrap();
    let entries = golden["entries"].as_array().unwrap();
    let first = Image::parse("ipcns-shm", bytes).unwrap().entries().next().unwrap().unwrap();
    let rest = &bytes[first.offset() + 4 + first.payload().len()..];
    let extra = entries[0]["extra"].as_str().unwrap_or_default();
    let ok = entries.len() == 1
        && match mode {
            "nopl" => extra.starts_with("... <"),
            _ => base64::engine::general_purpose::STANDARD.decode(extra.replace('\n', "")).is_ok_and(|data| data == rest),
        };
    if !ok {
        problems.push(format!("crit's {mode} golden no longer shows the swallowed second entry"));
    }
}

fn check_image(name: &str, diffs: &serde_json::Map<String, Value>, failures: &mut Vec<String>) {
    let mut problems = Vec::new();
    check_image_into(name, diffs, &mut problems);
    failures.extend(problems.into_iter().map(|p| format!("{name}: {p}")));
}

fn check_image_into(name: &str, diffs: &serde_json::Map<String, Value>, problems: &mut Vec<String>) {
    let input = read(&format!("{name}.json")).unwrap();
    let bytes = match from_json(input.as_bytes(), name) {
        Ok(bytes) => bytes,
        Err(err) => {
            problems.push(format!("encoding the JSON fails: {err}"));
            return;
        }
    };
    match std::fs::read(synthetic_dir().join(format!("{name}.img"))) {
        Ok(img) if img == bytes => {}
        Ok(_) => problems.push("encoding the JSON no longer gives the bytes crit decoded (<name>.img)".into()),
        Err(err) => problems.push(format!("no {name}.img: {err}")),
    }
    let image = match Image::parse(name, &bytes) {
        Ok(image) => image,
        Err(err) => {
            problems.push(format!("the encoded image does not parse: {err}"));
            return;
        }
    };
    if image.kind().name() != kind_of_name(name) {
        problems.push(format!("file name says {}, the image is {}", kind_of_name(name), image.kind()));
    }

    let diff = diffs.get(name);
    let crit_fails = strings(diff.and_then(|d| d.get("crit_fails")));
    let drops = strings(diff.and_then(|d| d.get("crit_drops")));
    let swallowed = diff.and_then(|d| d.get("crit_swallows_following_entries")).is_some_and(|v| v == true);
    let mut rendered = BTreeMap::new();
    for (mode, options) in MODES {
        let ours = match to_json(&image, &options) {
            Ok(text) => text,
            Err(err) => {
                problems.push(format!("{mode} decode fails: {err}"));
                continue;
            }
        };
        let crit = read(&format!("{name}.crit-{mode}.json"));
        let own = read(&format!("{name}.ours-{mode}.json"));
        if diff.is_some() && own.is_none() {
            problems.push(format!("listed in crit-differences.json but has no {name}.ours-{mode}.json"));
        }
        if let Some(own) = &own {
            if *own != ours {
                problems.push(format!("{mode} JSON differs from our golden {name}.ours-{mode}.json"));
            }
        }
        match (&crit, crit_fails.iter().any(|m| m == mode)) {
            (None, true) => {}
            (Some(_), true) => problems.push(format!("crit-differences.json says crit fails in {mode}, but there is a crit golden")),
            (None, false) => problems.push(format!("no crit golden {name}.crit-{mode}.json")),
            (Some(crit), false) if swallowed => check_swallowed(mode, crit, &bytes, problems),
            (Some(crit), false) => {
                let expected = crit_as_ours(crit, mode, diff);
                let actual = if drops.is_empty() {
                    Ok(ours.clone())
                } else {
                    let plain = to_json(&image, &DecodeOptions::PLAIN).unwrap();
                    ours_without(name, &plain, &drops, &options)
                };
                match actual {
                    Ok(actual) if actual == expected => {}
                    Ok(actual) => {
                        let (crit, ours) = snippet(&expected, &actual);
                        problems.push(format!("{mode} JSON differs from crit's:\n  crit: {crit}\n  ours: {ours}"))
                    }
                    Err(err) => problems.push(err),
                }
            }
        }
        rendered.insert(mode, ours);
    }

    // decode -> encode gives the image back, from plain and from pretty JSON.
    for mode in ["plain", "pretty"] {
        let Some(text) = rendered.get(mode) else { continue };
        match from_json(text.as_bytes(), name) {
            Ok(again) if again == bytes => {}
            Ok(_) => problems.push(format!("encoding our {mode} JSON gives other bytes")),
            Err(err) => problems.push(format!("encoding our {mode} JSON fails: {err}")),
        }
    }
}

/// The first place two texts differ, with some context.
fn snippet<'a>(a: &'a str, b: &'a str) -> (&'a str, &'a str) {
    let at = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
    let start = at.saturating_sub(60);
    let cut = |s: &'a str| {
        let mut lo = start.min(s.len());
        while !s.is_char_boundary(lo) {
            lo -= 1;
        }
        let mut hi = (at + 60).min(s.len());
        while !s.is_char_boundary(hi) {
            hi += 1;
        }
        &s[lo..hi]
    };
    (cut(a), cut(b))
}

#[test]
fn synthetic_images_decode_like_crit_and_round_trip() {
    let diffs = differences();
    let names = image_names();
    assert!(names.len() >= 90, "only {} synthetic images", names.len());
    for listed in diffs.keys() {
        assert!(names.contains(listed), "crit-differences.json lists {listed}, which has no {listed}.json");
    }
    let mut failures = Vec::new();
    for name in &names {
        check_image(name, &diffs, &mut failures);
    }
    assert!(failures.is_empty(), "{} problems:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn every_kind_and_extra_layout_has_a_synthetic_image() {
    let mut covered = HashSet::new();
    for name in image_names() {
        let bytes = from_json(read(&format!("{name}.json")).unwrap().as_bytes(), &name).unwrap();
        covered.insert(Image::parse(&name, &bytes).unwrap().kind());
    }
    let missing: Vec<&str> = ImageKind::all().filter(|k| !covered.contains(k)).map(|k| k.name()).collect();
    assert!(missing.is_empty(), "kinds without a synthetic image: {missing:?}");
    assert_eq!(covered.len(), 68);

    // The layouts the suite exists to prove, each with the property that
    // makes it interesting; a weakened fixture fails here.
    let input =
        |name: &str| -> Value { serde_json::from_str(&read(&format!("{name}.json")).unwrap_or_else(|| panic!("no {name}.json"))).unwrap() };
    let entries = |name: &str| input(name)["entries"].as_array().unwrap().clone();
    let with_extra = |name: &str| {
        let all = entries(name);
        assert!(!all.is_empty() && all.iter().all(|e| e.get("extra").is_some()), "{name}: every entry needs an extra");
        all
    };
    with_extra("pipes_data");
    with_extra("fifo_data");
    assert!(with_extra("sk_queues").len() >= 2);
    let tcp = with_extra("tcp_stream");
    assert!(tcp[0]["inq_len"].as_u64() > Some(0) && tcp[0]["outq_len"].as_u64() > Some(0), "tcp_stream: both queues");
    assert_eq!(entries("ghost_file")[0]["chunks"], false);
    assert!(entries("ghost_file")[0]["extra"].as_str().is_some_and(|e| !e.is_empty()));
    let chunked = entries("ghost_file-chunked");
    assert!(chunked[0]["chunks"] == true && chunked.len() >= 3 && chunked[1..].iter().all(|c| c.get("extra").is_some()));
    let shm = with_extra("ipcns_shm");
    assert!(shm.iter().any(|e| e.get("in_pagemaps").is_none()) && shm.iter().any(|e| e["in_pagemaps"] == false));
    assert!(shm.iter().all(|e| e["size"].as_u64().unwrap() % 4 != 0), "ipcns_shm: sizes that need padding");
    let in_pagemaps = entries("ipcns_shm-in-pagemaps");
    assert!(in_pagemaps.len() == 2 && in_pagemaps.iter().all(|e| e["in_pagemaps"] == true));
    let msg = with_extra("ipcns_msg");
    let headers: Vec<&Value> = msg.iter().flat_map(|e| e["extra"].as_array().unwrap().iter().step_by(2)).collect();
    assert!(headers.len() >= 3 && headers.iter().any(|h| h["msize"].as_u64().unwrap() % 8 != 0));
    assert!(with_extra("ipcns_sem").iter().any(|e| e["nsems"].as_u64().unwrap() % 2 == 1), "ipcns_sem: odd nsems");
    with_extra("bpfmap_data");
    assert!(entries("pstree-empty").is_empty());
    assert!(entries("pstree").len() >= 3, "a multi-entry image");
    let states: Vec<u64> = entries("core-task-state").iter().map(|e| e["tc"]["task_state"].as_u64().unwrap()).collect();
    assert_eq!(states, [2, 3, 6]);
    // unix_name: an abstract name (NUL first) and a name with '='.
    let names: Vec<String> = entries("unixsk").iter().map(|e| e["name"].as_str().unwrap().to_owned()).collect();
    assert!(names.iter().any(|n| n.starts_with("=00")) && names.iter().any(|n| n.contains("=3D")));
    // ipadd: IPv4 (1 word) and IPv6 (4 words).
    let words: Vec<usize> = entries("inetsk").iter().map(|e| e["src_addr"].as_array().unwrap().len()).collect();
    assert!(words.contains(&1) && words.contains(&4));
}
