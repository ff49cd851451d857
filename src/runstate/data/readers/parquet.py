"""Parquet: one file by row group, or a folder of files as one (hive-partitioned) dataset."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from runstate.data.readers.messages import _arrow_message
from runstate.data.readers.schema import _cast_batch, _target_schema
from runstate.data.readers.source import _Stream
from runstate.errors import InputError

if TYPE_CHECKING:
    import pyarrow as pa  # type: ignore[import-untyped]


def _parquet_problem(exc: BaseException) -> str:
    message = _arrow_message(exc)
    if "magic bytes not found" in message or "footer" in message.lower():
        return (
            "not a valid Parquet file: its footer is missing or damaged (the file is truncated,"
            " corrupt, or not Parquet)"
        )
    return f"not a valid Parquet file (corrupt or truncated: {message})"


def _open_parquet_file(
    path: str, wanted: dict[str, pa.DataType] | None, batch_rows: int
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
                        batch_size=batch_rows, row_groups=[group], use_threads=True
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


def _open_dataset(
    path: str, files: Sequence[str], wanted: dict[str, pa.DataType] | None, batch_rows: int
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
                    schema=dataset.schema, batch_size=batch_rows, use_threads=True
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
