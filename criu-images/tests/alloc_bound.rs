//! Allocation bounds on hostile input.
//!
//! A counting global allocator (in this test binary only) records, per
//! thread, the largest single allocation and the peak of bytes live while a
//! reader entry point runs. Hostile images must not make the reader allocate
//! more than the input justifies: sizes, counts and lengths read from the
//! input are checked against the bytes actually there before anything is
//! reserved for them.

mod common;
#[path = "common/live_alloc.rs"]
mod live_alloc;

use common::synth::{image_with, nested_in_field_2, varint, Rng};
use criu_images::image::Layout;
use criu_images::json::{self, DecodeOptions};
use criu_images::proto::{FieldType, MessageId};
use criu_images::{Image, ImageKind};
use live_alloc::{measure, Counting, Usage};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

// ---------------------------------------------------------------------------
// The bounds
// ---------------------------------------------------------------------------

const MIB: usize = 1 << 20;

/// Decoding (framing, typed messages, one-line JSON): at most 64 bytes per
/// input byte, plus 1 MiB.
fn decode_bound(len: usize) -> usize {
    64 * len + MIB
}

/// The typed (prost) decoder builds one struct per repeated element. The
/// largest repeated element, `fanotify_mark_entry` (128 bytes), costs as
/// little as 2 input bytes, and a growing `Vec` may hold twice what it
/// needs: 128 bytes per input byte. Linear in the input, never driven by a
/// claimed count or size.
fn typed_bound(len: usize) -> usize {
    128 * len + MIB
}

/// Indented JSON repeats its indentation on every line: 4 spaces per level,
/// and a message nested `d` deep sits about `2 d` levels in. The nesting
/// limit of the decoder (100) bounds that factor.
fn pretty_bound(len: usize) -> usize {
    (64 + 8 * 100) * len + MIB
}

/// A tape holds an event of 24 bytes per value, key and bracket: an empty
/// nested message (2 input bytes) makes three, and a growing `Vec` may
/// hold twice what it needs. Still far below the Python objects a caller
/// builds from it.
fn tape_bound(len: usize) -> usize {
    2 * 3 * 24 / 2 * len + MIB
}

#[derive(Default)]
struct Worst {
    ratio: f64,
    what: String,
}

impl Worst {
    fn note(&mut self, what: &str, input: usize, usage: Usage) {
        let ratio = usage.largest.max(usage.peak) as f64 / input.max(1) as f64;
        if ratio > self.ratio {
            self.ratio = ratio;
            self.what = format!("{what}: {input} bytes in, {usage:?}");
        }
    }
}

fn check(what: &str, input: usize, usage: Usage, bound: usize) {
    assert!(
        usage.largest <= bound && usage.peak <= bound,
        "{what}: {input} bytes of input made the reader allocate {usage:?} (bound {bound}, {:.0} per input byte)",
        usage.largest.max(usage.peak) as f64 / input.max(1) as f64
    );
}

/// Runs every decode path on one hostile image and checks its allocations.
fn decode_checked(name: &str, data: &[u8], worst: &mut Worst) {
    let len = data.len();
    let Ok(image) = Image::parse(name, data) else { return };

    let (entries, usage) = measure(|| image.entries().map_while(Result::ok).collect::<Vec<_>>());
    check(&format!("{name}: entries"), len, usage, decode_bound(len));
    worst.note(&format!("{name}: entries"), len, usage);

    let (_, usage) = measure(|| {
        for entry in &entries {
            let _ = std::hint::black_box(entry.decode());
        }
    });
    check(&format!("{name}: Entry::decode"), len, usage, typed_bound(len));

    let (_, usage) = measure(|| json::info_json(&image));
    check(&format!("{name}: info_json"), len, usage, decode_bound(len));

    let (plain, usage) = measure(|| json::to_json(&image, &DecodeOptions::PLAIN));
    check(&format!("{name}: to_json"), len, usage, decode_bound(len));
    worst.note(&format!("{name}: to_json"), len, usage);

    let (_, usage) = measure(|| json::to_json(&image, &DecodeOptions::PRETTY));
    check(&format!("{name}: to_json --pretty"), len, usage, pretty_bound(len));

    for options in [DecodeOptions::PLAIN, DecodeOptions::PRETTY] {
        let (_, usage) = measure(|| json::tape::to_tape(&image, &options));
        check(&format!("{name}: to_tape {options:?}"), len, usage, tape_bound(len));
        worst.note(&format!("{name}: to_tape"), len, usage);
    }

    if let Ok(text) = plain {
        // And back: the JSON parser and encoder, bounded by the JSON's size.
        let (_, usage) = measure(|| json::from_json(text.as_bytes(), "decoded.json"));
        check(&format!("{name}: from_json"), text.len(), usage, decode_bound(text.len()));
        worst.note(&format!("{name}: from_json"), text.len(), usage);
    }
}

