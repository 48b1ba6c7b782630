//! `criu-images net`: the container-wide connection table (who talks to
//! whom), as text or JSON (schema: docs/network.md).

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use serde_json::json;

use super::text::escape;
use crate::error::{Error, Result};
use crate::model::{Connection, Endpoint};

/// Version of the `net --format json` schema (docs/network.md).
pub const NET_SCHEMA_VERSION: u32 = 1;

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub(crate) enum NetFormat {
    Text,
    Json,
}

#[derive(Args, Debug)]
pub(crate) struct NetArgs {
    /// Checkpoint: images directory, tar, tar.gz, tar.zst.
    path: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: NetFormat,
}

pub(crate) fn run(args: NetArgs, out: &mut impl Write) -> Result<()> {
    let checkpoint = super::open_checkpoint(&args.path)?;
    super::require_process_tree(&checkpoint)?;
    let rows = checkpoint.connections()?;
    match args.format {
        NetFormat::Json => {
            let doc =
                json!({ "schema_version": NET_SCHEMA_VERSION, "connections": rows.iter().map(Connection::to_json).collect::<Vec<_>>() });
            writeln!(out, "{doc:#}").map_err(stdout_error)
        }
        NetFormat::Text => write_table(&rows, out),
    }
}

fn stdout_error(e: std::io::Error) -> Error {
    Error::io("<stdout>", e)
}

/// `address:port`, with IPv6 addresses in brackets as `ss` writes them.
pub(crate) fn address_text(address: &str, port: Option<u16>) -> String {
    match port {
        Some(port) if address.contains(':') => format!("[{address}]:{port}"),
        Some(port) => format!("{address}:{port}"),
        None => address.to_string(),
    }
}

/// `pid/fd` of each end, comma separated; `-` for none.
pub(crate) fn ends_text(ends: &[Endpoint]) -> String {
    if ends.is_empty() {
        return "-".into();
    }
    ends.iter().map(|e| format!("{}/{}", e.pid, e.fd)).collect::<Vec<_>>().join(",")
}

fn write_table(rows: &[Connection], out: &mut impl Write) -> Result<()> {
    let header = ["PID", "FD", "COMM", "PROTO", "STATE", "LOCAL", "PEER", "QUEUED", "PEER PID/FD", "LISTENER"];
    let cells: Vec<[String; 10]> = rows
        .iter()
        .map(|c| {
            let proto = match (c.family.as_str(), c.protocol.as_str()) {
                ("UNIX", _) => format!("unix/{}", c.r#type.to_lowercase()),
                (family, "") => family.to_lowercase(),
                ("INET6", p) => format!("{}6", p.to_lowercase()),
                (_, p) => p.to_lowercase(),
            };
            let local = address_text(&c.local_address, c.local_port);
            let peer = address_text(&c.peer_address, c.peer_port);
            [
                c.pid.to_string(),
                c.fd.to_string(),
                escape(&c.comm).into_owned(),
                proto,
                if c.state.is_empty() { "-".into() } else { c.state.clone() },
                if local.is_empty() { "-".into() } else { escape(&local).into_owned() },
                if peer.is_empty() { "-".into() } else { escape(&peer).into_owned() },
                c.queued_bytes.to_string(),
                ends_text(&c.peers),
                c.listener.map_or_else(|| "-".into(), |e| format!("{}/{}", e.pid, e.fd)),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &cells {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |out: &mut dyn Write, row: &[&str]| -> Result<()> {
        let mut text = String::new();
        for (i, (cell, w)) in row.iter().zip(widths).enumerate() {
            // Numbers right-aligned (pid, fd, queued), text left-aligned.
            let padded = if matches!(i, 0 | 1 | 7) { format!("{cell:>w$}") } else { format!("{cell:<w$}") };
            text.push_str(&padded);
            if i + 1 < row.len() {
                text.push_str("  ");
            }
        }
        writeln!(out, "{}", text.trim_end()).map_err(stdout_error)
    };
    line(out, &header)?;
    for row in &cells {
        line(out, &row.iter().map(String::as_str).collect::<Vec<_>>())?;
    }
    if rows.is_empty() {
        writeln!(out, "(no sockets)").map_err(stdout_error)?;
    }
    Ok(())
}
