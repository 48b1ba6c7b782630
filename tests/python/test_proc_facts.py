"""Process facts as /proc showed them, from Python: bounded command lines of
hostile checkpoints, warnings, environ_raw, and threads in rt_sigsuspend."""

import json
import pathlib
import subprocess
import sys

import criu_images

FIXTURES = pathlib.Path(__file__).resolve().parent.parent / "fixtures"
PAGE = 4096


def write_huge_argument_area(path):
    """A 1 KB mm image: a 64 GiB anonymous area at 2^44 without pages, and
    the argument range across all of it (our encoder)."""
    base, size = 1 << 44, 64 << 30
    images = {
        "pstree.img": {"magic": "PSTREE", "entries": [{"pid": 1, "ppid": 0, "pgid": 1, "sid": 1, "threads": [1]}]},
        "pagemap-1.img": {"magic": "PAGEMAP", "entries": [{"pages_id": 1}]},
        "mm-1.img": {
            "magic": "MM",
            "entries": [{
                "mm_start_code": 0, "mm_end_code": 0, "mm_start_data": 0, "mm_end_data": 0, "mm_start_stack": 0,
                "mm_start_brk": 0, "mm_brk": 0, "mm_arg_start": base, "mm_arg_end": base + size,
                "mm_env_start": base + size, "mm_env_end": base + size, "exe_file_id": 0, "mm_saved_auxv": [6, PAGE, 0, 0],
                "vmas": [{"start": base, "end": base + size, "pgoff": 0, "shmid": 0, "prot": 3, "flags": 34, "status": 513, "fd": -1}],
            }],
        },
    }
    for name, doc in images.items():
        (path / name).write_bytes(criu_images.encode(doc))
    (path / "pages-1.img").write_bytes(b"")


def test_a_huge_argument_area_is_cut_at_the_limit_and_says_so(tmp_path):
    write_huge_argument_area(tmp_path)
    assert (tmp_path / "mm-1.img").stat().st_size < 1024
    with criu_images.open(tmp_path) as cp:
        (p,) = cp.processes
        assert p.cmdline_truncated and not p.environ_truncated
        assert len(p.cmdline) == 699050 and set(p.cmdline) == {""}
        assert p.environ_raw == [] and p.environ == {} and p.warnings == []
        assert p.to_dict()["cmdline_truncated"] is True
    # Far below the 64 GiB the area claims (the limit is 6 MiB of bytes),
    # measured in a fresh interpreter as its own peak (VmHWM of its memory):
    # this process's peak is that of every test before this one, and Linux
    # carries ru_maxrss across fork and exec, so a child's ru_maxrss starts
    # at this process's size.
    code = (
        "import sys, criu_images\n"
        "with criu_images.open(sys.argv[1]) as cp:\n"
        "    (p,) = cp.processes\n"
        "    assert p.cmdline_truncated and len(p.cmdline) == 699050\n"
        "print(next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM:')))\n"
    )
    peak_kib = int(subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True, capture_output=True, text=True).stdout)
    assert peak_kib < 1 << 20  # 1 GiB


def test_a_process_whose_memory_fails_is_kept_with_a_warning(tmp_path):
    write_huge_argument_area(tmp_path)
    (tmp_path / "pagemap-1.img").write_bytes(b"not a pagemap image")
    with criu_images.open(tmp_path) as cp:
        (p,) = cp.processes
        assert p.cmdline == [] and p.vmas == []
        assert len(p.warnings) == 1 and "pagemap-1.img" in p.warnings[0]


def test_environ_raw_and_sigsuspend_match_proc():
    truth = json.loads((FIXTURES / "attack/truth.json").read_text())
    want = {p["vpid"]: p for p in truth["processes"]}
    with criu_images.open(FIXTURES / "attack/checkpoint.tar.zst") as cp:
        for p in cp.processes:
            assert p.cmdline == want[p.pid]["cmdline"]
            assert p.environ_raw == want[p.pid]["environ"]
            assert not p.cmdline_truncated and not p.environ_truncated and p.warnings == []
            (thread,) = p.threads
            assert thread.in_sigsuspend == want[p.pid]["threads"][0]["syscall"].startswith("130 ")
        svc = next(p for p in cp.processes if p.comm == "svc")
        assert svc.environ["LD_PRELOAD"] == "/tmp/x.so"
        miner = next(p for p in cp.processes if p.comm == ".kminer")
        assert "/tmp/.kminer (deleted)" in {v.path for v in miner.vmas}