// ---------------------------------------------------------------------------
// Hostile inputs
// ---------------------------------------------------------------------------

#[test]
fn claimed_sizes_do_not_drive_allocations() {
    let mut worst = Worst::default();
    let mut cases: Vec<(&str, Vec<u8>)> = Vec::new();

    // A 4 GiB entry size.
    let mut data = image_with(ImageKind::Pstree, &[(&[0x08, 0x01], &[])]);
    data.extend(u32::MAX.to_le_bytes());
    data.extend([0x08, 0x01]);
    cases.push(("pstree.img", data));

    // A 4 GiB length-delimited field.
    let mut payload = vec![0x08, 0x01, 0x1a];
    payload.extend(varint(4 << 30));
    payload.extend([0u8; 8]);
    cases.push(("files.img", image_with(ImageKind::Files, &[(&payload, &[])])));

    // ipc_msg_entry { qnum: 4 billion } and 8 bytes of data.
    let mut payload = vec![0x18];
    payload.extend(varint(4_000_000_000));
    cases.push(("ipcns-msg-1.img", image_with(ImageKind::IpcnsMsg, &[(&payload, &[4, 0, 0, 0, 0x08, 1, 0x10, 0])])));
    cases.push(("ipcns-msg-1.img", image_with(ImageKind::IpcnsMsg, &[(&payload, &[0u8; 64])])));

    // Huge nsems, shm size, ghost chunk len, BPF sizes, pipe bytes.
    for (kind, key) in [
        (ImageKind::IpcnsSem, 0x10),
        (ImageKind::IpcnsShm, 0x10),
        (ImageKind::BpfmapData, 0x10),
        (ImageKind::PipesData, 0x10),
        (ImageKind::SkQueues, 0x10),
        (ImageKind::TcpStream, 0x08),
    ] {
        for value in [u64::from(u32::MAX), u64::MAX] {
            let mut payload = vec![key];
            payload.extend(varint(value));
            cases.push(("extra.img", image_with(kind, &[(&payload, &[0u8; 16])])));
        }
    }
    let mut chunk = vec![0x08];
    chunk.extend(varint(u64::MAX));
    cases.push(("ghost-file-1.img", image_with(ImageKind::GhostFile, &[(&[0x48, 1], &[]), (&chunk, &[0u8; 16])])));

    // A pagemap entry claiming 2^64 pages, a core with a 4 GiB register set.
    let mut payload = vec![0x28];
    payload.extend(varint(u64::MAX));
    cases.push(("pagemap-1.img", image_with(ImageKind::Pagemap, &[(&[0x08, 1], &[]), (&payload, &[])])));

    for (name, data) in &cases {
        decode_checked(name, data, &mut worst);
    }
    eprintln!("worst ratio {:.1}: {}", worst.ratio, worst.what);
}

/// For every repeated field of every entry message: the cheapest possible
/// elements (2 bytes each, or 1 in a packed run), 20 000 of them. The typed
/// decoder builds one struct per element, so this is where a reader would
/// amplify most.
#[test]
fn many_cheap_elements_stay_within_bounds() {
    const N: usize = 20_000;
    // The element `typed_bound` is sized for.
    assert!(std::mem::size_of::<criu_images::proto::FanotifyMarkEntry>() <= 128);
    let mut worst = Worst::default();
    for kind in ImageKind::all() {
        for index in [0, 1] {
            let id: MessageId = kind.entry_message(index);
            if index == 1 && matches!(kind.layout(), Layout::Entries(_)) {
                continue;
            }
            for field in id.schema().fields.iter().filter(|f| f.repeated) {
                let mut payload = Vec::new();
                match field.ty {
                    FieldType::Message(_) | FieldType::String | FieldType::Bytes => {
                        for _ in 0..N {
                            payload.extend(varint(u64::from(field.number) << 3 | 2));
                            payload.push(0);
                        }
                    }
                    _ => {
                        // One packed run of N zero varints (fixed-width types need more bytes).
                        let width = match field.ty {
                            FieldType::Fixed32 | FieldType::Sfixed32 | FieldType::Float => 4,
                            FieldType::Fixed64 | FieldType::Sfixed64 | FieldType::Double => 8,
                            _ => 1,
                        };
                        payload.extend(varint(u64::from(field.number) << 3 | 2));
                        payload.extend(varint((N * width) as u64));
                        payload.extend(std::iter::repeat_n(0u8, N * width));
                    }
                }
                let entries: Vec<(&[u8], &[u8])> =
                    if index == 0 { vec![(&payload, &[])] } else { vec![(&[0x08, 0x01][..], &[][..]), (&payload, &[])] };
                let data = image_with(kind, &entries);
                let name = format!("{}.{}", kind.name(), field.name);
                decode_checked(&name, &data, &mut worst);
            }
        }
    }
    eprintln!("worst ratio {:.1}: {}", worst.ratio, worst.what);
}

