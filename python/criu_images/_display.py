"""Notebook faces of the extension's objects: HTML tables for Jupyter
(``_repr_html_`` of Checkpoint, Process, Memory) and ``SearchResults``.

The extension calls these functions; they only lay out values the Rust
crate computed.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from typing import Any, Iterable, Sequence


def _escape(text: str) -> str:
    # html (and the re it imports) only once a table is shown: a plain
    # `import criu_images` stays quick.
    import html

    return html.escape(text)

__all__ = ["SearchResults", "ProcessTree", "MemorySummary", "checkpoint_html", "process_html", "memory_html", "hits_html"]

_MAX_ROWS = 200


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return _escape(repr(value)[2:-1])
    return _escape(str(value))


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]], caption: str = "") -> str:
    out = ["<table>"]
    if caption:
        out.append(f"<caption style='text-align:left'>{_escape(caption)}</caption>")
    out.append("<thead><tr>" + "".join(f"<th>{_escape(h)}</th>" for h in headers) + "</tr></thead><tbody>")
    shown = 0
    total = 0
    for row in rows:
        total += 1
        if shown < _MAX_ROWS:
            out.append("<tr>" + "".join(f"<td style='text-align:left'>{_text(v)}</td>" for v in row) + "</tr>")
            shown += 1
    out.append("</tbody></table>")
    if total > shown:
        out.append(f"<p>{total - shown} more rows not shown</p>")
    return "".join(out)


def _hex(value: int) -> str:
    return f"{value:#x}"


class SearchResults(list):  # type: ignore[type-arg]
    """A list of ``Hit`` with a table view in notebooks, and as a table:
    ``table()`` (a ``criu_images.Table``), ``to_arrow()`` / ``to_pandas()``
    give one row per hit with columns ``checkpoint``, ``pattern``, ``pid``,
    ``address``, ``match``, ``context_start``, ``context``, ``vma_start``,
    ``vma_end``, ``vma_perms``, ``vma_path``. ``checkpoint`` is the id of
    the checkpoint searched (``Checkpoint.id``)."""

    def __init__(self, items: Any = (), checkpoint: str = "") -> None:
        super().__init__(items)
        self.checkpoint = checkpoint

    def __repr__(self) -> str:
        return f"SearchResults({list.__repr__(self)})"

    def _repr_html_(self) -> str:
        return hits_html(self)

    def table(self) -> Any:
        """The hits as a ``criu_images.Table`` (Arrow PyCapsule interface)."""
        from . import _criu_images

        return _criu_images._hits_table(list(self), self.checkpoint)

    def to_arrow(self) -> Any:
        """The hits as a ``pyarrow.Table`` (needs pyarrow: ``pip install 'criu-images[tables]'``)."""
        from . import _tables

        _tables.require("SearchResults.to_arrow()")
        return _tables.to_arrow(self.table(), "SearchResults.to_arrow()")

    def to_pandas(self) -> Any:
        """The hits as a ``pandas.DataFrame`` (needs pandas and pyarrow)."""
        from . import _tables

        _tables.require("SearchResults.to_pandas()", pandas=True)
        return _tables.to_pandas(self.table(), "SearchResults.to_pandas()")


def hits_html(hits: Sequence[Any]) -> str:
    """Search hits as an HTML table."""
    rows = (
        (hit.pid, _hex(hit.address), hit.vma.perms, hit.vma.path or f"{hit.vma.start:#x}-{hit.vma.end:#x}", hit.match, hit.context)
        for hit in hits
    )
    return _table(["pid", "address", "perms", "area", "match", "context"], rows, f"{len(hits)} matches")


def memory_html(memory: Any) -> str:
    """A process's memory regions as an HTML table."""
    rows = (
        (_hex(r.start), _hex(r.end), r.perms, _hex(r.offset), r.kind, r.pages_dumped, r.pages_zero, r.pages_missing, r.path)
        for r in memory.regions()
    )
    caption = f"process {memory.pid} memory (page size {memory.page_size})"
    return _table(["start", "end", "perms", "offset", "kind", "dumped", "zero", "missing", "path"], rows, caption)


