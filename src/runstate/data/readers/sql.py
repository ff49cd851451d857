"""SQL queries: DuckDB (a connection or a ``duckdb:`` URL), SQLAlchemy (a URL, engine or
connection) and DB-API connections, their results streamed as Arrow batches."""

from __future__ import annotations

import stat as stat_module
import sys
from collections.abc import Iterator
from functools import partial
from typing import TYPE_CHECKING, Any

from runstate.data.readers.detect import _module_class
from runstate.data.readers.messages import _arrow_message, _stat
from runstate.data.readers.schema import _cast_batch, _target_schema
from runstate.data.readers.source import TableReader, TableSource, _batch_stream
from runstate.data.readers.sqlrows import _hinted_types, _rows_reader
from runstate.errors import InputError, InputNotFound, UsageError

if TYPE_CHECKING:
    import pyarrow as pa  # type: ignore[import-untyped]


_SQL_PREVIEW = 200  # characters of SQL text kept in a description


def _preview(sql: str) -> str:
    flat = " ".join(sql.split())
    return flat if len(flat) <= _SQL_PREVIEW else flat[: _SQL_PREVIEW - 1] + "…"


def _query_failed(label: str, exc: BaseException) -> InputError:
    return InputError(f"{label}: query failed: {_arrow_message(exc)}")


def _no_rows(label: str) -> InputError:
    return InputError(f"{label}: the SQL statement returns no rows (not a query)")


def _open_query(
    connection: Any, sql: str, wanted: dict[str, pa.DataType] | None, batch_rows: int
) -> TableReader:
    """The reader of ``sql`` run on ``connection``, fetched ``batch_rows`` rows at a time."""
    if not sql.strip():
        raise UsageError("the SQL query is empty")
    if isinstance(connection, str):
        if connection.startswith("duckdb:"):
            return _open_duckdb_url(connection, sql, wanted, batch_rows)
        return _open_sqlalchemy(connection, sql, wanted, batch_rows)
    if type(connection).__module__.split(".")[0] in ("duckdb", "_duckdb"):
        label = _duckdb_label(connection)
        path = None if label.startswith("DuckDB") else label
        return _duckdb_reader(connection, sql, wanted, batch_rows, label, path)
    if _module_class(connection, "sqlalchemy.engine", "Engine", "Connection"):
        return _open_sqlalchemy(connection, sql, wanted, batch_rows)
    if hasattr(connection, "cursor"):
        return _open_dbapi(connection, sql, wanted, batch_rows)
    raise UsageError(
        f"cannot run SQL on a {type(connection).__module__}.{type(connection).__qualname__}:"
        " expected a DuckDB connection, a database URL, a SQLAlchemy engine or a DB-API"
        " connection"
    )


def _duckdb_label(connection: Any) -> str:
    """The database file of a DuckDB connection, else "DuckDB connection (in-memory)"."""
    try:
        row = connection.execute(
            "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
        ).fetchall()
        if row and row[0][0]:
            return str(row[0][0])
    except Exception:  # an older DuckDB, a closed connection: the label is only a label
        pass
    return "DuckDB connection (in-memory)"


def _open_duckdb_url(
    url: str, sql: str, wanted: dict[str, pa.DataType] | None, batch_rows: int
) -> TableReader:
    import duckdb

    rest = url[len("duckdb:") :]
    database = rest[3:] if rest.startswith("///") else rest.lstrip("/")
    database = database.split("?", 1)[0]
    if database in ("", ":memory:"):
        connection = duckdb.connect(":memory:")
        return _duckdb_reader(connection, sql, wanted, batch_rows, "DuckDB (in-memory)", None)
    _check_database_file(database, "DuckDB")
    try:
        connection = duckdb.connect(database, read_only=True)
    except duckdb.Error as exc:
        raise InputError(
            f"{database}: cannot open the DuckDB database: {_arrow_message(exc)}"
        ) from None
    return _duckdb_reader(connection, sql, wanted, batch_rows, database, database)


def _check_database_file(database: str, kind: str) -> None:
    info = _stat(database)
    if info is None:
        raise InputNotFound(f"{database}: no such {kind} database file")
    if not stat_module.S_ISREG(info.st_mode):
        raise InputError(f"{database}: not a {kind} database file")


