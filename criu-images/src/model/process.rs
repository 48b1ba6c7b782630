//! Processes: who ran, as whom, with which command line, environment,
//! memory areas and open files, from `pstree`, `core-*`, `ids-*`, `fs-*`,
//! `mm-*` and `fdinfo-*` images.

use std::borrow::Cow;
use std::sync::Arc;

use serde_json::{json, Map, Value};

use crate::chain::{decode_all, DumpChain, ImageStore};
use crate::error::{Error, Location, Result};
use crate::image::Image;
use crate::memory::{ProcessMemory, Vma};
use crate::proto::{CoreEntry, FdTypes, Message, MmEntry, PstreeEntry};

use super::cgroups::{cgroups, CgroupMember, Cgroups};
use super::files::{Detail, FileTable};
use super::locks::{file_locks, FileLock};
use super::names::{capability_names, RLIMITS};
use super::registers::registers;
use super::seccomp::{filter_chain, seccomp_filters, SeccompFilter};
use super::signals::{pending, sigactions, signal_set_names, PendingSignal, SigAction, SiginfoLayout};

/// Kernel task state as CRIU records it (`compel/include/uapi/task-state.h`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum TaskState {
    /// Running or sleeping.
    Alive,
    /// Exited; only its core image remains.
    Dead,
    /// Stopped by a signal.
    Stopped,
    /// Exited, not yet reaped by its parent.
    Zombie,
    /// A value CRIU does not define.
    Unknown(u32),
}

impl TaskState {
    fn from_raw(value: u32) -> TaskState {
        match value {
            1 => TaskState::Alive,
            2 => TaskState::Dead,
            3 => TaskState::Stopped,
            6 => TaskState::Zombie,
            other => TaskState::Unknown(other),
        }
    }

    /// Lower-case name: `alive`, `dead`, `stopped`, `zombie`, or the number.
    pub fn name(self) -> String {
        match self {
            TaskState::Alive => "alive".into(),
            TaskState::Dead => "dead".into(),
            TaskState::Stopped => "stopped".into(),
            TaskState::Zombie => "zombie".into(),
            TaskState::Unknown(n) => n.to_string(),
        }
    }
}

/// Credentials of a thread.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Creds {
    /// Real, effective, saved and filesystem user ids.
    pub uid: u32,
    #[allow(missing_docs)]
    pub euid: u32,
    #[allow(missing_docs)]
    pub suid: u32,
    #[allow(missing_docs)]
    pub fsuid: u32,
    /// Real, effective, saved and filesystem group ids.
    pub gid: u32,
    #[allow(missing_docs)]
    pub egid: u32,
    #[allow(missing_docs)]
    pub sgid: u32,
    #[allow(missing_docs)]
    pub fsgid: u32,
    /// Supplementary groups.
    pub groups: Vec<u32>,
    /// Capability sets by name.
    pub cap_effective: Vec<String>,
    #[allow(missing_docs)]
    pub cap_permitted: Vec<String>,
    #[allow(missing_docs)]
    pub cap_inheritable: Vec<String>,
    #[allow(missing_docs)]
    pub cap_bounding: Vec<String>,
    #[allow(missing_docs)]
    pub cap_ambient: Vec<String>,
    /// `securebits`.
    pub secbits: u32,
    /// `PR_SET_NO_NEW_PRIVS`.
    pub no_new_privs: bool,
    /// LSM (AppArmor/SELinux) profile.
    pub lsm_profile: Option<String>,
}

/// One thread.
#[derive(Clone, PartialEq, Debug)]
pub struct Thread {
    /// Thread id as the images hold it.
    pub tid: u32,
    /// Thread name (`/proc/PID/task/TID/comm`).
    pub comm: String,
    /// Blocked signals: the program's own mask, as CRIU saved it. For a
    /// thread inside `rt_sigsuspend` (see [`in_sigsuspend`](Self::in_sigsuspend))
    /// `/proc` showed the temporary mask of the call instead.
    pub blocked: Vec<String>,
    /// The thread was waiting in `rt_sigsuspend` (x86-64: `orig_rax` 130;
    /// 32-bit x86 tasks: 179 or `sigsuspend` 72). Only x86 cores record the
    /// syscall number; on other architectures this is always false.
    pub in_sigsuspend: bool,
    /// Signals queued for this thread only (`tgkill`, faults), not yet delivered.
    pub pending: Vec<PendingSignal>,
    /// Seccomp mode: `disabled`, `strict` or `filter`.
    pub seccomp: String,
    /// The seccomp filters the thread runs under, newest first: indexes
    /// into [`seccomp_filters`](super::seccomp_filters) (empty unless the mode is `filter`).
    pub seccomp_filters: Vec<u32>,
    /// The cgroup set of the thread (`cgroup.img`), threads may differ.
    pub cg_set: Option<u32>,
    /// Credentials (threads may differ).
    pub creds: Option<Creds>,
    /// General-purpose registers by name, in order: x86-64 and arm64 by
    /// their usual names, other architectures by their proto field names.
    pub registers: Vec<(String, u64)>,
}

