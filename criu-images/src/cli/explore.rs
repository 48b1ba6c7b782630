//! `criu-images x CHECKPOINT ps|fds|mems|rss|sk`: crit's explorers.
//!
//! The text is crit's, character for character, where crit is right. Where
//! it is not we print the truth: `rss` uses the checkpoint's page size and
//! CRIU 4.2's 64-bit `nr_pages` (crit prints 0-page runs for CRIU 4.2
//! images and assumes 4 KiB pages), and `mems` names memfd mappings (crit
//! prints "unknown path"). `sk` (from go-criu's crit) lists sockets.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::text::escape;
use crate::chain::decode_all;
use crate::checkpoint::Checkpoint;
use crate::error::Result;
use crate::memory::{status, Pagemap};
use crate::model::{Detail, FileTable};
use crate::proto::{FdTypes, FileEntry, Message, MmEntry, PstreeEntry};

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub(crate) enum What {
    /// Process tree.
    Ps,
    /// Open files.
    Fds,
    /// Memory areas.
    Mems,
    /// Dumped pages against memory areas.
    Rss,
    /// Sockets.
    Sk,
}

#[derive(Args, Debug)]
pub(crate) struct ExploreArgs {
    /// Checkpoint: images directory, tar, tar.gz, tar.zst.
    path: PathBuf,
    /// What to show.
    #[arg(value_enum)]
    what: What,
}

pub(crate) fn run(args: ExploreArgs, out: &mut dyn Write) -> Result<()> {
    let checkpoint = super::open_checkpoint(&args.path)?;
    super::require_process_tree(&checkpoint)?;
    let store = checkpoint.images();
    let tasks: Vec<PstreeEntry> = decode_all(store, "pstree.img")?
        .unwrap_or_default()
        .into_iter()
        .filter_map(|m| match m {
            Message::PstreeEntry(t) => Some(t),
            _ => None,
        })
        .collect();
    // Each explorer reads only the images it prints from: a huge
    // seccomp.img or pages file costs nothing to `ps` or `sk`.
    let files = || FileTable::load(&checkpoint.chain());
    let mut text = String::new();
    match args.what {
        What::Ps => ps(&checkpoint, &tasks, &mut text)?,
        What::Fds => fds(&checkpoint, &tasks, &files()?, &mut text)?,
        What::Mems => mems(&checkpoint, &tasks, &files()?, &mut text)?,
        What::Rss => rss(&checkpoint, &tasks, &files()?, &mut text)?,
        What::Sk => sk(&checkpoint, &tasks, &files()?, &mut text)?,
    }
    out.write_all(text.as_bytes()).ok();
    Ok(())
}

fn comm_of(checkpoint: &Checkpoint, pid: u32) -> Result<String> {
    Ok(decode_all(checkpoint.images(), &format!("core-{pid}.img"))?
        .unwrap_or_default()
        .into_iter()
        .find_map(|m| match m {
            Message::CoreEntry(core) => core.tc.map(|tc| tc.comm),
            _ => None,
        })
        .unwrap_or_default())
}

/// How many levels of a deep tree `ps` indents; deeper processes are printed
/// at this indentation with their depth, so that the output grows with the
/// number of processes, not with its square (crit indents without end).
const MAX_INDENT: usize = 32;

fn ps(checkpoint: &Checkpoint, tasks: &[PstreeEntry], text: &mut String) -> Result<()> {
    writeln!(text, "{:>7}{:>7}{:>7}   COMM", "PID", "PGID", "SID").ok();
    let tree = crate::model::process_tree(checkpoint.images())?;
    super::warn_about_loops(&tree);
    for node in &tree.nodes {
        let Some(task) = tasks.get(node.index) else { continue };
        let comm = escape(&comm_of(checkpoint, task.pid)?).into_owned();
        let indent = " ".repeat(4 * node.depth.min(MAX_INDENT));
        let deeper = if node.depth > MAX_INDENT { format!("(depth {}) ", node.depth) } else { String::new() };
        writeln!(text, "{:>7}{:>7}{:>7}   {indent}{deeper}{comm}", task.pid, task.pgid, task.sid).ok();
    }
    Ok(())
}

/// crit's short name of a file object, escaped for the terminal.
fn file_str(file: Option<&FileEntry>, kind: FdTypes, id: u32) -> String {
    escape(&raw_file_str(file, kind, id)).into_owned()
}

fn raw_file_str(file: Option<&FileEntry>, kind: FdTypes, id: u32) -> String {
    match (kind, file) {
        (FdTypes::Reg, Some(f)) => f.reg.as_ref().map_or_else(|| "unknown path".to_string(), |r| r.name.clone()),
        (FdTypes::Reg, None) => "unknown path".into(),
        (FdTypes::Pipe, f) => f.and_then(|f| f.pipe.as_ref()).map_or_else(|| "pipe[?]".to_string(), |p| format!("pipe[{}]", p.pipe_id)),
        (FdTypes::Unixsk, f) => match f.and_then(|f| f.usk.as_ref()) {
            None => "unix[?]".into(),
            Some(u) => {
                let name = crate::json::quoted_printable_text(&u.name);
                let name = if name.is_empty() { String::new() } else { format!(" {name}") };
                format!("unix[{} ({}){name}]", u.ino, u.peer)
            }
        },
        (other, _) => format!("{}.{id}", other.as_str_name()),
    }
}

