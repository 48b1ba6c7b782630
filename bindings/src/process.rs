//! `Process` and its records (threads, credentials, memory areas, open
//! files, limits, signal handlers), converted from `criu_images::model`.

use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::PyDict;

use criu_images::model::{self, Detail};

use crate::checkpoint::PyCheckpoint;
use crate::display;
use crate::memory::Memory;

/// Everything the images say about one process: tree, state, threads,
/// credentials, namespaces, limits, signal handlers, directories, command
/// line and environment (read from its memory), memory areas and open files.
#[pyclass(frozen, module = "criu_images")]
pub struct Process {
    data: Arc<model::Process>,
    checkpoint: Py<PyCheckpoint>,
}

impl Process {
    pub(crate) fn new(data: Arc<model::Process>, checkpoint: Py<PyCheckpoint>) -> Process {
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
        self.data.threads.iter().map(Thread::from).collect()
    }

    /// Credentials of the main thread (None if the images have none).
    #[getter]
    fn creds(&self) -> Option<Creds> {
        self.data.creds.as_ref().map(Creds::from)
    }

    /// Namespace ids by kind (`pid`, `net`, `ipc`, `uts`, `mnt`, `user`,
    /// `cgroup`, `time`), as CRIU numbers them; None where not recorded.
    #[getter]
    fn namespaces<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let ns = &self.data.namespaces;
        let out = PyDict::new(py);
        for (name, id) in [
            ("pid", ns.pid),
            ("net", ns.net),
            ("ipc", ns.ipc),
            ("uts", ns.uts),
            ("mnt", ns.mnt),
            ("user", ns.user),
            ("cgroup", ns.cgroup),
            ("time", ns.time),
        ] {
            out.set_item(name, id)?;
        }
        Ok(out)
    }

    /// Resource limits, in RLIMIT_* order.
    #[getter]
    fn rlimits(&self) -> Vec<Rlimit> {
        self.data
            .rlimits
            .iter()
            .map(|r| Rlimit { name: r.name.clone(), description: r.description.clone(), soft: r.soft, hard: r.hard })
            .collect()
    }

    /// Everything the model has about the process as plain Python data:
    /// the object `criu-images inspect --format json` prints for it (ids,
    /// threads with registers, blocked and pending signals and seccomp
    /// filters, credentials, namespaces, limits, handlers, cgroups, file
    /// locks, memory areas, open files with details; see docs/inspect.md).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        crate::pyjson::loads(py, &self.data.to_json().to_string())
    }

    /// Signal handlers that are not the default.
    #[getter]
    fn sigactions(&self) -> Vec<SigAction> {
        self.data.sigactions.iter().map(|s| SigAction { signal: s.signal.clone(), handler: s.handler.clone(), flags: s.flags }).collect()
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
    fn vmas(&self) -> Vec<Vma> {
        self.data.vmas.iter().map(|v| Vma { start: v.start, end: v.end, perms: v.perms(), offset: v.pgoff, path: v.path.clone() }).collect()
    }

    /// Open file descriptors, by number.
    #[getter]
    fn fds(&self) -> Vec<Fd> {
        self.data
            .fds
            .iter()
            .map(|f| Fd {
                fd: f.fd,
                r#type: f.kind.clone(),
                path: f.path.clone(),
                file_id: f.file_id,
                flags: f.flags,
                details: f.details.clone(),
            })
            .collect()
    }

    /// The process's memory (`Checkpoint.memory(pid)`); raises
    /// `NotFoundError` for a dead or zombie task, `CriuImagesError` once the
    /// checkpoint is closed.
    #[getter]
    fn memory(&self, py: Python<'_>) -> PyResult<Memory> {
        let checkpoint = self.checkpoint.get();
        let choice = checkpoint.shared()?.default_rootfs.clone();
        checkpoint.memory_of(py, self.data.pid, choice)
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
}

/// One thread of a process.
#[pyclass(frozen, module = "criu_images")]
pub struct Thread {
    data: model::Thread,
}

impl From<&model::Thread> for Thread {
    fn from(data: &model::Thread) -> Thread {
        Thread { data: data.clone() }
    }
}

#[pymethods]
impl Thread {
    /// Thread id as the images hold it.
    #[getter]
    fn tid(&self) -> u32 {
        self.data.tid
    }

    /// Thread name.
    #[getter]
    fn comm(&self) -> String {
        self.data.comm.clone()
    }

    /// Blocked signals, by name: the program's own mask, as CRIU saved it
    /// (for a thread in rt_sigsuspend, not the temporary mask /proc showed).
    #[getter]
    fn blocked(&self) -> Vec<String> {
        self.data.blocked.clone()
    }

    /// True if the thread was waiting in rt_sigsuspend (known on x86 only).
    #[getter]
    fn in_sigsuspend(&self) -> bool {
        self.data.in_sigsuspend
    }

    /// Seccomp mode: `disabled`, `strict` or `filter`.
    #[getter]
    fn seccomp(&self) -> String {
        self.data.seccomp.clone()
    }

    /// Credentials of this thread.
    #[getter]
    fn creds(&self) -> Option<Creds> {
        self.data.creds.as_ref().map(Creds::from)
    }

    /// General-purpose registers by name (x86-64, arm64), in the kernel's order.
    #[getter]
    fn registers<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let out = PyDict::new(py);
        for (name, value) in &self.data.registers {
            out.set_item(name, value)?;
        }
        Ok(out)
    }

    fn __repr__(&self) -> String {
        format!("<Thread tid={} comm={:?} seccomp={}>", self.data.tid, self.data.comm, self.data.seccomp)
    }
}