/// A resource limit.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Rlimit {
    /// `RLIMIT_NOFILE`, ...
    pub name: String,
    /// The `/proc/PID/limits` row name, e.g. "Max open files".
    pub description: String,
    /// Soft limit (`None`: unlimited).
    pub soft: Option<u64>,
    /// Hard limit (`None`: unlimited).
    pub hard: Option<u64>,
}

/// Namespace ids of a task (as CRIU numbers them, shared by tasks in the same namespace).
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Namespaces {
    #[allow(missing_docs)]
    pub pid: Option<u32>,
    #[allow(missing_docs)]
    pub net: Option<u32>,
    #[allow(missing_docs)]
    pub ipc: Option<u32>,
    #[allow(missing_docs)]
    pub uts: Option<u32>,
    #[allow(missing_docs)]
    pub mnt: Option<u32>,
    #[allow(missing_docs)]
    pub user: Option<u32>,
    #[allow(missing_docs)]
    pub cgroup: Option<u32>,
    #[allow(missing_docs)]
    pub time: Option<u32>,
}

impl Namespaces {
    /// `(kind, id)` for every namespace kind, in the order of `inspect`'s
    /// JSON: `pid`, `net`, `ipc`, `uts`, `mnt`, `user`, `cgroup`, `time`.
    pub fn by_kind(&self) -> [(&'static str, Option<u32>); 8] {
        [
            ("pid", self.pid),
            ("net", self.net),
            ("ipc", self.ipc),
            ("uts", self.uts),
            ("mnt", self.mnt),
            ("user", self.user),
            ("cgroup", self.cgroup),
            ("time", self.time),
        ]
    }
}

/// An open file descriptor.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Fd {
    /// Descriptor number.
    pub fd: u32,
    /// File type, e.g. `REG`, `PIPE`, `INETSK`: CRIU's `FdinfoEntry.type`,
    /// spelled `type` in JSON and Python as here.
    pub r#type: String,
    /// What `readlink /proc/PID/fd/N` shows.
    pub path: Option<String>,
    /// `files.img` id of the file object.
    pub file_id: u32,
    /// Close-on-exec and other descriptor flags.
    pub flags: u32,
    /// Typed details: file position, socket addresses, queued data, ...
    pub details: Vec<(&'static str, Detail)>,
}

impl Fd {
    /// Whether the descriptor is a socket (`INETSK`, `UNIXSK`, `PACKETSK`, `NETLINKSK`).
    pub fn is_socket(&self) -> bool {
        self.r#type.ends_with("SK")
    }
}

/// Everything the images say about one process.
#[derive(Clone, PartialEq, Debug)]
pub struct Process {
    /// Process id as the images hold it (inside the container's pid namespace).
    pub pid: u32,
    /// Parent's pid (0 for the root of the tree).
    pub ppid: u32,
    /// Process group.
    pub pgid: u32,
    /// Session.
    pub sid: u32,
    /// Task state.
    pub state: TaskState,
    /// Exit code (meaningful for dead and zombie tasks).
    pub exit_code: u32,
    /// Name (`/proc/PID/comm`).
    pub comm: String,
    /// Threads, the main thread first.
    pub threads: Vec<Thread>,
    /// Credentials of the main thread.
    pub creds: Option<Creds>,
    /// Namespace ids.
    pub namespaces: Namespaces,
    /// Resource limits.
    pub rlimits: Vec<Rlimit>,
    /// Non-default signal handlers.
    pub sigactions: Vec<SigAction>,
    /// Signals queued for the whole process (`kill`), not yet delivered.
    pub pending_signals: Vec<PendingSignal>,
    /// The cgroup set of the main thread.
    pub cg_set: Option<u32>,
    /// The cgroups of that set, as `/proc/PID/cgroup` lists them (empty if
    /// `cgroup.img` does not hold the set: CRIU leaves out its own).
    pub cgroups: Vec<CgroupMember>,
    /// File locks the process holds (each with the fd it was found through).
    pub locks: Vec<FileLock>,
    /// Current directory.
    pub cwd: Option<String>,
    /// Root directory.
    pub root: Option<String>,
    /// Executable.
    pub exe: Option<String>,
    /// Command line as `/proc/PID/cmdline` showed it, read from memory
    /// with the kernel's rules (`mm_arg_start..mm_arg_end`, or the
    /// `setproctitle` title running into the environment), split at NULs.
    pub cmdline: Vec<String>,
    /// The command line was cut at [`ARGS_MAX_BYTES`] or [`ARGS_MAX_STRINGS`].
    pub cmdline_truncated: bool,
    /// Environment as `/proc/PID/environ` showed it (`mm_env_start..mm_env_end`),
    /// split at NULs: every piece, including empty ones and pieces without `=`.
    pub environ_raw: Vec<String>,
    /// The `NAME=value` pieces of [`environ_raw`](Self::environ_raw), in
    /// order (pieces without `=` or with an empty name are left out).
    pub environ: Vec<(String, String)>,
    /// The environment was cut at [`ARGS_MAX_BYTES`] or [`ARGS_MAX_STRINGS`].
    pub environ_truncated: bool,
    /// Memory areas, as `/proc/PID/maps` shows them through
    /// [`Vma::perms`], [`Vma::pgoff`] and [`Vma::path`].
    pub vmas: Vec<Vma>,
    /// Open file descriptors, by number.
    pub fds: Vec<Fd>,
    /// What could not be read for this process and why (e.g. a memory
    /// index that failed to build: no memory areas, command line or
    /// environment), while the rest of the process was.
    pub warnings: Vec<String>,
}

/// Most bytes read from a process's argument or environment area. A real
/// program cannot get more at exec: the kernel limits its argument and
/// environment strings together to 3/4 of `_STK_LIM` (`fs/exec.c`), 6 MiB;
/// only `prctl(PR_SET_MM)` can point the areas elsewhere afterwards.
pub const ARGS_MAX_BYTES: u64 = 6 << 20;

/// Most strings kept from one area: at exec each string costs at least its
/// NUL and an 8-byte pointer within the same 6 MiB.
pub const ARGS_MAX_STRINGS: usize = (ARGS_MAX_BYTES / 9) as usize;

/// Where [`Process::load_all_with`] gets the memory index of a pid.
pub type MemoryOf<'f, 'a> = dyn Fn(u32) -> Result<Arc<ProcessMemory<'a>>> + 'f;

impl Process {
    /// Every process of the top of `chain` (its pre-dump parents serve
    /// memory), in `pstree.img` order.
    /// Each process's memory index is built here and dropped;
    /// [`Checkpoint::processes`](crate::Checkpoint::processes) shares them.
    pub fn load_all(chain: &DumpChain<'_>) -> Result<Vec<Process>> {
        Process::load_all_with(chain, &|pid| ProcessMemory::build(pid, chain).map(Arc::new))
    }

