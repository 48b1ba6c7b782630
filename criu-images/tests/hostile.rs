//! Hostile input: arbitrary, truncated and mutated images and JSON.
//!
//! Checkpoints of compromised containers are attacker-controlled, so every
//! reader entry point must answer with `Ok` or a clean error that names the
//! file and the offset (or the JSON line and column): no panic, no hang, no
//! allocation the input does not justify (see `alloc_bound.rs` for the
//! allocation side).
//!
//! The property tests use a bounded number of cases so that the whole file
//! stays within a CI budget in a debug build.

mod common;

use std::io::Read;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use common::synth::{image_with, nested_in_field_2, varint, Rng};
use criu_images::image::{ExtraKind, Layout};
use criu_images::json::{self, tape, DecodeOptions};
use criu_images::proto::{message_ids as m, FieldSchema, FieldType, MessageId};
use criu_images::{Error, Image, ImageKind};
use proptest::prelude::*;
use proptest::sample::Index;

// ---------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------

/// `(name, bytes)` of every protobuf image of the fixtures that are cheap to
/// load in a debug build (plain directories and uncompressed or zstd tars),
/// keeping only images of at most 64 KiB.
fn fixtures() -> &'static [(String, Vec<u8>)] {
    static FIXTURES: OnceLock<Vec<(String, Vec<u8>)>> = OnceLock::new();
    FIXTURES.get_or_init(|| {
        let root = common::fixtures_dir();
        let mut files = Vec::new();
        for dir in ["counter-host/images", "predump/dump", "predump/pre1"] {
            let mut names: Vec<_> = std::fs::read_dir(root.join(dir)).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_file()).collect();
            names.sort();
            for path in names {
                let name = format!("{dir}/{}", path.file_name().unwrap().to_string_lossy());
                files.push((name, std::fs::read(&path).unwrap()));
            }
        }
        files.extend(tar_members(&std::fs::read(common::k8s_counter_tar()).unwrap(), "k8s-counter"));
        // pytree-host has the interesting extras: tcp-stream, sk-queues,
        // pipes-data, fifo-data, chunked ghost files, memfd, ...
        let zst = std::fs::read(root.join("pytree-host/images.tar.zst")).unwrap();
        files.extend(tar_members(&zstd::decode_all(&zst[..]).unwrap(), "pytree-host"));
        files.retain(|(name, bytes)| bytes.len() <= 64 << 10 && Image::parse(name, bytes).is_ok());
        assert!(files.len() > 40, "only {} fixture images", files.len());
        files
    })
}

fn tar_members(tar_bytes: &[u8], label: &str) -> Vec<(String, Vec<u8>)> {
    let mut archive = tar::Archive::new(tar_bytes);
    let mut files = Vec::new();
    for member in archive.entries().unwrap() {
        let mut member = member.unwrap();
        if !member.header().entry_type().is_file() || member.size() > 64 << 10 {
            continue;
        }
        let path = member.path().unwrap().to_string_lossy().into_owned();
        let mut bytes = Vec::new();
        member.read_to_end(&mut bytes).unwrap();
        files.push((format!("{label}:{path}"), bytes));
    }
    files
}

/// Up to two fixture images of each kind (the fixtures repeat kinds a lot:
/// one core image per thread, the same small images in every checkpoint).
fn fixtures_by_kind() -> Vec<&'static (String, Vec<u8>)> {
    let mut seen: Vec<ImageKind> = Vec::new();
    let mut out = Vec::new();
    for file in fixtures() {
        let kind = Image::parse(&file.0, &file.1).unwrap().kind();
        if seen.iter().filter(|&&k| k == kind).count() < 2 {
            seen.push(kind);
            out.push(file);
        }
    }
    out
}

/// crit JSON (plain and pretty) of every fixture image.
fn fixture_json() -> &'static [(String, String)] {
    static JSON: OnceLock<Vec<(String, String)>> = OnceLock::new();
    JSON.get_or_init(|| {
        let mut out = Vec::new();
        for (name, bytes) in fixtures() {
            let image = Image::parse(name, bytes).unwrap();
            for options in [DecodeOptions::PLAIN, DecodeOptions::PRETTY] {
                out.push((name.clone(), json::to_json(&image, &options).unwrap()));
            }
        }
        out
    })
}

// ---------------------------------------------------------------------------
// The checks every input goes through
// ---------------------------------------------------------------------------

/// An image error must say which file and where.
fn check_image_error(err: &Error, name: &str) {
    let text = err.to_string();
    assert!(text.contains(name), "error does not name {name:?}: {text}");
    match err {
        Error::RawImage { .. } => {}
        _ => assert!(text.contains("offset"), "error without an offset: {text}"),
    }
}

/// A JSON error must say which input and where.
fn check_json_error(err: &Error, name: &str, input_len: usize) {
    let text = err.to_string();
    match err {
        Error::Json { file, line, column, .. } => {
            assert_eq!(file, name);
            assert!(*line >= 1 && *column >= 1, "{text}");
            assert!(*line <= input_len + 1 && *column <= input_len + 1, "{text}");
        }
        other => panic!("from_json returned a non-JSON error: {other}"),
    }
    assert!(text.contains("line") && text.contains("column"), "{text}");
}

