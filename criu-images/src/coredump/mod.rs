//! ELF core files from a checkpoint: open any checkpointed process in gdb.
//!
//! [`write_core`] writes one process as an ELF64 `ET_CORE` file to any
//! `Write + Seek`, the way the kernel's core dumper lays it out: the file
//! header, the program headers, one `PT_NOTE` (per thread, main thread
//! first: `NT_PRSTATUS`, `NT_PRFPREG`, the architecture's extra register
//! sets and `NT_SIGINFO`; once: `NT_PRPSINFO`, `NT_AUXV`, `NT_FILE`), then
//! one page-aligned `PT_LOAD` per memory area in address order holding
//! exactly what [`ProcessMemory`] reads there. Zero pages, and pages the
//! checkpoint lacks, are holes (a sparse file); an area the checkpoint has
//! none of (`[vvar]`, unmodified file pages without a root filesystem) gets
//! no bytes in the file (`p_filesz` 0), so a debugger says it cannot read
//! them rather than showing zeros.
//!
//! The machine (`e_machine`) and byte order come from the images
//! (`core_entry.mtype`, the images' framing), never from the host: x86-64
//! and arm64 have their kernel layouts (`x86_64.rs`, `aarch64.rs`); any
//! other architecture is an error naming it. Everything the images give
//! (register counts, areas, threads) is checked before it sizes anything,
//! and memory is bounded by one thread's notes plus one write buffer.

mod aarch64;
mod elf;
mod x86_64;

use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use elf::{Bytes, Phdr};

use crate::chain::ImageStore;
use crate::checkpoint::Checkpoint;
use crate::error::{Error, Location, Result};
use crate::image::{Endian, Image};
use crate::memory::{Content, FileSource, ProcessMemory};
use crate::progress::{Progress, STEP};
use crate::proto::{CoreEntry, Message, MmEntry, PstreeEntry};

/// What to put in a core file besides the images.
#[derive(Default, Clone, Copy)]
pub struct CoreOptions<'a> {
    /// Where the unmodified pages of file mappings come from (a
    /// [`crate::checkpoint::Rootfs`]); `None`: they are not in the core.
    pub rootfs: Option<&'a dyn FileSource>,
    /// Counts the memory bytes written (its total: all of them); cancelling
    /// it stops the write with [`Error::Cancelled`].
    pub progress: Option<&'a Progress>,
}

/// What [`write_core`] wrote.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct CoreSummary {
    /// Process id as the images hold it.
    pub pid: u32,
    /// `x86_64` or `aarch64`.
    pub machine: &'static str,
    /// Threads, one `NT_PRSTATUS` each.
    pub threads: usize,
    /// Memory areas, one `PT_LOAD` each.
    pub areas: usize,
    /// Areas written without contents (`p_filesz` 0): nothing of them is in
    /// the checkpoint.
    pub areas_without_contents: usize,
    /// Length of the file (holes included).
    pub size: u64,
    /// Memory bytes written: dumped pages and file pages.
    pub memory_bytes: u64,
    /// Pages inside written areas that are not in the checkpoint (lazy,
    /// unmodified file pages no root filesystem had, missing parent pages):
    /// they read as zeros in the core.
    pub zero_filled_pages: u64,
}

/// Writes process `pid` of `checkpoint` as an ELF core file to `out`
/// (positioned anywhere: the file starts at offset 0).
///
/// ```no_run
/// use criu_images::coredump::{write_core, CoreOptions};
/// let checkpoint = criu_images::Checkpoint::open("checkpoint.tar.zst")?;
/// let mut file = std::fs::File::create("core.1").map_err(|e| criu_images::Error::io("core.1", e))?;
/// let summary = write_core(&checkpoint, 1, &CoreOptions::default(), &mut file)?;
/// println!("{} threads, {} areas", summary.threads, summary.areas);
/// # Ok::<(), criu_images::Error>(())
/// ```
pub fn write_core<W: Write + Seek>(checkpoint: &Checkpoint, pid: u32, options: &CoreOptions<'_>, out: &mut W) -> Result<CoreSummary> {
    let chain = checkpoint.chain();
    let store = chain.top();
    let task = pstree_entry(store, pid)?.ok_or_else(|| Error::NotFound {
        container: store.label(),
        name: format!("process {pid}"),
        hint: " in pstree.img".into(),
    })?;
    let main = thread_core(store, pid)?;
    let arch = Arch::of(&main)?;
    let mm = mm_entry(store, pid)?;
    let memory = checkpoint.memory_with_progress(pid, options.rootfs, options.progress)?;
    let mut tids = vec![pid];
    tids.extend(task.threads.iter().copied().filter(|&t| t != pid));
    write_process(&Process { task: &task, tids: &tids, main: &main, arch, mm: &mm, memory: &memory, store }, options.progress, out)
}

