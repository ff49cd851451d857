"""``runstate diff`` end to end: runs recorded by ``runstate run --`` subprocesses in a git repo."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import runstate_cli
from schemas import validate

JOB = """\
import csv
import os


def score(income, threshold):
    return income / 4000 >= threshold


threshold = float(os.environ.get("RUNSTATE_PARAM_THRESHOLD", "0.5"))
with open("customers.csv") as src, open("predictions.csv", "w") as out:
    out.write("id,approved\\n")
    for row in csv.DictReader(src):
        out.write(f"{row['id']},{score(int(row['income']), threshold)}\\n")
"""

CUSTOMERS = "id,income\n" + "".join(f"{i},{1000 + 100 * i}\n" for i in range(1, 31))


def _git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args],
        cwd=root,
        check=True,
        capture_output=True,
    )


def _run(root: Path, *args: str, env: dict[str, str] | None = None) -> str:
    result = runstate_cli(
        "run", "--json", "--name", "score", "--input", "customers.csv",
        "--output", "predictions.csv", *args, "--", sys.executable, "job.py",
        cwd=root, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return str(json.loads(result.stdout)["run_id"])


def _diff(root: Path, *args: str, expect: int) -> subprocess.CompletedProcess[str]:
    result = runstate_cli("diff", *args, cwd=root)
    assert result.returncode == expect, (result.stdout, result.stderr)
    return result


def _diff_json(root: Path, *args: str, expect: int) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(_diff(root, *args, "--json", expect=expect).stdout)
    validate(document)
    return document


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Four runs: base, same again, code+data edited, and env var + param changed."""
    root = tmp_path_factory.mktemp("diff-cli")
    (root / "job.py").write_text(JOB)
    (root / "customers.csv").write_text(CUSTOMERS)
    (root / ".gitignore").write_text(".runstate/\npredictions.csv\n")
    _git(root, "init", "-q", ".")
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "base")
    assert runstate_cli("init", cwd=root).returncode == 0
    runs = {"base": _run(root), "same": _run(root)}
    (root / "job.py").write_text(JOB.replace("income / 4000", "income / 3000"))
    (root / "customers.csv").write_text(CUSTOMERS.replace("7,1700", "7,1750"))
    runs["edited"] = _run(root)
    secret = {"OMP_NUM_THREADS": "3", "PYTHON_API_TOKEN": "s3cr3t-diff-value"}
    runs["env"] = _run(root, "--param", "threshold=0.6", env=secret)
    return {"root": root, "runs": runs}


def test_identical_runs_exit_0(repo: dict[str, Any]) -> None:
    root, runs = repo["root"], repo["runs"]
    document = _diff_json(root, runs["base"], runs["same"], expect=0)
    assert document["identical"] is True and document["summary"]["changed"] == 0
    text = _diff(root, runs["base"], runs["same"], expect=0).stdout
    assert text.splitlines()[0].startswith("identical")
    shown_all = _diff(root, runs["base"], runs["same"], "--all", expect=0).stdout
    assert "config: unchanged" in shown_all and "config: unchanged" not in text


def test_code_and_data_change(repo: dict[str, Any]) -> None:
    root, runs = repo["root"], repo["runs"]
    document = _diff_json(root, runs["same"], runs["edited"], expect=1)
    code = document["components"]["code"]
    assert code["changed"] and code["symbols"] == ["job.py:score"]
    (job,) = [f for f in code["files"] if f["path"] == "job.py"]
    assert "-    return income / 4000 >= threshold" in job["diff"]
    assert "+    return income / 3000 >= threshold" in job["diff"]
    dirty = {c["key"]: c for c in code["git"]}["dirty"]
    assert (dirty["old"], dirty["new"]) == (False, True)
    data = document["components"]["data:customers.csv"]
    assert data["entry_kind"] == "table" and data["changed"]
    assert data["rows"]["key"] is None  # no key declared: rows are a multiset
    assert (data["rows"]["added"], data["rows"]["removed"]) == (1, 1)
    output = document["components"]["output:predictions.csv"]
    assert output["changed"] and output["status"] == "changed"
    assert document["components"]["config"]["changed"] is False
    text = _diff(root, runs["same"], runs["edited"], expect=1).stdout
    lines = text.splitlines()
    assert lines[0].startswith("3 of") and "code" in lines[0]
    assert "M job.py" in text and "+    return income / 3000 >= threshold" in text


def test_env_var_and_param_change(repo: dict[str, Any]) -> None:
    root, runs = repo["root"], repo["runs"]
    document = _diff_json(root, runs["edited"], runs["env"], expect=1)
    env = document["components"]["env"]
    threads = {c["key"]: c for c in env["settings"]["threads"]}
    assert threads["OMP_NUM_THREADS"]["new"] == "3"
    env_vars = {c["key"]: c for c in env["settings"]["env_vars"]}
    assert env_vars["PYTHON_API_TOKEN"]["new"] == "<redacted>"  # redacted stays redacted
    assert document["components"]["config"]["params"] == [
        {"key": "threshold", "change": "added", "old": None, "new": 0.6}
    ]
    assert document["components"]["code"]["changed"] is False
    text = _diff(root, runs["edited"], runs["env"], expect=1).stdout
    assert "OMP_NUM_THREADS" in text and "threshold" in text
    assert "s3cr3t-diff-value" not in text + json.dumps(document)


def test_single_argument_compares_with_the_previous_run(repo: dict[str, Any]) -> None:
    root, runs = repo["root"], repo["runs"]
    document = _diff_json(root, "latest", "--name", "score", expect=1)
    assert document["a"]["id"] == runs["edited"] and document["b"]["id"] == runs["env"]
    document = _diff_json(root, "latest~3", "latest~2", expect=0)
    assert (document["a"]["id"], document["b"]["id"]) == (runs["base"], runs["same"])


def test_bad_references_exit_2_with_one_line(repo: dict[str, Any]) -> None:
    root, runs = repo["root"], repo["runs"]
    for args in (("nope", runs["base"]), (runs["base"], "scoring@v9"), ("latest~99", "latest")):
        result = _diff(root, *args, expect=2)
        assert result.stdout == "" and len(result.stderr.strip().splitlines()) == 1
        assert result.stderr.startswith("runstate: error: ")
    ids = list(runs.values())
    prefix = ids[0][:8]
    if sum(i.startswith(prefix) for i in ids) > 1:  # runs a second apart share a time prefix
        result = _diff(root, prefix, ids[1], expect=2)
        assert "matches several runs" in result.stderr and ids[0][:13] in result.stderr
    assert "--limit" in _diff(root, ids[0], ids[1], "--limit", "0", expect=2).stderr


def test_html_report(repo: dict[str, Any], tmp_path: Path) -> None:
    root, runs = repo["root"], repo["runs"]
    target = tmp_path / "diff.html"
    code = (
        "import sys\n"
        "sys.modules['runstate.report.html'] = None\n"  # a build without the renderer
        "from runstate.cli.main import main\n"
        f"main(['diff', {runs['base']!r}, {runs['edited']!r}, '--html', {str(target)!r}])\n"
    )
    missing = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120
    )
    assert missing.returncode == 2 and "no HTML renderer" in missing.stderr
    assert not target.exists()
    try:
        from runstate.report.html import render_diff  # noqa: F401
    except ImportError:
        return
    result = _diff(root, runs["base"], runs["edited"], "--html", str(target), expect=1)
    assert f"wrote the HTML report to {target}" in result.stdout
    assert target.read_text("utf-8").lstrip().lower().startswith("<!doctype html")
