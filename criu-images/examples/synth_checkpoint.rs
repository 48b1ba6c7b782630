//! Writes a large synthetic CRIU images directory for benchmarks (CRIU cannot
//! dump on every kernel, and real multi-GB checkpoints are not shipped):
//! one process (pid 1) with one private anonymous area of SIZE bytes, dumped
//! in runs of 255 pages separated by one-page holes, filled with
//! pseudo-random bytes and the needle `SYNTHETIC-NEEDLE-0123456789` planted
//! every 64 MiB.
//!
//! ```sh
//! cargo run --release -p criu-images --example synth_checkpoint -- DIR [SIZE_MIB]
//! ```

use std::io::Write;

use criu_images::json::from_json;

const PAGE: u64 = 4096;
const BASE: u64 = 0x7f00_0000_0000;
const RUN: u64 = 255;
pub const NEEDLE: &[u8] = b"SYNTHETIC-NEEDLE-0123456789";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().ok_or("usage: synth_checkpoint DIR [SIZE_MIB]")?);
    let mib: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(1024);
    std::fs::create_dir_all(&dir)?;

    let pages_total = mib * 1024 * 1024 / PAGE;
    // Runs of RUN dumped pages, then one page never touched.
    let mut entries = vec![r#"{"pages_id": 1}"#.to_string()];
    let mut page = 0;
    let mut dumped = 0;
    while page < pages_total {
        let n = RUN.min(pages_total - page);
        entries.push(format!(r#"{{"vaddr": {}, "compat_nr_pages": 0, "flags": 6, "nr_pages": {n}}}"#, BASE + page * PAGE));
        dumped += n;
        page += n + 1;
    }
    let area_end = BASE + page * PAGE;
    let write_image = |name: &str, json: String| -> Result<(), Box<dyn std::error::Error>> {
        std::fs::write(dir.join(name), from_json(json.as_bytes(), name)?)?;
        Ok(())
    };
    write_image("pagemap-1.img", format!(r#"{{"magic": "PAGEMAP", "entries": [{}]}}"#, entries.join(", ")))?;
    write_image("pstree.img", r#"{"magic": "PSTREE", "entries": [{"pid": 1, "ppid": 0, "pgid": 1, "sid": 1, "threads": [1]}]}"#.into())?;
    write_image(
        "mm-1.img",
        format!(
            r#"{{"magic": "MM", "entries": [{{"mm_start_code": 0, "mm_end_code": 0, "mm_start_data": 0, "mm_end_data": 0, "mm_start_stack": 0, "mm_start_brk": 0, "mm_brk": 0, "mm_arg_start": 0, "mm_arg_end": 0, "mm_env_start": 0, "mm_env_end": 0, "exe_file_id": 0, "mm_saved_auxv": [6, 4096, 0, 0], "vmas": [{{"start": {BASE}, "end": {area_end}, "pgoff": 0, "shmid": 0, "prot": 3, "flags": 34, "status": 513, "fd": -1}}]}}]}}"#
        ),
    )?;

    // Page data: xorshift64* bytes, with the needle every 64 MiB.
    let mut file = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(dir.join("pages-1.img"))?);
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut chunk = vec![0u8; 1 << 20];
    let total = dumped * PAGE;
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
    println!("{}: pid 1, {} pages dumped in {} runs, {} bytes of pages", dir.display(), dumped, entries.len() - 1, total);
    Ok(())
}
