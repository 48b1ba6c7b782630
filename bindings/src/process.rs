//! `Process` and its records (threads, credentials, memory areas, open
//! files, limits, signal handlers): Python objects over the `Arc`ed
//! `criu_images::model::Process`, whose getters read the model's records in
//! place (nothing is copied when a record is handed out).

use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::PyDict;
use self_cell::self_cell;

use criu_images::model::{self, Detail};

use crate::area::PyVma;
use crate::display;
use crate::memory::Memory;
use crate::state::Handle;

/// `$cell`: a record of type `$record` inside an `Arc`ed model process,
/// borrowed from it; the cell keeps the process alive. With `in a list`,
/// also `each` record of a list of the process.
macro_rules! record_of_process {
    ($cell:ident, $borrow:ident, $record:ty) => {
        type $borrow<'a> = &'a $record;

        self_cell!(
            struct $cell {
                owner: Arc<model::Process>,
                #[covariant]
                dependent: $borrow,
            }
        );

        impl $cell {
            /// The record `find` gives, borrowed from `process`; None if it gives none.
            fn find(process: &Arc<model::Process>, find: impl FnOnce(&model::Process) -> Option<&$record>) -> Option<$cell> {
                $cell::try_new(process.clone(), |p| find(p).ok_or(())).ok()
            }
        }
    };
    ($cell:ident, $borrow:ident, $record:ty, in a list) => {
        record_of_process!($cell, $borrow, $record);

        impl $cell {
            /// Each record of the list `list` gives, in order. (Every index
            /// is in range: the process does not change. None is left out.)
            fn each(process: &Arc<model::Process>, list: impl Fn(&model::Process) -> &[$record]) -> Vec<$cell> {
                (0..list(process).len()).filter_map(|i| $cell::find(process, |p| list(p).get(i))).collect()
            }
        }
    };
}

record_of_process!(ThreadCell, ThreadRef, model::Thread, in a list);
record_of_process!(CredsCell, CredsRef, model::Creds);
record_of_process!(FdCell, FdRef, model::Fd, in a list);
record_of_process!(RlimitCell, RlimitRef, model::Rlimit, in a list);
record_of_process!(SigActionCell, SigActionRef, model::SigAction, in a list);

/// Everything the images say about one process: tree, state, threads,
/// credentials, namespaces, limits, signal handlers, directories, command
/// line and environment (read from its memory), memory areas and open files.
#[pyclass(frozen, module = "criu_images")]
pub struct Process {
    data: Arc<model::Process>,
    /// For `memory`: the checkpoint, or an error once it is closed.
    checkpoint: Arc<Handle>,
}

impl Process {
    pub(crate) fn new(data: Arc<model::Process>, checkpoint: Arc<Handle>) -> Process {
        Process { data, checkpoint }
    }
}

#[pymethods]
impl Process {
    /// Process id as the images hold it (inside the container's pid namespace).
    #[getter]
    fn pid(&self) -> u32 {
        self.data.pid
    }

    /// Parent's pid; 0 for the root of the checkpointed tree.
    #[getter]
    fn ppid(&self) -> u32 {
        self.data.ppid
    }

    /// Process group id.
    #[getter]
    fn pgid(&self) -> u32 {
        self.data.pgid
    }

    /// Session id.
    #[getter]
    fn sid(&self) -> u32 {
        self.data.sid
    }

    /// Task state: `alive`, `dead`, `stopped`, `zombie` (or a number).
    #[getter]
    fn state(&self) -> String {
        self.data.state.name()
    }

    /// Exit code (meaningful for dead and zombie tasks).
    #[getter]
    fn exit_code(&self) -> u32 {
        self.data.exit_code
    }

    /// Name, as /proc/PID/comm.
    #[getter]
    fn comm(&self) -> String {
        self.data.comm.clone()
    }

    /// Threads, the main thread first.
    #[getter]
    fn threads(&self) -> Vec<Thread> {
        ThreadCell::each(&self.data, |p| &p.threads).into_iter().enumerate().map(|(index, cell)| Thread { cell, index }).collect()
    }

    /// Credentials of the main thread (None if the images have none).
    #[getter]
    fn creds(&self) -> Option<Creds> {
        CredsCell::find(&self.data, |p| p.creds.as_ref()).map(|cell| Creds { cell })
    }