/// [`write_core`] into a new file at `path`, written under a temporary name
/// in the same directory and renamed when complete: an error or
/// cancellation leaves nothing behind, and an existing file at `path` is
/// replaced only by a complete core. A `path` that exists and is not a
/// regular file (a device, a FIFO) is refused.
pub fn write_core_file(checkpoint: &Checkpoint, pid: u32, options: &CoreOptions<'_>, path: &Path) -> Result<CoreSummary> {
    let name = path.display().to_string();
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.is_file() {
            return Err(Error::io(&name, std::io::Error::other("exists and is not a regular file; give a new file name")));
        }
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name = path.file_name().ok_or_else(|| Error::io(&name, std::io::Error::other("not a file name")))?;
    let mut prefix = std::ffi::OsString::from(".");
    prefix.push(file_name);
    prefix.push(".");
    // tempfile creates with O_EXCL and removes the file when dropped unless persisted.
    let temp = tempfile::Builder::new()
        .prefix(&prefix)
        .suffix(".partial")
        .tempfile_in(&dir)
        .map_err(|e| Error::io(dir.display().to_string(), e))?;
    let mut file = std::io::BufWriter::with_capacity(1 << 16, temp);
    let summary = write_core(checkpoint, pid, options, &mut file)?;
    let temp = file.into_inner().map_err(|e| Error::io(&name, e.into_error()))?;
    if let Some(progress) = options.progress {
        progress.check()?;
    }
    temp.persist(path).map_err(|e| Error::io(&name, e.error))?;
    Ok(summary)
}

/// The architectures with core layouts.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Arch {
    X86_64,
    Aarch64,
}

impl Arch {
    fn of(main: &ThreadCore) -> Result<Arch> {
        let name = match main.core.mtype {
            1 => return Ok(Arch::X86_64),
            3 => return Ok(Arch::Aarch64),
            2 => "arm (32-bit)",
            4 => "ppc64",
            5 => "s390x",
            6 => "mips",
            7 => "loongarch64",
            8 => "riscv64",
            _ => "unknown",
        };
        Err(malformed(
            &main.at,
            &format!("machine {name} (core_entry.mtype {}): core files are written for x86_64 and aarch64 only", main.core.mtype),
        ))
    }

    fn machine(self) -> u16 {
        match self {
            Arch::X86_64 => x86_64::MACHINE,
            Arch::Aarch64 => aarch64::MACHINE,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
        }
    }

    /// The thread's registers in this architecture's layouts.
    fn regs(self, thread: &ThreadCore) -> Result<ThreadRegs> {
        let missing = |what: &str| malformed(&thread.at, &format!("no {what} registers in a {} core image", self.name()));
        match self {
            Arch::X86_64 => x86_64::thread_regs(thread.core.thread_info.as_ref().ok_or_else(|| missing("x86"))?, thread.endian, &thread.at),
            Arch::Aarch64 => {
                aarch64::thread_regs(thread.core.ti_aarch64.as_ref().ok_or_else(|| missing("arm64"))?, thread.endian, &thread.at)
            }
        }
    }
}