/// Valid JSON text? serde_json refuses lone surrogates, our escape for
/// non-UTF-8 bytes, so those are turned into ordinary escapes first.
fn assert_valid_json(text: &str) {
    assert!(text.is_ascii());
    let tamed = text.replace("\\udc", "\\u00");
    if let Err(err) = serde_json::from_str::<serde_json::Value>(&tamed) {
        panic!("decode produced invalid JSON ({err}): {}", &text[..text.len().min(2000)]);
    }
}

/// Runs every reader entry point on `data` named `name`.
fn exercise(name: &str, data: &[u8]) {
    let image = match Image::parse(name, data) {
        Ok(image) => image,
        Err(err) => return check_image_error(&err, name),
    };
    let mut framed = Ok(0usize);
    for entry in image.entries() {
        match entry {
            Ok(entry) => {
                assert!(entry.offset() < data.len());
                if let Err(err) = entry.decode() {
                    check_image_error(&err, name);
                }
                framed = framed.map(|n| n + 1);
            }
            Err(err) => {
                check_image_error(&err, name);
                framed = Err(());
            }
        }
    }
    match json::info_json(&image) {
        Ok(text) => assert!(framed.is_ok(), "info succeeded on a badly framed image: {text}"),
        Err(err) => check_image_error(&err, name),
    }
    for options in [DecodeOptions::PLAIN, DecodeOptions::PRETTY, DecodeOptions { pretty: true, no_payload: true }] {
        let text = json::to_json(&image, &options);
        // The tape (Python's decode) holds the same values, or the same error.
        match (&text, tape::to_tape(&image, &options)) {
            (Ok(text), Ok(tape)) => assert_eq!(tape.to_json(options.pretty), *text, "{name}: tape differs from text"),
            (Err(text_err), Err(tape_err)) => assert_eq!(tape_err.to_string(), text_err.to_string(), "{name}"),
            (text, tape) => panic!("{name}: text {:?} but tape {:?}", text.as_ref().err(), tape.err()),
        }
        match text {
            Ok(text) => {
                assert!(framed.is_ok());
                assert_valid_json(&text);
                if !options.no_payload {
                    // Whatever we decode, we encode again.
                    if let Err(err) = json::from_json(text.as_bytes(), "decoded.json") {
                        panic!("{name}: decoded JSON does not encode: {err}\n{}", &text[..text.len().min(3000)]);
                    }
                }
            }
            Err(err) => check_image_error(&err, name),
        }
    }
}

fn exercise_json(name: &str, text: &[u8]) {
    match json::from_json(text, name) {
        Ok(bytes) => {
            // Whatever we encode must read back.
            let image = Image::parse("encoded.img", &bytes).expect("encoded image has a known magic");
            exercise("encoded.img", image.data());
        }
        Err(err) => check_json_error(&err, name, text.len()),
    }
}

/// `cases` per property, times `HOSTILE_SCALE` when set (for longer local
/// fuzzing runs: `HOSTILE_SCALE=50 cargo test --release --test hostile`).
fn config(cases: u32) -> ProptestConfig {
    let scale = std::env::var("HOSTILE_SCALE").ok().and_then(|s| s.parse().ok()).unwrap_or(1);
    ProptestConfig { cases: cases * scale, failure_persistence: None, ..ProptestConfig::default() }
}

// ---------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------

const NAMES: &[&str] = &["x.img", "core-1.img", "pages-1.img", "ghost-file-1a.img", "stats-dump", "a.tar:checkpoint/mm-1.img"];

/// Varints and u32 values that stress size arithmetic.
const NASTY_U64: &[u64] = &[
    0,
    1,
    7,
    0x7f,
    0x80,
    0xffff,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_fffe,
    0xffff_ffff,
    0x1_0000_0000,
    0x1_0000_0001,
    0x7fff_ffff_ffff_ffff,
    0x8000_0000_0000_0000,
    u64::MAX - 1,
    u64::MAX,
];

/// Protobuf-looking bytes: a few fields with small numbers, nasty varints,
/// nested length-delimited runs.
fn proto_bytes() -> impl Strategy<Value = Vec<u8>> {
    let field = (1u32..20, 0u8..6, prop::sample::select(NASTY_U64), prop::collection::vec(any::<u8>(), 0..12));
    prop::collection::vec(field, 0..10).prop_map(|fields| {
        let mut out = Vec::new();
        for (number, wire_type, value, bytes) in fields {
            out.extend(varint((u64::from(number) << 3) | u64::from(wire_type)));
            match wire_type {
                0 => out.extend(varint(value)),
                1 => out.extend(value.to_le_bytes()),
                2 => {
                    // Mostly honest lengths, sometimes a lie.
                    let len = if value % 3 == 0 { value } else { bytes.len() as u64 };
                    out.extend(varint(len));
                    out.extend(&bytes);
                }
                5 => out.extend((value as u32).to_le_bytes()),
                _ => out.extend(&bytes),
            }
        }
        out
    })
}

/// An image body: entries framed with honest or lying sizes, each maybe
/// followed by extra bytes.
fn image_body() -> impl Strategy<Value = Vec<u8>> {
    let entry = (proto_bytes(), prop::option::weighted(0.2, prop::sample::select(NASTY_U64)), prop::collection::vec(any::<u8>(), 0..16));
    prop::collection::vec(entry, 0..6).prop_map(|entries| {
        entries
            .into_iter()
            .map(|(payload, lie, extra)| {
                let mut out = Vec::new();
                let size = lie.map_or(payload.len() as u32, |v| v as u32);
                out.extend(size.to_le_bytes());
                out.extend(payload);
                out.extend(extra);
                out
            })
            .collect::<Vec<_>>()
            .concat()
    })
}

