"""Table snapshots: exact round trips, deduplication, determinism, gc/verify, pinned CDC cuts."""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import runstate
from runstate.data import cdc
from runstate.data.snapshot import (
    NODE_SCHEMA,
    SNAPSHOT_SCHEMA,
    SnapshotWriter,
    node_children,
    read_manifest,
    read_snapshot,
    snapshot_object_ids,
    write_snapshot,
)
from runstate.data.tablecapture import TableEntry
from runstate.data.tables import table_fingerprint
from runstate.errors import IntegrityError, ObjectMissing, UsageError
from runstate.store.integrity import collect_garbage, verify_store
from runstate.store.objects import LocalObjectStore, ObjectStore
from runstate.store.store import Store
from schemas import validate

# -- helpers --------------------------------------------------------------------------------


def _store(tmp_path: Path) -> LocalObjectStore:
    return LocalObjectStore(tmp_path / "objects")


def _assert_exact(original: pa.Table, restored: pa.Table) -> None:
    assert restored.schema.equals(original.schema, check_metadata=True)
    assert restored.num_rows == original.num_rows
    for name in original.column_names:
        assert restored.column(name).equals(original.column(name)), name
    assert restored.equals(original)


def _fingerprints_equal(original: pa.Table, restored: pa.Table) -> None:
    assert table_fingerprint(restored, ordered=True) == table_fingerprint(original, ordered=True)


def _rich_table(n: int, seed: int = 1) -> pa.Table:
    """Every kind of column the leaf encoding distinguishes, with nulls."""
    rng = np.random.default_rng(seed)

    def holes(values: list[Any], p: float = 0.15) -> list[Any]:
        return [None if rng.random() < p else v for v in values]

    base = 1_600_000_000_000_000
    table = pa.table(
        {
            "id": pa.array(np.arange(n, dtype=np.int64)),
            "i8": pa.array(holes(rng.integers(-128, 128, n).tolist()), pa.int8()),
            "u64": pa.array(rng.integers(0, 2**63, n).astype(np.uint64) * np.uint64(2)),
            "neg_sorted": pa.array(np.arange(-n, 0, dtype=np.int32)),
            "f64": pa.array(holes(rng.standard_normal(n).tolist())),
            "f16": pa.array(rng.random(n).astype(np.float16)),
            "flag": pa.array(holes([bool(i % 3) for i in range(n)])),
            "name": pa.array(holes([f"name-{i}-" + "é" * (i % 7) for i in range(n)])),
            "empty_str": pa.array(["" if i % 2 else None for i in range(n)], pa.string()),
            "big": pa.array(holes([f"L{i}" * (i % 4) for i in range(n)]), pa.large_string()),
            "blob": pa.array(holes([bytes([i % 256]) * (i % 5) for i in range(n)]), pa.binary()),
            "lblob": pa.array([b"x" * (i % 3) for i in range(n)], pa.large_binary()),
            "fixed": pa.array([bytes([i % 256] * 3) for i in range(n)], pa.binary(3)),
            "ts_tz": pa.array(
                holes([base + i * 1_000_003 for i in range(n)]), pa.timestamp("us", tz="Asia/Tokyo")
            ),
            "ts_ns": pa.array([base * 1000 - i for i in range(n)], pa.timestamp("ns")),
            "day": pa.array(holes([dt.date(2020, 1, 1) + dt.timedelta(days=i) for i in range(n)])),
            "d64": pa.array([i * 86_400_000 for i in range(n)], pa.date64()),
            "clock": pa.array([i % 86_400 for i in range(n)], pa.time32("s")),
            "wait": pa.array(holes(list(range(n))), pa.duration("ms")),
            "money": pa.array(
                holes([decimal.Decimal(i) / 100 for i in range(n)]), pa.decimal128(12, 2)
            ),
            "huge": pa.array([decimal.Decimal(i) ** 3 for i in range(n)], pa.decimal256(50, 0)),
            "tags": pa.array(holes([[f"t{j}" for j in range(i % 4)] for i in range(n)])),
            "nums": pa.array(
                holes([[i, None, -i][: i % 4] for i in range(n)]), pa.large_list(pa.int64())
            ),
            "vec": pa.array([[float(i), float(-i)] for i in range(n)], pa.list_(pa.float32(), 2)),
            "point": pa.array(
                holes([{"x": i, "label": str(i), "inner": {"ok": i % 2 == 0}} for i in range(n)])
            ),
            "attrs": pa.array(
                [[("k", i), ("j", -i)][: i % 3] for i in range(n)], pa.map_(pa.string(), pa.int64())
            ),
            "cat": pa.array(
                holes([["low", "mid", "high"][i % 3] for i in range(n)])
            ).dictionary_encode(),
            "cats": pa.array(
                [["a", "b"][: i % 3] for i in range(n)],
                pa.list_(pa.dictionary(pa.int8(), pa.string())),
            ),
            "view": pa.array(holes([f"v{i}" for i in range(n)]), pa.string_view()),
            "nothing": pa.nulls(n),
        }
    )
    return table.replace_schema_metadata({"origin": "test", "pandas": "{}"})


