"""Issue #17 in Python: the connection table, case-insensitive search, a
readable repr, and Ctrl-C in the CLI started through the Python entry point."""

import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import criu_images

FIXTURES = pathlib.Path(__file__).resolve().parent.parent / "fixtures"
PYTREE = FIXTURES / "pytree/checkpoint.tar.gz"
ATTACK = FIXTURES / "attack/checkpoint.tar.zst"


def test_connections_equal_the_cli_json_and_link_the_reverse_shell():
    with criu_images.open(ATTACK) as cp:
        rows = cp.connections()
    cli = subprocess.run(
        [sys.executable, "-m", "criu_images", "net", str(ATTACK), "--format", "json"],
        check=True, capture_output=True,
    )
    assert rows == json.loads(cli.stdout)["connections"]
    shell = [r for r in rows if r["comm"] == "sh"]
    assert [r["fd"] for r in shell] == [0, 1, 2]
    c2 = {(r["fd"]): r for r in rows if r["comm"] == "c2"}
    for row in shell:
        assert row["peers"] == [{"pid": c2[4]["pid"], "fd": 4}]
        assert row["listener"] == {"pid": c2[3]["pid"], "fd": 3}
        assert isinstance(row["local_port"], int) and row["peer_port"] == 4444


def test_connections_unix_pair_with_queued_bytes():
    with criu_images.open(PYTREE) as cp:
        rows = cp.connections()
    unix = {(r["pid"], r["fd"]): r for r in rows if r["family"] == "UNIX"}
    assert unix[(7, 18)]["peers"] == [{"pid": 1, "fd": 17}]
    assert unix[(1, 17)]["peers"] == [{"pid": 7, "fd": 18}]
    assert (unix[(7, 18)]["queued_packets"], unix[(7, 18)]["queued_bytes"]) == (1, len("UNIX-QUEUED-TO-SUB-5135a665e892afcc"))


def test_ignore_case_search():
    with criu_images.open(PYTREE) as cp:
        upper = {(h.pid, h.address) for h in cp.search(b"API_KEY=")}
        lower = {(h.pid, h.address) for h in cp.search(b"api_key=")}
        either = {(h.pid, h.address) for h in cp.search("api_key=", ignore_case=True)}
        regex = {(h.pid, h.address) for h in cp.search(rb"api_key=", regex=True, ignore_case=True)}
        assert upper and either == upper | lower == regex
        mem = cp.memory(1)
        assert {h.address for h in mem.search(b"Api_Key=", ignore_case=True)} == {a for p, a in either if p == 1}
        assert sum(1 for _ in mem.search_iter(b"api_KEY=", ignore_case=True)) == len({a for p, a in either if p == 1})


def test_repr_reads_like_a_person_wrote_it():
    with criu_images.open(FIXTURES / "counter/zstd/checkpoint.tar.zst") as cp:
        assert repr(cp).endswith("(tar.zst, 1 process: pid 1)>")
    with criu_images.open(PYTREE) as cp:
        assert repr(cp).endswith("(tar.gz, 3 processes: pids [1, 6, 7])>")
    assert repr(cp).endswith("(tar.gz, closed)>")


def _blocked_reading_stdin(pid: int) -> bool:
    # /proc/PID/syscall: "0 0x0 ..." is read(0, ...).
    try:
        fields = pathlib.Path(f"/proc/{pid}/syscall").read_text().split()
    except OSError:
        return False
    return fields[:2] == ["0", "0x0"]


