"""The checkpoint API against the fixtures' ground truth (truth.json, captured
from /proc right before each dump), with the same comparison rules as
criu-images/tests/model_truth.rs and memory_truth.rs."""

import gc
import json
import pathlib
import shutil
import subprocess
import sys
import tarfile
import threading
import tracemalloc

import pytest

import criu_images

FIXTURES = pathlib.Path(__file__).resolve().parent.parent / "fixtures"
K8S_TAR = next((FIXTURES / "k8s-counter").glob("*.tar"))

# (name, path, format, truth.json)
CHECKPOINTS = [
    ("counter/none", FIXTURES / "counter/none/checkpoint.tar", "tar", "counter/none/truth.json"),
    ("counter/gzip", FIXTURES / "counter/gzip/checkpoint.tar.gz", "tar.gz", "counter/gzip/truth.json"),
    ("counter/zstd", FIXTURES / "counter/zstd/checkpoint.tar.zst", "tar.zst", "counter/zstd/truth.json"),
    ("k8s-counter", K8S_TAR, "tar", "k8s-counter/truth.json"),
    ("pytree", FIXTURES / "pytree/checkpoint.tar.gz", "tar.gz", "pytree/truth.json"),
    ("threads", FIXTURES / "threads/checkpoint.tar.zst", "tar.zst", "threads/truth.json"),
    ("pytree-host", FIXTURES / "pytree-host/images.tar.zst", "tar.zst", "pytree-host/truth.json"),
    ("counter-host", FIXTURES / "counter-host/images", "directory", "counter-host/truth.json"),
    ("predump", FIXTURES / "predump/dump", "directory", "predump/truth.json"),
]


@pytest.fixture(scope="module", params=CHECKPOINTS, ids=[c[0] for c in CHECKPOINTS])
def opened(request):
    name, path, fmt, truth = request.param
    with criu_images.open(path) as cp:
        yield name, cp, fmt, json.loads((FIXTURES / truth).read_text())


def test_opens_every_format(opened):
    name, cp, fmt, truth = opened
    assert cp.format == fmt
    assert not cp.closed
    assert sorted(cp.pids) == sorted(p["vpid"] for p in truth["processes"])
    assert "pstree.img" in cp.images()
    assert any(m.name.endswith("pstree.img") for m in cp.members())
    assert cp.image("pstree.img").magic == "PSTREE"


def test_decoded_dicts_equal_the_json_text(opened):
    # decode_all, Image iteration and decode build dicts from decoded values
    # directly; they must equal json.loads of the JSON text (itself checked
    # against crit byte for byte in the Rust tests), in every mode.
    name, cp, _, _ = opened
    for pretty, nopl in [(False, False), (True, False), (True, True)]:
        decoded = cp.decode_all(pretty=pretty, nopl=nopl)
        assert len(decoded) >= 10, name
        for image_name, doc in decoded.items():
            image = cp.image(image_name)
            text = json.loads(image.to_json(pretty=pretty, nopl=nopl))
            assert doc == text, (name, image_name, pretty, nopl)
            assert list(image.entries(pretty=pretty, nopl=nopl)) == text["entries"], (name, image_name)


