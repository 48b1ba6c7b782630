//! Tables (processes, vmas, fds, sockets, search hits) as Arrow columns.
//!
//! Columns are built here in Arrow's memory layout (validity bitmaps,
//! little-endian values, 64-bit offsets) from the crate's records, and
//! handed to `criu_images._tables`, which wraps the buffers in pyarrow
//! arrays without a Python object per row. Which columns a table has is
//! written once, below, for each kind.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyTuple};

use criu_images::memory::{Hit, ProcessMemory};
use criu_images::model::{Detail, Fd, Process};

/// The kinds `Checkpoint.to_arrow()` and `Checkpoint.to_pandas()` accept.
pub(crate) const KINDS: [&str; 4] = ["processes", "vmas", "fds", "sockets"];

/// One Arrow column: its type as `_tables` names it, and its buffers.
pub(crate) struct Column {
    name: String,
    kind: &'static str,
    len: usize,
    validity: Option<Vec<u8>>,
    null_count: usize,
    buffers: Vec<Vec<u8>>,
    children: Vec<Column>,
}

/// A validity bitmap (least significant bit first), None when every value is present.
fn bitmap(present: &[bool]) -> (Option<Vec<u8>>, usize) {
    let nulls = present.iter().filter(|p| !**p).count();
    if nulls == 0 {
        return (None, 0);
    }
    let mut bits = vec![0u8; present.len().div_ceil(8)];
    for (i, _) in present.iter().enumerate().filter(|(_, p)| **p) {
        bits[i / 8] |= 1 << (i % 8);
    }
    (Some(bits), nulls)
}

impl Column {
    fn fixed<T: Copy + Default, const N: usize>(
        name: &str,
        kind: &'static str,
        values: impl IntoIterator<Item = Option<T>>,
        bytes: impl Fn(T) -> [u8; N],
    ) -> Column {
        let mut data = Vec::new();
        let mut present = Vec::new();
        for value in values {
            present.push(value.is_some());
            data.extend_from_slice(&bytes(value.unwrap_or_default()));
        }
        let (validity, null_count) = bitmap(&present);
        Column { name: name.into(), kind, len: present.len(), validity, null_count, buffers: vec![data], children: Vec::new() }
    }

    pub(crate) fn u32(name: &str, values: impl IntoIterator<Item = Option<u32>>) -> Column {
        Column::fixed(name, "uint32", values, u32::to_le_bytes)
    }

    pub(crate) fn u64(name: &str, values: impl IntoIterator<Item = Option<u64>>) -> Column {
        Column::fixed(name, "uint64", values, u64::to_le_bytes)
    }

    fn i64(name: &str, values: impl IntoIterator<Item = Option<i64>>) -> Column {
        Column::fixed(name, "int64", values, i64::to_le_bytes)
    }

    pub(crate) fn bool(name: &str, values: impl IntoIterator<Item = Option<bool>>) -> Column {
        let mut present = Vec::new();
        let mut set = Vec::new();
        for value in values {
            present.push(value.is_some());
            set.push(value == Some(true));
        }
        let (validity, null_count) = bitmap(&present);
        let mut bits = vec![0u8; set.len().div_ceil(8)];
        for (i, _) in set.iter().enumerate().filter(|(_, s)| **s) {
            bits[i / 8] |= 1 << (i % 8);
        }
        Column { name: name.into(), kind: "bool", len: present.len(), validity, null_count, buffers: vec![bits], children: Vec::new() }
    }

