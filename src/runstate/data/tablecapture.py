"""Recording a table a run read or wrote: fingerprints, schema, profile and snapshot.

For every table runstate stores, in the content-addressed store:

* the **fingerprint table** (per-row key and row fingerprints, sorted; always) — what row
  diffs run on (:mod:`runstate.data.fpstore`);
* the **profile** (schema, per-column statistics, time coverage, key duplicates; always);
* with retention ``full``, a **snapshot**: the rows in content-defined, zstd-compressed
  leaves under a prolly-tree index (:mod:`runstate.data.snapshot`), so successive snapshots
  of a slowly changing table share all but the leaves around what changed.

The state component ``data:<name>`` holds only what identifies the data — its table
fingerprint (``docs/fingerprints.md``), row count, column families, key and retention — so
its id changes exactly when the data does, not when the snapshot format or a profile
algorithm changes. Everything derived lives in the run record's input/output entry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from runstate.errors import UsageError

if TYPE_CHECKING:
    import pyarrow as pa

    from runstate.store.objects import ObjectStore

__all__ = ["TABLE_RETENTIONS", "TableEntry", "capture_table"]

TABLE_RETENTIONS = ("full", "reference", "fingerprint")


@dataclass(frozen=True)
class TableEntry:
    """One table input or output of a run, as recorded."""

    name: str
    path: str
    role: str
    fingerprint: str
    ordered_fingerprint: str
    rows: int
    columns: list[list[str]]
    key: list[str] | None
    retention: str
    fingerprints_id: str
    profile_id: str
    snapshot_id: str | None
    schema: list[dict[str, Any]]
    source: dict[str, Any]
    size: int
    findings: list[str] = field(default_factory=list)
    step: str | None = None
    #: retention ``reference``: the external version (:class:`~runstate.data.reference.
    #: ExternalVersion` as a dict) the rows can be fetched from again
    reference: dict[str, Any] | None = None
    #: a bounded uniform row sample (Arrow IPC, :mod:`runstate.data.sample`) for drift checks
    sample_id: str | None = None

    kind = "table"

    @property
    def digest(self) -> str:
        return self.fingerprint

    def component_body(self) -> dict[str, Any]:
        """What identifies the data (and nothing derived from it)."""
        return {
            "kind": "table",
            "path": self.path,
            "fingerprint": self.fingerprint,
            "rows": self.rows,
            "columns": self.columns,
            "key": self.key,
            "retention": self.retention,
        }

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "path": self.path,
            "role": self.role,
            "step": self.step,
            "kind": "table",
            "fingerprint": self.fingerprint,
            "ordered_fingerprint": self.ordered_fingerprint,
            "rows": self.rows,
            "columns": self.columns,
            "key": self.key,
            "retention": self.retention,
            "fingerprints_id": self.fingerprints_id,
            "profile_id": self.profile_id,
            "snapshot_id": self.snapshot_id,
            "object_id": self.snapshot_id,
            "schema": self.schema,
            "source": self.source,
            "size": self.size,
            "files": 1,
            "findings": self.findings,
        }
        if self.reference is not None:
            data["reference"] = self.reference
        if self.sample_id is not None:
            data["sample_id"] = self.sample_id
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TableEntry:
        return cls(
            name=str(data["name"]),
            path=str(data["path"]),
            role=str(data.get("role", "data")),
            fingerprint=str(data["fingerprint"]),
            ordered_fingerprint=str(data["ordered_fingerprint"]),
            rows=int(data["rows"]),
            columns=[list(c) for c in data["columns"]],
            key=None if data.get("key") is None else list(data["key"]),
            retention=str(data["retention"]),
            fingerprints_id=str(data["fingerprints_id"]),
            profile_id=str(data["profile_id"]),
            snapshot_id=data.get("snapshot_id"),
            schema=list(data.get("schema", [])),
            source=dict(data.get("source", {})),
            size=int(data.get("size", 0)),
            findings=list(data.get("findings", [])),
            step=data.get("step"),
            reference=None if data.get("reference") is None else dict(data["reference"]),
            sample_id=data.get("sample_id"),
        )


def _check_key(table: pa.Table, name: str, key: Sequence[str] | None) -> list[str] | None:
    if key is None:
        return None
    columns = [key] if isinstance(key, str) else list(key)
    if not columns:
        raise UsageError(f"table {name!r}: key must name at least one column")
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise UsageError(
            f"table {name!r}: key column(s) {', '.join(missing)} not in the table "
            f"(columns: {', '.join(table.column_names)})"
        )
    return columns


def schema_list(schema: pa.Schema) -> list[dict[str, Any]]:
    """A schema as recorded: name, Arrow type, logical family (what diffs compare), nullable."""
    from runstate.data.tables import logical_family

    return [
        {
            "name": f.name,
            "type": str(f.type),
            "family": logical_family(f.type),
            "nullable": f.nullable,
        }
        for f in schema
    ]


def write_snapshot(objects: ObjectStore, table: pa.Table) -> tuple[str, int]:
    """Store ``table`` as a content-defined snapshot; return (manifest id, bytes).

    The rows are stored in content-defined chunks under a manifest
    (``runstate.snapshot/v1``, :mod:`runstate.data.snapshot`), so successive snapshots of
    a slowly changing table share all but the chunks around what changed. The bytes are
    the snapshot's stored size, chunks shared with other snapshots included.
    """
    from runstate.data.snapshot import write_snapshot as write_chunked

    ref = write_chunked(objects, table)
    return ref.id, ref.bytes


def capture_table(
    objects: ObjectStore,
    name: str,
    table: pa.Table,
    *,
    path: str,
    source: Mapping[str, Any],
    key: Sequence[str] | None = None,
    retention: str = "full",
    role: str = "data",
    step: str | None = None,
    reference: Mapping[str, Any] | None = None,
) -> TableEntry:
    """Fingerprint, profile and (by retention) snapshot ``table``; see the module docstring.

    Retention ``reference`` needs ``reference``: the external version the table was read
    from (:func:`runstate.data.reference.pin_reference`).
    """
    import json

    from runstate.data.fpstore import build_fingerprint_table, write_fingerprint_table
    from runstate.data.profile import profile_table
    from runstate.data.sample import sample_table, write_sample
    from runstate.data.tables import fingerprint_from_rowfps, row_fingerprints

    if retention not in TABLE_RETENTIONS:
        raise UsageError(f"table {name!r}: retention must be one of {', '.join(TABLE_RETENTIONS)}")
    if (retention == "reference") != (reference is not None):
        raise UsageError(f"table {name!r}: an external version goes with retention 'reference'")
    key_columns = _check_key(table, name, key)
    table = table.combine_chunks() if table.num_columns else table
    rowfp = row_fingerprints(table)
    unordered = fingerprint_from_rowfps(table.schema, rowfp)
    ordered = fingerprint_from_rowfps(table.schema, rowfp, ordered=True)
    fp_table = build_fingerprint_table(table, key_columns, rowfp=rowfp)
    fingerprints_id = write_fingerprint_table(objects, fp_table)
    profile = profile_table(table, key=key_columns)
    profile_doc = profile.to_dict()
    profile_bytes = json.dumps(profile_doc, sort_keys=True, allow_nan=False).encode()
    profile_id = objects.put_bytes(profile_bytes)
    findings = _findings(profile_doc, key_columns)
    snapshot_id, size = (None, table.nbytes)
    if retention == "full":
        snapshot_id, size = write_snapshot(objects, table)
    sample = sample_table(table, unordered.fingerprint)
    sample_id = None if sample is None else write_sample(objects, sample)
    return TableEntry(
        name=name,
        path=path,
        role=role,
        fingerprint=unordered.fingerprint,
        ordered_fingerprint=ordered.fingerprint,
        rows=table.num_rows,
        columns=[list(c) for c in unordered.columns],
        key=key_columns,
        retention=retention,
        fingerprints_id=fingerprints_id,
        profile_id=profile_id,
        snapshot_id=snapshot_id,
        schema=schema_list(table.schema),
        source=dict(source),
        size=size,
        findings=findings,
        step=step,
        reference=None if reference is None else dict(reference),
        sample_id=sample_id,
    )


def _findings(profile: Mapping[str, Any], key: list[str] | None) -> list[str]:
    """Data problems worth a line in the record: reported, never raised."""
    found = []
    if key:
        duplicates = profile.get("key_duplicates") or {}
        if isinstance(duplicates, Mapping) and duplicates.get("keys"):
            found.append(
                f"key ({', '.join(key)}) is not unique: {duplicates['keys']} key values repeat "
                f"({duplicates.get('extra_rows', 0)} extra rows)"
            )
        if profile.get("key_nulls"):
            found.append(f"key ({', '.join(key)}) has {profile['key_nulls']} null values")
    if profile.get("rows") == 0:
        found.append("table is empty (0 rows)")
    return found


#: Table files larger than this are captured batch by batch (bounded memory) by
#: :func:`capture_table_streaming` instead of being loaded whole.
STREAMING_THRESHOLD_BYTES = 512 << 20


def capture_table_streaming(
    objects: ObjectStore,
    name: str,
    reader: Any,
    *,
    path: str,
    key: Sequence[str] | None = None,
    role: str = "data",
    step: str | None = None,
    retention: str = "full",
) -> TableEntry:
    """Record a table file too large to hold in memory: fingerprints, snapshot (retention
    ``full``) and profile are computed batch by batch (two passes over the file); memory
    grows with the per-row fingerprints (~60 bytes a row at the sort), not with the data.

    The snapshot is the one :func:`write_snapshot` would store for the whole table
    (:class:`runstate.data.snapshot.SnapshotWriter`). A table whose dictionary-encoded
    columns change dictionary between batches cannot be snapshotted that way: it is
    recorded with retention ``fingerprint`` and a finding saying why.
    """
    import json

    import pyarrow as pa

    from runstate.data.profile import profile_table
    from runstate.data.sample import kept_columns, sample_indices, sampling_batches, write_sample

    key_columns = _check_key(pa.table({f.name: [] for f in reader.schema}), name, key)
    if retention not in ("full", "fingerprint"):
        raise UsageError(f"table {name!r}: a streamed capture keeps full or fingerprint only")
    findings: list[str] = []
    snapshot: Any = None
    if retention == "full":
        from runstate.data.snapshot import SnapshotWriter

        snapshot = SnapshotWriter(objects, reader.schema)
    with objects.batch():
        fingerprints_id, table_fp, ordered_fp, rows, snapshot_ref, problem = _streamed_fingerprints(
            objects, reader, key_columns, snapshot
        )
    if problem:
        findings.append(f"no snapshot (recorded with fingerprint retention): {problem}")
    indices = sample_indices(rows, table_fp.fingerprint)
    sampled: list[Any] = []
    kept = kept_columns(reader.schema)
    batches: Any = reader
    if kept and len(indices):
        batches = sampling_batches(reader.batches(), indices, sampled)
    profile_doc = profile_table(batches, key=key_columns, schema=reader.schema).to_dict()
    sample_id = None
    if sampled:
        sample_id = write_sample(objects, pa.Table.from_batches(sampled).select(kept))
    profile_id = objects.put_bytes(
        json.dumps(profile_doc, sort_keys=True, allow_nan=False).encode()
    )
    findings = _findings(profile_doc, key_columns) + findings
    return TableEntry(
        name=name,
        path=path,
        role=role,
        fingerprint=table_fp.fingerprint,
        ordered_fingerprint=ordered_fp.fingerprint,
        rows=rows,
        columns=[list(c) for c in table_fp.columns],
        key=key_columns,
        retention="full" if snapshot_ref is not None else "fingerprint",
        fingerprints_id=fingerprints_id,
        profile_id=profile_id,
        snapshot_id=None if snapshot_ref is None else snapshot_ref.id,
        schema=schema_list(reader.schema),
        source=reader.source.to_dict(),
        size=0 if snapshot_ref is None else snapshot_ref.bytes,
        findings=findings,
        step=step,
        sample_id=sample_id,
    )


def _streamed_fingerprints(
    objects: ObjectStore, reader: Any, key_columns: list[str] | None, snapshot: Any
) -> tuple[str, Any, Any, int, Any, str | None]:
    """First pass of :func:`capture_table_streaming`: table fingerprints, the sorted
    fingerprint table and (given a ``SnapshotWriter``) the snapshot, stored; returns (the
    fingerprint table's id, unordered and ordered table fingerprints, rows, the snapshot or
    None, why there is none). A function of its own so that its per-row arrays are freed
    before the profile pass starts."""
    import numpy as np
    import pyarrow as pa

    from runstate.data.fpstore import sort_order, write_fingerprint_table
    from runstate.data.rowdiff import KEYFP, ROW, ROWFP
    from runstate.data.tables import TableHasher, row_fingerprints

    unordered, ordered = TableHasher(), TableHasher(ordered=True)
    rowfps: list[np.ndarray] = []
    keyfps: list[np.ndarray] = []
    key_parts: list[pa.Table] = []
    rows = 0
    problem = None
    for batch in reader.batches():
        rowfp = unordered.update(batch)
        ordered.update_rowfps(batch.schema, rowfp)
        rowfps.append(rowfp)
        if snapshot is not None:
            try:
                snapshot.add(batch, row_hashes=rowfp)
            except UsageError as exc:  # e.g. a dictionary that changes between batches
                snapshot, problem = None, str(exc)
        if key_columns:
            keyfps.append(row_fingerprints(batch, columns=key_columns))
            key_parts.append(pa.Table.from_batches([batch]).select(key_columns))
        rows += batch.num_rows
    all_rowfp = np.concatenate(rowfps) if rowfps else np.zeros(0, np.uint64)
    del rowfps
    all_keyfp = np.concatenate(keyfps) if keyfps else None
    del keyfps
    order = sort_order(all_keyfp, all_rowfp)
    columns: dict[str, Any] = {}
    if all_keyfp is not None:
        columns[KEYFP] = pa.array(all_keyfp[order], type=pa.uint64())
        del all_keyfp
    columns[ROWFP] = pa.array(all_rowfp[order], type=pa.uint64())
    del all_rowfp
    # same column order as in memory; a zero-copy view of the argsort result
    columns[ROW] = pa.array(order.view(np.uint64), type=pa.uint64())
    if key_columns:
        keys = pa.concat_tables(key_parts).take(pa.array(order))
        del key_parts
        for column in key_columns:
            columns[column] = keys.column(column)
    del order
    fingerprints_id = write_fingerprint_table(objects, pa.table(columns))
    snapshot_ref = snapshot.finish() if snapshot is not None else None
    return fingerprints_id, unordered.finish(), ordered.finish(), rows, snapshot_ref, problem
