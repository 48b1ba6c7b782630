"""Read CRIU checkpoint images: crit-compatible decoding and encoding.

>>> import criu_images
>>> img = criu_images.decode("checkpoint/pstree.img")          # doctest: +SKIP
>>> [e["pid"] for e in img["entries"]]                          # doctest: +SKIP
[1]

``decode`` returns exactly the JSON object ``crit decode`` prints (as Python
dicts and lists); ``encode`` turns such an object back into image bytes.
``criu_images.images`` offers pycriu's ``load``/``loads``/``dump``/``dumps``/
``info`` so that pycriu code can switch with one import change.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, Union

from ._criu_images import CriuImagesError, __version__
from ._criu_images import decode_json as _decode_json
from ._criu_images import encode_json as _encode_json
from ._criu_images import info_json as _info_json

__all__ = ["CriuImagesError", "__version__", "decode", "decode_json", "encode", "info"]

Source = Union[str, "os.PathLike[str]", bytes]


def decode_json(source: Source, pretty: bool = False, nopl: bool = False) -> str:
    """The image at ``source`` (a path, or the image's bytes) as crit's JSON text.

    ``pretty=True`` gives ``crit show`` / ``crit decode --pretty`` output
    (indented; hex, flag names, devices, IP addresses); ``nopl=True`` replaces
    extra payloads (pipe data, socket queues) by their size.
    """
    return _decode_json(source, pretty, nopl)


def decode(source: Source, pretty: bool = False, nopl: bool = False) -> Dict[str, Any]:
    """The image at ``source`` as a dict ``{"magic": ..., "entries": [...]}``,
    equal to what ``crit decode`` prints."""
    return json.loads(_decode_json(source, pretty, nopl))


def encode(image: Dict[str, Any]) -> bytes:
    """Image bytes from a dict in crit's JSON shape (plain or pretty)."""
    # ensure_ascii keeps non-UTF-8 bytes (escaped as lone surrogates) intact.
    return _encode_json(json.dumps(image, ensure_ascii=True))


def info(source: Source) -> Dict[str, Any]:
    """``{"magic": NAME, "count": N}`` as ``crit info`` prints it."""
    return json.loads(_info_json(source))
