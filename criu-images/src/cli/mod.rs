//! The `criu-images` command line tool.
//!
//! `decode`, `encode`, `info` and `show` behave like crit's commands of the
//! same names (same JSON, same use of standard input and output when `-i` /
//! `-o` are absent), with errors that say where an input is broken.

use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::error::{Error, Result};
use crate::image::ImageFile;
use crate::json::{self, DecodeOptions};

/// Read CRIU checkpoint images: decode them to crit-compatible JSON and back.
#[derive(Parser, Debug)]
#[command(name = "criu-images", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Convert an image to JSON (crit decode).
    Decode(DecodeArgs),
    /// Convert JSON back to an image (crit encode).
    Encode(EncodeArgs),
    /// Print the image type and number of entries (crit info).
    Info {
        /// The image file.
        #[arg(value_name = "IN")]
        input: PathBuf,
    },
    /// Print an image as indented, humanised JSON (crit show).
    Show {
        /// The image file.
        #[arg(value_name = "IN")]
        input: PathBuf,
        /// Replace extra payloads (pipe data, socket queues, ...) by their size.
        #[arg(long)]
        nopl: bool,
    },
}

#[derive(Args, Debug)]
struct DecodeArgs {
    /// Image to read (default: standard input).
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
struct EncodeArgs {
    /// JSON to read (default: standard input).
    #[arg(short = 'i', long = "in", value_name = "IN")]
    input: Option<PathBuf>,
    /// Where to write the image (default: standard output).
    #[arg(short = 'o', long = "out", value_name = "OUT")]
    output: Option<PathBuf>,
}

/// Runs the tool with these arguments (the first one is the program name)
/// and returns its exit status: 0 on success, 1 on bad input, 2 on bad usage.
pub fn main<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return if err.use_stderr() { ExitCode::from(2) } else { ExitCode::SUCCESS };
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Error::Io { source, .. }) if source.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("criu-images: error: {err}");
            ExitCode::from(1)
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Decode(args) => {
            let input = read_input(args.input.as_ref())?;
            let options = DecodeOptions { pretty: args.pretty, no_payload: args.nopl };
            let mut text = Vec::new();
            json::write_json(&input.image()?, &options, &mut text)?;
            write_text_output(args.output.as_ref(), text)
        }
        Command::Show { input, nopl } => {
            let input = ImageFile::open(&input)?;
            let mut text = Vec::new();
            json::write_json(&input.image()?, &DecodeOptions { pretty: true, no_payload: nopl }, &mut text)?;
            write_text_output(None, text)
        }
        Command::Encode(args) => {
            let input = read_input(args.input.as_ref())?;
            let bytes = json::from_json(input.bytes(), input.name())?;
            write_output(args.output.as_ref(), &bytes)
        }
        Command::Info { input } => {
            let input = ImageFile::open(&input)?;
            let mut text = json::info_json(&input.image()?)?.into_bytes();
            text.push(b'\n');
            write_output(None, &text)
        }
    }
}

fn read_input(path: Option<&PathBuf>) -> Result<ImageFile> {
    match path {
        Some(path) => ImageFile::open(path),
        None => {
            let mut bytes = Vec::new();
            io::stdin().lock().read_to_end(&mut bytes).map_err(|e| Error::io("<stdin>", e))?;
            Ok(ImageFile::from_bytes("<stdin>", bytes))
        }
    }
}

/// JSON goes to the file as is; on standard output crit adds a newline.
fn write_text_output(path: Option<&PathBuf>, mut text: Vec<u8>) -> Result<()> {
    if path.is_none() {
        text.push(b'\n');
    }
    write_output(path, &text)
}

fn write_output(path: Option<&PathBuf>, bytes: &[u8]) -> Result<()> {
    match path {
        Some(path) => std::fs::write(path, bytes).map_err(|e| Error::io(path.display().to_string(), e)),
        None => {
            let mut stdout = io::stdout().lock();
            stdout
                .write_all(bytes)
                .and_then(|()| stdout.flush())
                .map_err(|e| Error::io("<stdout>", e))
        }
    }
}
