"""Finding, creating and opening a store: ``.runstate/`` with its config, objects and database.

Layout of an embedded store (nothing to start)::

    .runstate/
      config.json        store settings: metadata URL, objects URL, trusted signing keys
      runstate.db        SQLite metadata (WAL), unless config.json names another database
      objects/ab/cdef…   content-addressed objects, unless config.json names another URL
      journal/           committed runs not yet ingested into the database
      leases/            captures in flight (gc spares their objects)
      cache/             stat cache and environment cache: safe to delete at any time

Commands find the store by walking up from the working directory, as git does, unless
``RUNSTATE_STORE`` names a store folder (or the project folder that holds one).

Opening a store is cheap: the database (and SQLAlchemy) is only touched when a command asks
for ``store.metadata``, and that first access ingests pending journal entries.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from runstate.errors import StoreCorrupt, StoreExists, StoreNotFound, UsageError
from runstate.state.canonical import canonical_bytes
from runstate.state.redact import strip_url_credentials
from runstate.store.atomic import atomic_write_bytes
from runstate.store.journal import Journal, Lease
from runstate.store.objects import ObjectStore, open_object_store

if TYPE_CHECKING:
    from runstate.store.metadata import MetadataStore
    from runstate.store.sqlite_reader import MetadataReader, SqliteReader

__all__ = ["STORE_DIR", "Store", "find_store_root"]

STORE_DIR = ".runstate"
CONFIG_SCHEMA = "runstate.store-config/v1"


def find_store_root(start: str | os.PathLike[str] | None = None) -> Path:
    """The ``.runstate`` folder for ``start`` (default: the working directory)."""
    override = os.environ.get("RUNSTATE_STORE")
    if override and start is None:
        candidate = Path(override).expanduser().resolve()
        if (candidate / "config.json").is_file():
            return candidate
        if (candidate / STORE_DIR / "config.json").is_file():
            return candidate / STORE_DIR
        raise StoreNotFound(
            f"RUNSTATE_STORE={override}: no runstate store there (run `runstate init`)"
        )
    here = Path(start if start is not None else os.getcwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / STORE_DIR / "config.json").is_file():
            return folder / STORE_DIR
        if (folder / STORE_DIR).is_dir():
            raise StoreCorrupt(
                f"{folder / STORE_DIR}: config.json is missing (not a runstate store?)"
            )
    raise StoreNotFound(f"no runstate store in {here} or any parent folder (run `runstate init`)")


class Store:
    """An opened store. Cheap to create; the database opens lazily."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()
        self.project_root = self.root.parent
        self.config = self._read_config()
        objects_url = self.config.get("objects_url") or str(self.root / "objects")
        self.objects: ObjectStore = open_object_store(objects_url)
        self.journal = Journal(self.root / "journal")
        self.leases_dir = self.root / "leases"
        self.cache_dir = self.root / "cache"
        self._metadata: MetadataStore | None = None
        self._fast_reader: SqliteReader | Literal[False] | None = None  # False: not usable

    # -- opening -------------------------------------------------------------------------

    @classmethod
    def open(cls, start: str | os.PathLike[str] | None = None) -> Store:
        return cls(find_store_root(start))

    @classmethod
    def init(
        cls,
        project: str | os.PathLike[str] = ".",
        metadata_url: str | None = None,
        objects_url: str | None = None,
    ) -> Store:
        """Create ``<project>/.runstate`` and its database; refuse if one exists."""
        root = Path(project).resolve() / STORE_DIR
        if (root / "config.json").exists():
            raise StoreExists(f"{root} already holds a runstate store")
        for label, url in (("--metadata-url", metadata_url), ("--objects-url", objects_url)):
            if url and strip_url_credentials(url) != url:
                raise UsageError(
                    f"{label}: the URL carries credentials, and runstate never stores secrets; "
                    "use a password file (~/.pgpass) or RUNSTATE_METADATA_URL instead"
                )
        for sub in ("objects", "journal", "leases", "cache"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        config: dict[str, Any] = {
            "schema": CONFIG_SCHEMA,
            "created_at": utc_now(),
            "metadata_url": metadata_url,
            "objects_url": objects_url,
            "trusted_keys": {},
        }
        # The database first, the config last: a store without config.json is not a store.
        store_url = metadata_url or f"sqlite:///{root / 'runstate.db'}"
        from runstate.store.metadata import MetadataStore

        MetadataStore(store_url).close()
        (root / ".gitignore").write_text("*\n")
        atomic_write_bytes(
            root / "config.json", json.dumps(config, indent=2, sort_keys=True).encode()
        )
        return cls(root)

    def _read_config(self) -> dict[str, Any]:
        path = self.root / "config.json"
        try:
            config: Any = json.loads(path.read_bytes())
        except FileNotFoundError:
            raise StoreNotFound(f"{path} does not exist (run `runstate init`)") from None
        except (OSError, ValueError) as exc:
            raise StoreCorrupt(f"{path}: unreadable store config ({exc})") from None
        if not isinstance(config, dict) or config.get("schema") != CONFIG_SCHEMA:
            raise StoreCorrupt(f"{path}: not a {CONFIG_SCHEMA} document")
        return config

    def write_config(self, config: Mapping[str, Any]) -> None:
        atomic_write_bytes(
            self.root / "config.json", json.dumps(config, indent=2, sort_keys=True).encode()
        )
        self.config = dict(config)

    @property
    def metadata_url(self) -> str:
        """``RUNSTATE_METADATA_URL`` (may carry credentials; never written down), else config."""
        url = os.environ.get("RUNSTATE_METADATA_URL") or self.config.get("metadata_url")
        return str(url) if url else f"sqlite:///{self.root / 'runstate.db'}"

    @property
    def eager_ingest(self) -> bool:
        """A shared database (PostgreSQL) is updated at commit; SQLite waits for a reader."""
        return not self.metadata_url.startswith("sqlite")

    @property
    def metadata(self) -> MetadataStore:
        if self._metadata is None:
            if self.metadata_url.startswith("sqlite") and not (self.root / "runstate.db").exists():
                raise StoreCorrupt(f"{self.root / 'runstate.db'} is missing")
            from runstate.store.metadata import MetadataStore

            self._metadata = MetadataStore(self.metadata_url)
            self.ingest_pending()
        return self._metadata

    @property
    def reader(self) -> MetadataReader:
        """Read-only metadata queries, without SQLAlchemy when it can (a SQLite store at the
        current schema with nothing pending in the journal: :mod:`runstate.store.sqlite_reader`);
        otherwise :attr:`metadata`, which ingests the journal first. Checked at every access
        (one ``listdir`` of the journal), so runs committed meanwhile are never missed."""
        if self._metadata is None and self._fast_reader is not False:
            url = self.metadata_url
            if url.startswith("sqlite:///") and not self.journal.pending():
                if self._fast_reader is None:
                    from runstate.store.sqlite_reader import SqliteReader

                    opened = SqliteReader.open_if_current(url.removeprefix("sqlite:///"))
                    self._fast_reader = opened if opened is not None else False
                if self._fast_reader:
                    return self._fast_reader
        metadata = self.metadata
        if self.journal.pending():  # committed since the database was opened
            self.ingest_pending()
        return metadata

    def close(self) -> None:
        if self._fast_reader:
            self._fast_reader.close()
        self._fast_reader = None
        if self._metadata is not None:
            self._metadata.close()
            self._metadata = None

    # -- committing runs -----------------------------------------------------------------

    def lease(self, run_id: str) -> Lease:
        return Lease(self.leases_dir, run_id)

    def commit_run(self, record: Mapping[str, Any]) -> str:
        """Store a run record, then commit it to the journal; returns the record's object id."""
        record_id = self.objects.put_bytes(canonical_bytes(record))
        self.journal.commit(str(record["id"]), record_id)
        if self.eager_ingest:
            self.ingest_pending()
        return record_id

    def ingest_pending(self) -> int:
        """Insert every journal entry into the database; returns how many were new."""
        metadata = self.metadata
        count = 0
        for entry in self.journal.pending():
            try:
                record = json.loads(self.objects.get_bytes(entry.record_id))
            except (OSError, ValueError) as exc:
                raise StoreCorrupt(
                    f"journal entry {entry.path}: record unreadable ({exc})"
                ) from None
            if metadata.ingest_run(record, entry.record_id):
                count += 1
            self.journal.remove(entry)
        return count

    def load_record(self, record_id: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.objects.get_bytes(record_id))
        return data

    def load_json(self, object_id: str) -> Any:
        return json.loads(self.objects.get_bytes(object_id))


def utc_now(epoch: float | None = None) -> str:
    """UTC timestamp with microseconds, ISO 8601, sortable as text."""
    epoch = time.time() if epoch is None else epoch
    seconds = int(epoch)
    micros = round((epoch - seconds) * 1_000_000)
    if micros == 1_000_000:
        seconds, micros = seconds + 1, 0
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{micros:06d}Z"
