"""Replaying real recorded runs: identical, equivalent, diverged, failed, not replayable."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from replayhelp import component, latest_id, records, replay, run_cli, run_script, write
from schemas import validate

API_JOB = """\
import runstate

with runstate.run("score", params={"factor": 2}, seed=3) as run:
    df = run.read_table("customers", "data/customers.csv", key="id")
    df["score"] = df["x"] * run.params["factor"]
    run.output("scores", df, key="id")
    run.metric("total", float(df["score"].sum()))
"""

CUSTOMERS = "id,x\n1,1.5\n2,2.5\n3,4.0\n"


def test_api_run_replays_identical_from_its_snapshot_after_the_live_input_changed(
    project: Path,
) -> None:
    write(project / "data" / "customers.csv", CUSTOMERS)
    write(project / "job.py", API_JOB)
    run_script(project, "job.py")
    original = records(project)[0]
    # The live input and the code's default params change after the run was recorded.
    write(project / "data" / "customers.csv", "id,x\n1,100.0\n9,9.0\n")
    write(project / "job.py", API_JOB.replace('"factor": 2', '"factor": 5'))

    verdict = replay(project, original["id"], code=0)

    assert verdict["verdict"] == "identical", verdict
    assert verdict["run_id"] == original["id"]
    assert [(o["name"], o["status"]) for o in verdict["outputs"]] == [("scores", "identical")]
    assert [(m["key"], m["status"]) for m in verdict["metrics"]] == [("total", "identical")]
    assert verdict["code"]["how"] == "stored-files"  # no git here: the stored sources ran
    replayed = records(project)[0]
    assert replayed["id"] == verdict["replay_run_id"]
    assert replayed["parent_id"] == original["id"]  # the replay is a run, child of the original
    inputs = {i["name"]: i for i in replayed["inputs"]}
    assert inputs["customers"]["fingerprint"] == original["inputs"][0]["fingerprint"]
    assert component(project, replayed, "config")["params"] == {"factor": 2}
    assert component(project, replayed, "seeds")["seed"] == 3
    assert (
        replayed["state"]["components"]["data:customers"]
        == (original["state"]["components"]["data:customers"])
    )
    # The original is untouched.
    assert records(project)[1]["id"] == original["id"]


ZERO_CODE_JOB = """\
import csv
rows = list(csv.DictReader(open("data/customers.csv")))
with open("out/scored.csv", "w") as handle:
    handle.write("id,y\\n")
    for row in rows:
        handle.write(f"{row['id']},{float(row['x']) * 3}\\n")
open("out/summary.txt", "w").write(f"{len(rows)} rows\\n")
"""


def test_zero_code_run_replays_identical_with_its_files_laid_out(project: Path) -> None:
    write(project / "data" / "customers.csv", CUSTOMERS)
    write(project / "job.py", ZERO_CODE_JOB)
    (project / "out").mkdir()
    result = run_cli(project, "run", "--seed", "5", "--", sys.executable, "job.py")
    assert result.returncode == 0, result.stderr
    original = records(project)[0]
    assert {i["name"] for i in original["inputs"]} == {"data/customers.csv"}
    write(project / "data" / "customers.csv", "id,x\n1,7.0\n")  # the live input changes
    (project / "data" / "customers.csv").touch()

    verdict = replay(project, original["id"], code=0)

    assert verdict["verdict"] == "identical", verdict
    assert {o["name"]: o["status"] for o in verdict["outputs"]} == {
        "out/scored.csv": "identical",
        "out/summary.txt": "identical",
    }
    replayed = records(project)[0]
    assert replayed["parent_id"] == original["id"] and replayed["kind"] == "command"
    assert component(project, replayed, "seeds")["seed"] == 5
    assert component(project, replayed, "seeds")["pythonhashseed"] == "5"
    # The live files were neither read nor overwritten by the replay.
    assert (project / "data" / "customers.csv").read_text() == "id,x\n1,7.0\n"
    assert (project / "out" / "summary.txt").read_text() == "3 rows\n"


NONDETERMINISTIC_JOB = """\
import random, time
import runstate