def test_processes_match_truth(opened):
    name, cp, _, truth = opened
    failures = []
    processes = {p.pid: p for p in cp.processes}
    for want in truth["processes"]:
        vpid = want["vpid"]
        got = processes.get(vpid)
        assert got is not None, f"{name}: no process {vpid}"
        assert cp.process(vpid).pid == vpid

        def check(what, ok, detail):
            if not ok:
                failures.append(f"{name} pid {vpid}: {what}: {detail}")

        # The root task's parent is outside the checkpoint: CRIU stores 0.
        root = truth["root_pid"] == want["pid"]
        check("ppid", got.ppid == (0 if root else want["vppid"]), (got.ppid, want["vppid"]))
        check("pgid", got.pgid == want["vpgid"], got.pgid)
        check("sid", got.sid == want["vsid"], got.sid)
        check("comm", got.comm == want["comm"], got.comm)
        check("state", got.state == "alive", got.state)
        check("threads", sorted(t.tid for t in got.threads) == sorted(want["vtids"]), [t.tid for t in got.threads])
        check("main thread first", got.threads[0].tid == vpid, got.threads[0].tid)
        check("cmdline", got.cmdline == want["cmdline"], got.cmdline)
        check("environ", [f"{k}={v}" for k, v in got.environ.items()] == want["environ"], got.environ)
        check("exe", got.exe == want["exe"], got.exe)
        check("cwd", got.cwd == want["cwd"], got.cwd)
        fds = {f.fd: f for f in got.fds}
        for fd, info in want["fds"].items():
            check(f"fd {fd}", int(fd) in fds and fds[int(fd)].path == info["target"], fds.get(int(fd)))
        # Every VMA except [vsyscall] (not dumped) and [vvar_vclock] (stored with [vvar]).
        vmas = {v.start: v for v in got.vmas}
        for m in want["maps"]:
            if m["path"] in ("[vsyscall]", "[vvar_vclock]"):
                continue
            path = m["path"] or None
            v = vmas.get(m["start"])
            ok = v is not None and (v.end == m["end"] or path == "[vvar]") and v.perms == m["perms"] and v.path == path
            check("vma", ok, (hex(m["start"]), m["perms"], path, v))
        creds = got.creds
        check("creds", creds is not None and creds.uid == got.threads[0].creds.uid, creds)
        check("registers", got.threads[0].registers.get("rip", 0) != 0, got.threads[0].registers)
        check("namespaces", set(got.namespaces) == {"pid", "net", "ipc", "uts", "mnt", "user", "cgroup", "time"}, got.namespaces)
        check("rlimits", any(r.name == "RLIMIT_NOFILE" for r in got.rlimits), got.rlimits)
    assert not failures, "\n".join(failures)


def test_to_dict_is_what_inspect_prints(opened):
    name, cp, _, truth = opened
    path = {c[0]: c[1] for c in CHECKPOINTS}[name]
    out = subprocess.run(
        [sys.executable, "-m", "criu_images", "inspect", str(path), "--format", "json"],
        check=True, capture_output=True, text=True,
    ).stdout
    printed = {p["pid"]: p for p in json.loads(out)["processes"]}
    for process in cp.processes:
        d = process.to_dict()
        assert d == printed[process.pid], f"{name}: {process.pid}"
        assert d["threads"] == [t.tid for t in process.threads]
        assert [t["tid"] for t in d["thread_details"]] == d["threads"]
    for want in truth["processes"]:
        got = cp.process(want["vpid"]).to_dict()
        root = truth["root_pid"] == want["pid"]
        assert got["comm"] == want["comm"] and got["ppid"] == (0 if root else want["vppid"])


def test_every_marker_is_found_at_its_address(opened):
    name, cp, _, truth = opened
    checked = 0
    for process in truth["processes"]:
        memory = cp.memory(process["vpid"])
        assert memory.pid == process["vpid"]
        assert memory.page_size == truth["page_size"]
        for marker in process["markers"]:
            addr, value = marker["addr"], marker["value"].encode()
            if marker["mapping_perms"].endswith("s") and marker["mapping_path"].startswith("/"):
                # A shared file mapping: its pages are the file's, not in the checkpoint's
                # pages; by default they come from rootfs-diff.tar when it has the file.
                diff = cp.rootfs_diff
                if diff is not None and marker["mapping_path"] in diff:
                    assert memory.read(addr, len(value)) == value, f"{name}: marker at {addr:#x}"
                    assert addr in [h.address for h in memory.search(value)]
                    checked += 1
                plain = cp.memory(process["vpid"], rootfs="none")
                with pytest.raises(criu_images.MemoryReadError, match="file-backed") as err:
                    plain.read(addr, len(value))
                assert err.value.pid == process["vpid"] and err.value.address == addr
                continue
            assert memory.read(addr, len(value)) == value, f"{name}: marker at {addr:#x}"
            hits = memory.search(value)
            assert addr in [h.address for h in hits], f"{name}: {value!r} not found at {addr:#x}"
            hit = next(h for h in hits if h.address == addr)
            assert hit.pid == process["vpid"] and hit.match == value
            assert hit.vma.start <= addr < hit.vma.end and hit.vma.perms == marker["mapping_perms"]
            assert hit.vma.path == (marker["mapping_path"] or None)
            checked += 1
        # The same markers through one regular expression over the whole checkpoint.
        regexes = {m["regex"] for m in process["markers"] if m.get("regex") and not m["mapping_perms"].endswith("s")}
        for regex in regexes:
            found = {(h.pid, h.address) for h in cp.search(regex, regex=True, pid=process["vpid"])}
            for marker in process["markers"]:
                if marker.get("regex") == regex and not marker["mapping_perms"].endswith("s"):
                    assert (process["vpid"], marker["addr"]) in found, f"{name}: regex {regex}"
    assert checked >= 1


