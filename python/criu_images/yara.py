"""YARA hits as a list of dicts with table views (``Checkpoint.yara()``, ``Memory.yara()``)."""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (quick import)
if TYPE_CHECKING:
    from typing import Any, Dict, List

COLUMNS = ["pid", "path", "rule", "namespace", "tags", "string", "address", "length", "matched_hex",
           "vma_start", "vma_end", "vma_perms", "vma_path"]


class YaraHits(list):  # type: ignore[type-arg]
    """A list of hit dicts (``pid``, ``rule``, ``namespace``, ``tags``, ``metadata``,
    ``string``, ``address``, ``vma``, ``matched_hex``, ``context_hex``; files carry
    ``path`` instead of ``pid`` and ``vma``). ``truncated`` is True when the hit
    limit stopped the scan. ``to_arrow()`` / ``to_pandas()`` give one row per hit."""

    def __init__(self, hits: List[Dict[str, Any]], truncated: bool = False) -> None:
        super().__init__(hits)
        self.truncated = truncated

    def __repr__(self) -> str:
        return f"YaraHits({list.__repr__(self)}, truncated={self.truncated})"

    def _rows(self) -> Dict[str, List[Any]]:
        cols: Dict[str, List[Any]] = {c: [] for c in COLUMNS}
        for h in self:
            vma = h.get("vma") or {}
            row = {
                "pid": h.get("pid"), "path": h.get("path"), "rule": h["rule"], "namespace": h["namespace"],
                "tags": ",".join(h["tags"]), "string": h["string"], "address": h["address"], "length": h["length"],
                "matched_hex": h["matched_hex"], "vma_start": vma.get("start"), "vma_end": vma.get("end"),
                "vma_perms": vma.get("perms"), "vma_path": vma.get("path"),
            }
            for c in COLUMNS:
                cols[c].append(row[c])
        return cols

    def to_arrow(self) -> Any:
        """The hits as a ``pyarrow.Table`` (needs pyarrow)."""
        from . import _tables

        _tables.require("YaraHits.to_arrow()")
        import pyarrow

        return pyarrow.table(self._rows())

    def to_pandas(self) -> Any:
        """The hits as a ``pandas.DataFrame`` (needs pandas and pyarrow)."""
        from . import _tables

        _tables.require("YaraHits.to_pandas()", pandas=True)
        return self.to_arrow().to_pandas()
