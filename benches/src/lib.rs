//! Large synthetic inputs for the benchmarks, made with criu-images' own
//! encoder (CRIU cannot dump on every kernel, and real multi-GB checkpoints
//! are not shipped). Everything here decodes with Debian's crit 3.17 too
//! (which prints the pagemap's `compat_nr_pages` under the name `nr_pages`
//! and ignores the fields newer than it, see `scripts/bench-vs-crit.sh`).

use std::fmt::Write as _;
use std::path::Path;

use criu_images::json::from_json;

/// One image file of a generated images directory: (file name, bytes).
pub type ImageFileBytes = (String, Vec<u8>);

/// A CRIU 4.2 style pagemap image with `entries` runs after its
/// `pagemap_head`: `compat_nr_pages` 0, `flags` alternating `PE_PRESENT` and
/// `PE_LAZY | PE_PRESENT`, `nr_pages` 1..=16, increasing addresses.
pub fn pagemap_image(entries: usize) -> Vec<u8> {
    let mut json = String::with_capacity(entries * 80 + 64);
    json.push_str(r#"{"magic": "PAGEMAP", "entries": [{"pages_id": 1}"#);
    let mut vaddr: u64 = 0x5555_0000_0000;
    for i in 0..entries {
        let nr = (i % 16 + 1) as u64;
        let flags = if i % 2 == 0 { 4 } else { 6 };
        let _ = write!(json, r#", {{"vaddr": {vaddr}, "compat_nr_pages": 0, "flags": {flags}, "nr_pages": {nr}}}"#);
        vaddr += (nr + 1) * 4096;
    }
    json.push_str("]}");
    encode(&json, "pagemap.json")
}

/// The protobuf images of the real counter-host fixture (a CRIU 4.2 images
/// directory of one single-threaded process), as (file name, bytes), sorted
/// by name. `pages-*.img` (raw memory) and `stats-dump` are left out.
pub fn fixture_images() -> Vec<ImageFileBytes> {
    let dir = fixture_dir();
    let mut files: Vec<ImageFileBytes> = std::fs::read_dir(&dir)
        .expect("tests/fixtures/counter-host/images")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.ends_with(".img") && !name.starts_with("pages-")
        })
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).expect("fixture image")))
        .collect();
    files.sort();
    files
}