/// One thread's registers: `pr_reg` of its `NT_PRSTATUS`, and its other
/// register notes as (name, type, descriptor).
#[derive(Debug)]
pub(super) struct ThreadRegs {
    gregs: Vec<u8>,
    fpvalid: bool,
    notes: Vec<(&'static str, u32, Vec<u8>)>,
}

pub(super) fn malformed(at: &Location, detail: &str) -> Error {
    Error::Malformed { at: at.clone(), detail: detail.to_string() }
}

/// A thread's core image entry, where it is, and the images' byte order.
struct ThreadCore {
    core: CoreEntry,
    at: Location,
    endian: Endian,
}

fn thread_core(store: &dyn ImageStore, tid: u32) -> Result<ThreadCore> {
    let name = format!("core-{tid}.img");
    let label = format!("{}/{name}", store.label());
    let bytes = store.file(&name)?.ok_or_else(|| Error::NotFound {
        container: store.label(),
        name: name.clone(),
        hint: format!(" (thread {tid} is in pstree.img, but its registers are not in the checkpoint)"),
    })?;
    let image = Image::parse(&label, bytes)?;
    for entry in image.entries() {
        let entry = entry?;
        if let Message::CoreEntry(core) = entry.decode()? {
            let at = Location::new(label.clone(), entry.offset() as u64).in_entry(entry.index());
            return Ok(ThreadCore { core, at, endian: image.endian() });
        }
    }
    Err(malformed(&Location::new(label, 0), "no core entry"))
}

fn pstree_entry(store: &dyn ImageStore, pid: u32) -> Result<Option<PstreeEntry>> {
    let Some(bytes) = store.file("pstree.img")? else {
        return Err(Error::NotFound {
            container: store.label(),
            name: "pstree.img".into(),
            hint: ": not a dump with processes (a pre-dump directory holds only memory; open the final dump)".into(),
        });
    };
    let label = format!("{}/pstree.img", store.label());
    for entry in Image::parse(&label, bytes)?.entries() {
        if let Message::PstreeEntry(task) = entry?.decode()? {
            if task.pid == pid {
                return Ok(Some(task));
            }
        }
    }
    Ok(None)
}

fn mm_entry(store: &dyn ImageStore, pid: u32) -> Result<MmEntry> {
    let name = format!("mm-{pid}.img");
    let bytes = store.file(&name)?.ok_or_else(|| Error::NotFound {
        container: store.label(),
        name: name.clone(),
        hint: format!(" (process {pid} has no address space: a dead or zombie task has no core to write)"),
    })?;
    let label = format!("{}/{name}", store.label());
    for entry in Image::parse(&label, bytes)?.entries() {
        if let Message::MmEntry(mm) = entry?.decode()? {
            return Ok(mm);
        }
    }
    Err(malformed(&Location::new(label, 0), "no mm entry"))
}

/// Everything one core is written from.
struct Process<'p, 'a> {
    task: &'p PstreeEntry,
    /// Thread ids, main thread first.
    tids: &'p [u32],
    main: &'p ThreadCore,
    arch: Arch,
    mm: &'p MmEntry,
    memory: &'p ProcessMemory<'a>,
    store: &'p dyn ImageStore,
}

/// Bytes gathered from small runs before a write.
const WRITE_BUFFER: usize = 8 << 20;

fn write_process<W: Write + Seek>(p: &Process<'_, '_>, progress: Option<&Progress>, out: &mut W) -> Result<CoreSummary> {
    let endian = p.main.endian;
    let memory = p.memory;
    let page = memory.page_size();
    let label = format!("core of process {}", p.task.pid);
    let io = |e: std::io::Error| Error::io(&label, e);
    let too_big = || Error::Memory {
        pid: p.task.pid,
        address: 0,
        detail: "the areas add up to more than a file can hold (2^63 - 1 bytes)".into(),
        checkpoint: String::new(),
    };

    let vmas = memory.vmas();
    // The section header of an extended count holds it in 32 bits.
    let phnum = vmas.len() as u64 + 1;
    if phnum > u64::from(u32::MAX) {
        return Err(too_big());
    }
    let notes_at = elf::EHDR_SIZE + phnum * elf::PHDR_SIZE;
    out.seek(SeekFrom::Start(notes_at)).map_err(io)?;

    // Notes, one thread at a time (memory: one thread's notes).
    let mut notes_size = 0u64;
    let mut put = |out: &mut W, bytes: &[u8]| -> Result<()> {
        notes_size += bytes.len() as u64;
        out.write_all(bytes).map_err(io)
    };
    for (i, &tid) in p.tids.iter().enumerate() {
        if let Some(progress) = progress {
            progress.check()?;
        }
        let other;
        let thread = if i == 0 {
            p.main
        } else {
            other = thread_core(p.store, tid)?;
            if other.core.mtype != p.main.core.mtype {
                return Err(malformed(
                    &other.at,
                    &format!("thread {tid} has machine type {}, its process {}", other.core.mtype, p.main.core.mtype),
                ));
            }
            &other
        };
        let regs = p.arch.regs(thread)?;
        put(out, &elf::note(endian, "CORE", elf::NT_PRSTATUS, &prstatus(p, tid, thread, &regs)?))?;
        if i == 0 {
            put(out, &elf::note(endian, "CORE", elf::NT_PRPSINFO, &prpsinfo(p)))?;
            put(out, &elf::note(endian, "CORE", elf::NT_AUXV, &auxv(p.mm, endian, &p.main.at)?))?;
            put(out, &elf::note(endian, "CORE", elf::NT_FILE, &file_note(memory, endian)))?;
        }
        for (name, kind, desc) in &regs.notes {
            put(out, &elf::note(endian, name, *kind, desc))?;
        }
        // No signal made this core: si_signo 0, as pr_cursig.
        put(out, &elf::note(endian, "CORE", elf::NT_SIGINFO, &[0u8; 128]))?;
    }

    // Memory areas, page-aligned after the notes, in address order.
    let data_at = (notes_at + notes_size).checked_next_multiple_of(page).ok_or_else(too_big)?;
    let mut summary =
        CoreSummary { pid: p.task.pid, machine: p.arch.name(), threads: p.tids.len(), areas: vmas.len(), ..CoreSummary::default() };
    let mut phdrs = Vec::with_capacity(vmas.len() + 1);
    phdrs.push(Phdr { kind: elf::PT_NOTE, flags: 0, offset: notes_at, vaddr: 0, filesz: notes_size, memsz: 0, align: 4 });
    if let Some(progress) = progress {
        progress.set_total(memory.pieces().iter().filter_map(|piece| piece.content.bytes()).map(|b| b.len() as u64).sum());
    }
    let mut writer = Gather { out, progress, buffer: Vec::new(), at: 0, end: notes_at + notes_size, label: &label, zero_fill_below: page };
    let mut offset = data_at;
    for vma in vmas {
        let any = memory.pieces_in(vma.start, vma.end).any(|piece| !matches!(piece.content, Content::Missing(_)));
        let filesz = if any { vma.len() } else { 0 };
        let mut flags = 0;
        for (bit, flag) in [(1, elf::PF_R), (2, elf::PF_W), (4, elf::PF_X)] {
            if vma.prot & bit != 0 {
                flags |= flag;
            }
        }
        phdrs.push(Phdr { kind: elf::PT_LOAD, flags, offset, vaddr: vma.start, filesz, memsz: vma.len(), align: page });
        if !any {
            summary.areas_without_contents += 1;
            continue;
        }
        for piece in memory.pieces_in(vma.start, vma.end) {
            let at = offset + (piece.start - vma.start);
            match piece.content {
                Content::Dumped(bytes) | Content::File(bytes, _) => {
                    writer.put(at, bytes)?;
                    summary.memory_bytes += bytes.len() as u64;
                }
                Content::Zero => {}
                Content::Missing(_) => summary.zero_filled_pages += piece.len().div_ceil(page),
            }
        }
        offset = offset.checked_add(filesz).filter(|&o| o <= i64::MAX as u64).ok_or_else(too_big)?;
    }
    writer.flush()?;
    let written_end = writer.end;
    let extended = phnum >= elf::PN_XNUM;
    let shoff = offset;
    if extended {
        out.seek(SeekFrom::Start(shoff)).map_err(io)?;
        out.write_all(&elf::extnum_section(endian, phnum)).map_err(io)?;
        offset += elf::SHDR_SIZE;
    } else if written_end < offset {
        // The last area ends in a hole: one zero byte gives the file its length.
        out.seek(SeekFrom::Start(offset - 1)).map_err(io)?;
        out.write_all(&[0]).map_err(io)?;
    }
    let mut head = Bytes::with_capacity(endian, notes_at as usize);
    head.buf.extend_from_slice(&elf::file_header(endian, p.arch.machine(), phnum, shoff));
    for phdr in &phdrs {
        elf::program_header(&mut head, phdr);
    }
    out.seek(SeekFrom::Start(0)).map_err(io)?;
    out.write_all(&head.buf).map_err(io)?;
    out.flush().map_err(io)?;
    summary.size = offset;
    if let Some(progress) = progress {
        progress.finish();
    }
    Ok(summary)
}

/// Writes runs of memory at file offsets, gathering contiguous small runs
/// (and holes shorter than a page between them) into one buffer; longer
/// holes stay sparse.
struct Gather<'w, 'l, W: Write + Seek> {
    out: &'w mut W,
    progress: Option<&'w Progress>,
    buffer: Vec<u8>,
    /// File offset of the buffer's first byte.
    at: u64,
    /// End of the last byte written (or buffered).
    end: u64,
    label: &'l str,
    /// Holes between runs shorter than this (the page size: parts of a
    /// page) are written as zeros; from one page on they stay sparse, the
    /// next run written after a seek. Measured (scripts/bench-core-holes.sh,
    /// CPU time of the writer, median of 5-7): runs of 1-4 pages between
    /// holes of 1-15 pages cost 0.34-0.44x writing the zeros on ext4 and
    /// 0.30x on tmpfs; one-page runs between one-page holes 0.65x on tmpfs
    /// and 1.2-1.3x on ext4, where the zeros double the blocks to write
    /// back and 4 runs of 12 stalled on dirty pages (2.2-2.8x the median).
    zero_fill_below: u64,
}

impl<W: Write + Seek> Gather<'_, '_, W> {
    fn put(&mut self, at: u64, bytes: &[u8]) -> Result<()> {
        let buffered_end = self.at + self.buffer.len() as u64;
        if !self.buffer.is_empty() {
            let gap = at.saturating_sub(buffered_end);
            let joins = at >= buffered_end
                && gap < self.zero_fill_below
                && self.buffer.len() as u64 + gap + bytes.len() as u64 <= WRITE_BUFFER as u64;
            if joins {
                self.buffer.resize(self.buffer.len() + gap as usize, 0);
                self.buffer.extend_from_slice(bytes);
                self.advance(bytes.len());
                return Ok(());
            }
            self.flush()?;
        }
        if bytes.len() >= WRITE_BUFFER {
            self.write_at(at, bytes)?;
        } else {
            self.at = at;
            self.buffer.extend_from_slice(bytes);
        }
        self.advance(bytes.len());
        Ok(())
    }

