"""progress= of Memory.search / strings / dump, Checkpoint.search and
Checkpoint.decode_all: callbacks from the calling thread, monotonic, ending
at the total; tqdm bars; exceptions that stop the work."""

import io
import json
import os
import pathlib
import shutil
import threading
import time
import _thread

import pytest

import criu_images

FIXTURES = pathlib.Path(__file__).resolve().parent.parent / "fixtures"
PAGE = 4096
BASE = 0x7F0000000000
STEP = 8 << 20  # the crate's progress step (criu-images/src/progress.rs)
NEEDLE = b"PROGRESS-NEEDLE-0123456789"


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """A synthetic images directory (our encoder): one process with a 40 MiB
    dumped area, the needle at the start of every MiB."""
    path = tmp_path_factory.mktemp("big")
    pages = 40 * 256
    images = {
        "pstree.img": {"magic": "PSTREE", "entries": [{"pid": 1, "ppid": 0, "pgid": 1, "sid": 1, "threads": [1]}]},
        "pagemap-1.img": {
            "magic": "PAGEMAP",
            "entries": [{"pages_id": 1}, {"vaddr": BASE, "compat_nr_pages": 0, "flags": 6, "nr_pages": pages}],
        },
        "mm-1.img": {
            "magic": "MM",
            "entries": [{
                "mm_start_code": 0, "mm_end_code": 0, "mm_start_data": 0, "mm_end_data": 0, "mm_start_stack": 0,
                "mm_start_brk": 0, "mm_brk": 0, "mm_arg_start": 0, "mm_arg_end": 0, "mm_env_start": 0, "mm_env_end": 0,
                "exe_file_id": 0, "mm_saved_auxv": [6, PAGE, 0, 0],
                "vmas": [{"start": BASE, "end": BASE + pages * PAGE, "pgoff": 0, "shmid": 0, "prot": 3, "flags": 34, "status": 513, "fd": -1}],
            }],
        },
    }
    for name, doc in images.items():
        (path / name).write_bytes(criu_images.encode(doc))
    mib = bytearray(os.urandom(1 << 20))
    mib[: len(NEEDLE)] = NEEDLE
    with open(path / "pages-1.img", "wb") as f:
        for _ in range(pages // 256):
            f.write(mib)
    return path


class Recorder:
    def __init__(self, fail_at=None):
        self.calls, self.threads, self.fail_at = [], set(), fail_at

    def __call__(self, done, total):
        self.calls.append((done, total))
        self.threads.add(threading.get_ident())
        if self.fail_at is not None and len(self.calls) >= self.fail_at:
            raise Stop(f"stopped at {done} of {total}")

    def check(self, total, unit=STEP):
        """Monotonic, one total, ends at it, from this thread, not per byte:
        at most one report per `unit` of work (the crate advances every
        STEP bytes searched; the index build every 65536 pagemap entries,
        about 1 MiB of pagemap, and the bindings report what changed a few
        times a second, so a slow build is reported up to once per MiB)."""
        assert self.calls, "never called"
        assert self.threads == {threading.get_ident()}
        assert all(t == total for _, t in self.calls), self.calls
        done = [d for d, _ in self.calls]
        assert done == sorted(done) and done[-1] == total and len(set(done)) == len(done), self.calls
        assert len(self.calls) <= total // unit + 2, self.calls


class Stop(Exception):
    pass


def test_memory_search_strings_and_dump_report_bytes(big, tmp_path):
    with criu_images.open(big) as cp:
        memory = cp.memory(1)
        dumped = sum(r.pages_dumped for r in memory.regions()) * memory.page_size
        assert dumped == 40 << 20

        progress = Recorder()
        hits = memory.search(NEEDLE, progress=progress)
        progress.check(dumped)
        assert [h.address for h in hits] == [BASE + i * (1 << 20) for i in range(40)]
        assert [h.address for h in memory.search(NEEDLE)] == [h.address for h in hits]

        progress = Recorder()
        regex_hits = memory.search(rb"PROGRESS-NEEDLE-\d+", regex=True, max_hits=3, progress=progress)
        progress.check(dumped)  # stopping at max_hits completes the work
        assert len(regex_hits) == 3

        progress = Recorder()
        strings = memory.strings(20, ("ascii", "utf-16le"), progress=progress)
        progress.check(2 * dumped)
        assert any(s.text.startswith(NEEDLE.decode()) for s in strings)

        progress = Recorder()
        summary = memory.dump(tmp_path / "area.bin", vma=BASE, progress=progress)
        progress.check(summary["dumped"])
        assert summary["dumped"] == dumped and (tmp_path / "area.bin").stat().st_size == dumped


def test_checkpoint_search_counts_every_process():
    truth = json.loads((FIXTURES / "pytree/truth.json").read_text())
    with criu_images.open(FIXTURES / "pytree/checkpoint.tar.gz") as cp:
        # Dumped pages and file pages filled from rootfs-diff.tar (whole pages in pytree).
        total = sum((r.pages_dumped + r.pages_from_file) * cp.memory(pid).page_size for pid in cp.pids for r in cp.memory(pid).regions())
        progress = Recorder()
        hits = cp.search(b"5135a665e892afcc", progress=progress)
        progress.check(total)
        assert {h.pid for h in hits} == {p["vpid"] for p in truth["processes"]}
        progress = Recorder()
        assert len(cp.search(b"5135a665e892afcc", pid=6, progress=progress)) >= 1
        progress.check(sum(r.pages_dumped + r.pages_from_file for r in cp.memory(6).regions()) * PAGE)


def test_decode_all_equals_crit_and_reports_image_bytes():
    host = FIXTURES / "counter-host"
    with criu_images.open(host / "images") as cp:
        progress = Recorder()
        decoded = cp.decode_all(progress=progress)
        goldens = {p.name[: -len(".json")] for p in (host / "decoded-crit-4.x-plain").iterdir()}
        assert goldens <= set(decoded) and set(decoded) - goldens == {"stats-dump"}
        assert list(decoded) == sorted(decoded)
        for name in goldens:
            assert decoded[name] == json.loads((host / "decoded-crit-4.x-plain" / f"{name}.json").read_text()), name
        assert decoded["stats-dump"] == criu_images.decode(host / "images" / "stats-dump")
        progress.check(sum((host / "images" / n).stat().st_size for n in decoded))
        pretty = cp.decode_all(pretty=True)
        for name in goldens:
            assert pretty[name] == json.loads((host / "decoded-crit-4.x" / f"{name}.json").read_text()), name
        assert cp.decode_all() == decoded  # without progress
    with criu_images.open(FIXTURES / "pytree/checkpoint.tar.gz") as cp:
        decoded = cp.decode_all(nopl=True)
        assert "pages-1.img" not in decoded and not any(n.startswith("tmpfs-") for n in decoded)
        assert decoded["pstree.img"]["entries"] == list(cp.image("pstree.img"))


def test_tqdm_bars_fill_up(big):
    from tqdm import tqdm
    out = io.StringIO()
    with criu_images.open(big) as cp:
        with tqdm(unit="B", unit_scale=True, file=out) as bar:
            cp.search(NEEDLE, progress=bar)
            # The first search built the index: its pagemap bytes are counted too (parsed, then walked).
            assert bar.n == bar.total == (40 << 20) + 2 * (big / "pagemap-1.img").stat().st_size
        with tqdm(total=1, file=out) as bar:  # a wrong total is corrected
            cp.decode_all(progress=bar)
            assert bar.n == bar.total == sum((big / n).stat().st_size for n in ("mm-1.img", "pagemap-1.img", "pstree.img"))
    assert "100%" in out.getvalue()


def test_an_exception_in_the_callback_stops_the_work_and_is_raised(big, tmp_path):
    with criu_images.open(big) as cp:
        memory = cp.memory(1)
        calls = {
            "search": lambda p: memory.search(NEEDLE, progress=p),
            "regex": lambda p: cp.search(rb"PROGRESS-NEEDLE-\d+", regex=True, progress=p),
            "strings": lambda p: memory.strings(8, progress=p),
            "dump": lambda p: memory.dump(tmp_path / "stopped.bin", vma=BASE, progress=p),
            "decode_all": lambda p: cp.decode_all(progress=p),
        }
        for name, call in calls.items():
            progress = Recorder(fail_at=1)
            with pytest.raises(Stop, match="stopped at"):
                call(progress)
            assert len(progress.calls) == 1, name  # never called again once it raised
        # Everything still works afterwards, without progress and with it.
        assert len(memory.search(NEEDLE)) == 40
        progress = Recorder()
        assert len(cp.search(NEEDLE, progress=progress)) == 40
        progress.check(40 << 20)
        with pytest.raises(TypeError, match="progress must be a callable"):
            memory.search(NEEDLE, progress=42)


# A regex the engine cannot run on its fast DFA (its cache thrashes), so a
# search of the 40 MiB takes seconds: long enough to interrupt for sure.
SLOW = rb"(?u)(\w{1,5}\s?){20}Z"


def test_ctrl_c_stops_a_long_search_without_a_progress_callback(big):
    # On one CPU the search goes step after step (8 MiB each, five in all),
    # whatever the machine: a cancelled search stops after about one.
    cpus = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(cpus)})
    try:
        with criu_images.open(big) as cp:
            memory = cp.memory(1)
            start = time.monotonic()
            assert len(memory.search(SLOW, regex=True, range=(BASE, BASE + STEP))) == 0
            step = time.monotonic() - start

            # One Ctrl-C, half a step into the five-step search.
            ctrl_c = threading.Timer(step / 2, _thread.interrupt_main)
            start = time.monotonic()
            with pytest.raises(KeyboardInterrupt):
                ctrl_c.start()
                memory.search(SLOW, regex=True)
            interrupted = time.monotonic() - start
            ctrl_c.join()
            # Checks fall between steps and a signal is seen within 0.1 s:
            # stopped after one or two steps, not five.
            assert interrupted < 3 * step, (interrupted, step)
            # The memory is still usable.
            assert len(memory.search(NEEDLE)) == 40
    finally:
        os.sched_setaffinity(0, cpus)


