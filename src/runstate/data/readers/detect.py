"""Which table format a path holds (magic bytes, then suffix), and which kind an object is."""

from __future__ import annotations

import os
import sys
from typing import Any

FORMATS = ("csv", "tsv", "parquet", "ipc", "jsonl", "delta")

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

_FORMAT_NAMES = {
    "csv": "CSV",
    "tsv": "TSV",
    "parquet": "Parquet",
    "ipc": "Arrow IPC",
    "jsonl": "JSON lines",
}


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


def _module_class(obj: Any, module: str, *names: str) -> bool:
    loaded = sys.modules.get(module)
    if loaded is None:
        return False
    classes = tuple(getattr(loaded, name) for name in names if hasattr(loaded, name))
    return bool(classes) and isinstance(obj, classes)
