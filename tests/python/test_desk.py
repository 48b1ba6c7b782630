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