    /// Like [`Process::load_all`], taking each process's memory index from
    /// `memory` (a cache, or a build with a root filesystem).
    pub fn load_all_with<'a>(chain: &DumpChain<'a>, memory: &MemoryOf<'_, 'a>) -> Result<Vec<Process>> {
        let store = chain.top();
        let tables = Tables {
            files: FileTable::load(chain)?,
            seccomp: seccomp_filters(store)?,
            cgroups: cgroups(store)?,
            locks: file_locks(store)?,
        };
        let mut processes = Vec::new();
        for message in decode_all(store, "pstree.img")?.unwrap_or_default() {
            if let Message::PstreeEntry(task) = message {
                processes.push(Process::load(&task, chain, &tables, memory)?);
            }
        }
        Ok(processes)
    }

    /// The locks this process holds through descriptor `fd`.
    pub fn locks_of(&self, fd: u32) -> impl Iterator<Item = &FileLock> {
        self.locks.iter().filter(move |l| i64::from(l.fd) == i64::from(fd))
    }

    fn load<'a>(task: &PstreeEntry, chain: &DumpChain<'a>, tables: &Tables, memory_of: &MemoryOf<'_, 'a>) -> Result<Process> {
        let store = chain.top();
        let files = &tables.files;
        let core = core_of(store, task.pid)?;
        let tc = core.as_ref().and_then(|c| c.core.tc.as_ref());
        let state = TaskState::from_raw(tc.map_or(1, |tc| tc.task_state));
        let mut threads = Vec::new();
        for &tid in &task.threads {
            let thread_core = if tid == task.pid { core.clone() } else { core_of(store, tid)? };
            if let Some(thread_core) = thread_core {
                threads.push(thread(tid, &thread_core, tc, &tables.seccomp)?);
            }
        }
        inherit_tsync_filters(&mut threads, &tables.seccomp);
        let creds = threads.first().and_then(|t| t.creds.clone());
        let cg_set = threads.first().and_then(|t| t.cg_set);
        let cgroups = cg_set.and_then(|id| tables.cgroups.set(id)).map(|s| s.members.clone()).unwrap_or_default();
        let locks = tables.locks.iter().filter(|l| i64::from(l.pid) == i64::from(task.pid)).cloned().collect();
        let (sigactions, pending_signals) = match &core {
            Some(c) => match c.core.tc.as_ref() {
                Some(tc) => (sigactions(&tc.sigactions, &c.at)?, pending(tc.signals_s.as_ref(), c.layout, &c.at)?),
                None => Default::default(),
            },
            None => Default::default(),
        };
        let core = core.map(|c| c.core);
        let tc = core.as_ref().and_then(|c| c.tc.as_ref());

        let mut namespaces = Namespaces::default();
        let mut files_id = None;
        for message in decode_all(store, &format!("ids-{}.img", task.pid))?.unwrap_or_default() {
            if let Message::TaskKobjIdsEntry(ids) = message {
                files_id = Some(ids.files_id);
                namespaces = Namespaces {
                    pid: ids.pid_ns_id,
                    net: ids.net_ns_id,
                    ipc: ids.ipc_ns_id,
                    uts: ids.uts_ns_id,
                    mnt: ids.mnt_ns_id,
                    user: ids.user_ns_id,
                    cgroup: ids.cgroup_ns_id,
                    time: ids.time_ns_id,
                };
            }
        }
        // Older CRIU kept the ids in the core image.
        if files_id.is_none() {
            files_id = core.as_ref().and_then(|c| c.ids.as_ref()).map(|ids| ids.files_id);
        }

        let (mut cwd, mut root) = (None, None);
        for message in decode_all(store, &format!("fs-{}.img", task.pid))?.unwrap_or_default() {
            if let Message::FsEntry(fs) = message {
                cwd = files.reg_path(fs.cwd_id);
                root = files.reg_path(fs.root_id);
            }
        }

        let mut fds = Vec::new();
        if let Some(files_id) = files_id {
            for message in decode_all(store, &format!("fdinfo-{files_id}.img"))?.unwrap_or_default() {
                if let Message::FdinfoEntry(fd) = message {
                    let r#type =
                        FdTypes::try_from(fd.r#type).map(|t| t.as_str_name().to_string()).unwrap_or_else(|_| fd.r#type.to_string());
                    fds.push(Fd {
                        fd: fd.fd,
                        r#type,
                        path: files.fd_path(fd.id),
                        file_id: fd.id,
                        flags: fd.flags,
                        details: files.details(fd.id),
                    });
                }
            }
        }
        fds.sort_by_key(|f| f.fd);

        let rlimits = tc
            .and_then(|tc| tc.rlimits.as_ref())
            .map(|r| {
                r.rlimits
                    .iter()
                    .enumerate()
                    .map(|(i, limit)| {
                        let (name, description) = RLIMITS.get(i).copied().unwrap_or(("RLIMIT_?", "?"));
                        let value = |v: u64| (v != u64::MAX).then_some(v);
                        Rlimit { name: name.into(), description: description.into(), soft: value(limit.cur), hard: value(limit.max) }
                    })
                    .collect()
            })
            .unwrap_or_default();
        let (mut exe, mut vmas) = (None, Vec::new());
        let (mut cmdline, mut environ_raw) = (Strings::default(), Strings::default());
        let mut warnings = Vec::new();
        let mm = decode_all(store, &format!("mm-{}.img", task.pid))?.unwrap_or_default().into_iter().find_map(|m| match m {
            Message::MmEntry(mm) => Some(mm),
            _ => None,
        });
        if let Some(mm) = mm {
            // fd_path: an exe can be a memfd (fexecve), which is not a regular file object.
            exe = files.fd_path(mm.exe_file_id);
            match memory_of(task.pid) {
                Ok(memory) => {
                    vmas = memory.vmas().to_vec();
                    cmdline = split_like_proc(&proc_cmdline(&memory, &mm, &mut warnings));
                    environ_raw = split_like_proc(&proc_environ(&memory, &mm, &mut warnings));
                }
                Err(e) => warnings.push(format!("memory not read (no memory areas, command line or environment): {e}")),
            }
        }
        let environ = environ_raw
            .list
            .iter()
            .filter_map(|piece| piece.split_once('=').filter(|(name, _)| !name.is_empty()))
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect();

        let comm = tc.map(|tc| tc.comm.clone()).or_else(|| threads.first().map(|t| t.comm.clone())).unwrap_or_default();
        Ok(Process {
            pid: task.pid,
            ppid: task.ppid,
            pgid: task.pgid,
            sid: task.sid,
            state,
            exit_code: tc.map_or(0, |tc| tc.exit_code),
            comm,
            threads,
            creds,
            namespaces,
            rlimits,
            sigactions,
            pending_signals,
            cg_set,
            cgroups,
            locks,
            cwd,
            root,
            exe,
            cmdline_truncated: cmdline.truncated,
            cmdline: cmdline.list,
            environ_truncated: environ_raw.truncated,
            environ_raw: environ_raw.list,
            environ,
            vmas,
            fds,
            warnings,
        })
    }
}