# -- round trips ----------------------------------------------------------------------------


def test_round_trip_of_every_type_is_exact(tmp_path: Path) -> None:
    objects = _store(tmp_path)
    table = _rich_table(3000)
    ref = write_snapshot(objects, table)
    assert ref.rows == 3000 and ref.leaves > 10
    restored = read_snapshot(objects, ref.id)
    _assert_exact(table, restored)
    _fingerprints_equal(table.drop_columns(["view"]), restored.drop_columns(["view"]))


def test_floats_round_trip_bit_for_bit(tmp_path: Path) -> None:
    objects = _store(tmp_path)
    bits = np.array(
        [0x7FF8000000000000, 0x7FF0000000000001, 0xFFF8DEADBEEF0000, 1 << 63, 0x7FF0 << 48, 1],
        dtype=np.uint64,
    )  # quiet NaN, signalling NaN, NaN with a payload, -0.0, +inf, the smallest subnormal
    table = pa.table({"x": pa.array(np.tile(bits, 50).view(np.float64))})
    restored = read_snapshot(objects, write_snapshot(objects, table).id)
    got = restored.column("x").to_numpy().view(np.uint64)
    assert np.array_equal(got, np.tile(bits, 50))
    _fingerprints_equal(table, restored)


def test_sliced_and_chunked_inputs_restore_their_rows_and_match_a_fresh_table(
    tmp_path: Path,
) -> None:
    objects = _store(tmp_path)
    # (views are left out: Arrow cannot compact them, so their leaves depend on the slice)
    whole = _rich_table(2500, seed=3).drop_columns(["cat", "cats", "view"])
    sliced = whole.slice(317, 1500)
    chunked = pa.Table.from_batches(sliced.to_batches(max_chunksize=97))
    fresh = pa.Table.from_pylist(sliced.to_pylist(), schema=sliced.schema)
    ids = set()
    for table in (sliced, chunked, fresh):
        ref = write_snapshot(objects, table)
        _assert_exact(sliced, read_snapshot(objects, ref.id))
        ids.add(ref.id)
    # The bytes of a leaf depend on its rows' values only, not on the buffers around them.
    assert len(ids) == 1


def test_writing_and_reading_go_group_by_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from runstate.data import snapshot

    objects = _store(tmp_path)
    table = _rich_table(3000, seed=4)
    whole = write_snapshot(objects, table)
    monkeypatch.setattr(snapshot, "_GROUP_BYTES", 8192)
    monkeypatch.setattr(snapshot, "_SPAN", 7)
    grouped = write_snapshot(objects, table)
    assert grouped.id == whole.id  # grouping changes nothing stored
    batches = list(snapshot.iter_snapshot_batches(objects, grouped.id))
    assert len(batches) > 10
    _assert_exact(table, pa.Table.from_batches(batches))