with runstate.run("noisy") as run:
    df = run.read_table("customers", "data/customers.csv", key="id")
    df["score"] = [random.random() for _ in range(len(df))]   # unseeded
    run.output("scores", df, key="id")
    run.metric("started", time.time())
"""


def test_unseeded_job_diverges_and_says_which_cells_and_metrics(project: Path) -> None:
    write(project / "data" / "customers.csv", CUSTOMERS)
    write(project / "job.py", NONDETERMINISTIC_JOB)
    run_script(project, "job.py")

    verdict = replay(project, latest_id(project), code=1)

    assert verdict["verdict"] == "diverged"
    scores = verdict["outputs"][0]
    assert scores["name"] == "scores" and scores["status"] == "diverged"
    rows = scores["diff"]["rows"]
    assert (rows["added"], rows["removed"], rows["changed"]) == (0, 0, 3)
    assert scores["diff"]["changed_columns"] == {"score": 3}
    assert {c["key"]["id"] for c in scores["diff"]["cells"]} == {1, 2, 3}
    metric = verdict["metrics"][0]
    assert metric["key"] == "started" and metric["status"] == "diverged"
    assert "scores" in verdict["reason"] and "metric started" in verdict["reason"]


FLOAT_NOISE_JOB = """\
import random
import runstate

with runstate.run("noise") as run:
    df = run.read_table("customers", "data/customers.csv", key="id")
    df["score"] = [x * (1 + random.uniform(-1e-12, 1e-12)) for x in df["x"]]
    run.output("scores", df, key="id")
    run.metric("total", float(df["score"].sum()) * (1 + random.uniform(-1e-12, 1e-12)))
"""


def test_float_noise_is_equivalent_within_tolerance_and_diverged_without(project: Path) -> None:
    write(project / "data" / "customers.csv", CUSTOMERS)
    write(project / "job.py", FLOAT_NOISE_JOB)
    run_script(project, "job.py")
    run_id = latest_id(project)

    strict = replay(project, run_id, code=1)
    assert strict["verdict"] == "diverged"

    tolerant = replay(project, run_id, "--tolerance", "1e-9", code=0)
    assert tolerant["verdict"] == "equivalent", tolerant
    scores = tolerant["outputs"][0]
    assert scores["status"] == "equivalent"
    assert 0 < scores["max_rel_diff"]["score"] <= 1e-9
    assert tolerant["metrics"][0]["status"] == "equivalent"
    assert tolerant["metrics"][0]["max_rel_diff"] <= 1e-9
    # Too tight a tolerance is still a divergence.
    assert replay(project, run_id, "--tolerance", "1e-20")["verdict"] == "diverged"


def test_a_replay_whose_command_fails_is_failed_with_exit_code_and_stderr(
    project: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside" / "lookup.txt"  # not under the project: not recorded
    write(outside, "42\n")
    write(
        project / "job.py",
        f"import sys\nvalue = open({str(outside)!r}).read()\nopen('out.txt', 'w').write(value)\n",
    )
    result = run_cli(project, "run", "--", sys.executable, "job.py")
    assert result.returncode == 0, result.stderr
    outside.unlink()

    verdict = replay(project, latest_id(project), code=1)

    assert verdict["verdict"] == "failed"
    assert verdict["exit_code"] == 1
    assert "FileNotFoundError" in verdict["stderr_tail"] and "lookup.txt" in verdict["stderr_tail"]
    assert records(project)[0]["status"] == "failed"  # the failed replay is recorded too


def test_fingerprint_only_input_is_not_replayable_and_nothing_runs(project: Path) -> None:
    write(project / "data" / "customers.csv", CUSTOMERS)
    write(project / "job.py", ZERO_CODE_JOB)
    (project / "out").mkdir()
    result = run_cli(project, "run", "--retention", "fingerprint", "--", sys.executable, "job.py")
    assert result.returncode == 0, result.stderr
    before = len(records(project))

    verdict = replay(project, latest_id(project), code=1)

    assert verdict["verdict"] == "not_replayable"
    assert verdict["replay_run_id"] is None
    assert "data/customers.csv" in verdict["reason"] and "fingerprint" in verdict["reason"]
    assert verdict["unreplayable"] == [{"input": "data/customers.csv", "reason": verdict["reason"]}]
    assert len(records(project)) == before
    text = run_cli(project, "replay", "latest")
    assert text.returncode == 1 and "not_replayable" in text.stdout


def test_unknown_run_and_bad_options_exit_2(project: Path) -> None:
    missing = run_cli(project, "replay", "0000dead")
    assert missing.returncode == 2 and missing.stderr.startswith("runstate: error:")
    bad = run_cli(project, "replay", "latest", "--tolerance", "-1")
    assert bad.returncode == 2


UNSEEDED_ZERO_CODE_JOB = """\
import random
import time

