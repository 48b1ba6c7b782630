"""pycriu-compatible functions: ``from criu_images import images`` in place of
``from pycriu import images``.

Differences from pycriu are deliberate fixes, listed in docs/json.md.
"""

from __future__ import annotations

import io
from typing import IO, Any, Dict

from . import decode, encode
from . import info as _info

__all__ = ["load", "loads", "dump", "dumps", "info"]


def load(f: IO[bytes], pretty: bool = False, no_payload: bool = False) -> Dict[str, Any]:
    """Read an image from a binary file object (pycriu ``images.load``)."""
    return decode(f.read(), pretty, no_payload)


def loads(s: bytes, pretty: bool = False) -> Dict[str, Any]:
    """Decode an image from bytes (pycriu ``images.loads``)."""
    return decode(bytes(s), pretty)


def dump(img: Dict[str, Any], f: IO[bytes]) -> None:
    """Write an image to a binary file object (pycriu ``images.dump``)."""
    f.write(encode(img))


def dumps(img: Dict[str, Any]) -> bytes:
    """Encode an image to bytes (pycriu ``images.dumps``)."""
    return encode(img)


def info(f: IO[bytes]) -> Dict[str, Any]:
    """``{"magic", "count"}`` of an image file object (pycriu ``images.info``)."""
    if isinstance(f, io.IOBase) or hasattr(f, "read"):
        return _info(f.read())
    return _info(f)
