//! Commands on the archive itself: `ls` (its members) and `rootfs` (the
//! container's changed files in `rootfs-diff.tar`).

use std::fmt::Write as _;
use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::io::write_output;
use super::text::outln;
use crate::archive::{Archive, MemberKind};
use crate::checkpoint::describe_file;
use crate::error::{Error, Result};

#[derive(Args, Debug)]
pub(super) struct LsArgs {
    /// The checkpoint.
    path: PathBuf,
    /// Largest decompressed size of a compressed archive, in bytes.
    #[arg(long)]
    max_decompressed: Option<u64>,
    /// With a container image: check the sha256 of every blob and print
    /// the results; fails if one does not match.
    #[arg(long)]
    verify: bool,
}

#[derive(Args, Debug)]
pub(super) struct RootfsArgs {
    /// The checkpoint.
    path: PathBuf,
    #[command(subcommand)]
    action: RootfsAction,
}

#[derive(Subcommand, Debug)]
#[command(defer = true)]
enum RootfsAction {
    /// List the files with their sizes.
    Ls,
    /// Write one file's contents to standard output.
    Cat {
        /// Path inside the root filesystem, e.g. /data/run/app.log.
        file: String,
    },
}

/// `ls`: the members of any archive, with sizes and what they hold.
pub(super) fn ls(args: LsArgs) -> Result<()> {
    let mut options = super::open_options();
    if let Some(limit) = args.max_decompressed {
        options.max_decompressed = limit;
    }
    // Any archive can be listed, checkpoint or not.
    let archive = Archive::open(&args.path, &options)?;
    let archive = &archive;
    let mut text = String::new();
    if let Some(image) = archive.image() {
        outln!(text, "{}: {} {}", archive.format().name(), image.kind.name(), super::text::escape(&image.chosen.to_string())).ok();
        for blob in &image.blobs {
            let (digest, media_type) = (super::text::escape(&blob.digest), super::text::escape(&blob.media_type));
            outln!(text, "  {:<20} {digest} {:>10}  {media_type}", blob.role, blob.size).ok();
        }
    }
    let checks = if args.verify { super::show::verify_text(archive, &mut text)? } else { None };
    for member in archive.members() {
        let what = match member.kind {
            MemberKind::File => match archive.read(member.name) {
                Ok(bytes) => describe_file(member.name.rsplit('/').next().unwrap_or(member.name), bytes),
                Err(err) => {
                    eprintln!("criu-images: warning: {}", super::text::escape(&err.to_string()));
                    "unreadable".into()
                }
            },
            MemberKind::Directory => "directory".into(),
            MemberKind::Symlink(target) => format!("symlink -> {target}"),
            MemberKind::HardLink(target) => format!("hard link -> {target}"),
            MemberKind::Other(flag) => format!("special file ({flag})"),
        };
        outln!(text, "{:>12}  {:<24} {}", member.size, what, member.name).ok();
    }
    write_output(None, text.as_bytes())?;
    super::show::verify_outcome(archive, checks)
}

/// `rootfs ls` and `rootfs cat`.
pub(super) fn rootfs(args: RootfsArgs) -> Result<()> {
    let RootfsArgs { path, action } = args;
    let checkpoint = super::open_checkpoint(&path)?;
    let diff = checkpoint.rootfs_diff()?.ok_or_else(|| Error::NotFound {
        container: path.display().to_string(),
        name: "rootfs-diff.tar".into(),
        hint: " (only container checkpoints from Podman or CRI-O have one)".into(),
    })?;
    match action {
        RootfsAction::Ls => {
            let mut text = String::new();
            for (name, size, kind) in diff.members() {
                let what = match kind {
                    MemberKind::File => "file".to_string(),
                    MemberKind::Directory => "directory".to_string(),
                    MemberKind::Symlink(t) => format!("symlink -> {t}"),
                    MemberKind::HardLink(t) => format!("hard link -> {t}"),
                    MemberKind::Other(c) => format!("special ({c})"),
                };
                outln!(text, "{size:>12}  {what:<12} /{name}").ok();
            }
            write_output(None, text.as_bytes())
        }
        RootfsAction::Cat { file } => {
            let bytes = diff.get(&file).ok_or_else(|| Error::NotFound {
                container: format!("{}:rootfs-diff.tar", path.display()),
                name: file.clone(),
                hint: " (see `criu-images rootfs PATH ls`)".into(),
            })?;
            write_output(None, bytes)
        }
    }
}
