"""``runstate demo``: the whole story as a real subprocess, then checks in the folder it built."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("numpy")
pytest.importorskip("sklearn")


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The real CLI (``python -m runstate.cli.main``), without the caller's RUNSTATE_* settings."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("RUNSTATE_")}
    return subprocess.run(
        [sys.executable, "-m", "runstate.cli.main", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Run the demo once for this module; returns its JSON document."""
    base = tmp_path_factory.mktemp("demo-base")
    done = cli("demo", "--json", "--dir", str(base / "demo"), cwd=base)
    assert done.returncode == 0, done.stderr
    document: dict[str, Any] = json.loads(done.stdout)
    return document


def test_demo_records_train_and_two_scoring_runs(demo: dict[str, Any]) -> None:
    from schemas import validate

    validate(demo)
    assert demo["schema"] == "runstate.demo/v1"
    assert [run["name"] for run in demo["runs"]] == ["train", "score", "score"]
    assert all(run["status"] == "succeeded" for run in demo["runs"])
    project = Path(demo["project"])
    assert Path(demo["store"]) == project / ".runstate"
    for name in ("data/customers.csv", "models/model.pkl", "out/predictions.csv"):
        assert (project / name).is_file(), name


def test_demo_creates_release_from_first_scoring_run(demo: dict[str, Any]) -> None:
    assert demo["release"] == "scoring@v1"
    done = cli("release", "list", "--json", cwd=Path(demo["project"]))
    assert done.returncode == 0, done.stderr
    releases = {r["ref"]: r for r in json.loads(done.stdout)["releases"]}
    assert set(releases) == {"scoring@v1"}
    baseline = demo["runs"][1]
    assert releases["scoring@v1"]["run_id"] == baseline["id"]
    assert releases["scoring@v1"]["state_id"] == baseline["state_id"]


def test_scoring_runs_differ_in_code_config_and_policy(demo: dict[str, Any]) -> None:
    before, after = demo["runs"][1], demo["runs"][2]
    assert before["state_id"] != after["state_id"]
    changed = demo["changed_components"]
    assert "code" in changed and "config" in changed and "policy" in changed
    # Same model; the customers the run saw differ only by what policy v2 excludes.
    assert "model:model" not in changed and "seeds" not in changed
    assert set(changed) == {"code", "config", "policy", "data:customers"}
    assert changed == sorted(
        name
        for name in before["components"]
        if before["components"][name] != after["components"].get(name)
    )


def test_scoring_runs_have_the_same_env(demo: dict[str, Any]) -> None:
    """Nothing about packages or the interpreter changed between the two scoring runs."""
    assert "env" not in demo["changed_components"], demo["changes"].get("env")


def test_the_change_reached_the_runs(demo: dict[str, Any]) -> None:
    project = Path(demo["project"])
    shown = cli("show", demo["runs"][2]["id"], "--json", cwd=project)
    assert shown.returncode == 0, shown.stderr
    document = json.loads(shown.stdout)
    assert document["components"]["config"]["body"]["params"] == {"threshold": 0.6}
    assert "AGE_MIN, AGE_MAX = 18, 65" in (project / "preprocess.py").read_text()
    before, after = demo["metrics"]["before"], demo["metrics"]["after"]
    assert set(before) == set(after) == {"approval_rate", "mean_score"}
    assert after["approval_rate"] > before["approval_rate"]  # a higher threshold approves more


def test_store_verifies(demo: dict[str, Any]) -> None:
    done = cli("verify", cwd=Path(demo["project"]))
    assert done.returncode == 0, done.stdout + done.stderr


def test_dir_must_be_new_or_empty(tmp_path: Path) -> None:
    folder = tmp_path / "taken"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine\n")
    done = cli("demo", "--dir", str(folder), cwd=tmp_path)
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "not empty" in lines[0], done.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]


def test_missing_demo_extra_names_the_install_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from runstate.cli.main import main
    from runstate.demo import driver

    monkeypatch.setattr(
        driver, "_REQUIRED", {"numpy": "numpy", "runstate_no_such_module": "scikit-learn"}
    )
    with pytest.raises(SystemExit) as exited:
        main(["demo", "--dir", str(tmp_path / "demo")])
    assert exited.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "pip install 'runstate[demo]'" in lines[0]
    assert not (tmp_path / "demo").exists()


