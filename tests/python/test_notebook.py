"""examples/forensics.ipynb runs from top to bottom on the shipped sample,
and prints what its committed outputs show (so that the notebook read on
GitHub is the notebook that runs). Regenerate with scripts/update-notebook.py."""

import copy
import json
import pathlib
import sys

import nbclient
import nbformat

NOTEBOOK = pathlib.Path(__file__).resolve().parent.parent.parent / "examples" / "forensics.ipynb"
FIXTURES = pathlib.Path(__file__).resolve().parent.parent / "fixtures"


def streams(cell):
    """The text each stream of a cell received, joined: a busy kernel may
    split one print into several chunks (or merge two), so how the text was
    chunked is not compared, only what it says."""
    text = {}
    for o in cell.get("outputs", []):
        if o.output_type == "stream":
            text[o.name] = text.get(o.name, "") + o.text
    return sorted(text.items())


def kinds(cell):
    """The kinds of the non-stream outputs (tables, plots), in order."""
    return [(o.output_type, sorted(o.get("data", {}))) for o in cell.get("outputs", []) if o.output_type != "stream"]


def test_committed_notebook_has_outputs_and_no_run_noise():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.outputs or c.source.strip() == "cp.close()" or c.source.startswith("CHECKPOINT = ") for c in code)
    assert not any("execution" in c.metadata for c in code)
    assert set(nb.metadata) == {"kernelspec", "language_info"} and nb.metadata.language_info == {"name": "python"}
    assert sum(1 for c in code for o in c.outputs if "image/png" in o.get("data", {})) == 2
    assert NOTEBOOK.stat().st_size < 150_000


def _kernel(tmp_path, monkeypatch):
    # The kernel is this interpreter (the one with criu_images), whatever
    # kernels are installed elsewhere on the machine.
    spec = tmp_path / "kernels" / "python3"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "Python 3", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))


def _run(nb):
    client = nbclient.NotebookClient(nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    client.execute()  # raises CellExecutionError on the first failing cell
    return "".join(text for c in nb.cells if c.cell_type == "code" for _, text in streams(c))


def test_notebook_runs_and_prints_what_is_committed(tmp_path, monkeypatch):
    _kernel(tmp_path, monkeypatch)
    committed = nbformat.read(NOTEBOOK, as_version=4)
    fresh = copy.deepcopy(committed)
    printed = _run(fresh)
    for before, after in zip(committed.cells, fresh.cells):
        if before.cell_type != "code":
            continue
        assert streams(after) == streams(before), before.source
        assert kinds(after) == kinds(before), before.source
    # The walk-through found what the fixture's truth.json says is there:
    # the secret in the environment, by a built-in pattern, masked.
    truth = json.loads((FIXTURES / "k8s-counter/truth.json").read_text())
    secret = truth["literals"]["COUNTER_SECRET"]
    marker = next(m for m in truth["processes"][0]["markers"] if m["value"] == secret)
    assert f"{marker['addr'] - len('COUNTER_SECRET='):#x} [stack] rw-p secret-assignment: COUNTER_SECRET={secret[:4]}" in printed
    assert secret not in printed
    assert "pod: counters" in printed and "namespace: default" in printed


# (fixture, CHECKPOINT relative to examples/): a Podman tar.gz, a plain images directory, the attack.
OTHER_CHECKPOINTS = [
    ("pytree", "../tests/fixtures/pytree/checkpoint.tar.gz"),
    ("counter-host", "../tests/fixtures/counter-host/images"),
    ("attack", "../tests/fixtures/attack/checkpoint.tar.zst"),
]


def with_checkpoint(nb, path):
    """The notebook with its one setting changed."""
    nb = copy.deepcopy(nb)
    first = next(c for c in nb.cells if c.cell_type == "code")
    assert first.source.startswith("CHECKPOINT = ") and "\n" not in first.source.strip()
    first.source = f"CHECKPOINT = {path!r}"
    return nb


def test_notebook_runs_unchanged_on_other_checkpoints(tmp_path, monkeypatch):
    _kernel(tmp_path, monkeypatch)
    committed = nbformat.read(NOTEBOOK, as_version=4)
    for name, path in OTHER_CHECKPOINTS:
        nb = with_checkpoint(committed, path)
        printed = _run(nb)
        truth = json.loads((FIXTURES / name / "truth.json").read_text())
        n = len(truth["processes"])
        assert f"{n} process{'es' if n != 1 else ''}" in printed, name
        for p in truth["processes"]:
            assert f"[{p['vpid']}] {' '.join(p['cmdline'])}" in printed, (name, p["vpid"])
        # Two images each time: the memory map and the match plot.
        assert sum(1 for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})) == 2, name
        if name == "counter-host":
            assert "no container metadata" in printed and "no rootfs-diff.tar" in printed
            assert truth["literals"]["COUNTER_SECRET"] not in printed and "COUNTER_SECRET=" in printed
        if name == "pytree":
            assert "Podman" in printed or "podman" in printed
            info = json.loads(truth["program_info"]["pytree.info.json"])
            assert f"peer 7/18" in printed and info["api_key"] not in printed
            assert "API_KEY=sk-t" in printed
        if name == "attack":
            # The reverse shell on fds 0-2, linked to c2's accepted socket.
            assert printed.count("peer 21/4") == 3
            planted = next(p for p in truth["planted"] if p["kind"] == "credential_in_heap")
            assert f"{planted['address']:#x}" in printed and "AWS_SECRET_ACCESS_KEY=" in printed
            secret_text = planted["detail"]["buffer"]["text"]
            assert "XKNfQm00" not in printed and secret_text.split("=")[-1].strip() not in printed


def test_outputs_compare_by_text_not_by_chunks():
    # What a loaded machine does to one print("a\nb\n"): two stream chunks.
    whole = nbformat.v4.new_code_cell(outputs=[nbformat.v4.new_output("stream", name="stdout", text="a\nb\n")])
    split = nbformat.v4.new_code_cell(
        outputs=[
            nbformat.v4.new_output("stream", name="stdout", text="a\n"),
            nbformat.v4.new_output("stream", name="stdout", text="b\n"),
        ]
    )
    assert streams(split) == streams(whole) and kinds(split) == kinds(whole)
    other = nbformat.v4.new_code_cell(outputs=[nbformat.v4.new_output("stream", name="stdout", text="a\nc\n")])
    assert streams(other) != streams(whole)