def test_peeks_read_back(opened):
    name, cp, _, truth = opened
    vpid_of = {p["pid"]: p["vpid"] for p in truth["processes"]}
    for peek in truth["peeks"].values():
        memory = cp.memory(vpid_of[peek["pid"]])
        assert memory.read(peek["addr"], peek["len"]).hex() == peek["hex"], name
        assert bytes(memory.view(peek["addr"], peek["len"])).hex() == peek["hex"], name


def test_regions_count_pages(opened):
    name, cp, _, truth = opened
    memory = cp.memory(truth["processes"][0]["vpid"])
    regions = memory.regions()
    assert [r.start for r in regions] == sorted(r.start for r in regions)
    for r in regions:
        pages = r.pages_dumped + r.pages_zero + r.pages_missing + r.pages_from_file
        assert pages == (r.end - r.start) // memory.page_size, r
        assert r.size == r.end - r.start
    assert sum(r.pages_dumped for r in regions) > 0
    assert any(r.kind == "heap" for r in regions) or name.startswith("predump")


def threads_region():
    info = json.loads((FIXTURES / "threads/truth.json").read_text())["program_info"]["threads.info"]
    kv = dict(line.split("=", 1) for line in info.splitlines() if "=" in line and " " not in line)
    return int(kv["region_addr"], 16), int(kv["fill_size"], 16)


def test_view_of_a_dumped_run_is_zero_copy():
    addr, size = threads_region()
    assert size == 4 << 20
    with criu_images.open(FIXTURES / "threads/checkpoint.tar.zst") as cp:
        memory = cp.memory(1)
        memory.view(addr, 16)  # the buffer type is made once
        tracemalloc.start()
        try:
            before = tracemalloc.take_snapshot()
            view = memory.view(addr, size)
            peak = tracemalloc.get_traced_memory()[1]
            after = tracemalloc.take_snapshot()
        finally:
            tracemalloc.stop()
        grown = sum(s.size_diff for s in after.compare_to(before, "filename"))
        assert peak < 64 * 1024 and grown < 64 * 1024, (peak, grown)
        assert view.readonly and view.nbytes == size and view.format == "B" and view.shape == (size,)
        assert isinstance(view.obj, criu_images.PagesBuffer)
        assert "size=4194304" in repr(view.obj)
        with pytest.raises(TypeError):
            view[0] = 1
        assert bytes(view) == memory.read(addr, size)
        assert bytes(view[4096:4100]) == memory.read(addr + 4096, 4)
        with pytest.raises(TypeError):
            criu_images.PagesBuffer()
    # The view keeps the pages mapped after the checkpoint and memory are gone.
    del memory, cp
    gc.collect()
    assert view[0x10:0x10 + 13].tobytes() == b"REGION-MARKER"


def test_view_of_a_range_that_is_not_one_run_is_a_copy():
    addr, size = threads_region()
    with criu_images.open(FIXTURES / "threads/checkpoint.tar.zst") as cp:
        memory = cp.memory(1)
        # The fill run ends where never-written (zero) pages begin.
        start, length = addr + size - 4096, 3 * 4096
        view = memory.view(start, length)
        assert isinstance(view.obj, bytes) and view.readonly
        assert bytes(view) == memory.read(start, length)
        assert bytes(view[4096:]) == bytes(2 * 4096)


