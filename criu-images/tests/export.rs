#![cfg(feature = "parquet")]
//! `criu-images export`: the Parquet datasets read back (parquet crate)
//! equal the in-memory tables of each checkpoint; a corrupt archive among
//! them is a row of the `errors` table while the others export.

mod common;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;

use arrow_array::cast::AsArray;
use arrow_array::RecordBatch;
use criu_images::tables::{self, Table};
use criu_images::Checkpoint;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

fn fixture(name: &str) -> PathBuf {
    common::fixtures_dir().join(name)
}

/// Every row of a Parquet file, as batches of up to a million rows.
fn read(path: &Path) -> Vec<RecordBatch> {
    let file = File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let reader = ParquetRecordBatchReaderBuilder::try_new(file).unwrap().with_batch_size(1 << 20).build().unwrap();
    reader.map(|b| b.unwrap()).collect()
}

/// The rows of `table` equal those of `batches` (column by column, types included).
fn assert_same(table: &Table, batches: &[RecordBatch], what: &str) {
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    assert_eq!(rows, table.num_rows(), "{what}: rows");
    if rows == 0 {
        return;
    }
    // The fixtures' tables fit in one batch each.
    assert_eq!(table.batches.len(), 1, "{what}");
    assert_eq!(batches.len(), 1, "{what}");
    let (expected, got) = (&table.batches[0], &batches[0]);
    assert_eq!(got.num_columns(), expected.num_columns(), "{what}");
    for (i, field) in expected.schema().fields().iter().enumerate() {
        let got_field = got.schema().field(i).clone();
        assert_eq!(got_field.name(), field.name(), "{what}");
        assert_eq!(got_field.data_type(), field.data_type(), "{what}: {}", field.name());
        assert_eq!(got.column(i).to_data(), expected.column(i).to_data(), "{what}: column {}", field.name());
    }
}

#[test]
fn export_reads_back_equal_to_the_tables_and_a_corrupt_archive_is_an_error_row() {
    let dir = tempfile::tempdir().unwrap();
    // A truncated copy of pytree's archive: gzip ends early.
    let good = std::fs::read(fixture("pytree/checkpoint.tar.gz")).unwrap();
    let corrupt = dir.path().join("corrupt.tar.gz");
    std::fs::write(&corrupt, &good[..good.len() / 2]).unwrap();
    let inputs =
        [fixture("pytree/checkpoint.tar.gz"), fixture("attack/checkpoint.tar.zst"), corrupt.clone(), fixture("threads/checkpoint.tar.zst")];
    let out = dir.path().join("out");
    let status = Command::new(env!("CARGO_BIN_EXE_criu-images"))
        .arg("export")
        .args(&inputs)
        .arg("-o")
        .arg(&out)
        .args(["--tables", "processes,threads,vmas,fds,sockets,connections,findings", "--search", "/bin/", "--jobs", "2"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&status.stderr);
    assert_eq!(status.status.code(), Some(1), "a checkpoint failed: {stderr}");
    assert!(stderr.contains("corrupt.tar.gz"), "{stderr}");
    assert_eq!(
        stderr.lines().filter(|l| l.starts_with("criu-images: error:")).count(),
        2,
        "one line for the checkpoint, one summary: {stderr}"
    );

    for (index, input) in inputs.iter().enumerate() {
        let id = input.display().to_string();
        let part = |table: &str| out.join(table).join(format!("part-{index:05}.parquet"));
        if *input == corrupt {
            for table in ["processes", "vmas", "hits"] {
                assert!(!part(table).exists(), "no {table} part for the corrupt archive");
            }
            continue;
        }
        let checkpoint = Checkpoint::open(input).unwrap();
        for name in tables::CHECKPOINT_TABLES {
            let table = tables::checkpoint_table(&checkpoint, &id, name).unwrap();
            assert_same(&table, &read(&part(name)), &format!("{id}: {name}"));
        }
        let pattern = criu_images::memory::Pattern::literal(b"/bin/");
        let options = criu_images::memory::SearchOptions { context: 32, ..Default::default() };
        let mut found = Vec::new();
        for pid in checkpoint.memory_pids().unwrap() {
            found.extend(checkpoint.memory(pid).unwrap().search(&pattern, &options).unwrap());
        }
        let rows: Vec<(Option<&str>, &criu_images::memory::Hit)> = found.iter().map(|h| (Some("/bin/"), h)).collect();
        assert_same(&tables::hits(&id, &rows).unwrap(), &read(&part("hits")), &format!("{id}: hits"));
    }
    // Something was exported at all (the comparison above would pass on empty tables).
    let processes: usize = (0..4).filter(|i| out.join("processes").join(format!("part-{i:05}.parquet")).exists()).count();
    assert_eq!(processes, 3);
    assert!(read(&out.join("processes/part-00001.parquet"))[0].num_rows() > 1);

    let errors = read(&out.join("errors/part-00000.parquet"));
    assert_eq!(errors.len(), 1);
    let errors = &errors[0];
    assert_eq!(errors.num_rows(), 1);
    assert_eq!(errors.column_by_name("checkpoint").unwrap().as_string::<i32>().value(0), corrupt.display().to_string());
    let file = errors.column_by_name("file").unwrap().as_string::<i64>();
    assert!(file.value(0).contains("corrupt.tar.gz"), "{}", file.value(0));
    assert!(!errors.column_by_name("message").unwrap().as_string::<i64>().value(0).is_empty());
}

#[test]
fn export_refuses_a_table_directory_that_exists_and_writes_nothing_there() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir_all(out.join("vmas")).unwrap();
    std::fs::write(out.join("vmas/keep.txt"), b"earlier run").unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_criu-images"))
        .args(["export", "--id-from", "name", "--tables", "processes,vmas", "-o"])
        .arg(&out)
        .arg(fixture("pytree/checkpoint.tar.gz"))
        .output()
        .unwrap();
    assert_eq!(status.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&status.stderr).contains("new or empty directory"));
    assert_eq!(std::fs::read(out.join("vmas/keep.txt")).unwrap(), b"earlier run");
    // The directories it made before it found the clash are gone again.
    assert!(!out.join("processes").exists());
    assert_eq!(std::fs::read_dir(out.join("vmas")).unwrap().count(), 1);
}

#[test]
fn export_with_ids_from_names_writes_every_table_of_every_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let status = Command::new(env!("CARGO_BIN_EXE_criu-images"))
        .args(["export", "--id-from", "name", "-j", "1", "-o"])
        .arg(&out)
        .arg(fixture("pytree/checkpoint.tar.gz"))
        .arg(fixture("threads/checkpoint.tar.zst"))
        .output()
        .unwrap();
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    for table in ["processes", "threads", "vmas", "fds", "sockets", "connections"] {
        for i in 0..2 {
            assert!(out.join(table).join(format!("part-{i:05}.parquet")).exists(), "{table} {i}");
        }
    }
    assert!(!out.join("findings").exists() && !out.join("hits").exists());
    let processes = read(&out.join("processes/part-00001.parquet"));
    assert_eq!(processes[0].column(0).as_string::<i32>().value(0), "checkpoint.tar.zst");
    assert_eq!(read(&out.join("errors/part-00000.parquet")).iter().map(RecordBatch::num_rows).sum::<usize>(), 0);
}