def process_html(process: Any) -> str:
    """A process's identity, files and memory areas as HTML."""
    creds = process.creds
    facts = [
        ("pid", process.pid),
        ("ppid", process.ppid),
        ("state", process.state),
        ("comm", process.comm),
        ("exe", process.exe),
        ("cmdline", " ".join(process.cmdline)),
        ("cwd", process.cwd),
        ("uid/gid", f"{creds.uid}/{creds.gid}" if creds else ""),
        ("threads", ", ".join(str(t.tid) for t in process.threads)),
    ]
    parts = [_table(["", ""], facts, f"process {process.pid}")]
    parts.append(_table(["fd", "type", "path"], ((f.fd, f.type, f.path) for f in process.fds), "open files"))
    parts.append(
        _table(
            ["start", "end", "perms", "offset", "path"],
            ((_hex(v.start), _hex(v.end), v.perms, _hex(v.offset), v.path) for v in process.vmas),
            "memory areas",
        )
    )
    return "".join(parts)


def checkpoint_html(checkpoint: Any) -> str:
    """A checkpoint's processes as an HTML table."""
    if checkpoint.closed:
        return f"<p>{_escape(repr(checkpoint))}</p>"
    rows = (
        (p.pid, p.ppid, p.state, p.comm, " ".join(p.cmdline), len(p.threads), len(p.fds))
        for p in checkpoint.processes
    )
    caption = f"{checkpoint.path} ({checkpoint.format})"
    return _table(["pid", "ppid", "state", "comm", "cmdline", "threads", "fds"], rows, caption)


class ProcessTree:
    """``Checkpoint.tree()``: the process tree. ``str()`` is an indented
    text tree; notebooks show it as nested HTML lists. ``rows`` holds
    ``(depth, last, process)`` in drawing order (parents first), built
    without recursion: a hostile chain of parents cannot exhaust the stack."""

    MAX_DRAWN_DEPTH = 64

    def __init__(self, processes: Sequence[Any]) -> None:
        by_pid = {p.pid: p for p in processes}
        children: dict = {}
        roots = []
        for p in processes:
            # A parent outside the checkpoint (or the root's 0) makes a root.
            if p.ppid in by_pid and p.ppid != p.pid:
                children.setdefault(p.ppid, []).append(p)
            else:
                roots.append(p)
        self.rows: list = []
        seen: set = set()

        def visit(starts: Sequence[Any]) -> None:
            stack = [(0, i == len(starts) - 1, p) for i, p in reversed(list(enumerate(starts)))]
            while stack:
                depth, last, p = stack.pop()
                if p.pid in seen:
                    continue
                seen.add(p.pid)
                self.rows.append((depth, last, p))
                kids = [c for c in children.get(p.pid, []) if c.pid not in seen]
                stack.extend((depth + 1, i == len(kids) - 1, c) for i, c in reversed(list(enumerate(kids))))

        visit(roots)
        # Parent links that loop: what is left, each once, as roots.
        visit([p for p in processes if p.pid not in seen])

    @staticmethod
    def _label(p: Any) -> str:
        threads = len(p.threads)
        uid = p.creds.uid if p.creds is not None else "?"
        cmdline = " ".join(p.cmdline)
        return f"[{p.pid}] {p.comm} ({p.state}, {threads} thread{'s' if threads != 1 else ''}, uid {uid}) {cmdline}".rstrip()

    def __str__(self) -> str:
        lines = []
        open_levels: list = []  # per level: more siblings follow
        for depth, last, p in self.rows:
            del open_levels[depth:]
            if depth > self.MAX_DRAWN_DEPTH:
                prefix = f"… (depth {depth}) "
            else:
                prefix = "".join("│   " if open_levels[level] else "    " for level in range(1, depth) if level < len(open_levels))
                prefix += ("└── " if last else "├── ") if depth else ""
            open_levels.extend([False] * (depth - len(open_levels)))
            open_levels.append(not last)
            lines.append(prefix + self._label(p))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        out = ["<div style='font-family: monospace'>"]
        for depth, _, p in self.rows:
            indent = min(depth, self.MAX_DRAWN_DEPTH) * 1.5
            out.append(f"<div style='margin-left: {indent}em'>{_escape(self._label(p))}</div>")
        out.append("</div>")
        return "".join(out)


