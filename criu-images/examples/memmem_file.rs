//! The floor for literal search: memchr's memmem over one memory-mapped
//! file, nothing else (used by scripts/bench-memory.sh).
//!
//! ```sh
//! cargo run --release -p criu-images --example memmem_file -- FILE NEEDLE
//! ```

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: memmem_file FILE NEEDLE")?;
    let needle = args.next().ok_or("usage: memmem_file FILE NEEDLE")?;
    let file = std::fs::File::open(path)?;
    // SAFETY: read-only map of a file nobody else writes during the benchmark.
    let map = unsafe { memmap2::Mmap::map(&file)? };
    let count = memchr::memmem::find_iter(&map, needle.as_bytes()).count();
    println!("{count}");
    Ok(())
}
