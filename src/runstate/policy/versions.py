"""Store-managed policy versions: immutable, numbered, hash-chained.

``runstate policy apply FILE`` stores the next version as a canonical-JSON object
(``runstate.policy-version/v1``)::

    {"schema": "runstate.policy-version/v1", "version": 3, "previous": "<id of v2>",
     "document": {…canonical document…}, "document_id": "<object id of the document>",
     "text_id": "<object id of the YAML text>", "source": "runstate-policy.yaml",
     "created_at": "…", "created_by": "…"}

Its id is its object id, the BLAKE3 of those canonical bytes, and it includes the previous
version's id, so versions form a hash chain as releases do: changing any old version changes
its id and breaks every later link. The chain's head is one small file written atomically,
``.runstate/policy/HEAD.json`` (``{"schema": "runstate.policy-head/v1", "version": N,
"id": "…"}``), updated under a lock file; no database table is needed, and ``runstate gc`` /
``verify`` walk the chain from the head (store/integrity.py). :func:`history` re-hashes every
version and checks every link, so tampering raises :class:`~runstate.errors.IntegrityError`.
Applying a document identical to the head's creates no version.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runstate.errors import ConcurrentUpdate, IntegrityError, NotFound, StoreCorrupt, UsageError
from runstate.policy.document import PolicyDocument, parse_policy
from runstate.state.canonical import canonical_bytes, hash_bytes
from runstate.state.host import current_user
from runstate.store.atomic import atomic_write_bytes
from runstate.store.store import Store, utc_now

__all__ = [
    "HEAD_SCHEMA",
    "VERSION_SCHEMA",
    "PolicyVersion",
    "apply_policy",
    "get_version",
    "head",
    "history",
    "parse_version_ref",
]

VERSION_SCHEMA = "runstate.policy-version/v1"
HEAD_SCHEMA = "runstate.policy-head/v1"
_REF = re.compile(r"^v?(?P<n>[0-9]+)$")
_LOCK_STALE_SECONDS = 60.0


@dataclass(frozen=True)
class PolicyVersion:
    """One applied version (``document`` is the validated document)."""

    id: str
    version: int
    previous: str | None
    document: PolicyDocument
    document_id: str
    text_id: str | None
    source: str | None
    created_at: str
    created_by: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "version": self.version,
            "previous": self.previous,
            "document": self.document.to_dict(),
            "document_id": self.document_id,
            "text_id": self.text_id,
            "source": self.source,
            "created_at": self.created_at,
            "created_by": self.created_by,
        }

    def manifest(self) -> dict[str, Any]:
        """The stored object (everything but the id, which is its hash)."""
        body = self.to_dict()
        del body["id"]
        return {"schema": VERSION_SCHEMA, **body}

    @classmethod
    def from_manifest(cls, object_id: str, data: dict[str, Any]) -> PolicyVersion:
        if data.get("schema") != VERSION_SCHEMA:
            raise IntegrityError(f"policy version {object_id[:12]}: not a {VERSION_SCHEMA} object")
        return cls(
            id=object_id,
            version=int(data["version"]),
            previous=data.get("previous"),
            document=PolicyDocument.from_dict(data["document"]),
            document_id=str(data["document_id"]),
            text_id=data.get("text_id"),
            source=data.get("source"),
            created_at=str(data["created_at"]),
            created_by=str(data["created_by"]),
        )

    @property
    def ref(self) -> str:
        return f"v{self.version}"


def _folder(store: Store) -> Path:
    return store.root / "policy"


def _head_path(store: Store) -> Path:
    return _folder(store) / "HEAD.json"


def head(store: Store) -> tuple[int, str] | None:
    """``(version, id)`` of the current version, or None when none was applied."""
    path = _head_path(store)
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise StoreCorrupt(f"{path}: unreadable policy head ({exc})") from None
    if not isinstance(data, dict) or data.get("schema") != HEAD_SCHEMA:
        raise StoreCorrupt(f"{path}: not a {HEAD_SCHEMA} document")
    return int(data["version"]), str(data["id"])


def _load(store: Store, object_id: str) -> PolicyVersion:
    try:
        raw = store.objects.get_bytes(object_id)
    except (OSError, LookupError) as exc:
        raise IntegrityError(f"policy version {object_id[:12]} is missing ({exc})") from None
    if hash_bytes(raw) != object_id:
        raise IntegrityError(
            f"policy version {object_id[:12]} was altered: its bytes no longer hash to its id"
        )
    try:
        data = json.loads(raw)
        version = PolicyVersion.from_manifest(object_id, data)
    except (ValueError, KeyError, TypeError) as exc:
        raise IntegrityError(f"policy version {object_id[:12]} is malformed ({exc})") from None
    if canonical_bytes(data) != raw:
        raise IntegrityError(f"policy version {object_id[:12]} is not canonical JSON")
    if hash_bytes(canonical_bytes(version.document.to_dict())) != version.document_id:
        raise IntegrityError(f"policy {version.ref}: document_id does not match its document")
    return version


def history(store: Store) -> list[PolicyVersion]:
    """Every applied version, newest first, after checking the whole chain."""
    current = head(store)
    if current is None:
        return []
    number, object_id = current
    versions: list[PolicyVersion] = []
    expected: int = number
    next_id: str | None = object_id
    while next_id is not None:
        version = _load(store, next_id)
        if version.version != expected:
            raise IntegrityError(
                f"policy chain broken: {next_id[:12]} says v{version.version}, "
                f"the chain expects v{expected}"
            )
        versions.append(version)
        next_id = version.previous
        expected -= 1
        if next_id is None and version.version != 1:
            raise IntegrityError(f"policy chain broken: v{version.version} has no previous version")
    return versions


def parse_version_ref(ref: str) -> int:
    match = _REF.match(ref.strip())
    if not match or int(match["n"]) < 1:
        raise UsageError(f"policy version {ref!r}: expected vN, e.g. v2")
    return int(match["n"])


def get_version(store: Store, ref: str | None = None) -> PolicyVersion:
    """Version ``vN`` (default: the current one), checked against the chain."""
    versions = history(store)
    if not versions:
        raise NotFound("no policy has been applied to this store (runstate policy apply FILE)")
    if ref is None:
        return versions[0]
    number = parse_version_ref(ref)
    for version in versions:
        if version.version == number:
            return version
    raise NotFound(f"no policy v{number} (latest is v{versions[0].version})")


@contextmanager
def _locked(store: Store, attempts: int = 200) -> Iterator[None]:
    folder = _folder(store)
    folder.mkdir(parents=True, exist_ok=True)
    lock = folder / "apply.lock"
    for _ in range(attempts):
        try:
            fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            try:
                if time.time() - lock.stat().st_mtime > _LOCK_STALE_SECONDS:
                    lock.unlink()  # left by a killed writer
                    continue
            except FileNotFoundError:
                continue
            time.sleep(0.05)
            continue
        try:
            os.write(fd, str(os.getpid()).encode())
        finally:
            os.close(fd)
        try:
            yield
        finally:
            lock.unlink(missing_ok=True)
        return
    raise ConcurrentUpdate(f"{lock}: another `policy apply` holds the lock")


def apply_policy(store: Store, text: str, source: str | None = None) -> tuple[PolicyVersion, bool]:
    """Validate ``text`` and store it as the next version; returns (version, created).

    ``created`` is False when the document equals the current version's (nothing stored).
    """
    document = parse_policy(text, source or "<policy>")
    canonical_doc = canonical_bytes(document.to_dict())
    with _locked(store):
        versions = history(store)
        latest = versions[0] if versions else None
        if latest is not None and latest.document_id == hash_bytes(canonical_doc):
            return latest, False
        document_id = store.objects.put_bytes(canonical_doc)
        text_id = store.objects.put_bytes(text.encode("utf-8"))
        draft = PolicyVersion(
            id="",
            version=1 if latest is None else latest.version + 1,
            previous=None if latest is None else latest.id,
            document=document,
            document_id=document_id,
            text_id=text_id,
            source=None if source is None else os.path.basename(source),
            created_at=utc_now(),
            created_by=current_user(),
        )
        object_id = store.objects.put_bytes(canonical_bytes(draft.manifest()))
        atomic_write_bytes(
            _head_path(store),
            json.dumps(
                {"schema": HEAD_SCHEMA, "version": draft.version, "id": object_id},
                sort_keys=True,
            ).encode(),
        )
    return _load(store, object_id), True


def version_text(store: Store, version: PolicyVersion) -> str | None:
    """The YAML text that was applied, if stored."""
    if version.text_id is None:
        return None
    raw = store.objects.get_bytes(version.text_id)
    if hash_bytes(raw) != version.text_id:
        raise IntegrityError(f"policy {version.ref}: its YAML text was altered")
    return raw.decode("utf-8")