    fn advance(&self, n: usize) {
        if let Some(progress) = self.progress {
            progress.advance(n as u64);
        }
    }

    fn flush(&mut self) -> Result<()> {
        if !self.buffer.is_empty() {
            let buffer = std::mem::take(&mut self.buffer);
            self.write_at(self.at, &buffer)?;
            self.buffer = buffer;
            self.buffer.clear();
        }
        Ok(())
    }

    fn write_at(&mut self, at: u64, bytes: &[u8]) -> Result<()> {
        let io = |e: std::io::Error| Error::io(self.label, e);
        self.out.seek(SeekFrom::Start(at)).map_err(io)?;
        for chunk in bytes.chunks(STEP) {
            if let Some(progress) = self.progress {
                progress.check()?;
            }
            self.out.write_all(chunk).map_err(io)?;
        }
        self.end = self.end.max(at + bytes.len() as u64);
        Ok(())
    }
}

/// `struct elf_prstatus` (`linux/elfcore.h`) of a 64-bit machine:
/// `elf_siginfo` (12 bytes), `pr_cursig` and padding, `pr_sigpend`,
/// `pr_sighold`, pid/ppid/pgrp/sid, four `timeval`s, `pr_reg`, `pr_fpvalid`.
fn prstatus(p: &Process<'_, '_>, tid: u32, thread: &ThreadCore, regs: &ThreadRegs) -> Result<Vec<u8>> {
    let mut out = Bytes::with_capacity(thread.endian, 112 + regs.gregs.len() + 8);
    out.zeros(16); // pr_info (no signal), pr_cursig 0, padding
    out.u64(thread_pending(thread)?);
    out.u64(blocked(thread, p.main));
    out.u32(tid);
    out.u32(p.task.ppid);
    out.u32(p.task.pgid);
    out.u32(p.task.sid);
    out.zeros(64); // utime, stime, cutime, cstime: not in the checkpoint
    out.buf.extend_from_slice(&regs.gregs);
    out.u32(u32::from(regs.fpvalid));
    out.align(8);
    Ok(out.buf)
}

/// The thread's own blocked mask: `thread_core.blk_sigset`, or for images
/// without it the task's (`tc.blk_sigset`, the main thread's).
fn blocked(thread: &ThreadCore, main: &ThreadCore) -> u64 {
    let own = thread.core.thread_core.as_ref().and_then(|t| t.blk_sigset);
    own.or_else(|| thread.core.tc.as_ref().map(|t| t.blk_sigset)).or_else(|| main.core.tc.as_ref().map(|t| t.blk_sigset)).unwrap_or(0)
}

/// Signals queued for this thread only (`thread_core.signals_p`), as the
/// kernel's `pr_sigpend` holds the thread's private pending set.
fn thread_pending(thread: &ThreadCore) -> Result<u64> {
    let Some(queue) = thread.core.thread_core.as_ref().and_then(|t| t.signals_p.as_ref()) else { return Ok(0) };
    let mut set = 0u64;
    for (i, signal) in queue.signals.iter().enumerate() {
        let head: [u8; 4] =
            signal.siginfo.get(..4).and_then(|b| b.try_into().ok()).ok_or_else(|| {
                malformed(&thread.at, &format!("queued signal {i}: siginfo of {} bytes; expected 128", signal.siginfo.len()))
            })?;
        let number = thread.endian.u32(head);
        if (1..=64).contains(&number) {
            set |= 1 << (number - 1);
        }
    }
    Ok(set)
}

/// Most bytes of the command line in `pr_psargs` (`ELF_PRARGSZ` - 1).
const PSARGS: u64 = 79;

/// `struct elf_prpsinfo` of a 64-bit machine: state, sname, zomb, nice,
/// flag, uid, gid, pid/ppid/pgrp/sid, fname[16], psargs[80]. The command
/// line is read as the kernel does: its first 79 bytes, NULs as spaces (the
/// whole of it is in the core's memory, between `mm_arg_start` and `mm_arg_end`).
fn prpsinfo(p: &Process<'_, '_>) -> Vec<u8> {
    let core = &p.main.core;
    let tc = core.tc.as_ref();
    // CRIU's task states: 1 alive (frozen: sleeping), 3 stopped, 6 zombie, 2 dead.
    let (state, sname) = match tc.map_or(1, |t| t.task_state) {
        3 => (3u8, b'T'),
        6 => (4, b'Z'),
        2 => (6, b'X'),
        _ => (1, b'S'),
    };
    let thread = core.thread_core.as_ref();
    let creds = thread.and_then(|t| t.creds.as_ref());
    let mut out = Bytes::with_capacity(p.main.endian, 136);
    out.u8(state);
    out.u8(sname);
    out.u8(u8::from(sname == b'Z'));
    out.u8(thread.and_then(|t| t.sched_nice).unwrap_or(0) as i8 as u8);
    out.zeros(4);
    out.u64(tc.map_or(0, |t| u64::from(t.flags)));
    out.u32(creds.map_or(0, |c| c.uid));
    out.u32(creds.map_or(0, |c| c.gid));
    out.u32(p.task.pid);
    out.u32(p.task.ppid);
    out.u32(p.task.pgid);
    out.u32(p.task.sid);
    let comm = tc.map(|t| t.comm.as_bytes()).unwrap_or_default();
    out.c_chars(comm, 16);
    let (start, end) = (p.mm.mm_arg_start, p.mm.mm_arg_end);
    let mut args = Vec::new();
    if start < end {
        let (readable, _) = p.memory.readable_prefix(start, end, PSARGS);
        if let Ok(bytes) = p.memory.read(start, readable) {
            args = bytes.iter().map(|&b| if b == 0 { b' ' } else { b }).collect();
        }
    }
    out.c_chars(&args, 80);
    out.buf
}

/// `NT_AUXV`: the saved auxiliary vector as (type, value) pairs up to and
/// including `AT_NULL` (CRIU keeps the kernel's whole array, zeros after it).
fn auxv(mm: &MmEntry, endian: Endian, at: &Location) -> Result<Vec<u8>> {
    let words = &mm.mm_saved_auxv;
    if !words.len().is_multiple_of(2) {
        return Err(malformed(at, &format!("mm_saved_auxv has {} words; expected (type, value) pairs", words.len())));
    }
    let mut out = Bytes::with_capacity(endian, words.len() * 8 + 16);
    for pair in words.chunks_exact(2) {
        out.u64(pair[0]);
        out.u64(pair[1]);
        if pair[0] == 0 {
            return Ok(out.buf);
        }
    }
    out.zeros(16); // AT_NULL
    Ok(out.buf)
}

/// `NT_FILE`: count, page size, (start, end, offset in pages) per mapped
/// file, then the paths, each NUL-terminated: every area with a file behind
/// it, named as `/proc/PID/maps` (and `inspect --maps`) names it.
fn file_note(memory: &ProcessMemory<'_>, endian: Endian) -> Vec<u8> {
    let page = memory.page_size();
    let files: Vec<_> = memory.vmas().iter().filter_map(|v| v.path.as_deref().filter(|p| p.starts_with('/')).map(|p| (v, p))).collect();
    let mut out = Bytes::new(endian);
    out.u64(files.len() as u64);
    out.u64(page);
    for (vma, _) in &files {
        out.u64(vma.start);
        out.u64(vma.end);
        out.u64(vma.pgoff / page);
    }
    for (_, path) in &files {
        out.buf.extend_from_slice(path.as_bytes());
        out.u8(0);
    }
    out.buf
}

#[cfg(test)]
mod tests {
    use std::io::{Cursor, Seek, SeekFrom, Write};

