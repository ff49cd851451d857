"""Reading Delta Lake tables at a pinned version.

A Delta table is a folder of Parquet files plus a transaction log (``_delta_log/``) that says
which of those files make up each version. Reading the folder as a plain Parquet dataset
would include files that a later version removed (after an update, a delete or a compaction
the old files stay until vacuumed), so a folder with a ``_delta_log`` is always read through
the log, with the ``deltalake`` package (``pip install 'runstate[delta]'``).

The reader pins the table's version when it opens it and reads exactly that version, so the
version recorded with the input (``reference`` retention, :mod:`runstate.data.reference`) is
the one the rows came from even when a writer commits meanwhile.

    >>> reader = open_delta("lake/customers")                   # doctest: +SKIP
    >>> reader.source.version                                   # doctest: +SKIP
    '12'
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from runstate.errors import InputError, UsageError

if TYPE_CHECKING:
    import pyarrow as pa

    from runstate.data.readers import TableReader

__all__ = ["is_delta_table", "open_delta"]

_BATCH_ROWS = 131_072


def is_delta_table(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a folder holding a Delta transaction log."""
    return os.path.isdir(os.path.join(os.fspath(path), "_delta_log"))


def _deltalake(path: str) -> Any:
    try:
        import deltalake
    except ImportError:
        raise UsageError(
            f"{path}: a Delta table (it has a _delta_log folder); reading it needs the"
            " deltalake package: pip install 'runstate[delta]'"
        ) from None
    return deltalake


def open_delta(
    path: str,
    wanted: dict[str, pa.DataType] | None = None,
    *,
    version: int | None = None,
) -> TableReader:
    """A :class:`~runstate.data.readers.TableReader` over ``path`` at ``version`` (default:
    the latest, pinned now)."""
    from runstate.data.readers import TableReader, TableSource, _cast_stream, _target_schema

    deltalake = _deltalake(path)
    try:
        table = deltalake.DeltaTable(path, version=version)
        pinned = int(table.version())
    except Exception as exc:  # deltalake raises its own error types (TableNotFoundError, …)
        wanted_text = "" if version is None else f" at version {version}"
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{path}: cannot open the Delta table{wanted_text}: {detail}") from None
    source = TableSource(
        "file", "delta", path, "pandas", f"Delta table {path} (version {pinned})", str(pinned)
    )

    def opener() -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
        try:
            dataset = table.to_pyarrow_dataset()
        except Exception as exc:
            raise InputError(f"{path}: cannot read Delta version {pinned}: {exc}") from None
        schema = dataset.schema
        batches: Iterator[pa.RecordBatch] = iter(dataset.to_batches(batch_size=_BATCH_ROWS))
        target = _target_schema(path, schema, wanted)
        if not target.equals(schema):
            return target, _cast_stream(path, batches, target)
        return schema, batches

    return TableReader(source, opener)