    /// Variable-length values with 64-bit offsets (`large_string`, `large_binary`).
    fn var<'v>(name: &str, kind: &'static str, values: impl IntoIterator<Item = Option<&'v [u8]>>) -> Column {
        let mut offsets: Vec<u8> = 0i64.to_le_bytes().to_vec();
        let mut data = Vec::new();
        let mut present = Vec::new();
        for value in values {
            present.push(value.is_some());
            data.extend_from_slice(value.unwrap_or_default());
            offsets.extend_from_slice(&(data.len() as i64).to_le_bytes());
        }
        let (validity, null_count) = bitmap(&present);
        Column { name: name.into(), kind, len: present.len(), validity, null_count, buffers: vec![offsets, data], children: Vec::new() }
    }

    pub(crate) fn str<'v>(name: &str, values: impl IntoIterator<Item = Option<&'v str>>) -> Column {
        Column::var(name, "large_string", values.into_iter().map(|v| v.map(str::as_bytes)))
    }

    fn binary<'v>(name: &str, values: impl IntoIterator<Item = &'v [u8]>) -> Column {
        Column::var(name, "large_binary", values.into_iter().map(Some))
    }

    /// A list of strings per row (never null).
    pub(crate) fn str_list<'v, R: IntoIterator<Item = &'v str>>(name: &str, rows: impl IntoIterator<Item = R>) -> Column {
        let mut offsets: Vec<u8> = 0i64.to_le_bytes().to_vec();
        let mut items: Vec<&str> = Vec::new();
        let mut len = 0;
        for row in rows {
            items.extend(row);
            offsets.extend_from_slice(&(items.len() as i64).to_le_bytes());
            len += 1;
        }
        let child = Column::str("item", items.into_iter().map(Some));
        Column { name: name.into(), kind: "large_list", len, validity: None, null_count: 0, buffers: vec![offsets], children: vec![child] }
    }

    /// A map of strings to strings per row (never null), entries in order.
    fn str_map<'v, R: IntoIterator<Item = (&'v str, &'v str)>>(name: &str, rows: impl IntoIterator<Item = R>) -> Column {
        // Arrow's map type has 32-bit offsets.
        let mut offsets: Vec<u8> = 0i32.to_le_bytes().to_vec();
        let (mut keys, mut values): (Vec<&str>, Vec<&str>) = (Vec::new(), Vec::new());
        let mut len = 0;
        for row in rows {
            for (key, value) in row {
                keys.push(key);
                values.push(value);
            }
            let end = i32::try_from(keys.len()).unwrap_or(i32::MAX);
            offsets.extend_from_slice(&end.to_le_bytes());
            len += 1;
        }
        let children = vec![Column::str("key", keys.into_iter().map(Some)), Column::str("value", values.into_iter().map(Some))];
        Column { name: name.into(), kind: "map", len, validity: None, null_count: 0, buffers: vec![offsets], children }
    }

    /// `(name, kind, length, null_count, [validity, *buffers], [children])`
    /// for `criu_images._tables`.
    fn to_py<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let buffers = PyList::empty(py);
        match &self.validity {
            // Built in Rust vectors; copied once into bytes that pyarrow wraps as they are.
            Some(bits) => buffers.append(PyBytes::new(py, bits))?,
            None => buffers.append(py.None())?,
        }
        for buffer in &self.buffers {
            buffers.append(PyBytes::new(py, buffer))?;
        }
        let children = PyList::empty(py);
        for child in &self.children {
            children.append(child.to_py(py)?)?;
        }
        PyTuple::new(
            py,
            [
                self.name.clone().into_pyobject(py)?.into_any(),
                self.kind.into_pyobject(py)?.into_any(),
                self.len.into_pyobject(py)?.into_any(),
                self.null_count.into_pyobject(py)?.into_any(),
                buffers.into_any(),
                children.into_any(),
            ],
        )
    }
}

/// The columns as a list for `criu_images._tables`.
pub(crate) fn to_py<'py>(py: Python<'py>, columns: &[Column]) -> PyResult<Bound<'py, PyList>> {
    let out = PyList::empty(py);
    for column in columns {
        out.append(column.to_py(py)?)?;
    }
    Ok(out)
}

/// A ValueError for a kind `Checkpoint.to_arrow()` does not know.
pub(crate) fn unknown_kind(kind: &str) -> PyErr {
    PyValueError::new_err(format!("unknown table {kind:?}: use one of {}", KINDS.join(", ")))
}