def test_empty_small_and_odd_tables(tmp_path: Path) -> None:
    objects = _store(tmp_path)
    cases = {
        "no rows": pa.table({"a": pa.array([], pa.int64()), "s": pa.array([], pa.string())}),
        "one row": pa.table({"a": [1], "s": [None]}),
        "all null": pa.table({"a": pa.array([None] * 50, pa.int64()), "s": pa.nulls(50)}),
        "one huge row": pa.table({"a": [1, 2, 3], "s": ["x", "y" * 100_000, "z"]}),
        "not nullable": pa.Table.from_arrays(
            [pa.array([1, 2, 3])], schema=pa.schema([pa.field("a", pa.int64(), nullable=False)])
        ),
    }
    for label, table in cases.items():
        ref = write_snapshot(objects, table)
        restored = read_snapshot(objects, ref.id)
        assert restored.equals(table) and restored.schema.equals(table.schema), label
    no_columns = pa.Table.from_batches(
        [pa.RecordBatch.from_struct_array(pa.array([{}] * 7, pa.struct([])))]
    )
    restored = read_snapshot(objects, write_snapshot(objects, no_columns).id)
    assert restored.num_rows == 7 and restored.num_columns == 0
    huge = write_snapshot(objects, cases["one huge row"])
    assert huge.leaves >= 2  # a row above the maximum leaf size ends its leaf


def test_a_type_row_fingerprints_refuse_still_round_trips(tmp_path: Path) -> None:
    objects = _store(tmp_path)
    union = pa.UnionArray.from_sparse(
        pa.array([0, 1, 0, 1], pa.int8()), [pa.array([1, 2, 3, 4]), pa.array(["a", "b", "c", "d"])]
    )
    table = pa.table({"u": union, "n": [1, 2, 3, 4]})
    assert read_snapshot(objects, write_snapshot(objects, table).id).equals(table)


def test_legacy_parquet_snapshots_are_still_read(tmp_path: Path) -> None:
    objects = _store(tmp_path)
    table = pa.table({"a": [1, 2], "s": ["x", None]})
    path = tmp_path / "legacy.parquet"
    pq.write_table(table, path, compression="zstd")
    assert read_snapshot(objects, objects.put_file(path)).equals(table)


# -- the manifest and its tree ----------------------------------------------------------------


def test_manifest_and_nodes_validate_and_describe_the_tree(tmp_path: Path) -> None:
    objects = _store(tmp_path)
    table = _rich_table(4000, seed=5)
    ref = write_snapshot(objects, table)
    manifest = read_manifest(objects, ref.id)
    validate(manifest)  # docs/schemas/snapshot.schema.json
    assert manifest["schema"] == SNAPSHOT_SCHEMA and manifest["rows"] == 4000
    assert manifest["height"] >= 1 and len(manifest["chunks"]) <= 64
    assert sum(entry[2] for entry in manifest["chunks"]) == 4000
    assert [d[0] for d in manifest["dictionaries"]] == [table.column_names.index("cat")]
    nodes = leaves = 0
    for object_id in snapshot_object_ids(objects, ref.id)[1:]:
        data = objects.get_bytes(object_id)
        if data.startswith(b'{"ids"'):  # sorted keys; a leaf starts with its raw length
            node = json.loads(data)
            validate(node)  # docs/schemas/snapshot-node.schema.json
            assert node["schema"] == NODE_SCHEMA and 1 <= node["level"] <= manifest["height"]
            assert len(node_children(node)) == len(node["rows"])
            nodes += 1
        elif data[:4] != b"\xff\xff\xff\xff":  # not the dictionary's IPC stream
            leaves += 1
    assert (nodes, leaves) == (ref.nodes, ref.leaves) == (ref.nodes, manifest["leaves"])
    stored = sum(objects.size(i) for i in set(snapshot_object_ids(objects, ref.id)[1:]))
    assert manifest["bytes"] == ref.bytes >= stored