def test_ctrl_c_in_the_python_entry_point_prints_no_traceback():
    # `decode` without -i reads standard input: the tool waits there, inside cli_main.
    child = subprocess.Popen(
        [sys.executable, "-m", "criu_images", "decode"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        # SIGINT at its default action, as in an interactive shell (pytest may run in the background).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 60
    while not _blocked_reading_stdin(child.pid):
        assert child.poll() is None, child.stderr.read()
        assert time.monotonic() < deadline, "the tool never read its standard input"
        time.sleep(0.01)
    child.send_signal(signal.SIGINT)
    time.sleep(0.2)
    child.stdin.close()  # without the fix the tool goes on, fails on empty input, then Python raises
    child.wait(timeout=60)
    err = child.stderr.read()
    assert b"Traceback" not in err and b"KeyboardInterrupt" not in err, err.decode()
    assert child.returncode == -signal.SIGINT, (child.returncode, err)


def test_tree_text_and_html():
    with criu_images.open(ATTACK) as cp:
        tree = cp.tree()
        text = str(tree)
        lines = text.splitlines()
        assert len(lines) == len(cp.processes)
        assert lines[0].startswith("[1] start.sh (")
        # bash -i is the child of bashdriver, drawn one level deeper.
        driver = next(i for i, line in enumerate(lines) if "bashdriver" in line)
        assert lines[driver].startswith("└── [40] bashdriver") and lines[driver + 1].startswith("    └── [42] bash (")
        assert "[23] sh (" in text and "/bin/sh" in text
        html = tree._repr_html_()
        assert html.count("<div style='margin-left") == len(cp.processes)
        assert "margin-left: 3.0em'>[42] bash (" in html


def test_tree_of_a_deep_chain_does_not_recurse():
    from types import SimpleNamespace

    from criu_images._display import ProcessTree

    n = 5000
    chain = [SimpleNamespace(pid=i + 1, ppid=i, comm="x", state="alive", threads=[1], creds=None, cmdline=["x"]) for i in range(n)]
    text = str(ProcessTree(chain))
    lines = text.splitlines()
    assert len(lines) == n and lines[2] == "    └── [3] x (alive, 1 thread, uid ?) x"
    assert lines[-1] == f"… (depth {n - 1}) [{n}] x (alive, 1 thread, uid ?) x"
    # A loop of parents: each process once.
    loop = [SimpleNamespace(pid=p, ppid=q, comm="y", state="alive", threads=[1], creds=None, cmdline=[]) for p, q in ((1, 2), (2, 1))]
    assert len(str(ProcessTree(loop)).splitlines()) == 2


def test_memory_summary_adds_up_to_the_areas():
    with criu_images.open(PYTREE) as cp:
        p = cp.process(1)
        summary = p.memory_summary()
        assert summary["total"]["areas"] == len(p.vmas)
        assert summary["total"]["size"] == sum(v.size for v in p.vmas)
        assert summary["total"]["dumped"] == sum(v.pages_dumped for v in p.vmas) * 4096
        assert {"heap", "stack", "file"} <= set(summary)
        assert summary["heap"]["size"] == sum(v.size for v in p.vmas if v.kind == "heap")
        assert sum(row["size"] for kind, row in summary.items() if kind != "total") == summary["total"]["size"]
        assert str(summary).splitlines()[0].split() == ["kind", "areas", "size", "dumped", "zero", "missing"]
        assert "<table>" in summary._repr_html_()


def test_rootfs_diff_sizes_modes_and_frame():
    import tarfile

    with criu_images.open(PYTREE) as cp:
        diff = cp.rootfs_diff
        frame = diff.to_pandas()
        html = diff._repr_html_()
        raw = cp.member("rootfs-diff.tar")
    import io

    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        want = {m.name.lstrip("./").rstrip("/"): m for m in tar.getmembers()}
    assert len(frame) == len(want)
    for row in frame.itertuples():
        info = want[row.name]
        assert (row.mode, row.uid, row.gid, row.size if info.isfile() else 0) == (info.mode & 0o7777, info.uid, info.gid, info.size if info.isfile() else 0)
        assert int(row.mtime.timestamp()) == int(info.mtime)
    assert str(frame["mode"].dtype) == "UInt64"
    exe = frame[frame["name"] == "data/run/data.txt"].iloc[0]
    assert exe.permissions.startswith("-rw")
    assert "<td style='text-align:left'>/data/run/data.txt</td>" in html and "mode" in html


def test_fds_table_has_typed_details():
    with criu_images.open(PYTREE) as cp:
        fds = cp.to_pandas("fds")
        parent = {f.fd: f for f in cp.process(1).fds}
    rows = fds[fds["pid"] == 1].set_index("fd")
    for fd, f in parent.items():
        for key in ("pos", "size", "inode", "buffered_bytes", "queued_bytes"):
            got = rows.loc[fd, key]
            want = f.details.get(key)
            assert (got is None or str(got) == "<NA>") if want is None else got == want, (fd, key)
        want = f.details.get("deleted")
        got = rows.loc[fd, "deleted"]
        assert (str(got) == "<NA>") if want is None else bool(got) == want
    assert rows["deleted"].sum() == 1  # the ghost file
    assert rows.loc[rows["pos"] == 123].shape[0] == 1  # the regular file at pos 123


def test_addresses_show_as_hex_and_stay_integers():
    import pandas as pd

    with criu_images.open(PYTREE) as cp:
        vmas = cp.to_pandas("vmas")
        hits = cp.search(b"API_KEY=").to_pandas()
        first = cp.process(1).vmas[0]
    assert isinstance(vmas, pd.DataFrame) and str(vmas["start"].dtype) == "UInt64"
    assert int(vmas["start"][0]) == first.start and (vmas["end"] - vmas["start"] == vmas["size"]).all()
    assert f"<td>{first.start:#x}</td>" in vmas._repr_html_()
    assert f"{first.end:#x}" in repr(vmas.head(3))
    # Selections keep the display; other columns are untouched.
    part = vmas[vmas["pid"] == 1][["pid", "start", "size"]]
    assert f"<td>{first.start:#x}</td>" in part._repr_html_() and f"<td>{first.size}</td>" in part._repr_html_()
    assert f"{int(hits['address'][0]):#x}" in hits._repr_html_()
    assert str(hits["address"].dtype) == "UInt64"
