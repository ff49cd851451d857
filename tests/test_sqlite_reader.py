"""The SQLAlchemy-free read path answers exactly as the full metadata store does."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import runstate
from runstate.errors import AmbiguousReference, RunNotFound, UsageError
from runstate.store import schema
from runstate.store.metadata import MetadataStore
from runstate.store.refs import resolve_run
from runstate.store.releases import create_release, set_alias
from runstate.store.sqlite_reader import SqliteReader, head_revision
from runstate.store.store import Store


def test_head_revision_is_the_schema_revision() -> None:
    assert head_revision() == schema.SCHEMA_REVISION


@pytest.fixture
def populated(project: Path) -> Store:
    for index in range(5):
        with runstate.run("score" if index % 2 else "train", params={"i": index}):
            pass
    store = Store.open(project)
    runs = store.metadata.list_runs(limit=10)
    create_release(store, "scoring", runs[0]["id"])
    create_release(store, "scoring", runs[1]["id"])
    create_release(store, "training", runs[2]["id"])
    set_alias(store, "production", "scoring@v1")
    store.close()
    return Store.open(project)


def test_every_query_matches_the_full_store(populated: Store) -> None:
    fast = SqliteReader.open_if_current(str(populated.root / "runstate.db"))
    assert fast is not None
    full = MetadataStore(populated.metadata_url)
    try:
        some_id = full.list_runs(limit=1)[0]["id"]
        assert fast.run(some_id) == full.run(some_id) is not None
        assert fast.run("0" * 36) is None
        for name in (None, "score", "train", "nobody"):
            for limit, offset in ((20, 0), (2, 1), (1, 4)):
                assert fast.list_runs(name, limit, offset) == full.list_runs(name, limit, offset)
        assert fast.count_runs() == full.count_runs() == 5
        assert fast.resolve_run(some_id[:20]) == full.resolve_run(some_id[:20]) == some_id
        for name in (None, "scoring", "training", "nope"):
            assert fast.releases(name) == full.releases(name)
        assert fast.release("scoring", 2) == full.release("scoring", 2) is not None
        assert fast.latest_release("scoring") == full.latest_release("scoring")
        assert fast.latest_release("nope") is None
        assert fast.alias("production") == full.alias("production") is not None
        assert fast.aliases() == full.aliases()
        with pytest.raises(AmbiguousReference, match="matches several runs"):
            fast.resolve_run(some_id[:4])  # UUIDv7 runs started together share a prefix
        with pytest.raises(RunNotFound):
            fast.resolve_run("ffff-ffff")
        with pytest.raises(UsageError, match="too short"):
            fast.resolve_run("01")
    finally:
        fast.close()
        full.close()


def test_reader_is_fast_only_when_nothing_is_pending(populated: Store) -> None:
    assert isinstance(populated.reader, SqliteReader)
    assert populated._metadata is None  # SQLAlchemy never opened
    with runstate.run("score", store=populated.root):  # commits through the journal
        pass
    assert populated.journal.pending()
    latest = populated.reader.list_runs(limit=1)[0]  # sees the pending run: full store used
    assert isinstance(populated.reader, MetadataStore)
    assert latest["id"] == resolve_run(populated, "latest")
    assert not populated.journal.pending()


def test_an_old_schema_is_left_to_the_migrating_store(populated: Store) -> None:
    path = str(populated.root / "runstate.db")
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0000'")
    assert SqliteReader.open_if_current(path) is None
    assert SqliteReader.open_if_current(str(populated.root / "missing.db")) is None


def test_read_only_commands_do_not_import_sqlalchemy(populated: Store) -> None:
    code = (
        "import sys; from runstate.cli.main import main\n"
        "try:\n    main(['runs', '--json'])\nexcept SystemExit:\n    pass\n"
        "try:\n    main(['show', 'scoring@v1', '--json'])\nexcept SystemExit:\n    pass\n"
        "print('SQLALCHEMY' if 'sqlalchemy' in sys.modules else 'LIGHT', file=sys.stderr)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=populated.project_root,
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stderr.strip().splitlines()[-1] == "LIGHT"
    assert '"schema": "runstate.runs/v1"' in done.stdout


def test_latest_skips_derived_runs(populated: Store) -> None:
    newest = resolve_run(populated, "latest")
    newest_score = resolve_run(populated, "latest", name="score")
    with runstate.Run("score", store=populated.root, parent_id=newest):  # e.g. a replay
        pass
    populated.ingest_pending()
    fast = SqliteReader.open_if_current(str(populated.root / "runstate.db"))
    assert fast is not None
    full = MetadataStore(populated.metadata_url)
    try:
        for reader in (fast, full):
            assert reader.list_runs(limit=1)[0]["parent_id"] == newest
            assert reader.list_runs(limit=1, roots_only=True)[0]["id"] == newest
            assert len(reader.list_runs(limit=10, roots_only=True)) == 5
    finally:
        fast.close()
        full.close()
    assert resolve_run(populated, "latest") == newest
    assert resolve_run(populated, "latest", name="score") == newest_score
