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

import json
import os
import stat as stat_module
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from runstate.data.statcache import StatCache, StatKey, now_ns, stat_key
from runstate.errors import InputNotFound, InputUnreadable, UsageError
from runstate.state.canonical import hash_bytes
from runstate.store.objects import ObjectStore, hash_file

__all__ = ["RETENTIONS", "PathFingerprint", "fingerprint_path"]

RETENTIONS = ("full", "reference", "fingerprint")
FOLDER_SCHEMA = "runstate.folder/v1"
_SKIP_DIRS = frozenset({".runstate", "__pycache__"})
T = TypeVar("T")
R = TypeVar("R")


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
        key = stat_key(st)
        cached = cache.get(absolute, key) if cache is not None else None
        try:
            if store_bytes and objects is not None:
                digest = objects.put_file(absolute, cached)  # one pass: copy and hash
            else:
                digest = cached or hash_file(absolute)
        except PermissionError:
            raise InputUnreadable(f"{absolute}: permission denied") from None
        if cache is not None and cached is None:
            cache.put_many([(absolute, key, digest)], started)
        object_id = digest if store_bytes else None
        return PathFingerprint("file", digest, st.st_size, 1, object_id, retention)

    entries = _walk(absolute)
    known = cache.lookup_prefix(absolute + os.sep) if cache is not None else {}

    # First pass, in this thread: stat every file and take what the stat cache knows. An
    # unchanged folder costs one stat per file and nothing else (a thread pool would cost
    # more than the work). None marks a file that vanished while we walked.
    stats: list[tuple[str, StatKey] | None] = []
    digests: list[str | None] = []
    misses: list[int] = []
    for index, (_, full) in enumerate(entries):
        try:
            key = stat_key(os.stat(full))
        except FileNotFoundError:
            stats.append(None)
            digests.append(None)
            continue
        except PermissionError:
            raise InputUnreadable(f"{full}: permission denied") from None
        stats.append((full, key))
        hit = known.get(full)
        cached = hit[1] if hit is not None and hit[0] == key else None
        if cached is not None and store_bytes and objects is not None:
            cached = objects.put_file(full, cached)  # only freshens when already stored
        digests.append(cached)
        if cached is None:
            misses.append(index)

    def hash_one(index: int) -> str:
        full = entries[index][1]
        try:
            if store_bytes and objects is not None:
                return objects.put_file(full)  # one pass: copy and hash
            return hash_file(full)
        except PermissionError:
            raise InputUnreadable(f"{full}: permission denied") from None

    # Second pass, for the files the cache did not know: BLAKE3 and file I/O release the
    # GIL, so hashing them concurrently uses every core.
    if misses:
        if objects is not None and store_bytes:
            with objects.batch():
                hashed = _map_concurrently(hash_one, misses)
        else:
            hashed = _map_concurrently(hash_one, misses)
        for index, hashed_digest in zip(misses, hashed, strict=True):
            digests[index] = hashed_digest
    miss_set = set(misses)
    rows: list[list[Any]] = []
    fresh: list[tuple[str, StatKey, str]] = []
    total = 0
    triples = zip(entries, stats, digests, strict=True)
    for index, ((rel, _), found, file_digest) in enumerate(triples):
        if found is None or file_digest is None:
            continue
        full, key = found
        if index in miss_set:
            fresh.append((full, key, file_digest))
        rows.append([rel, key[1], file_digest])
        total += key[1]
    if cache is not None and fresh:
        cache.put_many(fresh, started)
    manifest = folder_manifest_bytes(rows)
    fingerprint = hash_bytes(manifest)
    manifest_id = objects.put_bytes(manifest) if objects is not None else None
    return PathFingerprint("folder", fingerprint, total, len(rows), manifest_id, retention)


def folder_manifest_bytes(rows: list[list[Any]]) -> bytes:
    """Canonical JSON of a folder manifest, fast: rows hold only strings and integers, for
    which ``json.dumps`` with these settings writes exactly the canonical bytes (keys sorted,
    UTF-8 order equals code-point order; no floats). ``tests/test_files.py`` checks the two
    encoders agree."""
    document = {"files": rows, "schema": FOLDER_SCHEMA}
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return text.encode("utf-8")


def _map_concurrently(fn: Callable[[T], R], items: list[T]) -> list[R]:
    if len(items) < 4:
        return [fn(item) for item in items]
    from concurrent.futures import ThreadPoolExecutor

    workers = min(8, 2 * (os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(fn, items))
