"""The metadata database, through SQLAlchemy Core: SQLite (WAL) by default, PostgreSQL at scale.

Rows are an index over immutable objects (run records, components, release manifests), so
every method here either inserts whole facts in one transaction or reads them; nothing is
ever updated in place except the ``aliases`` pointer table, whose every move is appended to
``alias_log``. ``releases`` and ``alias_log`` are append-only in the database itself
(triggers installed by migration 0001).

Opening a store brings its schema up to ``SCHEMA_REVISION`` with Alembic; Alembic is
imported only when the database is behind, so a normal open costs one small query.

The same conformance suite (``tests/test_metadata.py``) runs against SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, and_, create_engine, event, func, insert, select, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection

from runstate.errors import StoreCorrupt, UsageError
from runstate.store import schema as t

__all__ = ["MetadataStore"]


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # we issue BEGIN ourselves (see _begin)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout = 60000")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = FULL")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


def _begin(connection: Connection) -> None:
    # Writers take SQLite's write lock at BEGIN so that two of them queue on busy_timeout
    # instead of one failing with "database is locked" when it upgrades a read lock;
    # readers begin deferred and never wait for writers (WAL).
    writing = connection.get_execution_options().get("runstate_write", False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if writing else "BEGIN")


class MetadataStore:
    """Queries and inserts over the metadata tables of one database URL."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.dialect = url.split(":", 1)[0].split("+", 1)[0]
        try:
            if self.dialect == "sqlite":
                self.engine: Engine = create_engine(url, connect_args={"timeout": 60})
                event.listen(self.engine, "connect", _sqlite_pragmas)
                event.listen(self.engine, "begin", _begin)
            else:
                self.engine = create_engine(url, pool_pre_ping=True)
            self._migrate()
        except sa_exc.DatabaseError as exc:
            raise StoreCorrupt(
                f"metadata database {self._safe_url()}: {_first_line(exc)}"
            ) from None
        except sa_exc.ArgumentError as exc:
            raise UsageError(f"metadata URL {self._safe_url()}: {_first_line(exc)}") from None

    def _safe_url(self) -> str:
        from runstate.state.redact import strip_url_credentials

        return strip_url_credentials(self.url)

    # -- schema --------------------------------------------------------------------------

    def revision(self) -> str | None:
        with self.engine.connect() as conn:
            try:
                row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
            except sa_exc.DatabaseError:
                conn.rollback()
                return None
        return None if row is None else str(row[0])

    def _migrate(self) -> None:
        current = self.revision()
        if current == t.SCHEMA_REVISION:
            return
        if current is not None and current > t.SCHEMA_REVISION:
            raise StoreCorrupt(
                f"metadata database is at schema {current}, newer than this runstate "
                f"({t.SCHEMA_REVISION}); upgrade runstate"
            )
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option(
            "script_location", os.path.join(os.path.dirname(__file__), "migrations")
        )
        with self.transaction() as conn:
            if self.dialect == "postgresql":
                # Serialise concurrent first opens of a fresh database.
                conn.execute(text("SELECT pg_advisory_xact_lock(7474201)"))
            config.attributes["connection"] = conn
            if self._revision_in(conn) != t.SCHEMA_REVISION:
                command.upgrade(config, t.SCHEMA_REVISION)

    @staticmethod
    def _revision_in(conn: Connection) -> str | None:
        try:
            with conn.begin_nested():
                row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
        except sa_exc.DatabaseError:
            return None
        return None if row is None else str(row[0])

    def close(self) -> None:
        self.engine.dispose()

    # -- runs ----------------------------------------------------------------------------

    def has_run(self, run_id: str) -> bool:
        with self.engine.connect() as conn:
            return (
                conn.execute(select(t.runs.c.id).where(t.runs.c.id == run_id)).first() is not None
            )

    def ingest_run(self, record: Mapping[str, Any], record_id: str) -> bool:
        """Insert a run record's rows in one transaction; False if the run was already there.

        Idempotent so that several processes may ingest the same journal entry at once.
        """
        run_id = record["id"]
        state = record["state"]
        with self.transaction() as conn:
            if conn.execute(select(t.runs.c.id).where(t.runs.c.id == run_id)).first():
                return False
            component_rows = [
                {"id": component_id, "kind": name.split(":")[0]}
                for name, component_id in state["components"].items()
            ]
            if component_rows:
                conn.execute(self._insert_ignore(t.components), component_rows)
            conn.execute(
                self._insert_ignore(t.states),
                {
                    "id": state["id"],
                    "components_json": json.dumps(state["components"], sort_keys=True),
                },
            )
            inserted = conn.execute(
                self._insert_ignore(t.runs).values(
                    id=run_id,
                    name=record["name"],
                    state_id=state["id"],
                    record_id=record_id,
                    parent_id=record.get("parent_id"),
                    kind=record["kind"],
                    status=record["status"],
                    exit_code=record.get("exit_code"),
                    started_at=record["started_at"],
                    ended_at=record["ended_at"],
                    duration_ms=record["duration_ms"],
                    host=record["host"],
                    user=record["user"],
                    command_json=None
                    if record.get("command") is None
                    else json.dumps(record["command"]),
                )
            )
            if inserted.rowcount == 0:
                return False  # a concurrent ingester committed this run first
            rows = [
                {"run_id": run_id, "name": name, "component_id": cid}
                for name, cid in state["components"].items()
            ]
            if rows:
                conn.execute(insert(t.run_components), rows)
            io_rows = [
                {
                    "run_id": run_id,
                    "direction": direction,
                    "name": item["name"],
                    "kind": item["kind"],
                    "path": item.get("path"),
                    "fingerprint": item["fingerprint"],
                    "object_id": item.get("object_id"),
                    "size": item.get("size"),
                    "retention": item.get("retention", "full"),
                }
                for direction, key in (("in", "inputs"), ("out", "outputs"))
                for item in record.get(key, [])
            ]
            if io_rows:
                conn.execute(insert(t.run_io), io_rows)
            metric_rows = [
                {
                    "run_id": run_id,
                    "key": metric["key"],
                    "seq": seq,
                    "value": _metric_float(metric["value"]),
                    "step": metric.get("step"),
                }
                for seq, metric in enumerate(record.get("metrics", []))
            ]
            if metric_rows:
                conn.execute(insert(t.metrics), metric_rows)
            step_rows = [
                {
                    "run_id": run_id,
                    "idx": index,
                    "name": step["name"],
                    "code_hash": step.get("code_hash"),
                    "status": step["status"],
                    "duration_ms": step["duration_ms"],
                }
                for index, step in enumerate(record.get("steps", []))
            ]
            if step_rows:
                conn.execute(insert(t.steps), step_rows)
        return True

    def _insert_ignore(self, table: Any) -> Any:
        """``INSERT … ON CONFLICT DO NOTHING``: safe when concurrent writers insert one fact."""
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            return pg_insert(table).on_conflict_do_nothing()
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table).on_conflict_do_nothing()

    def run(self, run_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(t.runs).where(t.runs.c.id == run_id)).mappings().first()
        return None if row is None else _run_row(dict(row))

    def resolve_run(self, ref: str) -> str:
        """A full run id or a unique prefix of one (at least 4 characters) → the full id."""
        ref = ref.strip().lower()
        if len(ref) < 4:
            raise UsageError(f"run id prefix {ref!r} is too short: give at least 4 characters")
        with self.engine.connect() as conn:
            ids = [
                r[0]
                for r in conn.execute(
                    select(t.runs.c.id).where(t.runs.c.id.like(ref.replace("%", "") + "%")).limit(6)
                )
            ]
        from runstate.store.sqlite_reader import only_match

        return only_match(ref, ids)

    def list_runs(
        self, name: str | None = None, limit: int = 20, offset: int = 0, roots_only: bool = False
    ) -> list[dict[str, Any]]:
        """Newest first; ``roots_only`` leaves out derived runs (those with a parent:
        replays and explain's hybrid replays)."""
        query = select(t.runs).order_by(t.runs.c.started_at.desc(), t.runs.c.id.desc())
        if name is not None:
            query = query.where(t.runs.c.name == name)
        if roots_only:
            query = query.where(t.runs.c.parent_id.is_(None))
        with self.engine.connect() as conn:
            rows = conn.execute(query.limit(limit).offset(offset)).mappings().all()
        return [_run_row(dict(row)) for row in rows]

    def count_runs(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(t.runs)).scalar_one())

    def run_io(self, run_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(t.run_io)
                .where(t.run_io.c.run_id == run_id)
                .order_by(t.run_io.c.direction, t.run_io.c.name)
            ).mappings()
            return [dict(row) for row in rows]

    # -- releases ------------------------------------------------------------------------

    def latest_release(self, name: str, conn: Connection | None = None) -> dict[str, Any] | None:
        query = (
            select(t.releases)
            .where(t.releases.c.name == name)
            .order_by(t.releases.c.version.desc())
            .limit(1)
        )
        if conn is not None:
            row = conn.execute(query).mappings().first()
        else:
            with self.engine.connect() as own:
                row = own.execute(query).mappings().first()
        return None if row is None else dict(row)

    def release(self, name: str, version: int) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = (
                conn.execute(
                    select(t.releases).where(
                        and_(t.releases.c.name == name, t.releases.c.version == version)
                    )
                )
                .mappings()
                .first()
            )
        return None if row is None else dict(row)

    def releases(self, name: str | None = None) -> list[dict[str, Any]]:
        query = select(t.releases).order_by(t.releases.c.name, t.releases.c.version)
        if name is not None:
            query = query.where(t.releases.c.name == name)
        with self.engine.connect() as conn:
            return [dict(row) for row in conn.execute(query).mappings()]

    def insert_release(self, conn: Connection, row: Mapping[str, Any]) -> None:
        conn.execute(insert(t.releases).values(**row))

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A write transaction: ``with metadata.transaction() as conn: ...``."""
        with self.engine.connect().execution_options(runstate_write=True) as conn, conn.begin():
            yield conn

    # -- aliases -------------------------------------------------------------------------

    def alias(self, name: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(t.aliases).where(t.aliases.c.name == name)).mappings().first()
        return None if row is None else dict(row)

    def aliases(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [
                dict(r)
                for r in conn.execute(select(t.aliases).order_by(t.aliases.c.name)).mappings()
            ]

    def set_alias(self, name: str, release_name: str, version: int, at: str, by: str) -> str | None:
        """Point ``name`` at ``release_name@v<version>`` and log the move; return the old target."""
        target = f"{release_name}@v{version}"
        with self.transaction() as conn:
            row = conn.execute(select(t.aliases).where(t.aliases.c.name == name)).mappings().first()
            previous = None if row is None else f"{row['release_name']}@v{row['release_version']}"
            values = {"release_name": release_name, "release_version": version, "updated_at": at}
            if row is None:
                conn.execute(insert(t.aliases).values(name=name, **values))
            else:
                conn.execute(t.aliases.update().where(t.aliases.c.name == name).values(**values))
            conn.execute(
                insert(t.alias_log).values(
                    alias=name, previous=previous, target=target, at=at, by=by
                )
            )
        return previous

    def alias_history(self, name: str | None = None) -> list[dict[str, Any]]:
        query = select(t.alias_log).order_by(t.alias_log.c.seq)
        if name is not None:
            query = query.where(t.alias_log.c.alias == name)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    # -- integrity -----------------------------------------------------------------------

    def referenced_objects(self) -> dict[str, str]:
        """Every object id a row names, with a description of the first row naming it."""
        found: dict[str, str] = {}
        with self.engine.connect() as conn:
            for run_id, record_id in conn.execute(select(t.runs.c.id, t.runs.c.record_id)):
                found.setdefault(record_id, f"run {run_id} record")
            for (component_id,) in conn.execute(select(t.components.c.id)):
                found.setdefault(component_id, "component")
            for run_id, name, object_id in conn.execute(
                select(t.run_io.c.run_id, t.run_io.c.name, t.run_io.c.object_id).where(
                    t.run_io.c.object_id.is_not(None)
                )
            ):
                found.setdefault(object_id, f"run {run_id} io {name}")
            for name, version, manifest_id in conn.execute(
                select(t.releases.c.name, t.releases.c.version, t.releases.c.manifest_id)
            ):
                found.setdefault(manifest_id, f"release {name}@v{version} manifest")
        return found

    def iter_states(self) -> Iterator[tuple[str, dict[str, str]]]:
        with self.engine.connect() as conn:
            for state_id, components_json in conn.execute(
                select(t.states.c.id, t.states.c.components_json)
            ):
                yield state_id, json.loads(components_json)

    def iter_runs(self) -> Iterator[dict[str, Any]]:
        with self.engine.connect() as conn:
            for row in conn.execute(select(t.runs).order_by(t.runs.c.id)).mappings():
                yield _run_row(dict(row))


def _run_row(row: Mapping[str, Any]) -> dict[str, Any]:
    data = dict(row)
    command = data.pop("command_json")
    data["command"] = None if command is None else json.loads(command)
    return data


def _metric_float(value: Any) -> float | None:
    if isinstance(value, str):
        return {"NaN": None, "Infinity": float("inf"), "-Infinity": float("-inf")}.get(value)
    return float(value)


def _first_line(exc: BaseException) -> str:
    message = str(getattr(exc, "orig", None) or exc)
    return message.strip().splitlines()[0] if message.strip() else type(exc).__name__
