//! crit's commands: `decode`, `encode`, `info`, `show IMAGE`, and
//! `decode-all` (crit's decode over every image of a checkpoint).

use std::path::PathBuf;
use std::sync::Mutex;

use clap::Args;

use super::interrupt;
use super::io::{open_input, read_input, write_json_file, write_json_output, write_output};
use super::text;
use crate::error::{Error, Result};
use crate::json::{self, DecodeOptions};

#[derive(Args, Debug)]
pub(super) struct DecodeArgs {
    /// Image to read, or ARCHIVE:MEMBER (default: standard input).
    #[arg(short = 'i', long = "in", value_name = "IN")]
    input: Option<PathBuf>,
    /// Where to write the JSON (default: standard output).
    #[arg(short = 'o', long = "out", value_name = "OUT")]
    output: Option<PathBuf>,
    /// Indent and humanise (hex, flag names, devices, IP addresses), as crit --pretty.
    #[arg(long)]
    pretty: bool,
    /// Replace extra payloads by their size.
    #[arg(long)]
    nopl: bool,
}

#[derive(Args, Debug)]
pub(super) struct EncodeArgs {
    /// JSON to read (default: standard input).
    #[arg(short = 'i', long = "in", value_name = "IN")]
    input: Option<PathBuf>,
    /// Where to write the image (default: standard output).
    #[arg(short = 'o', long = "out", value_name = "OUT")]
    output: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub(super) struct DecodeAllArgs {
    /// The checkpoint: images directory, tar, tar.gz, tar.zst.
    path: PathBuf,
    /// Directory to write the JSON files into (created if missing).
    #[arg(short = 'o', long = "out")]
    output: PathBuf,
    /// Indented, humanised JSON, as crit --pretty.
    #[arg(long)]
    pretty: bool,
}

#[derive(Args, Debug)]
pub(super) struct InfoArgs {
    /// The image file, or ARCHIVE:MEMBER.
    #[arg(value_name = "IN")]
    input: PathBuf,
}

#[derive(Args, Debug)]
pub(super) struct ShowArgs {
    /// A checkpoint; or an image file, or ARCHIVE:MEMBER (e.g. checkpoint.tar:checkpoint/pstree.img).
    #[arg(value_name = "IN")]
    input: PathBuf,
    /// Replace extra payloads (pipe data, socket queues, ...) by their size.
    #[arg(long)]
    nopl: bool,
    /// With a checkpoint: also CRIU's dump statistics.
    #[arg(long)]
    stats: bool,
    /// With a container image (oci-archive, oci-layout, docker-archive):
    /// check the sha256 of every blob and print the results; fails if one
    /// does not match.
    #[arg(long)]
    verify: bool,
}

/// `decode`: one image to JSON.
pub(super) fn decode(args: DecodeArgs) -> Result<()> {
    let input = read_input(args.input.as_ref())?;
    let options = DecodeOptions { pretty: args.pretty, no_payload: args.nopl };
    write_json_output(&input.image()?, &options, args.output.as_ref())?;
    // Not for standard input: there is no source file to name and hash.
    if let (Some(output), Some(_)) = (&args.output, args.input.as_ref().filter(|p| p.as_os_str() != "-")) {
        super::io::write_provenance(output, input.provenance())?;
    }
    Ok(())
}

/// `encode`: JSON back to an image.
pub(super) fn encode(args: EncodeArgs) -> Result<()> {
    let input = read_input(args.input.as_ref())?;
    let bytes = json::from_json(input.bytes()?, input.name())?;
    write_output(args.output.as_ref(), &bytes)
}

/// `info`: the image type and number of entries.
pub(super) fn info(args: InfoArgs) -> Result<()> {
    let input = open_input(&args.input)?;
    let mut text = json::info_json(&input.image()?)?.into_bytes();
    text.push(b'\n');
    write_output(None, &text)
}

/// `show`: a checkpoint's summary, or one image as indented JSON.
pub(super) fn show(args: ShowArgs) -> Result<()> {
    if args.input.is_dir() || super::show::is_archive(&args.input) {
        let checkpoint = super::open_checkpoint(&args.input)?;
        let (mut summary, warnings) = super::show::summary(&checkpoint, args.stats)?;
        super::print_warnings(&warnings);
        let checks = if args.verify { super::show::verify_text(checkpoint.archive(), &mut summary)? } else { None };
        write_output(None, summary.as_bytes())?;
        return super::show::verify_outcome(checkpoint.archive(), checks);
    }
    let input = open_input(&args.input)?;
    write_json_output(&input.image()?, &DecodeOptions { pretty: true, no_payload: args.nopl }, None)
}

/// `decode-all`: every protobuf image of a checkpoint to OUTDIR/NAME.json.
/// Ctrl-C stops it and removes every file (and the directory) this run
/// created; files that existed before are never removed.
pub(super) fn decode_all(args: DecodeAllArgs) -> Result<()> {
    let DecodeAllArgs { path, output, pretty } = args;
    let checkpoint = super::open_checkpoint(&path)?;
    let options = DecodeOptions { pretty, no_payload: false };
    let all = checkpoint.decode_all()?;
    for (name, err) in all.not_decoded() {
        eprintln!("criu-images: warning: {}", text::escape(&format!("{name} not decoded: {err}")));
    }
    // From here on this run writes files: Ctrl-C stops the writing and the files go.
    let (_watch, progress) = interrupt::watch();
    let new_dir = !output.exists();
    std::fs::create_dir_all(&output).map_err(|e| Error::io(output.display().to_string(), e))?;
    let created = Mutex::new(Vec::new());
    // Images are independent: decode them on every core.
    let images = all.images();
    let written = crate::parallel::map_tasks(images.len(), |i| {
        let file = write_json_file(&all.image(i)?, &options, &output.join(format!("{}.json", images[i].name)), &progress)?;
        if let Some(path) = file.created() {
            created.lock().unwrap_or_else(|p| p.into_inner()).push(path.to_path_buf());
        }
        Ok(())
    });
    if progress.is_cancelled() {
        for path in created.into_inner().unwrap_or_else(|p| p.into_inner()) {
            let _ = std::fs::remove_file(path);
        }
        if new_dir {
            // Only if empty: whatever else is there stays.
            let _ = std::fs::remove_dir(&output);
        }
        return Err(Error::Cancelled);
    }
    written?;
    eprintln!("decoded {} images into {}", images.len(), output.display());
    Ok(())
}