    use super::Gather;

    /// A file in memory that records the offset and length of every write.
    #[derive(Default)]
    struct Recorder {
        file: Cursor<Vec<u8>>,
        writes: Vec<(u64, usize)>,
    }

    impl Write for Recorder {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.writes.push((self.file.position(), buf.len()));
            self.file.write(buf)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Seek for Recorder {
        fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
            self.file.seek(pos)
        }
    }

    #[test]
    fn holes_of_a_page_or_more_stay_sparse_and_shorter_ones_are_zeros() {
        const PAGE: u64 = 4096;
        let mut out = Recorder::default();
        let mut gather = Gather { out: &mut out, progress: None, buffer: Vec::new(), at: 0, end: 0, label: "core", zero_fill_below: PAGE };
        let run = |byte: u8, pages: u64| vec![byte; (pages * PAGE) as usize];
        // Two contiguous runs, a part-page hole, a run; a one-page hole; a
        // run; a 15-page hole; a run.
        gather.put(0, &run(1, 1)).unwrap();
        gather.put(PAGE, &run(2, 2)).unwrap();
        gather.put(3 * PAGE + 100, &[3; 50]).unwrap();
        gather.put(5 * PAGE, &run(4, 1)).unwrap();
        gather.put(21 * PAGE, &run(5, 3)).unwrap();
        gather.flush().unwrap();
        assert_eq!(gather.end, 24 * PAGE);
        // One write per run after a hole of a page or more; the run after the
        // 100-byte hole joined the ones before it, with the zeros between.
        assert_eq!(out.writes, [(0, (3 * PAGE + 150) as usize), (5 * PAGE, PAGE as usize), (21 * PAGE, (3 * PAGE) as usize)]);
        let file = out.file.into_inner();
        let mut want = [run(1, 1), run(2, 2), vec![0; 100], vec![3; 50]].concat();
        want.resize((5 * PAGE) as usize, 0);
        want.extend(run(4, 1));
        want.resize((21 * PAGE) as usize, 0);
        want.extend(run(5, 3));
        assert!(file == want, "the file's bytes differ from the runs and holes");
    }
}
