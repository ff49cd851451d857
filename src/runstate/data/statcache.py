"""A stat cache: skip re-hashing files whose (inode, size, mtime_ns, ctime_ns) are unchanged.

Hashing a 1 GiB input on every run would make capture something people turn off; this cache
makes an unchanged input cost one ``stat`` per file. It is a stdlib ``sqlite3`` file
(``.runstate/cache/stat.sqlite``, WAL, safe for concurrent runs) that can be deleted at any
time: it only ever saves work, never changes an answer.

Racy files (git's term): a file modified within the clock tick in which it was hashed could
change again without its mtime moving. Entries whose mtime is not at least ``RACY_NS``
older than the moment hashing started are therefore not cached.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterable

__all__ = ["RACY_NS", "StatCache", "StatKey", "stat_key"]

RACY_NS = 50_000_000  # 50 ms: well above the mtime granularity of common filesystems

StatKey = tuple[int, int, int, int]


def stat_key(st: os.stat_result) -> StatKey:
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class StatCache:
    """Maps absolute paths to the hash they had at a given :data:`StatKey`."""

    def __init__(self, path: str | os.PathLike[str] | None) -> None:
        self._db: sqlite3.Connection | None = None
        if path is None:
            return
        try:
            os.makedirs(os.path.dirname(os.fspath(path)), exist_ok=True)
            db = sqlite3.connect(os.fspath(path), timeout=30, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=OFF")
            db.execute(
                "CREATE TABLE IF NOT EXISTS stat (path TEXT PRIMARY KEY, ino INTEGER, size INTEGER,"
                " mtime_ns INTEGER, ctime_ns INTEGER, hash TEXT)"
            )
            self._db = db
        except sqlite3.Error:
            self._db = None  # a broken cache only costs speed

    def lookup_prefix(self, prefix: str) -> dict[str, tuple[StatKey, str]]:
        """All entries under a folder, in one query (a folder re-check is one round trip)."""
        if self._db is None:
            return {}
        upper = prefix + "\U0010ffff"
        try:
            rows = self._db.execute(
                "SELECT path, ino, size, mtime_ns, ctime_ns, hash FROM stat"
                " WHERE path >= ? AND path < ?",
                (prefix, upper),
            ).fetchall()
        except sqlite3.Error:
            return {}
        return {row[0]: ((row[1], row[2], row[3], row[4]), row[5]) for row in rows}

    def get(self, path: str, key: StatKey) -> str | None:
        if self._db is None:
            return None
        try:
            row = self._db.execute(
                "SELECT ino, size, mtime_ns, ctime_ns, hash FROM stat WHERE path = ?", (path,)
            ).fetchone()
        except sqlite3.Error:
            return None
        if row is None or tuple(row[:4]) != key:
            return None
        return str(row[4])

    def put_many(
        self, entries: Iterable[tuple[str, StatKey, str]], hashing_started_ns: int
    ) -> None:
        if self._db is None:
            return
        cutoff = hashing_started_ns - RACY_NS
        rows = [(path, *key, digest) for path, key, digest in entries if key[2] < cutoff]
        if not rows:
            return
        try:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT OR REPLACE INTO stat VALUES (?, ?, ?, ?, ?, ?)", rows)
            self._db.execute("COMMIT")
        except sqlite3.Error:
            try:
                self._db.execute("ROLLBACK")
            except sqlite3.Error:
                pass

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


def now_ns() -> int:
    return time.time_ns()
