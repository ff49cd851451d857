"""Cost of ``runstate explain``: wall time against the pipeline's own runtime; replays.

The pipeline (a scoring job: ``run.read_table`` of a 100 k-row keyed customers table and a
small VIP table, a preprocessing function from ``prep.py``, an age filter and a threshold
from params, a keyed predictions output and a metric) is recorded as run A, then five
things change and it is recorded as run B:

1. ``data:customers`` — 2% of the rows excluded upstream (matters);
2. ``config:threshold`` — 100 -> 120 (matters);
3. ``config:label`` — a label param (harmless);
4. ``code:prep.py`` — a comment added (harmless);
5. ``seeds`` — 7 -> 8, nothing random (harmless).

Measured in the same benchmark run:

* ``pipeline`` — ``python score.py`` (the run as a user runs it), median of ``--repeat``;
* ``explain`` — ``runstate explain A B --json`` with an empty hybrid cache: its wall time,
  the replays it ran, and that no hybrid state id occurs twice; then the same explain
  again (everything cached: zero replays).

Target (issue 6): explain <= 12x the pipeline's runtime. Usage:
``python bench/explain.py [--rows 100000] [--repeat 3]``; writes ``bench/results/explain.json``.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

import benchlib

SCORE = """\
import runstate
from prep import clean

PARAMS = {"threshold": 100, "min_age": 18, "label": "v1"}

with runstate.run("scoring", params=PARAMS, seed=7) as run:
    df = run.read_table("customers", "data/customers.csv", key="customer_id")
    df = clean(df)
    df = df[df["age"] >= run.params["min_age"]]
    df["approved"] = df["income_k"] >= run.params["threshold"]
    run.output("predictions", df[["customer_id", "income_k", "approved"]], key="customer_id")
    run.metric("approval_rate", float(df["approved"].mean()))
"""

PREP = """\
def clean(df):
    df = df.copy()
    df["income_k"] = df["income"] / 1000
    return df
"""


def _write_customers(path: Path, rows: int, drop: bool) -> None:
    r = random.Random(1)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        handle.write("customer_id,age,income,region\n")
        for i in range(rows):
            age, income, region = r.randint(18, 80), r.randint(10, 200) * 1000, r.randrange(3)
            if drop and i % 50 == 0:
                continue
            handle.write(f"{i},{age},{income},{region}\n")


def _run(argv: list[str], cwd: Path) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=benchlib.child_env(), capture_output=True, text=True)
    elapsed = (time.perf_counter() - started) * 1000
    if done.returncode not in (0, 1):
        raise SystemExit(f"{argv[:3]} failed ({done.returncode}): {done.stderr[-2000:]}")
    return elapsed, done


def measure(rows: int, repeat: int) -> dict[str, Any]:
    project = benchlib.make_project(git=True)
    python = str(benchlib.VENV_PYTHON)
    runstate = str(benchlib.VENV_BIN / "runstate")
    try:
        _write_customers(project / "data" / "customers.csv", rows, drop=False)
        (project / "prep.py").write_text(PREP)
        (project / "score.py").write_text(SCORE)
        pipeline = [_run([python, "score.py"], project)[0] for _ in range(repeat)]
        ids = json.loads(_run([runstate, "runs", "--json"], project)[1].stdout)["runs"]
        run_a = ids[0]["id"]
        _write_customers(project / "data" / "customers.csv", rows, drop=True)
        (project / "prep.py").write_text("# reviewed\n" + PREP)
        score = SCORE.replace('"threshold": 100', '"threshold": 120')
        score = score.replace('"label": "v1"', '"label": "v2"').replace("seed=7", "seed=8")
        (project / "score.py").write_text(score)
        _run([python, "score.py"], project)
        run_b = json.loads(_run([runstate, "runs", "--json"], project)[1].stdout)["runs"][0]["id"]

        cold_ms, done = _run([runstate, "explain", run_a, run_b, "--json"], project)
        doc = json.loads(done.stdout)
        warm_ms, done = _run([runstate, "explain", run_a, run_b, "--json"], project)
        again = json.loads(done.stdout)
        state_ids = [h["state_id"] for h in doc["search"]["hybrids"]]
        pipeline_ms = statistics.median(pipeline)
        return {
            "rows": rows,
            "factors": [f["name"] for f in doc["factors"]],
            "pipeline_ms": benchlib.summarise(pipeline),
            "explain_ms": cold_ms,
            "explain_cached_ms": warm_ms,
            "ratio": cold_ms / pipeline_ms,
            "target_ratio": 12.0,
            "replays": doc["search"]["replays"],
            "hybrids": len(state_ids),
            "distinct_hybrids": len(set(state_ids)),
            "replays_cached_run": again["search"]["replays"],
            "cache_hits_cached_run": again["search"]["cache_hits"],
            "parallel": doc["search"]["parallel"],
            "causes": [(c["name"], c["share"], c["rows_explained"]) for c in doc["causes"]],
            "harmless": [h["name"] for h in doc["harmless"]],
            "status": doc["status"],
            "shapley_method": doc["search"]["shapley_method"],
        }
    finally:
        shutil.rmtree(project.parent, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    benchlib.reexec_in_venv()
    machine = benchlib.machine_info()
    result = measure(args.rows, args.repeat)
    document = {"benchmark": "explain", "machine": benchlib.stamp_end(machine), **result}
    path = benchlib.write_result("explain", document)
    benchlib.print_table(
        ["rows", "pipeline ms", "explain ms", "ratio", "replays", "distinct", "cached run"],
        [
            [
                result["rows"],
                result["pipeline_ms"]["median"],
                result["explain_ms"],
                round(result["ratio"], 2),
                result["replays"],
                result["distinct_hybrids"],
                result["replays_cached_run"],
            ]
        ],
    )
    print(f"causes: {result['causes']}; harmless: {result['harmless']}")
    print(
        benchlib.verdict(
            result["ratio"] <= 12.0 and result["replays"] == result["distinct_hybrids"]
        )
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
