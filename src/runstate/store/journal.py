"""The capture journal: the commit point of a run, written without touching the database.

A capture writes every object first (snapshots, code, components, and last the run record
itself), then commits by atomically creating ``journal/<run id>.json``, a small file that
names the record object. Readers bring the database up to date by *ingesting* pending
entries (insert the record's rows in one transaction, then delete the entry), which is
idempotent, so any number of processes may ingest at once.

Why not insert into the database directly? Importing SQLAlchemy alone costs ~165 ms on
these machines, more than the whole budget of ``runstate run``; the journal keeps capture
to plain file writes, and a capture killed at any moment leaves either no entry (the run
never happened; its objects are unreachable and ``gc`` removes them) or a whole one.

Leases (``leases/<run id>.json``) mark captures in flight, so ``gc`` never deletes the
objects a live capture has written but not yet committed.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from runstate.store.atomic import TMP_PREFIX, atomic_write_bytes

__all__ = ["Journal", "JournalEntry", "Lease"]


@dataclass(frozen=True)
class JournalEntry:
    path: str
    run_id: str
    record_id: str


class Journal:
    """Pending run commits under ``<store>/journal``."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = os.fspath(folder)

    def commit(self, run_id: str, record_id: str) -> str:
        path = os.path.join(self.folder, f"{run_id}.json")
        payload = json.dumps({"run_id": run_id, "record_id": record_id}, sort_keys=True)
        atomic_write_bytes(path, payload.encode())
        return path

    def pending(self) -> list[JournalEntry]:
        try:
            names = sorted(os.listdir(self.folder))
        except FileNotFoundError:
            return []
        entries = []
        for name in names:
            if not name.endswith(".json") or name.startswith(TMP_PREFIX):
                continue
            path = os.path.join(self.folder, name)
            try:
                data = json.loads(Path(path).read_bytes())
                entries.append(JournalEntry(path, str(data["run_id"]), str(data["record_id"])))
            except FileNotFoundError:
                continue  # ingested by a concurrent process meanwhile
            except (ValueError, KeyError, TypeError):
                # Entries are written atomically, so a malformed one was not written by us.
                continue
        return entries

    def remove(self, entry: JournalEntry) -> None:
        try:
            os.unlink(entry.path)
        except FileNotFoundError:
            pass


class Lease:
    """Marks a capture in flight: ``gc`` spares objects written since the oldest live lease."""

    def __init__(self, folder: str | os.PathLike[str], run_id: str) -> None:
        self.path = os.path.join(os.fspath(folder), f"{run_id}.json")
        self.run_id = run_id

    def __enter__(self) -> Lease:
        payload = json.dumps({"pid": os.getpid(), "started": time.time(), "run_id": self.run_id})
        atomic_write_bytes(self.path, payload.encode())
        return self

    def release(self) -> None:
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass

    def __exit__(self, *exc: object) -> None:
        self.release()

    @staticmethod
    def live(folder: str | os.PathLike[str]) -> Iterator[tuple[str, float, bool]]:
        """Yield ``(path, started, alive)`` for every lease file in ``folder``."""
        try:
            names = os.listdir(folder)
        except FileNotFoundError:
            return
        for name in names:
            if not name.endswith(".json") or name.startswith(TMP_PREFIX):
                continue
            path = os.path.join(os.fspath(folder), name)
            try:
                data = json.loads(Path(path).read_bytes())
                pid, started = int(data["pid"]), float(data["started"])
            except (OSError, ValueError, KeyError, TypeError):
                continue
            yield path, started, _pid_alive(pid)


def _pid_alive(pid: int) -> bool:
    """True while ``pid`` runs. A zombie is dead: in containers whose init does not reap
    orphans, a killed capture's process can stay a zombie forever and would otherwise pin
    every later object against ``gc``."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            state = handle.read().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in (b"Z", b"X")
