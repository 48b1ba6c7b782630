"""The stubs (_criu_images.pyi) are the extension's documented contract:
they must list exactly its public names, and every public name must have a
docstring."""

import ast
import pathlib

import criu_images
from criu_images import _criu_images

STUBS = pathlib.Path(criu_images.__file__).with_name("_criu_images.pyi")
# Protocol methods a class either has or has not; they belong in the stubs.
PROTOCOL = {"__iter__", "__next__", "__len__", "__contains__", "__enter__", "__exit__", "__arrow_c_stream__"}


def stub_tree():
    return ast.parse(STUBS.read_text())


def stub_names():
    names, classes = set(), {}
    for node in stub_tree().body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
            names.add(node.name)
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        if isinstance(node, ast.ClassDef):
            members = set()
            for item in node.body:
                if isinstance(item, ast.FunctionDef):
                    members.add(item.name)
                if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    members.add(item.target.id)
            classes[node.name] = members
    return {n for n in names if not n.startswith("_") or n == "__version__"}, classes


def runtime_names():
    return {n for n in dir(_criu_images) if not n.startswith("_")} | {"__version__"}


def test_stubs_list_every_public_name_of_the_extension():
    names, _ = stub_names()
    assert names == runtime_names()


def test_stubs_list_every_member_of_every_class():
    _, classes = stub_names()
    for name, stubbed in classes.items():
        cls = getattr(_criu_images, name)
        if issubclass(cls, BaseException):
            continue  # their attributes are set on instances when raised
        public = {m for m in vars(cls) if not m.startswith("__")} | (PROTOCOL & set(vars(cls)))
        # Constructors (`__new__`) are stubbed for type checkers; pyo3 puts them in vars() of some classes only.
        assert public == stubbed - {"__new__"}, name


def test_everything_public_is_documented():
    for name in runtime_names() - {"__version__"}:
        obj = getattr(_criu_images, name)
        assert (obj.__doc__ or "").strip(), name
        if isinstance(obj, type) and not issubclass(obj, BaseException):
            for member, value in vars(obj).items():
                if not member.startswith("__"):
                    assert (value.__doc__ or "").strip(), f"{name}.{member}"


def test_package_exports_the_extension():
    for name in runtime_names():
        if name in ("decode_json", "decode_obj", "encode_json", "info_json", "cli_main"):
            continue
        assert getattr(criu_images, name) is getattr(_criu_images, name), name
        assert name in criu_images.__all__, name
