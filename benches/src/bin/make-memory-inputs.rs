//! Writes the inputs of scripts/bench-memory.sh's layout comparison into DIR:
//!
//! * `dense/`: one process with 768 MiB dumped in one run;
//! * `fragmented/`: one process with 200,000 one-page dumped runs, each
//!   followed by a page not dumped (800 MB of pages in 1.6 GB of addresses).
//!
//! Sizes can be changed: `make-memory-inputs DIR [DENSE_MIB] [RUNS]`.

use criu_images_benches::{write_memory_checkpoint, MemoryLayout};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let out = std::path::PathBuf::from(args.next().ok_or("usage: make-memory-inputs DIR [DENSE_MIB] [RUNS]")?);
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
