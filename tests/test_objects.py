"""Object store conformance suite: one set of tests for every backend, as fsspec does.

Backends: the light local store (plain ``os``), fsspec's local filesystem, and fsspec's
memory filesystem (the designed seam for remote object stores such as S3).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import blake3
import fsspec
import pytest

from runstate.errors import ObjectMissing, UsageError
from runstate.store.objects import (
    FsspecObjectStore,
    LocalObjectStore,
    ObjectStore,
    open_object_store,
)


@pytest.fixture(params=["local", "fsspec-local", "memory"])
def objects(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ObjectStore]:
    if request.param == "local":
        yield LocalObjectStore(tmp_path / "objects")
    elif request.param == "fsspec-local":
        yield FsspecObjectStore(str(tmp_path / "objects"), fs=fsspec.filesystem("file"))
    else:
        root = f"memory://runstate-test-{uuid.uuid4().hex}"
        store = FsspecObjectStore(root)
        yield store
        if store.fs.exists(store.root):
            store.fs.rm(store.root, recursive=True)


def test_put_get_roundtrip_and_id_is_blake3(objects: ObjectStore) -> None:
    data = b"hello runstate\n" * 100
    object_id = objects.put_bytes(data)
    assert object_id == blake3.blake3(data).hexdigest()
    assert objects.has(object_id)
    assert objects.get_bytes(object_id) == data
    with objects.open(object_id) as handle:
        assert handle.read() == data
    assert objects.verify(object_id)


def test_identical_content_is_stored_once(objects: ObjectStore) -> None:
    first = objects.put_bytes(b"same")
    second = objects.put_bytes(b"same")
    assert first == second
    assert list(objects.iter_ids()) == [first]


def test_fan_out_layout(objects: ObjectStore) -> None:
    object_id = objects.put_bytes(b"layout")
    path = objects.path(object_id)  # type: ignore[attr-defined]
    assert path.replace(os.sep, "/").endswith(f"/{object_id[:2]}/{object_id[2:]}")


def test_put_file_with_and_without_known_hash(objects: ObjectStore, tmp_path: Path) -> None:
    source = tmp_path / "input.bin"
    source.write_bytes(os.urandom(50_000))
    expected = blake3.blake3(source.read_bytes()).hexdigest()
    assert objects.put_file(source) == expected
    assert objects.put_file(source, expected) == expected
    assert objects.get_bytes(expected) == source.read_bytes()


def test_put_stream_stores_what_is_written(objects: ObjectStore) -> None:
    import pyarrow as pa

    table = pa.table({"a": list(range(1000)), "b": [str(i) for i in range(1000)]})
    with objects.put_stream() as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)  # pyarrow writes through the sink
    assert sink.object_id is not None
    data = objects.get_bytes(sink.object_id)
    assert sink.object_id == blake3.blake3(data).hexdigest()
    assert pa.ipc.open_file(pa.py_buffer(data)).read_all().equals(table)
    with objects.put_stream() as again:  # the same bytes: the same object, stored once
        again.write(data[:10])
        again.write(memoryview(data)[10:])
    assert again.object_id == sink.object_id
    assert sorted(objects.iter_ids()) == [sink.object_id]


def test_put_stream_failure_leaves_nothing(objects: ObjectStore, tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), objects.put_stream() as sink:
        sink.write(b"half an object")
        raise RuntimeError("writer failed")
    assert sink.object_id is None
    assert list(objects.iter_ids()) == []
    if isinstance(objects, LocalObjectStore):
        leftovers = [p for p in Path(objects.root).rglob("*") if p.is_file()]
        assert leftovers == []


def test_put_file_refuses_a_wrong_hash(objects: ObjectStore, tmp_path: Path) -> None:
    source = tmp_path / "input.bin"
    source.write_bytes(b"actual bytes")
    with pytest.raises(ObjectMissing, match="changed while"):
        objects.put_file(source, "0" * 64)
    assert not objects.has("0" * 64)
    assert list(objects.iter_temp_files()) == []


def test_missing_objects_raise_a_clear_error(objects: ObjectStore) -> None:
    missing = "ab" * 32
    assert not objects.has(missing)
    with pytest.raises(ObjectMissing, match=missing):
        objects.get_bytes(missing)
    with pytest.raises(FileNotFoundError):  # ObjectMissing is also a FileNotFoundError
        objects.open(missing)


def test_malformed_ids_are_usage_errors(objects: ObjectStore) -> None:
    with pytest.raises(UsageError):
        objects.has("../../etc/passwd")


def test_delete_and_iterate(objects: ObjectStore) -> None:
    ids = sorted(objects.put_bytes(bytes([i]) * 10) for i in range(20))
    assert sorted(objects.iter_ids()) == ids
    objects.delete(ids[0])
    objects.delete(ids[0])  # idempotent
    assert sorted(objects.iter_ids()) == ids[1:]
    assert objects.mtime(ids[1]) > 0
    assert objects.size(ids[1]) == 10


def test_corruption_is_detected_by_verify(objects: ObjectStore) -> None:
    object_id = objects.put_bytes(b"original")
    path = objects.path(object_id)  # type: ignore[attr-defined]
    if isinstance(objects, LocalObjectStore):
        os.chmod(path, 0o644)
        Path(path).write_bytes(b"tampered")
    else:
        objects.fs.pipe_file(path, b"tampered")  # type: ignore[attr-defined]
    assert not objects.verify(object_id)


def test_open_object_store_picks_the_backend(tmp_path: Path) -> None:
    assert isinstance(open_object_store(tmp_path / "o"), LocalObjectStore)
    assert isinstance(open_object_store(f"file://{tmp_path}/o"), LocalObjectStore)
    assert isinstance(open_object_store("memory://x"), FsspecObjectStore)


def test_local_objects_are_read_only_and_leave_no_temp_files(tmp_path: Path) -> None:
    objects = LocalObjectStore(tmp_path / "objects")
    object_id = objects.put_bytes(b"immutable")
    assert not os.stat(objects.path(object_id)).st_mode & 0o222
    assert list(objects.iter_temp_files()) == []


def test_rewrite_freshens_mtime_instead_of_writing(tmp_path: Path) -> None:
    objects = LocalObjectStore(tmp_path / "objects")
    object_id = objects.put_bytes(b"reused")
    path = objects.path(object_id)
    os.utime(path, (1_000_000, 1_000_000))
    inode = os.stat(path).st_ino
    objects.put_bytes(b"reused")
    assert os.stat(path).st_mtime > 1_000_000  # gc now treats it as recent
    assert os.stat(path).st_ino == inode  # and it was not rewritten
