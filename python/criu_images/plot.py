"""Plots of a process's memory and of search matches (matplotlib, optional:
``pip install 'criu-images[notebook]'``).

``memory_map(process)`` draws one horizontal bar per memory area, grouped by
kind (heap, stack, anon, file, shared, ...), the dumped part solid and the
rest faint, on a log scale; it stays readable from a handful of areas to
several hundred: area labels are drawn only on rows where they fit, and the
groups are named on the right. ``matches(hits)`` draws, for each process with
hits, the areas that hold them and the hits at their offsets, under a title
naming the pid.

Both return the matplotlib ``Figure``.
"""

from __future__ import annotations

import math

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, List, Optional, Sequence

__all__ = ["memory_map", "matches", "area_label"]

_KIND_ORDER = ["heap", "stack", "anon", "shared", "file", "vdso", "vvar", "vsyscall"]
_FONT = 8.0


def _pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("criu_images.plot needs matplotlib: pip install 'criu-images[notebook]'") from e
    return plt


def area_label(area: Any) -> str:
    """``0x7f12..  /usr/lib/libc.so.6``, ``[heap]``, or ``[anon]`` for an
    anonymous area (never ``None``)."""
    path = area.path if area.path else f"[{getattr(area, 'kind', 'anon') or 'anon'}]"
    return f"{area.start:#x} {path}"


def _kind_rank(kind: str) -> int:
    return _KIND_ORDER.index(kind) if kind in _KIND_ORDER else len(_KIND_ORDER)


def memory_map(process: Any, *, page_size: int = 4096, max_height: float = 12.0, width: float = 9.0, ax: Optional[Any] = None) -> Any:
    """One bar per memory area of ``process`` (a ``Process``, a ``Memory``, or
    a list of ``Vma``), grouped by kind; returns the figure."""
    plt = _pyplot()
    areas = list(getattr(process, "vmas", None) or (process.regions() if hasattr(process, "regions") else process))
    areas.sort(key=lambda v: (_kind_rank(v.kind), v.start))
    n = len(areas)
    if ax is None:
        height = min(max_height, 1.2 + 0.22 * max(n, 1))
        fig, ax = plt.subplots(figsize=(width, height), dpi=72)
    else:
        fig = ax.figure
    cmap = plt.get_cmap("tab10")
    kinds = sorted({v.kind for v in areas}, key=_kind_rank)
    color = {k: cmap(i % 10) for i, k in enumerate(kinds)}
    ys = list(range(n))
    sizes = [max(float(v.size), 1.0) for v in areas]
    dumped = [max(float(v.pages_dumped * page_size), 0.0) for v in areas]
    colors = [color[v.kind] for v in areas]
    ax.barh(ys, sizes, color=colors, alpha=0.3, height=0.8)
    ax.barh(ys, [d if d > 0 else float("nan") for d in dumped], color=colors, height=0.8)
    ax.set_xscale("log")
    ax.set_ylim(n - 0.5, -0.5)
    ax.set_xlabel("bytes (solid: dumped in the checkpoint)")
    pid = getattr(process, "pid", None)
    ax.set_title(f"memory areas of pid {pid} ({n})" if pid is not None else f"memory areas ({n})", fontsize=_FONT + 2)
    fig.tight_layout()
    # Labels only where they fit: every step-th row, step from the row height in points.
    row_points = ax.get_window_extent().height / max(n, 1) * 72.0 / fig.dpi
    step = max(1, math.ceil(_FONT * 1.35 / row_points)) if row_points > 0 else n
    shown = ys[::step]
    ax.set_yticks(shown)
    ax.set_yticklabels([area_label(areas[i]) for i in shown], fontsize=_FONT)
    # The groups, named on the right at their middle row, with a line between them.
    start = 0
    last = -math.inf  # row of the last group name drawn: names closer than a line apart are left out
    for i in range(1, n + 1):
        if i == n or areas[i].kind != areas[start].kind:
            middle = (start + i - 1) / 2
            if (middle - last) * row_points >= _FONT * 1.35:
                ax.text(1.01, middle, f"{areas[start].kind} ({i - start})", transform=ax.get_yaxis_transform(),
                        va="center", ha="left", fontsize=_FONT, color=color[areas[start].kind])
                last = middle
            if i < n:
                ax.axhline(i - 0.5, color="0.7", linewidth=0.5)
            start = i
    fig.tight_layout()
    return fig


def matches(hits: Sequence[Any], *, processes: Optional[Dict[int, str]] = None, width: float = 9.0) -> Any:
    """For each process with hits, the areas holding them (bar = area size in
    KiB) and the hits at their offsets; one panel per process titled with its
    pid (and comm, from ``processes``: pid -> comm). Returns the figure."""
    plt = _pyplot()
    by_pid: Dict[int, Dict[Any, List[Any]]] = {}
    for h in hits:
        by_pid.setdefault(h.pid, {}).setdefault((h.vma.start, h.vma.end), []).append(h)
    if not by_pid:
        fig, ax = plt.subplots(figsize=(width, 1.2), dpi=72)
        ax.text(0.5, 0.5, "no matches", ha="center", va="center")
        ax.set_axis_off()
        return fig
    rows = [len(areas) for areas in by_pid.values()]
    fig, axes = plt.subplots(len(by_pid), 1, figsize=(width, 0.9 * len(by_pid) + 0.35 * sum(rows)), dpi=72,
                             gridspec_kw={"height_ratios": rows}, squeeze=False)
    for ax, (pid, areas) in zip(axes[:, 0], sorted(by_pid.items())):
        ordered = sorted(areas.items())
        for row, ((start, end), area_hits) in enumerate(ordered):
            ax.barh(row, (end - start) / 1024, color="tab:blue", alpha=0.25)
            ax.plot([(h.address - start) / 1024 for h in area_hits], [row] * len(area_hits), "v", color="tab:red")
        ax.set_yticks(range(len(ordered)))
        ax.set_yticklabels([f"{area_label(hs[0].vma)} ({len(hs)})" for _, hs in ordered], fontsize=_FONT)
        ax.set_ylim(len(ordered) - 0.5, -0.5)
        comm = (processes or {}).get(pid)
        ax.set_title(f"pid {pid}" + (f" {comm}" if comm else ""), fontsize=_FONT + 1, loc="left")
        ax.set_xlabel("offset in the area (KiB)", fontsize=_FONT)
    fig.tight_layout()
    return fig