/// Tables every process refers to, read once per checkpoint.
struct Tables {
    files: FileTable,
    seccomp: Vec<SeccompFilter>,
    cgroups: Cgroups,
    locks: Vec<FileLock>,
}

/// A core image's entry, with where it is (for errors) and how its
/// architecture lays out a `siginfo_t`.
#[derive(Clone)]
struct LocatedCore {
    core: CoreEntry,
    at: Location,
    layout: SiginfoLayout,
}

fn core_of(store: &dyn ImageStore, tid: u32) -> Result<Option<LocatedCore>> {
    let name = format!("core-{tid}.img");
    let Some(bytes) = store.file(&name)? else { return Ok(None) };
    let label = format!("{}/{name}", store.label());
    let image = Image::parse(&label, bytes)?;
    for entry in image.entries() {
        let entry = entry?;
        if let Message::CoreEntry(core) = entry.decode()? {
            // 32-bit arm has no padding before the siginfo union.
            let union_offset = if core.mtype == 2 { 12 } else { 16 };
            let layout = SiginfoLayout { endian: image.endian(), union_offset };
            let at = Location::new(label.clone(), entry.offset() as u64).in_entry(entry.index());
            return Ok(Some(LocatedCore { core, at, layout }));
        }
    }
    Ok(None)
}

