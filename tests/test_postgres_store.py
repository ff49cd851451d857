"""A whole store with its metadata in a real PostgreSQL server, driven through the CLI."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from conftest import runstate_cli

pytestmark = pytest.mark.postgres


def test_capture_release_and_verify_on_postgresql(postgres, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url = postgres.new_database()
    project = tmp_path / "pg-project"
    project.mkdir()
    init = runstate_cli("init", "--metadata-url", url, "--json", cwd=project)
    assert init.returncode == 0, init.stderr
    assert json.loads(init.stdout)["metadata_url"] == url
    assert not (project / ".runstate" / "runstate.db").exists()
    (project / "in.csv").write_text("id,x\n1,2\n")
    (project / "job.py").write_text("open('out.csv', 'w').write(open('in.csv').read())\n")
    for threshold in ("0.5", "0.6"):
        run = runstate_cli(
            "run", "--param", f"threshold={threshold}", "--", sys.executable, "job.py", cwd=project
        )
        assert run.returncode == 0, run.stderr
        # A shared database is updated at commit time: nothing waits in the journal.
        assert list((project / ".runstate" / "journal").iterdir()) == []
    runs = json.loads(runstate_cli("runs", "--json", cwd=project).stdout)["runs"]
    assert len(runs) == 2 and runs[0]["state_id"] != runs[1]["state_id"]
    release = runstate_cli(
        "release", "create", "scoring", "--run", runs[1]["id"][:13], "--json", cwd=project
    )
    assert release.returncode == 0, release.stderr
    assert json.loads(release.stdout)["ref"] == "scoring@v1"
    shown = json.loads(runstate_cli("show", "scoring@v1", "--json", cwd=project).stdout)
    assert shown["components"]["config"]["body"]["params"] == {"threshold": 0.5}
    verify = runstate_cli("verify", "--json", cwd=project)
    assert verify.returncode == 0 and json.loads(verify.stdout)["runs_checked"] == 2


def test_credentials_never_reach_the_store_config(tmp_path: Path) -> None:
    result = runstate_cli(
        "init", "--metadata-url", "postgresql://u:hunter2@db.invalid/x", cwd=tmp_path
    )
    assert result.returncode == 2 and "never stores secrets" in result.stderr
    assert "hunter2" not in result.stderr
    assert not (tmp_path / ".runstate" / "config.json").exists()
