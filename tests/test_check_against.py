"""``runstate run --against RELEASE``: the run is checked as soon as it is recorded."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import runstate_cli
from runstate.store.integrity import collect_garbage
from runstate.store.store import Store
from schemas import validate

JOB = """\
import runstate

with runstate.run("score") as run:
    df = run.read_table("customers", "customers.csv", key="id")
    run.output("scores", df.assign(score=df["x"] * 2), key="id")
"""


def _customers(project: Path, rows: int, null_every: int = 0) -> None:
    lines = ["id,x"]
    for i in range(rows):
        missing = null_every and i % null_every == 0
        lines.append(f"{i},{'' if missing else i % 17}")
    (project / "customers.csv").write_text("\n".join(lines) + "\n")


def _run(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return runstate_cli("run", *args, cwd=project, timeout=300)


def test_run_against_a_release_checks_and_keeps_the_result(project: Path) -> None:
    (project / "job.py").write_text(JOB)
    _customers(project, 2000)
    assert _run(project, "--", sys.executable, "job.py").returncode == 0
    made = runstate_cli("release", "create", "scoring", "--run", "latest", cwd=project)
    assert made.returncode == 0, made.stderr

    same = _run(project, "--against", "scoring@v1", "--", sys.executable, "job.py")
    assert same.returncode == 0, same.stderr
    assert "PASSED check of run" in same.stderr

    _customers(project, 2000, null_every=4)  # a quarter of x goes missing: null-rate check
    worse = _run(project, "--against", "scoring@v1", "--", sys.executable, "job.py")
    assert worse.returncode == 1, worse.stderr
    assert "FAILED check of run" in worse.stderr and "null_rate" in worse.stderr

    shown = runstate_cli("show", "latest", "--json", cwd=project)
    document = json.loads(shown.stdout)
    validate(document)
    link = document["check"]
    assert link["passed"] is False and link["against"] == "scoring@v1"
    store = Store.open(project)
    try:
        check = store.load_json(link["check_id"])
        validate(check)
        assert check["run"]["id"] == document["record"]["id"] and check["passed"] is False
        collect_garbage(store)  # the attached result is a root: gc keeps it
        assert store.objects.has(link["check_id"])
    finally:
        store.close()


def test_the_commands_own_failure_wins_and_a_bad_release_runs_nothing(project: Path) -> None:
    (project / "job.py").write_text(JOB)
    _customers(project, 100)
    assert _run(project, "--", sys.executable, "job.py").returncode == 0
    assert (
        runstate_cli("release", "create", "scoring", "--run", "latest", cwd=project).returncode == 0
    )

    failing = _run(
        project, "--against", "scoring@v1", "--", sys.executable, "-c", "raise SystemExit(7)"
    )
    assert failing.returncode == 7, failing.stderr

    marker = project / "ran.txt"
    missing = _run(
        project, "--against", "nope@v1", "--", sys.executable, "-c",
        f"open({str(marker)!r}, 'w').write('x')",
    )  # fmt: skip
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines()[-1].startswith("runstate: error:")
    assert "nope@v1" in missing.stderr and not marker.exists()
