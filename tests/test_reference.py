"""``reference`` retention: git blobs and Delta versions pinned, fetched back and verified."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import deltalake  # the test extra installs it (runstate[delta])
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import runstate
from runstate.data.readers import open_table
from runstate.data.reference import ExternalVersion, restore_table
from runstate.data.tablecapture import TableEntry
from runstate.data.tables import table_fingerprint
from runstate.errors import IntegrityError, UsageError
from runstate.store.store import Store
from schemas import validate


def _git(project: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.org",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.org",
    }
    done = subprocess.run(
        ["git", *args], cwd=project, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def _table_entry(store: Store, run_id: str, name: str) -> TableEntry:
    store.ingest_pending()  # runs commit through the journal
    record = store.load_record(store.metadata.run(run_id)["record_id"])
    validate(record)
    (item,) = [i for i in record["inputs"] if i["name"] == name]
    return TableEntry.from_dict(item)


@pytest.fixture
def git_project(project: Path) -> Path:
    _git(project, "init", "-q")
    (project / "data").mkdir()
    (project / "data" / "customers.csv").write_text("id,score\n1,0.5\n2,0.25\n3,0.75\n")
    _git(project, "add", "data/customers.csv")
    _git(project, "commit", "-q", "-m", "data")
    return project


def test_git_blob_is_pinned_and_restored_after_the_file_changes(
    git_project: Path, store: Store
) -> None:
    csv = git_project / "data" / "customers.csv"
    original = open_table(csv).read_all()
    blob = _git(git_project, "hash-object", "data/customers.csv")
    with runstate.run("score") as run:
        seen = run.read_table("customers", "data/customers.csv", key="id", retention="reference")
    assert list(seen["id"]) == [1, 2, 3]
    entry = _table_entry(store, run.id, "customers")
    assert entry.retention == "reference" and entry.snapshot_id is None
    assert entry.reference == {
        "kind": "git-blob",
        "path": "data/customers.csv",
        "id": blob,
        "repo": ".",
        "format": "csv",
    }
    assert entry.fingerprint == table_fingerprint(original).fingerprint

    # The live file moves on (a new commit): the recorded version still comes back exactly.
    csv.write_text("id,score\n1,0.5\n2,0.3\n4,0.9\n")
    _git(git_project, "commit", "-q", "-am", "refresh")
    version = ExternalVersion.from_dict(entry.reference)
    restored = restore_table(version, str(git_project), entry.fingerprint)
    assert restored.equals(original)
    assert (
        table_fingerprint(restored).fingerprint
        != table_fingerprint(open_table(csv).read_all()).fingerprint
    )


def test_a_staged_file_can_be_pinned_but_an_uncommitted_change_cannot(
    git_project: Path, store: Store
) -> None:
    csv = git_project / "data" / "customers.csv"
    csv.write_text("id,score\n1,0.5\n")
    with (
        pytest.raises(UsageError, match=r"not committed.*git add.*retention 'full'"),
        runstate.run("score") as run,
    ):
        run.read_table("customers", "data/customers.csv", retention="reference")
    store.ingest_pending()
    assert store.metadata.run(run.id)["status"] == "failed"
    _git(git_project, "add", "data/customers.csv")
    with runstate.run("score") as run:
        run.read_table("customers", "data/customers.csv", retention="reference")
    entry = _table_entry(store, run.id, "customers")
    assert entry.reference is not None
    assert entry.reference["id"] == _git(git_project, "hash-object", "data/customers.csv")


def test_sources_without_an_external_version_are_refused(project: Path, store: Store) -> None:
    (project / "t.csv").write_text("a\n1\n")
    with runstate.run("job") as run:
        with pytest.raises(UsageError, match="neither in a git repository nor a Delta table"):
            run.read_table("t", "t.csv", retention="reference")
        with pytest.raises(UsageError, match="a dataframe source has no external version"):
            run.read_table("frame", pa.table({"a": [1]}), retention="reference")


def test_a_vanished_blob_or_a_different_table_is_an_integrity_error(
    git_project: Path, store: Store
) -> None:
    with runstate.run("score") as run:
        run.read_table("customers", "data/customers.csv", retention="reference")
    entry = _table_entry(store, run.id, "customers")
    assert entry.reference is not None
    gone = ExternalVersion.from_dict({**entry.reference, "id": "0" * 40})
    with pytest.raises(IntegrityError, match="no longer in the repository"):
        restore_table(gone, str(git_project), entry.fingerprint)
    version = ExternalVersion.from_dict(entry.reference)
    with pytest.raises(IntegrityError, match="does not match the recorded fingerprint"):
        restore_table(version, str(git_project), "f" * 64)


def test_delta_table_is_read_at_its_version_and_restored(project: Path, store: Store) -> None:
    path = str(project / "lake" / "customers")
    first = pa.table({"id": [1, 2, 3], "score": [0.5, 0.25, 0.75]})
    deltalake.write_deltalake(path, first)
    with runstate.run("score") as run:
        seen = run.read_table("customers", "lake/customers", key="id", retention="reference")
    assert sorted(seen["id"]) == [1, 2, 3]
    entry = _table_entry(store, run.id, "customers")
    assert entry.reference == {"kind": "delta", "path": "lake/customers", "id": "0"}
    assert entry.source["format"] == "delta" and entry.source["version"] == "0"

    # Overwrite: the old Parquet file stays in the folder until vacuumed. Reading the folder
    # goes through the log (version 1 only), and version 0 comes back from the reference.
    second = pa.table({"id": [7], "score": [0.1]})
    deltalake.write_deltalake(path, second, mode="overwrite")
    assert len([n for n in os.listdir(path) if n.endswith(".parquet")]) == 2
    assert open_table(path).read_all().column("id").to_pylist() == [7]
    restored = restore_table(
        ExternalVersion.from_dict(entry.reference), str(project), entry.fingerprint
    )
    assert table_fingerprint(restored).fingerprint == table_fingerprint(first).fingerprint


def test_delta_version_that_does_not_exist_is_one_clear_error(project: Path) -> None:
    path = str(project / "lake" / "t")
    deltalake.write_deltalake(path, pa.table({"a": [1]}))
    from runstate.data.delta import open_delta
    from runstate.errors import InputError

    with pytest.raises(InputError, match=r"cannot open the Delta table at version 5"):
        open_delta(path, version=5)


# --- object stores: a real S3 protocol server (moto) in place of the cloud ---------------


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """An S3-compatible HTTP server on a free port; fsspec's s3 backend is pointed at it
    (the designed seam: the transport), everything above it is the real code path."""
    moto_server = pytest.importorskip("moto.server")
    pytest.importorskip("s3fs")
    import fsspec

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    saved = dict(fsspec.config.conf.get("s3", {}))
    fsspec.config.conf["s3"] = {
        "endpoint_url": endpoint,
        "key": "testing",
        "secret": "testing",
        "client_kwargs": {"region_name": "us-east-1"},
    }
    try:
        yield endpoint
    finally:
        fsspec.config.conf["s3"] = saved
        server.stop()


def _bucket(endpoint: str, name: str, versioned: bool) -> Any:
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    client.create_bucket(Bucket=name)
    if versioned:
        client.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return client


def test_s3_versioned_object_is_pinned_and_restored(
    s3_endpoint: str, project: Path, store: Store
) -> None:
    client = _bucket(s3_endpoint, "lake-versioned", versioned=True)
    first = pa.table({"id": [1, 2, 3], "score": [0.5, 0.25, 0.75]})
    sink = pa.BufferOutputStream()
    pq.write_table(first, sink)
    put = client.put_object(
        Bucket="lake-versioned", Key="customers.parquet", Body=sink.getvalue().to_pybytes()
    )
    url = "s3://lake-versioned/customers.parquet"
    with runstate.run("score") as run:
        seen = run.read_table("customers", url, key="id", retention="reference", as_="arrow")
    assert seen.equals(first)
    entry = _table_entry(store, run.id, "customers")
    assert entry.path == url and entry.snapshot_id is None
    assert entry.reference == {
        "kind": "object-version",
        "path": url,
        "id": put["VersionId"],
        "format": "parquet",
    }
    # Overwritten upstream: the recorded version still comes back, verified.
    second = pa.table({"id": [9], "score": [0.9]})
    sink = pa.BufferOutputStream()
    pq.write_table(second, sink)
    client.put_object(
        Bucket="lake-versioned", Key="customers.parquet", Body=sink.getvalue().to_pybytes()
    )
    assert open_table(url).read_all().equals(second)
    version = ExternalVersion.from_dict(entry.reference)
    assert restore_table(version, str(project), entry.fingerprint).equals(first)


def test_s3_unversioned_object_is_pinned_by_etag(
    s3_endpoint: str, project: Path, store: Store
) -> None:
    client = _bucket(s3_endpoint, "lake-plain", versioned=False)
    client.put_object(Bucket="lake-plain", Key="t.csv", Body=b"a,b\n1,x\n2,y\n")
    url = "s3://lake-plain/t.csv"
    with runstate.run("job") as run:
        run.read_table("t", url, retention="reference")
        full = run.read_table("t_full", url, as_="arrow")  # full retention works remotely too
    assert full.column("b").to_pylist() == ["x", "y"]
    entry = _table_entry(store, run.id, "t")
    assert entry.reference is not None and entry.reference["kind"] == "object-etag"
    version = ExternalVersion.from_dict(entry.reference)
    assert restore_table(version, str(project), entry.fingerprint).num_rows == 2
    assert _table_entry(store, run.id, "t_full").snapshot_id is not None
    client.put_object(Bucket="lake-plain", Key="t.csv", Body=b"a,b\n1,x\n")
    with pytest.raises(IntegrityError, match=r"overwritten .* keeps no versions"):
        restore_table(version, str(project), entry.fingerprint)


def test_s3_missing_object_and_credentialed_url_are_clear_errors(
    s3_endpoint: str, project: Path
) -> None:
    from runstate.errors import InputNotFound

    _bucket(s3_endpoint, "lake-empty", versioned=False)
    with pytest.raises(InputNotFound, match=r"s3://lake-empty/nope.csv: no such object"):
        open_table("s3://lake-empty/nope.csv")
    with pytest.raises(UsageError, match="credentials are refused"):
        open_table("s3://user:secret@lake-empty/t.csv")