    /// Namespace ids by kind (`pid`, `net`, `ipc`, `uts`, `mnt`, `user`,
    /// `cgroup`, `time`), as CRIU numbers them; None where not recorded.
    #[getter]
    fn namespaces<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let out = PyDict::new(py);
        for (name, id) in self.data.namespaces.by_kind() {
            out.set_item(name, id)?;
        }
        Ok(out)
    }

    /// Resource limits, in RLIMIT_* order.
    #[getter]
    fn rlimits(&self) -> Vec<Rlimit> {
        RlimitCell::each(&self.data, |p| &p.rlimits).into_iter().map(|cell| Rlimit { cell }).collect()
    }

    /// Everything the model has about the process as plain Python data:
    /// the object `criu-images inspect --format json` prints for it (ids,
    /// threads with registers, blocked and pending signals and seccomp
    /// filters, credentials, namespaces, limits, handlers, cgroups, file
    /// locks, memory areas, open files with details; see docs/inspect.md).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        crate::pyvalue::to_py(py, &self.data.to_json())
    }

    /// Signal handlers that are not the default.
    #[getter]
    fn sigactions(&self) -> Vec<SigAction> {
        SigActionCell::each(&self.data, |p| &p.sigactions).into_iter().map(|cell| SigAction { cell }).collect()
    }

    /// Current directory.
    #[getter]
    fn cwd(&self) -> Option<String> {
        self.data.cwd.clone()
    }

    /// Root directory.
    #[getter]
    fn root(&self) -> Option<String> {
        self.data.root.clone()
    }

    /// Executable.
    #[getter]
    fn exe(&self) -> Option<String> {
        self.data.exe.clone()
    }

    /// Command line as /proc/PID/cmdline showed it, read from the process's
    /// memory with the kernel's rules (setproctitle titles included).
    #[getter]
    fn cmdline(&self) -> Vec<String> {
        self.data.cmdline.clone()
    }

    /// True if the command line was cut at the 6 MiB (or 699050 strings)
    /// limit: more than a program can get at exec.
    #[getter]
    fn cmdline_truncated(&self) -> bool {
        self.data.cmdline_truncated
    }

    /// Environment variables (the NAME=value pieces of `environ_raw`), in
    /// order; on duplicate names the last wins.
    #[getter]
    fn environ<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let out = PyDict::new(py);
        for (key, value) in &self.data.environ {
            out.set_item(key, value)?;
        }
        Ok(out)
    }

    /// The environment exactly as /proc/PID/environ split at NULs: every
    /// piece, including empty ones and pieces without `=`.
    #[getter]
    fn environ_raw(&self) -> Vec<String> {
        self.data.environ_raw.clone()
    }

    /// True if the environment was cut at the 6 MiB (or 699050 strings) limit.
    #[getter]
    fn environ_truncated(&self) -> bool {
        self.data.environ_truncated
    }

    /// What could not be read for this process and why (e.g. memory pages
    /// the checkpoint lacks under the command line); empty when all was read.
    #[getter]
    fn warnings(&self) -> Vec<String> {
        self.data.warnings.clone()
    }

    /// Memory areas as /proc/PID/maps shows them.
    #[getter]
    fn vmas(&self) -> Vec<PyVma> {
        PyVma::of_process(&self.data, &self.checkpoint)
    }

    /// Open file descriptors, by number.
    #[getter]
    fn fds(&self) -> Vec<Fd> {
        FdCell::each(&self.data, |p| &p.fds).into_iter().map(|cell| Fd { cell }).collect()
    }

    /// The process's memory (`Checkpoint.memory(pid)`); raises
    /// `NotFoundError` for a dead or zombie task, `CriuImagesError` once the
    /// checkpoint is closed.
    #[getter]
    fn memory(&self, py: Python<'_>) -> PyResult<Memory> {
        let shared = self.checkpoint.shared()?;
        let choice = shared.default_rootfs.clone();
        Memory::of(py, &shared, self.data.pid, choice, None)
    }

    /// Writes the process as an ELF core file at `path`, for gdb: threads
    /// with their registers, memory areas, mapped files (`docs/core.md`).
    /// Written under a temporary name and renamed when complete, with the
    /// GIL released. `rootfs` as in `Checkpoint.memory()`; `progress(done,
    /// total)` counts memory bytes written; when it raises (or on Ctrl-C)
    /// nothing is left behind. Returns the summary (threads, areas, size,
    /// memory_bytes, zero_filled_pages, ...).
    #[pyo3(signature = (path, rootfs = None, progress = None))]
    fn write_core<'py>(
        &self,
        py: Python<'py>,
        path: std::path::PathBuf,
        rootfs: Option<&Bound<'py, PyAny>>,
        progress: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let shared = self.checkpoint.shared()?;
        crate::coredump::write_core(py, &shared, self.data.pid, path, rootfs, progress)
    }

    fn __repr__(&self) -> String {
        format!(
            "<Process pid={} ppid={} comm={:?} state={} threads={}>",
            self.data.pid,
            self.data.ppid,
            self.data.comm,
            self.data.state.name(),
            self.data.threads.len()
        )
    }

    /// The process, its files and memory areas as HTML, for notebooks.
    fn _repr_html_(slf: &Bound<'_, Self>) -> PyResult<String> {
        display::html(slf.py(), "process_html", slf.as_any())
    }

    /// Memory by kind of area (heap, stack, anon, file, shared, ...), like
    /// checkpointctl's memparse summary: a dict of kind -> {"areas",
    /// "size", "dumped", "zero", "missing"} (bytes), plus "total"; prints as
    /// a table and renders as HTML.
    fn memory_summary<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        display::call(slf.py(), "memory_summary", slf.as_any())
    }
}

