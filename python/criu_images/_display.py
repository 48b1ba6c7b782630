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

__all__ = ["SearchResults", "checkpoint_html", "process_html", "memory_html", "hits_html"]

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
    ``to_arrow()`` / ``to_pandas()`` give one row per hit with columns
    ``pid``, ``address``, ``match``, ``context_start``, ``context``,
    ``vma_start``, ``vma_end``, ``vma_perms``, ``vma_path``."""

    def __repr__(self) -> str:
        return f"SearchResults({list.__repr__(self)})"

    def _repr_html_(self) -> str:
        return hits_html(self)

    def to_arrow(self) -> Any:
        """The hits as a ``pyarrow.Table`` (needs pyarrow: ``pip install 'criu-images[tables]'``)."""
        from . import _criu_images, _tables

        _tables.require("SearchResults.to_arrow()")
        return _tables.to_arrow(_criu_images._hit_columns(self))

    def to_pandas(self) -> Any:
        """The hits as a ``pandas.DataFrame`` (needs pandas and pyarrow)."""
        from . import _criu_images, _tables

        _tables.require("SearchResults.to_pandas()", pandas=True)
        return _tables.to_pandas(_criu_images._hit_columns(self))


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
