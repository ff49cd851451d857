"""Cost of ``runstate replay``: overhead over running the job directly; exact-env build time.

What is measured (wall time of one subprocess, in ms, medians):

* ``direct`` — ``python job.py``: a small API job (``run.read_table`` of a keyed Parquet
  table of ROWS rows, one derived column, a keyed table output, a metric), captured as a
  run, as a user runs it;
* ``replay`` — ``runstate replay RUN --json`` of that run: restore the code (a git worktree
  of the recorded commit), write the manifest, run the job in the sandbox with the table
  served from its snapshot, record the replay and grade it. Its own ``timings_ms`` split
  it into ``materialise`` (sandbox: code, inputs, manifest), ``run`` (the job under
  capture) and ``grade``. Overhead = replay - direct;
* ``env cold`` / ``env cached`` — ``runstate replay --env exact`` of a zero-code run
  recorded in a one-package virtual environment (``six==1.16.0``): the ``env`` timing with
  ``.runstate/envs`` emptied first (venv creation + install; uv's own download cache is
  warm, so this is the build, not the network), and with the built environment reused.

Sizes: ``--rows`` (default 10,000 and 1,000,000) shows that materialisation does not grow
with the table (API table inputs are served in-process from the snapshot, not copied).
Variants run round-robin, ``--repeat`` times (default 5).

Usage: ``python bench/replay.py [--repeat 5] [--rows 10000 1000000]``. Writes
``bench/results/replay.json``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import benchlib

JOB = """\
import pyarrow.compute as pc
import runstate

with runstate.run("bench-replay", params={"factor": 2}, seed=1) as run:
    table = run.read_table("events", "data/events.parquet", key="id", as_="arrow")
    scored = table.append_column("score", pc.multiply(table["x"], run.params["factor"]))
    run.output("scored", scored, key="id")
    run.metric("total", float(pc.sum(scored["score"]).as_py()))
"""

SIX_JOB = "import six\nopen('six_version.txt', 'w').write(six.__version__)\n"


def _timed(argv: list[str], cwd: Path) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=benchlib.child_env(), capture_output=True, text=True)
    elapsed = (time.perf_counter() - started) * 1000
    if done.returncode not in (0, 1):
        raise SystemExit(f"{argv[:3]} failed ({done.returncode}): {done.stderr[-2000:]}")
    return elapsed, done


def _runstate(*args: str) -> list[str]:
    return [str(benchlib.VENV_BIN / "runstate"), *args]


def _latest_run(project: Path) -> str:
    _, done = _timed(_runstate("runs", "--limit", "1", "--json"), project)
    return str(json.loads(done.stdout)["runs"][0]["id"])


def measure_overhead(rows: int, repeat: int) -> dict[str, Any]:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    project = benchlib.make_project(git=True)
    try:
        (project / "data").mkdir()
        rng = np.random.default_rng(7)
        table = pa.table(
            {"id": np.arange(rows), "x": rng.random(rows), "k": rng.integers(0, 9, rows)}
        )
        pq.write_table(table, project / "data" / "events.parquet")
        (project / "job.py").write_text(JOB)
        python = str(benchlib.VENV_PYTHON)
        _timed([python, "job.py"], project)  # warm-up: byte code, env caches
        run_id = _latest_run(project)
        _timed(_runstate("replay", run_id, "--json"), project)  # warm-up
        direct: list[float] = []
        replay: list[float] = []
        phases: dict[str, list[int]] = {}
        verdicts = set()
        for _ in range(repeat):
            elapsed, _done = _timed([python, "job.py"], project)
            direct.append(elapsed)
            elapsed, done = _timed(_runstate("replay", run_id, "--json"), project)
            replay.append(elapsed)
            document = json.loads(done.stdout)
            verdicts.add(document["verdict"])
            for phase, ms in document["timings_ms"].items():
                phases.setdefault(phase, []).append(ms)
        return {
            "rows": rows,
            "direct_ms": benchlib.summarise(direct),
            "replay_ms": benchlib.summarise(replay),
            "overhead_ms": statistics.median(replay) - statistics.median(direct),
            "phases_ms": {k: statistics.median(v) for k, v in sorted(phases.items())},
            "verdicts": sorted(verdicts),
        }
    finally:
        shutil.rmtree(project.parent, ignore_errors=True)


def measure_env(repeat: int) -> dict[str, Any] | None:
    uv = shutil.which("uv")
    if uv is None:
        print("bench: uv not found; skipping the exact-environment figures", file=sys.stderr)
        return None
    project = benchlib.make_project(git=True)
    try:
        venv = project.parent / "tiny-venv"
        subprocess.run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)], check=True)
        subprocess.run(
            [
                uv,
                "pip",
                "install",
                "--quiet",
                "--python",
                str(venv / "bin" / "python"),
                "six==1.16.0",
            ],
            check=True,
        )
        (project / "job.py").write_text(SIX_JOB)
        _timed(_runstate("run", "--", str(venv / "bin" / "python"), "job.py"), project)
        run_id = _latest_run(project)
        envs = project / ".runstate" / "envs"
        cold: list[float] = []
        cached: list[float] = []
        totals: dict[str, list[float]] = {"cold": [], "cached": []}
        for _ in range(repeat):
            shutil.rmtree(envs, ignore_errors=True)
            for label, sink in (("cold", cold), ("cached", cached)):
                elapsed, done = _timed(
                    _runstate("replay", run_id, "--env", "exact", "--json"), project
                )
                document = json.loads(done.stdout)
                assert document["env"]["cached"] is (label == "cached"), document["env"]
                assert document["verdict"] == "identical", document
                sink.append(document["timings_ms"]["env"])
                totals[label].append(elapsed)
        return {
            "packages": 1,
            "env_cold_ms": benchlib.summarise(cold),
            "env_cached_ms": benchlib.summarise(cached),
            "replay_total_cold_ms": benchlib.summarise(totals["cold"]),
            "replay_total_cached_ms": benchlib.summarise(totals["cached"]),
        }
    finally:
        shutil.rmtree(project.parent, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 1_000_000])
    args = parser.parse_args()
    benchlib.reexec_in_venv()
    machine = benchlib.machine_info()
    overhead = [measure_overhead(rows, args.repeat) for rows in args.rows]
    env = measure_env(args.repeat)
    document = {
        "benchmark": "replay",
        "machine": benchlib.stamp_end(machine),
        "repeat": args.repeat,
        "overhead": overhead,
        "exact_env": env,
    }
    path = benchlib.write_result("replay", document)
    benchlib.print_table(
        ["rows", "direct ms", "replay ms", "overhead ms", "materialise", "run", "grade"],
        [
            [
                o["rows"],
                o["direct_ms"]["median"],
                o["replay_ms"]["median"],
                o["overhead_ms"],
                o["phases_ms"].get("materialise"),
                o["phases_ms"].get("run"),
                o["phases_ms"].get("grade"),
            ]
            for o in overhead
        ],
    )
    if env:
        print(
            f"exact env (1 package): cold {env['env_cold_ms']['median']:.0f} ms, "
            f"cached {env['env_cached_ms']['median']:.0f} ms"
        )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