/// One thread of a process.
#[pyclass(frozen, module = "criu_images")]
pub struct Thread {
    cell: ThreadCell,
    /// Its place in the process's threads (for `creds`).
    index: usize,
}

impl Thread {
    fn data(&self) -> &model::Thread {
        self.cell.borrow_dependent()
    }
}

#[pymethods]
impl Thread {
    /// Thread id as the images hold it.
    #[getter]
    fn tid(&self) -> u32 {
        self.data().tid
    }

    /// Thread name.
    #[getter]
    fn comm(&self) -> String {
        self.data().comm.clone()
    }

    /// Blocked signals, by name: the program's own mask, as CRIU saved it
    /// (for a thread in rt_sigsuspend, not the temporary mask /proc showed).
    #[getter]
    fn blocked(&self) -> Vec<String> {
        self.data().blocked.clone()
    }

    /// True if the thread was waiting in rt_sigsuspend (known on x86 only).
    #[getter]
    fn in_sigsuspend(&self) -> bool {
        self.data().in_sigsuspend
    }

    /// Seccomp mode: `disabled`, `strict` or `filter`.
    #[getter]
    fn seccomp(&self) -> String {
        self.data().seccomp.clone()
    }

    /// Credentials of this thread.
    #[getter]
    fn creds(&self) -> Option<Creds> {
        let index = self.index;
        CredsCell::find(self.cell.borrow_owner(), |p| p.threads.get(index)?.creds.as_ref()).map(|cell| Creds { cell })
    }

    /// General-purpose registers by name (x86-64, arm64), in the kernel's order.
    #[getter]
    fn registers<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let out = PyDict::new(py);
        for (name, value) in &self.data().registers {
            out.set_item(name, value)?;
        }
        Ok(out)
    }

    fn __repr__(&self) -> String {
        let t = self.data();
        format!("<Thread tid={} comm={:?} seccomp={}>", t.tid, t.comm, t.seccomp)
    }
}

/// Credentials of a thread.
#[pyclass(frozen, module = "criu_images")]
pub struct Creds {
    cell: CredsCell,
}

impl Creds {
    fn data(&self) -> &model::Creds {
        self.cell.borrow_dependent()
    }
}

#[pymethods]
impl Creds {
    /// Real user id.
    #[getter]
    fn uid(&self) -> u32 {
        self.data().uid
    }

    /// Effective user id.
    #[getter]
    fn euid(&self) -> u32 {
        self.data().euid
    }

    /// Saved user id.
    #[getter]
    fn suid(&self) -> u32 {
        self.data().suid
    }

    /// Filesystem user id.
    #[getter]
    fn fsuid(&self) -> u32 {
        self.data().fsuid
    }

    /// Real group id.
    #[getter]
    fn gid(&self) -> u32 {
        self.data().gid
    }

    /// Effective group id.
    #[getter]
    fn egid(&self) -> u32 {
        self.data().egid
    }

    /// Saved group id.
    #[getter]
    fn sgid(&self) -> u32 {
        self.data().sgid
    }

    /// Filesystem group id.
    #[getter]
    fn fsgid(&self) -> u32 {
        self.data().fsgid
    }

    /// Supplementary groups.
    #[getter]
    fn groups(&self) -> Vec<u32> {
        self.data().groups.clone()
    }

    /// Effective capabilities, by name.
    #[getter]
    fn cap_effective(&self) -> Vec<String> {
        self.data().cap_effective.clone()
    }

    /// Permitted capabilities.
    #[getter]
    fn cap_permitted(&self) -> Vec<String> {
        self.data().cap_permitted.clone()
    }

    /// Inheritable capabilities.
    #[getter]
    fn cap_inheritable(&self) -> Vec<String> {
        self.data().cap_inheritable.clone()
    }

    /// Bounding set.
    #[getter]
    fn cap_bounding(&self) -> Vec<String> {
        self.data().cap_bounding.clone()
    }

    /// Ambient capabilities.
    #[getter]
    fn cap_ambient(&self) -> Vec<String> {
        self.data().cap_ambient.clone()
    }

    /// securebits.
    #[getter]
    fn secbits(&self) -> u32 {
        self.data().secbits
    }