def process_tree(checkpoint: Any) -> ProcessTree:
    """``Checkpoint.tree()``."""
    return ProcessTree(checkpoint.processes)


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


class MemorySummary(dict):  # type: ignore[type-arg]
    """``Process.memory_summary()``: kind -> {"areas", "size", "dumped",
    "zero", "missing"} in bytes (the pages the checkpoint holds, reads as
    zeros, or lacks), with a "total" row; a text and an HTML table."""

    COLUMNS = ("areas", "size", "dumped", "zero", "missing")

    def _rows(self) -> list:
        return [(kind, *(row[c] if c == "areas" else _size(row[c]) for c in self.COLUMNS)) for kind, row in self.items()]

    def __str__(self) -> str:
        rows = [("kind", *self.COLUMNS)] + [tuple(str(v) for v in r) for r in self._rows()]
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        return "\n".join(
            "  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(r, widths))).rstrip() for r in rows
        )

    def _repr_html_(self) -> str:
        return _table(["kind", *self.COLUMNS], self._rows(), f"process {self.pid} memory")


def memory_summary(process: Any) -> MemorySummary:
    """``Process.memory_summary()``."""
    page = 4096
    out = MemorySummary()
    out.pid = process.pid  # type: ignore[attr-defined]
    total = dict.fromkeys(MemorySummary.COLUMNS, 0)
    for v in process.vmas:
        row = out.setdefault(v.kind, dict.fromkeys(MemorySummary.COLUMNS, 0))
        values = {"areas": 1, "size": v.size, "dumped": v.pages_dumped * page, "zero": v.pages_zero * page, "missing": v.pages_missing * page}
        for key, value in values.items():
            row[key] += value
            total[key] += value
    ordered = MemorySummary(sorted(out.items(), key=lambda kv: -kv[1]["size"]))
    ordered.pid = process.pid  # type: ignore[attr-defined]
    ordered["total"] = total
    return ordered


def _permissions(kind: str, mode: Any) -> str:
    if mode is None:
        return ""
    first = {"directory": "d", "symlink": "l", "special": "?"}.get(kind, "-")
    bits = "".join(ch if mode & (1 << (8 - i)) else "-" for i, ch in enumerate("rwxrwxrwx"))
    return first + bits


def _rootfs_rows(diff: Any) -> list:
    import datetime

    rows = []
    for m in diff.members():
        when = None if m.mtime is None else datetime.datetime.fromtimestamp(m.mtime, datetime.timezone.utc)
        rows.append((m.name, m.kind, m.size, m.mode, _permissions(m.kind, m.mode), m.uid, m.gid, when, m.target))
    return rows


_ROOTFS_COLUMNS = ["name", "kind", "size", "mode", "permissions", "uid", "gid", "mtime", "target"]


def rootfs_diff_frame(diff: Any) -> Any:
    """``RootfsDiff.to_pandas()``."""
    from ._tables import require

    require("RootfsDiff.to_pandas()", pandas=True)
    import pandas as pd

    frame = pd.DataFrame(_rootfs_rows(diff), columns=_ROOTFS_COLUMNS)
    for column in ("size", "mode", "uid", "gid"):
        frame[column] = frame[column].astype("UInt64")
    frame["mtime"] = pd.to_datetime(frame["mtime"], utc=True)
    return frame


def rootfs_diff_html(diff: Any) -> str:
    """``RootfsDiff._repr_html_``: members with sizes, modes and owners."""
    rows = (
        ("/" + name, kind, size, f"{mode:04o}" if mode is not None else "", perms, f"{uid}:{gid}", "" if when is None else when.strftime("%Y-%m-%d %H:%M:%S"), target or "")
        for name, kind, size, mode, perms, uid, gid, when, target in _rootfs_rows(diff)
    )
    return _table(["path", "kind", "size", "mode", "permissions", "owner", "mtime (UTC)", "target"], rows, f"rootfs-diff.tar: {len(diff)} members")
