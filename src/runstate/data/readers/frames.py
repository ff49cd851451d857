"""In-memory tables: pandas and polars frames, Arrow tables, batches and streams — and back."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runstate.data.readers.detect import _module_class
from runstate.data.readers.messages import _arrow_message, _plural
from runstate.data.readers.schema import _cast_stream, _target_schema
from runstate.data.readers.source import TableReader, TableSource
from runstate.errors import InputError, UsageError

if TYPE_CHECKING:
    import pyarrow as pa  # type: ignore[import-untyped]


FLAVOURS = ("pandas", "polars", "arrow")


def to_flavour(table: pa.Table, flavour: str) -> Any:
    """``table`` as a pandas DataFrame, a polars DataFrame, or itself (``"arrow"``)."""
    if flavour == "arrow":
        return table
    if flavour == "pandas":
        return table.to_pandas()
    if flavour == "polars":
        import polars as pl

        return pl.from_arrow(table)
    raise UsageError(f"unknown flavour {flavour!r}: expected one of {', '.join(FLAVOURS)}")


def _pandas_to_arrow(frame: Any) -> pa.Table:
    """A pandas frame as Arrow, its index kept as columns when it carries information.

    An unnamed integer index (a RangeIndex, or the integer index a filter leaves behind) is
    positional and dropped, so a frame and the same data read from a file have the same
    columns; a named index, a MultiIndex or an unnamed non-integer index (dates, labels)
    becomes leading columns, as ``reset_index()`` makes them.
    """
    import pyarrow as pa

    index = frame.index
    names = [name for name in getattr(index, "names", [index.name]) if name is not None]
    positional = (
        not names and getattr(index, "nlevels", 1) == 1 and str(index.dtype).startswith("int")
    )
    if not positional:
        frame = frame.reset_index()
    if not all(isinstance(column, str) for column in frame.columns):
        frame = frame.rename(columns=str)
    try:
        table = pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
        raise InputError(
            f"pandas DataFrame: cannot be converted to Arrow: {_arrow_message(exc)}"
        ) from None
    return table.replace_schema_metadata(None)


def _open_object(obj: Any, wanted: dict[str, pa.DataType] | None) -> TableReader:
    import pyarrow as pa

    if _module_class(obj, "pandas", "DataFrame"):
        table = _pandas_to_arrow(obj)
        kind, flavour, label = "dataframe", "pandas", "pandas DataFrame"
    elif _module_class(obj, "polars", "DataFrame", "LazyFrame"):
        if _module_class(obj, "polars", "LazyFrame"):
            try:
                obj = obj.collect()
            except Exception as exc:  # polars raises its own ComputeError, etc.
                raise InputError(f"polars LazyFrame: cannot be collected: {exc}") from None
        table = obj.to_arrow()
        kind, flavour, label = "dataframe", "polars", "polars DataFrame"
    elif isinstance(obj, pa.Table):
        table, kind, flavour, label = obj, "dataframe", "arrow", "Arrow table"
    elif isinstance(obj, pa.RecordBatch):
        table = pa.Table.from_batches([obj])
        kind, flavour, label = "dataframe", "arrow", "Arrow record batch"
    elif isinstance(obj, pa.RecordBatchReader) or hasattr(obj, "__arrow_c_stream__"):
        reader = (
            obj if isinstance(obj, pa.RecordBatchReader) else pa.RecordBatchReader.from_stream(obj)
        )
        label = "Arrow record batch stream"
        source = TableSource("dataframe", "arrow", None, "arrow", label)
        target = _target_schema(label, reader.schema, wanted)
        return TableReader(
            source,
            lambda: (target, _cast_stream(label, iter(reader), target)),
            reopenable=False,
        )
    else:
        raise UsageError(
            f"cannot read a {type(obj).__module__}.{type(obj).__qualname__} as a table: expected"
            " a path, a pandas/polars/Arrow table, or (connection, 'SELECT …')"
        )
    source = TableSource(
        kind,
        flavour,
        None,
        flavour,
        f"{label} ({table.num_rows} rows, {_plural(table.num_columns, 'column')})",
    )
    target = _target_schema(label, table.schema, wanted)
    return TableReader(
        source, lambda: (target, _cast_stream(label, iter(table.to_batches()), target))
    )
