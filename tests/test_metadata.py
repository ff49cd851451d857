"""Metadata conformance suite: every test runs on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import text

from factories import make_record
from runstate.errors import AmbiguousReference, RunNotFound, StoreCorrupt, UsageError
from runstate.store.metadata import MetadataStore
from runstate.store.schema import SCHEMA_REVISION


@pytest.fixture
def meta(metadata_url: str) -> MetadataStore:
    store = MetadataStore(metadata_url)
    yield store
    store.close()


def test_fresh_database_is_migrated_to_head(meta: MetadataStore) -> None:
    assert meta.revision() == SCHEMA_REVISION
    # Opening again is a no-op (no second migration, no error).
    again = MetadataStore(meta.url)
    assert again.revision() == SCHEMA_REVISION
    again.close()


def test_ingest_is_idempotent_and_complete(meta: MetadataStore) -> None:
    record = make_record(metrics={"auc": 0.91, "loss": float("inf")})
    assert meta.ingest_run(record, "aa" * 32) is True
    assert meta.ingest_run(record, "aa" * 32) is False
    row = meta.run(record["id"])
    assert row is not None
    assert row["name"] == "score" and row["state_id"] == record["state"]["id"]
    assert row["command"] == ["python", "score.py"]
    assert meta.count_runs() == 1
    with meta.engine.connect() as conn:
        metrics = conn.execute(text("SELECT key, value FROM metrics ORDER BY key")).all()
        components = conn.execute(text("SELECT count(*) FROM run_components")).scalar_one()
        steps = conn.execute(text("SELECT name, code_hash FROM steps")).all()
    assert [(k, v) for k, v in metrics] == [("auc", 0.91), ("loss", float("inf"))]
    assert components == 3
    assert steps == [("features", "cd" * 32)]


def test_identical_states_are_stored_once(meta: MetadataStore) -> None:
    first, second = make_record(), make_record()
    assert first["state"]["id"] == second["state"]["id"]
    meta.ingest_run(first, "aa" * 32)
    meta.ingest_run(second, "bb" * 32)
    with meta.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM states")).scalar_one() == 1
        assert conn.execute(text("SELECT count(*) FROM components")).scalar_one() == 3


def test_list_runs_newest_first_with_name_filter(meta: MetadataStore) -> None:
    records = [make_record(name="score" if i % 2 else "train") for i in range(5)]
    for index, record in enumerate(records):
        record["started_at"] = f"2026-01-0{index + 1}T00:00:00.000000Z"
        meta.ingest_run(record, f"{index:02x}" * 32)
    listed = meta.list_runs()
    assert [r["id"] for r in listed] == [r["id"] for r in reversed(records)]
    scores = meta.list_runs(name="score")
    assert {r["name"] for r in scores} == {"score"} and len(scores) == 2
    assert meta.list_runs(limit=1, offset=1)[0]["id"] == records[3]["id"]


def test_resolve_run_by_prefix(meta: MetadataStore) -> None:
    record = make_record()
    meta.ingest_run(record, "aa" * 32)
    assert meta.resolve_run(record["id"]) == record["id"]
    assert meta.resolve_run(record["id"][:8].upper()) == record["id"]
    with pytest.raises(RunNotFound):
        meta.resolve_run("ffffffff")
    with pytest.raises(UsageError, match="too short"):
        meta.resolve_run("01")
    other = make_record()
    other["id"] = record["id"][:9] + "ffff" + record["id"][13:]
    meta.ingest_run(other, "bb" * 32)
    with pytest.raises(AmbiguousReference, match="matches several runs"):
        meta.resolve_run(record["id"][:8])


def _release_row(record: dict, version: int, previous: str | None) -> dict:
    return {
        "name": "scoring",
        "version": version,
        "run_id": record["id"],
        "state_id": record["state"]["id"],
        "manifest_id": f"{version:02x}" * 32,
        "previous_id": previous,
        "signature": None,
        "key_id": None,
        "created_at": "2026-01-01T00:00:00.000000Z",
        "created_by": "tester",
    }


def test_releases_are_append_only_in_the_database(meta: MetadataStore) -> None:
    record = make_record()
    meta.ingest_run(record, "aa" * 32)
    with meta.transaction() as conn:
        meta.insert_release(conn, _release_row(record, 1, None))
    with pytest.raises(sa_exc.IntegrityError), meta.transaction() as conn:
        meta.insert_release(conn, _release_row(record, 1, None))  # same version twice
    for statement in ("UPDATE releases SET state_id = 'x'", "DELETE FROM releases"):
        with pytest.raises(sa_exc.DatabaseError, match="append-only"), meta.transaction() as conn:
            conn.execute(text(statement))
    assert meta.release("scoring", 1)["state_id"] == record["state"]["id"]
    assert meta.latest_release("scoring")["version"] == 1
    assert meta.release("scoring", 2) is None


def test_alias_moves_are_logged(meta: MetadataStore) -> None:
    assert meta.set_alias("production", "scoring", 1, "2026-01-01T00:00:00Z", "alice") is None
    assert meta.set_alias("production", "scoring", 2, "2026-01-02T00:00:00Z", "bob") == "scoring@v1"
    assert meta.alias("production")["release_version"] == 2
    history = meta.alias_history("production")
    assert [(h["previous"], h["target"], h["by"]) for h in history] == [
        (None, "scoring@v1", "alice"),
        ("scoring@v1", "scoring@v2", "bob"),
    ]
    with pytest.raises(sa_exc.DatabaseError, match="append-only"), meta.transaction() as conn:
        conn.execute(text("DELETE FROM alias_log"))


def test_referenced_objects_cover_every_row_kind(meta: MetadataStore) -> None:
    record = make_record()
    record["inputs"] = [
        {
            "name": "customers",
            "kind": "file",
            "path": "c.csv",
            "fingerprint": "ee" * 32,
            "object_id": "ee" * 32,
            "size": 3,
            "files": 1,
            "retention": "full",
            "role": "data",
            "step": None,
        }
    ]
    meta.ingest_run(record, "aa" * 32)
    with meta.transaction() as conn:
        meta.insert_release(conn, _release_row(record, 1, None))
    found = meta.referenced_objects()
    assert "aa" * 32 in found and "ee" * 32 in found and "01" * 32 in found
    assert set(record["state"]["components"].values()) <= set(found)


def test_concurrent_ingest_from_threads(meta: MetadataStore) -> None:
    records = [make_record(name=f"job{i % 3}") for i in range(24)]
    errors: list[BaseException] = []

    def worker(chunk: list[dict]) -> None:
        own = MetadataStore(meta.url)
        try:
            for record in chunk:
                own.ingest_run(record, "aa" * 32)
                own.ingest_run(record, "aa" * 32)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            own.close()

    threads = [threading.Thread(target=worker, args=(records[i::4],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert meta.count_runs() == 24


def test_truncated_sqlite_file_is_reported_as_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "meta.db"
    MetadataStore(f"sqlite:///{path}").close()
    data = path.read_bytes()
    path.write_bytes(b"garbage" + data[:50])
    with pytest.raises(StoreCorrupt, match=r"meta\.db|not a database"):
        MetadataStore(f"sqlite:///{path}")