def test_text_summary(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from runstate.cli.cmd_demo import _render
    from runstate.demo.driver import DemoResult, DemoRun

    def run(
        run_id: str, name: str, state: str, components: dict[str, str], **metrics: float
    ) -> DemoRun:
        return DemoRun(run_id, name, "succeeded", state, components, dict(metrics))

    same = {"env": "e" * 64, "data:customers": "d" * 64}
    result = DemoResult(
        project=tmp_path,
        store=tmp_path / ".runstate",
        git_commit="c" * 40,
        runs=[
            run("01a2-0001", "train", "a" * 64, same, test_auc=0.74),
            run("01a2-0002", "score", "b" * 64, {**same, "code": "1" * 64}, approval_rate=0.79),
            run("01a2-0003", "score", "f" * 64, {**same, "code": "2" * 64}, approval_rate=0.89),
        ],
        release="scoring@v1",
        changed_components=["code"],
        changes={"code": ["files.preprocess.py changed"]},
        edits=["param threshold: 0.5 → 0.6"],
    )
    _render(result)
    text = capsys.readouterr().out
    assert "released as scoring@v1" in text
    assert "files.preprocess.py changed" in text
    assert "0.7900 → 0.8900" in text
    assert f"cd {tmp_path} && runstate runs" in text
    assert "runstate show latest" in text and "runstate release list" in text


def test_a_failed_step_keeps_its_output(tmp_path: Path) -> None:
    from runstate.demo.driver import DemoStepFailed, _execute

    failing = [sys.executable, "-c", "import sys; print('boom', file=sys.stderr); sys.exit(3)"]
    with pytest.raises(DemoStepFailed) as failed:
        _execute("python job.py", failing, tmp_path)
    assert failed.value.exit_code == 1
    assert "python job.py failed (exit 3)" in str(failed.value)
    assert failed.value.output == "boom"


def test_demo_writes_the_html_report_of_its_diff(
    demo: dict[str, Any], browser_page: Any, tmp_path: Path
) -> None:
    report = Path(demo["report"])
    assert report.parent == Path(demo["project"]) and report.is_file()
    browser_page.open(report)
    page = browser_page.page
    assert "Differs." in page.locator("#verdict").inner_text()
    code = page.locator("details.section", has=page.locator(".name", has_text="code"))
    code.locator("summary").click()
    assert "AGE_MIN, AGE_MAX = 18, 65" in code.locator(".ln.add").first.inner_text()
    browser_page.assert_clean()


def test_final_screen_is_the_diff(demo: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    """With the diff document, the text ends on `runstate diff` and the report's path."""
    from runstate.cli.cmd_demo import _render
    from runstate.demo.driver import DemoResult, DemoRun

    project = Path(demo["project"])
    done = cli("diff", "scoring@v1", demo["runs"][2]["id"], "--json", cwd=project)
    assert done.returncode == 1, done.stderr
    runs = [
        DemoRun(r["id"], r["name"], r["status"], r["state_id"], r["components"], r["metrics"])
        for r in demo["runs"]
    ]
    result = DemoResult(
        project=project,
        store=Path(demo["store"]),
        git_commit=demo["git_commit"],
        runs=runs,
        release=demo["release"],
        changed_components=demo["changed_components"],
        changes=demo["changes"],
        edits=demo["edits"],
        diff=json.loads(done.stdout),
        report=Path(demo["report"]),
    )
    _render(result)
    text = capsys.readouterr().out
    screen = text[text.index("runstate diff scoring@v1 latest ─") :]
    assert text.index("Next steps") < text.index("runstate diff scoring@v1 latest ─")
    assert "threshold: 0.5 → 0.6" in screen
    assert "policy v1 → policy v2" in screen and "region <> 'west'" in screen
    assert "preprocess.py" in screen and "output:predictions" in screen
    tail = "".join(screen.split()[-14:])  # the last lines, whatever the terminal width
    assert f"HTMLreport:{demo['report']}" in tail


def test_demo_ends_with_the_explanation_of_the_change(demo: dict[str, Any]) -> None:
    explained = demo["explain"]
    assert explained["status"] == "explained", explained
    # one line of preprocess.py, the threshold param and the access policy changed: all
    # three changed predictions (policy v2 removed the west region's customers)
    causes = {c["name"] for c in explained["causes"]}
    assert causes == {"code:preprocess.py", "config:threshold", "policy"}, explained
    assert abs(sum(c["share"] for c in explained["causes"]) - 1.0) < 1e-6
    assert explained["harmless"] == []
    project = Path(demo["project"])
    done = cli("explain", "scoring@v1", demo["runs"][2]["id"], "--json", cwd=project)
    assert done.returncode in (0, 1), done.stderr
    document = json.loads(done.stdout)
    (policy,) = [c for c in document["causes"] if c["name"] == "policy"]
    assert "rule for dataset `customers` now filters" in policy["statement"]
    assert "region <> 'west'" in policy["statement"] and "of rows)" in policy["statement"]


def test_demo_replays_its_release(demo: dict[str, Any]) -> None:
    replayed = demo["replay"]
    assert replayed["verdict"] == "identical", replayed
    project = Path(demo["project"])
    shown = cli("show", replayed["replay_run_id"], "--json", cwd=project)
    assert shown.returncode == 0, shown.stderr
    record = json.loads(shown.stdout)["record"]
    assert record["parent_id"] == demo["runs"][1]["id"]  # the replay of the released run
    assert record["outputs"] and {o["name"] for o in record["outputs"]} >= {"predictions"}
