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
"""

from __future__ import annotations

import codecs
import errno
import os
import re
import stat as stat_module
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

from runstate.errors import InputError, InputNotFound, InputUnreadable, UsageError

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

FORMATS = ("csv", "tsv", "parquet", "ipc", "jsonl", "delta")
FLAVOURS = ("pandas", "polars", "arrow")
KINDS = ("file", "dataframe", "query")

_SUFFIXES = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".parquet": "parquet",
    ".parq": "parquet",
    ".pq": "parquet",
    ".arrow": "ipc",
    ".arrows": "ipc",
    ".feather": "ipc",
    ".ipc": "ipc",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
_TEXT_FORMATS = ("csv", "tsv", "jsonl")
_COMPRESSIONS = (".gz", ".bz2", ".zst", ".lz4")
_IGNORED_PREFIXES = (".", "_")  # what pyarrow.dataset skips in a folder (_SUCCESS, .crc, …)

_WHOLE_FILE_BLOCK = 64 << 20  # text files up to this size are typed from all their rows
_DEFAULT_BLOCK = 16 << 20  # bytes per CSV/JSON block for bigger files
_BATCH_ROWS = 131_072  # rows per batch for Parquet and SQL results
_SQL_PREVIEW = 200  # characters of SQL text kept in a description


# ---------------------------------------------------------------------------------------
# Format detection


def _magic_format(path: str) -> str | None:
    """The format named by a file's first and last bytes, for the binary formats."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(8)
    except OSError:
        return None
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"ARROW1") or head.startswith(b"FEA1"):
        return "ipc"
    if head.startswith(b"\xff\xff\xff\xff") and len(head) == 8:
        return "ipc"  # an IPC stream: continuation marker, then the metadata length
    return None


def _suffix_format(path: str) -> str | None:
    name = os.path.basename(path).lower()
    stem, suffix = os.path.splitext(name)
    if suffix in _COMPRESSIONS:
        inner = _SUFFIXES.get(os.path.splitext(stem)[1])
        return inner if inner in _TEXT_FORMATS else None
    return _SUFFIXES.get(suffix)


def _data_files(folder: str) -> list[str]:
    """The files pyarrow.dataset would read in a folder, sorted (hidden/_ files skipped)."""
    found: list[str] = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(_IGNORED_PREFIXES))
        found.extend(
            os.path.join(root, name)
            for name in sorted(files)
            if not name.startswith(_IGNORED_PREFIXES)
        )
    return found


def detect_format(path: str | os.PathLike[str]) -> str | None:
    """The table format of ``path`` from its magic bytes and suffix, or ``None``.

    Binary magic bytes win over the suffix (a Parquet file named ``.csv`` is Parquet);
    otherwise the suffix decides (``.csv``, ``.tsv``/``.tab``, ``.parquet``/``.pq``,
    ``.arrow``/``.feather``/``.ipc``, ``.jsonl``/``.ndjson``; text formats may carry a
    ``.gz``/``.bz2``/``.zst``/``.lz4`` suffix). A folder is ``"parquet"`` when every data file
    in it (hive partition folders included) is Parquet.
    """
    text = os.fspath(path)
    if os.path.isdir(text):
        if os.path.isdir(os.path.join(text, "_delta_log")):
            return "delta"
        files = _data_files(text)
        if files and all(_is_parquet(name) for name in files):
            return "parquet"
        return None
    return _file_format(text)


def _file_format(path: str) -> str | None:
    return _magic_format(path) or _suffix_format(path)


def _is_parquet(path: str) -> bool:
    """A data file of a folder: Parquet by its suffix, else by its magic bytes."""
    return _suffix_format(path) == "parquet" or _magic_format(path) == "parquet"


# ---------------------------------------------------------------------------------------
# Value objects


@dataclass(frozen=True)
class TableSource:
    """Where a table came from: recorded with the input, never with credentials."""

    kind: str  # "file" | "dataframe" | "query"
    format: str | None  # file format; "pandas"/"polars"/"arrow"; "duckdb"/SQL dialect name
    path: str | None  # file or folder; the database file of a query, when it has one
    flavour: str  # what the caller gets back by default: "pandas" | "polars" | "arrow"
    description: str
    version: str | None = None  # the external version read (a Delta table's version)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "kind": self.kind,
            "format": self.format,
            "path": self.path,
            "flavour": self.flavour,
            "description": self.description,
        }
        if self.version is not None:
            data["version"] = self.version
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TableSource:
        return cls(
            str(data["kind"]),
            None if data.get("format") is None else str(data["format"]),
            None if data.get("path") is None else str(data["path"]),
            str(data["flavour"]),
            str(data["description"]),
            None if data.get("version") is None else str(data["version"]),
        )


Opener = Callable[[], "tuple[pa.Schema, Iterator[pa.RecordBatch]]"]


class _Stream(Iterator["pa.RecordBatch"]):
    """Batches from a generator, with a ``close`` that also releases the resource behind it
    (an open file, a query's result) when the generator was never started."""

    def __init__(self, batches: Iterator[pa.RecordBatch], release: Callable[[], None]) -> None:
        self._batches = batches
        self._release = release

    def __next__(self) -> pa.RecordBatch:
        return next(self._batches)

    def close(self) -> None:
        close = getattr(self._batches, "close", None)
        if close is not None:
            close()
        self._release()