#[derive(Clone, Debug)]
enum Mutation {
    Flip(Index, u8),
    Set(Index, u8),
    Insert(Index, Vec<u8>),
    Delete(Index, usize),
    Truncate(Index),
    /// Overwrite 4 bytes (e.g. an entry size) with a nasty value.
    U32(Index, u64, bool),
    /// Overwrite bytes with a nasty varint.
    Varint(Index, u64),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<Index>(), 0u8..8).prop_map(|(i, b)| Mutation::Flip(i, b)),
        2 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        1 => (any::<Index>(), prop::collection::vec(any::<u8>(), 1..8)).prop_map(|(i, b)| Mutation::Insert(i, b)),
        1 => (any::<Index>(), 1usize..16).prop_map(|(i, n)| Mutation::Delete(i, n)),
        1 => any::<Index>().prop_map(Mutation::Truncate),
        2 => (any::<Index>(), prop::sample::select(NASTY_U64), any::<bool>()).prop_map(|(i, v, be)| Mutation::U32(i, v, be)),
        2 => (any::<Index>(), prop::sample::select(NASTY_U64)).prop_map(|(i, v)| Mutation::Varint(i, v)),
    ]
}

fn apply(data: &mut Vec<u8>, mutation: &Mutation) {
    if data.is_empty() {
        return;
    }
    let len = data.len();
    match mutation {
        Mutation::Flip(i, bit) => data[i.index(len)] ^= 1 << bit,
        Mutation::Set(i, b) => data[i.index(len)] = *b,
        Mutation::Insert(i, bytes) => {
            let at = i.index(len + 1);
            data.splice(at..at, bytes.iter().copied());
        }
        Mutation::Delete(i, n) => {
            let at = i.index(len);
            data.drain(at..(at + n).min(len));
        }
        Mutation::Truncate(i) => data.truncate(i.index(len)),
        Mutation::U32(i, v, be) => {
            let at = i.index(len);
            let bytes = if *be { (*v as u32).to_be_bytes() } else { (*v as u32).to_le_bytes() };
            for (k, b) in bytes.into_iter().enumerate() {
                if let Some(slot) = data.get_mut(at + k) {
                    *slot = b;
                }
            }
        }
        Mutation::Varint(i, v) => {
            let at = i.index(len);
            let bytes = varint(*v);
            let end = (at + bytes.len()).min(len);
            data.splice(at..end, bytes);
        }
    }
}

/// Values that stress the JSON encoder when put in place of a leaf.
const NASTY_JSON: &[&str] = &[
    "0",
    "-1",
    "1",
    "255",
    "65535",
    "65536",
    "4294967295",
    "4294967296",
    "-2147483649",
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551615",
    "18446744073709551616",
    "-18446744073709551616",
    "170141183460469231731687303715884105727",
    "-170141183460469231731687303715884105728",
    "340282366920938463463374607431768211456",
    "1e400",
    "-0",
    "1.5",
    "true",
    "null",
    "[]",
    "{}",
    "[[]]",
    "[{}]",
    "\"\"",
    "\"0x\"",
    "\"0xffffffffffffffffffffffffffffffffff\"",
    "\"--170141183460469231731687303715884105728\"",
    "\"-0x80000000000000000000000000000000\"",
    "\"0b102\"",
    "\"1_000\"",
    "\"8:1\"",
    "\"99999999999999999999:1\"",
    "\"PROT_READ | PROT_WRITE | 0x100\"",
    "\"PROT_READ | -1\"",
    "\" | \"",
    "\"::ffff:1.2.3.4\"",
    "\"1.2.3.4\"",
    "\"... <100B>\"",
    "\"AAAA\"",
    "\"A===\"",
    "\"\\udcff\\u0000\"",
    "\"=\"",
];

fn json_leaf_positions(text: &str) -> Vec<(usize, usize)> {
    // Scalars after ": " or "[" / ", " inside arrays: a crude scanner good
    // enough for the JSON our decoder writes.
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let starts_value = matches!(b, b'-' | b'0'..=b'9' | b't' | b'f' | b'"') && i > 0 && matches!(bytes[i - 1], b' ' | b'[' | b'\n');
        if starts_value {
            let end = if b == b'"' {
                let mut j = i + 1;
                while j < bytes.len() && bytes[j] != b'"' {
                    j += if bytes[j] == b'\\' { 2 } else { 1 };
                }
                (j + 1).min(bytes.len())
            } else {
                let mut j = i;
                while j < bytes.len() && !matches!(bytes[j], b',' | b']' | b'}' | b'\n') {
                    j += 1;
                }
                j
            };
            // A string followed by ':' is a key, not a value.
            if bytes.get(end) != Some(&b':') {
                out.push((i, end));
            }
            i = end.max(i + 1);
        } else {
            i += 1;
        }
    }
    out
}

