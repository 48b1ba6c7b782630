//! A small driver of the entry tables (issue #19) for profilers
//! (`valgrind --tool=callgrind`, `/usr/bin/time -v`): no Python, no
//! criterion, just the work.
//!
//! `entry_tables all DIR [N]`: every image of DIR as its record batch
//! (`entry_table::all_image_batches`), N times (default 1);
//! `entry_tables table DIR KIND [COPIES]`: `entry_table::image_tables` of
//! COPIES times DIR (default 200) for KIND, in one call.
//! Prints the rows and the bytes of the columns made.

use criu_images::{entry_table, Checkpoint, ImageKind};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: entry_tables all DIR [N] | entry_tables table DIR KIND [COPIES]";
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["all", dir, ref rest @ ..] => {
            let n: usize = rest.first().map_or(Ok(1), |n| n.parse())?;
            let checkpoint = Checkpoint::open(dir)?;
            let (mut rows, mut bytes) = (0, 0);
            for _ in 0..n {
                for (_, batch) in entry_table::all_image_batches(&checkpoint)? {
                    rows += batch.num_rows();
                    bytes += batch.get_array_memory_size();
                }
            }
            println!("{rows} rows, {bytes} bytes");
        }
        ["table", dir, kind, ref rest @ ..] => {
            let copies: usize = rest.first().map_or(Ok(200), |n| n.parse())?;
            let kind: ImageKind = entry_table::kind_by_name(kind).ok_or("no such kind")?;
            let paths = vec![dir; copies];
            let (_, batches) = entry_table::image_tables(&paths, kind)?;
            let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
            let bytes: usize = batches.iter().map(|b| b.get_array_memory_size()).sum();
            println!("{rows} rows, {bytes} bytes");
        }
        _ => return Err(usage.into()),
    }
    Ok(())
}
