"""Checkpoint.diff(): the same Diff as `criu-images diff`, its parts as
dicts and tables, the text tree as its HTML repr."""

import json
import subprocess
import sys

import pytest

import criu_images


def pair(fixtures):
    return (
        criu_images.open(fixtures / "counter/none/checkpoint.tar"),
        criu_images.open(fixtures / "counter/gzip/checkpoint.tar.gz"),
    )


def test_diff_equals_the_command_line_json(fixtures):
    old, new = pair(fixtures)
    diff = old.diff(new)
    cli = subprocess.run(
        [sys.executable, "-m", "criu_images", "diff", str(old.path), str(new.path), "--format", "json"],
        check=True,
        capture_output=True,
        text=True,
    )
    assert diff.to_dict() == json.loads(cli.stdout)
    assert diff.to_dict()["schema_version"] == 1


def test_parts_are_sequences_of_dicts(fixtures):
    old, new = pair(fixtures)
    diff = old.diff(new)
    assert bool(diff)
    (process,) = list(diff.processes)
    assert (process["pid"], process["change"], process["matched_by"]) == (1, "changed", "pid")
    secret = next(f for f in process["fields"] if f["field"] == "environ.COUNTER_SECRET")
    assert secret["old"] != secret["new"]
    assert len(diff.pages) == len(diff.to_dict()["memory"]) > 0
    assert diff.pages[-1] == diff.to_dict()["memory"][-1]
    assert all(r["change"] in ("added", "removed", "changed") for r in diff.pages)
    assert [a["what"] for a in diff.areas] == [["moved"]] * 4
    assert diff.rootfs[0]["path"] == "/tmp/counter.info"
    with pytest.raises(IndexError):
        diff.rootfs[5]
    # Without pages.
    assert len(old.diff(new, memory=False).pages) == 0


def test_a_checkpoint_diffed_with_itself_is_empty(fixtures):
    a = criu_images.open(fixtures / "threads/checkpoint.tar.zst")
    b = criu_images.open(fixtures / "threads/checkpoint.tar.zst")
    diff = a.diff(b)
    assert not diff
    assert all(len(getattr(diff, part)) == 0 for part in ("processes", "files", "sockets", "areas", "pages", "rootfs", "metadata"))


def test_progress_counts_the_bytes_compared_and_the_html_reads_like_the_tree(fixtures):
    old, new = pair(fixtures)
    calls = []
    diff = old.diff(new, progress=lambda done, total: calls.append((done, total)))
    assert calls and calls[-1][0] == calls[-1][1] > 0
    html = diff._repr_html_()
    assert html.startswith("<pre") and "~ 1 counter (changed)" in html
    assert "environ.COUNTER_SECRET" in html and "memory pages" in html


def test_pre_dump_levels_and_errors_name_the_side(fixtures, tmp_path):
    pre1 = criu_images.open(fixtures / "predump/pre1")
    dump = criu_images.open(fixtures / "predump/dump")
    diff = pre1.diff(dump, pid=25946)
    assert any("pre-dump level" in n for n in diff.notes)
    pages = {r["start"] for r in diff.pages}
    assert 0x7FCBE3603000 in pages  # the changed marker's page
    with pytest.raises(criu_images.CriuImagesError, match="^old: "):
        broken = tmp_path / "broken"
        broken.mkdir()
        for f in (fixtures / "counter-host/images").iterdir():
            data = f.read_bytes()
            (broken / f.name).write_bytes(data[:-10] if f.name.startswith("mm-") else data)
        criu_images.open(broken).diff(criu_images.open(fixtures / "counter-host/images"))


def test_tables(fixtures):
    pytest.importorskip("pandas")
    old, new = pair(fixtures)
    diff = old.diff(new)
    pages = diff.pages.to_pandas()
    assert list(pages.columns) == ["checkpoint", "pid", "start", "end", "change", "pages"]
    assert set(pages["checkpoint"]) <= {new.id}
    assert str(pages["start"].dtype) == "UInt64"
    assert pages["pages"].sum() == sum(r["pages"] for r in diff.pages)
    areas = diff.to_arrow("areas")
    assert areas.column("became_executable").to_pylist() == [False] * 4
    assert list(diff.to_pandas("rootfs")["path"]) == ["/tmp/counter.info"]
    assert list(diff.processes.to_pandas()["fields"][0])[0] == "environ.COUNTER_SECRET"
    with pytest.raises(ValueError):
        diff.to_pandas("nothing")