def test_the_same_table_gives_the_same_manifest_id(tmp_path: Path) -> None:
    table = _rich_table(2000, seed=9)
    first = write_snapshot(LocalObjectStore(tmp_path / "a"), table)
    again = write_snapshot(LocalObjectStore(tmp_path / "b"), table)
    copied = write_snapshot(
        LocalObjectStore(tmp_path / "c"),
        pa.Table.from_pylist(table.to_pylist(), schema=table.schema),
    )
    assert first.id == again.id == copied.id
    assert sorted(os.listdir(tmp_path / "a")) == sorted(os.listdir(tmp_path / "b"))


def _customers(n: int, seed: int = 11) -> pa.Table:
    rng = np.random.default_rng(seed)
    return pa.table(
        {
            "id": np.arange(n, dtype=np.int64),
            "amount": np.round(rng.lognormal(4, 1, n), 2),
            "name": [f"customer {i}" for i in range(n)],
            "status": rng.choice(["active", "closed"], n),
            "updated": pa.array(rng.integers(0, 10**15, n), pa.timestamp("us", tz="UTC")),
        }
    )


def _new_objects(objects: ObjectStore, before: set[str]) -> set[str]:
    return set(objects.iter_ids()) - before


def test_one_changed_row_stores_only_a_few_new_objects(tmp_path: Path) -> None:
    objects = _store(tmp_path)
    table = _customers(40_000)
    first = write_snapshot(objects, table)
    assert first.nodes > 0  # a tree, not a flat list
    before = set(objects.iter_ids())
    assert len(before) > 500
    amounts = table.column("amount").to_numpy().copy()
    amounts[23_456] += 1.0
    changed = table.set_column(1, "amount", pa.array(amounts))
    second = write_snapshot(objects, changed)
    new = _new_objects(objects, before)
    # the row's leaf (two if a boundary moved), one node per level, the manifest
    assert second.id in new
    assert len(new) <= 2 + 2 * read_manifest(objects, second.id)["height"] + 1
    assert sum(objects.size(i) for i in new) < 0.01 * first.bytes
    _assert_exact(changed, read_snapshot(objects, second.id))
    _assert_exact(table, read_snapshot(objects, first.id))


def test_appends_and_deletes_store_about_what_changed(tmp_path: Path) -> None:
    objects = _store(tmp_path)
    table = _customers(40_000)
    first = write_snapshot(objects, table)
    before = set(objects.iter_ids())
    keep = np.ones(table.num_rows, bool)
    keep[[5, 12_000, 30_001]] = False
    appended = _customers(400, seed=12).set_column(
        0, "id", pa.array(np.arange(40_000, 40_400, dtype=np.int64))
    )
    evolved = pa.concat_tables([table.filter(pa.array(keep)), appended])
    write_snapshot(objects, evolved)
    new = _new_objects(objects, before)
    assert sum(objects.size(i) for i in new) < 0.05 * first.bytes


# -- integrity: verify and gc follow manifest -> nodes -> leaves ------------------------------


def _snapshot_id(store: Store, run_id: str, name: str) -> str:
    record = store.load_record(store.metadata.run(run_id)["record_id"])
    entry = next(TableEntry.from_dict(i) for i in record["inputs"] if i["name"] == name)
    assert entry.snapshot_id is not None
    return entry.snapshot_id


def test_gc_keeps_every_object_of_a_recorded_snapshot_and_verify_finds_a_missing_one(
    project: Path, store: Store
) -> None:
    table = _customers(20_000)
    with runstate.run("job") as run:
        got = run.read_table("customers", table, key="id", as_="arrow")
    assert got.equals(table)
    snapshot_id = _snapshot_id(store, run.id, "customers")
    validate(read_manifest(store.objects, snapshot_id))
    parts = snapshot_object_ids(store.objects, snapshot_id)
    assert len(parts) > 100
    old = 1_000_000_000.0  # make everything older than any grace period
    for object_id in store.objects.iter_ids():
        os.utime(store.objects.path(object_id), (old, old))  # type: ignore[attr-defined]
    orphan = store.objects.put_bytes(b"an unreachable object")
    os.utime(store.objects.path(orphan), (old, old))  # type: ignore[attr-defined]
    report = collect_garbage(store, grace_seconds=0)
    assert report.deleted == 1 and not store.objects.has(orphan)
    assert all(store.objects.has(object_id) for object_id in parts)
    assert verify_store(store)
    _assert_exact(table, read_snapshot(store.objects, snapshot_id))

    manifest = read_manifest(store.objects, snapshot_id)
    leaf = parts[-1]
    assert leaf not in {entry[0] for entry in manifest["chunks"]}
    os.unlink(store.objects.path(leaf))  # type: ignore[attr-defined]
    report = verify_store(store)
    missing = [p for p in report.problems if p.kind == "missing-object"]
    assert [p.subject for p in missing] == [leaf]
    assert "snapshot" in missing[0].detail
    with pytest.raises(ObjectMissing):
        read_snapshot(store.objects, snapshot_id)


