//! A small driver of the entry tables (issue #19) for profilers
//! (`valgrind --tool=callgrind`, `/usr/bin/time -v`): no Python, no
//! criterion, just the work.
//!
//! `entry_tables all DIR [N]`: every image of DIR as its record batch
//! (`entry_table::all_image_batches`), N times (default 1);
//! `entry_tables table DIR KIND [COPIES]`: `entry_table::image_tables` of
//! COPIES times DIR (default 200) for KIND, in one call;
//! `entry_tables floor DIR [N]`: the floor of any implementation producing
//! `all`'s schemas: for the schema and row count of every table of DIR
//! (taken once), only all-null arrays made with arrow-rs's cheapest
//! constructor (`new_null_array`) and dropped, N times (default 1000),
//! timed (best of 5 rounds) and counted in arrays, nested ones included.
//! Prints the rows and the bytes of the columns made.

use criu_images::{entry_table, Checkpoint, ImageKind};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: entry_tables all DIR [N] | entry_tables table DIR KIND [COPIES] | entry_tables floor DIR [N]";
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
        ["floor", dir, ref rest @ ..] => {
            use arrow_array::{new_null_array, Array};
            let n: usize = rest.first().map_or(Ok(1000), |n| n.parse())?;
            let checkpoint = Checkpoint::open(dir)?;
            let tables: Vec<_> =
                entry_table::all_image_batches(&checkpoint)?.into_iter().map(|(_, b)| (b.schema(), b.num_rows())).collect();
            fn count(data: &arrow_data::ArrayData) -> usize {
                1 + data.child_data().iter().map(count).sum::<usize>()
            }
            let arrays: usize = tables
                .iter()
                .flat_map(|(schema, rows)| schema.fields().iter().map(|f| count(&new_null_array(f.data_type(), *rows).to_data())))
                .sum();
            let mut best = f64::INFINITY;
            for _ in 0..5 {
                let start = std::time::Instant::now();
                for _ in 0..n {
                    for (schema, rows) in &tables {
                        let columns: Vec<_> = schema.fields().iter().map(|f| new_null_array(f.data_type(), *rows)).collect();
                        std::hint::black_box(columns);
                    }
                }
                best = best.min(start.elapsed().as_secs_f64() / n as f64);
            }
            let rows: usize = tables.iter().map(|(_, rows)| rows).sum();
            println!(
                "{} tables, {rows} rows, {arrays} arrays: {:.1} us per call, {:.0} ns per array",
                tables.len(),
                best * 1e6,
                best * 1e9 / arrays as f64
            );
        }
        _ => return Err(usage.into()),
    }
    Ok(())
}
