"""YARA hits as a list of dicts with table views (``Checkpoint.yara()``, ``Memory.yara()``)."""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (quick import)
if TYPE_CHECKING:
    from typing import Any, Dict, List



class YaraHits(list):  # type: ignore[type-arg]
    """A list of hit dicts (``pid``, ``rule``, ``namespace``, ``tags``, ``metadata``,
    ``string``, ``address``, ``vma``, ``matched_hex``, ``context_hex``; files carry
    ``path`` instead of ``pid`` and ``vma``). ``truncated`` is True when the hit
    limit stopped the scan. ``table()`` / ``to_arrow()`` / ``to_pandas()`` give one
    row per hit, with the columns of ``criu-images export --yara``'s ``yara`` table
    (docs/export.md): ``checkpoint``, ``pid``, ``path``, ``rule``, ``namespace``,
    ``tags`` (list), ``metadata`` (map to JSON text), ``string``, ``address``,
    ``vma_start``, ``vma_end``, ``vma_perms``, ``vma_path``, ``match`` and
    ``context`` (bytes), ``context_start``."""

    def __init__(self, hits: List[Dict[str, Any]], truncated: bool = False, table: Any = None) -> None:
        super().__init__(hits)
        self.truncated = truncated
        self._table = table

    def __repr__(self) -> str:
        return f"YaraHits({list.__repr__(self)}, truncated={self.truncated})"

    def table(self) -> Any:
        """The hits as a ``criu_images.Table`` (Arrow PyCapsule interface), built by
        the library with the scan."""
        if self._table is None:
            raise ValueError("this YaraHits was not made by a scan (Checkpoint.yara(), Memory.yara()): it has no table")
        return self._table

    def to_arrow(self) -> Any:
        """The hits as a ``pyarrow.Table`` (needs pyarrow)."""
        from . import _tables

        return _tables.to_arrow(self.table(), "YaraHits.to_arrow()")

    def to_pandas(self) -> Any:
        """The hits as a ``pandas.DataFrame`` (needs pandas and pyarrow)."""
        from . import _tables

        return _tables.to_pandas(self.table(), "YaraHits.to_pandas()")
