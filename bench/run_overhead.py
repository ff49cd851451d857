"""Start-up overhead of ``runstate run`` versus logging the same script with MLflow.

What is measured (wall time of one subprocess, start to exit, in ms):

* ``bare``     — ``python -c pass``: the interpreter alone, the baseline.
* ``runstate`` — ``runstate run -- python -c pass``: the CLI starts, launches the child with
  the audit-hook bootstrap, then fingerprints, assembles and commits the run record (the
  environment, code and seeds components, objects and a journal entry in ``.runstate/``).
* ``mlflow``   — ``python -c "import mlflow; ...start_run(); end_run()"`` with a file
  tracking store: what a user pays to record the same run with MLflow, whose ``start_run()``
  captures its default system tags (source, user, git commit, …).

Overhead = median(variant) - median(bare). Why: a capture tool that costs more than a
blink at every start gets turned off; the budget is 150 ms, and runstate should cost at
least 5x less than the MLflow equivalent while capturing more.

All three use ``bench/.venv/bin/python`` (runstate's CLI from the same venv) in one fresh
temporary project where ``runstate init`` ran once: a git repository with one commit, as
ML projects usually are, so both tools find and record a git state (``--no-git``: a plain
folder). MLflow's ``mlruns`` lives beside the project, not in it. Variants run round-robin (bare,
runstate, mlflow, bare, …) so machine noise spreads evenly; one unmeasured warm-up of each
fills byte-code and runstate's environment caches (its time is reported separately).
MLflow's file store is in "maintenance mode" since MLflow 3.x and refuses to start unless
``MLFLOW_ALLOW_FILE_STORE=true``, which is set; MLflow telemetry is disabled.

Usage: ``python bench/run_overhead.py [--repeat 30] [--warmup 1]``. Writes
``bench/results/run_overhead.json``.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import benchlib

TARGET_OVERHEAD_MS = 150.0
TARGET_RATIO = 5.0
VARIANTS = ("bare", "runstate", "mlflow")


def commands(project: Path) -> dict[str, list[str]]:
    """The command line of each variant, all on the bench venv's interpreter."""
    python = str(benchlib.VENV_PYTHON)
    mlflow_script = (
        "import mlflow; "
        f"mlflow.set_tracking_uri('file:{project.parent / 'mlruns'}'); "
        "r=mlflow.start_run(); mlflow.end_run()"
    )
    return {
        "bare": [python, "-c", "pass"],
        "runstate": [str(benchlib.VENV_BIN / "runstate"), "run", "--", python, "-c", "pass"],
        "mlflow": [python, "-c", mlflow_script],
    }