fn ids_files_id(checkpoint: &Checkpoint, pid: u32) -> Result<Option<u32>> {
    Ok(decode_all(checkpoint.images(), &format!("ids-{pid}.img"))?.unwrap_or_default().into_iter().find_map(|m| match m {
        Message::TaskKobjIdsEntry(ids) => Some(ids.files_id),
        _ => None,
    }))
}

fn fds(checkpoint: &Checkpoint, tasks: &[PstreeEntry], files: &FileTable, text: &mut String) -> Result<()> {
    for task in tasks {
        writeln!(text, "{}", task.pid).ok();
        if let Some(files_id) = ids_files_id(checkpoint, task.pid)? {
            for m in decode_all(checkpoint.images(), &format!("fdinfo-{files_id}.img"))?.unwrap_or_default() {
                if let Message::FdinfoEntry(fd) = m {
                    let kind = FdTypes::try_from(fd.r#type).unwrap_or(FdTypes::Und);
                    writeln!(text, "\t{:>7}: {}", fd.fd, file_str(files.get(fd.id), kind, fd.id)).ok();
                }
            }
        }
        for m in decode_all(checkpoint.images(), &format!("fs-{}.img", task.pid))?.unwrap_or_default() {
            if let Message::FsEntry(fs) = m {
                writeln!(text, "\t{:>7}: {}", "cwd", file_str(files.get(fs.cwd_id), FdTypes::Reg, fs.cwd_id)).ok();
                writeln!(text, "\t{:>7}: {}", "root", file_str(files.get(fs.root_id), FdTypes::Reg, fs.root_id)).ok();
            }
        }
    }
    Ok(())
}

fn mm_of(checkpoint: &Checkpoint, pid: u32) -> Result<Option<MmEntry>> {
    Ok(decode_all(checkpoint.images(), &format!("mm-{pid}.img"))?.unwrap_or_default().into_iter().find_map(|m| match m {
        Message::MmEntry(mm) => Some(mm),
        _ => None,
    }))
}

fn mems(checkpoint: &Checkpoint, tasks: &[PstreeEntry], files: &FileTable, text: &mut String) -> Result<()> {
    // crit numbers shared memory segments in order of first appearance.
    let mut shm_ids: HashMap<u64, usize> = HashMap::new();
    for task in tasks {
        let Some(mm) = mm_of(checkpoint, task.pid)? else { continue };
        writeln!(text, "{}", task.pid).ok();
        writeln!(text, "\t{:<36}    {}", "exe", file_str(files.get(mm.exe_file_id), FdTypes::Reg, mm.exe_file_id)).ok();
        for vma in &mm.vmas {
            let st = vma.status;
            let mut seq = |id: u64| {
                let next = shm_ids.len() + 1;
                *shm_ids.entry(id).or_insert(next)
            };
            let mut name = if st & status::SYSVIPC != 0 {
                format!(" ips[{:x}]", seq(vma.shmid))
            } else if st & status::ANON_SHARED != 0 {
                format!(" shmem[{:x}]", seq(vma.shmid))
            } else if st & status::SOCKET != 0 {
                format!(" packet[{:x}]", seq(vma.shmid))
            } else if st & (status::FILE_PRIVATE | status::FILE_SHARED) != 0 {
                // crit cannot name memfd mappings ("unknown path"); we can.
                let path = if st & status::MEMFD != 0 {
                    files.fd_path(vma.shmid as u32).map_or_else(|| "unknown path".into(), |p| escape(&p).into_owned())
                } else {
                    file_str(files.get(vma.shmid as u32), FdTypes::Reg, vma.shmid as u32)
                };
                let mut s = format!(" {path}");
                if vma.pgoff != 0 {
                    write!(s, " + {:#x}", vma.pgoff).ok();
                }
                if st & status::FILE_SHARED != 0 {
                    s.push_str(" (s)");
                }
                s
            } else if st & status::STACK != 0 {
                " [stack]".into()
            } else if st & status::VSYSCALL != 0 {
                " [vsyscall]".into()
            } else if st & status::VDSO != 0 {
                " [vdso]".into()
            } else if vma.flags & 0x0100 != 0 {
                " [stack?]".into()
            } else {
                String::new()
            };
            if st & status::REGULAR == 0 {
                name.push_str(" *");
            }
            let prot = format!(
                "{}{}{}",
                if vma.prot & 1 != 0 { 'r' } else { '-' },
                if vma.prot & 2 != 0 { 'w' } else { '-' },
                if vma.prot & 4 != 0 { 'x' } else { '-' }
            );
            writeln!(text, "\t{:<36}{prot}{name}", format!("{:08x}-{:08x}", vma.start, vma.end)).ok();
        }
    }
    Ok(())
}

fn rss(checkpoint: &Checkpoint, tasks: &[PstreeEntry], files: &FileTable, text: &mut String) -> Result<()> {
    for task in tasks {
        let Some(mm) = mm_of(checkpoint, task.pid)? else { continue };
        // Only the page size is needed: no root filesystem.
        let memory = checkpoint.memory_with(task.pid, None)?;
        let page_size = memory.page_size();
        let shift = page_size.trailing_zeros();
        let image = checkpoint.image_bytes(&format!("pagemap-{}.img", task.pid))?;
        let name = format!("pagemap-{}.img", task.pid);
        let pagemap = Pagemap::parse(&crate::image::Image::parse(&name, image)?, page_size)?;
        writeln!(text, "{}", task.pid).ok();
        let vmas = &mm.vmas;
        let (mut vmi, mut pvmi) = (0usize, usize::MAX);
        for run in &pagemap.runs {
            let pstr = format!("\t{:x} / {:<8}", run.vaddr, run.nr_pages);
            while vmi < vmas.len() && vmas[vmi].end <= run.vaddr {
                vmi += 1;
            }
            let end = run.vaddr + (run.nr_pages << shift);
            let mut vstr = String::new();
            while vmi < vmas.len() && vmas[vmi].start < end {
                let vma = &vmas[vmi];
                if vmi == pvmi {
                    vstr.push_str(" ~");
                } else {
                    write!(vstr, " {:08x} / {:<8}", vma.start, (vma.end - vma.start) >> shift).ok();
                    if vma.status & (status::FILE_PRIVATE | status::FILE_SHARED) != 0 {
                        write!(vstr, " {}", file_str(files.get(vma.shmid as u32), FdTypes::Reg, vma.shmid as u32)).ok();
                    }
                    pvmi = vmi;
                }
                write!(vstr, "\n\t{:23}", "").ok();
                vmi += 1;
            }
            vmi = vmi.saturating_sub(1);
            writeln!(text, "{pstr:<24}{vstr}").ok();
        }
    }
    Ok(())
}

/// A socket descriptor: number, type, details of the file object.
type SocketFd = (u32, FdTypes, Vec<(&'static str, Detail)>);

/// The socket descriptors of process `pid`, by number, with their details.
fn sockets_of(checkpoint: &Checkpoint, pid: u32, files: &FileTable) -> Result<Vec<SocketFd>> {
    let mut out = Vec::new();
    let Some(files_id) = ids_files_id(checkpoint, pid)? else { return Ok(out) };
    for m in decode_all(checkpoint.images(), &format!("fdinfo-{files_id}.img"))?.unwrap_or_default() {
        if let Message::FdinfoEntry(fd) = m {
            let kind = FdTypes::try_from(fd.r#type).unwrap_or(FdTypes::Und);
            if matches!(kind, FdTypes::Inetsk | FdTypes::Unixsk) {
                out.push((fd.fd, kind, files.details(fd.id)));
            }
        }
    }
    out.sort_by_key(|(fd, _, _)| *fd);
    Ok(out)
}

fn sk(checkpoint: &Checkpoint, tasks: &[PstreeEntry], files: &FileTable, text: &mut String) -> Result<()> {
    writeln!(text, "{:>7} {:>5}  {:<7} {:<9} {:<12} {:<30} {:<30} QUEUED", "PID", "FD", "TYPE", "PROTO", "STATE", "LOCAL", "REMOTE").ok();
    for task in tasks {
        for (fd, kind, details) in sockets_of(checkpoint, task.pid, files)? {
            let get = |k: &str| details.iter().find(|(key, _)| *key == k).map(|(_, v)| v.clone());
            let txt = |d: Option<Detail>| match d {
                Some(Detail::Text(t)) => escape(&t).into_owned(),
                Some(Detail::Int(i)) => i.to_string(),
                _ => String::new(),
            };
            let (proto, local, remote, queued) = if kind == FdTypes::Inetsk {
                let family = txt(get("family"));
                let addr = |a: String, port: String| if family == "INET6" { format!("[{a}]:{port}") } else { format!("{a}:{port}") };
                (
                    txt(get("protocol")),
                    addr(txt(get("local_address")), txt(get("local_port"))),
                    addr(txt(get("remote_address")), txt(get("remote_port"))),
                    match (get("inq_bytes"), get("outq_bytes")) {
                        (Some(i), Some(o)) => format!("in {} out {}", txt(Some(i)), txt(Some(o))),
                        _ => "-".into(),
                    },
                )
            } else {
                ("UNIX".into(), txt(get("name")), format!("peer {}", txt(get("peer"))), format!("{} bytes", txt(get("queued_bytes"))))
            };
            writeln!(
                text,
                "{:>7} {:>5}  {:<7} {:<9} {:<12} {:<30} {:<30} {}",
                task.pid,
                fd,
                txt(get("type")),
                proto,
                txt(get("state")),
                local,
                remote,
                queued
            )
            .ok();
        }
    }
    Ok(())
}
