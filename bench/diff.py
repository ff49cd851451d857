"""``runstate diff`` end to end from the CLI (issue 4's performance targets).

(a) **config + env**: two runs of ``runstate run --param threshold=… -- python -c pass``, the
    second with ``OMP_NUM_THREADS`` set (an allow-listed variable, so the env component
    differs) and another param value. Measured: ``runstate diff latest~1 latest --json`` as a
    new process, ``--repeat`` times (default 20), after one unmeasured warm-up. Target:
    median <= 300 ms.
(b) **keyed tables**: two runs recorded with the Python API (in child processes, untimed),
    each reading an N-row keyed Parquet input (``run.read_table(..., key="id")``) and
    writing an N-row keyed output table; run B's input has 1% of its rows changed in one
    cell, and so has its output. Measured: ``runstate diff latest~1 latest --json`` as a new
    process (``--table-repeat`` times, default 5). Target at N = 10 M: <= 3 s. Both
    retentions can be measured: ``fingerprint`` (rows from the stored fingerprint tables;
    cells unavailable) and ``full`` (cells old → new from the stored snapshots too).

Every child runs in ``bench/.venv`` with the byte-code cache of ``benchlib.child_env``.
Usage::

    python bench/diff.py [--repeat 20] [--rows 1000000 10000000] [--retention fingerprint]

Writes ``bench/results/diff.json``.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib

TABLE_JOB = """\
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

import runstate

