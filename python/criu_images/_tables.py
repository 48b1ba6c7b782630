"""Tables as pyarrow Tables and pandas DataFrames.

The extension builds each column in Arrow's memory layout (bindings/src/
tables.rs) and passes its buffers here as bytes; this module only wraps
them in pyarrow arrays (no Python object per row), and converts to pandas
with nullable dtypes so that missing values stay missing and 64-bit
addresses stay integers.

pyarrow and pandas are optional: ``pip install 'criu-images[tables]'``.
"""

from __future__ import annotations

from typing import Any, List, Sequence, Tuple

__all__ = ["require", "to_arrow", "to_pandas"]

# (name, kind, length, null_count, [validity, *buffers], [children])
ColumnSpec = Tuple[str, str, int, int, List[Any], List[Any]]

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


def _array(pa: Any, spec: ColumnSpec) -> Any:
    name, kind, length, null_count, buffers, children = spec
    bufs = [None if b is None else pa.py_buffer(b) for b in buffers]
    if kind == "large_list":
        child = _array(pa, children[0])
        return pa.Array.from_buffers(pa.large_list(child.type), length, bufs, null_count, children=[child])
    if kind == "map":
        keys, values = (_array(pa, c) for c in children)
        offsets = pa.Array.from_buffers(pa.int32(), length + 1, [None, bufs[1]])
        return pa.MapArray.from_arrays(offsets, keys, values)
    types = {
        "uint32": pa.uint32(),
        "uint64": pa.uint64(),
        "int64": pa.int64(),
        "bool": pa.bool_(),
        "large_string": pa.large_string(),
        "large_binary": pa.large_binary(),
    }
    return pa.Array.from_buffers(types[kind], length, bufs, null_count)


def to_arrow(columns: Sequence[ColumnSpec]) -> Any:
    """A pyarrow.Table from the extension's columns."""
    import pyarrow as pa

    arrays = [_array(pa, c) for c in columns]
    return pa.Table.from_arrays(arrays, names=[c[0] for c in columns])


def to_pandas(columns: Sequence[ColumnSpec]) -> Any:
    """A pandas.DataFrame from the extension's columns: integer and bool
    columns get pandas' nullable dtypes (``UInt64``, ``Int64``,
    ``boolean``), strings and bytes are objects, lists are arrays, maps are
    dicts."""
    import pandas as pd
    import pyarrow as pa

    dtypes = {
        pa.uint32(): pd.UInt32Dtype(),
        pa.uint64(): pd.UInt64Dtype(),
        pa.int64(): pd.Int64Dtype(),
        pa.bool_(): pd.BooleanDtype(),
    }
    frame = to_arrow(columns).to_pandas(types_mapper=dtypes.get, maps_as_pydicts="lossy")
    hex_columns = [c[0] for c in columns if c[0] in ADDRESS_COLUMNS]
    return _address_frame(pd)(frame, hex_columns) if hex_columns else frame


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