def test_ctrl_c_stops_decode_all_without_a_progress_callback(tmp_path):
    # 20 pagemaps of 100,000 runs each, written byte by byte.
    def varint(v):
        out = bytearray()
        while v >= 0x80:
            out.append(v & 0x7F | 0x80)
            v >>= 7
        out.append(v)
        return bytes(out)

    runs = bytearray(criu_images.encode({"magic": "PAGEMAP", "entries": [{"pages_id": 1}]}))
    for i in range(100_000):
        entry = b"\x08" + varint(BASE + i * 2 * PAGE) + b"\x20\x04\x28\x01"
        runs += len(entry).to_bytes(4, "little") + entry
    images = tmp_path / "images"
    shutil.copytree(FIXTURES / "counter-host/images", images)
    for n in range(20):
        (images / f"pagemap-{1000 + n}.img").write_bytes(runs)
    start = time.monotonic()
    assert len(criu_images.decode(bytes(runs))["entries"]) == 100_001
    one = time.monotonic() - start

    with criu_images.open(images) as cp:
        # The uninterrupted run, as the yardstick: a loaded machine slows
        # both alike, so the check is a ratio, not a time.
        start = time.monotonic()
        cp.decode_all()
        whole = time.monotonic() - start
        ctrl_c = threading.Timer(one / 2, _thread.interrupt_main)
        start = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            ctrl_c.start()
            cp.decode_all()
        interrupted = time.monotonic() - start
        ctrl_c.join()
        # Signals are looked for between images: stopped after a few of
        # the twenty (about a tenth of the whole), not all.
        assert interrupted < 0.6 * whole, (interrupted, whole, one)