/// When every thread runs under the leader's filters, CRIU marks them
/// `TSYNC` and records them for the leader only, as a restore installs them
/// for all threads at once: give the other threads the leader's chain.
fn inherit_tsync_filters(threads: &mut [Thread], filters: &[SeccompFilter]) {
    let Some((leader, others)) = threads.split_first_mut() else { return };
    let tsync = |index: &u32| filters.get(*index as usize).is_some_and(|f| f.flags & 1 != 0);
    if leader.seccomp != "filter" || leader.seccomp_filters.is_empty() || !leader.seccomp_filters.iter().all(tsync) {
        return;
    }
    for thread in others.iter_mut().filter(|t| t.seccomp == "disabled") {
        thread.seccomp = leader.seccomp.clone();
        thread.seccomp_filters = leader.seccomp_filters.clone();
    }
}

/// Strings of an argument or environment area, and whether a limit cut them.
#[derive(Default)]
struct Strings {
    list: Vec<String>,
    truncated: bool,
}

/// Bytes read from an area, and whether [`ARGS_MAX_BYTES`] cut them.
struct AreaBytes<'a> {
    bytes: Cow<'a, [u8]>,
    truncated: bool,
}

impl AreaBytes<'_> {
    fn empty() -> Self {
        AreaBytes { bytes: Cow::Borrowed(&[]), truncated: false }
    }
}