def test_a_corrupt_leaf_or_node_is_caught(project: Path, store: Store) -> None:
    table = _customers(5_000)
    with runstate.run("job") as run:
        run.read_table("customers", table, key="id")
    snapshot_id = _snapshot_id(store, run.id, "customers")
    parts = snapshot_object_ids(store.objects, snapshot_id)
    node = next(i for i in parts[1:] if store.objects.get_bytes(i).startswith(b'{"ids"'))
    path = store.objects.path(node)  # type: ignore[attr-defined]
    document = json.loads(Path(path).read_bytes())
    document["ids"] = base64.b64encode(b"\0" * 31).decode()  # not whole digests
    os.chmod(path, 0o644)
    Path(path).write_bytes(json.dumps(document).encode())
    kinds = {p.kind for p in verify_store(store).problems}
    assert {"corrupt-object", "bad-record"} <= kinds
    with pytest.raises(IntegrityError):
        read_snapshot(store.objects, snapshot_id)


def test_legacy_parquet_snapshot_ids_are_walked_as_blobs(project: Path, store: Store) -> None:
    from runstate.store.integrity import references

    path = project / "legacy.parquet"
    pq.write_table(pa.table({"a": [1]}), path)
    legacy = store.objects.put_file(path)
    item = {"kind": "table", "fingerprints_id": "a" * 64, "profile_id": "b" * 64}
    record = {"state": {"components": {}}, "inputs": [{**item, "snapshot_id": legacy}]}
    found = list(references(store, "record", record))
    assert (legacy, "blob", True) in found


# -- the CDC kernels: boundaries are part of the format -----------------------------------------

_M64 = (1 << 64) - 1


def _mix64(x: int) -> int:
    x &= _M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
    return x ^ (x >> 31)


def _reference_byte_cuts(data: bytes, low: int, avg: int, high: int) -> list[int]:
    """docs: runstate.data.cdc, "byte_cuts", line by line."""
    k = avg.bit_length() - 1
    mask_s = (_M64 << (64 - (k + 2))) & _M64
    mask_l = (_M64 << (64 - (k - 2))) & _M64
    gear = [_mix64(0x6765617274616273 + b) for b in range(256)]
    cuts, s, n = [], 0, len(data)
    while s < n:
        left = n - s
        cut = n
        if left > low:
            end = min(left, high)
            center = min(avg, end)
            h = 0
            cut = s + end
            for i in range(low, end):
                h = ((h << 1) + gear[data[s + i]]) & _M64
                if h & (mask_s if i < center else mask_l) == 0:
                    cut = s + i + 1
                    break
        cuts.append(cut)
        s = cut
    return cuts


def _reference_row_cuts(
    hashes: list[int], sizes: list[int], low: int, avg: int, high: int
) -> list[int]:
    """docs: runstate.data.cdc, "row_cuts", line by line."""
    k = avg.bit_length() - 1
    cuts, acc = [], 0
    for j, (r, z) in enumerate(zip(hashes, sizes, strict=True)):
        before = acc
        acc += z
        if acc >= high:
            cuts.append(j + 1)
            acc = 0
            continue
        if acc < low:
            continue
        x = _mix64(r ^ 0x726F776375747321)
        shift = 64 - (k + 2) if before < avg else 64 - (k - 2)
        t = _M64 if z >= 1 << (64 - shift) else z << shift
        if x < t:
            cuts.append(j + 1)
            acc = 0
    if hashes and (not cuts or cuts[-1] != len(hashes)):
        cuts.append(len(hashes))
    return cuts


