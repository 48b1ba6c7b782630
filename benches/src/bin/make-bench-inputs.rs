//! Writes the inputs of scripts/bench-vs-crit.sh into DIR:
//!
//! * `pagemap-100k.img`: a 100,000-run CRIU 4.2 pagemap (1.8 MB);
//! * `fixture/`: the real counter-host images (13 small images);
//! * `busy/`: a generated images directory (4 processes x 4 threads, 2,000
//!   VMAs, 5,000 pagemap runs and 256 files each: 41 images);
//! * `busy-100k/`: the same with 8 processes x 2 threads, 1,000 VMAs,
//!   12,500 pagemap runs and 512 files each: 108k entries (the table form
//!   of scripts/bench-vs-pycriu.sh, issue #19).

use criu_images_benches::{busy_images, fixture_images, pagemap_image, write_images, BusySpec};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::path::PathBuf::from(std::env::args().nth(1).ok_or("usage: make-bench-inputs DIR")?);
    std::fs::create_dir_all(&out)?;
    std::fs::write(out.join("pagemap-100k.img"), pagemap_image(100_000))?;
    write_images(&out.join("fixture"), &fixture_images())?;
    write_images(&out.join("busy"), &busy_images(BusySpec::DEFAULT))?;
    let big = BusySpec { processes: 8, threads: 2, vmas: 1_000, pagemap_entries: 12_500, fds: 512 };
    write_images(&out.join("busy-100k"), &busy_images(big))?;
    println!("{}", out.display());
    Ok(())
}
