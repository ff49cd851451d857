"""``reference`` retention: pin a table input to an external immutable version.

Some data already lives somewhere that keeps every version: a file committed to git, a
Delta table. Storing another copy of it would only cost space, so with
``retention="reference"`` runstate records *where the exact bytes can be fetched again* —
an :class:`ExternalVersion` — next to the table's fingerprints, schema and profile, and
stores no snapshot. :func:`restore_table` fetches that version and checks it against the
recorded table fingerprint, so a rewritten git history or a vacuumed Delta version is
reported as such rather than silently replayed with different rows.

Supported external versions:

* ``git-blob`` — a file whose current bytes are a blob in its git repository (committed or
  staged): the blob id (``git hash-object``), the repository (relative to the project root)
  and the path in it. Restored with ``git cat-file blob``.
* ``delta`` — a Delta Lake table (:mod:`runstate.data.delta`): its path and the version that
  was read. Restored by reading that version (``deltalake``; needs the version's files not to
  be vacuumed).
* ``object-version`` — a file in an object store with versioning on (S3, GCS;
  :mod:`runstate.data.remote`): its URL and version id. Restored by fetching that version.
* ``object-etag`` — a file in an object store without versioning: its URL and ETag.
  Restorable only while the object still has that ETag (an overwritten object is an error).

A source that has no such version (an uncommitted file, a DataFrame, a query) cannot use
``reference`` retention: :func:`pin_reference` says why and which retention to use instead.

    >>> version = pin_reference(reader.source, project_root)        # doctest: +SKIP
    >>> version.to_dict()                                           # doctest: +SKIP
    {'kind': 'git-blob', 'repo': '.', 'path': 'data/customers.csv', 'id': '3b18e5…'}
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from runstate.errors import InputError, IntegrityError, UsageError

if TYPE_CHECKING:
    import pyarrow as pa

    from runstate.data.readers import TableSource

__all__ = ["REFERENCE_KINDS", "ExternalVersion", "pin_reference", "restore_table"]

REFERENCE_KINDS = ("git-blob", "delta", "object-version", "object-etag")


@dataclass(frozen=True)
class ExternalVersion:
    """Where the exact bytes of a table input can be fetched again."""

    kind: str  # one of REFERENCE_KINDS
    path: str  # git: the file's path in its repository; delta: the table folder
    id: str  # git: the blob id; delta: the table version
    repo: str | None = None  # git: the repository's root, relative to the project root
    format: str | None = None  # git: the file's table format (csv, parquet, …)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind, "path": self.path, "id": self.id}
        if self.repo is not None:
            data["repo"] = self.repo
        if self.format is not None:
            data["format"] = self.format
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExternalVersion:
        kind = str(data.get("kind"))
        if kind not in REFERENCE_KINDS:
            raise UsageError(f"unknown external version kind {kind!r}")
        return cls(
            kind=kind,
            path=str(data["path"]),
            id=str(data["id"]),
            repo=None if data.get("repo") is None else str(data["repo"]),
            format=None if data.get("format") is None else str(data["format"]),
        )

    def describe(self) -> str:
        if self.kind == "git-blob":
            return f"git blob {self.id[:12]} of {self.path} in {self.repo or '.'}"
        if self.kind == "object-version":
            return f"{self.path} version {self.id}"
        if self.kind == "object-etag":
            return f"{self.path} (ETag {self.id})"
        return f"Delta table {self.path} version {self.id}"


def _git(args: list[str], cwd: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, check=False, stdin=subprocess.DEVNULL
    )


def _relative(path: str, root: str) -> str:
    return os.path.relpath(os.path.abspath(path), os.path.abspath(root)).replace(os.sep, "/")


def _pin_git(path: str, fmt: str | None, project_root: str, name: str) -> ExternalVersion:
    folder = os.path.dirname(os.path.abspath(path))
    try:
        top = _git(["rev-parse", "--show-toplevel"], folder)
    except FileNotFoundError:
        raise UsageError(f"table {name!r}: retention 'reference' needs git (not found)") from None
    if top.returncode != 0:
        raise UsageError(
            f"table {name!r}: retention 'reference' needs an external immutable version, and"
            f" {path} is neither in a git repository nor a Delta table: use retention 'full'"
        )
    repo = top.stdout.decode().strip()
    # --no-filters: the id of the exact bytes on disk, so cat-file gives those bytes back
    hashed = _git(["hash-object", "--no-filters", "--", os.path.abspath(path)], repo)
    blob = hashed.stdout.decode().strip()
    if hashed.returncode != 0 or not blob:
        raise InputError(f"{path}: git hash-object failed: {hashed.stderr.decode().strip()}")
    if _git(["cat-file", "-e", f"{blob}^{{blob}}"], repo).returncode != 0:
        raise UsageError(
            f"table {name!r}: {path} has changes that are not committed (its bytes are not a"
            " blob in the git repository), so retention 'reference' cannot pin it: commit"
            " or stage it (git add), or use retention 'full'"
        )
    return ExternalVersion(
        kind="git-blob",
        path=_relative(path, repo),
        id=blob,
        repo=_relative(repo, project_root),
        format=fmt,
    )


def pin_reference(source: TableSource, project_root: str, name: str) -> ExternalVersion:
    """The external version ``source`` was read from; :class:`UsageError` when it has none."""
    if source.kind != "file" or not source.path:
        raise UsageError(
            f"table {name!r}: retention 'reference' needs a file in git or a Delta table;"
            f" a {source.kind} source has no external version: use retention 'full'"
        )
    from runstate.data.remote import is_remote_url

    if is_remote_url(source.path):
        kind, _, pin = (source.version or "").partition(":")
        if not pin:
            raise UsageError(
                f"table {name!r}: {source.path} reports neither a version id nor an ETag, so"
                " retention 'reference' cannot pin it: use retention 'full'"
            )
        kinds = {"version": "object-version", "etag": "object-etag"}
        return ExternalVersion(kinds[kind], source.path, pin, format=source.format)
    if source.format == "delta":
        if source.version is None:
            raise InputError(f"table {name!r}: the Delta reader did not report its version")
        return ExternalVersion("delta", _relative(source.path, project_root), source.version)
    if os.path.isdir(source.path):
        raise UsageError(
            f"table {name!r}: retention 'reference' pins single files (git) or Delta tables;"
            f" {source.path} is a folder of Parquet files: use retention 'full'"
        )
    return _pin_git(source.path, source.format, project_root, name)


def _git_bytes(version: ExternalVersion, project_root: str) -> bytes:
    repo = os.path.join(project_root, version.repo or ".")
    if not os.path.isdir(repo):
        raise IntegrityError(f"{version.describe()}: the repository {repo} does not exist")
    shown = _git(["cat-file", "blob", version.id], repo)
    if shown.returncode != 0:
        raise IntegrityError(
            f"{version.describe()}: the blob is no longer in the repository (history rewritten"
            " or garbage-collected?)"
        )
    return shown.stdout


def _read_version(version: ExternalVersion, project_root: str) -> pa.Table:
    from runstate.data.readers import open_table

    if version.kind == "delta":
        from runstate.data.delta import open_delta

        path = os.path.join(project_root, version.path)
        return open_delta(path, version=int(version.id)).read_all()
    if version.kind in ("object-version", "object-etag"):
        from runstate.data.remote import fetch_to_temp

        wanted = version.id if version.kind == "object-version" else None
        temp, fetched = fetch_to_temp(version.path, wanted)
        try:
            if version.kind == "object-etag" and fetched.etag != version.id:
                raise IntegrityError(
                    f"{version.describe()}: the object was overwritten (its ETag is now"
                    f" {fetched.etag}) and the bucket keeps no versions"
                )
            return open_table(temp, format=version.format).read_all()
        finally:
            os.unlink(temp)
    data = _git_bytes(version, project_root)
    suffix = os.path.splitext(version.path)[1]
    handle, temp = tempfile.mkstemp(prefix=".runstate-ref-", suffix=suffix)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        return open_table(temp, format=version.format).read_all()
    finally:
        os.unlink(temp)


def restore_table(
    version: ExternalVersion, project_root: str, expected_fingerprint: str
) -> pa.Table:
    """Fetch ``version``, read it as at capture, and check it is the table that was recorded:
    its table fingerprint must equal ``expected_fingerprint`` or an
    :class:`~runstate.errors.IntegrityError` names the version."""
    from runstate.data.tables import table_fingerprint

    table = _read_version(version, project_root)
    actual = table_fingerprint(table).fingerprint
    if actual != expected_fingerprint:
        raise IntegrityError(
            f"{version.describe()}: the fetched table does not match the recorded fingerprint"
            f" (recorded {expected_fingerprint[:12]}, fetched {actual[:12]})"
        )
    return table