def test_process_memory_and_search_reuse_one_index():
    with criu_images.open(FIXTURES / "pytree/checkpoint.tar.gz") as cp:
        process = cp.process(1)
        memory = process.memory
        assert memory.pid == 1
        heap_hits = memory.search(b"5135a665e892afcc", kind="heap")
        assert heap_hits and all(h.vma.path == "[heap]" for h in heap_hits)
        assert all(h.vma.perms.startswith("rw") for h in memory.search(b"5135a665e892afcc", perms="rw"))
        assert len(memory.search(b"5135a665e892afcc", max_hits=1)) == 1
        every = cp.search(b"5135a665e892afcc")
        assert {h.pid for h in every} == set(cp.pids) == {1, 6, 7}
        assert len(cp.search(b"5135a665e892afcc", max_hits=3)) == 3
        hit = memory.search(b"5135a665e892afcc", context=8)[0]
        assert hit.context_start == hit.address - 8
        assert hit.context == memory.read(hit.context_start, len(hit.context))
        assert isinstance(every, criu_images.SearchResults) and isinstance(every, list)
        assert "<table>" in every._repr_html_()


def test_search_iter_and_strings_iter_stream_what_the_lists_hold():
    with criu_images.open(FIXTURES / "counter-host/images") as cp:
        memory = cp.memory(24152)
        key = lambda h: (h.address, h.match, h.context_start, h.context, h.vma.start)
        listed = memory.search(b"\0\0\0\0", context=4)
        assert len(listed) > 3000, "more hits than one batch"
        hits = memory.search_iter(b"\0\0\0\0", context=4)
        assert iter(hits) is hits
        first = next(hits)
        assert [key(first)] + [key(h) for h in hits] == [key(h) for h in listed]
        assert [h.address for h in listed] == sorted(h.address for h in listed)
        assert [key(h) for h in memory.search_iter(rb"\x00{4}", regex=True, context=4, max_hits=5)] == [key(h) for h in listed[:5]]
        both = ("ascii", "utf-16le")
        strings = [(s.address, s.text, s.encoding) for s in memory.strings(4, both)]
        assert [(s.address, s.text, s.encoding) for s in memory.strings_iter(4, both)] == strings
        assert [s[0] for s in strings] == sorted(s[0] for s in strings)
        with pytest.raises(ValueError):
            memory.strings_iter(4, ["ebcdic"])


def test_strings_find_markers_at_their_addresses():
    truth = json.loads((FIXTURES / "counter-host/truth.json").read_text())
    with criu_images.open(FIXTURES / "counter-host/images") as cp:
        memory = cp.memory(24152)
        strings = {(s.address, s.text) for s in memory.strings(min_len=8)}
        for marker in truth["processes"][0]["markers"]:
            assert any(addr <= marker["addr"] and marker["value"] in text for addr, text in strings)
        assert [(s.address, s.text) for s in memory.strings(8, "ascii")] == [(s.address, s.text) for s in memory.strings(8)]
        wide = memory.strings(6, ("ascii", "utf-16le"), kind=["heap", "stack"])
        assert all(s.encoding in ("ascii", "utf-16le") for s in wide)
        with pytest.raises(ValueError):
            memory.strings(4, ["ebcdic"])


def test_read_cstring_and_dump(tmp_path):
    truth = json.loads((FIXTURES / "counter-host/truth.json").read_text())
    marker = truth["processes"][0]["markers"][0]
    with criu_images.open(FIXTURES / "counter-host/images") as cp:
        memory = cp.memory(24152)
        assert memory.read_cstring(marker["addr"], max=len(marker["value"])) == marker["value"].encode()
        heap = next(r for r in memory.regions() if r.kind == "heap")
        out = tmp_path / "heap.bin"
        summary = memory.dump(out, vma=heap)
        assert summary["start"] == heap.start and summary["size"] == heap.size
        assert out.stat().st_size == heap.size
        assert summary["dumped"] == heap.pages_dumped * memory.page_size
        data = out.read_bytes()
        offset = marker["addr"] - heap.start
        assert data[offset:offset + len(marker["value"])] == marker["value"].encode()
        small = memory.dump(tmp_path / "small.bin", addr=marker["addr"], size=16)
        assert (tmp_path / "small.bin").read_bytes() == memory.read(marker["addr"], 16) and small["size"] == 16
        with pytest.raises(ValueError):
            memory.dump(tmp_path / "x.bin")
        with pytest.raises(criu_images.MemoryReadError):
            memory.dump(tmp_path / "x.bin", vma=0)


