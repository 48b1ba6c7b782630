"""Type stubs of the compiled extension (bindings/src/).

This file is the documented contract of the extension; tests/python/
test_stubs.py checks that it lists exactly the extension's public names.
"""

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterator, List, Literal, Optional, Sequence, Tuple, Union

from ._display import MemorySummary, ProcessTree, SearchResults
from .yara import YaraHits

if TYPE_CHECKING:
    import pandas
    import polars
    import pyarrow

__version__: str

_PathLike = Union[str, "os.PathLike[str]"]
_Kind = Union[str, Sequence[str], None]
# A callable f(done, total), or a tqdm progress bar (anything with update() and total).
_Progress = Union[Callable[[int, int], Any], Any, None]
_Table = Literal["processes", "threads", "vmas", "fds", "sockets", "connections", "findings"]

class CriuImagesError(Exception):
    """Base class of every error criu_images raises; the message names the file and byte offset."""

    file: Optional[str]
    offset: Optional[int]
    entry: Optional[int]

class FormatError(CriuImagesError):
    """A broken image, protobuf message or crit JSON document."""

class ArchiveError(CriuImagesError):
    """A broken or hostile checkpoint archive or directory."""

class LimitError(ArchiveError):
    """A limit (e.g. max_decompressed) would be exceeded."""

class NotFoundError(CriuImagesError):
    """A file, member, image or process that does not exist."""

class MemoryReadError(CriuImagesError):
    """Process memory that is not mapped or not in the checkpoint."""

    pid: int
    address: int

class PatternError(CriuImagesError):
    """A search pattern that cannot be used."""

def open(
    path: _PathLike,
    *,
    max_decompressed: Optional[int] = None,
    rootfs: Optional[_PathLike] = None,
    image: Optional[str] = None,
    id: Optional[str] = None,
) -> Checkpoint:
    """Open a checkpoint: images directory, tar, tar.gz, tar.zst, a single image, or a
    container image (oci-archive, OCI layout directory, docker-archive, containerd).

    `image`: which image of an index holding several (reference, digest or its
    first 12+ hex digits, platform); without it such an index is an error listing them.

    `rootfs`: the default of `Checkpoint.memory()`, `search()`, `Process.memory` and the
    "vmas" table; None means "auto".

    `id`: the value of the `checkpoint` column of its tables (`Checkpoint.id`); by
    default the path as given.
    """

class Table:
    """Arrow record batches of one table (Arrow PyCapsule interface: pyarrow, Polars,
    DuckDB read it without a copy; Polars and DuckDB without pyarrow)."""

    def __arrow_c_stream__(self, requested_schema: Optional[object] = None) -> object:
        """An ArrowArrayStream PyCapsule ("arrow_array_stream"); `requested_schema` is ignored."""
    def __arrow_c_schema__(self) -> object:
        """An ArrowSchema PyCapsule ("arrow_schema")."""
    @property
    def schema(self) -> Dict[str, str]:
        """Column names and their Arrow types, as text."""
    @property
    def num_rows(self) -> int:
        """Rows over all batches."""
    def __len__(self) -> int: ...
    def to_arrow(self) -> "pyarrow.Table":
        """A pyarrow.Table (needs pyarrow)."""
    def to_pandas(self) -> "pandas.DataFrame":
        """A pandas.DataFrame with nullable dtypes (needs pandas and pyarrow)."""
    def to_polars(self) -> "polars.DataFrame":
        """A polars.DataFrame (needs polars only)."""
    def _repr_html_(self) -> str: ...

