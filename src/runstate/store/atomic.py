"""Atomic local file writes: temp file in the same folder, fsync, rename, fsync the folder.

A reader either sees the old file or the whole new one, never a prefix, even if the writer
is killed with SIGKILL mid-write or the machine loses power after the rename returns.
Temp files are named ``.tmp-<pid>-<random>`` so ``gc`` can recognise (and, once old, remove)
the leftovers of writers that were killed.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["TMP_PREFIX", "atomic_write_bytes", "fsync_dir", "temp_path_for"]

TMP_PREFIX = ".tmp-"


def temp_path_for(final: str | os.PathLike[str]) -> str:
    folder = os.path.dirname(os.fspath(final)) or "."
    return os.path.join(folder, f"{TMP_PREFIX}{os.getpid()}-{os.urandom(6).hex()}")


def fsync_dir(folder: str | os.PathLike[str]) -> None:
    """Make a rename inside ``folder`` durable (no-op where directories cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(
    final: str | os.PathLike[str], data: bytes, *, exclusive: bool = False
) -> bool:
    """Write ``data`` to ``final`` atomically; return False if ``exclusive`` and it exists.

    ``exclusive`` is for content-addressed files: if the final name already exists it
    already holds these bytes, so the write is skipped.
    """
    final = os.fspath(final)
    if exclusive and os.path.exists(final):
        return False
    Path(final).parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path_for(final)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise
    os.close(fd)
    os.replace(tmp, final)
    fsync_dir(os.path.dirname(final))
    return True
