"""Replay restores the recorded code exactly — git commit + uncommitted diff + untracked
files — or refuses to run anything."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from replayhelp import component, latest_id, records, replay, run_cli, write
from runstate.errors import CodeRestoreError
from runstate.replay.code import materialise_code
from runstate.store.store import Store

JOB = """\
from helpers import bonus

BASE = 1
open("out/result.txt", "w").write(f"{BASE + bonus()}\\n")
"""


def _git(project: Path, *args: str) -> str:
    result = subprocess.run(["git", *args], cwd=project, capture_output=True, text=True, check=True)
    return result.stdout


@pytest.fixture
def repo(project: Path) -> Path:
    _git(project, "init", "-q")
    _git(project, "config", "user.email", "t@example.com")
    _git(project, "config", "user.name", "t")
    write(project / "job.py", JOB)
    write(project / "helpers.py", "def bonus():\n    return 10\n")
    write(project / "out" / ".keep", "")
    _git(project, "add", "job.py", "helpers.py", "out/.keep")
    _git(project, "commit", "-q", "-m", "init")
    return project


def _record_dirty_run(repo: Path) -> dict[str, object]:
    # Uncommitted change to a tracked file, and an untracked module the job imports.
    write(repo / "job.py", JOB.replace("BASE = 1", "BASE = 100"))
    write(repo / "helpers.py", "from extra import more\n\ndef bonus():\n    return 10 + more()\n")
    write(repo / "extra.py", "def more():\n    return 5\n")
    result = run_cli(repo, "run", "--", sys.executable, "job.py")
    assert result.returncode == 0, result.stderr
    assert (repo / "out" / "result.txt").read_text() == "115\n"
    return records(repo)[0]


def test_git_commit_plus_uncommitted_diff_and_untracked_files_are_restored_exactly(
    repo: Path,
) -> None:
    original = _record_dirty_run(repo)
    git = component(repo, original, "code")["git"]
    assert git["dirty"] and git["diff"] and "extra.py" in git["untracked"]
    # The working tree moves on: new commit, other edits, the untracked module deleted.
    _git(repo, "commit", "-q", "-am", "later")
    write(repo / "job.py", JOB.replace("BASE = 1", "BASE = -7"))
    (repo / "extra.py").unlink()

    verdict = replay(repo, str(original["id"]), code=0)

    assert verdict["verdict"] == "identical", verdict
    assert verdict["code"]["how"] == "git-worktree"
    replayed = records(repo)[0]
    replay_git = component(repo, replayed, "code")["git"]
    assert replay_git["commit"] == git["commit"]  # the same commit ...
    assert replay_git["diff"] == git["diff"]  # ... with byte-identical uncommitted changes
    assert component(repo, replayed, "code")["files"] == component(repo, original, "code")["files"]
    # The sandbox worktree is gone again, and the user's tree is as they left it.
    assert len(_git(repo, "worktree", "list").splitlines()) == 1
    assert "BASE = -7" in (repo / "job.py").read_text()
    assert not (repo / "extra.py").exists()


def test_keep_leaves_the_sandbox_for_inspection(repo: Path) -> None:
    original = _record_dirty_run(repo)
    verdict = replay(repo, str(original["id"]), "--keep", code=0)
    sandbox = Path(verdict["sandbox"])
    try:
        assert (sandbox / "src" / "out" / "result.txt").read_text() == "115\n"
        assert "BASE = 100" in (sandbox / "src" / "job.py").read_text()
    finally:
        _git(repo, "worktree", "remove", "--force", str(sandbox / "src"))
        shutil.rmtree(sandbox, ignore_errors=True)


def test_a_corrupted_diff_stops_the_replay_before_anything_runs(repo: Path) -> None:
    original = _record_dirty_run(repo)
    diff_id = component(repo, original, "code")["git"]["diff"]
    store = Store.open(repo)
    object_path = Path(store.objects.path(diff_id))  # type: ignore[attr-defined]
    object_path.chmod(0o644)
    object_path.write_bytes(
        b"diff --git a/job.py b/job.py\n--- a/job.py\n+++ b/job.py\n"
        b"@@ -1,1 +1,1 @@\n-this line is not in job.py\n+x = 1\n"
    )
    before = len(records(repo))

    result = run_cli(repo, "replay", str(original["id"]))

    assert result.returncode == 2
    assert "does not apply" in result.stderr and result.stderr.count("\n") == 1
    assert len(records(repo)) == before  # nothing ran, nothing recorded
    assert len(_git(repo, "worktree", "list").splitlines()) == 1  # no sandbox left behind


def test_commit_gone_and_no_stored_sources_is_an_error(repo: Path, tmp_path: Path) -> None:
    store = Store.open(repo)
    code = {
        "git": {"commit": "ab" * 20, "diff": None, "dirty": False, "untracked": {}, "prefix": ""},
        "files": {},
        "entry": None,
    }
    with pytest.raises(CodeRestoreError, match=r"commit abababababab is not in .*no sources"):
        materialise_code(store.objects, code, repo, tmp_path / "sandbox")
    assert not (tmp_path / "sandbox").exists()


def test_commit_gone_falls_back_to_the_stored_sources(repo: Path) -> None:
    original = _record_dirty_run(repo)
    # History rewritten: the recorded commit is no longer in the repository.
    subprocess.run(["rm", "-rf", str(repo / ".git")], check=True)
    _git(repo, "init", "-q")
    verdict = replay(repo, latest_id(repo), code=0)
    assert verdict["verdict"] == "identical"
    assert verdict["code"]["how"] == "stored-files"
    assert any("is not in" in note for note in verdict["code"]["notes"])
    assert original["id"] == verdict["run_id"]
