"""criu_images.plot: the memory map stays readable at 10 and 500 areas (no
two text labels overlap), and match plots name each process by pid."""

import pathlib
import random
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import criu_images  # noqa: E402
from criu_images import plot  # noqa: E402

FIXTURES = pathlib.Path(__file__).resolve().parent.parent / "fixtures"
KINDS = ["heap", "stack", "anon", "file", "shared", "vdso"]


def synthetic_areas(n, seed=17):
    rng = random.Random(seed)
    areas, address = [], 0x400000
    for i in range(n):
        size = rng.choice([1, 2, 4, 16, 256, 4096]) * 4096
        kind = KINDS[0] if i == 0 else rng.choice(KINDS[1:]) if i % 97 == 0 else rng.choice(["anon", "file"])
        path = None if kind == "anon" else f"/usr/lib/lib{i}.so" if kind == "file" else f"[{kind}]"
        areas.append(SimpleNamespace(start=address, end=address + size, size=size, kind=kind, path=path,
                                     pages_dumped=rng.randrange(size // 4096 + 1)))
        address += size + 4096
    return areas


def texts(fig):
    """Every visible, non-empty text of the figure with its bounding box."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    out = []
    for ax in fig.axes:
        low, high = sorted(ax.get_xlim())
        # Tick labels outside the view limits exist but are not drawn.
        xticks = [t for t, x in zip(ax.get_xticklabels(), ax.get_xticks()) if low <= x <= high]
        candidates = list(ax.get_yticklabels()) + xticks + list(ax.texts) + [ax.title, ax.xaxis.label]
        for t in candidates:
            if t.get_visible() and t.get_text():
                out.append((t.get_text(), t.get_window_extent(renderer)))
    return out


def overlapping(boxes):
    found = []
    for i, (a, box_a) in enumerate(boxes):
        for b, box_b in boxes[i + 1:]:
            if box_a.overlaps(box_b) and box_a.intersection(box_a, box_b).height > 0.5 and box_a.intersection(box_a, box_b).width > 0.5:
                found.append((a, b))
    return found


def test_memory_map_labels_never_overlap_at_10_and_500_areas():
    for n in (10, 500):
        areas = synthetic_areas(n)
        fig = plot.memory_map(areas)
        boxes = texts(fig)
        assert overlapping(boxes) == [], n
        labels = [t for t, _ in boxes if t.startswith("0x")]
        ax = fig.axes[0]
        assert len(ax.patches) == 2 * n or len(ax.patches) >= n  # one bar (and its dumped part) per area
        if n == 10:
            assert len(labels) == 10  # every area named when they fit
        else:
            assert 20 <= len(labels) < n  # thinned, not dropped
        groups = [t for t, _ in boxes if t.split(" ")[0] in KINDS and t.endswith(")")]
        assert any(t.startswith("file (") for t in groups)
        # Every figure edge box lies inside the figure: nothing cut off.
        width, height = fig.canvas.get_width_height()
        for text, box in boxes:
            assert box.x0 >= -1 and box.x1 <= width + 1 and box.y0 >= -1 and box.y1 <= height + 1, text


def test_memory_map_of_a_real_process_and_match_plot_per_pid():
    with criu_images.open(FIXTURES / "pytree/checkpoint.tar.gz") as cp:
        process = cp.process(1)
        fig = plot.memory_map(process)
        assert overlapping(texts(fig)) == []
        assert "pid 1" in fig.axes[0].get_title()
        hits = cp.search(rb"PY-[A-Z-]+MARKER-[0-9a-f]+", regex=True)
        comms = {p.pid: p.comm for p in cp.processes}
    pids = sorted({h.pid for h in hits})
    assert len(pids) >= 2
    fig = plot.matches(hits, processes=comms)
    titles = [ax.get_title(loc="left") for ax in fig.axes]
    assert titles == [f"pid {pid} {comms[pid]}" for pid in pids]
    labels = [t.get_text() for ax in fig.axes for t in ax.get_yticklabels()]
    assert labels and not any("None" in label for label in labels)
    assert overlapping(texts(fig)) == []