/// The bytes `/proc/PID/cmdline` gave (`get_mm_cmdline` in
/// `fs/proc/base.c`): nothing before exec finished (`env_end` 0) or for an
/// empty area; when the last byte of the area is not NUL (`setproctitle`
/// wrote over it) the title from `arg_start` to its first NUL, NUL
/// included, within the environment area if that follows directly and
/// within one page; otherwise exactly `[arg_start, arg_end)`.
fn proc_cmdline<'a>(memory: &ProcessMemory<'a>, mm: &MmEntry, warnings: &mut Vec<String>) -> AreaBytes<'a> {
    let (arg_start, arg_end) = (mm.mm_arg_start, mm.mm_arg_end);
    if mm.mm_env_end == 0 || arg_start >= arg_end {
        return AreaBytes::empty();
    }
    // The title may run on into the environment only if that follows the arguments.
    let env_end = if mm.mm_env_start != arg_end || mm.mm_env_end < mm.mm_env_start { arg_end } else { mm.mm_env_end };
    let last = arg_end - 1;
    // A byte the checkpoint lacks reads as "not overwritten", like a failed access_remote_vm.
    let overwritten = memory.read(last, 1).is_ok_and(|b| b.first().is_some_and(|&c| c != 0));
    if !overwritten {
        return read_area(memory, "command line", arg_start, arg_end, warnings);
    }
    let window = (env_end - arg_start).min(memory.page_size());
    let AreaBytes { bytes, .. } = read_area(memory, "command line", arg_start, arg_start + window, warnings);
    let len = memchr::memchr(0, &bytes).map_or(bytes.len(), |nul| nul + 1);
    let bytes = match bytes {
        Cow::Borrowed(b) => Cow::Borrowed(&b[..len]),
        Cow::Owned(mut v) => {
            v.truncate(len);
            Cow::Owned(v)
        }
    };
    AreaBytes { bytes, truncated: false }
}

/// The bytes `/proc/PID/environ` gave: exactly `[env_start, env_end)`
/// (nothing before exec finished).
fn proc_environ<'a>(memory: &ProcessMemory<'a>, mm: &MmEntry, warnings: &mut Vec<String>) -> AreaBytes<'a> {
    if mm.mm_env_end == 0 || mm.mm_env_start >= mm.mm_env_end {
        return AreaBytes::empty();
    }
    read_area(memory, "environment", mm.mm_env_start, mm.mm_env_end, warnings)
}

/// `[start, end)` up to [`ARGS_MAX_BYTES`], as far as the checkpoint has
/// it: like the kernel, which stops at the first byte it cannot read, the
/// bytes before the first unmapped or missing one (with a warning).
fn read_area<'a>(memory: &ProcessMemory<'a>, what: &str, start: u64, end: u64, warnings: &mut Vec<String>) -> AreaBytes<'a> {
    let len = end - start;
    let (readable, stop) = memory.readable_prefix(start, end, ARGS_MAX_BYTES);
    if let Some((at, why)) = stop {
        warnings.push(format!("{what}: {len} bytes at {start:#x}, read {readable}: the byte at {at:#x} is {why}"));
    }
    match memory.read_up_to(start, readable, ARGS_MAX_BYTES) {
        Ok((bytes, _)) => AreaBytes { bytes, truncated: len > ARGS_MAX_BYTES },
        Err(e) => {
            warnings.push(format!("{what}: {e}"));
            AreaBytes::empty()
        }
    }
}

/// Split at NULs the way the fixtures' `truth.json` lists `/proc/PID/cmdline`
/// and `environ`: one trailing NUL ends the list (more make empty strings),
/// and at most [`ARGS_MAX_STRINGS`] strings. Invalid UTF-8 is replaced (the
/// raw bytes stay readable through the memory API).
fn split_like_proc(area: &AreaBytes<'_>) -> Strings {
    let bytes: &[u8] = &area.bytes;
    if bytes.is_empty() {
        return Strings { list: Vec::new(), truncated: area.truncated };
    }
    let body = bytes.strip_suffix(&[0]).unwrap_or(bytes);
    let count = memchr::memchr_iter(0, body).count() + 1;
    let mut list = Vec::with_capacity(count.min(ARGS_MAX_STRINGS));
    list.extend(body.split(|&b| b == 0).take(ARGS_MAX_STRINGS).map(|s| String::from_utf8_lossy(s).into_owned()));
    Strings { list, truncated: area.truncated || count > ARGS_MAX_STRINGS }
}