// ---------------------------------------------------------------------------
// (a) arbitrary bytes
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(2000))]

    #[test]
    fn arbitrary_bytes_never_panic(name in prop::sample::select(NAMES), data in prop::collection::vec(any::<u8>(), 0..256)) {
        exercise(name, &data);
    }

    // (b) every valid head + type magic, both byte orders, then arbitrary
    // or protobuf-looking bytes.
    #[test]
    fn magic_prefixed_bytes_never_panic(
        kind in 0..ImageKind::all().len(),
        big_endian in any::<bool>(),
        structured in any::<bool>(),
        raw in prop::collection::vec(any::<u8>(), 0..200),
        body in image_body(),
    ) {
        let kind = ImageKind::all().nth(kind).unwrap();
        let mut data = Vec::new();
        let word = |v: u32| if big_endian { v.to_be_bytes() } else { v.to_le_bytes() };
        if let Some(head) = kind.head().magic() {
            data.extend(word(head));
        }
        data.extend(word(kind.magic()));
        if structured {
            let mut body = body;
            if big_endian {
                // Entry sizes are in the image's byte order too: rewrite the first one.
                if body.len() >= 4 {
                    let size = u32::from_le_bytes(body[..4].try_into().unwrap());
                    body[..4].copy_from_slice(&size.to_be_bytes());
                }
            }
            data.extend(body);
        } else {
            data.extend(raw);
        }
        let name = kind.file_patterns()[0].replace("%lu", "1").replace("%ld", "1").replace("%u", "1").replace("%x", "1").replace("%s", "dump");
        exercise(&name, &data);
    }
}

