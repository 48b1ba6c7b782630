"""Wrong and hostile input from Python: a clear CriuImagesError at once,
never a hang, an empty success, or a Rust panic (issue #11)."""

import os
import subprocess
import sys

import pytest

import criu_images
from criu_images import _criu_images


@pytest.mark.parametrize("kind", ["text", "empty", "zeros", "directory"])
def test_open_of_what_is_not_a_checkpoint_raises(tmp_path, kind):
    path = tmp_path / kind
    if kind == "text":
        path.write_text("just some text\n")
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "zeros":
        path.write_bytes(bytes(10 << 10))
    else:
        path.mkdir()
        (path / "README").write_text("hello")
    with pytest.raises(criu_images.CriuImagesError, match="not a CRIU checkpoint") as err:
        criu_images.open(path)
    assert err.value.file == str(path)


def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    # In a child process: if it blocked, the test would end, not hang.
    code = (
        "import sys, criu_images\n"
        "for call in (criu_images.open, criu_images.decode, criu_images.info):\n"
        "    try:\n"
        "        call(sys.argv[1])\n"
        "    except criu_images.CriuImagesError as e:\n"
        "        assert 'a FIFO (named pipe)' in str(e), e\n"
        "    else:\n"
        "        raise SystemExit(call.__name__ + ' accepted a FIFO')\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(fifo)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("place", ["run", "quick", "guard"])
def test_a_rust_panic_reaches_python_as_criu_images_error(place):
    # PanicException derives from BaseException: `except Exception` would miss it.
    with pytest.raises(criu_images.CriuImagesError, match=f"internal error in criu-images.*deliberate panic in {place}") as err:
        _criu_images._test_panic(place)
    assert isinstance(err.value, Exception)