class Checkpoint:
    """An opened checkpoint; a context manager. Raises CriuImagesError once closed."""

    @property
    def path(self) -> Path: ...
    @property
    def id(self) -> str:
        """The `checkpoint` column of its tables: `open(path, id=...)`, by default the path as given."""
    @property
    def format(self) -> str:
        """`directory`, `tar`, `tar.gz`, `tar.zst`, `file`, `oci-archive`, `oci-layout` or `docker-archive`."""
    @property
    def container_image(self) -> Optional[Dict[str, Any]]:
        """The container image it came in (form, kind, reference, digest, annotations, blobs...), or None."""
    @property
    def closed(self) -> bool: ...
    def close(self) -> None: ...
    def __enter__(self) -> Checkpoint: ...
    def __exit__(self, *args: Any) -> bool: ...
    def images(self) -> List[str]: ...
    def image(self, name: str) -> Image: ...
    def image_tables(self) -> Dict[str, Table]:
        """Every image with protobuf entries (those decode_all decodes) as {name: Table}, in name order."""
    def image_table(self, kind: str) -> Table:
        """Every image of `kind` ("pagemap", "core", "INETSK", ...) as one Arrow table:
        checkpoint, image, the id from the file name (pid, ns_id...), then the entry columns."""
    def members(self) -> List[Member]: ...
    def member(self, name: str) -> bytes: ...
    @property
    def pids(self) -> List[int]: ...
    @property
    def processes(self) -> List[Process]: ...
    def process(self, pid: int) -> Process: ...
    def memory(self, pid: int, rootfs: Optional[_PathLike] = None, *, progress: _Progress = None) -> Memory:
        """`rootfs`: None (open()'s default), "auto" (rootfs-diff.tar if any), "none", "diff" (required) or a directory (after the diff).
        `progress(done, total)`: pagemap bytes of the index build, counted twice: parsed, then walked ((0, 0) if built already)."""
    def search(
        self,
        pattern: Union[bytes, str],
        *,
        regex: bool = False,
        ignore_case: bool = False,
        context: int = 0,
        perms: Optional[str] = None,
        kind: _Kind = None,
        pid: Optional[int] = None,
        max_hits: Optional[int] = None,
        rootfs: Optional[_PathLike] = None,
        progress: _Progress = None,
    ) -> SearchResults:
        """Every process's memory; `progress(done, total)` counts bytes of all of them."""
    def decode_all(
        self, *, pretty: bool = False, nopl: bool = False, progress: _Progress = None
    ) -> Dict[str, Dict[str, Any]]:
        """Every protobuf image as {name: crit JSON dict}; `progress` counts image bytes."""
    @property
    def container(self) -> Optional[Dict[str, Any]]:
        """The engine's record of the container (inspect JSON's `container`); None without one."""
    def findings(self, *, show_secrets: bool = False, rootfs: Optional[_PathLike] = None) -> List[Dict[str, Any]]:
        """Triage findings (id, severity, pid, summary, evidence), most severe first (docs/triage.md)."""
    def yara(
        self,
        rules: Union["YaraRules", str, "os.PathLike[str]"],
        *,
        pid: Optional[int] = None,
        perms: Optional[str] = None,
        kind: _Kind = None,
        files: bool = False,
        max_hits: Optional[int] = None,
        context: int = 16,
        progress: _Progress = None,
    ) -> YaraHits:
        """YARA rules over every process's memory at real addresses (and files with files=True); docs/yara.md."""
    @property
    def warnings(self) -> List[str]:
        """Parts present but unreadable (config.dump, stats-dump, dump.log, deleted.files), and why."""
    def connections(self) -> List[Dict[str, Any]]:
        """Every socket with pid/fd, addresses, state, queued bytes, peers and listener (docs/network.md)."""
    def table(self, kind: _Table) -> Table:
        """A table (processes, threads, vmas, fds, sockets, connections, findings) as Arrow
        record batches with a `checkpoint` column (docs/python.md)."""
    def to_arrow(self, kind: _Table) -> "pyarrow.Table":
        """`table(kind)` as a pyarrow.Table (needs pyarrow)."""
    def to_pandas(self, kind: _Table) -> "pandas.DataFrame":
        """`table(kind)` as a pandas.DataFrame (needs pandas and pyarrow)."""
    @property
    def rootfs_diff(self) -> Optional[RootfsDiff]: ...
    def diff(self, other: Checkpoint, memory: bool = True, *, pid: Optional[int] = None, progress: _Progress = None) -> Diff:
        """What changed from this checkpoint (old) to `other` (new), docs/diff.md; `progress` counts page bytes compared."""
    def tree(self) -> "ProcessTree":
        """The process tree: str() gives an indented text tree; HTML in notebooks."""
    def _repr_html_(self) -> str: ...

_DiffPartName = Literal["metadata", "processes", "files", "sockets", "areas", "pages", "rootfs"]

class Diff:
    """What changed between two checkpoints (Checkpoint.diff); to_dict() is `criu-images diff --format json`.
    False when nothing differs."""

    @property
    def metadata(self) -> DiffPart: ...
    @property
    def processes(self) -> DiffPart: ...
    @property
    def files(self) -> DiffPart: ...
    @property
    def sockets(self) -> DiffPart: ...
    @property
    def areas(self) -> DiffPart: ...
    @property
    def pages(self) -> DiffPart: ...
    @property
    def rootfs(self) -> DiffPart: ...
    @property
    def notes(self) -> List[str]: ...
    def to_dict(self) -> Dict[str, Any]: ...
    def to_arrow(self, part: _DiffPartName) -> "pyarrow.Table": ...
    def to_pandas(self, part: _DiffPartName) -> "pandas.DataFrame": ...
    def _repr_html_(self) -> str:
        """The text tree of `criu-images diff`."""

