//! Writes the inputs of scripts/bench-diff.sh with criu-images' own
//! encoder: `make-diff-inputs DIR MIB [PERCENT]` makes `DIR/old/` (one
//! process, MIB MiB dumped in one run, [`write_memory_checkpoint`]) and
//! `DIR/new/`, the same with one byte changed in PERCENT (5) % of the pages.

use criu_images_benches::{write_changed_copy, write_memory_checkpoint, MemoryLayout};

const USAGE: &str = "usage: make-diff-inputs DIR MIB [PERCENT]";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().ok_or(USAGE)?);
    let mib: u64 = args.next().ok_or(USAGE)?.parse()?;
    let percent: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(5);
    let bytes = write_memory_checkpoint(&dir.join("old"), MemoryLayout::Dense { mib })?;
    let changed = write_changed_copy(&dir.join("old"), &dir.join("new"), percent)?;
    println!("{}: {bytes} bytes of pages per side, {changed} of {} pages changed", dir.display(), bytes / 4096);
    Ok(())
}
