"""Tables as pyarrow Tables, pandas and Polars DataFrames.

The extension builds every table with arrow-rs (criu_images::tables) and
hands it over as a ``criu_images.Table``, which speaks the Arrow PyCapsule
stream interface (``__arrow_c_stream__``): pyarrow, Polars and DuckDB read
it without a copy and without needing each other. This module converts to
pandas with nullable dtypes so that missing values stay missing and 64-bit
addresses stay integers.

pyarrow and pandas are optional: ``pip install 'criu-images[tables]'``;
Polars needs only ``polars``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["require", "to_arrow", "to_pandas", "to_polars"]

_INSTALL = "pip install 'criu-images[tables]'"


def require(method: str, pandas: bool = False) -> None:
    """Raises ImportError, saying what to install, unless pyarrow (and pandas) import."""
    needed = ["pyarrow"] + (["pandas"] if pandas else [])
    missing = []
    for name in needed:
        try:
            __import__(name)
        except ImportError:
            missing.append(name)
    if missing:
        verb = "is" if len(missing) == 1 else "are"
        raise ImportError(f"{method} needs {' and '.join(needed)}; {' and '.join(missing)} {verb} not installed: {_INSTALL}")


def to_arrow(table: Any, method: str = "Table.to_arrow()") -> Any:
    """A pyarrow.Table from a ``criu_images.Table`` (through its Arrow C stream)."""
    require(method)
    import pyarrow as pa

    return pa.RecordBatchReader.from_stream(table).read_all()


def to_pandas(table: Any, method: str = "Table.to_pandas()") -> Any:
    """A pandas.DataFrame from a ``criu_images.Table``: integer and bool
    columns get pandas' nullable dtypes (``UInt64``, ``Int64``,
    ``boolean``), strings and bytes are objects, lists are arrays, maps are
    dicts; address columns show as hex."""
    require(method, pandas=True)
    import pandas as pd
    import pyarrow as pa

    dtypes = {
        pa.uint32(): pd.UInt32Dtype(),
        pa.uint64(): pd.UInt64Dtype(),
        pa.int64(): pd.Int64Dtype(),
        pa.bool_(): pd.BooleanDtype(),
    }
    arrow = to_arrow(table, method)
    frame = arrow.to_pandas(types_mapper=dtypes.get, maps_as_pydicts="lossy")
    hex_columns = [c for c in arrow.column_names if c in ADDRESS_COLUMNS]
    return _address_frame(pd)(frame, hex_columns) if hex_columns else frame


def to_polars(table: Any) -> Any:
    """A polars.DataFrame from a ``criu_images.Table`` (pyarrow not needed)."""
    try:
        import polars as pl
    except ImportError:
        raise ImportError("Table.to_polars() needs polars, which is not installed: pip install polars") from None
    return pl.DataFrame(table)


#: Columns that hold addresses: integers in the data, hex in displays.
ADDRESS_COLUMNS = ("start", "end", "address", "context_start", "vma_start", "vma_end")

_ADDRESS_FRAME = None


def _address_frame(pd: Any) -> Any:
    """The DataFrame subclass that shows address columns as hex (``0x7f..``)
    in notebooks and ``repr`` while the data stays unsigned integers."""
    global _ADDRESS_FRAME
    if _ADDRESS_FRAME is not None:
        return _ADDRESS_FRAME

    class AddressFrame(pd.DataFrame):  # type: ignore[misc,valid-type]
        _metadata = ["_hex_columns"]

        def __init__(self, data: Any = None, hex_columns: Any = (), *args: Any, **kwargs: Any) -> None:
            super().__init__(data, *args, **kwargs)
            if hex_columns or not hasattr(self, "_hex_columns"):
                self._hex_columns = list(hex_columns)

        @property
        def _constructor(self) -> Any:
            return AddressFrame

        def _formatters(self) -> Any:
            def hexa(v: Any) -> str:
                return "<NA>" if pd.isna(v) else f"{int(v):#x}"

            return {c: hexa for c in getattr(self, "_hex_columns", []) if c in self.columns}

        def _shown(self) -> Any:
            limit = pd.get_option("display.max_rows") or len(self)
            return pd.DataFrame(self if len(self) <= limit else self.head(limit))

        def _repr_html_(self) -> Any:
            formatters = self._formatters()
            if not formatters:
                return super()._repr_html_()
            html = self._shown().to_html(formatters=formatters, max_rows=None)
            if len(self) > len(self._shown()):
                html += f"<p>{len(self)} rows × {len(self.columns)} columns ({len(self._shown())} shown)</p>"
            return html

        def __repr__(self) -> str:
            formatters = self._formatters()
            if not formatters:
                return super().__repr__()
            text = self._shown().to_string(formatters=formatters)
            if len(self) > len(self._shown()):
                text += f"\n\n[{len(self)} rows x {len(self.columns)} columns]"
            return text

    _ADDRESS_FRAME = AddressFrame
    return AddressFrame