def _duckdb_reader(
    connection: Any,
    sql: str,
    wanted: dict[str, pa.DataType] | None,
    batch_rows: int,
    label: str,
    path: str | None,
) -> TableReader:
    import duckdb
    import pyarrow as pa

    errors = (duckdb.Error, pa.ArrowException)

    def fail(exc: BaseException) -> InputError:
        return _query_failed(label, exc)

    def opener() -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
        try:
            relation = connection.sql(sql)
            if relation is None:
                raise _no_rows(label)
            if hasattr(relation, "to_arrow_reader"):
                reader = relation.to_arrow_reader(batch_rows)
            else:  # DuckDB < 1.4
                reader = relation.fetch_record_batch(batch_rows)
        except errors as exc:
            raise fail(exc) from None
        target = _target_schema(label, reader.schema, wanted)

        def cast(batch: pa.RecordBatch) -> pa.RecordBatch:
            return _cast_batch(label, batch, target)

        return target, _batch_stream(reader.read_next_batch, errors, fail, reader.close, cast)

    source = TableSource("query", "duckdb", path, "pandas", f"{label} query: {_preview(sql)}")
    return TableReader(source, opener)


def _open_sqlalchemy(
    connectable: Any, sql: str, wanted: dict[str, pa.DataType] | None, batch_rows: int
) -> TableReader:
    import sqlalchemy as sa

    owned = isinstance(connectable, str)
    if owned:
        try:
            url = sa.engine.make_url(connectable)
        except sa.exc.ArgumentError:
            raise UsageError(f"not a database URL: {connectable.split('@')[-1]!r}") from None
        shown = url.render_as_string(hide_password=True)
        database = url.database
        if (
            url.get_backend_name() == "sqlite"
            and database not in (None, "", ":memory:")
            and not str(database).startswith("file:")
        ):
            _check_database_file(str(database), "SQLite")
        try:
            engine = sa.create_engine(url)
        except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as exc:
            raise UsageError(f"{shown}: cannot use this database URL: {exc}") from None
    else:
        engine = connectable.engine
        shown = engine.url.render_as_string(hide_password=True)
        database = engine.url.database
    dialect = engine.dialect.name
    path = str(database) if dialect == "sqlite" and database not in (None, "", ":memory:") else None
    label = path or shown
    errors = (sa.exc.SQLAlchemyError,)

    def fail(exc: BaseException) -> InputError:
        return _query_failed(label, getattr(exc, "orig", None) or exc)

    def opener() -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
        try:
            if owned or not isinstance(connectable, sa.engine.Connection):
                connection = engine.connect()
                close_connection = True
            else:
                connection = connectable
                close_connection = False
        except errors as exc:
            inner = getattr(exc, "orig", None) or exc
            raise InputError(f"{label}: cannot connect: {_arrow_message(inner)}") from None

        result: Any = None

        def done() -> None:
            if result is not None:
                result.close()
            if close_connection:
                connection.close()
                if owned:
                    engine.dispose()

        try:
            result = connection.execution_options(stream_results=True).execute(sa.text(sql))
            if not result.returns_rows:
                raise _no_rows(label)
            names = [str(key) for key in result.keys()]  # noqa: SIM118
            description = result.cursor.description if result.cursor is not None else None
            dbapi = getattr(engine.dialect, "dbapi", None)
            hints = (
                _hinted_types(description or [], dbapi, dialect)
                if description
                else [None for _ in names]
            )
        except errors as exc:
            done()
            raise fail(exc) from None
        except InputError:
            done()
            raise

        fetch = partial(result.fetchmany, batch_rows)
        return _rows_reader(label, names, hints, fetch, done, wanted, fail, errors)

    source = TableSource("query", dialect, path, "pandas", f"{shown} query: {_preview(sql)}")
    return TableReader(source, opener)


def _open_dbapi(
    connection: Any, sql: str, wanted: dict[str, pa.DataType] | None, batch_rows: int
) -> TableReader:
    module = sys.modules.get(type(connection).__module__.split(".")[0])
    label = f"{type(connection).__module__.split('.')[0]} connection"
    errors: tuple[type[BaseException], ...] = (Exception,)
    if module is not None and isinstance(getattr(module, "Error", None), type):
        errors = (module.Error,)

    def fail(exc: BaseException) -> InputError:
        return _query_failed(label, exc)

    def opener() -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
        cursor = connection.cursor()
        try:
            cursor.execute(sql)
        except errors as exc:
            cursor.close()
            raise fail(exc) from None
        if cursor.description is None:
            cursor.close()
            raise _no_rows(label)
        names = [str(column[0]) for column in cursor.description]
        hints = _hinted_types(cursor.description, module, "")

        fetch = partial(cursor.fetchmany, batch_rows)
        return _rows_reader(label, names, hints, fetch, cursor.close, wanted, fail, errors)

    source = TableSource(
        "query", label.split()[0], None, "pandas", f"{label} query: {_preview(sql)}"
    )
    return TableReader(source, opener)
