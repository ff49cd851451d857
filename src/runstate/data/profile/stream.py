"""What :func:`profile_table` reads: any Arrow input as batches, gathered into chunks."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from runstate.errors import UsageError

if TYPE_CHECKING:
    import pyarrow as pa  # type: ignore[import-untyped]


def _chunks(
    batches: Iterator[pa.RecordBatch], schema: pa.Schema, max_rows: int, max_bytes: int
) -> Iterator[pa.Table]:
    """Batches gathered into tables of about ``max_rows`` rows (or ``max_bytes`` bytes)."""
    import pyarrow as pa

    gathered: list[pa.RecordBatch] = []
    rows = size = 0
    for batch in batches:
        if batch.num_rows == 0:
            continue
        gathered.append(batch)
        rows += batch.num_rows
        size += batch.nbytes
        if rows >= max_rows or size >= max_bytes:
            yield pa.Table.from_batches(gathered, schema=schema)
            gathered, rows, size = [], 0, 0
    if gathered:
        yield pa.Table.from_batches(gathered, schema=schema)


def _as_batches(
    data: Any, schema: pa.Schema | None, max_rows: int
) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    """The schema and batches of ``data`` (an Arrow table is cut into ``max_rows`` batches)."""
    import pyarrow as pa

    if isinstance(data, pa.Table):
        return data.schema, iter(data.to_batches(max_chunksize=max_rows))
    if isinstance(data, pa.RecordBatch):
        return data.schema, iter([data])
    if isinstance(data, pa.RecordBatchReader):
        return data.schema, iter(data)
    if hasattr(data, "batches") and hasattr(data, "schema"):  # a readers.TableReader
        return data.schema, iter(data.batches())
    if isinstance(data, Iterable):
        iterator = iter(data)
        first = next(iterator, None)
        if first is None:
            if schema is None:
                raise UsageError("no batches to profile and no schema= to say what the table is")
            return schema, iter(())
        if not isinstance(first, pa.RecordBatch):
            raise UsageError(f"expected Arrow record batches, got {type(first).__name__}")

        def chained() -> Iterator[pa.RecordBatch]:
            yield first
            yield from iterator

        return first.schema, chained()
    raise UsageError(
        f"cannot profile a {type(data).__name__}: expected an Arrow table, batch, reader or"
        " an iterable of record batches"
    )