class TableReader:
    """A table as a re-iterable stream of Arrow record batches with a known schema.

    :meth:`batches` may be called again to re-read the source from the start — except for a
    one-shot source (a ``pyarrow.RecordBatchReader`` given by the caller), which can be
    iterated once. A query is executed when the reader is opened (to know its schema); a
    second :meth:`batches` runs it again.
    """

    def __init__(self, source: TableSource, opener: Opener, *, reopenable: bool = True) -> None:
        self.source = source
        schema, iterator = opener()
        self.schema: pa.Schema = schema
        self._opener = opener
        self._primed: Iterator[pa.RecordBatch] | None = iterator
        self._reopenable = reopenable

    def batches(self) -> Iterator[pa.RecordBatch]:
        """The rows, batch by batch (each batch has :attr:`schema`)."""
        if self._primed is not None:
            iterator, self._primed = self._primed, None
        elif self._reopenable:
            iterator = self._opener()[1]
        else:
            raise UsageError(f"{self.source.description}: a one-shot stream can be read only once")
        return iterator

    def read_all(self) -> pa.Table:
        """The whole table in memory."""
        import pyarrow as pa

        return pa.Table.from_batches(list(self.batches()), schema=self.schema)

    def close(self) -> None:
        """Release what an unread first pass holds (an open file, a query's cursor)."""
        primed, self._primed = self._primed, None
        close = getattr(primed, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> TableReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"TableReader({self.source.description!r}, {len(self.schema)} columns)"


# ---------------------------------------------------------------------------------------
# Entry points


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
        return _open_query(sql_connection, source, wanted)
    if isinstance(source, tuple):
        if len(source) != 2 or not isinstance(source[1], str):
            raise UsageError("a SQL source is a pair (connection, 'SELECT …')")
        return _open_query(source[0], source[1], wanted)
    if isinstance(source, (str, os.PathLike)):
        return _open_path(os.fspath(source), format, wanted, encoding, block_size)
    return _open_object(source, wanted)


def to_flavour(table: pa.Table, flavour: str) -> Any:
    """``table`` as a pandas DataFrame, a polars DataFrame, or itself (``"arrow"``)."""
    if flavour == "arrow":
        return table
    if flavour == "pandas":
        return table.to_pandas()
    if flavour == "polars":
        import polars as pl

        return pl.from_arrow(table)
    raise UsageError(f"unknown flavour {flavour!r}: expected one of {', '.join(FLAVOURS)}")


# ---------------------------------------------------------------------------------------
# Schema handling


def _schema_mapping(schema: Any) -> dict[str, pa.DataType] | None:
    if schema is None:
        return None
    import pyarrow as pa

    if isinstance(schema, pa.Schema):
        return {field.name: field.type for field in schema}
    if isinstance(schema, Mapping):
        result: dict[str, pa.DataType] = {}
        for name, value in schema.items():
            if isinstance(value, pa.DataType):
                result[str(name)] = value
                continue
            try:
                result[str(name)] = pa.type_for_alias(str(value))
            except (ValueError, KeyError):
                raise UsageError(
                    f"schema=: column {name!r} has an unknown Arrow type {value!r}"
                ) from None
        return result
    raise UsageError("schema= must be a pyarrow.Schema or a mapping of column name to type")


def _target_schema(
    where: str, schema: pa.Schema, wanted: Mapping[str, pa.DataType] | None
) -> pa.Schema:
    """``schema`` with the types ``wanted`` names; a named column the table lacks is an error."""
    if not wanted:
        return schema
    import pyarrow as pa

    missing = [name for name in wanted if schema.get_field_index(name) < 0]
    if missing:
        raise InputError(
            f"{where}: schema= names {_plural(len(missing), 'column')} the table does not have"
            f" ({', '.join(map(repr, missing))}; its columns: {', '.join(schema.names)})"
        )
    return pa.schema(
        [
            pa.field(f.name, wanted[f.name], nullable=True) if f.name in wanted else f
            for f in schema
        ],
        metadata=schema.metadata,
    )


def _cast_batch(where: str, batch: pa.RecordBatch, target: pa.Schema) -> pa.RecordBatch:
    if batch.schema.equals(target):
        return batch
    import pyarrow as pa

    columns = []
    for index, field in enumerate(target):
        column = batch.column(index)
        if not column.type.equals(field.type):
            try:
                column = column.cast(field.type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
                raise InputError(
                    f"{where}: column {field.name!r} ({column.type}) cannot be converted to"
                    f" {field.type}, the type schema= gives it: {_arrow_message(exc)}"
                ) from None
        columns.append(column)
    return pa.RecordBatch.from_arrays(columns, schema=target)


def _cast_stream(
    where: str, batches: Iterator[pa.RecordBatch], target: pa.Schema
) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        yield _cast_batch(where, batch, target)


# ---------------------------------------------------------------------------------------
# Paths


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _arrow_message(exc: BaseException) -> str:
    """An Arrow/driver error message as one line, without C++ source locations."""
    text = str(exc).strip()
    lines = [line.strip() for line in text.splitlines()]
    kept: list[str] = []
    for line in lines:
        if not line:
            if kept:
                break
            continue
        if re.match(r"^/.*\.(cc|h|cpp):\d+", line):  # Arrow debug-build source locations
            continue
        kept.append(line)
    return " ".join(kept) or type(exc).__name__


def _os_problem(exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "symbolic link loop (too many levels of symbolic links)"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if exc.errno == errno.ENOENT:
        return "broken symbolic link (its target does not exist)"
    if exc.errno == errno.EISDIR:
        return "is a folder"
    return exc.strerror or str(exc)


def _check_path(path: str) -> os.stat_result:
    try:
        info = os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            raise InputNotFound(
                f"{path}: broken symbolic link (its target does not exist)"
            ) from None
        raise InputNotFound(f"{path}: no such file or folder") from None
    except PermissionError:
        raise InputUnreadable(f"{path}: permission denied") from None
    except OSError as exc:
        raise InputError(f"{path}: {_os_problem(exc)}") from None
    if stat_module.S_ISDIR(info.st_mode):
        return info
    if not stat_module.S_ISREG(info.st_mode):
        raise InputError(f"{path}: not a regular file or folder")
    try:
        os.close(os.open(path, os.O_RDONLY))
    except PermissionError:
        raise InputUnreadable(f"{path}: permission denied") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({_os_problem(exc)})") from None
    if info.st_size == 0:
        raise InputError(f"{path}: the file is empty (0 bytes), not a table")
    return info


def _unknown_format(path: str, what: str) -> NoReturn:
    raise InputError(
        f"{path}: {what}; supported formats: CSV, TSV, Parquet (a file or a folder),"
        " Arrow IPC/Feather, JSON lines — pass format= (one of"
        f" {', '.join(FORMATS)}) to read it as one of them"
    )


def _open_path(
    path: str,
    format: str | None,
    wanted: dict[str, pa.DataType] | None,
    encoding: str,
    block_size: int | None,
) -> TableReader:
    info = _check_path(path)
    if stat_module.S_ISDIR(info.st_mode):
        return _open_folder(path, format, wanted)
    if format == "delta":
        raise UsageError(f"{path}: format='delta' needs a Delta table folder, not a file")
    fmt = format or _file_format(path)
    if fmt is None:
        _unknown_format(path, "unknown table format (not recognised from its suffix or bytes)")
    if block_size is None:
        compressed = path.lower().endswith(_COMPRESSIONS)
        small = info.st_size < _WHOLE_FILE_BLOCK and not compressed
        block_size = info.st_size + 1 if small else _DEFAULT_BLOCK
    source = TableSource("file", fmt, path, "pandas", f"{_FORMAT_NAMES[fmt]} file {path}")
    if fmt in ("csv", "tsv"):
        delimiter = "\t" if fmt == "tsv" else ","

        def open_csv() -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
            return _open_csv(path, delimiter, wanted, encoding, block_size)

        return TableReader(source, open_csv)
    if fmt == "jsonl":

        def open_json() -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
            return _open_jsonl(path, wanted, encoding, block_size)

        return TableReader(source, open_json)
    if fmt == "parquet":
        return TableReader(source, lambda: _open_parquet_file(path, wanted))
    return TableReader(source, lambda: _open_ipc(path, wanted))


_FORMAT_NAMES = {
    "csv": "CSV",
    "tsv": "TSV",
    "parquet": "Parquet",
    "ipc": "Arrow IPC",
    "jsonl": "JSON lines",
}


# --- CSV / TSV ------------------------------------------------------------------------


def _text_stream(path: str) -> Any:
    import pyarrow as pa

    return pa.input_stream(path, compression="detect")


def _first_invalid_utf8(path: str) -> tuple[int, int, int] | None:
    """(byte offset, line, byte value) of the first byte that is not UTF-8, if any."""
    offset = 0  # of `carry` in the file
    lines = 1
    carry = b""
    with _text_stream(path) as stream:
        while True:
            chunk = stream.read(1 << 20)
            final = not chunk
            data = carry + chunk
            try:
                data.decode("utf-8")
            except UnicodeDecodeError as exc:
                cut_short = exc.end == len(data) and exc.start >= len(data) - 3
                if final or not cut_short:
                    lines += data.count(b"\n", 0, exc.start)
                    return offset + exc.start, lines, data[exc.start]
                # a character split between two reads: keep its first bytes for the next one
                lines += data.count(b"\n", 0, exc.start)
                offset += exc.start
                carry = data[exc.start :]
                continue
            if final:
                return None
            lines += data.count(b"\n")
            offset += len(data)
            carry = b""


def _encoding_error(path: str, encoding: str, *, hint: bool = True) -> InputError:
    if codecs.lookup(encoding).name != "utf-8":
        return InputError(f"{path}: cannot be decoded as {encoding}")
    advice = "; pass encoding= if the file uses another encoding" if hint else ""
    where = _first_invalid_utf8(path)
    if where is None:
        return InputError(f"{path}: not valid UTF-8 text{advice}")
    offset, line, value = where
    return InputError(
        f"{path}: not valid UTF-8 text: byte 0x{value:02x} at offset {offset} (line {line}){advice}"
    )


def _line_of_text(path: str, text: str) -> int | None:
    """The 1-based line on which a row with exactly ``text`` starts, searching the file."""
    needle = text.encode("utf-8", "surrogateescape")
    if not needle:
        return None
    lines = 1
    tail = b"\n"  # the file's start counts as the start of a line
    with _text_stream(path) as stream:
        while True:
            chunk = stream.read(1 << 20)
            if not chunk:
                data, final = tail, True
            else:
                data, final = tail + chunk, False
            start = 0
            while True:
                found = data.find(b"\n" + needle, start)
                if found < 0:
                    break
                end = found + 1 + len(needle)
                after = data[end : end + 2]
                if end == len(data) and not final:
                    break  # the row may go on in the next chunk: look again with more data
                if after[:1] in (b"\n", b"") or after == b"\r\n" or after[:1] == b"\r":
                    return lines + data[:found].count(b"\n")
                start = found + 1
            if final:
                return None
            keep = len(needle) + 2
            cut = max(len(data) - keep, 1)
            lines += data[:cut].count(b"\n")
            tail = data[cut:]


def _line_of_value(
    path: str, delimiter: str, column: str, value: str, encoding: str, block_size: int
) -> int | None:
    """The 1-based line of the first row whose ``column`` holds ``value`` (read as text)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    try:
        reader = pacsv.open_csv(
            _text_stream(path),
            read_options=pacsv.ReadOptions(block_size=block_size, encoding=encoding),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                include_columns=[column],
                column_types={column: pa.string()},
                strings_can_be_null=False,
                null_values=[],
            ),
        )
        seen = 0
        for batch in reader:
            index = int(pc.index(batch.column(0), value=value).as_py())
            if index >= 0:
                return seen + index + 2  # the header is line 1
            seen += batch.num_rows
    except (pa.ArrowException, OSError):
        return None
    return None


_CONVERSION = re.compile(
    r"In CSV column #(\d+): (?:Row #\d+: )?CSV conversion error to (.+?): invalid value '(.*)'",
    re.S,
)


def _csv_header(path: str, delimiter: str, encoding: str) -> list[str]:
    import csv
    import io

    try:
        with _text_stream(path) as stream:
            first = stream.read(1 << 20)
        text = first.decode(encoding, "replace")
        return next(csv.reader(io.StringIO(text), delimiter=delimiter), [])
    except (OSError, LookupError, csv.Error):
        return []


def _csv_error(
    path: str,
    exc: BaseException,
    delimiter: str,
    bad_rows: list[Any],
    wanted: Mapping[str, pa.DataType] | None,
    encoding: str,
    block_size: int,
) -> InputError:
    import pyarrow as pa

    message = _arrow_message(exc)
    if bad_rows:
        row = bad_rows[0]
        line = _line_of_text(path, row.text)
        where = f"line {line}" if line is not None else f"a row ({row.text[:80]!r})"
        return InputError(
            f"{path}: {where} has {_plural(row.actual_columns, 'field')}, expected"
            f" {row.expected_columns} (as in the header)"
        )
    if "invalid UTF8" in message or "UTF-8" in message or isinstance(exc, UnicodeDecodeError):
        return _encoding_error(path, encoding)
    match = _CONVERSION.search(message)
    if match:
        index, type_name, value = int(match.group(1)), match.group(2), match.group(3)
        header = _csv_header(path, delimiter, encoding)
        name = header[index] if index < len(header) else f"#{index + 1}"
        if type_name == "string" or type_name.startswith("large_string"):
            return _encoding_error(path, encoding)
        line = _line_of_value(path, delimiter, name, value, encoding, block_size)
        where = f"line {line}: " if line is not None else ""
        if wanted and name in wanted:
            why = "the type schema= gives it"
        else:
            why = (
                "the type inferred from the first rows of the file; pass schema= to give the"
                " column its type"
            )
        return InputError(
            f"{path}: {where}column {name!r} has the value {value!r}, which is not a valid"
            f" {type_name} ({why})"
        )
    if isinstance(exc, pa.ArrowInvalid) and message.startswith("CSV parse error"):
        detail = message.removeprefix("CSV parse error: ")
        return InputError(f"{path}: not a valid {_FORMAT_NAMES['csv']} file: {detail}")
    if isinstance(exc, OSError) and not isinstance(exc, pa.ArrowException):
        return InputError(f"{path}: cannot be read: {message}")
    return InputError(f"{path}: cannot be read as CSV: {message}")


def _open_csv(
    path: str,
    delimiter: str,
    wanted: dict[str, pa.DataType] | None,
    encoding: str,
    block_size: int,
) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    bad_rows: list[Any] = []

    def on_invalid_row(row: Any) -> str:
        if not bad_rows:
            bad_rows.append(row)
        return "error"

    def fail(exc: BaseException) -> InputError:
        return _csv_error(path, exc, delimiter, bad_rows, wanted, encoding, block_size)

    errors = (pa.ArrowException, OSError, UnicodeDecodeError, LookupError)
    stream = _text_stream(path)
    try:
        reader = pacsv.open_csv(
            stream,
            read_options=pacsv.ReadOptions(block_size=block_size, encoding=encoding),
            parse_options=pacsv.ParseOptions(
                delimiter=delimiter, newlines_in_values=True, invalid_row_handler=on_invalid_row
            ),
            convert_options=pacsv.ConvertOptions(column_types=wanted or {}),
        )
    except errors as exc:
        stream.close()
        if "Empty CSV file" in str(exc):
            header = _csv_header(path, delimiter, encoding)
            if not any(name.strip() for name in header):
                raise InputError(f"{path}: has no header row (no column names)") from None
            # a header line without a newline after it: pyarrow sees no complete row
            empty = pa.schema([pa.field(name, pa.null()) for name in header])
            target = _target_schema(path, empty, wanted)
            return target, iter([pa.RecordBatch.from_pylist([], schema=target)])
        raise fail(exc) from None
    schema = reader.schema
    if wanted:
        try:
            _target_schema(path, schema, wanted)  # names a column the file lacks?
        except InputError:
            stream.close()
            raise
    binary = [f.name for f in schema if pa.types.is_binary(f.type) and f.name not in (wanted or {})]
    if binary:
        stream.close()
        raise _encoding_error(path, encoding)

    def batches() -> Iterator[pa.RecordBatch]:
        try:
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    return
                except errors as exc:
                    raise fail(exc) from None
                yield batch
        finally:
            stream.close()

    return schema, _Stream(batches(), stream.close)


# --- JSON lines -----------------------------------------------------------------------

_JSON_ROW = re.compile(r"^(.*?)\.? in row (\d+)$", re.S)


def _open_jsonl(
    path: str,
    wanted: dict[str, pa.DataType] | None,
    encoding: str,
    block_size: int,
) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    import pyarrow as pa
    import pyarrow.json as pajson

    if codecs.lookup(encoding).name != "utf-8":
        raise UsageError(f"{path}: JSON lines files are read as UTF-8 only (encoding={encoding!r})")
    seen = 0

    def fail(exc: BaseException) -> InputError:
        message = _arrow_message(exc).removeprefix("JSON parse error: ")
        if "encoding" in message.lower() or "utf" in message.lower():
            return _encoding_error(path, "utf-8", hint=False)
        match = _JSON_ROW.match(message)
        if match:
            what, row = match.group(1), int(match.group(2))
            changed = re.match(r"Column\((/.*)\) changed from (\w+) to (\w+)", what)
            if changed:
                column = changed.group(1).lstrip("/")
                found, before = changed.group(3), changed.group(2)
                if wanted and column in wanted:
                    wanted_type = wanted[column]
                    what = f"column {column!r} holds a {found} where schema= says {wanted_type}"
                else:
                    what = (
                        f"column {column!r} holds a {found} where earlier rows hold a {before}"
                        " (pass schema= to give the column its type)"
                    )
            else:
                what = f"not valid JSON ({what[:1].lower()}{what[1:]})"
            return InputError(f"{path}: line {seen + row + 1}: {what}")
        return InputError(f"{path}: not valid JSON lines: {message}")

    explicit = (
        pa.schema([pa.field(name, type_) for name, type_ in wanted.items()]) if wanted else None
    )
    parse_options = pajson.ParseOptions(explicit_schema=explicit, unexpected_field_behavior="infer")
    errors = (pa.ArrowException, OSError)
    stream = _text_stream(path)
    try:
        reader = pajson.open_json(
            stream,
            read_options=pajson.ReadOptions(block_size=block_size, use_threads=False),
            parse_options=parse_options,
        )
    except errors as exc:
        stream.close()
        raise fail(exc) from None

    def batches() -> Iterator[pa.RecordBatch]:
        nonlocal seen
        try:
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    return
                except errors as exc:
                    raise fail(exc) from None
                try:
                    batch.validate(full=True)  # the JSON reader passes bytes that are not UTF-8
                except pa.ArrowInvalid:
                    raise _encoding_error(path, "utf-8", hint=False) from None
                seen += batch.num_rows
                yield batch
        finally:
            stream.close()

    return reader.schema, _Stream(batches(), stream.close)


# --- Parquet --------------------------------------------------------------------------


def _parquet_problem(exc: BaseException) -> str:
    message = _arrow_message(exc)
    if "magic bytes not found" in message or "footer" in message.lower():
        return (
            "not a valid Parquet file: its footer is missing or damaged (the file is truncated,"
            " corrupt, or not Parquet)"
        )
    return f"not a valid Parquet file (corrupt or truncated: {message})"


def _open_parquet_file(
    path: str, wanted: dict[str, pa.DataType] | None
) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    errors = (pa.ArrowException, OSError)
    try:
        handle = pq.ParquetFile(path)
        file_schema = handle.schema_arrow
    except errors as exc:
        raise InputError(f"{path}: {_parquet_problem(exc)}") from None
    target = _target_schema(path, file_schema, wanted)

    def batches() -> Iterator[pa.RecordBatch]:
        try:
            for group in range(handle.num_row_groups):
                try:
                    for batch in handle.iter_batches(
                        batch_size=_BATCH_ROWS, row_groups=[group], use_threads=True
                    ):
                        yield _cast_batch(path, batch, target)
                except errors as exc:
                    raise InputError(
                        f"{path}: corrupt Parquet data in row group {group + 1} of"
                        f" {handle.num_row_groups}: {_arrow_message(exc)}"
                    ) from None
        finally:
            handle.close()

    return target, _Stream(batches(), handle.close)


def _open_folder(
    path: str, format: str | None, wanted: dict[str, pa.DataType] | None
) -> TableReader:
    from runstate.data.delta import is_delta_table, open_delta

    if format == "delta" or (format is None and is_delta_table(path)):
        return open_delta(path, wanted)
    files = _data_files(path)
    if not files:
        raise InputError(f"{path}: the folder has no data files")
    problems: list[str] = []
    for name in files:
        try:
            os.close(os.open(name, os.O_RDONLY))
        except OSError as exc:
            problems.append(f"{os.path.relpath(name, path)} ({_os_problem(exc)})")
    if problems:
        shown = "; ".join(problems[:5]) + ("; …" if len(problems) > 5 else "")
        raise InputUnreadable(
            f"{path}: {len(problems)} of {_plural(len(files), 'file')} in the folder cannot be"
            f" read: {shown}"
        )
    if format is None:
        others = sorted(os.path.relpath(n, path) for n in files if not _is_parquet(n))
        if others:
            _unknown_format(
                path,
                "a folder is read as a Parquet dataset, but "
                f"{_plural(len(others), 'file')} in it {'is' if len(others) == 1 else 'are'}"
                f" not Parquet ({', '.join(others[:3])}{', …' if len(others) > 3 else ''})",
            )
        format = "parquet"
    if format != "parquet":
        raise UsageError(f"{path}: a folder can be read as format='parquet' only, not {format!r}")
    empty = [os.path.relpath(n, path) for n in files if os.path.getsize(n) == 0]
    if empty:
        raise InputError(
            f"{path}: {_plural(len(empty), 'file')} in the folder"
            f" {'is' if len(empty) == 1 else 'are'} empty (0 bytes): {', '.join(empty[:5])}"
        )
    source = TableSource("file", "parquet", path, "pandas", f"Parquet dataset {path}")
    return TableReader(source, lambda: _open_dataset(path, files, wanted))


def _open_dataset(
    path: str, files: Sequence[str], wanted: dict[str, pa.DataType] | None
) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    import pyarrow as pa
    import pyarrow.dataset as ds

    errors = (pa.ArrowException, OSError)

    def locate(exc: BaseException) -> InputError:
        message = _arrow_message(exc)
        for name in files:
            if name in message:
                problem = _parquet_problem(exc)
                return InputError(f"{path}: {os.path.relpath(name, path)}: {problem}")
        return InputError(f"{path}: cannot be read as a Parquet dataset: {message}")

    try:
        dataset = ds.dataset(  # exactly the files checked above, hive keys from their paths
            list(files), format="parquet", partitioning="hive", partition_base_dir=path
        )
        fragments = list(dataset.get_fragments())
    except errors as exc:
        raise locate(exc) from None
    target = _target_schema(path, dataset.schema, wanted)

    def batches() -> Iterator[pa.RecordBatch]:
        for fragment in fragments:
            where = f"{path}: {os.path.relpath(fragment.path, path)}"
            try:
                for batch in fragment.to_batches(
                    schema=dataset.schema, batch_size=_BATCH_ROWS, use_threads=True
                ):
                    yield _cast_batch(path, batch, target)
            except InputError:
                raise
            except errors as exc:
                message = _arrow_message(exc)
                if "magic bytes" in message or "footer" in message.lower():
                    raise InputError(f"{where}: {_parquet_problem(exc)}") from None
                raise InputError(
                    f"{where}: corrupt or unreadable Parquet data: {message}"
                ) from None

    return target, batches()


# --- Arrow IPC ------------------------------------------------------------------------


def _open_ipc(
    path: str, wanted: dict[str, pa.DataType] | None
) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    import pyarrow as pa

    errors = (pa.ArrowException, OSError)

    def problem(exc: BaseException) -> InputError:
        return InputError(
            f"{path}: not a valid Arrow IPC file (truncated or corrupt: {_arrow_message(exc)})"
        )

    with open(path, "rb") as handle:
        head = handle.read(8)
    try:
        if head.startswith(b"FEA1"):  # Feather v1: no streaming reader exists; read it whole
            import pyarrow.feather as feather

            table = feather.read_table(path)
            target = _target_schema(path, table.schema, wanted)
            return target, _cast_stream(path, iter(table.to_batches()), target)
        source = pa.memory_map(path)
        if head.startswith(b"ARROW1"):
            file_reader = pa.ipc.open_file(source)
            target = _target_schema(path, file_reader.schema, wanted)

            def file_batches() -> Iterator[pa.RecordBatch]:
                try:
                    for index in range(file_reader.num_record_batches):
                        try:
                            batch = file_reader.get_batch(index)
                        except errors as exc:
                            raise problem(exc) from None
                        yield _cast_batch(path, batch, target)
                finally:
                    source.close()

            return target, _Stream(file_batches(), source.close)
        stream_reader = pa.ipc.open_stream(source)
    except InputError:
        raise
    except errors as exc:
        raise problem(exc) from None
    target = _target_schema(path, stream_reader.schema, wanted)

    def stream_batches() -> Iterator[pa.RecordBatch]:
        try:
            while True:
                try:
                    batch = stream_reader.read_next_batch()
                except StopIteration:
                    return
                except errors as exc:
                    raise problem(exc) from None
                yield _cast_batch(path, batch, target)
        finally:
            source.close()

    return target, _Stream(stream_batches(), source.close)


# ---------------------------------------------------------------------------------------
# In-memory objects


def _module_class(obj: Any, module: str, *names: str) -> bool:
    loaded = sys.modules.get(module)
    if loaded is None:
        return False
    classes = tuple(getattr(loaded, name) for name in names if hasattr(loaded, name))
    return bool(classes) and isinstance(obj, classes)


def _pandas_to_arrow(frame: Any) -> pa.Table:
    """A pandas frame as Arrow, its index kept as columns when it carries information.

    An unnamed integer index (a RangeIndex, or the integer index a filter leaves behind) is
    positional and dropped, so a frame and the same data read from a file have the same
    columns; a named index, a MultiIndex or an unnamed non-integer index (dates, labels)
    becomes leading columns, as ``reset_index()`` makes them.
    """
    import pyarrow as pa

    index = frame.index
    names = [name for name in getattr(index, "names", [index.name]) if name is not None]
    positional = (
        not names and getattr(index, "nlevels", 1) == 1 and str(index.dtype).startswith("int")
    )
    if not positional:
        frame = frame.reset_index()
    if not all(isinstance(column, str) for column in frame.columns):
        frame = frame.rename(columns=str)
    try:
        table = pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
        raise InputError(
            f"pandas DataFrame: cannot be converted to Arrow: {_arrow_message(exc)}"
        ) from None
    return table.replace_schema_metadata(None)


def _open_object(obj: Any, wanted: dict[str, pa.DataType] | None) -> TableReader:
    import pyarrow as pa

    if _module_class(obj, "pandas", "DataFrame"):
        table = _pandas_to_arrow(obj)
        kind, flavour, label = "dataframe", "pandas", "pandas DataFrame"
    elif _module_class(obj, "polars", "DataFrame", "LazyFrame"):
        if _module_class(obj, "polars", "LazyFrame"):
            try:
                obj = obj.collect()
            except Exception as exc:  # polars raises its own ComputeError, etc.
                raise InputError(f"polars LazyFrame: cannot be collected: {exc}") from None
        table = obj.to_arrow()
        kind, flavour, label = "dataframe", "polars", "polars DataFrame"
    elif isinstance(obj, pa.Table):
        table, kind, flavour, label = obj, "dataframe", "arrow", "Arrow table"
    elif isinstance(obj, pa.RecordBatch):
        table = pa.Table.from_batches([obj])
        kind, flavour, label = "dataframe", "arrow", "Arrow record batch"
    elif isinstance(obj, pa.RecordBatchReader) or hasattr(obj, "__arrow_c_stream__"):
        reader = (
            obj if isinstance(obj, pa.RecordBatchReader) else pa.RecordBatchReader.from_stream(obj)
        )
        label = "Arrow record batch stream"
        source = TableSource("dataframe", "arrow", None, "arrow", label)
        target = _target_schema(label, reader.schema, wanted)
        return TableReader(
            source,
            lambda: (target, _cast_stream(label, iter(reader), target)),
            reopenable=False,
        )
    else:
        raise UsageError(
            f"cannot read a {type(obj).__module__}.{type(obj).__qualname__} as a table: expected"
            " a path, a pandas/polars/Arrow table, or (connection, 'SELECT …')"
        )
    source = TableSource(
        kind,
        flavour,
        None,
        flavour,
        f"{label} ({table.num_rows} rows, {_plural(table.num_columns, 'column')})",
    )
    target = _target_schema(label, table.schema, wanted)
    return TableReader(
        source, lambda: (target, _cast_stream(label, iter(table.to_batches()), target))
    )


# ---------------------------------------------------------------------------------------
# SQL


def _preview(sql: str) -> str:
    flat = " ".join(sql.split())
    return flat if len(flat) <= _SQL_PREVIEW else flat[: _SQL_PREVIEW - 1] + "…"


def _open_query(connection: Any, sql: str, wanted: dict[str, pa.DataType] | None) -> TableReader:
    if not sql.strip():
        raise UsageError("the SQL query is empty")
    if isinstance(connection, str):
        if connection.startswith("duckdb:"):
            return _open_duckdb_url(connection, sql, wanted)
        return _open_sqlalchemy(connection, sql, wanted)
    if type(connection).__module__.split(".")[0] in ("duckdb", "_duckdb"):
        label = _duckdb_label(connection)
        path = None if label.startswith("DuckDB") else label
        return _duckdb_reader(connection, sql, wanted, label, path)
    if _module_class(connection, "sqlalchemy.engine", "Engine", "Connection"):
        return _open_sqlalchemy(connection, sql, wanted)
    if hasattr(connection, "cursor"):
        return _open_dbapi(connection, sql, wanted)
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


def _open_duckdb_url(url: str, sql: str, wanted: dict[str, pa.DataType] | None) -> TableReader:
    import duckdb

    rest = url[len("duckdb:") :]
    database = rest[3:] if rest.startswith("///") else rest.lstrip("/")
    database = database.split("?", 1)[0]
    if database in ("", ":memory:"):
        connection = duckdb.connect(":memory:")
        return _duckdb_reader(connection, sql, wanted, "DuckDB (in-memory)", None)
    _check_database_file(database, "DuckDB")
    try:
        connection = duckdb.connect(database, read_only=True)
    except duckdb.Error as exc:
        raise InputError(
            f"{database}: cannot open the DuckDB database: {_arrow_message(exc)}"
        ) from None
    return _duckdb_reader(connection, sql, wanted, database, database)


def _check_database_file(database: str, kind: str) -> None:
    try:
        info = os.stat(database)
    except FileNotFoundError:
        raise InputNotFound(f"{database}: no such {kind} database file") from None
    except PermissionError:
        raise InputUnreadable(f"{database}: permission denied") from None
    except OSError as exc:
        raise InputError(f"{database}: {_os_problem(exc)}") from None
    if not stat_module.S_ISREG(info.st_mode):
        raise InputError(f"{database}: not a {kind} database file")


def _duckdb_reader(
    connection: Any,
    sql: str,
    wanted: dict[str, pa.DataType] | None,
    label: str,
    path: str | None,
) -> TableReader:
    import duckdb
    import pyarrow as pa

    errors = (duckdb.Error, pa.ArrowException)

    def fail(exc: BaseException) -> InputError:
        return InputError(f"{label}: query failed: {_arrow_message(exc)}")

    def opener() -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
        try:
            relation = connection.sql(sql)
            if relation is None:
                raise InputError(f"{label}: the SQL statement returns no rows (not a query)")
            if hasattr(relation, "to_arrow_reader"):
                reader = relation.to_arrow_reader(_BATCH_ROWS)
            else:  # DuckDB < 1.4
                reader = relation.fetch_record_batch(_BATCH_ROWS)
        except errors as exc:
            raise fail(exc) from None
        target = _target_schema(label, reader.schema, wanted)

        def batches() -> Iterator[pa.RecordBatch]:
            try:
                while True:
                    try:
                        batch = reader.read_next_batch()
                    except StopIteration:
                        return
                    except errors as exc:
                        raise fail(exc) from None
                    yield _cast_batch(label, batch, target)
            finally:
                reader.close()

        return target, _Stream(batches(), reader.close)

    source = TableSource("query", "duckdb", path, "pandas", f"{label} query: {_preview(sql)}")
    return TableReader(source, opener)


# PostgreSQL type OIDs (as psycopg reports them in cursor.description) → Arrow types.
def _postgres_types() -> dict[int, pa.DataType]:
    import pyarrow as pa

    return {
        16: pa.bool_(),
        17: pa.binary(),
        18: pa.string(),
        19: pa.string(),
        20: pa.int64(),
        21: pa.int16(),
        23: pa.int32(),
        25: pa.string(),
        26: pa.int64(),
        114: pa.string(),
        700: pa.float32(),
        701: pa.float64(),
        1042: pa.string(),
        1043: pa.string(),
        1082: pa.date32(),
        1083: pa.time64("us"),
        1114: pa.timestamp("us"),
        1184: pa.timestamp("us", tz="UTC"),
        1186: pa.duration("us"),
        2950: pa.string(),
        3802: pa.string(),
    }


def _hinted_types(description: Sequence[Any], dbapi: Any, dialect: str) -> list[Any]:
    """Arrow types from what the cursor reports (None where it does not say enough)."""
    import pyarrow as pa

    oids = _postgres_types() if dialect.startswith("postgres") else {}
    string_type = getattr(dbapi, "STRING", None)
    binary_type = getattr(dbapi, "BINARY", None)
    hints: list[Any] = []
    for column in description:
        code = column[1]
        hint = None
        if isinstance(code, int) and code in oids:
            hint = oids[code]
        elif code is not None and string_type is not None and code == string_type:
            hint = pa.string()
        elif code is not None and binary_type is not None and code == binary_type:
            hint = pa.binary()
        hints.append(hint)
    return hints


def _as_text(value: Any) -> Any:
    import json

    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def _column_array(where: str, name: str, values: Sequence[Any], type_: Any) -> pa.Array:
    import pyarrow as pa

    errors = (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError)
    try:
        return pa.array(values, type=type_, from_pandas=False)
    except errors:
        if type_ is not None and (pa.types.is_string(type_) or pa.types.is_large_string(type_)):
            return pa.array([_as_text(value) for value in values], type=type_)
        kinds = sorted({type(value).__name__ for value in values if value is not None})
        if type_ is None or len(kinds) > 1:
            raise InputError(
                f"{where}: column {name!r} mixes values of types {', '.join(kinds)}; cast it"
                " to one type in the query"
            ) from None
        raise InputError(
            f"{where}: column {name!r} holds {kinds[0]} values after rows of type {type_};"
            " cast it to one type in the query"
        ) from None


class _RowBatcher:
    """Turns DB-API rows into Arrow batches with one schema for the whole result."""

    def __init__(self, where: str, names: list[str], hints: list[Any]) -> None:
        self.where = where
        self.names = names
        self.types: list[Any] = list(hints)

    def resolved(self) -> bool:
        import pyarrow as pa

        return all(t is not None and not pa.types.is_null(t) for t in self.types)

    def batch(self, rows: Sequence[Sequence[Any]]) -> pa.RecordBatch:
        import pyarrow as pa

        columns = list(zip(*rows, strict=True)) if rows else [() for _ in self.names]
        arrays = []
        for index, values in enumerate(columns):
            type_ = self.types[index]
            if type_ is not None and pa.types.is_null(type_) and any(v is not None for v in values):
                type_ = None
            array = _column_array(self.where, self.names[index], values, type_)
            if self.types[index] is None or pa.types.is_null(self.types[index]):
                self.types[index] = array.type
            arrays.append(array)
        return pa.RecordBatch.from_arrays(arrays, names=self.names)

    def schema(self) -> pa.Schema:
        import pyarrow as pa

        return pa.schema(
            [
                pa.field(n, t if t is not None else pa.null())
                for n, t in zip(self.names, self.types, strict=True)
            ]
        )


def _rows_reader(
    where: str,
    names: list[str],
    hints: list[Any],
    fetch: Callable[[], Sequence[Sequence[Any]]],
    done: Callable[[], None],
    wanted: dict[str, pa.DataType] | None,
    fail: Callable[[BaseException], InputError],
    errors: tuple[type[BaseException], ...],
) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    """Schema and batches of a DB-API result: rows are buffered until every type is known."""
    batcher = _RowBatcher(where, names, hints)
    pending: list[Sequence[Sequence[Any]]] = []
    exhausted = False
    try:
        while not batcher.resolved():
            rows = fetch()
            if not rows:
                exhausted = True
                break
            pending.append(rows)
            batcher.batch(rows)  # learns the types; the batches are rebuilt below
    except errors as exc:
        done()
        raise fail(exc) from None
    except InputError:
        done()
        raise
    schema = batcher.schema()
    target = _target_schema(where, schema, wanted)

    def batches() -> Iterator[pa.RecordBatch]:
        try:
            for rows in pending:
                yield _cast_batch(where, batcher.batch(rows).cast(schema), target)
            while not exhausted:
                try:
                    rows = fetch()
                except errors as exc:
                    raise fail(exc) from None
                if not rows:
                    break
                yield _cast_batch(where, batcher.batch(rows).cast(schema), target)
        finally:
            done()

    return target, _Stream(batches(), done)


def _open_sqlalchemy(
    connectable: Any, sql: str, wanted: dict[str, pa.DataType] | None
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
        inner = getattr(exc, "orig", None) or exc
        return InputError(f"{label}: query failed: {_arrow_message(inner)}")

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
                raise InputError(f"{label}: the SQL statement returns no rows (not a query)")
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

        def fetch() -> Sequence[Sequence[Any]]:
            rows: Sequence[Sequence[Any]] = result.fetchmany(_BATCH_ROWS)
            return rows

        return _rows_reader(label, names, hints, fetch, done, wanted, fail, errors)

    source = TableSource("query", dialect, path, "pandas", f"{shown} query: {_preview(sql)}")
    return TableReader(source, opener)


def _open_dbapi(connection: Any, sql: str, wanted: dict[str, pa.DataType] | None) -> TableReader:
    module = sys.modules.get(type(connection).__module__.split(".")[0])
    label = f"{type(connection).__module__.split('.')[0]} connection"
    errors: tuple[type[BaseException], ...] = (Exception,)
    if module is not None and isinstance(getattr(module, "Error", None), type):
        errors = (module.Error,)

    def fail(exc: BaseException) -> InputError:
        return InputError(f"{label}: query failed: {_arrow_message(exc)}")

    def opener() -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
        cursor = connection.cursor()
        try:
            cursor.execute(sql)
        except errors as exc:
            cursor.close()
            raise fail(exc) from None
        if cursor.description is None:
            cursor.close()
            raise InputError(f"{label}: the SQL statement returns no rows (not a query)")
        names = [str(column[0]) for column in cursor.description]
        hints = _hinted_types(cursor.description, module, "")

        def fetch() -> Sequence[Sequence[Any]]:
            rows: Sequence[Sequence[Any]] = cursor.fetchmany(_BATCH_ROWS)
            return rows

        return _rows_reader(label, names, hints, fetch, cursor.close, wanted, fail, errors)

    source = TableSource(
        "query", label.split()[0], None, "pandas", f"{label} query: {_preview(sql)}"
    )
    return TableReader(source, opener)
