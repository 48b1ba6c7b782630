"""Tables (Checkpoint.to_arrow / to_pandas, SearchResults.to_arrow /
to_pandas) against the object API and the fixtures' truth.json."""

import json
import pathlib
import sys

import pandas as pd
import pyarrow as pa
import pytest

import criu_images

FIXTURES = pathlib.Path(__file__).resolve().parent.parent / "fixtures"
K8S_TAR = next((FIXTURES / "k8s-counter").glob("*.tar"))

CHECKPOINTS = [
    ("counter/zstd", FIXTURES / "counter/zstd/checkpoint.tar.zst", "counter/zstd/truth.json"),
    ("k8s-counter", K8S_TAR, "k8s-counter/truth.json"),
    ("pytree", FIXTURES / "pytree/checkpoint.tar.gz", "pytree/truth.json"),
    ("threads", FIXTURES / "threads/checkpoint.tar.zst", "threads/truth.json"),
    ("counter-host", FIXTURES / "counter-host/images", "counter-host/truth.json"),
    ("predump", FIXTURES / "predump/dump", "predump/truth.json"),
]


@pytest.fixture(scope="module", params=CHECKPOINTS, ids=[c[0] for c in CHECKPOINTS])
def opened(request):
    name, path, truth = request.param
    with criu_images.open(path) as cp:
        yield name, cp, json.loads((FIXTURES / truth).read_text())


def rows(table):
    """The rows without their `checkpoint` column, which holds one id."""
    got = table.to_pylist()
    assert table.column_names[0] == "checkpoint" and len({r.pop("checkpoint") for r in got}) <= 1
    return got


def test_processes_table_equals_objects_and_truth(opened):
    name, cp, truth = opened
    table = cp.to_arrow("processes")
    assert table.schema.field("pid").type == pa.uint32()
    assert table.schema.field("cmdline").type == pa.large_list(pa.large_string())
    got = rows(table)
    assert [r["pid"] for r in got] == [p.pid for p in cp.processes]
    for row, p in zip(got, cp.processes):
        assert (row["ppid"], row["pgid"], row["sid"], row["state"], row["comm"]) == (p.ppid, p.pgid, p.sid, p.state, p.comm)
        assert (row["exe"], row["cwd"], row["root"], row["exit_code"]) == (p.exe, p.cwd, p.root, p.exit_code)
        assert row["cmdline"] == p.cmdline
        assert row["environ"] == list(p.environ.items())
        assert row["threads"] == len(p.threads) and row["vmas"] == len(p.vmas) and row["fds"] == len(p.fds)
        assert (row["uid"], row["euid"], row["gid"], row["egid"]) == (p.creds.uid, p.creds.euid, p.creds.gid, p.creds.egid)
        assert row["cap_effective"] == p.creds.cap_effective and row["no_new_privs"] == p.creds.no_new_privs
        assert row["seccomp"] == p.threads[0].seccomp
        assert {k[3:]: row[k] for k in row if k.startswith("ns_")} == p.namespaces
    by_pid = {r["pid"]: r for r in got}
    for want in truth["processes"]:
        row = by_pid[want["vpid"]]
        assert row["comm"] == want["comm"] and row["cmdline"] == want["cmdline"], name
        assert [f"{k}={v}" for k, v in row["environ"]] == want["environ"], name
        assert row["threads"] == len(want["vtids"]), name


def test_vmas_table_equals_regions_and_truth(opened):
    name, cp, truth = opened
    table = cp.to_arrow("vmas")
    assert table.schema.field("start").type == pa.uint64()
    got = rows(table)
    want = []
    for pid in cp.pids:
        if cp.process(pid).state in ("dead", "zombie"):
            continue
        memory = cp.memory(pid)
        for r in memory.regions():
            want.append({
                "pid": pid, "start": r.start, "end": r.end, "size": r.size, "perms": r.perms, "offset": r.offset,
                "path": r.path, "kind": r.kind, "pages_dumped": r.pages_dumped, "pages_zero": r.pages_zero,
                "pages_missing": r.pages_missing, "pages_from_file": r.pages_from_file,
                "pages_from_rootfs_diff": r.pages_from_rootfs_diff, "pages_from_rootfs_dir": r.pages_from_rootfs_dir,
            })
    assert got == want
    # Every mapping /proc showed (except those CRIU does not dump or stores with [vvar]).
    starts = {(r["pid"], r["start"]): r for r in got}
    for process in truth["processes"]:
        for m in process["maps"]:
            if m["path"] in ("[vsyscall]", "[vvar_vclock]"):
                continue
            row = starts.get((process["vpid"], m["start"]))
            assert row is not None and row["perms"] == m["perms"] and row["path"] == (m["path"] or None), (name, m)


