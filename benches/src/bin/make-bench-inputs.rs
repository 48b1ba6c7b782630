//! Writes the inputs of scripts/bench-vs-crit.sh into a directory:
//! `pagemap-100k.img` (100,000 runs) and `dir/` (the counter-host images
//! plus a 10,000-run pagemap, so a whole directory has real weight).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::path::PathBuf::from(std::env::args().nth(1).ok_or("usage: make-bench-inputs DIR")?);
    std::fs::create_dir_all(out.join("dir"))?;
    std::fs::write(out.join("pagemap-100k.img"), criu_images_benches::pagemap_image(100_000))?;
    for (name, bytes) in criu_images_benches::fixture_images() {
        std::fs::write(out.join("dir").join(name), bytes)?;
    }
    std::fs::write(out.join("dir").join("pagemap-1.img"), criu_images_benches::pagemap_image(10_000))?;
    println!("{}", out.display());
    Ok(())
}
