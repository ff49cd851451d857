"""Bounded uniform row samples of captured tables: the raw values drift checks run on.

A profile summarises a table; a drift test needs values. So every captured table also gets
a **sample**: at most :data:`SAMPLE_ROWS` rows (100,000 by default; ``RUNSTATE_SAMPLE_ROWS``
overrides it, ``0`` turns samples off), drawn uniformly without replacement, stored as one
Arrow IPC file (zstd) in the object store and named by the table entry's ``sample_id``.

* **Reproducible**: the rows are chosen by a PCG64 generator seeded from the table's
  fingerprint, so capturing the same table (in the same row order) again yields the same
  sample; the positions are positions in the captured order.
* **Every retention**: taken at capture time, so a ``fingerprint``-retention table (no
  snapshot) still has a sample and can be checked for drift against later runs.
* **After policy**: capture runs after the access policy filtered and masked the rows, so a
  sample holds only what the policy let the run see.
* Columns whose type no check reads (lists, structs, maps, binaries) are left out; a table
  with none left, or with no rows, has no sample.

A table with at most :data:`SAMPLE_ROWS` rows is sampled whole (in its order).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa  # type: ignore[import-untyped]

    from runstate.store.objects import ObjectStore

__all__ = [
    "SAMPLE_ROWS",
    "kept_columns",
    "read_sample",
    "sample_indices",
    "sample_rows",
    "sample_table",
    "sampling_batches",
    "write_sample",
]

SAMPLE_ROWS = 100_000


def sample_rows() -> int:
    """The sample size in force: ``RUNSTATE_SAMPLE_ROWS`` or :data:`SAMPLE_ROWS`."""
    raw = os.environ.get("RUNSTATE_SAMPLE_ROWS", "").strip()
    if not raw:
        return SAMPLE_ROWS
    try:
        return max(0, int(raw))
    except ValueError:
        return SAMPLE_ROWS


def sample_indices(rows: int, fingerprint: str, size: int | None = None) -> np.ndarray:
    """Sorted positions of the sampled rows among ``rows``, seeded by ``fingerprint``."""
    import numpy as np

    size = sample_rows() if size is None else size
    if rows <= size:
        return np.arange(rows, dtype=np.int64)
    seed = int(fingerprint[:16], 16) if fingerprint else 0
    rng = np.random.Generator(np.random.PCG64(seed))
    chosen = rng.choice(rows, size=size, replace=False, shuffle=False)
    return np.sort(chosen.astype(np.int64))


def kept_columns(schema: pa.Schema) -> list[str]:
    import pyarrow as pa

    kept = []
    for field in schema:
        t = field.type
        if (
            pa.types.is_nested(t)
            or pa.types.is_binary(t)
            or pa.types.is_large_binary(t)
            or pa.types.is_fixed_size_binary(t)
            or pa.types.is_null(t)
        ):
            continue
        kept.append(field.name)
    return kept


def sample_table(table: pa.Table, fingerprint: str, size: int | None = None) -> pa.Table | None:
    """The sample of an in-memory table (None: nothing to sample)."""
    import pyarrow as pa

    columns = kept_columns(table.schema)
    if not columns or table.num_rows == 0:
        return None
    size = sample_rows() if size is None else size
    if size == 0:
        return None
    indices = sample_indices(table.num_rows, fingerprint, size)
    selected = table.select(columns)
    if len(indices) == table.num_rows:
        return selected
    return selected.take(pa.array(indices))


def sampling_batches(batches: Iterator[Any], indices: np.ndarray, into: list[Any]) -> Iterator[Any]:
    """Yield ``batches`` unchanged while collecting the rows at ``indices`` into ``into``
    (one pass over a streamed table: the sample is taken during the profile pass)."""
    import numpy as np
    import pyarrow as pa

    offset = 0
    for batch in batches:
        n = batch.num_rows
        lo, hi = np.searchsorted(indices, [offset, offset + n])
        if hi > lo:
            into.append(batch.take(pa.array(indices[lo:hi] - offset)))
        offset += n
        yield batch


def write_sample(objects: ObjectStore, sample: pa.Table) -> str:
    """Store ``sample`` as an Arrow IPC file (zstd); return its object id."""
    import pyarrow as pa

    for index, field in enumerate(sample.schema):
        if pa.types.is_dictionary(field.type):  # batches may carry different dictionaries
            decoded = sample.column(index).cast(field.type.value_type)
            sample = sample.set_column(index, field.with_type(field.type.value_type), decoded)
    sink = pa.BufferOutputStream()
    options = pa.ipc.IpcWriteOptions(compression="zstd")
    with pa.ipc.new_file(sink, sample.schema, options=options) as writer:
        writer.write_table(sample)
    return objects.put_bytes(sink.getvalue().to_pybytes())


def read_sample(objects: ObjectStore, sample_id: str) -> pa.Table:
    """The sample stored under ``sample_id``."""
    import pyarrow as pa

    data = objects.get_bytes(sample_id)
    return pa.ipc.open_file(pa.py_buffer(data)).read_all()