/// Deeply nested messages: the decoders stop at their nesting limits, and
/// the work done before that is bounded by the input.
#[test]
fn deep_nesting_stays_within_bounds() {
    let mut worst = Worst::default();
    for levels in [50, 99, 100, 101, 1000, 100_000] {
        let message = nested_in_field_2(levels);
        decode_checked("cgroup.img", &image_with(ImageKind::Cgroup, &[(&message, &[])]), &mut worst);
        // The same, with many cheap leaves at the bottom: cgroup_dir_entry
        // properties (3), 2 bytes each.
        let mut leaves = Vec::new();
        for _ in 0..5_000 {
            leaves.extend([0x1a, 0x00]);
        }
        let depth = levels.min(99);
        let mut message = leaves;
        for _ in 0..depth {
            let mut outer = vec![0x12];
            outer.extend(varint(message.len() as u64));
            outer.extend(&message);
            message = outer;
        }
        decode_checked("cgroup.img", &image_with(ImageKind::Cgroup, &[(&message, &[])]), &mut worst);
    }
    eprintln!("worst ratio {:.1}: {}", worst.ratio, worst.what);
}

/// Random bytes behind every magic, and random mutations of protobuf-looking
/// entries.
#[test]
fn random_images_stay_within_bounds() {
    let mut worst = Worst::default();
    let mut rng = Rng(42);
    for kind in ImageKind::all() {
        for size in [16usize, 256, 4096, 65536] {
            let mut body: Vec<u8> = (0..size).map(|_| rng.next() as u8).collect();
            let mut data = image_with(kind, &[]);
            data.extend(&body);
            decode_checked("random.img", &data, &mut worst);
            // One honest entry around the random bytes.
            body.truncate(size - 4);
            let data = image_with(kind, &[(&body, &[])]);
            decode_checked("random.img", &data, &mut worst);
        }
    }
    eprintln!("worst ratio {:.1}: {}", worst.ratio, worst.what);
}

/// Hostile JSON: the parser's tree and the encoder's output stay within a
/// constant factor of the text.
#[test]
fn hostile_json_stays_within_bounds() {
    let mut worst = Worst::default();
    let n = 100_000;
    let texts: Vec<String> = vec![
        "[".repeat(n),
        format!("[{}0]", "0,".repeat(n)),
        format!("[{}{{}}]", "{},".repeat(n)),
        format!("[{}\"\"]", "\"\",".repeat(n)),
        format!("{{{}\"a\": 0}}", "\"a\": 0, ".repeat(n)),
        format!("{{\"magic\": \"PSTREE\", \"entries\": [{}{{}}]}}", "{}, ".repeat(n)),
        format!("{{\"magic\": \"PSTREE\", \"entries\": [{{\"threads\": [{}0]}}]}}", "0,".repeat(n)),
        format!("{{\"magic\": \"IPCNS_SEM\", \"entries\": [{{\"nsems\": {n}, \"extra\": [{}0]}}]}}", "0,".repeat(n - 1)),
        format!("{{\"magic\": \"IPCNS_SEM\", \"entries\": [{{\"nsems\": 4294967295, \"extra\": [0]}}]}}"),
        format!("{{\"magic\": \"IPCNS_SHM\", \"entries\": [{{\"size\": 18446744073709551615, \"extra\": \"AAAA\"}}]}}"),
        format!("{{\"magic\": \"PIPES_DATA\", \"entries\": [{{\"bytes\": 4294967295, \"extra\": \"AAAA\"}}]}}"),
        format!("{{\"magic\": \"MM\", \"entries\": [{{\"vmas\": [{}{{}}]}}]}}", "{}, ".repeat(n)),
        format!("\"{}\"", "\\udcff".repeat(n)),
        format!("\"{}\"", "\\ud83d\\ude00".repeat(n)),
    ];
    for text in &texts {
        let (_, usage) = measure(|| json::from_json(text.as_bytes(), "hostile.json"));
        let what: String = text.chars().take(60).collect();
        check(&format!("from_json {what}"), text.len(), usage, decode_bound(text.len()));
        worst.note(&format!("from_json {what}"), text.len(), usage);
    }
    eprintln!("worst ratio {:.1}: {}", worst.ratio, worst.what);
}

