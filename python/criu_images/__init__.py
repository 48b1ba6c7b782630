"""Read CRIU checkpoints for forensic analysis.

>>> import criu_images
>>> with criu_images.open("checkpoint.tar.zst") as cp:         # doctest: +SKIP
...     for p in cp.processes:
...         print(p.pid, p.comm, p.cmdline)
...     hits = cp.search(b"password=", context=32)
...     mem = cp.memory(1)
...     page = mem.view(hits[0].address, 64)                   # no copy

``open`` reads images directories, tar, tar.gz and tar.zst archives
(Podman, CRI-O, kubelet) and single images. ``decode`` returns exactly the
JSON object ``crit decode`` prints; ``encode`` turns such an object back
into image bytes. ``criu_images.images`` offers pycriu's ``load``/``loads``/
``dump``/``dumps``/``info`` so that pycriu code can switch with one import
change.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (quick import)
if TYPE_CHECKING:
    from typing import Any, Dict, Union

    Source = Union[str, "os.PathLike[str]", bytes]

from ._criu_images import (
    ArchiveError,
    Checkpoint,
    Creds,
    CriuImagesError,
    Diff,
    DiffPart,
    Fd,
    FormatError,
    Hit,
    HitIterator,
    Image,
    ImageEntries,
    LimitError,
    Member,
    Memory,
    MemoryReadError,
    NotFoundError,
    PagesBuffer,
    PatternError,
    Process,
    Rlimit,
    RootfsDiff,
    SigAction,
    StringHit,
    StringIterator,
    Table,
    Thread,
    Vma,
    YaraRules,
    __version__,
    image_table,
    open,
)
from ._criu_images import _set_thread_limit
from ._criu_images import decode_json as _decode_json
from ._criu_images import decode_obj as _decode_obj
from ._criu_images import encode_json as _encode_json
from ._criu_images import info_json as _info_json
from ._display import SearchResults
from .yara import YaraHits

# Earlier names of the one memory-area class, kept so that code using them
# (isinstance checks, annotations) still works: Memory.regions() gave
# ``Region``, Hit.vma ``HitArea``.
Region = Vma
HitArea = Vma

__all__ = [
    "ArchiveError",
    "Checkpoint",
    "YaraHits",
    "YaraRules",
    "Creds",
    "CriuImagesError",
    "Diff",
    "DiffPart",
    "Fd",
    "FormatError",
    "Hit",
    "HitArea",
    "HitIterator",
    "Image",
    "ImageEntries",
    "LimitError",
    "Member",
    "Memory",
    "MemoryReadError",
    "NotFoundError",
    "PagesBuffer",
    "PatternError",
    "Process",
    "Region",
    "Rlimit",
    "RootfsDiff",
    "SearchResults",
    "SigAction",
    "StringHit",
    "StringIterator",
    "Table",
    "Thread",
    "Vma",
    "__version__",
    "decode",
    "decode_json",
    "encode",
    "image_table",
    "info",
    "open",
    "thread_limit",
]


def decode_json(source: Source, pretty: bool = False, nopl: bool = False) -> str:
    """The image at ``source`` (a path, or the image's bytes) as crit's JSON text.

    ``pretty=True`` gives ``crit show`` / ``crit decode --pretty`` output
    (indented; hex, flag names, devices, IP addresses); ``nopl=True`` replaces
    extra payloads (pipe data, socket queues) by their size.
    """
    return _decode_json(source, pretty, nopl)


def decode(source: Source, pretty: bool = False, nopl: bool = False) -> Dict[str, Any]:
    """The image at ``source`` as a dict ``{"magic": ..., "entries": [...]}``,
    equal to what ``crit decode`` prints."""
    return _decode_obj(source, pretty, nopl)


def encode(image: Dict[str, Any]) -> bytes:
    """Image bytes from a dict in crit's JSON shape (plain or pretty)."""
    import json

    # ensure_ascii keeps non-UTF-8 bytes (escaped as lone surrogates) intact.
    return _encode_json(json.dumps(image, ensure_ascii=True))


def info(source: Source) -> Dict[str, Any]:
    """``{"magic": NAME, "count": N}`` as ``crit info`` prints it."""
    import json

    return json.loads(_info_json(source))


class thread_limit:
    """``with criu_images.thread_limit(n):`` runs the calls in the block with at
    most ``n`` threads each (1: on the calling thread only; 0: no limit). By
    default one call (a search, a YARA scan, the tables of a large process)
    uses every core, up to 8, or ``CRIU_IMAGES_THREADS`` if set; code that
    runs many checkpoints side by side (a thread pool, ``criu_images.dask``)
    limits each so that the cores are shared instead of oversubscribed. The
    limit is the calling thread's: other threads keep theirs."""

    def __init__(self, threads: int) -> None:
        if not isinstance(threads, int) or isinstance(threads, bool) or threads < 0:
            raise ValueError(f"thread_limit needs a number of threads >= 0, not {threads!r}")
        self.threads = threads
        self._replaced: "list[int]" = []

    def __enter__(self) -> "thread_limit":
        self._replaced.append(_set_thread_limit(self.threads))
        return self

    def __exit__(self, *exc: object) -> None:
        _set_thread_limit(self._replaced.pop())

    def __repr__(self) -> str:
        return f"thread_limit({self.threads})"