fn fixture_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/counter-host/images")
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixture_dir().join(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

fn encode(json: &str, name: &str) -> Vec<u8> {
    from_json(json.as_bytes(), name).unwrap_or_else(|e| panic!("the generator writes valid JSON for {name}: {e}"))
}

/// Shape of a generated images directory, see [`busy_images`].
#[derive(Clone, Copy, Debug)]
pub struct BusySpec {
    /// Processes in the tree (the first is the parent of the others).
    pub processes: usize,
    /// Threads per process (one `core-TID.img` each).
    pub threads: usize,
    /// VMAs per process (`mm-PID.img`).
    pub vmas: usize,
    /// Pagemap runs per process (`pagemap-PID.img`).
    pub pagemap_entries: usize,
    /// Open files per process (`fdinfo-N.img`; all in one `files.img`).
    pub fds: usize,
}

impl BusySpec {
    /// The directory of `scripts/bench-vs-crit.sh` and the criterion
    /// benchmarks: 4 processes x 4 threads, 2,000 VMAs, 5,000 pagemap runs
    /// and 256 files each: 41 images, 1.6 MB.
    pub const DEFAULT: BusySpec = BusySpec { processes: 4, threads: 4, vmas: 2_000, pagemap_entries: 5_000, fds: 256 };
}

/// A generated images directory of a busier checkpoint than the fixture: a
/// tree of `processes` processes with `threads` threads each, every thread
/// with its `core-TID.img` (the fixture's real core image), every process
/// with `ids`, `fs`, `mm` (many VMAs), `pagemap` (many runs) and `fdinfo`
/// (many regular files, all listed in `files.img`), plus `pstree.img` and
/// the fixture's `inventory`, `seccomp` and `timens` images. Sorted by name.
pub fn busy_images(spec: BusySpec) -> Vec<ImageFileBytes> {
    let mut files: Vec<ImageFileBytes> = Vec::new();
    let core = fixture("core-24152.img");
    let fs = fixture("fs-24152.img");
    for name in ["inventory.img", "seccomp.img", "timens-0.img"] {
        files.push((name.to_string(), fixture(name)));
    }

    let pid_of = |p: usize| 1000 + (p * (spec.threads + 10)) as u32;
    let mut pstree = String::from(r#"{"magic": "PSTREE", "entries": ["#);
    let mut reg_files = String::from(r#"{"magic": "FILES", "entries": ["#);
    let mut file_id = 0u32;
    for p in 0..spec.processes {
        let pid = pid_of(p);
        let ppid = if p == 0 { 0 } else { pid_of(0) };
        let threads: Vec<u32> = (0..spec.threads as u32).map(|t| pid + t).collect();
        let sep = if p == 0 { "" } else { ", " };
        let _ =
            write!(pstree, r#"{sep}{{"pid": {pid}, "ppid": {ppid}, "pgid": {}, "sid": {}, "threads": {threads:?}}}"#, pid_of(0), pid_of(0));
        for tid in &threads {
            files.push((format!("core-{tid}.img"), core.clone()));
        }
        let files_id = p as u32 + 2;
        files.push((
            format!("ids-{pid}.img"),
            encode(
                &format!(
                    r#"{{"magic": "IDS", "entries": [{{"vm_id": {files_id}, "files_id": {files_id}, "fs_id": {files_id}, "sighand_id": {files_id}, "pid_ns_id": 1, "net_ns_id": 2, "ipc_ns_id": 3, "uts_ns_id": 4, "mnt_ns_id": 6, "user_ns_id": 7, "cgroup_ns_id": 8, "time_ns_id": 5}}]}}"#
                ),
                "ids.json",
            ),
        ));
        files.push((format!("fs-{pid}.img"), fs.clone()));
        files.push((format!("mm-{pid}.img"), mm_image(spec.vmas, p as u64)));
        files.push((format!("pagemap-{pid}.img"), pagemap_image(spec.pagemap_entries)));

        let mut fdinfo = String::from(r#"{"magic": "FDINFO", "entries": ["#);
        for fd in 0..spec.fds {
            file_id += 1;
            let sep = if fd == 0 { "" } else { ", " };
            let _ = write!(fdinfo, r#"{sep}{{"id": {file_id}, "flags": {}, "type": "REG", "fd": {fd}}}"#, fd % 2);
            let sep = if file_id == 1 { "" } else { ", " };
            let _ = write!(
                reg_files,
                r#"{sep}{{"type": "REG", "id": {file_id}, "reg": {{"id": {file_id}, "flags": 32769, "pos": {}, "fown": {{"uid": 0, "euid": 0, "signum": 0, "pid_type": 0, "pid": 0}}, "name": "/var/lib/app/data/{pid}/file-{fd:05}.log", "size": {}, "mode": 33188}}}}"#,
                fd * 512,
                fd * 4096 + 17
            );
        }
        fdinfo.push_str("]}");
        files.push((format!("fdinfo-{files_id}.img"), encode(&fdinfo, "fdinfo.json")));
    }
    pstree.push_str("]}");
    reg_files.push_str("]}");
    files.push(("pstree.img".into(), encode(&pstree, "pstree.json")));
    files.push(("files.img".into(), encode(&reg_files, "files.json")));
    files.sort();
    files
}

/// An `mm` image of one process with `vmas` private, file-backed and
/// anonymous mappings (the field set CRIU 4.2 writes for each kind).
pub fn mm_image(vmas: usize, seed: u64) -> Vec<u8> {
    let base = 0x7f00_0000_0000u64 + (seed << 36);
    let mut json = String::with_capacity(vmas * 120 + 1024);
    let _ = write!(
        json,
        r#"{{"magic": "MM", "entries": [{{"mm_start_code": 94131243876352, "mm_end_code": 94131243877721, "mm_start_data": 94131243888080, "mm_end_data": 94131243888768, "mm_start_stack": 140725895975472, "mm_start_brk": 94131567099904, "mm_brk": 94131567235072, "mm_arg_start": 140725895982847, "mm_arg_end": 140725895982934, "mm_env_start": 140725895982934, "mm_env_end": 140725895983074, "exe_file_id": 1, "mm_saved_auxv": [33, 140198325616640, 51, 3376, 16, 395049983, 6, 4096, 17, 100, 3, 94131243872320, 4, 56, 5, 13, 7, 140198325624832, 8, 0, 9, 94131243876640, 11, 0, 12, 0, 13, 0, 14, 0, 23, 0, 25, 140725895975929, 26, 2, 31, 140725895983074, 15, 140725895975945, 27, 28, 28, 32], "vmas": ["#
    );
    let mut start = base;
    for i in 0..vmas {
        let len = ((i % 7) as u64 + 1) * 4096;
        let sep = if i == 0 { "" } else { ", " };
        if i % 3 == 0 {
            // anonymous private memory
            let _ = write!(
                json,
                r#"{sep}{{"start": {start}, "end": {}, "pgoff": 0, "shmid": 0, "prot": 3, "flags": 34, "status": 545, "fd": -1}}"#,
                start + len
            );
        } else {
            // a private file mapping (a shared library's segment)
            let _ = write!(
                json,
                r#"{sep}{{"start": {start}, "end": {}, "pgoff": {}, "shmid": {}, "prot": {}, "flags": 2, "status": 65, "fd": -1, "fdflags": 0}}"#,
                start + len,
                (i as u64 % 5) * 4096,
                i % 50 + 1,
                if i % 3 == 1 { 5 } else { 1 }
            );
        }
        start += len + 4096;
    }
    json.push_str(r#"], "dumpable": 1, "thp_disabled": false}]}"#);
    encode(&json, "mm.json")
}

/// Writes `files` into `dir` (created if needed).
pub fn write_images(dir: &Path, files: &[ImageFileBytes]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for (name, bytes) in files {
        std::fs::write(dir.join(name), bytes)?;
    }
    Ok(())
}

/// Shape of the process memory of [`write_memory_checkpoint`].
#[derive(Clone, Copy, Debug)]
pub enum MemoryLayout {
    /// One area of `mib` MiB, dumped in one pagemap run.
    Dense {
        /// Size in MiB.
        mib: u64,
    },
    /// One area of `2 * runs` pages: `runs` runs of one dumped page, each
    /// followed by a page that was not dumped (reads as zeros), as CRIU
    /// writes a process that touched every other page.
    Fragmented {
        /// Dumped runs (= dumped pages).
        runs: u64,
    },
    /// `mib` MiB of addresses in runs of `run` dumped pages, each followed
    /// by a page not dumped (the last run may be shorter): large runs with
    /// a few boundaries, the input of `scripts/bench-memory.sh`'s search and
    /// read sections and of `scripts/bench-vs-pycriu.sh`'s search.
    Gapped {
        /// Addresses of the area, in MiB (about this much is dumped).
        mib: u64,
        /// Dumped pages per run.
        run: u64,
    },
}

impl MemoryLayout {
    /// The pagemap runs `(first page, pages)` and the area's length in pages.
    fn runs(self) -> (Vec<(u64, u64)>, u64) {
        match self {
            MemoryLayout::Dense { mib } => (vec![(0, mib * 256)], mib * 256),
            MemoryLayout::Fragmented { runs } => ((0..runs).map(|i| (2 * i, 1)).collect(), 2 * runs),
            MemoryLayout::Gapped { mib, run } => {
                let (total, run) = (mib * 256, run.max(1));
                let (mut runs, mut page) = (Vec::new(), 0);
                while page < total {
                    let n = run.min(total - page);
                    runs.push((page, n));
                    page += n + 1;
                }
                (runs, page)
            }
        }
    }
}

/// The literal planted every 64 MiB of [`write_memory_checkpoint`]'s pages.
pub const NEEDLE: &[u8] = b"SYNTHETIC-NEEDLE-0123456789";

/// Base address of [`write_memory_checkpoint`]'s area.
pub const MEMORY_BASE: u64 = 0x7f00_0000_0000;

/// Writes an images directory of one process (pid 1) with one private
/// anonymous area laid out as `layout`, its pages pseudo-random bytes
/// (xorshift64*) with [`NEEDLE`] every 64 MiB, so that dense and
/// fragmented layouts hold the same kind of bytes. Returns the dumped bytes.
/// (The one generator of process memory: the criterion benchmarks,
/// `make-memory-inputs` and the scripts all use it.)
pub fn write_memory_checkpoint(dir: &Path, layout: MemoryLayout) -> std::io::Result<u64> {
    use std::io::Write;
    const PAGE: u64 = 4096;
    std::fs::create_dir_all(dir)?;
    let mut entries = String::from(r#"{"magic": "PAGEMAP", "entries": [{"pages_id": 1}"#);
    let (runs, area_pages) = layout.runs();
    for &(page, n) in &runs {
        let _ = write!(entries, r#", {{"vaddr": {}, "compat_nr_pages": 0, "flags": 4, "nr_pages": {n}}}"#, MEMORY_BASE + page * PAGE);
    }
    let dumped_pages: u64 = runs.iter().map(|r| r.1).sum();
    entries.push_str("]}");
    let image = |name: &str, json: &str| std::fs::write(dir.join(name), encode(json, name));
    image("pagemap-1.img", &entries)?;
    image("pstree.img", r#"{"magic": "PSTREE", "entries": [{"pid": 1, "ppid": 0, "pgid": 1, "sid": 1, "threads": [1]}]}"#)?;
    image(
        "mm-1.img",
        &format!(
            r#"{{"magic": "MM", "entries": [{{"mm_start_code": 0, "mm_end_code": 0, "mm_start_data": 0, "mm_end_data": 0, "mm_start_stack": 0, "mm_start_brk": 0, "mm_brk": 0, "mm_arg_start": 0, "mm_arg_end": 0, "mm_env_start": 0, "mm_env_end": 0, "exe_file_id": 0, "mm_saved_auxv": [6, 4096], "vmas": [{{"start": {MEMORY_BASE}, "end": {}, "pgoff": 0, "shmid": 0, "prot": 3, "flags": 34, "status": 513, "fd": -1}}]}}]}}"#,
            MEMORY_BASE + area_pages * PAGE
        ),
    )?;
    let mut file = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(dir.join("pages-1.img"))?);
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut chunk = vec![0u8; 1 << 20];
    let total = dumped_pages * PAGE;
    let mut written = 0u64;
    while written < total {
        let n = chunk.len().min((total - written) as usize);
        for word in chunk[..n].chunks_mut(8) {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            let v = state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes();
            word.copy_from_slice(&v[..word.len()]);
        }
        if written.is_multiple_of(64 << 20) && n > 1000 {
            chunk[1000..1000 + NEEDLE.len()].copy_from_slice(NEEDLE);
        }
        file.write_all(&chunk[..n])?;
        written += n as u64;
    }
    file.flush()?;
    Ok(total)
}

/// Copies the images directory `old` (made by [`write_memory_checkpoint`])
/// to `new`, changing one byte in `percent` of its dumped pages, chosen
/// pseudo-randomly: the second checkpoint of a diff benchmark. Returns the
/// number of pages changed.
pub fn write_changed_copy(old: &Path, new: &Path, percent: u64) -> std::io::Result<u64> {
    use std::io::{Read, Write};
    const PAGE: usize = 4096;
    std::fs::create_dir_all(new)?;
    for name in ["pagemap-1.img", "pstree.img", "mm-1.img"] {
        std::fs::copy(old.join(name), new.join(name))?;
    }
    let mut input = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(old.join("pages-1.img"))?);
    let mut output = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(new.join("pages-1.img"))?);
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    let mut page = vec![0u8; PAGE];
    let mut changed = 0;
    loop {
        let n = read_full(&mut input, &mut page)?;
        if n == 0 {
            break;
        }
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        if state.wrapping_mul(0x9E37_79B9_7F4A_7C15) % 100 < percent {
            page[(state % n as u64) as usize] ^= 0x5a;
            changed += 1;
        }
        output.write_all(&page[..n])?;
    }
    output.flush()?;
    fn read_full(input: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut filled = 0;
        while filled < buf.len() {
            match input.read(&mut buf[filled..])? {
                0 => break,
                n => filled += n,
            }
        }
        Ok(filled)
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use criu_images::image::Image;
    use criu_images::json::{to_json, DecodeOptions};

    #[test]
    fn generated_images_decode() {
        let image = pagemap_image(100);
        let image = Image::parse("pagemap.img", &image).unwrap();
        assert_eq!(image.count().unwrap(), 101);

        let spec = BusySpec { processes: 2, threads: 3, vmas: 10, pagemap_entries: 5, fds: 4 };
        let files = busy_images(spec);
        // 3 copied + per process (3 cores, ids, fs, mm, pagemap, fdinfo) + pstree + files
        assert_eq!(files.len(), 3 + 2 * (3 + 5) + 2);
        for (name, bytes) in &files {
            let image = Image::parse(name, bytes).unwrap();
            let text = to_json(&image, &DecodeOptions::PLAIN).unwrap();
            // and back, byte for byte
            assert_eq!(&from_json(text.as_bytes(), name).unwrap(), bytes, "{name}");
        }
        let mm = mm_image(10, 0);
        let text = to_json(&Image::parse("mm.img", &mm).unwrap(), &DecodeOptions::PLAIN).unwrap();
        assert_eq!(text.matches("\"start\"").count(), 10);
    }
}
