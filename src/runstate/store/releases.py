"""Releases: named, immutable, hash-chained (optionally signed) snapshots of a run's state.

``NAME@v1, v2, …`` each point at one run. A release's *manifest*
(``runstate.release-manifest/v1``) holds the run, its state and components, its output
fingerprints and final metrics, and the id of the previous manifest of the same name, so
the releases of a name form a hash chain: changing any old release breaks every later link,
which ``runstate verify`` reports. The manifest is stored as an object (its id is its
BLAKE3) before the row that names it, and the ``releases`` table is append-only.

Aliases (``production``) are movable pointers to releases; every move is logged.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from runstate.errors import ConcurrentUpdate, ReleaseNotFound, RunNotFound, SigningError, UsageError
from runstate.state.canonical import canonical_bytes
from runstate.state.host import current_user
from runstate.store.store import Store, utc_now

__all__ = [
    "MANIFEST_SCHEMA",
    "Release",
    "create_release",
    "get_release",
    "list_releases",
    "parse_release_ref",
]

MANIFEST_SCHEMA = "runstate.release-manifest/v1"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
_REF = re.compile(r"^(?P<name>[^@\s]+)@v(?P<version>[0-9]+)$")


def check_name(name: str, what: str = "release name") -> str:
    if not _NAME.match(name):
        raise UsageError(f"{what} {name!r}: use letters, digits, '.', '_' or '-' (max 200)")
    return name


def parse_release_ref(ref: str) -> tuple[str, int]:
    match = _REF.match(ref.strip())
    if not match:
        raise UsageError(f"release {ref!r}: expected NAME@vN, e.g. scoring@v1")
    return match["name"], int(match["version"])


@dataclass(frozen=True)
class Release:
    name: str
    version: int
    run_id: str
    state_id: str
    manifest_id: str
    previous_id: str | None
    signature: str | None
    key_id: str | None
    created_at: str
    created_by: str

    @property
    def ref(self) -> str:
        return f"{self.name}@v{self.version}"

    def to_dict(self) -> dict[str, Any]:
        return {"ref": self.ref, **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Release:
        fields = {k: data[k] for k in cls.__dataclass_fields__}
        return cls(**fields)


def get_release(store: Store, ref: str) -> Release:
    name, version = parse_release_ref(ref)
    row = store.reader.release(name, version)
    if row is None:
        latest = store.reader.latest_release(name)
        hint = f" (latest is {name}@v{latest['version']})" if latest else ""
        raise ReleaseNotFound(f"no release {name}@v{version}{hint}")
    return Release.from_dict(row)


def list_releases(store: Store, name: str | None = None) -> list[Release]:
    return [Release.from_dict(row) for row in store.reader.releases(name)]


def build_manifest(
    row: dict[str, Any],
    record: dict[str, Any],
    name: str,
    version: int,
    previous_id: str | None,
    created_at: str,
    created_by: str,
    checks_id: str | None = None,
) -> dict[str, Any]:
    """The manifest of ``name@v<version>`` for the run with this row and record.

    ``checks_id`` names the stored check settings (``runstate check``); the field is
    written only when there are some, so manifests without it hash as before.
    """
    run_id = row["id"]
    metrics: dict[str, Any] = {}
    for metric in record.get("metrics", []):
        metrics[metric["key"]] = metric["value"]
    return {
        "schema": MANIFEST_SCHEMA,
        "name": name,
        "version": version,
        "run_id": run_id,
        "run_record": row["record_id"],
        "run_name": row["name"],
        "state": record["state"],
        "outputs": {o["name"]: o["fingerprint"] for o in record.get("outputs", [])},
        "metrics": metrics,
        "previous": previous_id,
        "created_at": created_at,
        "created_by": created_by,
        **({"checks": checks_id} if checks_id else {}),
    }


def create_release(
    store: Store,
    name: str,
    run_id: str,
    sign_key: str | None = None,
    attempts: int = 5,
    checks: dict[str, Any] | None = None,
) -> Release:
    """Freeze ``run_id`` as the next version of ``name``; sign it with ``sign_key`` (PEM).

    ``checks``: validated check settings (:func:`runstate.monitor.settings.load_settings`)
    stored as an object the manifest names (``checks``), so later checks against this
    release apply them.
    """
    check_name(name)
    metadata = store.metadata
    row = metadata.run(run_id)
    if row is None:
        raise RunNotFound(f"no run {run_id}")
    if row["status"] != "succeeded":
        raise UsageError(f"run {run_id} {row['status']}: only a succeeded run can be released")
    record = store.load_record(row["record_id"])
    private = None
    if sign_key is not None:
        from runstate.store.signing import load_private_key, sign

        private = load_private_key(sign_key)
    created_by = current_user()
    checks_id = store.objects.put_bytes(canonical_bytes(checks)) if checks is not None else None
    from sqlalchemy import exc as sa_exc  # writers only: readers stay SQLAlchemy-free

    for _ in range(attempts):
        try:
            with metadata.transaction() as conn:
                latest = metadata.latest_release(name, conn)
                version = 1 if latest is None else int(latest["version"]) + 1
                previous_id = None if latest is None else str(latest["manifest_id"])
                created_at = utc_now()
                manifest = build_manifest(
                    row, record, name, version, previous_id, created_at, created_by, checks_id
                )
                payload = canonical_bytes(manifest)
                manifest_id = store.objects.put_bytes(payload)
                signature = key = None
                if private is not None:
                    signature, key = sign(private, payload)
                    if key not in store.config.get("trusted_keys", {}):
                        raise SigningError(
                            f"{sign_key}: key {key} is not pinned in this store; "
                            f"run `runstate key add` with its public key first"
                        )
                values = {
                    "name": name,
                    "version": version,
                    "run_id": run_id,
                    "state_id": manifest["state"]["id"],
                    "manifest_id": manifest_id,
                    "previous_id": previous_id,
                    "signature": signature,
                    "key_id": key,
                    "created_at": created_at,
                    "created_by": created_by,
                }
                metadata.insert_release(conn, values)
            return Release(**values)  # type: ignore[arg-type]
        except sa_exc.IntegrityError:
            continue  # a concurrent create took this version; try the next one
    raise ConcurrentUpdate(
        f"release {name}: could not take a version number after {attempts} attempts"
    )


def set_alias(store: Store, alias: str, ref: str) -> tuple[Release, str | None]:
    check_name(alias, "alias name")
    release = get_release(store, ref)
    previous = store.metadata.set_alias(
        alias, release.name, release.version, utc_now(), current_user()
    )
    return release, previous