#[test]
fn every_kind_with_every_nasty_extra_size() {
    // For each kind, one entry whose message sets each of its first fields
    // to each nasty value (the extra-size fields are among the first ones).
    for kind in ImageKind::all() {
        for index in [0usize, 1] {
            let message = kind.entry_message(index);
            for field in message.schema().fields.iter().take(12) {
                for &value in NASTY_U64 {
                    let mut payload = Vec::new();
                    if kind.layout() == Layout::GhostFile && index == 1 {
                        payload.extend([0x48, 1]); // chunks: true (field 9)
                    }
                    payload.extend(varint(u64::from(field.number) << 3));
                    payload.extend(varint(value));
                    // The same field again as a length-delimited (packed) run.
                    payload.extend(varint(u64::from(field.number) << 3 | 2));
                    payload.extend(varint(varint(value ^ 1).len() as u64));
                    payload.extend(varint(value ^ 1));
                    let mut data = Vec::new();
                    if let Some(head) = kind.head().magic() {
                        data.extend(head.to_le_bytes());
                    }
                    data.extend(kind.magic().to_le_bytes());
                    data.extend((payload.len() as u32).to_le_bytes());
                    data.extend(&payload);
                    if index == 1 {
                        // A second entry with the same message.
                        let mut second = varint(u64::from(field.number) << 3);
                        second.extend(varint(value));
                        data.extend((second.len() as u32).to_le_bytes());
                        data.extend(second);
                    }
                    data.extend([0u8; 8]);
                    exercise("nasty.img", &data);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// (c) mutations of real images
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(2000))]

    #[test]
    fn mutated_fixtures_never_panic(which in any::<Index>(), mutations in prop::collection::vec(mutation(), 1..6)) {
        let fixtures = fixtures();
        let (name, original) = &fixtures[which.index(fixtures.len())];
        let mut data = original.clone();
        for mutation in &mutations {
            apply(&mut data, mutation);
        }
        exercise(name, &data);
    }
}

#[test]
fn every_truncation_of_small_fixtures() {
    for (name, data) in fixtures_by_kind() {
        if data.len() > 2048 {
            continue;
        }
        for end in 0..data.len() {
            exercise(name, &data[..end]);
        }
    }
}

#[test]
fn every_entry_size_set_to_huge_values() {
    for (name, original) in fixtures_by_kind() {
        let image = Image::parse(name, original).unwrap();
        let endian = image.endian();
        let offsets: Vec<usize> = image.entries().map(|e| e.unwrap().offset()).collect();
        for offset in offsets {
            let real = endian.u32(original[offset..offset + 4].try_into().unwrap());
            for size in [0xffff_ffff, 0x7fff_ffff, 0x8000_0000, real.wrapping_add(1), real.wrapping_sub(1), 0] {
                let mut data = original.clone();
                data[offset..offset + 4].copy_from_slice(&endian.u32_bytes(size));
                exercise(name, &data);
                if size != real {
                    if let Err(err) = Image::parse(name, &data).unwrap().count() {
                        check_image_error(&err, name);
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// (d) JSON
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(2000))]

    #[test]
    fn arbitrary_strings_as_json(text in any::<String>()) {
        exercise_json("fuzz.json", text.as_bytes());
    }

    #[test]
    fn json_token_soup(text in "[\\[\\]{}:,\" 0-9a-zA-Z_\\\\.+-]{0,120}") {
        exercise_json("soup.json", text.as_bytes());
        let wrapped = format!("{{\"magic\": \"PSTREE\", \"entries\": [{{{text}}}]}}");
        exercise_json("soup.json", wrapped.as_bytes());
    }

    #[test]
    fn mutated_crit_json(which in any::<Index>(), mutations in prop::collection::vec(mutation(), 1..4)) {
        let all = fixture_json();
        let (_, text) = &all[which.index(all.len())];
        let mut bytes = text.as_bytes().to_vec();
        for mutation in &mutations {
            apply(&mut bytes, mutation);
        }
        exercise_json("mutated.json", &bytes);
    }

    #[test]
    fn crit_json_with_nasty_leaves(which in any::<Index>(), edits in prop::collection::vec((any::<Index>(), prop::sample::select(NASTY_JSON)), 1..4)) {
        let all = fixture_json();
        let (_, text) = &all[which.index(all.len())];
        let mut text = text.clone();
        for (at, nasty) in edits {
            let leaves = json_leaf_positions(&text);
            if leaves.is_empty() {
                break;
            }
            let (start, end) = leaves[at.index(leaves.len())];
            text.replace_range(start..end, nasty);
        }
        exercise_json("nasty.json", text.as_bytes());
    }
}

// ---------------------------------------------------------------------------
// (e) round trips
// ---------------------------------------------------------------------------

fn random_integer(ty: FieldType, rng: &mut Rng) -> i128 {
    let (min, max): (i128, i128) = match ty {
        FieldType::Int32 | FieldType::Sint32 | FieldType::Sfixed32 => (i32::MIN.into(), i32::MAX.into()),
        FieldType::Int64 | FieldType::Sint64 | FieldType::Sfixed64 => (i64::MIN.into(), i64::MAX.into()),
        FieldType::Uint32 | FieldType::Fixed32 => (0, u32::MAX.into()),
        _ => (0, u64::MAX.into()),
    };
    let value = match rng.below(8) {
        0 => min,
        1 => max,
        2 => 0,
        3 => -1,
        4 => rng.below(300) as i128,
        _ => {
            let span = (max - min) as u128 + 1;
            let raw = (u128::from(rng.next()) << 64 | u128::from(rng.next())) % span;
            min + raw as i128
        }
    };
    value.clamp(min, max)
}

fn integer_json(field: &FieldSchema, value: i128, rng: &mut Rng) -> String {
    // The encoder also takes crit's pretty strings; hex works for every
    // non-negative integer field, flags and dict fields included.
    if field.opts.ipadd {
        // A string in an address field is read as an IP address.
        value.to_string()
    } else if value >= 0 && rng.chance(15) {
        format!("\"{value:#x}\"")
    } else if value < 0 && rng.chance(10) && field.opts.flags.is_none() {
        format!("\"-{:#x}\"", -value)
    } else {
        value.to_string()
    }
}

fn json_string(bytes: &[u8]) -> String {
    let mut out = Vec::new();
    json::write_json_str(&mut out, bytes);
    String::from_utf8(out).unwrap()
}

fn random_value(field: &FieldSchema, depth: usize, rng: &mut Rng) -> String {
    match field.ty {
        FieldType::Message(child) => random_message(child, depth + 1, rng, &[]),
        FieldType::String => json_string(&rng.bytes(12)),
        FieldType::Bytes if field.opts.conv == Some("unix_name") => {
            // Any text is a quoted-printable encoding of something. Not of a
            // '\r', though: like Python's quopri (and so crit), the encoder
            // writes every line break as the first one it meets, so names
            // mixing "\n" and "\r\n" do not survive a round trip.
            let mut text: Vec<u8> = rng.bytes(12).into_iter().filter(|&b| b != b'\r' && b != b'=').collect();
            for _ in 0..rng.below(3) {
                let byte = rng.below(256) as u8;
                if byte != b'\r' {
                    text.extend(format!("={byte:02X}").bytes());
                }
            }
            json_string(&text)
        }
        FieldType::Bytes => json_string(STANDARD.encode(rng.bytes(40)).as_bytes()),
        FieldType::Bool => if rng.chance(50) { "true" } else { "false" }.to_string(),
        FieldType::Enum(e) => {
            let values = e.schema().values;
            json_string(values[rng.below(values.len() as u64) as usize].1.as_bytes())
        }
        FieldType::Float | FieldType::Double => "1.5".to_string(),
        ty => {
            let value = random_integer(ty, rng);
            integer_json(field, value, rng)
        }
    }
}

/// A random JSON object for message `id`; `fixed` forces (or, with `None`,
/// removes) the named fields.
fn random_message(id: MessageId, depth: usize, rng: &mut Rng, fixed: &[(&str, Option<String>)]) -> String {
    let mut members = Vec::new();
    for field in id.schema().fields {
        if let Some((_, forced)) = fixed.iter().find(|(name, _)| *name == field.name) {
            if let Some(value) = forced {
                members.push(format!("\"{}\": {value}", field.name));
            }
            continue;
        }
        let nested = matches!(field.ty, FieldType::Message(_));
        if !rng.chance(if nested && depth >= 3 { 10 } else { 60 }) || depth > 5 {
            continue;
        }
        let value = if field.repeated {
            let n = rng.below(if nested { 3 } else { 5 });
            let items: Vec<String> = (0..n).map(|_| random_value(field, depth, rng)).collect();
            format!("[{}]", items.join(", "))
        } else {
            random_value(field, depth, rng)
        };
        members.push(format!("\"{}\": {value}", field.name));
    }
    // Key order does not matter to the encoder.
    for i in (1..members.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        members.swap(i, j);
    }
    format!("{{{}}}", members.join(", "))
}

fn base64_json(bytes: &[u8]) -> String {
    json_string(STANDARD.encode(bytes).as_bytes())
}

/// Random crit JSON of an image of `kind`, extras included.
fn random_image_json(kind: ImageKind, rng: &mut Rng) -> String {
    let mut entries = Vec::new();
    let count = rng.below(4) as usize;
    match (kind.layout(), kind.extra()) {
        (Layout::GhostFile, _) => {
            if rng.chance(50) {
                let head = random_message(m::GHOST_FILE_ENTRY, 0, rng, &[("chunks", Some("true".into()))]);
                entries.push(head);
                for _ in 0..count {
                    let data = rng.bytes(30);
                    let chunk = random_message(m::GHOST_CHUNK_ENTRY, 0, rng, &[("len", Some(data.len().to_string()))]);
                    entries.push(format!("{}, \"extra\": {}}}", &chunk[..chunk.len() - 1], base64_json(&data)).replace("{, ", "{"));
                }
            } else {
                let head = random_message(m::GHOST_FILE_ENTRY, 0, rng, &[("chunks", Some("false".into()))]);
                let data = rng.bytes(100);
                entries.push(format!("{}, \"extra\": {}}}", &head[..head.len() - 1], base64_json(&data)).replace("{, ", "{"));
            }
        }
        (_, ExtraKind::None) => {
            for index in 0..count {
                entries.push(random_message(kind.entry_message(index), 0, rng, &[]));
            }
        }
        (_, extra) => {
            let id = kind.entry_message(0);
            for _ in 0..count {
                let (message, extra_json) = match extra {
                    ExtraKind::PipeData | ExtraKind::SkQueue => {
                        let data = rng.bytes(40);
                        let field = if extra == ExtraKind::PipeData { "bytes" } else { "length" };
                        (random_message(id, 0, rng, &[(field, Some(data.len().to_string()))]), Some(base64_json(&data)))
                    }
                    ExtraKind::BpfmapData => {
                        let keys = rng.below(20);
                        let data = rng.bytes(40);
                        let keys = keys.min(data.len() as u64);
                        let values = data.len() as u64 - keys;
                        let message = random_message(
                            id,
                            0,
                            rng,
                            &[("keys_bytes", Some(keys.to_string())), ("values_bytes", Some(values.to_string()))],
                        );
                        (message, Some(base64_json(&data)))
                    }
                    ExtraKind::TcpStream => {
                        let (inq, outq) = (rng.bytes(30), rng.bytes(30));
                        let message = random_message(
                            id,
                            0,
                            rng,
                            &[("inq_len", Some(inq.len().to_string())), ("outq_len", Some(outq.len().to_string()))],
                        );
                        (message, Some(format!("{{\"inq\": {}, \"outq\": {}}}", base64_json(&inq), base64_json(&outq))))
                    }
                    ExtraKind::IpcSem => {
                        let n = rng.below(7);
                        let values: Vec<String> = (0..n).map(|_| rng.below(65536).to_string()).collect();
                        (random_message(id, 0, rng, &[("nsems", Some(n.to_string()))]), Some(format!("[{}]", values.join(", "))))
                    }
                    ExtraKind::IpcShm => {
                        if rng.chance(30) {
                            (random_message(id, 0, rng, &[("in_pagemaps", Some("true".into()))]), None)
                        } else {
                            let data = rng.bytes(40);
                            let message = random_message(
                                id,
                                0,
                                rng,
                                &[("in_pagemaps", Some("false".into())), ("size", Some(data.len().to_string()))],
                            );
                            (message, Some(base64_json(&data)))
                        }
                    }
                    ExtraKind::IpcMsg => {
                        let n = rng.below(4);
                        let mut items = Vec::new();
                        for _ in 0..n {
                            let data = rng.bytes(20);
                            items.push(random_message(m::IPC_MSG, 0, rng, &[("msize", Some(data.len().to_string()))]));
                            items.push(base64_json(&data));
                        }
                        (random_message(id, 0, rng, &[("qnum", Some(n.to_string()))]), Some(format!("[{}]", items.join(", "))))
                    }
                    ExtraKind::None => unreachable!(),
                };
                entries.push(match extra_json {
                    Some(extra) => format!("{}, \"extra\": {extra}}}", &message[..message.len() - 1]).replace("{, ", "{"),
                    None => message,
                });
            }
        }
    }
    format!("{{\"magic\": \"{}\", \"entries\": [{}]}}", kind.name(), entries.join(", "))
}

/// encode -> decode -> encode gives the same bytes, through plain and pretty JSON.
fn check_round_trip(json_text: &str) {
    let bytes = match json::from_json(json_text.as_bytes(), "generated.json") {
        Ok(bytes) => bytes,
        Err(err) => panic!("generated JSON does not encode: {err}\n{json_text}"),
    };
    let image = Image::parse("generated.img", &bytes).unwrap();
    for options in [DecodeOptions::PLAIN, DecodeOptions::PRETTY] {
        let decoded = json::to_json(&image, &options).unwrap_or_else(|e| panic!("{e}\n{json_text}"));
        assert_valid_json(&decoded);
        let again = json::from_json(decoded.as_bytes(), "decoded.json").unwrap_or_else(|e| panic!("{e}\n{json_text}\n{decoded}"));
        assert_eq!(again, bytes, "round trip through {options:?} changed the bytes\n{json_text}\n{decoded}");
        let image2 = Image::parse("again.img", &again).unwrap();
        assert_eq!(json::to_json(&image2, &options).unwrap(), decoded);
    }
}

proptest! {
    #![proptest_config(config(1000))]

    #[test]
    fn random_messages_round_trip(kind in 0..ImageKind::all().len(), seed in any::<u64>()) {
        let kind = ImageKind::all().nth(kind).unwrap();
        let mut rng = Rng(seed);
        check_round_trip(&random_image_json(kind, &mut rng));
    }
}

#[test]
fn extreme_integers_round_trip_in_every_field() {
    // Every integer field of every entry message, with its type's extremes.
    for kind in ImageKind::all() {
        for index in [0usize, 1] {
            let id = kind.entry_message(index);
            if matches!(kind.extra(), ExtraKind::None) && kind.layout() != Layout::GhostFile {
                for field in id.schema().fields {
                    if !field.ty.is_integer() {
                        continue;
                    }
                    for value in extremes(field.ty) {
                        let value = if field.repeated { format!("[{value}, 0, {value}]") } else { value.to_string() };
                        let entry = format!("{{\"{}\": {value}}}", field.name);
                        let entries = if index == 0 { entry } else { format!("{{}}, {entry}") };
                        check_round_trip(&format!("{{\"magic\": \"{}\", \"entries\": [{entries}]}}", kind.name()));
                    }
                }
            }
        }
    }
}

fn extremes(ty: FieldType) -> Vec<i128> {
    match ty {
        FieldType::Int32 | FieldType::Sint32 | FieldType::Sfixed32 => vec![i32::MIN.into(), -1, 0, i32::MAX.into()],
        FieldType::Int64 | FieldType::Sint64 | FieldType::Sfixed64 => vec![i64::MIN.into(), -1, 0, i64::MAX.into()],
        FieldType::Uint32 | FieldType::Fixed32 => vec![0, 1, u32::MAX.into()],
        _ => vec![0, 1, u64::MAX.into()],
    }
}

#[test]
fn fixture_images_round_trip_byte_for_byte() {
    for (name, bytes) in fixtures() {
        let image = Image::parse(name, bytes).unwrap();
        for options in [DecodeOptions::PLAIN, DecodeOptions::PRETTY] {
            let text = json::to_json(&image, &options).unwrap();
            let again = json::from_json(text.as_bytes(), name).unwrap_or_else(|e| panic!("{e}"));
            assert!(again == *bytes, "{name}: {options:?} round trip differs");
        }
    }
}

// ---------------------------------------------------------------------------
// Deterministic hostile inputs: each must answer quickly and cleanly.
// ---------------------------------------------------------------------------

/// Runs `f`, which must finish within `limit` (debug build).
fn quickly<T>(what: &str, limit: Duration, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let out = f();
    let took = start.elapsed();
    assert!(took < limit, "{what} took {took:?}");
    out
}

fn expect_image_error(name: &str, data: &[u8], needle: &str) {
    quickly(name, Duration::from_secs(5), || {
        exercise(name, data);
        let image = Image::parse(name, data).unwrap();
        let err = json::to_json(&image, &DecodeOptions::PLAIN).unwrap_err();
        check_image_error(&err, name);
        assert!(err.to_string().contains(needle), "{err}");
    });
}

#[test]
fn entry_size_of_4_gib() {
    let mut data = image_with(ImageKind::Pstree, &[(&[0x08, 0x01], &[])]);
    data.extend(0xffff_ffffu32.to_le_bytes());
    data.extend([0x08, 0x01]);
    expect_image_error("pstree.img", &data, "4294967295 bytes");
}

#[test]
fn length_delimited_field_of_4_gib() {
    // files.img entry: field 2 (reg) claims 4 GiB.
    let mut payload = vec![0x08, 0x01, 0x12];
    payload.extend(varint(4 << 30));
    payload.extend([0u8; 4]);
    let data = image_with(ImageKind::Files, &[(&payload, &[])]);
    expect_image_error("files.img", &data, "longer than the message");
    let image = Image::parse("files.img", &data).unwrap();
    let err = image.entries().next().unwrap().unwrap().decode().unwrap_err();
    check_image_error(&err, "files.img");
}

#[test]
fn ipc_msg_queue_claiming_4_billion_messages() {
    // ipc_msg_entry { qnum (3): 4_000_000_000 }, then 8 bytes of "messages".
    let mut payload = vec![0x18];
    payload.extend(varint(4_000_000_000));
    let data = image_with(ImageKind::IpcnsMsg, &[(&payload, &[4, 0, 0, 0, 0x08, 0x01, 0x10, 0x05])]);
    quickly("ipcns-msg", Duration::from_secs(2), || exercise("ipcns-msg-1.img", &data));
    let image = Image::parse("ipcns-msg-1.img", &data).unwrap();
    let err = image.entries().next().unwrap().unwrap_err();
    check_image_error(&err, "ipcns-msg-1.img");
    assert!(err.to_string().contains("5 bytes of message text"), "{err}");

    // Exactly 4 billion empty messages would need 16 GB: the data stops
    // after one, and crit stops at the end of the file too.
    let data = image_with(ImageKind::IpcnsMsg, &[(&payload, &[0, 0, 0, 0])]);
    let image = Image::parse("ipcns-msg-1.img", &data).unwrap();
    let entry = quickly("ipcns-msg", Duration::from_secs(2), || image.entries().next().unwrap().unwrap());
    assert!(matches!(entry.extra(), criu_images::Extra::Messages(msgs) if msgs.len() == 1));
}

#[test]
fn ipc_sem_with_huge_nsems() {
    for nsems in [u64::from(u32::MAX), 1 << 62, u64::MAX] {
        let mut payload = vec![0x10];
        payload.extend(varint(nsems));
        let data = image_with(ImageKind::IpcnsSem, &[(&payload, &[0u8; 8])]);
        quickly("ipcns-sem", Duration::from_secs(2), || exercise("ipcns-sem-1.img", &data));
        let image = Image::parse("ipcns-sem-1.img", &data).unwrap();
        let result = image.entries().next().unwrap();
        if let Err(err) = result {
            check_image_error(&err, "ipcns-sem-1.img");
        }
    }
}

#[test]
fn ipc_shm_with_huge_size() {
    for size in [u64::from(u32::MAX), u64::MAX - 2, u64::MAX] {
        let mut payload = vec![0x10];
        payload.extend(varint(size));
        let data = image_with(ImageKind::IpcnsShm, &[(&payload, &[0u8; 8])]);
        expect_image_error("ipcns-shm-1.img", &data, "shared memory");
    }
}

#[test]
fn ghost_file_chunk_with_huge_len() {
    for len in [u64::from(u32::MAX), u64::MAX] {
        let mut chunk = vec![0x08];
        chunk.extend(varint(len));
        chunk.extend([0x10, 0x00]);
        let data = image_with(ImageKind::GhostFile, &[(&[0x08, 0, 0x10, 0, 0x18, 0, 0x48, 0x01], &[]), (&chunk, &[1, 2, 3])]);
        expect_image_error("ghost-file-1.img", &data, "ghost file data");
    }
}

#[test]
fn bpfmap_data_with_huge_sizes() {
    // keys_bytes (2) and values_bytes (3) both at the varint maximum.
    let mut payload = vec![0x10];
    payload.extend(varint(u64::MAX));
    payload.push(0x18);
    payload.extend(varint(u64::MAX));
    let data = image_with(ImageKind::BpfmapData, &[(&payload, &[0u8; 8])]);
    quickly("bpfmap-data", Duration::from_secs(2), || exercise("bpfmap-data.img", &data));
}

#[test]
fn deeply_nested_messages_do_not_overflow_the_stack() {
    // cgroup_entry.controllers(2) -> cg_controller_entry.dirs(2) ->
    // cgroup_dir_entry.children(2) -> children(2) -> ... : every level is
    // field 2, length-delimited.
    let levels = 1_000_000;
    let message = nested_in_field_2(levels);
    let data = image_with(ImageKind::Cgroup, &[(&message, &[])]);
    // Run on a thread with a small stack: recursion must be bounded.
    std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(move || {
            quickly("nested cgroup", Duration::from_secs(20), || exercise("cgroup.img", &data));
        })
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn deeply_nested_json() {
    for text in [
        "[".repeat(100_000),
        "{\"a\":".repeat(100_000),
        format!("{{\"magic\": \"CGROUP\", \"entries\": [{}]}}", "{\"controllers\": [{\"dirs\": [".repeat(20_000)),
    ] {
        quickly("nested JSON", Duration::from_secs(5), || {
            let err = json::from_json(text.as_bytes(), "deep.json").unwrap_err();
            check_json_error(&err, "deep.json", text.len());
        });
    }
}

#[test]
fn json_numbers_beyond_128_bits() {
    for number in ["340282366920938463463374607431768211456", "-340282366920938463463374607431768211457", &"9".repeat(100_000), "1e99999"] {
        let text = format!("{{\"magic\": \"PSTREE\", \"entries\": [{{\"pid\": {number}}}]}}");
        let err = quickly("big number", Duration::from_secs(5), || json::from_json(text.as_bytes(), "big.json").unwrap_err());
        check_json_error(&err, "big.json", text.len());
    }
}

#[test]
fn python_int_strings_at_the_i128_edges() {
    for number in [
        "--170141183460469231731687303715884105728",
        "-170141183460469231731687303715884105728",
        "-0x80000000000000000000000000000000",
        "0x-5",
        "+-5",
        "0x+5",
    ] {
        let text = format!("{{\"magic\": \"PSTREE\", \"entries\": [{{\"pid\": \"{number}\"}}]}}");
        let err = json::from_json(text.as_bytes(), "int.json").unwrap_err();
        check_json_error(&err, "int.json", text.len());
    }
}

#[test]
fn ten_megabytes_of_random_bytes() {
    let mut rng = Rng(0x5eed);
    let random: Vec<u8> = (0..10 << 20).map(|_| rng.next() as u8).collect();
    quickly("10 MB image", Duration::from_secs(20), || {
        exercise("random.img", &random);
        for kind in [ImageKind::Pstree, ImageKind::Core, ImageKind::IpcnsMsg, ImageKind::Cgroup] {
            let mut data = image_with(kind, &[]);
            data.extend(&random);
            exercise("random.img", &data);
            // One entry that spans all of it.
            let mut data = image_with(kind, &[]);
            data.extend((random.len() as u32).to_le_bytes());
            data.extend(&random);
            exercise("random.img", &data);
        }
    });
    quickly("10 MB JSON", Duration::from_secs(20), || {
        exercise_json("random.json", &random);
        // A 10 MB string, with random (mostly invalid) content.
        let mut text = b"{\"magic\": \"PSTREE\", \"entries\": [{\"pid\": \"".to_vec();
        text.extend(random.iter().map(|&b| if b == b'"' || b == b'\\' || b < 0x20 { b'a' } else { b }));
        text.extend(b"\"}]}");
        exercise_json("random.json", &text);
    });
}