def test_rootfs_diff_and_rootfs_directory(tmp_path):
    truth = json.loads((FIXTURES / "pytree/truth.json").read_text())
    marker = next(m for m in truth["processes"][0]["markers"] if m["mapping_path"] == "/data/run/mapped-shared.bin")
    addr, value = marker["addr"], marker["value"].encode()
    # A library mapping outside the diff (the host's /usr was bind-mounted).
    lib = next(m for m in truth["processes"][0]["maps"] if m["path"].endswith("/mmap.cpython-311-x86_64-linux-gnu.so") and m["perms"] == "r-xp")
    with criu_images.open(FIXTURES / "pytree/checkpoint.tar.gz") as cp:
        diff = cp.rootfs_diff
        assert diff is not None and len(diff) > 0
        assert "data/run/mapped-shared.bin" in [m.name for m in diff.members()]
        assert "/data/run/mapped-shared.bin" in diff
        contents = diff.read("/data/run/mapped-shared.bin")
        with pytest.raises(criu_images.NotFoundError):
            diff.read("/no/such/file")
        # By default the MAP_SHARED file mapping reads from rootfs-diff.tar.
        default = cp.memory(1)
        assert default.rootfs == "auto"
        assert default.read(addr, len(value)) == value
        hit = next(h for h in cp.search(value, pid=1) if h.address == addr)
        # The hit says its bytes are the file's, from rootfs-diff.tar.
        assert hit.origins == [(addr, addr + len(value), "rootfs-diff")]
        assert any(h.address == addr for h in cp.process(1).memory.search(value))
        with pytest.raises(criu_images.MemoryReadError):
            cp.memory(1, rootfs="none").read(addr, len(value))
        assert cp.memory(1, rootfs="none").rootfs is None
        assert not any(h.address == addr for h in cp.search(value, pid=1, rootfs="none"))
        filled = cp.memory(1, rootfs="diff")
        assert filled.rootfs == "diff"
        assert filled.read(addr, len(value)) == value
        assert sum(r.pages_from_file for r in filled.regions()) > 0
        with pytest.raises(criu_images.MemoryReadError):
            filled.read(lib["start"], 16)
        # A directory adds the files the diff does not have; the diff wins for the others.
        root = tmp_path / "root"
        (root / "data/run").mkdir(parents=True)
        (root / "data/run/mapped-shared.bin").write_bytes(b"X" * len(contents))
        library = root / lib["path"].lstrip("/")
        library.parent.mkdir(parents=True)
        library.write_bytes(bytes(i % 251 for i in range(lib["offset"] + lib["end"] - lib["start"])))
        for given in (root, str(root)):
            memory = cp.memory(1, rootfs=given)
            assert memory.rootfs == str(root)
            assert memory.read(addr, len(value)) == value
            # Its r-xp pages were never written (none dumped): the directory's bytes at the file offset.
            at = lib["offset"] + 4096
            assert memory.read(lib["start"] + 4096, 16) == bytes(i % 251 for i in range(at, at + 16))
    # open(rootfs=...) sets the default of every memory call.
    with criu_images.open(FIXTURES / "pytree/checkpoint.tar.gz", rootfs="none") as cp:
        assert cp.memory(1).rootfs is None
        with pytest.raises(criu_images.MemoryReadError):
            cp.memory(1).read(addr, len(value))
        with pytest.raises(criu_images.MemoryReadError):
            cp.process(1).memory.read(addr, len(value))
        assert cp.memory(1, rootfs="auto").read(addr, len(value)) == value
    with criu_images.open(FIXTURES / "counter-host/images") as cp:
        assert cp.rootfs_diff is None
        assert cp.memory(24152).rootfs == "auto"
        with pytest.raises(criu_images.NotFoundError, match="rootfs-diff.tar"):
            cp.memory(24152, rootfs="diff")


