"""Type stubs of the compiled extension (bindings/src/lib.rs)."""

import os
from typing import List, Union

__version__: str

class CriuImagesError(Exception):
    """Base class of every error criu_images raises; the message names the file and byte offset."""

def decode_json(source: Union[str, os.PathLike[str], bytes], pretty: bool = False, nopl: bool = False) -> str: ...
def encode_json(text: str) -> bytes: ...
def info_json(source: Union[str, os.PathLike[str], bytes]) -> str: ...
def cli_main(argv: List[str]) -> int: ...