/// Credentials of a thread.
#[pyclass(frozen, get_all, module = "criu_images")]
pub struct Creds {
    /// Real user id.
    uid: u32,
    /// Effective user id.
    euid: u32,
    /// Saved user id.
    suid: u32,
    /// Filesystem user id.
    fsuid: u32,
    /// Real group id.
    gid: u32,
    /// Effective group id.
    egid: u32,
    /// Saved group id.
    sgid: u32,
    /// Filesystem group id.
    fsgid: u32,
    /// Supplementary groups.
    groups: Vec<u32>,
    /// Effective capabilities, by name.
    cap_effective: Vec<String>,
    /// Permitted capabilities.
    cap_permitted: Vec<String>,
    /// Inheritable capabilities.
    cap_inheritable: Vec<String>,
    /// Bounding set.
    cap_bounding: Vec<String>,
    /// Ambient capabilities.
    cap_ambient: Vec<String>,
    /// securebits.
    secbits: u32,
    /// PR_SET_NO_NEW_PRIVS.
    no_new_privs: bool,
    /// LSM (AppArmor / SELinux) profile.
    lsm_profile: Option<String>,
}

impl From<&model::Creds> for Creds {
    fn from(c: &model::Creds) -> Creds {
        Creds {
            uid: c.uid,
            euid: c.euid,
            suid: c.suid,
            fsuid: c.fsuid,
            gid: c.gid,
            egid: c.egid,
            sgid: c.sgid,
            fsgid: c.fsgid,
            groups: c.groups.clone(),
            cap_effective: c.cap_effective.clone(),
            cap_permitted: c.cap_permitted.clone(),
            cap_inheritable: c.cap_inheritable.clone(),
            cap_bounding: c.cap_bounding.clone(),
            cap_ambient: c.cap_ambient.clone(),
            secbits: c.secbits,
            no_new_privs: c.no_new_privs,
            lsm_profile: c.lsm_profile.clone(),
        }
    }
}

#[pymethods]
impl Creds {
    fn __repr__(&self) -> String {
        format!(
            "<Creds uid={} euid={} gid={} egid={} cap_effective={} caps>",
            self.uid,
            self.euid,
            self.gid,
            self.egid,
            self.cap_effective.len()
        )
    }
}

/// A memory area as /proc/PID/maps shows it.
#[pyclass(frozen, get_all, module = "criu_images")]
pub struct Vma {
    /// First address.
    start: u64,
    /// End address (exclusive).
    end: u64,
    /// Permissions, e.g. `r-xp`.
    perms: String,
    /// Offset in the mapped file, in bytes.
    offset: u64,
    /// Path as /proc/PID/maps prints it: `/usr/lib/x.so`, `/tmp/x (deleted)`,
    /// `[heap]`, `[stack]`, `[vdso]`, `/memfd:x (deleted)`, `/dev/zero (deleted)`,
    /// `/SYSV0000abcd (deleted)`; None for anonymous memory.
    path: Option<String>,
}

#[pymethods]
impl Vma {
    fn __repr__(&self) -> String {
        format!("<Vma {:#x}-{:#x} {} {:#x} {}>", self.start, self.end, self.perms, self.offset, self.path.as_deref().unwrap_or(""))
    }
}

/// An open file descriptor.
#[pyclass(frozen, module = "criu_images")]
pub struct Fd {
    /// Descriptor number.
    #[pyo3(get)]
    fd: u32,
    /// File type, e.g. `REG`, `PIPE`, `INETSK`, `UNIXSK`.
    #[pyo3(get)]
    r#type: String,
    /// What `readlink /proc/PID/fd/N` shows; None where CRIU records no name.
    #[pyo3(get)]
    path: Option<String>,
    /// Id of the file object in files.img.
    #[pyo3(get)]
    file_id: u32,
    /// Descriptor flags (close-on-exec).
    #[pyo3(get)]
    flags: u32,
    details: Vec<(&'static str, Detail)>,
}

#[pymethods]
impl Fd {
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
        for (key, value) in &self.details {
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
        format!("<Fd {} {} {}>", self.fd, self.r#type, self.path.as_deref().unwrap_or("?"))
    }
}

/// A resource limit.
#[pyclass(frozen, get_all, module = "criu_images")]
pub struct Rlimit {
    /// `RLIMIT_NOFILE`, ...
    name: String,
    /// The /proc/PID/limits row name, e.g. "Max open files".
    description: String,
    /// Soft limit; None for unlimited.
    soft: Option<u64>,
    /// Hard limit; None for unlimited.
    hard: Option<u64>,
}

#[pymethods]
impl Rlimit {
    fn __repr__(&self) -> String {
        let show = |v: Option<u64>| v.map_or("unlimited".to_string(), |v| v.to_string());
        format!("<Rlimit {} soft={} hard={}>", self.name, show(self.soft), show(self.hard))
    }
}

/// A signal handler that is not the default.
#[pyclass(frozen, get_all, module = "criu_images")]
pub struct SigAction {
    /// `SIGTERM`, ...
    signal: String,
    /// `ignore`, or the handler's address in hex.
    handler: String,
    /// sa_flags.
    flags: u64,
}

#[pymethods]
impl SigAction {
    fn __repr__(&self) -> String {
        format!("<SigAction {} {} flags={:#x}>", self.signal, self.handler, self.flags)
    }
}