def _seeded_bytes(n: int, seed: int = 20240611) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes()


def test_gear_table_is_pinned() -> None:
    assert int(cdc.GEAR[0]) == 0x24EA5B3375063F5D
    assert int(cdc.GEAR[1]) == 0xD6A7CE38A5CF2D03
    assert int(cdc.GEAR[255]) == 0xD7B57345ED76B5E3
    assert [int(g) for g in cdc.GEAR] == [_mix64(cdc.GEAR_SEED + b) for b in range(256)]


def test_byte_cuts_are_golden_for_a_seeded_buffer() -> None:
    cuts = cdc.byte_cuts(_seeded_bytes(1 << 20), 2048, 8192, 65536)
    assert len(cuts) == 110 and int(cuts[-1]) == 1 << 20
    assert cuts[:8].tolist() == [11012, 22456, 31442, 39729, 48073, 57941, 67123, 69966]
    digest = hashlib.sha256(cuts.astype("<i8").tobytes()).hexdigest()[:16]
    assert digest == "2a7d35ecf0089ddf"


def test_row_cuts_are_golden_for_seeded_rows() -> None:
    rng = np.random.default_rng(7)
    hashes = rng.integers(0, 2**64, 10_000, dtype=np.uint64)
    sizes = rng.integers(0, 200, 10_000)
    cuts = cdc.row_cuts(hashes, sizes, 256, 1024, 8192)
    assert len(cuts) == 831 and int(cuts[-1]) == 10_000
    assert cuts[:8].tolist() == [11, 25, 39, 50, 60, 72, 83, 95]
    assert hashlib.sha256(cuts.astype("<i8").tobytes()).hexdigest()[:16] == "3f46b58a25794318"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_kernels_follow_the_written_algorithm(seed: int) -> None:
    rng = np.random.default_rng(seed)
    data = _seeded_bytes(40_000, seed)
    for sizes in ((64, 256, 1024), (0, 16, 64), (300, 512, 600), (8, 8 << 10, 1 << 20)):
        if sizes[0] >= sizes[1]:
            continue
        assert cdc.byte_cuts(data, *sizes).tolist() == _reference_byte_cuts(data, *sizes)
    hashes = rng.integers(0, 2**64, 3000, dtype=np.uint64)
    row_sizes = rng.integers(0, 300, 3000)
    row_sizes[::97] = 5000  # rows above the maximum
    for sizes in ((0, 8, 64), (256, 1024, 4096), (100, 2048, 3000)):
        expected = _reference_row_cuts([int(h) for h in hashes], row_sizes.tolist(), *sizes)
        assert cdc.row_cuts(hashes, row_sizes, *sizes).tolist() == expected


def test_cuts_respect_their_sizes_and_resynchronise_after_an_edit() -> None:
    data = _seeded_bytes(1 << 19, 5)
    cuts = cdc.byte_cuts(data, 1024, 4096, 16384)
    lengths = np.diff(np.concatenate([[0], cuts]))
    assert lengths[:-1].min() > 1024 and lengths.max() <= 16384
    assert 3000 < lengths.mean() < 9000
    edited = data[:100_000] + b"inserted!" + data[100_000:]
    after = set(cdc.byte_cuts(edited, 1024, 4096, 16384).tolist())
    shifted = {int(c) + 9 for c in cuts if c > 100_000}
    assert len(shifted - after) <= 2  # only the cuts next to the insertion move
    assert cdc.byte_cuts(b"", 16, 64, 256).tolist() == []
    assert cdc.row_cuts(np.zeros(0, np.uint64), np.zeros(0, np.int64), 16, 64, 256).tolist() == []


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="power of two"):
        cdc.byte_cuts(b"abc", 10, 100, 1000)
    with pytest.raises(ValueError, match="min < avg < max"):
        cdc.row_cuts(np.zeros(3, np.uint64), np.ones(3, np.int64), 64, 64, 128)


