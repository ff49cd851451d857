"""CSV and TSV files, streamed by blocks of bytes; a bad row or value named with its line."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from runstate.data.readers.detect import _FORMAT_NAMES
from runstate.data.readers.messages import _arrow_message, _plural
from runstate.data.readers.schema import _target_schema
from runstate.data.readers.source import _batch_stream
from runstate.data.readers.text import _encoding_error, _line_of_text, _text_stream
from runstate.errors import InputError

if TYPE_CHECKING:
    import pyarrow as pa  # type: ignore[import-untyped]


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
    return schema, _batch_stream(reader.read_next_batch, errors, fail, stream.close)