/// Syscall numbers of `rt_sigsuspend` (and 32-bit `sigsuspend`) by x86 register mode.
const X86_64_RT_SIGSUSPEND: u64 = 130;
const IA32_RT_SIGSUSPEND: u64 = 179;
const IA32_SIGSUSPEND: u64 = 72;

/// Whether a thread was inside `rt_sigsuspend`: its interrupted syscall
/// (`orig_ax`, which CRIU keeps as the kernel left it) is that call. Only
/// x86 cores carry the syscall number.
fn in_sigsuspend(core: &CoreEntry) -> bool {
    let Some(x86) = core.thread_info.as_ref() else { return false };
    let regs = &x86.gpregs;
    match regs.mode {
        // COMPAT: a 32-bit task, whose syscall numbers are i386's.
        Some(2) => matches!(regs.orig_ax & 0xffff_ffff, IA32_RT_SIGSUSPEND | IA32_SIGSUSPEND),
        _ => regs.orig_ax == X86_64_RT_SIGSUSPEND,
    }
}

fn thread(tid: u32, located: &LocatedCore, leader: Option<&crate::proto::TaskCoreEntry>, filters: &[SeccompFilter]) -> Result<Thread> {
    let core = &located.core;
    let tc = core.thread_core.as_ref();
    // Cores of the leader's threads carry no task_core: the task's legacy fields are the leader's.
    let task = core.tc.as_ref().or(leader);
    let comm = tc.and_then(|t| t.comm.clone()).or_else(|| core.tc.as_ref().map(|t| t.comm.clone())).unwrap_or_default();
    let blocked = match tc.and_then(|t| t.blk_sigset) {
        Some(mask) => signal_set_names(mask, tc.and_then(|t| t.blk_sigset_extended)),
        None => core.tc.as_ref().map(|t| signal_set_names(t.blk_sigset, t.blk_sigset_extended)).unwrap_or_default(),
    };
    // CRIU before 3.x kept the mode and filter per task.
    let (mode, first_filter) = match tc.and_then(|t| t.seccomp_mode) {
        Some(mode) => (mode, tc.and_then(|t| t.seccomp_filter)),
        None => (task.and_then(|t| t.old_seccomp_mode).unwrap_or(0), task.and_then(|t| t.old_seccomp_filter)),
    };
    let seccomp = match mode {
        0 => "disabled".to_string(),
        1 => "strict".to_string(),
        2 => "filter".to_string(),
        other => other.to_string(),
    };
    let seccomp_filters = match first_filter.filter(|_| mode == 2) {
        Some(first) => filter_chain(filters, first).ok_or_else(|| Error::Malformed {
            at: located.at.clone(),
            detail: format!(
                "thread {tid} runs under seccomp filter {first}, but seccomp.img has {} filters or their chain loops",
                filters.len()
            ),
        })?,
        None => Vec::new(),
    };
    let cg_set = tc.and_then(|t| t.cg_set).or_else(|| task.and_then(|t| t.cg_set));
    let pending = pending(tc.and_then(|t| t.signals_p.as_ref()), located.layout, &located.at)?;
    let creds = tc.and_then(|t| t.creds.as_ref()).map(|c| Creds {
        uid: c.uid,
        euid: c.euid,
        suid: c.suid,
        fsuid: c.fsuid,
        gid: c.gid,
        egid: c.egid,
        sgid: c.sgid,
        fsgid: c.fsgid,
        groups: c.groups.clone(),
        cap_effective: capability_names(&c.cap_eff),
        cap_permitted: capability_names(&c.cap_prm),
        cap_inheritable: capability_names(&c.cap_inh),
        cap_bounding: capability_names(&c.cap_bnd),
        cap_ambient: capability_names(&c.cap_amb),
        secbits: c.secbits,
        no_new_privs: c.no_new_privs.unwrap_or(0) != 0,
        lsm_profile: c.lsm_profile.clone(),
    });
    Ok(Thread {
        tid,
        comm,
        blocked,
        in_sigsuspend: in_sigsuspend(core),
        pending,
        seccomp,
        seccomp_filters,
        cg_set,
        creds,
        registers: registers(core, &located.at)?,
    })
}