/// One row per process, in `pstree.img` order.
pub(crate) fn processes(all: &[&Process]) -> Vec<Column> {
    let creds = |f: fn(&criu_images::model::Creds) -> u32| all.iter().map(move |p| p.creds.as_ref().map(f));
    let ns = |f: fn(&criu_images::model::Namespaces) -> Option<u32>| all.iter().map(move |p| f(&p.namespaces));
    vec![
        Column::u32("pid", all.iter().map(|p| Some(p.pid))),
        Column::u32("ppid", all.iter().map(|p| Some(p.ppid))),
        Column::u32("pgid", all.iter().map(|p| Some(p.pgid))),
        Column::u32("sid", all.iter().map(|p| Some(p.sid))),
        Column::str("state", all.iter().map(|p| p.state.name()).collect::<Vec<_>>().iter().map(|s| Some(s.as_str()))),
        Column::u32("exit_code", all.iter().map(|p| Some(p.exit_code))),
        Column::str("comm", all.iter().map(|p| Some(p.comm.as_str()))),
        Column::str("exe", all.iter().map(|p| p.exe.as_deref())),
        Column::str("cwd", all.iter().map(|p| p.cwd.as_deref())),
        Column::str("root", all.iter().map(|p| p.root.as_deref())),
        Column::str_list("cmdline", all.iter().map(|p| p.cmdline.iter().map(String::as_str))),
        Column::str_map("environ", all.iter().map(|p| p.environ.iter().map(|(k, v)| (k.as_str(), v.as_str())))),
        Column::u32("threads", all.iter().map(|p| Some(p.threads.len() as u32))),
        Column::u32("uid", creds(|c| c.uid)),
        Column::u32("euid", creds(|c| c.euid)),
        Column::u32("gid", creds(|c| c.gid)),
        Column::u32("egid", creds(|c| c.egid)),
        Column::str_list("cap_effective", all.iter().map(|p| p.creds.iter().flat_map(|c| c.cap_effective.iter().map(String::as_str)))),
        Column::bool("no_new_privs", all.iter().map(|p| p.creds.as_ref().map(|c| c.no_new_privs))),
        Column::str("seccomp", all.iter().map(|p| p.threads.first().map(|t| t.seccomp.as_str()))),
        Column::u32("ns_pid", ns(|n| n.pid)),
        Column::u32("ns_net", ns(|n| n.net)),
        Column::u32("ns_ipc", ns(|n| n.ipc)),
        Column::u32("ns_uts", ns(|n| n.uts)),
        Column::u32("ns_mnt", ns(|n| n.mnt)),
        Column::u32("ns_user", ns(|n| n.user)),
        Column::u32("ns_cgroup", ns(|n| n.cgroup)),
        Column::u32("ns_time", ns(|n| n.time)),
        Column::u32("vmas", all.iter().map(|p| Some(p.vmas.len() as u32))),
        Column::u32("fds", all.iter().map(|p| Some(p.fds.len() as u32))),
    ]
}

