"""Row-level diffs of two tables, from their stored fingerprints.

A recorded table keeps a *fingerprint table* (see :mod:`runstate.data.fpstore`): one row per
data row with its key fingerprint and row fingerprint (``docs/fingerprints.md``), plus the
key values, sorted by ``(keyfp, rowfp)``. Because both sides are sorted, a diff is one linear
merge — no hash table, no re-reading the data — which is what makes a 10 M-row keyed diff
take well under two seconds.

* With a key: keys only in B are *added*, only in A *removed*, in both with a different row
  fingerprint *changed*. A key that occurs several times is paired by sorted row fingerprint
  within its group; unmatched extras count as added/removed, and the duplicate keys of each
  side are reported as a finding.
* Without a key: rows are a multiset; rows only in B are added, only in A removed.

Samples (default 20 per kind) carry the key values; cell-level changes (old → new per column)
are filled in by :mod:`runstate.data.tablediff` where both sides' data was retained.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

__all__ = [
    "KEYFP",
    "ROW",
    "ROWFP",
    "RowDiff",
    "column_numpy",
    "diff_fingerprint_tables",
    "merge_sorted",
]

KEYFP = "__keyfp"
ROWFP = "__rowfp"
ROW = "__row"


@dataclass(frozen=True)
class RowDiff:
    """Typed result of a row diff; falsy when the two tables hold the same rows."""

    key: tuple[str, ...] | None
    rows_a: int
    rows_b: int
    added: int
    removed: int
    changed: int
    duplicate_keys_a: int = 0
    duplicate_keys_b: int = 0
    samples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)

    @property
    def duplicates_introduced(self) -> int:
        return max(0, self.duplicate_keys_b - self.duplicate_keys_a)

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": None if self.key is None else list(self.key),
            "rows_a": self.rows_a,
            "rows_b": self.rows_b,
            "added": self.added,
            "removed": self.removed,
            "changed": self.changed,
            "duplicate_keys_a": self.duplicate_keys_a,
            "duplicate_keys_b": self.duplicate_keys_b,
            "samples": self.samples,
        }


def merge_sorted(
    keys_a: np.ndarray, rows_a: np.ndarray, keys_b: np.ndarray, rows_b: np.ndarray, keyed: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Codes per row of A and of B (0 same, 1 only on this side, 2 changed) — see module doc."""
    from runstate.data._mergekernel import merge

    result: tuple[np.ndarray, np.ndarray] = merge(keys_a, rows_a, keys_b, rows_b, keyed)
    return result


def column_numpy(table: pa.Table, name: str) -> np.ndarray:
    """A uint64 column as one NumPy array (ChunkedArray.to_numpy would import pandas)."""
    import numpy as np

    chunks = table.column(name).chunks
    if len(chunks) == 1:
        return np.asarray(chunks[0].to_numpy(zero_copy_only=False))
    return np.concatenate([chunk.to_numpy(zero_copy_only=False) for chunk in chunks])


def _duplicate_keys(keys: np.ndarray) -> int:
    """How many distinct key fingerprints occur more than once (keys are sorted)."""
    import numpy as np

    if keys.shape[0] < 2:
        return 0
    repeated = keys[1:] == keys[:-1]
    if not repeated.any():
        return 0
    starts = repeated & ~np.concatenate(([False], repeated[:-1]))
    return int(starts.sum())


def _sample(
    table: pa.Table, mask: np.ndarray, key: tuple[str, ...] | None, limit: int | None
) -> list[dict[str, Any]]:
    import numpy as np

    indices = np.flatnonzero(mask)
    if limit is not None:
        indices = indices[:limit]
    if indices.size == 0:
        return []
    columns = list(key) if key else [ROWFP]
    taken = table.select(columns).take(indices)
    rows: list[dict[str, Any]] = taken.to_pylist()
    if not key:
        for row in rows:
            row[ROWFP] = f"{row[ROWFP]:016x}"
    return rows


def diff_fingerprint_tables(
    a: pa.Table, b: pa.Table, key: tuple[str, ...] | None, sample: int | None = 20
) -> tuple[RowDiff, np.ndarray, np.ndarray]:
    """Diff two fingerprint tables (sorted as :mod:`runstate.data.fpstore` stores them).

    Returns the :class:`RowDiff` and the per-row codes of A and B, for callers that go on to
    compare cells of the changed rows.
    """
    import numpy as np

    keyed = bool(key)
    ra = column_numpy(a, ROWFP)
    rb = column_numpy(b, ROWFP)
    ka = column_numpy(a, KEYFP) if keyed else ra
    kb = column_numpy(b, KEYFP) if keyed else rb
    codes_a, codes_b = merge_sorted(
        np.ascontiguousarray(ka),
        np.ascontiguousarray(ra),
        np.ascontiguousarray(kb),
        np.ascontiguousarray(rb),
        keyed,
    )
    removed_mask, added_mask = codes_a == 1, codes_b == 1
    changed_mask_b = codes_b == 2
    samples = {
        "added": _sample(b, added_mask, key, sample),
        "removed": _sample(a, removed_mask, key, sample),
        "changed": _sample(b, changed_mask_b, key, sample) if keyed else [],
    }
    diff = RowDiff(
        key=key,
        rows_a=a.num_rows,
        rows_b=b.num_rows,
        added=int(added_mask.sum()),
        removed=int(removed_mask.sum()),
        changed=int(changed_mask_b.sum()),
        duplicate_keys_a=_duplicate_keys(ka) if keyed else 0,
        duplicate_keys_b=_duplicate_keys(kb) if keyed else 0,
        samples={k: v for k, v in samples.items() if v},
    )
    return diff, codes_a, codes_b