/// One dump level held in memory.
struct Level(std::collections::HashMap<String, Vec<u8>>);

impl criu_images::chain::ImageStore for Level {
    fn file(&self, name: &str) -> criu_images::Result<Option<&[u8]>> {
        Ok(self.0.get(name).map(Vec::as_slice))
    }
    fn label(&self) -> String {
        "hostile".into()
    }
}

/// Reading memory: a tiny `mm` image may claim a 64 GiB area of zero pages
/// (or leave a huge range unmapped); reads must not allocate for what the
/// pieces do not hold, and `read_up_to` allocates at most what it returns.
#[test]
fn memory_reads_allocate_what_the_pieces_justify() {
    use criu_images::memory::{ProcessMemory, MAX_ZERO_READ};
    const GIB: u64 = 1 << 30;
    let base = 0x7f00_0000_0000u64;
    let zero_area = (base + 4096, base + 4096 + 64 * GIB);
    let mm = format!(
        r#"{{"magic": "MM", "entries": [{{"mm_start_code": 0, "mm_end_code": 0, "mm_start_data": 0, "mm_end_data": 0, "mm_start_stack": 0, "mm_start_brk": 0, "mm_brk": 0, "mm_arg_start": {}, "mm_arg_end": {}, "mm_env_start": 0, "mm_env_end": 0, "exe_file_id": 0, "vmas": [{{"start": {base}, "end": {}, "pgoff": 0, "shmid": 0, "prot": 3, "flags": 34, "status": 513, "fd": -1}}, {{"start": {}, "end": {}, "pgoff": 0, "shmid": 0, "prot": 3, "flags": 34, "status": 513, "fd": -1}}]}}]}}"#,
        zero_area.0,
        zero_area.1,
        base + 4096,
        zero_area.0,
        zero_area.1
    );
    let pagemap = format!(
        r#"{{"magic": "PAGEMAP", "entries": [{{"pages_id": 1}}, {{"vaddr": {base}, "compat_nr_pages": 0, "flags": 4, "nr_pages": 1}}]}}"#
    );
    let mut files = std::collections::HashMap::new();
    files.insert("mm-1.img".to_string(), json::from_json(mm.as_bytes(), "mm-1.img").unwrap());
    files.insert("pagemap-1.img".to_string(), json::from_json(pagemap.as_bytes(), "pagemap-1.img").unwrap());
    files.insert("pages-1.img".to_string(), vec![b'a'; 4096]);
    let input: usize = files.values().map(Vec::len).sum();
    assert!(input < 8192, "{input}");
    let level = Level(files);
    let memory = ProcessMemory::build(1, &criu_images::chain::DumpChain::single(&level)).unwrap();
    let bound = |returned: u64| returned as usize + MIB;

    // The whole zero area at once: refused before anything is allocated for it.
    let (result, usage) = measure(|| memory.read(zero_area.0, 64 * GIB).map(|b| b.len()));
    assert!(result.is_err());
    check("read of a 64 GiB zero area", input, usage, bound(0));
    // A range that leaves the mapped areas: the error comes before any reservation.
    let (result, usage) = measure(|| memory.read(base, 1 << 40).map(|b| b.len()));
    assert!(result.is_err());
    check("read past the areas", input, usage, bound(0));
    // Capped reads allocate what they return, wherever the range ends.
    // (address, length, max) -> the length returned.
    let cases = [
        ((zero_area.0, 64 * GIB, 4096), 4096),
        ((base + 100, 64 * GIB, 8192), 8192),
        ((base + 100, 64 * GIB, u64::MAX), 4096 - 100 + MAX_ZERO_READ),
        ((zero_area.0, u64::MAX - zero_area.0, u64::MAX), MAX_ZERO_READ),
    ];
    for ((addr, len, max), expected) in cases {
        let (result, usage) = measure(|| memory.read_up_to(addr, len, max).map(|(b, cut)| (b.len() as u64, cut)));
        assert_eq!(result.unwrap(), (expected, true), "read_up_to({addr:#x}, {len}, {max})");
        check(&format!("read_up_to({addr:#x}, {len}, {max})"), input, usage, bound(expected));
    }
}
