"""Fingerprints of files and folders, and storing them by retention.

* A **file**'s fingerprint is the BLAKE3 of its bytes, which is also its object id.
* A **folder**'s fingerprint is the BLAKE3 of its canonical manifest
  ``{"schema": "runstate.folder/v1", "files": [[relative posix path, size, blake3], …]}``
  sorted by path (symlinks followed, ``.runstate`` and ``__pycache__`` skipped), so two
  folders with the same files at the same relative paths have the same fingerprint wherever
  they live. The manifest is always stored (diffs list changed files from it).

Retention decides what else is stored: ``full`` stores every file's bytes (replay can lay
them out again), ``fingerprint`` stores nothing more (diffable, not replayable).

Unchanged files are not re-hashed: a :class:`~runstate.data.statcache.StatCache` maps
(inode, size, mtime, ctime) to the previous hash.
"""

from __future__ import annotations

import os
import stat as stat_module
from dataclasses import dataclass
from typing import Any

from runstate.data.statcache import StatCache, StatKey, now_ns, stat_key
from runstate.errors import InputNotFound, InputUnreadable, UsageError
from runstate.state.canonical import canonical_bytes, hash_bytes
from runstate.store.objects import ObjectStore, hash_file

__all__ = ["RETENTIONS", "PathFingerprint", "fingerprint_path"]

RETENTIONS = ("full", "reference", "fingerprint")
FOLDER_SCHEMA = "runstate.folder/v1"
_SKIP_DIRS = frozenset({".runstate", "__pycache__"})


@dataclass(frozen=True)
class PathFingerprint:
    """What runstate records of one file or folder input/output."""

    kind: str  # "file" or "folder" ("bytes" for raw bytes given to Run.output)
    fingerprint: str
    size: int
    files: int
    object_id: str | None  # file bytes (file) or manifest (folder); None if not stored
    retention: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "fingerprint": self.fingerprint,
            "size": self.size,
            "files": self.files,
            "object_id": self.object_id,
            "retention": self.retention,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PathFingerprint:
        return cls(
            str(data["kind"]),
            str(data["fingerprint"]),
            int(data["size"]),
            int(data["files"]),
            data.get("object_id"),
            str(data["retention"]),
        )


def _check_readable(path: str) -> os.stat_result:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise InputNotFound(f"{path}: no such file or folder") from None
    except PermissionError:
        raise InputUnreadable(f"{path}: permission denied") from None
    if not (stat_module.S_ISREG(st.st_mode) or stat_module.S_ISDIR(st.st_mode)):
        raise UsageError(f"{path}: not a regular file or folder")
    if not os.access(path, os.R_OK):
        raise InputUnreadable(f"{path}: permission denied")
    return st


def _walk(root: str) -> list[tuple[str, str]]:
    """``(relative posix path, absolute path)`` of every file under ``root``, sorted."""
    found: list[tuple[str, str]] = []
    for folder, dirs, files in os.walk(root, followlinks=True):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS)
        rel_folder = os.path.relpath(folder, root)
        for name in files:
            rel = name if rel_folder == "." else f"{rel_folder}/{name}"
            found.append((rel.replace(os.sep, "/"), os.path.join(folder, name)))
    found.sort(key=lambda item: item[0].encode("utf-8"))
    return found


def fingerprint_path(
    path: str | os.PathLike[str],
    objects: ObjectStore | None = None,
    cache: StatCache | None = None,
    retention: str = "full",
) -> PathFingerprint:
    """Fingerprint a file or folder and store what ``retention`` asks for in ``objects``."""
    if retention not in RETENTIONS:
        raise UsageError(f"retention {retention!r}: expected one of {', '.join(RETENTIONS)}")
    absolute = os.path.abspath(os.fspath(path))
    st = _check_readable(absolute)
    store_bytes = objects is not None and retention == "full"
    started = now_ns()
    if stat_module.S_ISREG(st.st_mode):
        digest = _hash_cached(absolute, stat_key(st), cache, started)
        object_id = objects.put_file(absolute, digest) if store_bytes and objects else None
        return PathFingerprint("file", digest, st.st_size, 1, object_id, retention)

    entries = _walk(absolute)
    known = cache.lookup_prefix(absolute + os.sep) if cache is not None else {}
    rows: list[list[Any]] = []
    fresh: list[tuple[str, StatKey, str]] = []
    total = 0
    for rel, full in entries:
        try:
            file_stat = os.stat(full)
        except FileNotFoundError:
            continue  # removed while we walked: it is not part of the snapshot
        except PermissionError:
            raise InputUnreadable(f"{full}: permission denied") from None
        key = stat_key(file_stat)
        hit = known.get(full)
        if hit is not None and hit[0] == key:
            digest = hit[1]
        else:
            try:
                digest = hash_file(full)
            except PermissionError:
                raise InputUnreadable(f"{full}: permission denied") from None
            fresh.append((full, key, digest))
        if store_bytes and objects is not None:
            objects.put_file(full, digest)
        rows.append([rel, file_stat.st_size, digest])
        total += file_stat.st_size
    if cache is not None and fresh:
        cache.put_many(fresh, started)
    manifest = canonical_bytes({"schema": FOLDER_SCHEMA, "files": rows})
    fingerprint = hash_bytes(manifest)
    manifest_id = objects.put_bytes(manifest) if objects is not None else None
    return PathFingerprint("folder", fingerprint, total, len(rows), manifest_id, retention)


def _hash_cached(path: str, key: StatKey, cache: StatCache | None, started: int) -> str:
    if cache is not None:
        digest = cache.get(path, key)
        if digest is not None:
            return digest
    try:
        digest = hash_file(path)
    except PermissionError:
        raise InputUnreadable(f"{path}: permission denied") from None
    if cache is not None:
        cache.put_many([(path, key, digest)], started)
    return digest
