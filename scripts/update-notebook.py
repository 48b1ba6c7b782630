#!/usr/bin/env python3
"""Executes examples/forensics.ipynb in place, so that the committed notebook
shows its outputs on GitHub; strips what changes from run to run (execution
times, kernel versions). tests/python/test_notebook.py checks that a fresh
run prints what the committed outputs say.

Needs the package and its notebook extra: pip install '.[notebook]' nbclient ipykernel
"""

import json
import os
import pathlib
import sys
import tempfile

import nbclient
import nbformat

NOTEBOOK = pathlib.Path(__file__).resolve().parent.parent / "examples" / "forensics.ipynb"


def execute(path: pathlib.Path) -> nbformat.NotebookNode:
    """The notebook at `path`, executed in its own directory by this
    interpreter (whatever kernels are installed elsewhere), without
    run-to-run noise."""
    nb = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory() as jupyter:
        spec = pathlib.Path(jupyter, "kernels", "python3")
        spec.mkdir(parents=True)
        argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
        (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "Python 3", "language": "python"}))
        os.environ["JUPYTER_PATH"] = jupyter
        client = nbclient.NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
        client.execute()
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    return nb


if __name__ == "__main__":
    target = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else NOTEBOOK
    nbformat.write(execute(target), target)
    print(f"executed {target}")