rows, changed, retention = int(sys.argv[1]), sys.argv[2] == "1", sys.argv[3]
rng = np.random.default_rng(7)
ids = np.arange(rows, dtype=np.int64)
amount = rng.integers(0, 1_000_000, rows)
score = rng.random(rows)
if changed:  # 1% of the rows: one cell each
    picked = rng.choice(rows, rows // 100, replace=False)
    amount[picked] += 1
pq.write_table(pa.table({"id": ids, "amount": amount, "score": score}), "input.parquet")
with runstate.run("bench-diff", params={"rows": rows}) as run:
    table = run.read_table("customers", "input.parquet", key="id", retention=retention)
    out = pa.table({"id": ids, "approved": amount > 500_000, "risk": amount * 1e-6})
    run.output("predictions", out, key="id", retention=retention)
"""


def _runstate(project: Path, *args: str, env: dict[str, str] | None = None) -> float:
    """Wall ms of one ``runstate ARGS`` process; exits 0 or 1 (1: the runs differ)."""
    return _timed(project, *args, env=env)[0]


def _timed(project: Path, *args: str, env: dict[str, str] | None = None) -> tuple[float, float]:
    """(wall ms, CPU ms of the process: user + sys) of one ``runstate ARGS`` process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(
        [str(benchlib.VENV_BIN / "runstate"), *args],
        cwd=project,
        env=benchlib.child_env(env),
        capture_output=True,
        text=True,
    )
    elapsed = (time.perf_counter() - started) * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000
    if result.returncode not in (0, 1):
        raise RuntimeError(f"runstate {' '.join(args)} failed: {result.stderr}")
    return elapsed, cpu


def _diff_times(project: Path, repeat: int) -> tuple[list[float], dict[str, Any], list[float]]:
    """Wall ms and CPU ms of ``repeat`` diff processes (after a warm-up), and the document."""
    args = ("diff", "latest~1", "latest", "--json")
    _runstate(project, *args)  # warm-up: byte-code cache, numba's kernel cache
    timed = [_timed(project, *args) for _ in range(repeat)]
    shown = subprocess.run(
        [str(benchlib.VENV_BIN / "runstate"), *args],
        cwd=project,
        env=benchlib.child_env(),
        capture_output=True,
        text=True,
    )
    return [w for w, _ in timed], json.loads(shown.stdout), [c for _, c in timed]


def bench_config_env(repeat: int) -> dict[str, Any]:
    project = benchlib.make_project(git=True)
    try:
        run = ("run", "--name", "score", "--param")
        _runstate(project, *run, "threshold=0.5", "--", sys.executable, "-c", "pass")
        _runstate(
            project,
            *run,
            "threshold=0.6",
            "--",
            sys.executable,
            "-c",
            "pass",
            env={"OMP_NUM_THREADS": "2"},
        )
        times, document, _ = _diff_times(project, repeat)
        # Interleaved, to read the figure on a shared machine: the diff, and the floor every
        # store-reading command pays (`runstate runs --json`: interpreter, click, SQLAlchemy,
        # opening the store), and the bare CLI start (`runstate --version`).
        variants = {
            "diff": ("diff", "latest~1", "latest", "--json"),
            "runs": ("runs", "--json", "--limit", "2"),
            "version": ("--version",),
        }
        wall: dict[str, list[float]] = {k: [] for k in variants}
        cpu: dict[str, list[float]] = {k: [] for k in variants}
        for _ in range(repeat):
            for key, argv in variants.items():
                w, c = _timed(project, *argv)
                wall[key].append(w)
                cpu[key].append(c)
    finally:
        shutil.rmtree(project.parent, ignore_errors=True)
    changed = document["summary"]["changed_components"]
    assert set(changed) == {"config", "env"}, changed
    summary = benchlib.summarise(times)
    return {
        "changed_components": changed,
        "wall_ms": summary,
        "samples_ms": times,
        "interleaved_wall_ms": {k: benchlib.summarise(v) for k, v in wall.items()},
        "interleaved_cpu_ms": {k: benchlib.summarise(v) for k, v in cpu.items()},
        "target_ms": 300,
        "verdict": benchlib.verdict(summary["median"] <= 300),
    }


def bench_tables(rows: int, retention: str, repeat: int) -> dict[str, Any]:
    project = benchlib.make_project(git=False)
    try:
        (project / "job.py").write_text(TABLE_JOB)
        python = str(benchlib.VENV_BIN / "python")
        capture = []
        for changed in ("0", "1"):
            started = time.perf_counter()
            subprocess.run(
                [python, "job.py", str(rows), changed, retention],
                cwd=project,
                env=benchlib.child_env(),
                check=True,
            )
            capture.append((time.perf_counter() - started) * 1000)
        times, document, cpu = _diff_times(project, repeat)
    finally:
        shutil.rmtree(project.parent, ignore_errors=True)
    data = document["components"]["data:customers"]
    preds = document["components"]["output:predictions"]
    assert data["rows"]["changed"] == rows // 100, data["rows"]
    assert preds["rows"]["changed"] == rows // 100, preds["rows"]
    summary = benchlib.summarise(times)
    target = 3000 if rows >= 10_000_000 else None
    return {
        "rows": rows,
        "retention": retention,
        "changed_rows_input": data["rows"]["changed"],
        "changed_rows_output": preds["rows"]["changed"],
        "cells_available": data["cells"]["available"],
        "changed_cells_input": data["cells"]["changed_columns"],
        "capture_ms_per_run_untimed": capture,
        "wall_ms": summary,
        "samples_ms": times,
        "cpu_ms": benchlib.summarise(cpu),
        "target_ms": target,
        "verdict": None if target is None else benchlib.verdict(summary["median"] <= target),
    }


def _print_config_env(result: dict[str, Any]) -> None:
    a = result["config_env"]["wall_ms"]
    print(f"(a) config+env diff: median {a['median']:.1f} ms (p10 {a['p10']:.1f}, p90 "
          f"{a['p90']:.1f}) -> {result['config_env']['verdict']}")  # fmt: skip
    for key, value in result["config_env"]["interleaved_wall_ms"].items():
        cpu = result["config_env"]["interleaved_cpu_ms"][key]["median"]
        print(f"    interleaved {key}: wall median {value['median']:.1f} ms, CPU {cpu:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20, help="diff processes for (a)")
    parser.add_argument("--table-repeat", type=int, default=5, help="diff processes for (b)")
    parser.add_argument("--rows", type=int, nargs="*", default=[1_000_000, 10_000_000])
    parser.add_argument("--skip-config-env", action="store_true", help="only (b)")
    parser.add_argument("--out", default="diff", help="bench/results/OUT.json")
    parser.add_argument(
        "--retention", nargs="*", default=["fingerprint"], choices=["fingerprint", "full"]
    )
    args = parser.parse_args()
    benchlib.reexec_in_venv()
    machine = benchlib.machine_info()
    result: dict[str, Any] = {"machine": machine}
    if not args.skip_config_env:
        result["config_env"] = bench_config_env(args.repeat)
        _print_config_env(result)
    result["tables"] = []
    for retention in args.retention:
        for rows in args.rows:
            entry = bench_tables(rows, retention, args.table_repeat)
            result["tables"].append(entry)
            w = entry["wall_ms"]
            print(f"(b) {rows:,} rows, {retention}: median {w['median']:.0f} ms (p10 "
                  f"{w['p10']:.0f}, p90 {w['p90']:.0f}), CPU {entry['cpu_ms']['median']:.0f} ms"
                  f" -> {entry['verdict']}")  # fmt: skip
            benchlib.write_result(args.out, {**result, "machine": benchlib.stamp_end(machine)})
    path = benchlib.write_result(args.out, {**result, "machine": benchlib.stamp_end(machine)})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
