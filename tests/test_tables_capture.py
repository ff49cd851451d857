"""Tables through the Run API: what is recorded, findings, diffs of recorded tables."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import runstate
from runstate.data.fpstore import read_fingerprint_table
from runstate.data.tablecapture import TableEntry
from runstate.data.tablediff import diff_recorded
from runstate.data.tables import table_fingerprint
from runstate.errors import UsageError
from runstate.store.store import Store
from schemas import validate


def _entries(store: Store, run_id: str) -> tuple[dict[str, TableEntry], dict[str, TableEntry]]:
    record = store.load_record(store.metadata.run(run_id)["record_id"])
    ins = {i["name"]: TableEntry.from_dict(i) for i in record["inputs"] if i["kind"] == "table"}
    outs = {o["name"]: TableEntry.from_dict(o) for o in record["outputs"] if o["kind"] == "table"}
    return ins, outs


def test_read_table_records_rows_and_returns_the_callers_flavour(
    project: Path, store: Store
) -> None:
    table = pa.table({"id": [3, 1, 2], "x": [0.5, None, 1.5], "tag": ["a", "b", None]})
    pq.write_table(table, project / "t.parquet")
    with runstate.run("job") as run:
        as_arrow = run.read_table("t", "t.parquet", key="id", as_="arrow")
        as_pandas = run.read_table("t2", "t.parquet")
    assert as_arrow.equals(table)
    assert list(as_pandas["id"]) == [3, 1, 2]
    inputs, _ = _entries(store, run.id)
    entry = inputs["t"]
    assert entry.fingerprint == table_fingerprint(table).fingerprint
    assert entry.ordered_fingerprint == table_fingerprint(table, ordered=True).fingerprint
    assert entry.rows == 3 and entry.key == ["id"] and entry.findings == []
    assert entry.columns == [["id", "int"], ["tag", "string"], ["x", "float"]]
    fps = read_fingerprint_table(store.objects, entry.fingerprints_id)
    assert sorted(fps.column("id").to_pylist()) == [1, 2, 3]
    assert sorted(fps.column("__row").to_pylist()) == [0, 1, 2]
    # The component identifies the data and nothing derived from it.
    record = store.load_record(store.metadata.run(run.id)["record_id"])
    validate(record)  # docs/schemas/run-record.schema.json, table entries included
    for component_id in record["state"]["components"].values():
        validate(store.load_json(component_id))
    validate(store.load_json(entry.profile_id))
    body = store.load_json(record["state"]["components"]["data:t"])["body"]
    assert body == entry.component_body()
    assert set(body) == {"kind", "path", "fingerprint", "rows", "columns", "key", "retention"}


def test_same_data_from_different_kinds_has_the_same_component(project: Path, store: Store) -> None:
    import pandas as pd
    import polars as pl

    frame = pd.DataFrame({"id": [1, 2, 3], "name": ["a", "b", "c"], "v": [0.1, 0.2, 0.3]})
    frame.to_csv(project / "t.csv", index=False)
    frame.to_parquet(project / "t.parquet", index=False)
    sources = {
        "csv": "t.csv",
        "parquet": "t.parquet",
        "pandas": frame,
        "polars": pl.from_pandas(frame),
        "arrow": pa.Table.from_pandas(frame, preserve_index=False),
    }
    with runstate.run("kinds") as run:
        for label, source in sources.items():
            run.read_table(label, source, key="id")
    inputs, _ = _entries(store, run.id)
    assert len({entry.fingerprint for entry in inputs.values()}) == 1


def test_findings_are_recorded_not_raised(project: Path, store: Store) -> None:
    with runstate.run("findings") as run:
        run.read_table("dups", pa.table({"id": [1, 1, 2, None], "v": [1, 2, 3, 4]}), key="id")
        run.read_table("empty", pa.table({"id": pa.array([], pa.int64())}), key="id")
    inputs, _ = _entries(store, run.id)
    findings = " ".join(inputs["dups"].findings)
    assert "not unique" in findings and "null" in findings
    assert "empty" in " ".join(inputs["empty"].findings)


def test_bad_key_and_bad_files_are_clear_errors(project: Path) -> None:
    (project / "ragged.csv").write_text("a,b\n1,2\n3,4,5\n")
    (project / "empty.csv").write_bytes(b"")
    with runstate.run("bad") as run:
        with pytest.raises(UsageError, match="key column"):
            run.read_table("t", pa.table({"id": [1]}), key="nope")
        with pytest.raises(runstate.RunstateError, match=r"ragged\.csv"):
            run.read_table("r", "ragged.csv")
        with pytest.raises(runstate.RunstateError, match="empty"):
            run.read_table("e", "empty.csv")
        assert run.inputs == {}  # nothing recorded for the failed reads


def test_output_tables_diff_down_to_cells(project: Path, store: Store) -> None:
    base = pa.table(
        {"id": list(range(100)), "score": [i / 100 for i in range(100)], "ok": [True] * 100}
    )
    with runstate.run("score") as first:
        first.output("predictions", base, key="id")
    changed = base.set_column(
        1, "score", pa.array([0.5 if i == 7 else i / 100 for i in range(100)])
    )
    changed = changed.filter(pa.array([i != 3 for i in range(100)]))
    changed = pa.concat_tables([changed, pa.table({"id": [100], "score": [1.0], "ok": [False]})])
    with runstate.run("score") as second:
        second.output("predictions", changed, key="id")
    _, out_a = _entries(store, first.id)
    _, out_b = _entries(store, second.id)
    result = diff_recorded(store.objects, out_a["predictions"], out_b["predictions"])
    assert result
    rows = result.rows
    assert (rows.added, rows.removed, rows.changed) == (1, 1, 1)
    assert rows.samples["added"] == [{"id": 100}] and rows.samples["removed"] == [{"id": 3}]
    assert result.changed_columns == {"score": 1}
    assert result.cells == [{"key": {"id": 7}, "changes": {"score": [0.07, 0.5]}}]
    same = diff_recorded(store.objects, out_a["predictions"], out_a["predictions"])
    assert not same


def test_public_diff_of_tables_in_hand() -> None:
    from runstate.data import diff

    old = pa.table({"id": [1, 2, 3], "v": ["a", "b", "c"]})
    new = pa.table({"id": [1, 2, 4], "v": ["a", "B", "d"], "extra": [0, 0, 0]})
    result = diff(old, new, key="id")
    assert result.schema.added == [
        {"name": "extra", "type": "int64", "family": "int", "nullable": True}
    ]
    physical = diff(
        pa.table({"s": pa.array(["a"], pa.string())}),
        pa.table({"s": pa.array(["a"], pa.large_string())}),
    )
    assert not physical  # same logical data: not a change
    # Rows are compared on the columns both sides have: only id 2's "v" changed.
    assert (result.rows.added, result.rows.removed, result.rows.changed) == (1, 1, 1)
    assert result.cells == [{"key": {"id": 2}, "changes": {"v": ["b", "B"]}}]
    unkeyed = diff(pa.table({"v": [1, 1, 2]}), pa.table({"v": [1, 2, 2]}))
    assert (unkeyed.rows.added, unkeyed.rows.removed, unkeyed.rows.changed) == (1, 1, 0)


def test_streaming_capture_matches_in_memory_capture(project: Path, store: Store) -> None:
    from runstate.data.readers import open_table
    from runstate.data.tablecapture import capture_table, capture_table_streaming

    n = 50_000
    table = pa.table(
        {
            "id": list(range(n)),
            "v": [i % 97 / 7 for i in range(n)],
            "s": [str(i % 13) for i in range(n)],
        }
    )
    pq.write_table(table, project / "big.parquet", row_group_size=4_000)  # 13 row groups
    reader = open_table(project / "big.parquet")
    assert sum(1 for _ in reader.batches()) > 1  # it really is read batch by batch
    streamed = capture_table_streaming(store.objects, "big", reader, path="big.parquet", key=["id"])
    whole = capture_table(store.objects, "big", table, path="big.parquet", source={}, key=["id"])
    assert streamed.fingerprint == whole.fingerprint
    assert streamed.ordered_fingerprint == whole.ordered_fingerprint
    assert streamed.rows == n and streamed.retention == "full"
    assert read_fingerprint_table(store.objects, streamed.fingerprints_id).equals(
        read_fingerprint_table(store.objects, whole.fingerprints_id)
    )
    # The streamed snapshot is the in-memory one, object for object.
    assert streamed.snapshot_id == whole.snapshot_id is not None
    assert streamed.findings == whole.findings == []
    thin = capture_table_streaming(
        store.objects, "big", open_table(project / "big.parquet"), path="p", retention="fingerprint"
    )
    assert thin.retention == "fingerprint" and thin.snapshot_id is None


def test_streaming_capture_without_one_dictionary_keeps_fingerprints(
    project: Path, store: Store
) -> None:
    from runstate.data.readers import open_table
    from runstate.data.tablecapture import capture_table_streaming

    # An IPC stream may replace a column's dictionary between batches (IPC files cannot).
    sink = pa.BufferOutputStream()
    schema = pa.schema([("c", pa.dictionary(pa.int32(), pa.string()))])
    options = pa.ipc.IpcWriteOptions(emit_dictionary_deltas=False)
    with pa.ipc.new_stream(sink, schema, options=options) as out:
        out.write_batch(pa.record_batch([pa.array(["a", "b"]).dictionary_encode()], schema=schema))
        out.write_batch(pa.record_batch([pa.array(["z"]).dictionary_encode()], schema=schema))
    (project / "cats.arrows").write_bytes(sink.getvalue().to_pybytes())
    entry = capture_table_streaming(
        store.objects, "cats", open_table(project / "cats.arrows"), path="cats.arrows"
    )
    assert entry.rows == 3 and entry.retention == "fingerprint" and entry.snapshot_id is None
    assert any("dictionary changes between batches" in f for f in entry.findings)