class DiffPart:
    """One part of a Diff: a sequence of dicts (its list in Diff.to_dict(); indexable), and a table."""

    @property
    def kind(self) -> str: ...
    def __len__(self) -> int: ...
    def __iter__(self) -> Iterator[Dict[str, Any]]: ...
    def to_list(self) -> List[Dict[str, Any]]: ...
    def table(self) -> Table:
        """The part as Arrow record batches, with a `checkpoint` column (the new checkpoint's id)."""
    def to_arrow(self) -> "pyarrow.Table": ...
    def to_pandas(self) -> "pandas.DataFrame": ...

class Member:
    """A member of a checkpoint archive or of rootfs-diff.tar."""

    @property
    def name(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def kind(self) -> str:
        """`file`, `directory`, `symlink`, `hardlink` or `special`."""
    @property
    def target(self) -> Optional[str]: ...
    @property
    def mode(self) -> Optional[int]:
        """Permission bits from the tar header (rootfs_diff members; None otherwise)."""
    @property
    def uid(self) -> Optional[int]: ...
    @property
    def gid(self) -> Optional[int]: ...
    @property
    def mtime(self) -> Optional[int]:
        """Modification time, seconds since the epoch (rootfs_diff members)."""

class RootfsDiff:
    """rootfs-diff.tar: the files a container changed or added."""

    def members(self) -> List[Member]: ...
    def read(self, path: str) -> bytes: ...
    def to_pandas(self) -> "pandas.DataFrame":
        """name, kind, size, mode, permissions, uid, gid, mtime, target (needs pandas)."""
    def __contains__(self, path: str) -> bool: ...
    def __len__(self) -> int: ...
    def _repr_html_(self) -> str: ...

class Image:
    """One image of a checkpoint; iterating gives crit's JSON objects as dicts."""

    @property
    def name(self) -> str: ...
    @property
    def magic(self) -> str: ...
    @property
    def size(self) -> int: ...
    def entries(self, pretty: bool = False, nopl: bool = False) -> ImageEntries: ...
    def __iter__(self) -> ImageEntries: ...
    def __len__(self) -> int: ...
    def to_json(self, pretty: bool = False, nopl: bool = False) -> str: ...
    def table(self) -> Table:
        """The entries as an Arrow table: one row per entry, a column per message field."""
    def to_arrow(self) -> "pyarrow.Table":
        """`table()` as a pyarrow.Table (needs pyarrow)."""

def image_table(paths: Sequence[_PathLike], kind: str) -> Table:
    """`Checkpoint.image_table(kind)` of every checkpoint of `paths`, concatenated in order;
    the checkpoints are read in parallel."""

class ImageEntries:
    """Iterator over the entries of an Image, as dicts."""

    def __iter__(self) -> ImageEntries: ...
    def __next__(self) -> Dict[str, Any]: ...

class Memory:
    """The address space of one process; the page index is built once."""

    @property
    def pid(self) -> int: ...
    @property
    def page_size(self) -> int: ...
    @property
    def rootfs(self) -> Optional[str]: ...
    def regions(self) -> List[Vma]: ...
    def read(self, addr: int, size: int) -> bytes: ...
    def view(self, addr: int, size: int) -> memoryview:
        """Zero-copy (obj is a PagesBuffer) when the range is one dumped run; else over a copy."""
    def read_cstring(self, addr: int, max: int = 4096) -> bytes: ...
    def search(
        self,
        pattern: Union[bytes, str],
        *,
        regex: bool = False,
        ignore_case: bool = False,
        context: int = 0,
        perms: Optional[str] = None,
        kind: _Kind = None,
        range: Optional[Tuple[int, int]] = None,
        max_hits: Optional[int] = None,
        progress: _Progress = None,
    ) -> SearchResults:
        """`progress(done, total)`: bytes searched; an exception it raises stops the search."""
    def yara(
        self,
        rules: Union["YaraRules", str, "os.PathLike[str]"],
        *,
        perms: Optional[str] = None,
        kind: _Kind = None,
        max_hits: Optional[int] = None,
        context: int = 16,
        progress: _Progress = None,
    ) -> YaraHits:
        """YARA rules over this process's memory, area by area at real addresses."""
    def strings(
        self,
        min_len: int = 4,
        encodings: Union[str, Sequence[str]] = ("ascii",),
        *,
        perms: Optional[str] = None,
        kind: _Kind = None,
        range: Optional[Tuple[int, int]] = None,
        progress: _Progress = None,
    ) -> List[StringHit]: ...
    def strings_table(
        self,
        min_len: int = 4,
        encodings: Union[str, Sequence[str]] = ("ascii",),
        *,
        perms: Optional[str] = None,
        kind: _Kind = None,
        range: Optional[Tuple[int, int]] = None,
        progress: _Progress = None,
    ) -> Table: ...
    def search_iter(
        self,
        pattern: Union[bytes, str],
        *,
        regex: bool = False,
        ignore_case: bool = False,
        context: int = 0,
        perms: Optional[str] = None,
        kind: _Kind = None,
        range: Optional[Tuple[int, int]] = None,
        max_hits: Optional[int] = None,
    ) -> HitIterator:
        """Hits in address order, found a batch at a time as the loop asks: memory holds one batch."""
    def strings_iter(
        self,
        min_len: int = 4,
        encodings: Union[str, Sequence[str]] = ("ascii",),
        *,
        perms: Optional[str] = None,
        kind: _Kind = None,
        range: Optional[Tuple[int, int]] = None,
    ) -> StringIterator:
        """Strings in address order, found a batch at a time as the loop asks."""
    def dump(
        self,
        path: _PathLike,
        *,
        addr: Optional[int] = None,
        size: Optional[int] = None,
        vma: Union[int, Vma, None] = None,
        progress: _Progress = None,
    ) -> Dict[str, int]: ...
    def _repr_html_(self) -> str: ...

class YaraRules:
    """Compiled YARA rules (a rules file path or source text), reused across scans."""

    def __new__(cls, rules: Union[str, "os.PathLike[str]"]) -> "YaraRules": ...

class HitIterator:
    """Hits of Memory.search_iter(), in address order."""

    def __iter__(self) -> HitIterator: ...
    def __next__(self) -> Hit: ...

class StringIterator:
    """Strings of Memory.strings_iter(), in address order."""

    def __iter__(self) -> StringIterator: ...
    def __next__(self) -> StringHit: ...

class PagesBuffer:
    """Read-only pages of a checkpoint behind a zero-copy memoryview."""

class Hit:
    """One search match."""

    @property
    def pid(self) -> int: ...
    @property
    def address(self) -> int: ...
    @property
    def match(self) -> bytes: ...
    @property
    def context(self) -> bytes: ...
    @property
    def context_start(self) -> int: ...
    @property
    def origins(self) -> List[Tuple[int, int, str]]:
        """Where the matched bytes come from: (start, end, origin) runs, origin one of
        "dumped", "zero", "rootfs-diff", "rootfs-dir"."""
    @property
    def vma(self) -> Vma: ...

class StringHit:
    """A printable string found in memory."""

    @property
    def pid(self) -> int: ...
    @property
    def address(self) -> int: ...
    @property
    def encoding(self) -> str: ...
    @property
    def text(self) -> str: ...

class Process:
    """Everything the images say about one process."""

    @property
    def pid(self) -> int: ...
    @property
    def ppid(self) -> int: ...
    @property
    def pgid(self) -> int: ...
    @property
    def sid(self) -> int: ...
    @property
    def state(self) -> str: ...
    @property
    def exit_code(self) -> int: ...
    @property
    def comm(self) -> str: ...
    @property
    def threads(self) -> List[Thread]: ...
    @property
    def creds(self) -> Optional[Creds]: ...
    @property
    def namespaces(self) -> Dict[str, Optional[int]]: ...
    @property
    def rlimits(self) -> List[Rlimit]: ...
    def to_dict(self) -> Dict[str, Any]: ...
    @property
    def sigactions(self) -> List[SigAction]: ...
    @property
    def cwd(self) -> Optional[str]: ...
    @property
    def root(self) -> Optional[str]: ...
    @property
    def exe(self) -> Optional[str]: ...
    @property
    def cmdline(self) -> List[str]:
        """As /proc/PID/cmdline showed it (setproctitle titles included)."""
    @property
    def cmdline_truncated(self) -> bool:
        """The command line was cut at 6 MiB (or 699050 strings)."""
    @property
    def environ(self) -> Dict[str, str]:
        """The NAME=value pieces of environ_raw; on duplicate names the last wins."""
    @property
    def environ_raw(self) -> List[str]:
        """As /proc/PID/environ split at NULs: every piece, also those without '='."""
    @property
    def environ_truncated(self) -> bool:
        """The environment was cut at 6 MiB (or 699050 strings)."""
    @property
    def warnings(self) -> List[str]:
        """What could not be read for this process, and why."""
    @property
    def vmas(self) -> List[Vma]: ...
    @property
    def fds(self) -> List[Fd]: ...
    @property
    def memory(self) -> Memory: ...
    def write_core(self, path: _PathLike, rootfs: Optional[_PathLike] = None, progress: _Progress = None) -> Dict[str, Any]:
        """An ELF core file of the process at `path`, for gdb (temporary name, renamed when complete).
        Returns {"path", "pid", "machine", "threads", "areas", "areas_without_contents", "size", "memory_bytes", "zero_filled_pages"}."""
    def memory_summary(self) -> "MemorySummary":
        """Bytes by kind of area: {kind: {areas, size, dumped, zero, missing}}, plus "total"."""
    def _repr_html_(self) -> str: ...

class Thread:
    """One thread of a process."""

    @property
    def tid(self) -> int: ...
    @property
    def comm(self) -> str: ...
    @property
    def blocked(self) -> List[str]:
        """The program's own mask, as CRIU saved it (not rt_sigsuspend's temporary one)."""
    @property
    def in_sigsuspend(self) -> bool:
        """The thread was waiting in rt_sigsuspend (known on x86 only)."""
    @property
    def seccomp(self) -> str: ...
    @property
    def creds(self) -> Optional[Creds]: ...
    @property
    def registers(self) -> Dict[str, int]: ...

class Creds:
    """Credentials of a thread."""

    @property
    def uid(self) -> int: ...
    @property
    def euid(self) -> int: ...
    @property
    def suid(self) -> int: ...
    @property
    def fsuid(self) -> int: ...
    @property
    def gid(self) -> int: ...
    @property
    def egid(self) -> int: ...
    @property
    def sgid(self) -> int: ...
    @property
    def fsgid(self) -> int: ...
    @property
    def groups(self) -> List[int]: ...
    @property
    def cap_effective(self) -> List[str]: ...
    @property
    def cap_permitted(self) -> List[str]: ...
    @property
    def cap_inheritable(self) -> List[str]: ...
    @property
    def cap_bounding(self) -> List[str]: ...
    @property
    def cap_ambient(self) -> List[str]: ...
    @property
    def secbits(self) -> int: ...
    @property
    def no_new_privs(self) -> bool: ...
    @property
    def lsm_profile(self) -> Optional[str]: ...

class Vma:
    """A memory area (VMA) as /proc/PID/maps shows it, with its page counts and
    where its bytes come from: what Process.vmas, Memory.regions() and Hit.vma
    give (criu_images.Region and criu_images.HitArea are other names of it).
    Page counts and origins come from the process's memory index (for
    Process.vmas: built when first asked, with the checkpoint's default rootfs)."""

    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...
    @property
    def size(self) -> int: ...
    @property
    def perms(self) -> str: ...
    @property
    def offset(self) -> int: ...
    @property
    def path(self) -> Optional[str]: ...
    @property
    def kind(self) -> str:
        """heap, stack, vdso, anon, file or shared."""
    @property
    def pages_dumped(self) -> int: ...
    @property
    def pages_zero(self) -> int: ...
    @property
    def pages_missing(self) -> int: ...
    @property
    def pages_from_file(self) -> int: ...
    @property
    def pages_from_rootfs_diff(self) -> int: ...
    @property
    def pages_from_rootfs_dir(self) -> int: ...
    @property
    def origins(self) -> List[Tuple[int, int, str]]:
        """(start, end, origin) runs covering the area, origin one of "dumped", "zero",
        "rootfs-diff", "rootfs-dir", "missing"."""

class Fd:
    """An open file descriptor."""

    @property
    def fd(self) -> int: ...
    @property
    def type(self) -> str: ...
    @property
    def path(self) -> Optional[str]: ...
    @property
    def file_id(self) -> int: ...
    @property
    def flags(self) -> int: ...
    @property
    def details(self) -> Dict[str, Union[int, str, bool, List[str]]]:
        """Typed details: file position, socket addresses and states, queued bytes, ..."""

class Rlimit:
    """A resource limit (None: unlimited)."""

    @property
    def name(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def soft(self) -> Optional[int]: ...
    @property
    def hard(self) -> Optional[int]: ...

class SigAction:
    """A signal handler that is not the default."""

    @property
    def signal(self) -> str: ...
    @property
    def handler(self) -> str: ...
    @property
    def flags(self) -> int: ...

def decode_json(source: Union[str, os.PathLike[str], bytes], pretty: bool = False, nopl: bool = False) -> str: ...
def decode_obj(source: Union[str, os.PathLike[str], bytes], pretty: bool = False, nopl: bool = False) -> Dict[str, Any]: ...
def encode_json(text: str) -> bytes: ...
def info_json(source: Union[str, os.PathLike[str], bytes]) -> str: ...
def cli_main(argv: List[str]) -> int: ...
