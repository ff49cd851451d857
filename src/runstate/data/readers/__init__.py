"""Open any table a run reads or writes as a stream of Arrow record batches.

Arrow is the lingua franca: every source — a CSV, TSV, Parquet (one file, or a folder of
files, hive-partitioned or not), Arrow IPC (file or stream; ``.arrow``/``.feather``/``.ipc``),
JSON lines, a pandas or polars frame, an Arrow table/batch/stream, or a SQL query (a DuckDB
connection, or a SQLAlchemy URL or engine) — becomes a :class:`TableReader`: its
:class:`TableSource`, its Arrow schema, and :meth:`TableReader.batches`, which streams the
rows batch by batch so that a file bigger than the machine's memory can be fingerprinted
and profiled (Parquet by row group, IPC by record batch, CSV/JSON lines by blocks of bytes).

Bad input raises one :class:`~runstate.errors.InputError` (or its subclasses
``InputNotFound`` / ``InputUnreadable``) whose message starts with the path — or the
database — and then says, in one line, what is wrong: a ragged CSV row and its line, the
offset of a byte that is not UTF-8, a value that does not fit its column's type, a truncated
Parquet file, a 0-byte file, a symlink loop, unreadable files in a folder, an unknown format,
a failed query. An empty table (a header and no rows) is a valid table with 0 rows.

pandas, polars and DuckDB are optional: each is imported only when the input is of its
kind. pyarrow itself is imported on first use, so importing this module is cheap.

CSV and JSON lines type their columns from the first block of the file (the whole file when
it is under 64 MiB; otherwise the first 16 MiB): a later value that does not fit the type
inferred there is reported with its line, and ``schema=`` fixes the types up front.

The package, one concept a module: :mod:`.detect` (which format a path holds),
:mod:`.source` (:class:`TableSource`, :class:`TableReader`, the batch stream),
:mod:`.schema` (``schema=`` and casts), :mod:`.messages` (the shared one-line errors),
:mod:`.paths` (file and folder checks, dispatch by format), :mod:`.text` (decoding errors and
line numbers of text files), :mod:`.csv`, :mod:`.jsonl`, :mod:`.parquet`, :mod:`.ipc`,
:mod:`.frames` (pandas/polars/Arrow objects, :func:`to_flavour`), :mod:`.sql` and
:mod:`.sqlrows` (queries; DB-API rows to Arrow). This module is the public API.
"""

from __future__ import annotations

import codecs
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from runstate.data.readers.detect import FORMATS, detect_format
from runstate.data.readers.frames import FLAVOURS, _open_object, to_flavour
from runstate.data.readers.paths import _open_path
from runstate.data.readers.schema import _cast_stream as _cast_stream
from runstate.data.readers.schema import _schema_mapping
from runstate.data.readers.schema import _target_schema as _target_schema
from runstate.data.readers.source import KINDS as KINDS
from runstate.data.readers.source import Opener as Opener
from runstate.data.readers.source import TableReader, TableSource
from runstate.data.readers.sql import _open_query
from runstate.errors import UsageError

if TYPE_CHECKING:
    import pyarrow as pa  # type: ignore[import-untyped]

__all__ = [
    "FLAVOURS",
    "FORMATS",
    "TableReader",
    "TableSource",
    "detect_format",
    "open_table",
    "to_flavour",
]


_BATCH_ROWS = 131_072  # rows per batch for Parquet and SQL results (read at each open)


def open_table(
    source: Any,
    format: str | None = None,
    *,
    schema: pa.Schema | Mapping[str, Any] | None = None,
    sql_connection: Any = None,
    encoding: str = "utf-8",
    block_size: int | None = None,
) -> TableReader:
    """Open ``source`` as a :class:`TableReader`.

    ``source`` is a path (``str``/``PathLike``: a file, or a folder of Parquet files), a
    remote file URL (``s3://…``, ``gs://…``: fetched through fsspec, :mod:`runstate.data.remote`), a
    pandas DataFrame, a polars DataFrame or LazyFrame (collected), a pyarrow Table,
    RecordBatch or RecordBatchReader, any object with ``__arrow_c_stream__``, or a SQL query:
    ``(connection, "SELECT …")`` — or the SQL text with ``sql_connection=`` — where the
    connection is a DuckDB connection, a URL (``"duckdb:///file.db"``, ``"sqlite:///x.db"``,
    ``"postgresql://…"``), a SQLAlchemy engine/connection, or a DB-API connection.

    ``format`` overrides detection for a path (one of :data:`FORMATS`). ``schema`` (a
    ``pyarrow.Schema`` or a mapping of column name to Arrow type) fixes the types of the
    columns it names: the other columns keep their own. ``encoding`` is the text encoding of
    a CSV/TSV/JSON lines file; ``block_size`` the bytes per batch for those formats.
    """
    if format is not None and format not in FORMATS:
        raise UsageError(f"unknown format {format!r}: expected one of {', '.join(FORMATS)}")
    if block_size is not None and block_size <= 0:
        raise UsageError(f"block_size must be positive, got {block_size}")
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise UsageError(f"unknown text encoding {encoding!r}") from None
    wanted = _schema_mapping(schema)
    if sql_connection is not None:
        if not isinstance(source, str):
            raise UsageError("with sql_connection=, the source must be the SQL text (a str)")
        return _open_query(sql_connection, source, wanted, _BATCH_ROWS)
    if isinstance(source, tuple):
        if len(source) != 2 or not isinstance(source[1], str):
            raise UsageError("a SQL source is a pair (connection, 'SELECT …')")
        return _open_query(source[0], source[1], wanted, _BATCH_ROWS)
    if isinstance(source, str) and "://" in source:
        from runstate.data.remote import is_remote_url, open_remote

        if is_remote_url(source):  # s3://, gs://, …: fetched, then read like a local file
            return open_remote(source, format, wanted, encoding, block_size, _BATCH_ROWS)
    if isinstance(source, (str, os.PathLike)):
        return _open_path(os.fspath(source), format, wanted, encoding, block_size, _BATCH_ROWS)
    return _open_object(source, wanted)
