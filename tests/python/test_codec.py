"""The Python package decodes and encodes exactly as the Rust crate and crit 4.2."""

import io
import json
import subprocess
import sys

import pytest

import criu_images
from criu_images import images

HOST = "counter-host"


def image_files(fixtures):
    return sorted(p for p in (fixtures / HOST / "images").iterdir() if p.name.endswith(".img") and not p.name.startswith("pages-"))


def test_decode_equals_crit_goldens(fixtures):
    files = image_files(fixtures)
    assert len(files) >= 10
    for path in files:
        plain = (fixtures / HOST / "decoded-crit-4.x-plain" / f"{path.name}.json").read_text()
        pretty = (fixtures / HOST / "decoded-crit-4.x" / f"{path.name}.json").read_text()
        assert criu_images.decode_json(path) == plain, path.name
        assert criu_images.decode_json(str(path), pretty=True) == pretty, path.name
        assert criu_images.decode(path.read_bytes()) == json.loads(plain), path.name


def test_encode_round_trips_plain_and_pretty(fixtures):
    for path in image_files(fixtures):
        data = path.read_bytes()
        assert criu_images.encode(criu_images.decode(data)) == data, path.name
        assert criu_images.encode(criu_images.decode(data, pretty=True)) == data, path.name


def test_pycriu_style_functions(fixtures):
    path = fixtures / HOST / "images" / "pstree.img"
    with open(path, "rb") as f:
        img = images.load(f)
    assert img["magic"] == "PSTREE"
    assert img["entries"][0]["pid"] == 24152
    out = io.BytesIO()
    images.dump(img, out)
    assert out.getvalue() == path.read_bytes()
    assert images.loads(path.read_bytes()) == img
    with open(path, "rb") as f:
        assert images.info(f) == {"magic": "PSTREE", "count": 1}


def test_errors_name_file_and_offset(fixtures):
    with pytest.raises(criu_images.CriuImagesError, match="pages-1.img.*raw data"):
        criu_images.decode(fixtures / HOST / "images" / "pages-1.img")
    truncated = (fixtures / HOST / "images" / "mm-24152.img").read_bytes()[:-10]
    with pytest.raises(criu_images.CriuImagesError, match=r"<bytes>: offset 12 \(entry 0\): truncated"):
        criu_images.decode(truncated)
    with pytest.raises(criu_images.CriuImagesError, match="pid"):
        criu_images.encode({"magic": "PSTREE", "entries": [{"pid": "not a number"}]})
    with pytest.raises(TypeError):
        criu_images.decode(12345)


def test_command_line_is_installed(fixtures):
    path = fixtures / HOST / "images" / "pstree.img"
    golden = (fixtures / HOST / "decoded-crit-4.x" / "pstree.img.json").read_text()
    out = subprocess.run([sys.executable, "-m", "criu_images", "show", str(path)], capture_output=True, text=True, check=True)
    assert out.stdout == golden + "\n"
    bad = subprocess.run([sys.executable, "-m", "criu_images", "show", "/nonexistent.img"], capture_output=True, text=True)
    assert bad.returncode == 1 and "/nonexistent.img" in bad.stderr


def test_import_is_quick():
    # `import criu_images` starts every pipeline step and `python -m
    # criu_images`: it loads no json, re, html or typing (40 ms -> 10 ms
    # here); they come when a function needs them.
    code = "import sys; before = set(sys.modules); import criu_images; print(' '.join(sorted(set(sys.modules) - before)))"
    loaded = set(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.split())
    assert "criu_images._criu_images" in loaded
    assert not loaded & {"json", "re", "html", "typing"}, loaded