def test_images_iterate_as_crit_json(tmp_path):
    host = FIXTURES / "counter-host"
    with criu_images.open(host / "images") as cp:
        names = [n for n in cp.images() if n.endswith(".img") and not n.startswith("pages-")]
        assert len(names) >= 10
        for name in names:
            plain = (host / "decoded-crit-4.x-plain" / f"{name}.json").read_text()
            pretty = (host / "decoded-crit-4.x" / f"{name}.json").read_text()
            image = cp.image(name)
            assert image.name == name and image.magic == json.loads(plain)["magic"]
            assert list(image) == json.loads(plain)["entries"], name
            assert list(image.entries(pretty=True)) == json.loads(pretty)["entries"], name
            assert len(image) == len(json.loads(plain)["entries"])
            assert image.to_json() == plain and image.to_json(pretty=True) == pretty
            assert image.size == (host / "images" / name).stat().st_size
        with pytest.raises(criu_images.FormatError, match="raw data"):
            cp.image("pages-1.img")
    with criu_images.open(FIXTURES / "threads/checkpoint.tar.zst") as cp:
        golden = json.loads((FIXTURES / "threads/decoded-crit-4.x-plain/core-1.img.json").read_text())
        assert list(cp.image("core-1.img")) == golden["entries"]
        assert cp.member("checkpoint/pstree.img") == cp.member("./checkpoint//pstree.img")
    with criu_images.open(host / "images" / "pstree.img") as cp:
        assert cp.format == "file" and cp.images() == ["pstree.img"] and cp.pids == [24152]


def test_closed_checkpoint_raises_and_handed_out_objects_live_on():
    cp = criu_images.open(FIXTURES / "counter/zstd/checkpoint.tar.zst")
    memory = cp.memory(1)
    image = cp.image("pstree.img")
    process = cp.process(1)
    marker = json.loads((FIXTURES / "counter/zstd/truth.json").read_text())["processes"][0]["markers"][0]
    view = memory.view(marker["addr"], len(marker["value"]))
    cp.close()
    cp.close()  # twice is fine
    assert cp.closed and "closed" in repr(cp)
    for use in [
        lambda: cp.pids,
        lambda: cp.processes,
        lambda: cp.process(1),
        lambda: cp.memory(1),
        lambda: cp.search(b"x"),
        lambda: cp.images(),
        lambda: cp.image("pstree.img"),
        lambda: cp.members(),
        lambda: cp.member("checkpoint/pstree.img"),
        lambda: cp.rootfs_diff,
        lambda: process.memory,
    ]:
        with pytest.raises(criu_images.CriuImagesError, match="closed"):
            use()
    assert cp._repr_html_().startswith("<p>")
    # Objects handed out before keep their own reference to the data.
    assert process.pid == 1 and process.cmdline
    assert memory.read(marker["addr"], len(marker["value"])) == marker["value"].encode()
    assert list(image)[0]["pid"] == 1
    del cp, memory, image, process
    gc.collect()
    assert bytes(view) == marker["value"].encode()


def test_context_manager_closes():
    with criu_images.open(FIXTURES / "counter-host/images") as cp:
        assert cp.pids == [24152]
    assert cp.closed


def write_tar(path, members):
    with tarfile.open(path, "w") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            import io

            tar.addfile(info, io.BytesIO(data))