/// One row per memory area of every process with memory, in address order.
pub(crate) fn vmas(memories: &[&ProcessMemory<'_>]) -> Vec<Column> {
    // (process, area index)
    let rows: Vec<(&ProcessMemory<'_>, usize)> = memories.iter().flat_map(|m| (0..m.vmas().len()).map(move |i| (*m, i))).collect();
    let counts: Vec<_> = rows.iter().map(|(m, i)| m.page_counts(*i)).collect();
    let perms: Vec<String> = rows.iter().map(|(m, i)| m.vmas()[*i].perms()).collect();
    let vma = |(m, i): &(&ProcessMemory<'_>, usize)| m.vmas()[*i].clone();
    let areas: Vec<_> = rows.iter().map(vma).collect();
    vec![
        Column::u32("pid", rows.iter().map(|(m, _)| Some(m.pid()))),
        Column::u64("start", areas.iter().map(|v| Some(v.start))),
        Column::u64("end", areas.iter().map(|v| Some(v.end))),
        Column::u64("size", areas.iter().map(|v| Some(v.end - v.start))),
        Column::str("perms", perms.iter().map(|p| Some(p.as_str()))),
        Column::u64("offset", areas.iter().map(|v| Some(v.pgoff))),
        Column::str("path", areas.iter().map(|v| v.path.as_deref())),
        Column::str("kind", areas.iter().map(|v| Some(v.kind().name()))),
        Column::u64("pages_dumped", counts.iter().map(|c| Some(c.dumped))),
        Column::u64("pages_zero", counts.iter().map(|c| Some(c.zero))),
        Column::u64("pages_missing", counts.iter().map(|c| Some(c.missing))),
        Column::u64("pages_from_file", counts.iter().map(|c| Some(c.from_file))),
        Column::u64("pages_from_rootfs_diff", counts.iter().map(|c| Some(c.from_rootfs_diff))),
        Column::u64("pages_from_rootfs_dir", counts.iter().map(|c| Some(c.from_rootfs_dir))),
    ]
}

/// One row per open file descriptor of every process; `details` as text.
pub(crate) fn fds(all: &[&Process]) -> Vec<Column> {
    let rows: Vec<(u32, &Fd)> = all.iter().flat_map(|p| p.fds.iter().map(move |f| (p.pid, f))).collect();
    let details: Vec<Vec<(&str, String)>> =
        rows.iter().map(|(_, f)| f.details.iter().map(|(k, v)| (*k, v.to_string())).collect()).collect();
    let mut columns = vec![
        Column::u32("pid", rows.iter().map(|(pid, _)| Some(*pid))),
        Column::u32("fd", rows.iter().map(|(_, f)| Some(f.fd))),
        Column::str("type", rows.iter().map(|(_, f)| Some(f.r#type.as_str()))),
        Column::str("path", rows.iter().map(|(_, f)| f.path.as_deref())),
        Column::u32("file_id", rows.iter().map(|(_, f)| Some(f.file_id))),
        Column::u32("flags", rows.iter().map(|(_, f)| Some(f.flags))),
        Column::str_map("details", details.iter().map(|d| d.iter().map(|(k, v)| (*k, v.as_str())))),
    ];
    // The details a table is filtered by, typed: integers and booleans, null where a file has none.
    for key in FD_INT_DETAILS {
        columns.push(Column::i64(
            key,
            rows.iter().map(|(_, f)| match f.details.iter().find(|(k, _)| *k == key) {
                Some((_, Detail::Int(n))) => Some(*n),
                _ => None,
            }),
        ));
    }
    columns.push(Column::bool(
        "deleted",
        rows.iter().map(|(_, f)| match f.details.iter().find(|(k, _)| *k == "deleted") {
            Some((_, Detail::Bool(b))) => Some(*b),
            _ => None,
        }),
    ));
    columns
}

/// Integer details of `Fd.details` that the `fds` table has as columns too.
const FD_INT_DETAILS: [&str; 5] = ["pos", "size", "inode", "buffered_bytes", "queued_bytes"];

/// The socket columns after `pid`, `fd` and `fd_type`: details of socket
/// descriptors by key, with their type (a detail a socket lacks is null).
const SOCKET_DETAILS: [(&str, bool); 15] = [
    // (detail key, is an integer)
    ("inode", true),
    ("family", false),
    ("type", false),
    ("protocol", false),
    ("state", false),
    ("local_address", false),
    ("local_port", true),
    ("remote_address", false),
    ("remote_port", true),
    ("name", false),
    ("peer", true),
    ("inq_bytes", true),
    ("outq_bytes", true),
    ("queued_packets", true),
    ("queued_bytes", true),
];

/// One row per socket descriptor of every process.
pub(crate) fn sockets(all: &[&Process]) -> Vec<Column> {
    let rows: Vec<(u32, &Fd)> = all.iter().flat_map(|p| p.fds.iter().filter(|f| f.is_socket()).map(move |f| (p.pid, f))).collect();
    let detail = |f: &Fd, key: &str| f.details.iter().find(|(k, _)| *k == key).map(|(_, v)| v.clone());
    let mut columns = vec![
        Column::u32("pid", rows.iter().map(|(pid, _)| Some(*pid))),
        Column::u32("fd", rows.iter().map(|(_, f)| Some(f.fd))),
        Column::str("fd_type", rows.iter().map(|(_, f)| Some(f.r#type.as_str()))),
    ];
    for (key, integer) in SOCKET_DETAILS {
        let values: Vec<Option<Detail>> = rows.iter().map(|(_, f)| detail(f, key)).collect();
        columns.push(if integer {
            Column::i64(
                key,
                values.iter().map(|v| match v {
                    Some(Detail::Int(n)) => Some(*n),
                    _ => None,
                }),
            )
        } else {
            let texts: Vec<Option<String>> = values.iter().map(|v| v.as_ref().map(Detail::to_string)).collect();
            Column::str(key, texts.iter().map(|t| t.as_deref()))
        });
    }
    columns
}

/// One row per search hit.
pub(crate) fn hits(hits: &[&Hit]) -> Vec<Column> {
    let perms: Vec<String> = hits.iter().map(|h| h.area.perms()).collect();
    vec![
        Column::u32("pid", hits.iter().map(|h| Some(h.pid))),
        Column::u64("address", hits.iter().map(|h| Some(h.address))),
        Column::binary("match", hits.iter().map(|h| h.matched.as_slice())),
        Column::u64("context_start", hits.iter().map(|h| Some(h.context_start))),
        Column::binary("context", hits.iter().map(|h| h.context.as_slice())),
        Column::u64("vma_start", hits.iter().map(|h| Some(h.area.start))),
        Column::u64("vma_end", hits.iter().map(|h| Some(h.area.end))),
        Column::str("vma_perms", perms.iter().map(|p| Some(p.as_str()))),
        Column::str("vma_path", hits.iter().map(|h| h.area.path.as_deref())),
    ]
}
