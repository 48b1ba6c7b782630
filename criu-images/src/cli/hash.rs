//! `criu-images hash`: SHA-256 of a checkpoint archive and of each member,
//! the hashes that prove what was analysed (schema: docs/evidence.md).

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::interrupt;
use super::text::escape;
use crate::archive::Archive;
use crate::error::{Error, Result};
use crate::evidence::archive_digests;

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub(crate) enum HashFormat {
    Text,
    Json,
}

#[derive(Args, Debug)]
pub(crate) struct HashArgs {
    /// Checkpoint: images directory, tar, tar.gz, tar.zst (any archive the tool opens).
    path: PathBuf,
    /// Output format: `sha256sum` lines (the archive first), or JSON.
    #[arg(long, value_enum, default_value = "text")]
    format: HashFormat,
}

pub(crate) fn run(args: HashArgs, out: &mut impl Write) -> Result<()> {
    let archive = Archive::open(&args.path, &super::open_options())?;
    // Ctrl-C stops the hashing at its next 8 MiB (see cli/interrupt.rs).
    let (_watch, progress) = interrupt::watch();
    let digests = archive_digests(&archive, Some(&progress))?;
    let io = |e| Error::io("<stdout>", e);
    match args.format {
        HashFormat::Json => writeln!(out, "{:#}", digests.to_json()).map_err(io),
        HashFormat::Text => {
            // The lines `sha256sum` prints (two spaces), so `sha256sum -c` can check them.
            if let Some(sha) = &digests.sha256 {
                writeln!(out, "{sha}  {}", escape(&digests.path)).map_err(io)?;
            }
            for member in &digests.members {
                if let Some(sha) = &member.sha256 {
                    writeln!(out, "{sha}  {}", escape(&member.name)).map_err(io)?;
                }
            }
            Ok(())
        }
    }
}
