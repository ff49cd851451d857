"""verify and gc on real stores: damage is found, garbage is collected, live captures are safe."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path

import pytest

import runstate
from conftest import runstate_cli
from runstate.store.integrity import collect_garbage, verify_store
from runstate.store.releases import create_release
from runstate.store.store import Store


def _make_runs(project: Path, count: int = 2) -> list[str]:
    (project / "in.txt").write_text("input")
    ids = []
    for i in range(count):
        with runstate.run("job", params={"i": i}) as run:
            run.input("source", "in.txt")
        ids.append(run.id)
    return ids


def _kinds(report) -> set[str]:
    return {p.kind for p in report.problems}


def test_a_healthy_store_verifies_clean(project: Path, store: Store) -> None:
    ids = _make_runs(project)
    create_release(store, "scoring", ids[0])
    create_release(store, "scoring", ids[1])
    report = verify_store(store)
    assert report, report.problems
    assert report.runs_checked == 2 and report.releases_checked == 2 and report.objects_checked > 5


def test_corrupt_and_missing_objects_are_reported(project: Path, store: Store) -> None:
    _make_runs(project, 1)
    input_id = store.load_record(store.metadata.list_runs()[0]["record_id"])["inputs"][0][
        "object_id"
    ]
    path = store.objects.path(input_id)  # type: ignore[attr-defined]
    os.chmod(path, 0o644)
    Path(path).write_bytes(b"tampered")
    assert "corrupt-object" in _kinds(verify_store(store))
    os.unlink(path)
    report = verify_store(store)
    assert "missing-object" in _kinds(report)
    assert any(input_id == p.subject for p in report.problems)


def test_a_tampered_release_breaks_the_chain(project: Path, store: Store) -> None:
    ids = _make_runs(project)
    first = create_release(store, "scoring", ids[0])
    create_release(store, "scoring", ids[1])
    # Rewrite v1's manifest bytes: the object no longer matches its id, and v2 still links
    # to the old id. Both are reported.
    path = store.objects.path(first.manifest_id)  # type: ignore[attr-defined]
    manifest = json.loads(Path(path).read_bytes())
    manifest["metrics"] = {"auc": 0.99}
    os.chmod(path, 0o644)
    Path(path).write_bytes(json.dumps(manifest).encode())
    assert "corrupt-object" in _kinds(verify_store(store))


def test_signed_releases_verify_only_against_pinned_keys(
    project: Path, store: Store, tmp_path: Path
) -> None:
    from runstate.errors import SigningError
    from runstate.store.signing import generate_key, load_public_key_raw

    ids = _make_runs(project, 1)
    key_path = tmp_path / "release.pem"
    key_id, public_path = generate_key(key_path)
    with pytest.raises(SigningError, match="not pinned"):
        create_release(store, "scoring", ids[0], sign_key=str(key_path))
    assert store.metadata.releases() == []  # nothing half-written
    config = dict(store.config)
    config["trusted_keys"] = {key_id: load_public_key_raw(public_path).hex()}
    store.write_config(config)
    release = create_release(store, "scoring", ids[0], sign_key=str(key_path))
    assert release.key_id == key_id and release.signature
    assert verify_store(store)
    # Swap the pinned key for another one: the signature must no longer verify.
    _, other_public = generate_key(tmp_path / "other.pem")
    config["trusted_keys"] = {key_id: load_public_key_raw(other_public).hex()}
    store.write_config(config)
    assert "bad-signature" in _kinds(verify_store(store))
    config["trusted_keys"] = {}
    store.write_config(config)
    assert "bad-signature" in _kinds(verify_store(store))


def test_a_state_row_that_disagrees_with_its_merkle_root_is_reported(
    project: Path, store: Store
) -> None:
    _make_runs(project, 1)
    assert store.metadata.count_runs() == 1  # ingests the journal
    store.close()
    db = sqlite3.connect(project / ".runstate" / "runstate.db")
    row = db.execute("SELECT id, components_json FROM states").fetchone()
    components = json.loads(row[1])
    components["env"] = "00" * 32
    db.execute(
        "UPDATE states SET components_json = ? WHERE id = ?", (json.dumps(components), row[0])
    )
    db.commit()
    db.close()
    assert "bad-state" in _kinds(verify_store(Store.open(project)))


def test_gc_removes_only_unreachable_objects(project: Path, store: Store) -> None:
    _make_runs(project, 2)
    before = set(store.objects.iter_ids())
    orphan = store.objects.put_bytes(b"nobody names me")
    old = time.time() - 7200
    os.utime(store.objects.path(orphan), (old, old))  # type: ignore[attr-defined]
    recent_orphan = store.objects.put_bytes(b"written a moment ago")
    report = collect_garbage(store, grace_seconds=3600, dry_run=True)
    assert report.deleted == 1 and store.objects.has(orphan)
    report = collect_garbage(store, grace_seconds=3600)
    assert report.deleted == 1 and report.bytes_freed == len(b"nobody names me")
    assert not store.objects.has(orphan) and store.objects.has(recent_orphan)
    assert set(store.objects.iter_ids()) == before | {recent_orphan}
    assert verify_store(store)


def test_gc_never_touches_objects_of_a_capture_in_flight(project: Path, store: Store) -> None:
    (project / "big.txt").write_text("in flight")
    with runstate.run("slow") as run:
        run.input("big", "big.txt")
        # Mid-capture: the input's object exists but no row names it yet.
        object_id = run.inputs["big"].fingerprint.object_id  # type: ignore[union-attr]
        report = collect_garbage(store, grace_seconds=0)
        assert store.objects.has(object_id), report
    assert store.objects.has(object_id)
    assert verify_store(store)


def test_gc_keeps_objects_of_committed_but_not_ingested_runs(project: Path) -> None:
    (project / "job.py").write_text("open('out.txt', 'w').write('x')\n")
    result = runstate_cli("run", "--", "python3", "job.py", cwd=project)
    assert result.returncode == 0, result.stderr
    store = Store.open(project)
    assert store.journal.pending()  # committed, not yet in the database
    store._metadata = None
    collect_garbage(store, grace_seconds=0)
    assert verify_store(store)


def test_cli_verify_and_gc_exit_codes(project: Path) -> None:
    _make_runs(project, 1)
    ok = runstate_cli("verify", cwd=project)
    assert ok.returncode == 0 and "OK" in ok.stdout
    store = Store.open(project)
    record_id = store.metadata.list_runs()[0]["record_id"]
    os.unlink(store.objects.path(record_id))  # type: ignore[attr-defined]
    store.close()
    bad = runstate_cli("verify", "--json", cwd=project)
    assert bad.returncode == 1
    assert json.loads(bad.stdout)["ok"] is False
    show = runstate_cli("show", "latest", cwd=project)
    assert show.returncode == 2 and "missing" in show.stderr
    assert len(show.stderr.strip().splitlines()) == 1