def test_fds_table_equals_objects_and_truth(opened):
    name, cp, truth = opened
    got = rows(cp.to_arrow("fds"))
    want = []
    for p in cp.processes:
        for f in p.fds:
            details = [(k, ",".join(v) if isinstance(v, list) else str(v).lower() if isinstance(v, bool) else str(v)) for k, v in f.details.items()]
            row = {"pid": p.pid, "fd": f.fd, "type": f.type, "path": f.path, "file_id": f.file_id, "flags": f.flags, "details": details}
            # Typed copies of the details tables are filtered by (null where a file has none).
            row.update({k: f.details.get(k) for k in ("pos", "size", "inode", "buffered_bytes", "queued_bytes", "deleted")})
            want.append(row)
    assert got == want
    paths = {(r["pid"], r["fd"]): r["path"] for r in got}
    for process in truth["processes"]:
        for fd, info in process["fds"].items():
            assert paths[(process["vpid"], int(fd))] == info["target"], (name, fd)


def test_sockets_table_matches_truth():
    truth = json.loads((FIXTURES / "pytree/truth.json").read_text())
    with criu_images.open(FIXTURES / "pytree/checkpoint.tar.gz") as cp:
        table = cp.to_arrow("sockets")
        got = rows(table)
        assert table.schema.field("local_port").type == pa.int64()
        # Exactly the descriptors /proc showed as sockets.
        want_fds = {(p["vpid"], int(fd)) for p in truth["processes"] for fd, info in p["fds"].items() if info["target"].startswith("socket:")}
        assert {(r["pid"], r["fd"]) for r in got} == want_fds
        by_inode = {r["inode"]: r for r in got}
        for p in truth["processes"]:
            for fd, info in p["fds"].items():
                if info["target"].startswith("socket:"):
                    assert by_inode[int(info["target"][8:-1])]["pid"] == p["vpid"]
        tcp = [s for p in truth["processes"] for s in p["sockets"]["tcp"]]
        assert tcp
        for s in tcp:
            row = by_inode[s["inode"]]
            assert (row["fd_type"], row["family"], row["type"], row["protocol"]) == ("INETSK", "INET", "STREAM", "TCP")
            assert row["state"] == s["state_name"]
            assert (row["local_address"], row["local_port"]) == tuple(s["local"])
            assert (row["remote_address"], row["remote_port"]) == tuple(s["remote"])
            if s["state_name"] == "ESTABLISHED":
                assert row["inq_bytes"] == s["rx_queue"] and row["outq_bytes"] == s["tx_queue"]
        unix = [s for p in truth["processes"] for s in p["sockets"]["unix"]]
        assert unix
        for s in unix:
            row = by_inode[s["inode"]]
            assert row["fd_type"] == "UNIXSK" and row["type"] == "STREAM" and row["family"] is None
            assert by_inode[row["peer"]]["peer"] == s["inode"]  # a socketpair
        # The same facts as the descriptors' details.
        for p in cp.processes:
            for f in p.fds:
                if f.type.endswith("SK"):
                    row = next(r for r in got if (r["pid"], r["fd"]) == (p.pid, f.fd))
                    for key, value in f.details.items():
                        assert row[key] == value, key
                    assert all(row[k] is None for k in row if k not in f.details and k not in ("pid", "fd", "fd_type"))
    with criu_images.open(FIXTURES / "counter-host/images") as cp:
        assert cp.to_arrow("sockets").num_rows == 0
        assert cp.to_arrow("sockets").schema == table.schema


