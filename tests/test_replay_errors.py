"""Bad input: each gives one specific line naming what is missing, exit 2, and nothing runs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from replayhelp import latest_id, records, run_cli, run_script, write
from runstate.errors import ReplayError
from runstate.replay import ReplayOptions, replay
from runstate.store.store import Store

API_JOB = """\
import runstate

with runstate.run("score") as run:
    df = run.read_table("customers", "data/customers.csv", key="id")
    run.output("scores", df, key="id")
"""


def _object_path(project: Path, object_id: str) -> Path:
    store = Store.open(project)
    return Path(store.objects.path(object_id))  # type: ignore[attr-defined]


def test_a_lost_input_object_is_named_and_nothing_runs(project: Path) -> None:
    write(project / "notes.txt", "plain text input\n")
    write(project / "job.py", "open('out.txt', 'w').write(open('notes.txt').read())\n")
    result = run_cli(project, "run", "--", sys.executable, "job.py")
    assert result.returncode == 0, result.stderr
    original = records(project)[0]
    entry = original["inputs"][0]
    assert entry["name"] == "notes.txt" and entry["kind"] == "file"
    _object_path(project, entry["object_id"]).unlink()
    before = len(records(project))

    failed = run_cli(project, "replay", str(original["id"]))

    assert failed.returncode == 2
    assert failed.stderr.startswith("runstate: error: input 'notes.txt': object ")
    assert "missing from the store" in failed.stderr
    assert len(records(project)) == before


def test_a_lost_snapshot_leaf_is_an_error_naming_the_input(project: Path) -> None:
    # Leaves are checked while they are read (a pre-check would cost ~5 s per GiB), so the
    # program starts, fails on the read, and the replay reports the lost object: exit 2.
    write(project / "data" / "customers.csv", "id,x\n1,1.5\n2,2.5\n")
    write(project / "job.py", API_JOB)
    run_script(project, "job.py")
    original = records(project)[0]
    from runstate.data.snapshot import snapshot_object_ids

    store = Store.open(project)
    snapshot_id = original["inputs"][0]["snapshot_id"]
    leaf = snapshot_object_ids(store.objects, snapshot_id)[-1]
    _object_path(project, leaf).unlink()
    before = len(records(project))

    failed = run_cli(project, "replay", str(original["id"]))

    assert failed.returncode == 2
    line = failed.stderr.strip().splitlines()[-1]
    assert line.startswith("runstate: error: input 'customers': its snapshot cannot be read")
    assert leaf in line and "recorded as failed" in line
    replayed = records(project)[0]
    assert len(records(project)) == before + 1
    assert replayed["status"] == "failed" and replayed["parent_id"] == original["id"]


def test_a_lost_snapshot_manifest_is_named_before_the_program_runs(project: Path) -> None:
    write(project / "data" / "customers.csv", "id,x\n1,1.5\n2,2.5\n")
    write(project / "job.py", API_JOB)
    run_script(project, "job.py")
    original = records(project)[0]
    _object_path(project, original["inputs"][0]["snapshot_id"]).unlink()
    before = len(records(project))

    failed = run_cli(project, "replay", str(original["id"]))

    assert failed.returncode == 2
    assert failed.stderr.startswith("runstate: error: input 'customers': its snapshot is missing")
    assert len(records(project)) == before


def test_a_sandbox_that_cannot_be_created_is_an_error(project: Path, tmp_path: Path) -> None:
    write(project / "job.py", "open('out.txt', 'w').write('x')\n")
    result = run_cli(project, "run", "--", sys.executable, "job.py")
    assert result.returncode == 0, result.stderr
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the sandbox parent should be")
    store = Store.open(project)
    with pytest.raises(ReplayError, match=r"cannot create the sandbox folder in .*not-a-folder"):
        replay(store, latest_id(project), ReplayOptions(sandbox_dir=str(blocked)))


def test_a_secret_param_that_was_never_stored_makes_the_run_not_replayable(
    project: Path,
) -> None:
    write(project / "job.py", "open('out.txt', 'w').write('x')\n")
    result = run_cli(project, "run", "--param", "api_token=abc123", "--", sys.executable, "job.py")
    assert result.returncode == 0, result.stderr
    verdict = run_cli(project, "replay", latest_id(project))
    assert verdict.returncode == 1
    assert "not_replayable" in verdict.stdout and "api_token" in verdict.stdout


REFERENCE_JOB = """\
import runstate

with runstate.run("score") as run:
    df = run.read_table("customers", "data/customers.csv", key="id", retention="reference")
    df["score"] = df["x"] * 2
    run.output("scores", df, key="id")
"""


def _git(project: Path, *args: str) -> None:
    import subprocess

    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=project,
        check=True,
        capture_output=True,
    )


def test_reference_input_is_fetched_from_git_verified_and_replayed(project: Path) -> None:
    write(project / "data" / "customers.csv", "id,x\n1,1.5\n2,2.5\n")
    write(project / "job.py", REFERENCE_JOB)
    _git(project, "init", "-q")
    _git(project, "add", "data/customers.csv", "job.py")
    _git(project, "commit", "-q", "-m", "data")
    run_script(project, "job.py")
    original = records(project)[0]
    entry = original["inputs"][0]
    assert entry["retention"] == "reference" and entry["snapshot_id"] is None
    write(project / "data" / "customers.csv", "id,x\n1,100.0\n")  # live data moves on

    verdict = run_cli(project, "replay", str(original["id"]), "--json")

    assert verdict.returncode == 0, verdict.stderr
    assert '"verdict": "identical"' in verdict.stdout
    assert "fetched from its external version and verified" in verdict.stdout

    # History rewritten: the blob is gone, and the replay says which input cannot be had.
    import shutil

    shutil.rmtree(project / ".git")
    _git(project, "init", "-q")
    before = len(records(project))
    gone = run_cli(project, "replay", str(original["id"]))
    assert gone.returncode == 2
    assert gone.stderr.startswith("runstate: error: input 'customers': git blob")
    assert len(records(project)) == before
