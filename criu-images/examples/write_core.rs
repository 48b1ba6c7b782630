//! The core writer alone, for timing (`perf stat`, `/usr/bin/time`): one
//! process's ELF core written with `write_core_file`, without the CLI's
//! provenance sidecar (its SHA-256 reads the whole file back). Used by
//! scripts/bench-core-holes.sh.
//!
//! ```sh
//! cargo run --release -p criu-images --no-default-features --example write_core -- CHECKPOINT PID CORE
//! ```

use criu_images::coredump::{write_core_file, CoreOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    const USAGE: &str = "usage: write_core CHECKPOINT PID CORE";
    let mut args = std::env::args().skip(1);
    let checkpoint = criu_images::Checkpoint::open(args.next().ok_or(USAGE)?)?;
    let pid: u32 = args.next().ok_or(USAGE)?.parse()?;
    let core = std::path::PathBuf::from(args.next().ok_or(USAGE)?);
    let summary = write_core_file(&checkpoint, pid, &CoreOptions::default(), &core)?;
    println!("{} areas, {} memory bytes, {} bytes of file", summary.areas, summary.memory_bytes, summary.size);
    Ok(())
}
