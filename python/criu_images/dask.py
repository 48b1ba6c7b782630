"""Tables of many checkpoints as Dask DataFrames (docs/scale.md).

>>> import criu_images.dask as cd                                   # doctest: +SKIP
>>> procs = cd.processes(["s3://bucket/ns/a.tar.zst", "/data/b.tar"])
>>> procs[procs.comm == "nc"].compute()
>>> cd.search(paths, "AWS_SECRET_ACCESS_KEY=").compute()

Each function returns a lazy ``dask.dataframe`` made with ``dd.from_map``:
one partition per checkpoint (or per ``per_partition`` checkpoints), each
partition a pandas DataFrame with Arrow-backed dtypes (``pd.ArrowDtype``)
whose first column ``checkpoint`` is the path as given (or the id given in
``ids``), so the partitions concatenate. The ``meta`` comes from the Arrow
schema of an empty table: no checkpoint is opened on the client. Workers
receive paths and options only (rules as text, never compiled objects) and
return Arrow data, so process workers (``distributed``) work.

Paths are local files or directories, or fsspec URLs (``s3://``, ``gs://``,
``https://``, ...). A remote archive is fetched once into a local cache
directory on the worker (``cache_dir``, default ``criu-images-cache`` in the
worker's temporary directory) and memory-mapped from there like a local
one; ``storage_options`` go to fsspec.

Errors: with ``errors="raise"`` (default) the first checkpoint that fails
raises ``CheckpointError`` (naming the checkpoint, the error's class and its
message with file and offset) from ``compute()``. With ``errors="skip"`` a
checkpoint that fails gives no rows; ``errors(paths)`` tells which failed
and why, one row per (checkpoint, table). A failure is an exception in the
task, never a dead worker.

Needs ``pip install 'criu-images[dask]'`` (dask[dataframe], distributed,
fsspec, pyarrow; s3fs for ``s3://``).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

__all__ = [
    "CheckpointError",
    "connections",
    "errors",
    "fds",
    "findings",
    "processes",
    "search",
    "sockets",
    "threads",
    "vmas",
    "yara",
]

_INSTALL = "pip install 'criu-images[dask]'"


def _require() -> Any:
    """dask.dataframe, or an ImportError naming what to install."""
    missing = []
    for name in ("dask", "pandas", "pyarrow", "fsspec"):
        try:
            __import__(name)
        except ImportError:
            missing.append(name)
    if not missing:
        try:
            import dask.dataframe as dd
        except ImportError as e:  # dask without its dataframe extra
            raise ImportError(f"criu_images.dask needs dask[dataframe] ({e}): {_INSTALL}") from e
        return dd
    verb = "is" if len(missing) == 1 else "are"
    raise ImportError(f"criu_images.dask needs dask[dataframe], pandas, pyarrow and fsspec; {', '.join(missing)} {verb} not installed: {_INSTALL}")


class CheckpointError(RuntimeError):
    """A checkpoint that could not be read (``errors="raise"``): the message
    names the checkpoint as given, the table and the original error (class,
    file, offset, what was expected). Picklable, so it reaches the client."""


Paths = Union[str, "os.PathLike[str]", Sequence[Union[str, "os.PathLike[str]"]]]


# --- fetching -----------------------------------------------------------------


def _is_remote(path: str) -> bool:
    if "://" not in path and "::" not in path:
        return False
    return not path.startswith("file://")


def default_cache_dir() -> str:
    """Where remote archives are cached when no ``cache_dir`` is given: a
    directory in the (worker's) temporary directory."""
    return os.path.join(tempfile.gettempdir(), "criu-images-cache")


def _fetch(path: str, storage_options: Optional[Dict[str, Any]], cache_dir: Optional[str]) -> str:
    """A local path for ``path``: itself when local, else the cached copy.

    The copy is downloaded by fsspec to a temporary name in the cache
    directory and renamed when complete, so that two tasks (threads or
    processes) fetching the same URL, or a download cut short, never leave a
    partial archive under the final name (fsspec's simplecache writes the
    final name directly). A cached copy is reused when its size is the
    object's size."""
    if not _is_remote(path):
        return path[len("file://"):] if path.startswith("file://") else path
    import fsspec

    fs, remote = fsspec.core.url_to_fs(path, **(storage_options or {}))
    directory = cache_dir or default_cache_dir()
    os.makedirs(directory, exist_ok=True)
    digest = hashlib.sha256(path.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    base = os.path.basename(remote.rstrip("/")) or "checkpoint"
    # Keep only characters that are safe in a file name; the digest makes it unique.
    base = "".join(c if c.isalnum() or c in "._-" else "_" for c in base)[-64:]
    final = os.path.join(directory, f"{digest}-{base}")
    size = fs.size(remote)
    if os.path.isfile(final) and (size is None or os.path.getsize(final) == size):
        return final
    fd, part = tempfile.mkstemp(prefix=f".{digest}-", suffix=".part", dir=directory)
    os.close(fd)
    try:
        fs.get_file(remote, part)
        got = os.path.getsize(part)
        if size is not None and got != size:
            raise OSError(f"{path}: fetched {got} bytes, the object has {size}")
        os.replace(part, final)
    finally:
        if os.path.exists(part):
            os.unlink(part)
    return final


# --- opening and the `checkpoint` column ------------------------------------------


def _open(local: str, cid: str, rootfs: Optional[str]) -> Any:
    import criu_images

    kwargs: Dict[str, Any] = {"id": cid}  # the `checkpoint` column's value
    if rootfs is not None:
        kwargs["rootfs"] = rootfs
    return criu_images.open(local, **kwargs)


# --- the tables, as functions of an opened checkpoint ------------------------------


def _yara_rules(rules: str) -> Any:
    """Rules source text compiled once per worker process."""
    import criu_images

    key = hashlib.sha256(rules.encode("utf-8", "surrogatepass")).hexdigest()
    compiled = _COMPILED.get(key)
    if compiled is None:
        compiled = criu_images.YaraRules(rules)
        _COMPILED.clear()  # one rule set at a time: no growth over many calls
        _COMPILED[key] = compiled
    return compiled


_COMPILED: Dict[str, Any] = {}


def _table_of(cp: Any, kind: str, options: Dict[str, Any]) -> Any:
    """Table ``kind`` of an open checkpoint as a ``criu_images.Table``: every
    one is built by the library (criu_images::tables), ``checkpoint`` column
    first."""
    from . import _criu_images

    if kind in ("processes", "threads", "vmas", "fds", "sockets", "connections"):
        return cp.table(kind)
    if kind == "search":
        opts = dict(options)
        pattern = opts.pop("pattern")
        return cp.search(pattern, **opts).table()
    if kind == "yara":
        opts = dict(options)
        rules = _yara_rules(opts.pop("rules"))
        return cp.yara(rules, **opts).table()
    if kind == "findings":
        return _criu_images._findings_table(cp, options.get("show_secrets", False))
    raise ValueError(f"unknown table {kind!r}")


_EMPTY_DIR: List[str] = []


def _empty_checkpoint() -> str:
    """A checkpoint with no process (a pstree.img without entries, made with
    our encoder) in a temporary directory: the source of every table's
    schema on the client, where no real checkpoint is opened."""
    if _EMPTY_DIR and os.path.isfile(os.path.join(_EMPTY_DIR[0], "pstree.img")):
        return _EMPTY_DIR[0]
    import criu_images

    import atexit
    import shutil

    directory = tempfile.mkdtemp(prefix="criu-images-empty-")
    atexit.register(shutil.rmtree, directory, True)  # removed when the client exits
    with open(os.path.join(directory, "pstree.img"), "wb") as f:
        f.write(criu_images.encode({"magic": "PSTREE", "entries": []}))
    _EMPTY_DIR[:] = [directory]
    return directory


def _schema(kind: str, options: Dict[str, Any]) -> Any:
    """The Arrow schema of ``kind``'s table, checkpoint column first."""
    import pyarrow as pa

    import criu_images

    with criu_images.open(_empty_checkpoint()) as cp:
        opts = dict(options)
        if kind == "search":
            opts["pattern"] = b"\0"
        return pa.table(_table_of(cp, kind, opts)).schema


def _pandas(table: Any) -> Any:
    """Arrow-backed pandas: strings as ``string[pyarrow]`` (what Dask makes
    of strings anyway), every other column ``pd.ArrowDtype`` (unsigned
    64-bit addresses, lists and maps stay exact, nulls stay null)."""
    import pandas as pd
    import pyarrow as pa

    strings = pd.StringDtype("pyarrow")

    def mapper(t: Any) -> Any:
        return strings if t in (pa.string(), pa.large_string()) else pd.ArrowDtype(t)

    return table.to_pandas(types_mapper=mapper)


# --- partitions ---------------------------------------------------------------


class _Limited:
    """A partition's work, run with at most ``task_threads`` threads
    (``criu_images.thread_limit``): subclasses define ``run(group)``."""

    task_threads = 1

    def __call__(self, group: Sequence[Tuple[str, str]]) -> Any:
        import criu_images

        with criu_images.thread_limit(self.task_threads):
            return self.run(group)

    def run(self, group: Sequence[Tuple[str, str]]) -> Any:
        raise NotImplementedError


class _Job(_Limited):
    """What a worker needs for one table: plain, picklable values."""

    def __init__(self, kind: str, options: Dict[str, Any], errors: str, storage_options: Optional[Dict[str, Any]],
                 cache_dir: Optional[str], rootfs: Optional[str], schema: Any, task_threads: int) -> None:
        self.kind = kind
        self.options = options
        self.errors = errors
        self.storage_options = storage_options
        self.cache_dir = cache_dir
        self.rootfs = rootfs
        self.schema = schema
        self.task_threads = task_threads

    def run(self, group: Sequence[Tuple[str, str]]) -> Any:
        import pyarrow as pa

        tables = []
        for path, cid in group:
            try:
                table = self.one(path, cid)
            except Exception as e:  # a failed checkpoint is that checkpoint's failure
                if self.errors == "raise":
                    raise CheckpointError(f"checkpoint {path!r} ({self.kind}): {type(e).__name__}: {e}") from e
                continue
            tables.append(table)
        if not tables:
            return _pandas(self.schema.empty_table())
        return _pandas(pa.concat_tables(tables))

    def one(self, path: str, cid: str) -> Any:
        import pyarrow as pa

        local = _fetch(path, self.storage_options, self.cache_dir)
        with _open(local, cid, self.rootfs) as cp:
            return pa.table(_table_of(cp, self.kind, self.options))


def _check_task_threads(task_threads: int) -> None:
    if not isinstance(task_threads, int) or isinstance(task_threads, bool) or task_threads < 0:
        raise ValueError(f"task_threads must be a number of threads >= 0, not {task_threads!r}")


def _groups(paths: Paths, ids: Optional[Sequence[str]], per_partition: int) -> List[List[Tuple[str, str]]]:
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    given = [os.fspath(p) for p in paths]
    if ids is None:
        names = given
    else:
        names = [str(i) for i in ids]
        if len(names) != len(given):
            raise ValueError(f"{len(names)} ids for {len(given)} paths")
    if not given:
        raise ValueError("no checkpoint paths")
    if per_partition < 1:
        raise ValueError(f"per_partition must be at least 1, not {per_partition}")
    pairs = list(zip(given, names))
    return [pairs[i:i + per_partition] for i in range(0, len(pairs), per_partition)]


def _frame(kind: str, paths: Paths, options: Dict[str, Any], *, ids: Optional[Sequence[str]], errors: str,
           storage_options: Optional[Dict[str, Any]], cache_dir: Optional[str], rootfs: Optional[str],
           per_partition: int, task_threads: int) -> Any:
    dd = _require()
    if errors not in ("raise", "skip"):
        raise ValueError(f'errors must be "raise" or "skip", not {errors!r}')
    groups = _groups(paths, ids, per_partition)
    _check_task_threads(task_threads)
    schema = _schema(kind, options)
    job = _Job(kind, options, errors, storage_options, cache_dir, rootfs, schema, task_threads)
    return dd.from_map(job, groups, meta=_pandas(schema.empty_table()), label=f"criu-images-{kind}",
                       enforce_metadata=False)


def _common_doc(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn.__doc__ = (fn.__doc__ or "") + """
    Common keywords: ``ids`` (the ``checkpoint`` column's values, default the
    paths as given), ``errors`` (``"raise"`` or ``"skip"``), ``storage_options``
    (fsspec), ``cache_dir`` (where workers cache remote archives),
    ``rootfs`` (as ``criu_images.open``: ``"auto"``, ``"none"``, ``"diff"``),
    ``per_partition`` (checkpoints per partition, default 1), ``task_threads``
    (threads one task may use, default 1: Dask's workers run the tasks side by
    side, so each task keeps to one core instead of starting a thread per
    core in every worker; ``0`` lifts the limit, e.g. for a few very large
    checkpoints on workers with one thread each)."""
    return fn


def _table_function(kind: str, summary: str) -> Callable[..., Any]:
    """The function of one extension table over many checkpoints."""

    def table(paths: Paths, *, ids: Optional[Sequence[str]] = None, errors: str = "raise",
              storage_options: Optional[Dict[str, Any]] = None, cache_dir: Optional[str] = None,
              rootfs: Optional[str] = None, per_partition: int = 1, task_threads: int = 1) -> Any:
        return _frame(kind, paths, {}, ids=ids, errors=errors, storage_options=storage_options,
                      cache_dir=cache_dir, rootfs=rootfs, per_partition=per_partition, task_threads=task_threads)

    table.__name__ = table.__qualname__ = kind
    table.__doc__ = summary
    return _common_doc(table)


processes = _table_function("processes", "Every process of every checkpoint (the ``processes`` table).")
threads = _table_function("threads", "Every thread of every checkpoint (the ``threads`` table).")
vmas = _table_function("vmas", "Every memory area of every process (the ``vmas`` table).")
fds = _table_function("fds", "Every open file descriptor (the ``fds`` table).")
sockets = _table_function("sockets", "Every socket (the ``sockets`` table).")
connections = _table_function(
    "connections",
    "Every socket of every checkpoint with the process and fd at its other end "
    "(the ``connections`` table, as ``Checkpoint.connections()``).",
)


@_common_doc
def search(paths: Paths, pattern: Union[bytes, str], *, regex: bool = False, ignore_case: bool = False,
           context: int = 0, perms: Optional[str] = None, kind: Union[str, Sequence[str], None] = None,
           pid: Optional[int] = None, max_hits: Optional[int] = None, ids: Optional[Sequence[str]] = None,
           errors: str = "raise", storage_options: Optional[Dict[str, Any]] = None,
           cache_dir: Optional[str] = None, rootfs: Optional[str] = None, per_partition: int = 1,
           task_threads: int = 1) -> Any:
    """``Checkpoint.search`` over every checkpoint: one row per hit
    (``max_hits`` is per checkpoint)."""
    options: Dict[str, Any] = {"pattern": pattern, "regex": regex, "ignore_case": ignore_case, "context": context,
                               "perms": perms, "kind": list(kind) if isinstance(kind, (list, tuple)) else kind,
                               "pid": pid, "max_hits": max_hits}
    return _frame("search", paths, options, ids=ids, errors=errors, storage_options=storage_options,
                  cache_dir=cache_dir, rootfs=rootfs, per_partition=per_partition, task_threads=task_threads)


def _rules_text(rules: Union[str, "os.PathLike[str]"]) -> str:
    """Rules as source text: a path to an existing file is read here, on the
    client, so that workers need neither the file nor a compiled object."""
    if isinstance(rules, os.PathLike) or (isinstance(rules, str) and "\n" not in rules and os.path.isfile(rules)):
        with open(os.fspath(rules), encoding="utf-8") as f:
            return f.read()
    if not isinstance(rules, str):
        raise TypeError(f"rules must be YARA source text or a path, not {type(rules).__name__}")
    return rules


@_common_doc
def yara(paths: Paths, rules: Union[str, "os.PathLike[str]"], *, pid: Optional[int] = None,
         perms: Optional[str] = None, kind: Union[str, Sequence[str], None] = None, files: bool = False,
         max_hits: Optional[int] = None, context: int = 16, ids: Optional[Sequence[str]] = None,
         errors: str = "raise", storage_options: Optional[Dict[str, Any]] = None,
         cache_dir: Optional[str] = None, rootfs: Optional[str] = None, per_partition: int = 1,
         task_threads: int = 1) -> Any:
    """``Checkpoint.yara`` over every checkpoint: one row per hit. ``rules``
    is YARA source text or a rules file's path (read on the client, compiled
    once per worker process; rules with ``include`` need the included files
    at the same paths on the workers)."""
    text = _rules_text(rules)
    import criu_images

    criu_images.YaraRules(text)  # a syntax error is reported here, before any task runs
    options: Dict[str, Any] = {"rules": text, "pid": pid, "perms": perms,
                               "kind": list(kind) if isinstance(kind, (list, tuple)) else kind, "files": files,
                               "max_hits": max_hits, "context": context}
    return _frame("yara", paths, options, ids=ids, errors=errors, storage_options=storage_options,
                  cache_dir=cache_dir, rootfs=rootfs, per_partition=per_partition, task_threads=task_threads)


@_common_doc
def findings(paths: Paths, *, show_secrets: bool = False, ids: Optional[Sequence[str]] = None,
             errors: str = "raise", storage_options: Optional[Dict[str, Any]] = None,
             cache_dir: Optional[str] = None, rootfs: Optional[str] = None, per_partition: int = 1,
             task_threads: int = 1) -> Any:
    """Triage findings of every checkpoint (docs/triage.md), ``evidence`` as
    JSON text."""
    return _frame("findings", paths, {"show_secrets": show_secrets}, ids=ids, errors=errors,
                  storage_options=storage_options, cache_dir=cache_dir, rootfs=rootfs, per_partition=per_partition,
                  task_threads=task_threads)


# --- errors ---------------------------------------------------------------------


def _errors_schema() -> Any:
    import pyarrow as pa

    return pa.schema([
        pa.field("checkpoint", pa.string(), nullable=False), ("table", pa.string()), ("error", pa.string()),
        ("message", pa.string()), ("file", pa.string()), ("offset", pa.uint64()),
    ])


class _ErrorsJob(_Limited):
    def __init__(self, tables: Sequence[str], storage_options: Optional[Dict[str, Any]], cache_dir: Optional[str],
                 rootfs: Optional[str], task_threads: int) -> None:
        self.tables = list(tables)
        self.storage_options = storage_options
        self.cache_dir = cache_dir
        self.rootfs = rootfs
        self.task_threads = task_threads

    def run(self, group: Sequence[Tuple[str, str]]) -> Any:
        import pyarrow as pa

        rows: List[Dict[str, Any]] = []
        for path, cid in group:
            for kind in self.tables:
                try:
                    local = _fetch(path, self.storage_options, self.cache_dir)
                    with _open(local, cid, self.rootfs) as cp:
                        _table_of(cp, kind, {})
                except Exception as e:
                    offset = getattr(e, "offset", None)
                    rows.append({"checkpoint": cid, "table": kind, "error": type(e).__name__, "message": str(e),
                                 "file": getattr(e, "file", None),
                                 "offset": offset if isinstance(offset, int) and offset >= 0 else None})
        return _pandas(pa.Table.from_pylist(rows, schema=_errors_schema()))


def errors(paths: Paths, *, tables: Iterable[str] = ("processes", "vmas", "fds", "sockets"),
           ids: Optional[Sequence[str]] = None, storage_options: Optional[Dict[str, Any]] = None,
           cache_dir: Optional[str] = None, rootfs: Optional[str] = None, per_partition: int = 1,
           task_threads: int = 1) -> Any:
    """One row per (checkpoint, table) that fails: ``checkpoint``, ``table``,
    ``error`` (the exception's class, e.g. ``ArchiveError``), ``message``,
    ``file`` and ``offset`` (where the extension says). Empty when every
    checkpoint reads. ``tables``: any of processes, vmas, fds, sockets,
    findings."""
    dd = _require()
    kinds = list(tables)
    for kind in kinds:
        if kind not in ("processes", "vmas", "fds", "sockets", "findings"):
            raise ValueError(f"unknown table {kind!r}")
    groups = _groups(paths, ids, per_partition)
    _check_task_threads(task_threads)
    job = _ErrorsJob(kinds, storage_options, cache_dir, rootfs, task_threads)
    return dd.from_map(job, groups, meta=_pandas(_errors_schema().empty_table()), label="criu-images-errors",
                       enforce_metadata=False)