def test_errors_are_typed_and_say_where(tmp_path):
    with pytest.raises(criu_images.NotFoundError) as err:
        criu_images.open(tmp_path / "missing.tar")
    assert err.value.file == str(tmp_path / "missing.tar")
    assert issubclass(criu_images.NotFoundError, criu_images.CriuImagesError)

    # A tar whose second header has a broken checksum.
    bad = tmp_path / "bad.tar"
    write_tar(bad, [("checkpoint/inventory.img", b"x" * 10), ("checkpoint/pstree.img", b"y" * 10)])
    data = bytearray(bad.read_bytes())
    data[1024 + 148] ^= 0x01
    bad.write_bytes(bytes(data))
    with pytest.raises(criu_images.ArchiveError, match=r"bad\.tar: offset 1024") as err:
        criu_images.open(bad)
    assert err.value.file == str(bad) and err.value.offset == 1024

    # Decompression beyond the limit: LimitError, a kind of ArchiveError.
    with pytest.raises(criu_images.LimitError, match="exceeds the limit of 4096 bytes") as err:
        criu_images.open(FIXTURES / "counter/gzip/checkpoint.tar.gz", max_decompressed=4096)
    assert isinstance(err.value, criu_images.ArchiveError)

    # A truncated image in an images directory.
    images = tmp_path / "images"
    shutil.copytree(FIXTURES / "counter-host/images", images)
    mm = images / "mm-24152.img"
    mm.write_bytes(mm.read_bytes()[:-10])
    with criu_images.open(images) as cp:
        with pytest.raises(criu_images.FormatError, match=r"mm-24152\.img: offset 12 \(entry 0\): truncated") as err:
            list(cp.image("mm-24152.img"))
        assert err.value.file.endswith("mm-24152.img") and err.value.offset == 12 and err.value.entry == 0
        with pytest.raises(criu_images.FormatError, match="mm-24152.img"):
            cp.memory(24152)
        with pytest.raises(criu_images.NotFoundError, match="no-such.img"):
            cp.image("no-such.img")
        with pytest.raises(criu_images.NotFoundError, match="member nope"):
            cp.member("nope")

    with criu_images.open(FIXTURES / "counter-host/images") as cp:
        with pytest.raises(criu_images.NotFoundError, match="process 99"):
            cp.process(99)
        with pytest.raises(criu_images.NotFoundError, match="process 99"):
            cp.search(b"x", pid=99)
        memory = cp.memory(24152)
        with pytest.raises(criu_images.MemoryReadError, match="not mapped") as err:
            memory.read(0x10, 4)
        assert err.value.address == 0x10 and err.value.pid == 24152
        with pytest.raises(criu_images.PatternError):
            memory.search("(unclosed", regex=True)
        with pytest.raises(criu_images.PatternError):
            memory.search(b"\xff(", regex=True)
        with pytest.raises(ValueError, match="unknown kind"):
            memory.search(b"x", kind="nope")
        with pytest.raises(TypeError):
            memory.search(12345)


def test_search_from_two_threads():
    with criu_images.open(FIXTURES / "pytree/checkpoint.tar.gz") as cp:
        memory = cp.memory(1)
        pattern = rb"API_KEY=sk-test-[0-9a-f]{24}"
        want_memory = [(h.address, h.match) for h in memory.search(pattern, regex=True)]
        want_all = [(h.pid, h.address) for h in cp.search(pattern, regex=True)]
        want_decoded = cp.decode_all()
        results, errors = [], []

        def work():
            try:
                for _ in range(5):
                    results.append([(h.address, h.match) for h in memory.search(pattern, regex=True)])
                    results.append([(h.pid, h.address) for h in cp.search(pattern, regex=True)])
                    cp.memory(6).strings(8)
                    # decode_all pauses the garbage collector: two at once
                    # must leave it as it was.
                    assert cp.decode_all() == want_decoded
                    assert list(cp.image("pstree.img")) == want_decoded["pstree.img"]["entries"]
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        assert want_memory and want_all
        assert results.count(want_memory) == 10 and results.count(want_all) == 10
        assert gc.isenabled()


def test_decode_leaves_the_garbage_collector_as_it_was():
    with criu_images.open(FIXTURES / "counter-host/images") as cp:
        assert gc.isenabled()
        cp.decode_all()
        criu_images.decode(FIXTURES / "counter-host/images/mm-24152.img")
        assert gc.isenabled()
        with pytest.raises(ZeroDivisionError):
            cp.decode_all(progress=lambda done, total: 1 / 0)
        assert gc.isenabled()
        gc.disable()
        try:
            cp.decode_all()
            assert not gc.isenabled()
        finally:
            gc.enable()