def test_decode_all_raises_for_a_broken_image(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    for f in (FIXTURES / "counter-host/images").iterdir():
        (images / f.name).write_bytes(f.read_bytes())
    mm = images / "mm-24152.img"
    mm.write_bytes(mm.read_bytes()[:-10])
    with criu_images.open(images) as cp:
        with pytest.raises(criu_images.FormatError, match=r"mm-24152\.img"):
            cp.decode_all(progress=lambda done, total: None)
        with pytest.raises(criu_images.FormatError, match=r"mm-24152\.img"):
            cp.decode_all()
        assert list(cp.image("pstree.img"))[0]["pid"] == 24152


def test_decode_all_equals_decode_for_every_synthetic_image(tmp_path):
    # Every image kind our encoder writes, including strings that are not
    # UTF-8 (lone surrogates in the JSON, as crit's convention has them).
    synthetic = FIXTURES / "synthetic"
    for image in synthetic.glob("*.img"):
        (tmp_path / image.name).write_bytes(image.read_bytes())
    with criu_images.open(tmp_path) as cp:
        decoded = cp.decode_all()
        assert len(decoded) >= 40 and set(decoded) == {p.name for p in synthetic.glob("*.img")}
        for name, doc in decoded.items():
            # Dicts built from decoded values against json.loads of the text.
            assert doc == json.loads(criu_images.decode_json(tmp_path / name)), name
            assert doc == criu_images.decode(tmp_path / name), name
        plain = json.loads((synthetic / "reg_files-non-utf8.ours-plain.json").read_text())
        assert decoded["reg_files-non-utf8.img"] == plain
        assert any("\udce9" in json.dumps(e, ensure_ascii=False) for e in plain["entries"])
        pretty = cp.decode_all(pretty=True)
        for name in decoded:
            assert pretty[name] == json.loads(criu_images.decode_json(tmp_path / name, pretty=True)), name


RUNS = 2_000_000


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A synthetic images directory whose index takes long to build (a few
    tenths of a second): one process with two million one-page lazy runs
    (pages not in the checkpoint), every other page, then one dumped page
    starting with the needle."""
    path = tmp_path_factory.mktemp("runs")

    def varint(v):
        out = bytearray()
        while v >= 0x80:
            out.append(v & 0x7F | 0x80)
            v >>= 7
        out.append(v)
        return bytes(out)

    def entry(vaddr, flags):
        # pagemap_entry: vaddr (1), compat_nr_pages (2), flags (4), nr_pages (5).
        body = b"\x08" + varint(vaddr) + b"\x10\x00\x20" + bytes([flags]) + b"\x28\x01"
        return len(body).to_bytes(4, "little") + body

    last = BASE + 2 * RUNS * PAGE
    with open(path / "pagemap-1.img", "wb") as f:
        f.write(criu_images.encode({"magic": "PAGEMAP", "entries": [{"pages_id": 1}]}))
        for chunk in range(0, RUNS, 100_000):
            f.write(b"".join(entry(BASE + i * 2 * PAGE, 2) for i in range(chunk, min(chunk + 100_000, RUNS))))
        f.write(entry(last, 4))
    images = {
        "pstree.img": {"magic": "PSTREE", "entries": [{"pid": 1, "ppid": 0, "pgid": 1, "sid": 1, "threads": [1]}]},
        "mm-1.img": {
            "magic": "MM",
            "entries": [{
                "mm_start_code": 0, "mm_end_code": 0, "mm_start_data": 0, "mm_end_data": 0, "mm_start_stack": 0,
                "mm_start_brk": 0, "mm_brk": 0, "mm_arg_start": 0, "mm_arg_end": 0, "mm_env_start": 0, "mm_env_end": 0,
                "exe_file_id": 0, "mm_saved_auxv": [6, PAGE, 0, 0],
                "vmas": [{"start": BASE, "end": last + PAGE, "pgoff": 0, "shmid": 0, "prot": 3, "flags": 34, "status": 513, "fd": -1}],
            }],
        },
    }
    for name, doc in images.items():
        (path / name).write_bytes(criu_images.encode(doc))
    (path / "pages-1.img").write_bytes(NEEDLE + bytes(PAGE - len(NEEDLE)))
    return path, last


def test_a_first_checkpoint_search_counts_the_index_build(runs):
    path, last = runs
    pagemap = (path / "pagemap-1.img").stat().st_size
    # One CPU, as a loaded machine: the build takes a few reports' time.
    cpus = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(cpus)})
    try:
        with criu_images.open(path) as cp:
            first = Recorder()
            start = time.monotonic()
            assert [h.address for h in cp.search(NEEDLE, progress=first)] == [last]
            elapsed = time.monotonic() - start
            # The pagemap bytes of the index build (parsed, then its runs
            # walked: twice), then the one dumped page searched.
            assert first.calls[-1] == (2 * pagemap + PAGE, 2 * pagemap + PAGE), first.calls
            done = [d for d, _ in first.calls]
            assert done == sorted(done), first.calls
            # (0 done: a report may come before the parse's first step, on a loaded machine.)
            assert all(0 <= d <= t for d, t in first.calls), first.calls
            # The bar was reported to while the index was built (its total
            # then twice the pagemap bytes alone, the search not begun), not only
            # at the end: the build takes several report intervals (0.1 s).
            # (A build faster than two intervals may finish unreported.)
            assert any(t == 2 * pagemap for _, t in first.calls) or elapsed < 0.2, (elapsed, first.calls)
            # The index is kept: the next search counts only the page.
            second = Recorder()
            assert [h.address for h in cp.search(NEEDLE, progress=second)] == [last]
            second.check(PAGE)
    finally:
        os.sched_setaffinity(0, cpus)


def test_checkpoint_memory_reports_its_index_build(runs):
    path, last = runs
    pagemap = (path / "pagemap-1.img").stat().st_size
    with criu_images.open(path) as cp:
        progress = Recorder()
        memory = cp.memory(1, progress=progress)
        progress.check(2 * pagemap, unit=1 << 20)
        # Built once: the next call has nothing to count.
        progress = Recorder()
        assert cp.memory(1, progress=progress).pid == 1
        assert progress.calls == [(0, 0)]
        # Its searches count only what they search.
        progress = Recorder()
        assert [h.address for h in memory.search(NEEDLE, progress=progress)] == [last]
        progress.check(PAGE)


def test_ctrl_c_stops_the_index_build_of_a_first_search(runs):
    path, last = runs
    with criu_images.open(path) as cp:
        start = time.monotonic()
        assert len(cp.search(NEEDLE)) == 1
        whole = time.monotonic() - start
    with criu_images.open(path) as cp:
        progress = Recorder()
        ctrl_c = threading.Timer(whole / 4, _thread.interrupt_main)
        start = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            ctrl_c.start()
            cp.search(NEEDLE, progress=progress)
        interrupted = time.monotonic() - start
        ctrl_c.join()
        # Stopped during the build (checked every 65,536 runs, a signal
        # seen within 0.1 s), not after it: the search never began (its
        # bytes would have joined the total). The bar counts each pagemap
        # byte twice: parsed, then its runs walked.
        assert interrupted < 0.75 * whole, (interrupted, whole)
        pagemap = (path / "pagemap-1.img").stat().st_size
        assert all(t == 2 * pagemap for _, t in progress.calls), progress.calls
        # Nothing half built was kept: the search works afterwards.
        assert [h.address for h in cp.search(NEEDLE)] == [last]