# -- streamed writes ------------------------------------------------------------------------


@pytest.mark.parametrize("batch_rows", [1, 7, 333, 5000])
def test_streamed_snapshot_is_the_whole_table_snapshot(tmp_path: Path, batch_rows: int) -> None:
    """Batch by batch, the writer makes byte for byte the snapshot of the whole table: the
    same leaves (ids), nodes and manifest id, whatever the batch size."""
    table = _rich_table(3000, seed=5)
    whole = write_snapshot(_store(tmp_path / "whole"), table)
    objects = _store(tmp_path / "streamed")
    writer = SnapshotWriter(objects, table.schema)
    for batch in table.to_batches(max_chunksize=batch_rows):
        writer.add(batch)
    streamed = writer.finish()
    assert streamed == whole
    assert sorted(objects.iter_ids()) == sorted(_store(tmp_path / "whole").iter_ids())
    _assert_exact(table, read_snapshot(objects, streamed.id))


def test_streamed_snapshot_of_no_rows_and_known_hashes(tmp_path: Path) -> None:
    from runstate.data.tables import row_fingerprints

    table = _rich_table(500, seed=6)
    objects = _store(tmp_path)
    empty = SnapshotWriter(objects, table.schema)
    empty.add(table.slice(0, 0))
    assert empty.finish() == write_snapshot(objects, table.slice(0, 0))
    writer = SnapshotWriter(objects, table.schema)
    for batch in table.to_batches(max_chunksize=64):
        writer.add(batch, row_hashes=row_fingerprints(batch))
    assert writer.finish() == write_snapshot(objects, table)


def test_a_dictionary_that_changes_between_batches_is_refused(tmp_path: Path) -> None:
    first = pa.table({"cat": pa.array(["a", "b"]).dictionary_encode()})
    second = pa.table({"cat": pa.array(["c"]).dictionary_encode()})
    writer = SnapshotWriter(_store(tmp_path), first.schema)
    writer.add(first)
    with pytest.raises(UsageError, match="'cat': its dictionary changes between batches"):
        writer.add(second)


def test_reading_some_rows_reads_only_their_leaves(tmp_path: Path) -> None:
    from runstate.data.snapshot import read_snapshot_rows

    table = _rich_table(4000, seed=9)
    objects = _store(tmp_path)
    ref = write_snapshot(objects, table)
    assert read_manifest(objects, ref.id)["height"] >= 1
    rows = np.array([3999, 0, 17, 17, 2500])
    expected = pa.concat_tables([table.slice(int(i), 1) for i in rows])  # no take for views
    _assert_exact(expected, read_snapshot_rows(objects, ref.id, rows))
    assert read_snapshot_rows(objects, ref.id, np.array([], np.int64)).num_rows == 0
    # Only the leaves holding the wanted rows are fetched: delete one that holds none.
    manifest = read_manifest(objects, ref.id)
    first_leaf = snapshot_object_ids(objects, ref.id)
    leaf_ids = [
        i
        for i in first_leaf
        if i not in (ref.id,) and i not in {d[1] for d in manifest["dictionaries"]}
    ]
    spared = read_snapshot_rows(objects, ref.id, np.array([0]))
    assert spared.num_rows == 1
    last = leaf_ids[-1]  # the walk lists the last leaf last: it holds row 3999, not row 0
    os.chmod(objects.path(last), 0o644)
    os.unlink(objects.path(last))
    assert read_snapshot_rows(objects, ref.id, np.array([0, 1])).num_rows == 2
    with pytest.raises(ObjectMissing):
        read_snapshot_rows(objects, ref.id, np.array([3999]))
    with pytest.raises(UsageError, match="has 4000 rows"):
        read_snapshot_rows(objects, ref.id, np.array([4000]))