started = time.time()
values = {f"k{i}" for i in range(20)}
with open("out.txt", "w") as handle:
    handle.write(f"{random.random()} {','.join(values)}\\n")
"""


def test_twice_detects_a_nondeterministic_run_and_names_likely_sources(project: Path) -> None:
    write(project / "job.py", UNSEEDED_ZERO_CODE_JOB)
    result = run_cli(project, "run", "--", sys.executable, "job.py")
    assert result.returncode == 0, result.stderr
    run_id = latest_id(project)
    before = len(records(project))

    verdict = replay(project, run_id, "--twice", code=1)

    assert verdict["verdict"] == "diverged" and verdict["reason"].startswith("nondeterministic")
    determinism = verdict["determinism"]
    assert determinism["deterministic"] is False
    assert determinism["differences"] == ["out.txt"]
    assert len(records(project)) == before + 2  # both replays are recorded runs
    sources = "\n".join(determinism["likely_sources"])
    assert "no seed was set" in sources
    assert "PYTHONHASHSEED was unset" in sources
    assert "job.py:4 time.time() reads the clock" in sources


def test_twice_on_a_deterministic_run_says_so(project: Path) -> None:
    write(project / "data" / "customers.csv", CUSTOMERS)
    write(project / "job.py", ZERO_CODE_JOB)
    (project / "out").mkdir()
    result = run_cli(project, "run", "--seed", "1", "--", sys.executable, "job.py")
    assert result.returncode == 0, result.stderr

    verdict = replay(project, latest_id(project), "--check-determinism", code=0)

    assert verdict["verdict"] == "identical"
    assert verdict["determinism"]["deterministic"] is True
    assert verdict["determinism"]["likely_sources"] == []


def test_release_create_verify_replay_refuses_a_run_that_does_not_reproduce(
    project: Path,
) -> None:
    write(project / "data" / "customers.csv", CUSTOMERS)
    write(project / "job.py", FLOAT_NOISE_JOB)
    run_script(project, "job.py")
    run_id = latest_id(project)

    refused = run_cli(project, "release", "create", "noise", "--run", run_id, "--verify-replay")
    assert refused.returncode == 1, refused.stderr
    assert "replayed as diverged" in refused.stderr and "no release created" in refused.stderr
    assert "runstate: error:" in refused.stderr.splitlines()[-1]
    listed = run_cli(project, "release", "list", "--json")
    assert json.loads(listed.stdout)["releases"] == []

    made = run_cli(
        project, "release", "create", "noise", "--run", run_id,
        "--verify-replay", "--tolerance", "1e-9", "--json",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    release = json.loads(made.stdout)
    validate(release)
    assert release["name"] == "noise" and release["version"] == 1 and release["run_id"] == run_id
