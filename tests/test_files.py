"""File and folder fingerprints, retention, and the stat cache."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import blake3
import pytest
from hypothesis import given
from hypothesis import strategies as st

from runstate.data.files import fingerprint_path, folder_manifest_bytes
from runstate.data.statcache import StatCache
from runstate.errors import InputNotFound, InputUnreadable, UsageError
from runstate.state.canonical import canonical_bytes
from runstate.store.objects import LocalObjectStore


def _age(path: Path, seconds: float = 10) -> None:
    """Backdate mtimes so the stat cache does not treat the files as racy."""
    old = time.time() - seconds
    for item in [path, *path.rglob("*")] if path.is_dir() else [path]:
        os.utime(item, (old, old))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    (root / "sub").mkdir(parents=True)
    (root / "a.csv").write_bytes(b"id,x\n1,2\n")
    (root / "sub" / "b.bin").write_bytes(os.urandom(1000))
    (root / "__pycache__").mkdir()
    (root / "__pycache__" / "junk.pyc").write_bytes(b"ignored")
    _age(root)
    return root


def test_file_fingerprint_is_blake3_and_stored_with_full_retention(tmp_path: Path) -> None:
    path = tmp_path / "x.txt"
    path.write_bytes(b"content")
    objects = LocalObjectStore(tmp_path / "objects")
    result = fingerprint_path(path, objects)
    assert result.kind == "file" and result.size == 7 and result.files == 1
    assert result.fingerprint == blake3.blake3(b"content").hexdigest() == result.object_id
    assert objects.get_bytes(result.fingerprint) == b"content"


def test_folder_fingerprint_is_the_documented_manifest(folder: Path, tmp_path: Path) -> None:
    objects = LocalObjectStore(tmp_path / "objects")
    result = fingerprint_path(folder, objects)
    rows = [
        ["a.csv", 9, blake3.blake3(b"id,x\n1,2\n").hexdigest()],
        ["sub/b.bin", 1000, blake3.blake3((folder / "sub" / "b.bin").read_bytes()).hexdigest()],
    ]
    manifest = canonical_bytes({"schema": "runstate.folder/v1", "files": rows})
    assert result.fingerprint == blake3.blake3(manifest).hexdigest()
    assert result.files == 2 and result.size == 1009
    assert json.loads(objects.get_bytes(result.object_id))["files"] == rows
    assert all(objects.has(row[2]) for row in rows)


def test_folder_fingerprint_is_independent_of_location_and_sensitive_to_content(
    folder: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "elsewhere" / "copy"
    copy.mkdir(parents=True)
    (copy / "sub").mkdir()
    (copy / "a.csv").write_bytes((folder / "a.csv").read_bytes())
    (copy / "sub" / "b.bin").write_bytes((folder / "sub" / "b.bin").read_bytes())
    assert fingerprint_path(copy).fingerprint == fingerprint_path(folder).fingerprint
    (copy / "a.csv").write_bytes(b"id,x\n1,3\n")
    assert fingerprint_path(copy).fingerprint != fingerprint_path(folder).fingerprint
    (copy / "a.csv").write_bytes((folder / "a.csv").read_bytes())
    (copy / "sub" / "b.bin").rename(copy / "sub" / "c.bin")
    assert fingerprint_path(copy).fingerprint != fingerprint_path(folder).fingerprint


def test_fingerprint_retention_stores_only_the_manifest(folder: Path, tmp_path: Path) -> None:
    objects = LocalObjectStore(tmp_path / "objects")
    result = fingerprint_path(folder, objects, retention="fingerprint")
    assert list(objects.iter_ids()) == [result.object_id]
    single = fingerprint_path(folder / "a.csv", objects, retention="fingerprint")
    assert single.object_id is None and not objects.has(single.fingerprint)


def test_stat_cache_skips_unchanged_files_and_notices_changes(folder: Path, tmp_path: Path) -> None:
    cache = StatCache(tmp_path / "cache" / "stat.sqlite")
    first = fingerprint_path(folder, cache=cache)
    known = cache.lookup_prefix(str(folder) + os.sep)
    assert len(known) == 2
    # Poison the cached hash of an unchanged file: a cache hit must return it unchanged,
    # which proves the file was not re-read.
    target = str(folder / "a.csv")
    key, _ = known[target]
    cache.put_many([(target, key, "11" * 32)], time.time_ns())
    assert fingerprint_path(folder, cache=cache).fingerprint != first.fingerprint
    # Any real change (size, mtime) invalidates the entry.
    (folder / "a.csv").write_bytes(b"id,x\n1,2\n")
    _age(folder / "a.csv", 5)
    assert fingerprint_path(folder, cache=cache).fingerprint == first.fingerprint
    cache.close()


def test_racy_files_are_not_cached(tmp_path: Path) -> None:
    path = tmp_path / "fresh.txt"
    path.write_bytes(b"just written")
    cache = StatCache(tmp_path / "stat.sqlite")
    fingerprint_path(path, cache=cache)
    assert cache.lookup_prefix(str(tmp_path)) == {}
    cache.close()


def test_a_broken_cache_file_only_costs_speed(folder: Path, tmp_path: Path) -> None:
    bad = tmp_path / "stat.sqlite"
    bad.write_bytes(b"this is not sqlite")
    cache = StatCache(bad)
    assert fingerprint_path(folder, cache=cache).fingerprint == fingerprint_path(folder).fingerprint


def test_bad_paths_give_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(InputNotFound, match="no such file"):
        fingerprint_path(tmp_path / "missing.csv")
    secret = tmp_path / "secret.csv"
    secret.write_bytes(b"x")
    secret.chmod(0)
    try:
        if os.geteuid() != 0:  # root reads anything
            with pytest.raises(InputUnreadable, match="permission denied"):
                fingerprint_path(secret)
    finally:
        secret.chmod(0o644)
    with pytest.raises(UsageError, match="retention"):
        fingerprint_path(secret, retention="sometimes")


@given(st.lists(st.tuples(st.text(min_size=1), st.integers(min_value=0), st.text(max_size=64))))
def test_fast_manifest_encoding_equals_canonical_json(rows: list[tuple[str, int, str]]) -> None:
    as_lists = [list(row) for row in rows]
    expected = canonical_bytes({"schema": "runstate.folder/v1", "files": as_lists})
    assert folder_manifest_bytes(as_lists) == expected


def test_storing_a_big_folder_in_one_batch(tmp_path: Path) -> None:
    root = tmp_path / "many"
    root.mkdir()
    contents = {f"f{i:03d}.bin": os.urandom(100 + i) for i in range(60)}
    for name, data in contents.items():
        (root / name).write_bytes(data)
    objects = LocalObjectStore(tmp_path / "objects")
    result = fingerprint_path(root, objects)
    assert result.files == 60
    for data in contents.values():
        assert objects.get_bytes(blake3.blake3(data).hexdigest()) == data
    assert list(objects.iter_temp_files()) == []
    # The same folder again: every object is reused, none is rewritten.
    inodes = {oid: os.stat(objects.path(oid)).st_ino for oid in objects.iter_ids()}
    assert fingerprint_path(root, objects).fingerprint == result.fingerprint
    assert {oid: os.stat(objects.path(oid)).st_ino for oid in objects.iter_ids()} == inodes
