"""Arrow IPC: the file format (``.arrow``/Feather v2), the stream format, and Feather v1."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from runstate.data.readers.messages import _arrow_message
from runstate.data.readers.schema import _cast_batch, _cast_stream, _target_schema
from runstate.data.readers.source import _batch_stream
from runstate.errors import InputError

if TYPE_CHECKING:
    import pyarrow as pa  # type: ignore[import-untyped]


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
        read_next: Callable[[], pa.RecordBatch]
        if head.startswith(b"ARROW1"):  # the file format: batches by index
            file_reader = pa.ipc.open_file(source)
            indices = iter(range(file_reader.num_record_batches))

            def read_next() -> pa.RecordBatch:
                return file_reader.get_batch(next(indices))

            schema = file_reader.schema
        else:
            stream_reader = pa.ipc.open_stream(source)
            read_next, schema = stream_reader.read_next_batch, stream_reader.schema
    except InputError:
        raise
    except errors as exc:
        raise problem(exc) from None
    target = _target_schema(path, schema, wanted)

    def cast(batch: pa.RecordBatch) -> pa.RecordBatch:
        return _cast_batch(path, batch, target)

    return target, _batch_stream(read_next, errors, problem, source.close, cast)
