"""A path to the reader of its format: checks of the file or folder, then dispatch."""

from __future__ import annotations

import os
import stat as stat_module
from typing import TYPE_CHECKING

from runstate.data.readers.csv import _open_csv
from runstate.data.readers.detect import (
    _COMPRESSIONS,
    _FORMAT_NAMES,
    _data_files,
    _file_format,
    _is_parquet,
)
from runstate.data.readers.ipc import _open_ipc
from runstate.data.readers.jsonl import _open_jsonl
from runstate.data.readers.messages import _os_problem, _plural, _stat, _unknown_format
from runstate.data.readers.parquet import _open_dataset, _open_parquet_file
from runstate.data.readers.source import TableReader, TableSource
from runstate.errors import InputError, InputNotFound, InputUnreadable, UsageError

if TYPE_CHECKING:
    from collections.abc import Iterator

    import pyarrow as pa  # type: ignore[import-untyped]


_WHOLE_FILE_BLOCK = 64 << 20  # text files up to this size are typed from all their rows
_DEFAULT_BLOCK = 16 << 20  # bytes per CSV/JSON block for bigger files


def _check_path(path: str) -> os.stat_result:
    info = _stat(path)
    if info is None:
        if os.path.islink(path):
            raise InputNotFound(f"{path}: broken symbolic link (its target does not exist)")
        raise InputNotFound(f"{path}: no such file or folder")
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


def _open_path(
    path: str,
    format: str | None,
    wanted: dict[str, pa.DataType] | None,
    encoding: str,
    block_size: int | None,
    batch_rows: int,
) -> TableReader:
    """The reader of the file or folder at ``path``; ``batch_rows``: rows per Parquet batch."""
    info = _check_path(path)
    if stat_module.S_ISDIR(info.st_mode):
        return _open_folder(path, format, wanted, batch_rows)
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
        return TableReader(source, lambda: _open_parquet_file(path, wanted, batch_rows))
    return TableReader(source, lambda: _open_ipc(path, wanted))


def _open_folder(
    path: str, format: str | None, wanted: dict[str, pa.DataType] | None, batch_rows: int
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
    return TableReader(source, lambda: _open_dataset(path, files, wanted, batch_rows))
