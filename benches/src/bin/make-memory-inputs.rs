//! Writes the process memory inputs of the benchmark scripts, with
//! [`write_memory_checkpoint`] (criu-images' own encoder):
//!
//! * `make-memory-inputs DIR [DENSE_MIB] [RUNS]`: the layout comparison of
//!   scripts/bench-memory.sh, `DIR/dense/` (one process with 768 MiB dumped
//!   in one run) and `DIR/fragmented/` (200,000 one-page dumped runs, each
//!   followed by a page not dumped: 800 MB of pages in 1.6 GB of addresses);
//! * `make-memory-inputs --gapped DIR MIB [RUN]`: one process at `DIR` with
//!   MIB MiB of addresses in runs of RUN (255) dumped pages, each followed by
//!   a page not dumped (scripts/bench-memory.sh's search and read sections,
//!   scripts/bench-vs-pycriu.sh's search).
//!
//! Pages are pseudo-random bytes with `SYNTHETIC-NEEDLE-0123456789` every 64 MiB.

use criu_images_benches::{write_memory_checkpoint, MemoryLayout};

const USAGE: &str = "usage: make-memory-inputs DIR [DENSE_MIB] [RUNS] | make-memory-inputs --gapped DIR MIB [RUN]";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1).peekable();
    if args.peek().map(String::as_str) == Some("--gapped") {
        args.next();
        let dir = std::path::PathBuf::from(args.next().ok_or(USAGE)?);
        let mib: u64 = args.next().ok_or(USAGE)?.parse()?;
        let run: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(255);
        let bytes = write_memory_checkpoint(&dir, MemoryLayout::Gapped { mib, run })?;
        println!("{}: pid 1, {bytes} bytes of pages in runs of {run} pages", dir.display());
        return Ok(());
    }
    let out = std::path::PathBuf::from(args.next().ok_or(USAGE)?);
    let mib: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(768);
    let runs: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(200_000);
    for (name, layout) in [("dense", MemoryLayout::Dense { mib }), ("fragmented", MemoryLayout::Fragmented { runs })] {
        let dir = out.join(name);
        if !dir.join("pages-1.img").exists() {
            let bytes = write_memory_checkpoint(&dir, layout)?;
            println!("{}: {bytes} bytes of pages", dir.display());
        }
    }
    Ok(())
}
