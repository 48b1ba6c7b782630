"""Process.write_core(): an ELF core file that gdb reads (docs/core.md)."""

import os
import shutil
import subprocess

import pytest

import criu_images


def test_write_core_of_every_thread_that_gdb_reads(fixtures, tmp_path):
    truth_marker = None
    with criu_images.open(fixtures / "threads" / "checkpoint.tar.zst") as checkpoint:
        process = checkpoint.process(1)
        calls = []
        summary = process.write_core(tmp_path / "core.1", progress=lambda done, total: calls.append((done, total)))
        assert summary["machine"] == "x86_64"
        assert summary["threads"] == len(process.threads) == 9
        assert summary["areas"] == len(process.vmas)
        assert summary["memory_bytes"] > 4 << 20
        assert calls and calls[-1][0] == calls[-1][1] == summary["memory_bytes"]
        truth_marker = next(iter(checkpoint.memory(1).search(b"THREAD-STACK-MARKER-")), None)
    core = (tmp_path / "core.1").read_bytes()
    assert core[:4] == b"\x7fELF" and core[16:18] == b"\x04\x00"  # ET_CORE
    assert len(core) == summary["size"]
    assert [p.name for p in tmp_path.iterdir()] == ["core.1"]
    if shutil.which("gdb") is None:
        assert os.environ.get("CI") != "true", "gdb is required in CI (scripts/test installs it)"
        pytest.skip("gdb is not installed")
    out = subprocess.run(
        ["gdb", "-batch", "-nx", "-ex", "info threads", "-ex", f"x/s {truth_marker.address:#x}", "--core", str(tmp_path / "core.1")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.count(" LWP ") >= 9
    assert "THREAD-STACK-MARKER-" in out


def test_write_core_leaves_nothing_when_progress_raises(fixtures, tmp_path):
    with criu_images.open(fixtures / "threads" / "checkpoint.tar.zst") as checkpoint:

        def stop(done, total):
            raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            checkpoint.process(1).write_core(tmp_path / "core.1", progress=stop)
    assert list(tmp_path.iterdir()) == []


def test_write_core_errors_name_the_process(fixtures, tmp_path):
    with criu_images.open(fixtures / "threads" / "checkpoint.tar.zst") as checkpoint:
        with pytest.raises(criu_images.CriuImagesError):
            checkpoint.process(1).write_core(tmp_path / "core.1", rootfs="diff-that-is-not-a-directory")
    assert list(tmp_path.iterdir()) == []
