"""One-line error messages shared by every reader: counts, Arrow's and the OS's errors."""

from __future__ import annotations

import errno
import os
import re
from typing import NoReturn

from runstate.data.readers.detect import FORMATS
from runstate.errors import InputError, InputUnreadable


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


def _stat(path: str) -> os.stat_result | None:
    """``os.stat(path)``, or ``None`` when nothing is there; other failures as InputErrors."""
    try:
        return os.stat(path)
    except FileNotFoundError:
        return None
    except PermissionError:
        raise InputUnreadable(f"{path}: permission denied") from None
    except OSError as exc:
        raise InputError(f"{path}: {_os_problem(exc)}") from None


def _unknown_format(path: str, what: str) -> NoReturn:
    raise InputError(
        f"{path}: {what}; supported formats: CSV, TSV, Parquet (a file or a folder),"
        " Arrow IPC/Feather, JSON lines — pass format= (one of"
        f" {', '.join(FORMATS)}) to read it as one of them"
    )
