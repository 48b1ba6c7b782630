"""The modules of the bindings (bindings/src/*.rs) import each other one way:
no module reaches itself through `crate::` paths (docs/python.md, "Inside
the bindings"). lib.rs, the root that declares them all, is left out."""

import pathlib
import re

SRC = pathlib.Path(__file__).resolve().parent.parent.parent / "bindings" / "src"


def imports():
    graph = {}
    for path in SRC.glob("*.rs"):
        if path.stem == "lib":
            continue
        used = set(re.findall(r"\bcrate::([a-z_][a-z0-9_]*)", path.read_text()))
        graph[path.stem] = {m for m in used if m != path.stem and (SRC / f"{m}.rs").exists()}
    return graph


def test_bindings_modules_have_no_import_cycle():
    graph = imports()
    assert {"checkpoint", "state", "process", "memory"} <= set(graph)
    done, path = set(), []

    def visit(module):
        assert module not in path, "import cycle: " + " -> ".join(path[path.index(module):] + [module])
        if module in done:
            return
        path.append(module)
        for used in sorted(graph[module]):
            visit(used)
        path.pop()
        done.add(module)

    for module in sorted(graph):
        visit(module)
    # The shared state is at the bottom: it imports nothing but the errors
    # and the progress runner (itself a leaf over the errors), with which
    # its index builds can be interrupted.
    assert graph["state"] <= {"errors", "progress"}
    assert graph["progress"] <= {"errors"}
