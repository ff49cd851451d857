"""Table diffs: rows (added/removed/changed keys), cells (old → new) and schema changes.

Two entry points:

* :func:`diff_recorded` compares two tables a run recorded (what ``runstate diff`` uses):
  rows from their stored fingerprint tables, cells from their snapshots where both were
  retained (``full``), schema from their recorded schemas;
* :func:`diff` compares two tables in hand — pandas, polars, Arrow or files — the same way
  (``runstate.data.diff(old, new, key="id")``).

The result is a :class:`TableDiff`, falsy when the tables hold the same rows and schema.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from runstate.data.rowdiff import ROW, RowDiff, column_numpy, diff_fingerprint_tables

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

    from runstate.data.tablecapture import TableEntry
    from runstate.store.objects import ObjectStore

__all__ = ["SchemaDiff", "TableDiff", "diff", "diff_recorded", "diff_schemas"]


@dataclass(frozen=True)
class SchemaDiff:
    added: list[dict[str, Any]] = field(default_factory=list)
    dropped: list[dict[str, Any]] = field(default_factory=list)
    retyped: list[dict[str, Any]] = field(default_factory=list)
    renamed: list[dict[str, str]] = field(
        default_factory=list
    )  # looks renamed: same type, same place

    def __bool__(self) -> bool:
        return bool(self.added or self.dropped or self.retyped or self.renamed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "added": self.added,
            "dropped": self.dropped,
            "retyped": self.retyped,
            "renamed": self.renamed,
        }


@dataclass(frozen=True)
class TableDiff:
    rows: RowDiff
    schema: SchemaDiff
    changed_columns: dict[str, int] = field(default_factory=dict)
    cells: list[dict[str, Any]] = field(default_factory=list)
    cells_available: bool = False

    def __bool__(self) -> bool:
        return bool(self.rows) or bool(self.schema)

    def to_dict(self) -> dict[str, Any]:
        return {
            "changed": bool(self),
            "rows": self.rows.to_dict(),
            "schema": self.schema.to_dict(),
            "changed_columns": self.changed_columns,
            "cells": self.cells,
            "cells_available": self.cells_available,
        }


def diff_schemas(a: Sequence[Mapping[str, Any]], b: Sequence[Mapping[str, Any]]) -> SchemaDiff:
    """Compare ``[{"name", "type", "nullable"}, …]`` lists (recorded schemas)."""
    by_a = {c["name"]: c for c in a}
    by_b = {c["name"]: c for c in b}
    added = [dict(by_b[n]) for n in by_b if n not in by_a]
    dropped = [dict(by_a[n]) for n in by_a if n not in by_b]

    def kind(column: Mapping[str, Any]) -> Any:
        # The logical family where recorded: string → large_string is not a change of data.
        return column.get("family", column["type"])

    retyped = [
        {"name": n, "old": by_a[n]["type"], "new": by_b[n]["type"]}
        for n in by_a
        if n in by_b and kind(by_a[n]) != kind(by_b[n])
    ]
    renamed = []
    order_a = [c["name"] for c in a]
    order_b = [c["name"] for c in b]
    for gone in list(dropped):
        for new in list(added):
            same_type = kind(gone) == kind(new)
            same_place = order_a.index(gone["name"]) == order_b.index(new["name"])
            if same_type and same_place:
                renamed.append({"old": gone["name"], "new": new["name"], "type": gone["type"]})
                dropped.remove(gone)
                added.remove(new)
                break
    return SchemaDiff(added, dropped, retyped, renamed)


def _json_value(value: Any) -> Any:
    if isinstance(value, float) and value != value:
        return "NaN"
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def _cell_changes(
    table_a: pa.Table,
    table_b: pa.Table,
    rows_a: np.ndarray | None,
    rows_b: np.ndarray | None,
    key: Sequence[str],
    sample: int | None,
) -> tuple[dict[str, int], list[dict[str, Any]]]:
    """Per-column counts of changed cells over all changed keys, and sampled old → new.

    ``rows_a``/``rows_b`` pick the changed rows of the tables; None: the tables hold just
    those rows, already paired in order.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    old = table_a if rows_a is None else table_a.take(pa.array(rows_a))
    new = table_b if rows_b is None else table_b.take(pa.array(rows_b))
    shared = [c for c in table_a.column_names if c in table_b.column_names and c not in key]
    counts: dict[str, int] = {}
    masks = {}
    for column in shared:
        left, right = old.column(column), new.column(column)
        if left.type != right.type:
            try:
                right = right.cast(left.type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                continue
        try:
            same = pc.fill_null(pc.equal(left, right), False)
            both_null = pc.and_(pc.is_null(left), pc.is_null(right))
            if pa.types.is_floating(left.type):
                both_nan = pc.and_(
                    pc.fill_null(pc.is_nan(left), False), pc.fill_null(pc.is_nan(right), False)
                )
                both_null = pc.or_(both_null, both_nan)
            differs = pc.invert(pc.or_(same, both_null)).to_numpy(zero_copy_only=False)
        except (pa.ArrowNotImplementedError, pa.ArrowInvalid):  # nested types: compare as Python
            left_values, right_values = left.to_pylist(), right.to_pylist()
            import numpy as np

            differs = np.array(
                [x != y for x, y in zip(left_values, right_values, strict=True)], dtype=bool
            )
        changed = int(differs.sum())
        if changed:
            counts[column] = changed
            masks[column] = differs
    cells = []
    limit = old.num_rows if sample is None else min(sample, old.num_rows)
    key_rows = old.select(list(key)).slice(0, limit).to_pylist()
    for index in range(limit):
        changes = {}
        for column, mask in masks.items():
            if mask[index]:
                changes[column] = [
                    _json_value(old.column(column)[index].as_py()),
                    _json_value(new.column(column)[index].as_py()),
                ]
        cells.append(
            {"key": {k: _json_value(v) for k, v in key_rows[index].items()}, "changes": changes}
        )
    return counts, cells


def _read_snapshot(objects: ObjectStore, object_id: str) -> pa.Table:
    from runstate.data.snapshot import read_snapshot

    return read_snapshot(objects, object_id)


def _read_rows(objects: ObjectStore, object_id: str, rows: np.ndarray) -> pa.Table:
    """Rows ``rows`` of a stored snapshot, in that order: only the leaves holding them are
    read (older single-Parquet snapshots are read whole)."""
    import pyarrow as pa

    from runstate.data.snapshot import read_snapshot_rows

    with objects.open(object_id) as handle:
        legacy = handle.read(4) == b"PAR1"
    if legacy:
        return _read_snapshot(objects, object_id).take(pa.array(rows))
    return read_snapshot_rows(objects, object_id, rows)


def diff_recorded(
    objects: ObjectStore, a: TableEntry, b: TableEntry, sample: int | None = 20
) -> TableDiff:
    """Diff two recorded tables (inputs or outputs of runs)."""
    from runstate.data.fpstore import read_fingerprint_table

    key = tuple(a.key) if a.key and a.key == b.key else None
    schema = diff_schemas(a.schema, b.schema)
    if a.fingerprint == b.fingerprint and not schema:
        empty = RowDiff(key=key, rows_a=a.rows, rows_b=b.rows, added=0, removed=0, changed=0)
        return TableDiff(empty, schema)
    fp_a = read_fingerprint_table(objects, a.fingerprints_id)
    fp_b = read_fingerprint_table(objects, b.fingerprints_id)
    rows, codes_a, codes_b = diff_fingerprint_tables(fp_a, fp_b, key, sample)
    if not key or not rows.changed or not (a.snapshot_id and b.snapshot_id):
        return TableDiff(rows, schema)
    rows_a = column_numpy(fp_a, ROW)[codes_a == 2]
    rows_b = column_numpy(fp_b, ROW)[codes_b == 2]
    counts, cells = _cell_changes(
        _read_rows(objects, a.snapshot_id, rows_a),
        _read_rows(objects, b.snapshot_id, rows_b),
        None,
        None,
        key,
        sample,
    )
    return TableDiff(rows, schema, counts, cells, cells_available=True)


def diff(
    old: Any, new: Any, key: str | Sequence[str] | None = None, sample: int | None = 20
) -> TableDiff:
    """Diff two tables in hand (pandas, polars, pyarrow, or paths to table files).

    >>> from runstate.data import diff                                     # doctest: +SKIP
    >>> d = diff(yesterday, today, key="customer_id")
    >>> d.rows.added, d.rows.removed, d.rows.changed, d.changed_columns
    """
    from runstate.data.fpstore import build_fingerprint_table
    from runstate.data.readers import open_table

    columns = None if key is None else ([key] if isinstance(key, str) else list(key))
    table_a = open_table(old).read_all()
    table_b = open_table(new).read_all()
    for label, table in (("old", table_a), ("new", table_b)):
        missing = [c for c in columns or [] if c not in table.column_names]
        if missing:
            from runstate.errors import UsageError

            raise UsageError(f"{label} table: key column(s) {', '.join(missing)} not found")
    schema = diff_schemas(_schema_of(table_a), _schema_of(table_b))
    if schema:  # compare rows on the columns both sides have; the schema diff says the rest
        shared = [c for c in table_a.column_names if c in table_b.column_names]
        table_a, table_b = table_a.select(shared), table_b.select(shared)
    fp_a = build_fingerprint_table(table_a, columns)
    fp_b = build_fingerprint_table(table_b, columns)
    key_tuple = None if columns is None else tuple(columns)
    rows, codes_a, codes_b = diff_fingerprint_tables(fp_a, fp_b, key_tuple, sample)
    if not key_tuple or not rows.changed:
        return TableDiff(rows, schema)
    counts, cells = _cell_changes(
        table_a,
        table_b,
        column_numpy(fp_a, ROW)[codes_a == 2],
        column_numpy(fp_b, ROW)[codes_b == 2],
        key_tuple,
        sample,
    )
    return TableDiff(rows, schema, counts, cells, cells_available=True)


def _schema_of(table: pa.Table) -> list[dict[str, Any]]:
    from runstate.data.tablecapture import schema_list

    return schema_list(table.schema)
