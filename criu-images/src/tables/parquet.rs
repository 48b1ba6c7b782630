//! Tables written as Parquet files (feature `parquet`): zstd-compressed,
//! row groups of at most [`ROW_GROUP_ROWS`] rows or [`ROW_GROUP_BYTES`]
//! bytes, written through a temporary name in the same directory and
//! renamed, so that a reader never sees half a file.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use super::Table;
use crate::error::{Error, Result};

/// Most rows in one row group.
pub const ROW_GROUP_ROWS: usize = 128 * 1024;

/// Most (estimated, encoded) bytes in one row group: hits carry their bytes.
pub const ROW_GROUP_BYTES: usize = 64 << 20;

fn io(path: &Path, error: std::io::Error) -> Error {
    Error::io(path.display().to_string(), error)
}

fn parquet_error(path: &Path, error: parquet::errors::ParquetError) -> Error {
    Error::io(path.display().to_string(), std::io::Error::other(error))
}

/// Writes `table` to `path` (replacing it), through `path` + `.tmp`.
pub fn write(table: &Table, path: &Path) -> Result<()> {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".tmp");
    let temporary = path.with_file_name(name);
    let result = write_to(table, &temporary).and_then(|()| std::fs::rename(&temporary, path).map_err(|e| io(path, e)));
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result
}

fn write_to(table: &Table, path: &Path) -> Result<()> {
    let file = File::create(path).map_err(|e| io(path, e))?;
    let properties = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_max_row_group_bytes(Some(ROW_GROUP_BYTES))
        .set_created_by(format!("criu-images {}", env!("CARGO_PKG_VERSION")))
        .build();
    let mut writer =
        ArrowWriter::try_new(BufWriter::new(file), table.schema.clone(), Some(properties)).map_err(|e| parquet_error(path, e))?;
    for batch in &table.batches {
        writer.write(batch).map_err(|e| parquet_error(path, e))?;
    }
    let out = writer.into_inner().map_err(|e| parquet_error(path, e))?;
    out.into_inner().map_err(|e| io(path, e.into_error()))?;
    Ok(())
}
