"""JSON lines files, streamed by blocks of bytes; a bad line named with its number."""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from runstate.data.readers.messages import _arrow_message
from runstate.data.readers.source import _batch_stream
from runstate.data.readers.text import _encoding_error, _text_stream
from runstate.errors import InputError, UsageError

if TYPE_CHECKING:
    import pyarrow as pa  # type: ignore[import-untyped]


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

    def checked(batch: pa.RecordBatch) -> pa.RecordBatch:
        nonlocal seen
        try:
            batch.validate(full=True)  # the JSON reader passes bytes that are not UTF-8
        except pa.ArrowInvalid:
            raise _encoding_error(path, "utf-8", hint=False) from None
        seen += batch.num_rows
        return batch

    return reader.schema, _batch_stream(reader.read_next_batch, errors, fail, stream.close, checked)
