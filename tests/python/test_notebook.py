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
    assert all(c.outputs or c.source.strip() == "cp.close()" for c in code)
    assert not any("execution" in c.metadata for c in code)
    assert set(nb.metadata) == {"kernelspec", "language_info"} and nb.metadata.language_info == {"name": "python"}
    assert sum(1 for c in code for o in c.outputs if "image/png" in o.get("data", {})) == 2
    assert NOTEBOOK.stat().st_size < 150_000


def test_notebook_runs_and_prints_what_is_committed(tmp_path, monkeypatch):
    # The kernel is this interpreter (the one with criu_images), whatever
    # kernels are installed elsewhere on the machine.
    spec = tmp_path / "kernels" / "python3"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "Python 3", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))

    committed = nbformat.read(NOTEBOOK, as_version=4)
    fresh = copy.deepcopy(committed)
    client = nbclient.NotebookClient(fresh, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    client.execute()  # raises CellExecutionError on the first failing cell
    for before, after in zip(committed.cells, fresh.cells):
        if before.cell_type != "code":
            continue
        assert streams(after) == streams(before), before.source
        assert kinds(after) == kinds(before), before.source
    printed = "".join(text for c in fresh.cells if c.cell_type == "code" for _, text in streams(c))
    # The walk-through found what the fixture's truth.json says is there.
    truth = json.loads((NOTEBOOK.parent.parent / "tests/fixtures/k8s-counter/truth.json").read_text())
    for marker in truth["processes"][0]["markers"]:
        assert f"{marker['addr']:#x}" in printed and marker["value"] in printed
    assert "pod: counters" in printed and "namespace: default" in printed


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
