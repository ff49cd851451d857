"""Fingerprint tables: the per-row (key, fingerprint) record of a table, as stored.

For every recorded table runstate keeps, whatever the retention, an Arrow IPC object
(zstd) with one row per data row:

* ``__keyfp`` — the key fingerprint (keyed tables only),
* ``__rowfp`` — the row fingerprint,
* ``__row`` — the row's position in the table (to find its cells in a snapshot),
* the key columns' values (so diffs can name the keys),

sorted by ``(__keyfp, __rowfp)`` (unkeyed: by ``__rowfp``), so two of them diff in one
linear merge (:mod:`runstate.data.rowdiff`). At 16–24 bytes a row before compression it is a
fraction of the data, and it is what ``fingerprint`` retention keeps.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from runstate.data.rowdiff import KEYFP, ROW, ROWFP

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

    from runstate.store.objects import ObjectStore

__all__ = [
    "build_fingerprint_table",
    "read_fingerprint_table",
    "sort_order",
    "write_fingerprint_table",
]


def sort_order(keyfp: np.ndarray | None, rowfp: np.ndarray) -> np.ndarray:
    """Indices that sort rows by (keyfp, rowfp); a stable argsort, refined only for repeats."""
    import numpy as np

    if keyfp is None:
        # Equal row fingerprints are identical rows: a stable sort keeps their positions
        # (the __row column) in table order, so the stored bytes are deterministic.
        return np.argsort(rowfp, kind="stable")
    # With a key, keys are (nearly always) unique, so any correct sort gives one order; the
    # default sort is ~2x faster than a stable one on 10 M rows.
    order = np.argsort(keyfp)
    ordered_keys = keyfp[order]
    repeated = ordered_keys[1:] == ordered_keys[:-1]
    if repeated.any():  # duplicate keys: order each group by row fingerprint
        order = np.lexsort((rowfp, keyfp))
    return order


def build_fingerprint_table(
    table: pa.Table, key: Sequence[str] | None, rowfp: np.ndarray | None = None
) -> pa.Table:
    """The sorted fingerprint table of ``table`` (``rowfp`` may be passed if already known)."""
    import pyarrow as pa

    from runstate.data.tables import row_fingerprints

    if rowfp is None:
        rowfp = row_fingerprints(table)
    keyfp = row_fingerprints(table, columns=list(key)) if key else None
    order = sort_order(keyfp, rowfp)
    columns: dict[str, pa.Array] = {}
    if keyfp is not None:
        columns[KEYFP] = pa.array(keyfp[order], type=pa.uint64())
    columns[ROWFP] = pa.array(rowfp[order], type=pa.uint64())
    columns[ROW] = pa.array(order, type=pa.uint64())
    if key:
        taken = table.select(list(key)).take(pa.array(order))
        for name in key:
            columns[name] = taken.column(name)
    return pa.table(columns)


def write_fingerprint_table(objects: ObjectStore, table: pa.Table) -> str:
    """Store as one uncompressed Arrow IPC record batch.

    Uncompressed on purpose: 64-bit fingerprints are random and zstd saved only ~31%, while
    decompressing cost ~250 ms per 10 M rows; uncompressed, a local object is memory-mapped
    and a 10 M-row pair is ready to diff in ~0.1 s instead of ~1.2 s.
    """
    import pyarrow as pa

    table = table.combine_chunks()
    # streamed to the store: no in-memory copy of the file
    with objects.put_stream() as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table, max_chunksize=max(1, table.num_rows))
    assert sink.object_id is not None
    return sink.object_id


def read_fingerprint_table(objects: ObjectStore, object_id: str) -> pa.Table:
    """Read a fingerprint table (memory-mapped from a local store; older zstd ones too)."""
    import pyarrow as pa

    from runstate.store.objects import LocalObjectStore

    if isinstance(objects, LocalObjectStore):
        source = pa.memory_map(objects.path(object_id), "r")
        return pa.ipc.open_file(source).read_all()
    with objects.open(object_id) as handle:
        data = handle.read()
    return pa.ipc.open_file(pa.py_buffer(data)).read_all()
