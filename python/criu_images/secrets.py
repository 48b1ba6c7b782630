"""Built-in patterns for secrets, to find them in any checkpoint without
knowing their names: cloud keys, tokens, private keys, and ``NAME=value``
assignments whose name says secret (``*SECRET*``, ``*PASSWORD*``,
``*TOKEN*``, ``*API_KEY*``, ...). ``find(checkpoint)`` searches every
process's memory with them; ``mask(text)`` hides a value for display.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Tuple

from ._criu_images import _secret_patterns

__all__ = ["PATTERNS", "find", "in_environment", "mask"]

#: name -> regular expression over bytes (``(?i)`` marks ASCII
#: case-insensitive parts); the one table of the Rust crate
#: (``criu_images::secrets::KINDS``), also used by ``criu-images report``
#: and ``criu-images triage``; the group ``s`` of each is the secret itself.
PATTERNS: Dict[str, bytes] = {name: expr.encode() for name, expr in _secret_patterns()}


def mask(text: str, keep: int = 4) -> str:
    """``NAME=abcd…(24 chars)``: the name (if any) and the first ``keep``
    characters of the value."""
    name, sep, value = text.partition("=") if "=" in text else ("", "", text)
    shown = value[:keep] + "…" if len(value) > keep else value
    return f"{name}{sep}{shown}({len(value)} chars)"


def find(checkpoint: Any, *, context: int = 0, max_hits: int = 1000) -> List[Tuple[str, Any]]:
    """``(pattern name, Hit)`` for every match of every built-in pattern in
    every process's memory, by pid and address."""
    found = []
    for name, pattern in PATTERNS.items():
        for hit in checkpoint.search(pattern, regex=True, context=context, max_hits=max_hits):
            found.append((name, hit))
    found.sort(key=lambda item: (item[1].pid, item[1].address, item[0]))
    return found


def in_environment(process: Any) -> List[Tuple[str, str]]:
    """``(pattern name, "NAME=value")`` for each environment variable of
    ``process`` a built-in pattern matches."""
    out = []
    for key, value in process.environ.items():
        entry = f"{key}={value}".encode(errors="surrogateescape")
        for name, pattern in PATTERNS.items():
            if re.search(pattern, entry):
                out.append((name, f"{key}={value}"))
                break
    return out