def test_pandas_tables_keep_types_and_missing_values():
    with criu_images.open(FIXTURES / "pytree/checkpoint.tar.gz") as cp:
        for kind in ("processes", "vmas", "fds", "sockets"):
            frame = cp.to_pandas(kind)
            arrow = cp.to_arrow(kind)
            assert list(frame.columns) == arrow.schema.names and len(frame) == arrow.num_rows
        vmas = cp.to_pandas("vmas")
        assert str(vmas["start"].dtype) == "UInt64"
        assert int(vmas["start"].max()) == max(r.start for p in cp.pids for r in cp.memory(p).regions())
        assert vmas["path"].isna().any() and not vmas["perms"].isna().any()
        processes = cp.to_pandas("processes").set_index("pid")
        assert processes.loc[1, "environ"] == cp.process(1).environ
        assert list(processes.loc[7, "cmdline"]) == cp.process(7).cmdline
        sockets = cp.to_pandas("sockets")
        assert str(sockets["local_port"].dtype) == "Int64"
        assert sockets["local_port"].isna().sum() == (sockets["fd_type"] == "UNIXSK").sum() > 0


def test_search_results_as_tables():
    truth = json.loads((FIXTURES / "counter/zstd/truth.json").read_text())
    marker = truth["processes"][0]["markers"][0]
    with criu_images.open(FIXTURES / "counter/zstd/checkpoint.tar.zst") as cp:
        hits = cp.search(marker["regex"], regex=True, context=8)
        table = hits.to_arrow()
        got = rows(table)
        assert got == [
            {
                "pattern": None, "pid": h.pid, "address": h.address, "match": h.match, "context_start": h.context_start, "context": h.context,
                "vma_start": h.vma.start, "vma_end": h.vma.end, "vma_perms": h.vma.perms, "vma_path": h.vma.path,
            }
            for h in hits
        ]
        found = next(r for r in got if r["address"] == marker["addr"])
        assert found["match"] == marker["value"].encode() and found["vma_path"] == marker["mapping_path"]
        assert found["vma_perms"] == marker["mapping_perms"]
        frame = hits.to_pandas()
        assert len(frame) == len(hits) and frame["address"].tolist() == [h.address for h in hits]
        assert str(frame["address"].dtype) == "UInt64"
        empty = cp.search(b"no such bytes anywhere in this checkpoint")
        assert empty.to_arrow().num_rows == 0 and empty.to_arrow().schema == table.schema
        with pytest.raises(TypeError):
            criu_images.SearchResults(["not a hit"]).to_arrow()


def test_bad_kinds_closed_checkpoints_and_missing_packages(monkeypatch):
    cp = criu_images.open(FIXTURES / "counter-host/images")
    with pytest.raises(ValueError, match="processes, threads, vmas, fds, sockets, connections, findings"):
        cp.to_arrow("nope")
    hits = cp.search(b"COUNTER")
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow now fails
    for call in (lambda: cp.to_arrow("processes"), lambda: cp.to_pandas("fds"), hits.to_arrow, hits.to_pandas):
        with pytest.raises(ImportError, match=r"needs pyarrow.*pip install 'criu-images\[tables\]'"):
            call()
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match="needs pyarrow and pandas; pyarrow and pandas are not installed: pip"):
        cp.to_pandas("fds")
    monkeypatch.setitem(sys.modules, "pyarrow", pa)
    with pytest.raises(ImportError) as missing:
        cp.to_pandas("vmas")
    assert str(missing.value) == (
        "Checkpoint.to_pandas() needs pyarrow and pandas; pandas is not installed: pip install 'criu-images[tables]'"
    )
    assert cp.to_arrow("vmas").num_rows > 0  # pyarrow alone is enough for Arrow
    cp.close()
    with pytest.raises(criu_images.CriuImagesError, match="closed"):
        cp.to_arrow("processes")


def test_container_metadata():
    with criu_images.open(K8S_TAR) as cp:
        container = cp.container
        assert container["engine"] == "CRI-O"
        assert (container["name"], container["pod"], container["namespace"]) == ("counter", "counters", "default")
        assert container["annotations"]["io.container.manager"] == "cri-o"
    with criu_images.open(FIXTURES / "counter/zstd/checkpoint.tar.zst") as cp:
        assert cp.container["engine"] == "Podman"
        assert "COUNTER_SECRET=" in " ".join(cp.container["create_command"])
    with criu_images.open(FIXTURES / "counter-host/images") as cp:
        assert cp.container is None
