"""Table files in object stores (``s3://``, ``gs://``, ``az://``, …), read through fsspec.

A remote table file is fetched into a local temporary file, streamed in chunks, and read
from there by the local readers, so every format and every bad-input message works the same
for remote files; the temporary file lives as long as the reader. What was fetched is
pinned: the object's **version id** when the bucket keeps versions (S3 and GCS with
versioning on), else its **ETag**. The pin travels with the reader's
:class:`~runstate.data.readers.TableSource` as ``version`` — ``"version:<id>"`` or
``"etag:<etag>"`` — and ``reference`` retention (:mod:`runstate.data.reference`) records it.

Credentials and endpoints come from the usual places (the cloud SDK's environment and
config files, or fsspec's configuration, e.g. ``FSSPEC_S3_ENDPOINT_URL``); a URL that
carries credentials is refused so they never reach a run record.

    >>> reader = open_remote("s3://lake/customers.parquet", None)   # doctest: +SKIP
    >>> reader.source.version                                       # doctest: +SKIP
    'version:3HL4kqtJlcpXroDTDmJ'
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from runstate.errors import InputError, InputNotFound, IntegrityError, UsageError

if TYPE_CHECKING:
    from runstate.data.readers import TableReader

__all__ = ["RemoteObject", "fetch", "is_remote_url", "open_remote"]

_URL = re.compile(r"^(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*)://(?P<rest>.*)$")
_VERSIONED = ("s3", "s3a", "gs", "gcs")  # fsspec backends that take version_aware=True
_CHUNK = 8 << 20


def is_remote_url(text: str) -> bool:
    """Whether ``text`` names a file through a URL scheme fsspec serves (not ``file://``)."""
    match = _URL.match(text)
    return bool(match) and match["scheme"].lower() not in ("file",)  # type: ignore[index]


@dataclass(frozen=True)
class RemoteObject:
    """One fetched version of a remote object."""

    url: str
    version_id: str | None
    etag: str | None
    size: int

    @property
    def pin(self) -> str | None:
        """``version:<id>`` when the store keeps versions, else ``etag:<etag>``."""
        if self.version_id:
            return f"version:{self.version_id}"
        return f"etag:{self.etag}" if self.etag else None


def _filesystem(url: str) -> tuple[Any, str]:
    match = _URL.match(url)
    if match is None:
        raise UsageError(f"{url}: not a URL")
    if "@" in match["rest"].split("/", 1)[0]:
        raise UsageError(f"{url}: URLs with credentials are refused (use the cloud SDK's config)")
    try:
        import fsspec
    except ImportError:  # pragma: no cover - fsspec is a core dependency
        raise UsageError("reading remote files needs fsspec") from None
    scheme = match["scheme"].lower()
    options = {"version_aware": True} if scheme in _VERSIONED else {}
    try:
        fs, path = fsspec.core.url_to_fs(url, **options)
    except (ImportError, ValueError) as exc:
        raise UsageError(f"{url}: cannot open {scheme}:// URLs: {exc}") from None
    return fs, path


def _info(fs: Any, path: str, url: str) -> dict[str, Any]:
    invalidate = getattr(fs, "invalidate_cache", None)
    if invalidate is not None:
        invalidate(path)
    try:
        info: dict[str, Any] = fs.info(path)
    except FileNotFoundError:
        raise InputNotFound(f"{url}: no such object") from None
    except PermissionError as exc:
        raise InputError(f"{url}: access denied ({exc})") from None
    if info.get("type") == "directory":
        raise InputError(f"{url}: a remote folder; remote tables are single files for now")
    return info


def _etag(info: dict[str, Any]) -> str | None:
    for key in ("ETag", "etag", "md5Hash"):
        if info.get(key):
            return str(info[key]).strip('"')
    return None


def fetch(url: str, target: str, version_id: str | None = None) -> RemoteObject:
    """Copy the object at ``url`` (at ``version_id`` if given) into the local file ``target``."""
    fs, path = _filesystem(url)
    info = _info(fs, path, url)
    version = version_id or info.get("VersionId") or info.get("generation")
    if version in ("null", None):
        version = None
    options = {"version_id": version_id} if version_id else {}
    try:
        with fs.open(path, "rb", **options) as source, open(target, "wb") as out:
            shutil.copyfileobj(source, out, _CHUNK)
    except FileNotFoundError:
        where = f" version {version_id}" if version_id else ""
        raise IntegrityError(f"{url}{where}: the object version no longer exists") from None
    except OSError as exc:
        raise InputError(f"{url}: cannot fetch the object: {exc}") from None
    etag = _etag(info)
    if not version_id and etag is not None and _etag(_info(fs, path, url)) != etag:
        raise InputError(f"{url}: the object changed while it was being fetched")
    return RemoteObject(
        url, None if version is None else str(version), etag, os.path.getsize(target)
    )


def fetch_to_temp(url: str, version_id: str | None = None) -> tuple[str, RemoteObject]:
    """:func:`fetch` into a new temporary file (kept with the URL's suffix); the caller
    deletes it."""
    suffix = os.path.splitext(url.rsplit("/", 1)[-1])[1]
    handle, temp = tempfile.mkstemp(prefix=".runstate-remote-", suffix=suffix)
    os.close(handle)
    try:
        return temp, fetch(url, temp, version_id)
    except BaseException:
        os.unlink(temp)
        raise


def open_remote(
    url: str,
    format: str | None,
    wanted: Any = None,
    encoding: str = "utf-8",
    block_size: int | None = None,
    batch_rows: int = 131_072,
) -> TableReader:
    """A reader over a local copy of ``url``; its source names the URL and the pinned version."""
    from dataclasses import replace

    from runstate.data.readers.paths import _open_path

    temp, fetched = fetch_to_temp(url)
    try:
        reader = _open_path(temp, format, wanted, encoding, block_size, batch_rows)
    except InputError as exc:  # name the URL, not the temporary copy
        os.unlink(temp)
        raise type(exc)(str(exc).replace(temp, url)) from None
    except BaseException:
        os.unlink(temp)
        raise
    reader.source = replace(
        reader.source,
        path=url,
        description=reader.source.description.replace(temp, url),
        version=fetched.pin,
    )
    weakref.finalize(reader, _remove, temp)
    return reader


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