def test_reprs_and_html():
    with criu_images.open(FIXTURES / "pytree/checkpoint.tar.gz") as cp:
        process = cp.process(1)
        memory = process.memory
        objects = [
            cp,
            process,
            memory,
            cp.image("pstree.img"),
            iter(cp.image("pstree.img")),
            cp.members()[0],
            cp.rootfs_diff,
            memory.regions()[0],
            memory.search(b"5135a665e892afcc")[0],
            memory.search(b"5135a665e892afcc")[0].vma,
            memory.strings()[0],
            process.threads[0],
            process.creds,
            process.vmas[0],
            process.fds[0],
            process.rlimits[0],
        ] + process.sigactions[:1]
        for obj in objects:
            text = repr(obj)
            assert text.startswith("<") and type(obj).__name__ in text, text
        for obj in (cp, process, memory):
            html = obj._repr_html_()
            assert "<table>" in html
        assert "[heap]" in memory._repr_html_()
        assert "pytree" in cp._repr_html_()


def test_overlapping_memory_areas_raise_format_error_not_panic(tmp_path):
    # predump's dump with one extra area overlapping an existing one, as a
    # hostile mm image would have it: a FormatError naming the image, never
    # a PanicException, from memory(), search() and the vmas table.
    dump = tmp_path / "dump"
    dump.mkdir()
    for f in (FIXTURES / "predump/dump").iterdir():
        if f.is_file() and not f.is_symlink():
            shutil.copy(f, dump / f.name)
    mm = criu_images.decode((dump / "mm-25946.img").read_bytes())
    mm["entries"][0]["vmas"].append(dict(mm["entries"][0]["vmas"][4]))
    (dump / "mm-25946.img").write_bytes(criu_images.encode(mm))
    with criu_images.open(dump) as cp:
        for call in (lambda: cp.memory(25946), lambda: cp.search(b"x"), lambda: cp.process(25946).memory):
            with pytest.raises(criu_images.FormatError, match="overlaps") as err:
                call()
            assert err.value.file.endswith("mm-25946.img") and err.value.entry == 0


def _k8s_copy(tmp_path, name):
    """The k8s-counter checkpoint (CRI-O layout) unpacked into a directory."""
    out = tmp_path / name
    # The "data" filter where this Python has it (3.12, and backports).
    safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
    with tarfile.open(K8S_TAR) as tar:
        tar.extractall(out, **safe)
    return out


def test_checkpoint_warnings(tmp_path):
    with criu_images.open(_k8s_copy(tmp_path, "intact")) as cp:
        assert cp.warnings == []
    spoiled = _k8s_copy(tmp_path, "spoiled")
    (spoiled / "config.dump").write_bytes(b'{"id": ')
    (spoiled / "stats-dump").write_bytes(b"oooooooooooo")
    with criu_images.open(spoiled) as cp:
        warnings = cp.warnings
        assert isinstance(warnings, list) and len(warnings) == 2, warnings
        assert warnings[0].startswith("container metadata left out: config.dump: line 1, column ")
        assert warnings[1].startswith("CRIU dump statistics left out: stats-dump: offset 0: unknown image magic")
        # The rest still reads; the part itself raises when asked for.
        process = cp.processes[0]
        assert process.cmdline and process.pid == 1
        with pytest.raises(criu_images.CriuImagesError, match="config.dump"):
            cp.container


def test_decode_all_is_the_command_lines_decode_all(tmp_path):
    # One pipeline: the same images (an .img with an unknown magic left out
    # by both, raw pages too) with the same values as the files the command
    # line writes.
    images = tmp_path / "images"
    shutil.copytree(FIXTURES / "counter-host/images", images)
    (images / "core-9.img").write_bytes(b"\x01\x02\x03\x04\x05\x06\x07\x08rest")
    out = tmp_path / "json"
    run = subprocess.run(
        [sys.executable, "-m", "criu_images", "decode-all", str(images), "-o", str(out)], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    assert "warning: core-9.img not decoded" in run.stderr
    files = {p.name[: -len(".json")]: json.loads(p.read_text()) for p in out.iterdir()}
    with criu_images.open(images) as cp:
        decoded = cp.decode_all()
    assert sorted(decoded) == list(decoded) == sorted(files)
    assert "pstree.img" in decoded and "core-9.img" not in decoded and not any(n.startswith("pages-") for n in decoded)
    assert decoded == files
