"""Key nulls and duplicates: one 64-bit hash per non-null key, sorted and counted."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from runstate.data.profile.column import _numpy_of
from runstate.data.profile.families import _family_of
from runstate.data.profile.hashing import _hash_numbers, _hashes_of_chunks, _mix64_inplace
from runstate.errors import UsageError

if TYPE_CHECKING:
    import pyarrow as pa  # type: ignore[import-untyped]


class _KeyAccumulator:
    """Key nulls and duplicates: a 64-bit hash per non-null key, sorted and counted at the end
    (8 bytes per row)."""

    def __init__(self, key: Sequence[str], schema: pa.Schema) -> None:
        import pyarrow as pa

        self.key = list(key)
        self.families = []
        for name in self.key:
            arrow_type = schema.field(name).type
            if pa.types.is_dictionary(arrow_type):
                arrow_type = arrow_type.value_type
            family = _family_of(arrow_type)
            if family.startswith(("list<", "struct<")) or family == "null":
                raise UsageError(f"key column {name!r} has type {arrow_type}: a key must be scalar")
            self.families.append(family)
        self.nulls = 0
        self.hashes: list[Any] = []

    def add(self, table: pa.Table) -> None:
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        columns = [table.column(name) for name in self.key]
        columns = [
            c.cast(c.type.value_type) if pa.types.is_dictionary(c.type) else c for c in columns
        ]
        if any(c.null_count for c in columns):
            valid = pc.is_valid(columns[0])
            for column in columns[1:]:
                valid = pc.and_(valid, pc.is_valid(column))
            kept = int(pc.sum(valid).as_py() or 0)
            self.nulls += len(table) - kept
            columns = [column.filter(valid) for column in columns]
        combined: Any = None
        for column, family in zip(columns, self.families, strict=True):
            if family in ("string", "binary"):
                hashes = _hashes_of_chunks(column)
            elif family == "decimal":
                hashes = _hashes_of_chunks(column.cast(pa.string()))
            elif family == "bool":
                hashes = _hash_numbers(_numpy_of(column.cast(pa.int64()), "int"))
            else:
                values = _numpy_of(column, family)
                hashes = _hash_numbers(values)
            combined = (
                hashes if combined is None else _mix64_inplace(combined * np.uint64(31) + hashes)
            )
        if combined is not None and combined.size:
            self.hashes.append(combined)

    def finish(self) -> tuple[int, int, int]:
        """(null keys, duplicated key values, extra rows)."""
        import numpy as np

        if not self.hashes:
            return self.nulls, 0, 0
        everything = np.concatenate(self.hashes) if len(self.hashes) > 1 else self.hashes[0]
        self.hashes = []
        everything.sort()
        if everything.size < 2:
            return self.nulls, 0, 0
        again = everything[1:] == everything[:-1]  # a row whose key the previous row has
        extra_rows = int(np.count_nonzero(again))
        first_repeats = np.count_nonzero(again[1:] & ~again[:-1]) + int(again[0])
        return self.nulls, int(first_repeats), extra_rows