    /// PR_SET_NO_NEW_PRIVS.
    #[getter]
    fn no_new_privs(&self) -> bool {
        self.data().no_new_privs
    }

    /// LSM (AppArmor / SELinux) profile.
    #[getter]
    fn lsm_profile(&self) -> Option<String> {
        self.data().lsm_profile.clone()
    }

    fn __repr__(&self) -> String {
        let c = self.data();
        format!("<Creds uid={} euid={} gid={} egid={} cap_effective={} caps>", c.uid, c.euid, c.gid, c.egid, c.cap_effective.len())
    }
}

/// An open file descriptor.
#[pyclass(frozen, module = "criu_images")]
pub struct Fd {
    cell: FdCell,
}

impl Fd {
    fn data(&self) -> &model::Fd {
        self.cell.borrow_dependent()
    }
}

#[pymethods]
impl Fd {
    /// Descriptor number.
    #[getter]
    fn fd(&self) -> u32 {
        self.data().fd
    }

    /// File type, e.g. `REG`, `PIPE`, `INETSK`, `UNIXSK`.
    #[getter]
    fn r#type(&self) -> String {
        self.data().r#type.clone()
    }

    /// What `readlink /proc/PID/fd/N` shows; None where CRIU records no name.
    #[getter]
    fn path(&self) -> Option<String> {
        self.data().path.clone()
    }

    /// Id of the file object in files.img.
    #[getter]
    fn file_id(&self) -> u32 {
        self.data().file_id
    }

    /// Descriptor flags (close-on-exec).
    #[getter]
    fn flags(&self) -> u32 {
        self.data().flags
    }

    /// Typed details by name: `pos`, `flags`, `size`, `deleted` of regular
    /// files; `family`, `type`, `protocol`, `state`, `local_address`,
    /// `local_port`, `remote_address`, `remote_port`, `inode`, `inq_bytes`,
    /// `outq_bytes` of inet sockets; `name`, `peer`, `queued_packets`,
    /// `queued_bytes` of unix sockets; `buffered_bytes` of pipes; `counter`,
    /// `targets`, `signals`, `watches`, ... Values are int, str, bool or a
    /// list of str.
    #[getter]
    fn details<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let out = PyDict::new(py);
        for (key, value) in &self.data().details {
            match value {
                Detail::Int(v) => out.set_item(key, v)?,
                Detail::Text(t) => out.set_item(key, t)?,
                Detail::Texts(t) => out.set_item(key, t)?,
                Detail::Bool(b) => out.set_item(key, b)?,
            }
        }
        Ok(out)
    }

    fn __repr__(&self) -> String {
        let f = self.data();
        format!("<Fd {} {} {}>", f.fd, f.r#type, f.path.as_deref().unwrap_or("?"))
    }
}

/// A resource limit.
#[pyclass(frozen, module = "criu_images")]
pub struct Rlimit {
    cell: RlimitCell,
}

impl Rlimit {
    fn data(&self) -> &model::Rlimit {
        self.cell.borrow_dependent()
    }
}

#[pymethods]
impl Rlimit {
    /// `RLIMIT_NOFILE`, ...
    #[getter]
    fn name(&self) -> String {
        self.data().name.clone()
    }

    /// The /proc/PID/limits row name, e.g. "Max open files".
    #[getter]
    fn description(&self) -> String {
        self.data().description.clone()
    }

    /// Soft limit; None for unlimited.
    #[getter]
    fn soft(&self) -> Option<u64> {
        self.data().soft
    }

    /// Hard limit; None for unlimited.
    #[getter]
    fn hard(&self) -> Option<u64> {
        self.data().hard
    }

    fn __repr__(&self) -> String {
        let r = self.data();
        let show = |v: Option<u64>| v.map_or("unlimited".to_string(), |v| v.to_string());
        format!("<Rlimit {} soft={} hard={}>", r.name, show(r.soft), show(r.hard))
    }
}

/// A signal handler that is not the default.
#[pyclass(frozen, module = "criu_images")]
pub struct SigAction {
    cell: SigActionCell,
}

impl SigAction {
    fn data(&self) -> &model::SigAction {
        self.cell.borrow_dependent()
    }
}

#[pymethods]
impl SigAction {
    /// `SIGTERM`, ...
    #[getter]
    fn signal(&self) -> String {
        self.data().signal.clone()
    }

    /// `ignore`, or the handler's address in hex.
    #[getter]
    fn handler(&self) -> String {
        self.data().handler.clone()
    }

    /// sa_flags.
    #[getter]
    fn flags(&self) -> u64 {
        self.data().flags
    }

    fn __repr__(&self) -> String {
        let s = self.data();
        format!("<SigAction {} {} flags={:#x}>", s.signal, s.handler, s.flags)
    }
}
