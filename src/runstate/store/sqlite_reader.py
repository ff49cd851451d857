"""Read-only metadata queries on a SQLite store with the standard library's ``sqlite3``.

Every read-only command (``runs``, ``show``, ``diff``, ``check``, resolving ``latest`` or
``NAME@vN``) needs a few indexed lookups, yet importing SQLAlchemy alone costs ~165 ms on the
reference machine (~350 ms when it is busy) — more than the whole diff of two runs. So when
the store's metadata is SQLite, nothing is waiting in the journal, and the database is at the
schema revision this runstate knows, :attr:`Store.reader <runstate.store.store.Store.reader>`
answers those lookups here instead: the same methods, the same rows, plain ``sqlite3`` opened
read-only. Anything else — writes, ingesting the journal, migrations, PostgreSQL — goes
through :class:`~runstate.store.metadata.MetadataStore` (SQLAlchemy Core), whose queries these
mirror; the conformance tests run both over the same database and compare the results.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from typing import Any, Protocol
from urllib.parse import quote

from runstate.errors import AmbiguousReference, RunNotFound, StoreCorrupt, UsageError

__all__ = ["MetadataReader", "SqliteReader", "head_revision", "only_match"]

_MIGRATIONS = os.path.join(os.path.dirname(__file__), "migrations", "versions")
_REVISION_FILE = re.compile(r"^(?P<revision>[0-9]{4})_.*\.py$")


class MetadataReader(Protocol):
    """The read-only queries both :class:`SqliteReader` and ``MetadataStore`` answer."""

    def run(self, run_id: str) -> dict[str, Any] | None: ...
    def resolve_run(self, ref: str) -> str: ...
    def list_runs(
        self, name: str | None = None, limit: int = 20, offset: int = 0, roots_only: bool = False
    ) -> list[dict[str, Any]]: ...
    def count_runs(self) -> int: ...
    def latest_release(self, name: str) -> dict[str, Any] | None: ...
    def release(self, name: str, version: int) -> dict[str, Any] | None: ...
    def releases(self, name: str | None = None) -> list[dict[str, Any]]: ...
    def alias(self, name: str) -> dict[str, Any] | None: ...
    def aliases(self) -> list[dict[str, Any]]: ...


def head_revision() -> str:
    """The newest migration shipped with this runstate (``migrations/versions/NNNN_*.py``)."""
    revisions = [
        match["revision"]
        for name in os.listdir(_MIGRATIONS)
        if (match := _REVISION_FILE.match(name)) is not None
    ]
    return max(revisions)


def only_match(ref: str, ids: list[str]) -> str:
    """The one run id a prefix matched (shared with ``MetadataStore.resolve_run``)."""
    if not ids:
        raise RunNotFound(f"no run matches {ref!r}")
    if len(ids) > 1:
        shown = ", ".join(i[:13] for i in ids[:5])
        raise AmbiguousReference(f"run id prefix {ref!r} matches several runs: {shown}")
    return str(ids[0])


def _run_row(row: sqlite3.Row) -> dict[str, Any]:
    data = dict(row)
    command = data.pop("command_json")
    data["command"] = None if command is None else json.loads(command)
    return data


class SqliteReader:
    """Read-only lookups on one SQLite metadata database (see the module docstring)."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._conn = connection

    @classmethod
    def open_if_current(cls, path: str) -> SqliteReader | None:
        """A reader on ``path``, or None when the database is missing or not at
        :func:`head_revision` (the caller then opens it with migrations)."""
        if not os.path.exists(path):
            return None
        try:
            connection = sqlite3.connect(
                f"file:{quote(os.path.abspath(path))}?mode=ro", uri=True, timeout=60
            )
            connection.row_factory = sqlite3.Row
            row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.Error:
            return None  # no schema yet, or not a database: the full path reports it
        if row is None or row[0] != head_revision():
            connection.close()
            return None
        return cls(connection)

    def close(self) -> None:
        self._conn.close()

    def _all(self, sql: str, *args: Any) -> list[sqlite3.Row]:
        try:
            return self._conn.execute(sql, args).fetchall()
        except sqlite3.DatabaseError as exc:
            raise StoreCorrupt(f"metadata database: {exc}") from None

    # -- runs ----------------------------------------------------------------------------

    def run(self, run_id: str) -> dict[str, Any] | None:
        rows = self._all("SELECT * FROM runs WHERE id = ?", run_id)
        return _run_row(rows[0]) if rows else None

    def resolve_run(self, ref: str) -> str:
        ref = ref.strip().lower()
        if len(ref) < 4:
            raise UsageError(f"run id prefix {ref!r} is too short: give at least 4 characters")
        pattern = ref.replace("%", "") + "%"
        ids = [r[0] for r in self._all("SELECT id FROM runs WHERE id LIKE ? LIMIT 6", pattern)]
        return only_match(ref, ids)

    def list_runs(
        self, name: str | None = None, limit: int = 20, offset: int = 0, roots_only: bool = False
    ) -> list[dict[str, Any]]:
        clauses, args = [], []
        if name is not None:
            clauses.append("name = ?")
            args.append(name)
        if roots_only:
            clauses.append("parent_id IS NULL")
        where = f"WHERE {' AND '.join(clauses)} " if clauses else ""
        rows = self._all(
            f"SELECT * FROM runs {where}ORDER BY started_at DESC, id DESC LIMIT ? OFFSET ?",
            *args,
            limit,
            offset,
        )
        return [_run_row(row) for row in rows]

    def count_runs(self) -> int:
        return int(self._all("SELECT count(*) FROM runs")[0][0])

    # -- releases and aliases ------------------------------------------------------------

    def latest_release(self, name: str) -> dict[str, Any] | None:
        rows = self._all(
            "SELECT * FROM releases WHERE name = ? ORDER BY version DESC LIMIT 1", name
        )
        return dict(rows[0]) if rows else None

    def release(self, name: str, version: int) -> dict[str, Any] | None:
        rows = self._all("SELECT * FROM releases WHERE name = ? AND version = ?", name, version)
        return dict(rows[0]) if rows else None

    def releases(self, name: str | None = None) -> list[dict[str, Any]]:
        if name is None:
            rows = self._all("SELECT * FROM releases ORDER BY name, version")
        else:
            rows = self._all("SELECT * FROM releases WHERE name = ? ORDER BY name, version", name)
        return [dict(row) for row in rows]

    def alias(self, name: str) -> dict[str, Any] | None:
        rows = self._all("SELECT * FROM aliases WHERE name = ?", name)
        return dict(rows[0]) if rows else None

    def aliases(self) -> list[dict[str, Any]]:
        return [dict(row) for row in self._all("SELECT * FROM aliases ORDER BY name")]