impl Process {
    /// The process as `inspect --format json` prints it (the objects of
    /// its `processes` array; keys and types in `docs/inspect.md`).
    pub fn to_json(&self) -> Value {
        let p = self;
        let environ: Map<String, Value> = p.environ.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
        json!({
            "pid": p.pid,
            "ppid": p.ppid,
            "pgid": p.pgid,
            "sid": p.sid,
            "threads": p.threads.iter().map(|t| t.tid).collect::<Vec<_>>(),
            "comm": p.comm,
            "state": p.state.name(),
            "exit_code": p.exit_code,
            "exe": p.exe,
            "cwd": p.cwd,
            "root": p.root,
            "cmdline": p.cmdline,
            "cmdline_truncated": p.cmdline_truncated,
            "environ": environ,
            "environ_raw": p.environ_raw,
            "environ_truncated": p.environ_truncated,
            "warnings": p.warnings,
            "creds": p.creds.as_ref().map(|c| json!({
                "uid": c.uid, "euid": c.euid, "suid": c.suid, "fsuid": c.fsuid,
                "gid": c.gid, "egid": c.egid, "sgid": c.sgid, "fsgid": c.fsgid,
                "groups": c.groups,
                "cap_effective": c.cap_effective, "cap_permitted": c.cap_permitted,
                "cap_inheritable": c.cap_inheritable, "cap_bounding": c.cap_bounding, "cap_ambient": c.cap_ambient,
                "no_new_privs": c.no_new_privs, "lsm_profile": c.lsm_profile,
            })),
            "namespaces": p.namespaces.by_kind().into_iter().map(|(kind, id)| (kind.to_string(), json!(id))).collect::<serde_json::Map<_, _>>(),
            "rlimits": p.rlimits.iter().map(|r| json!({"name": r.name, "soft": r.soft, "hard": r.hard})).collect::<Vec<_>>(),
            "sigactions": p.sigactions.iter().map(|s| json!({
                "signal": s.signal, "number": s.number, "handler": s.handler, "flags": s.flags, "flag_names": s.flag_names(), "mask": s.mask,
            })).collect::<Vec<_>>(),
            "pending_signals": pending_json(&p.pending_signals),
            "cg_set": p.cg_set,
            "cgroups": p.cgroups.iter().map(|m| json!({"controller": m.controller, "path": m.path})).collect::<Vec<_>>(),
            "locks": p.locks.iter().map(|l| json!({"fd": l.fd, "kind": l.kind, "type": l.lock_type, "start": l.start, "len": l.len, "end": l.end()})).collect::<Vec<_>>(),
            "thread_details": p.threads.iter().map(|t| json!({
                "tid": t.tid, "comm": t.comm, "blocked_signals": t.blocked, "in_sigsuspend": t.in_sigsuspend, "pending_signals": pending_json(&t.pending),
                "seccomp": t.seccomp, "seccomp_filters": t.seccomp_filters, "cg_set": t.cg_set,
                "registers": t.registers.iter().map(|(n, v)| (n.clone(), json!(v))).collect::<Map<String, Value>>(),
            })).collect::<Vec<_>>(),
            "vmas": p.vmas.iter().map(|v| json!({"start": v.start, "end": v.end, "offset": v.pgoff, "perms": v.perms(), "path": v.path})).collect::<Vec<_>>(),
            "fds": p.fds.iter().map(|f| json!({
                "fd": f.fd, "type": f.r#type, "path": f.path,
                "details": f.details.iter().map(|(k, v)| (k.to_string(), detail_json(v))).collect::<Map<String, Value>>(),
            })).collect::<Vec<_>>(),
        })
    }
}

fn pending_json(signals: &[PendingSignal]) -> Vec<Value> {
    signals
        .iter()
        .map(|s| json!({"signal": s.signal, "number": s.number, "code": s.code, "code_name": s.code_name, "sender_pid": s.sender_pid, "sender_uid": s.sender_uid}))
        .collect()
}

fn detail_json(detail: &Detail) -> Value {
    match detail {
        Detail::Int(v) => json!(v),
        Detail::Text(t) => json!(t),
        Detail::Texts(t) => json!(t),
        Detail::Bool(b) => json!(b),
    }
}