def time_once(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall time and CPU time (user + sys of it and all its children) in ms of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False
    )
    elapsed = (time.perf_counter() - started) * 1000.0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        tail = done.stderr.decode("utf-8", "replace")[-2000:]
        raise SystemExit(f"run_overhead: {argv[0]} ... exited {done.returncode}:\n{tail}")
    cpu = (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000.0
    return elapsed, cpu


def measure(repeat: int, warmup: int, bytecode_cache: bool, git: bool) -> dict[str, Any]:
    """Run every variant ``warmup`` + ``repeat`` times, round-robin, in a fresh project."""
    project = benchlib.make_project(git=git)
    env = benchlib.child_env(
        {
            "MLFLOW_ALLOW_FILE_STORE": "true",
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "DO_NOT_TRACK": "1",
        },
        bytecode_cache=bytecode_cache,
    )
    try:
        argvs = commands(project)
        first: dict[str, list[float]] = {v: [] for v in VARIANTS}
        samples: dict[str, list[float]] = {v: [] for v in VARIANTS}
        cpu: dict[str, list[float]] = {v: [] for v in VARIANTS}
        for _ in range(warmup):
            for variant in VARIANTS:
                first[variant].append(time_once(argvs[variant], project, env)[0])
        for i in range(repeat):
            for variant in VARIANTS:
                wall, used = time_once(argvs[variant], project, env)
                samples[variant].append(wall)
                cpu[variant].append(used)
            print(
                f"\rround {i + 1}/{repeat}: "
                + "  ".join(f"{v} {samples[v][-1]:.0f} ms" for v in VARIANTS),
                end="",
                file=sys.stderr,
                flush=True,
            )
        print(file=sys.stderr)
        journal = len(list((project / ".runstate" / "journal").glob("*.json")))
    finally:
        shutil.rmtree(project.parent, ignore_errors=True)
    return {
        "commands": argvs,
        "warmup_ms": first,
        "samples_ms": samples,
        "cpu_samples_ms": cpu,
        "journal_entries": journal,
    }


def analyse(raw: dict[str, Any]) -> dict[str, Any]:
    """Summaries, overheads (difference of medians, and median of paired differences), ratio."""
    samples: dict[str, list[float]] = raw["samples_ms"]
    stats = {v: benchlib.summarise(samples[v]) for v in VARIANTS}
    cpu = {v: benchlib.summarise(raw["cpu_samples_ms"][v]) for v in VARIANTS}
    bare = stats["bare"]["median"]
    overhead = {v: stats[v]["median"] - bare for v in ("runstate", "mlflow")}
    paired = {
        v: statistics.median(a - b for a, b in zip(samples[v], samples["bare"], strict=True))
        for v in ("runstate", "mlflow")
    }
    ratio = overhead["mlflow"] / overhead["runstate"] if overhead["runstate"] > 0 else float("inf")
    return {
        "stats_ms": stats,
        "cpu_stats_ms": cpu,
        "cpu_overhead_median_ms": {
            v: cpu[v]["median"] - cpu["bare"]["median"] for v in ("runstate", "mlflow")
        },
        "overhead_median_ms": overhead,
        "overhead_paired_median_ms": paired,
        "ratio_mlflow_over_runstate": ratio,
        "targets": {
            "runstate_overhead_ms": {
                "target": f"<= {TARGET_OVERHEAD_MS:g}",
                "value": overhead["runstate"],
                "met": overhead["runstate"] <= TARGET_OVERHEAD_MS,
            },
            "ratio_mlflow_over_runstate": {
                "target": f">= {TARGET_RATIO:g}",
                "value": ratio,
                "met": ratio >= TARGET_RATIO,
            },
        },
    }


def report(result: dict[str, Any]) -> None:
    stats, overhead = result["stats_ms"], result["overhead_median_ms"]
    cpu, cpu_overhead = result["cpu_stats_ms"], result["cpu_overhead_median_ms"]
    rows = [
        [
            v,
            stats[v]["median"],
            stats[v]["p10"],
            stats[v]["p90"],
            overhead.get(v, 0.0),
            result["warmup_ms"][v][0] if result["warmup_ms"][v] else "-",
            cpu[v]["median"],
            cpu_overhead.get(v, 0.0),
        ]
        for v in VARIANTS
    ]
    print(f"\nrun overhead, {stats['bare']['n']} interleaved runs each (wall ms)\n")
    benchlib.print_table(
        ["variant", "median", "p10", "p90", "overhead", "first run", "cpu median", "cpu overhead"],
        rows,
    )
    targets = result["targets"]
    print(
        f"\nrunstate overhead {overhead['runstate']:.1f} ms (target <= {TARGET_OVERHEAD_MS:g}): "
        f"{benchlib.verdict(targets['runstate_overhead_ms']['met'])}"
    )
    print(
        f"mlflow / runstate overhead ratio {result['ratio_mlflow_over_runstate']:.1f}x "
        f"(target >= {TARGET_RATIO:g}x): "
        f"{benchlib.verdict(targets['ratio_mlflow_over_runstate']['met'])}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=30, help="measured runs per variant")
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured runs per variant first")
    parser.add_argument(
        "--no-bytecode-cache",
        action="store_true",
        help="run children with PYTHONDONTWRITEBYTECODE=1 (every import compiles from source)",
    )
    parser.add_argument(
        "--no-git",
        action="store_true",
        help="plain project folder instead of a git repository with one commit",
    )
    parser.add_argument(
        "--output",
        default="run_overhead",
        help="result name: writes bench/results/NAME.json (default: run_overhead)",
    )
    args = parser.parse_args(argv)
    if args.repeat < 2 or args.warmup < 0:
        parser.error("--repeat must be >= 2 and --warmup >= 0")
    benchlib.reexec_in_venv()

    machine = benchlib.machine_info()
    raw = measure(
        args.repeat, args.warmup, bytecode_cache=not args.no_bytecode_cache, git=not args.no_git
    )
    result = {
        "schema": "runstate-bench.run_overhead/v1",
        "machine": benchlib.stamp_end(machine),
        "settings": {
            "repeat": args.repeat,
            "warmup": args.warmup,
            "bytecode_cache": not args.no_bytecode_cache,
            "project_is_git_repo": not args.no_git,
            "order": "round-robin " + ", ".join(VARIANTS),
        },
        **raw,
        **analyse(raw),
    }
    report(result)
    path = benchlib.write_result(args.output, result)
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
