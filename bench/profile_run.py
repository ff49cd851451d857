"""Where the time of ``runstate run -- python -c pass`` goes: a phase breakdown for engineers.

``run_overhead.py`` says *how much* ``runstate run`` costs; this says *where*. It measures,
in a fresh ``runstate init`` project, on the bench venv's interpreter:

* **phases** (median of ``--repeat`` runs, each a fresh process): interpreter start-up
  (``python -c pass``), importing the CLI and the launcher, the rest of the CLI (click),
  opening the store, the child process (split into its bare start-up, the capture bootstrap
  ``sitecustomize`` import, and the exit report the bootstrap writes, which includes the
  environment capture), assembling the record (code, seeds, state) and committing it.
  Phases are timed by wrapping runstate's functions in the measuring process, so they add
  up to the in-process total; the exit report is timed inside the child by running the
  ``atexit`` handlers explicitly (then ``os._exit``).
* **imports**: ``-X importtime`` of the launcher side and of the child (top entries).
* **cProfile** of one in-process ``runstate.cli.main.main(["run", "--", ...])``.

Usage: ``python bench/profile_run.py [--repeat 15]``. Writes ``bench/results/profile_run.json``
and the cProfile listing to ``bench/results/profile_run.txt``.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import benchlib

# The child: time its exit handlers (the bootstrap's report) explicitly, then leave at once.
CHILD_CODE = (
    "import atexit, os, sys, time; t = time.perf_counter(); atexit._run_exitfuncs(); "
    "sys.stderr.write('RUNSTATE_BENCH_EXIT_MS %.3f\\n' % ((time.perf_counter() - t) * 1000)); "
    "sys.stderr.flush(); os._exit(0)"
)

# Runs in a fresh process in the project: wraps runstate's phases with timers, runs the CLI.
PHASE_SNIPPET = r"""
import importlib, json, os, subprocess, sys, time
T0 = time.perf_counter()
import runstate.cli.main as cli_main
import runstate.cli.cmd_run
phases = {"import_cli": (time.perf_counter() - T0) * 1000}
T = time.perf_counter()
modules = {}
for name in ("capture.launcher", "capture.collect", "capture.record", "state.seeds",
             "state.code", "store.store"):
    try:
        modules[name] = importlib.import_module("runstate." + name)
    except ImportError:
        pass
phases["import_assembly"] = (time.perf_counter() - T) * 1000

def timer(name, fn):
    def wrapped(*args, **kwargs):
        started = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            phases[name] = phases.get(name, 0.0) + (time.perf_counter() - started) * 1000
    return wrapped

def wrap(module, attr, name):
    # Tolerates refactors: a function that moved or vanished is simply not timed.
    target = modules.get(module)
    if target is not None and callable(getattr(target, attr, None)):
        setattr(target, attr, timer(name, getattr(target, attr)))

Store = getattr(modules.get("store.store"), "Store", None)
if Store is not None:
    Store.open = classmethod(timer("store_open", Store.open.__func__))
    Store.commit_run = timer("commit", Store.commit_run)
wrap("capture.launcher", "_assemble", "assemble")
wrap("capture.record", "compose_state", "assemble.compose_state")
wrap("capture.launcher", "compose_state", "assemble.compose_state")
wrap("capture.collect", "capture_code_component", "assemble.code")
wrap("capture.collect", "capture_env_component", "assemble.env_fallback")
wrap("state.seeds", "capture_seeds", "assemble.seeds")
wrap("state.code", "capture_git", "git_capture")
prefetch = getattr(modules.get("capture.launcher"), "_Prefetch", None)
if prefetch is not None and hasattr(prefetch, "result"):
    prefetch.result = timer("assemble.wait_prefetch", prefetch.result)
popen_init, popen_wait = subprocess.Popen.__init__, subprocess.Popen.wait
spawned = []

def init(self, args, *rest, **kwargs):
    self._bench = {"argv": [str(a) for a in args] if not isinstance(args, str) else [args]}
    self._bench_started = time.perf_counter()
    spawned.append(self._bench)
    dump = os.environ.get("BENCH_ENV_DUMP")
    if dump and "RUNSTATE_BENCH_EXIT_MS" in " ".join(self._bench["argv"]):
        with open(dump, "w") as handle:
            json.dump(kwargs.get("env"), handle)
    popen_init(self, args, *rest, **kwargs)

def wait(self, *args, **kwargs):
    try:
        return popen_wait(self, *args, **kwargs)
    finally:
        if hasattr(self, "_bench_started") and "ms" not in self._bench:
            self._bench["ms"] = (time.perf_counter() - self._bench_started) * 1000

subprocess.Popen.__init__, subprocess.Popen.wait = init, wait
T1 = time.perf_counter()
try:
    cli_main.main(["run", "--", *sys.argv[1:]])
except SystemExit:
    pass
phases["main_total"] = (time.perf_counter() - T1) * 1000
phases["total_in_process"] = (time.perf_counter() - T0) * 1000
command = [p for p in spawned if "RUNSTATE_BENCH_EXIT_MS" in " ".join(p["argv"])]
others = [p for p in spawned if "RUNSTATE_BENCH_EXIT_MS" not in " ".join(p["argv"])]
phases["child"] = command[0].get("ms", 0.0) if command else 0.0
phases["subprocesses"] = len(others)
phases["subprocesses_ms"] = sum(p.get("ms", 0.0) for p in others)
print(json.dumps(phases))
print(json.dumps([" ".join(p["argv"][:3])[:60] for p in others]))
"""

_EXIT_MS = re.compile(r"RUNSTATE_BENCH_EXIT_MS ([0-9.]+)")
_IMPORT_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( +)(\S+)\s*$")


def run(
    argv: list[str], cwd: Path, env: dict[str, str], check: bool = True
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise SystemExit(f"profile_run: {' '.join(argv[:3])} ... failed:\n{done.stderr[-2000:]}")
    return done


def wall_ms(argv: list[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    run(argv, cwd, env)
    return (time.perf_counter() - started) * 1000


def parse_importtime(stderr: str) -> list[dict[str, Any]]:
    """``-X importtime`` lines as dicts: module, self_ms, cumulative_ms, depth."""
    rows = []
    for line in stderr.splitlines():
        match = _IMPORT_LINE.match(line)
        if match:
            self_us, cumulative_us, indent, name = match.groups()
            rows.append(
                {
                    "module": name,
                    "self_ms": int(self_us) / 1000,
                    "cumulative_ms": int(cumulative_us) / 1000,
                    "depth": (len(indent) - 1) // 2,
                }
            )
    return rows


def top_imports(rows: list[dict[str, Any]], count: int) -> dict[str, Any]:
    top_level = sorted((r for r in rows if r["depth"] == 0), key=lambda r: -r["cumulative_ms"])
    by_self = sorted(rows, key=lambda r: -r["self_ms"])
    packages: dict[str, float] = {}
    for r in rows:
        root = r["module"].split(".")[0]
        packages[root] = packages.get(root, 0.0) + r["self_ms"]
    by_package = sorted(packages.items(), key=lambda item: -item[1])
    return {
        "by_package_self_ms": dict(by_package[:count]),
        "total_ms": sum(r["self_ms"] for r in rows),
        "modules": len(rows),
        "top_level_by_cumulative": top_level[:count],
        "by_self": by_self[:count],
    }


def measure_phases(project: Path, env: dict[str, str], repeat: int) -> dict[str, Any]:
    python = str(benchlib.VENV_PYTHON)
    snippet = [python, "-c", PHASE_SNIPPET, python, "-c", CHILD_CODE]
    real = [str(benchlib.VENV_BIN / "runstate"), "run", "--", python, "-c", "pass"]
    bare = [python, "-c", "pass"]
    start_only = [python, "-c", "import os; os._exit(0)"]
    samples: dict[str, list[float]] = {}
    other_commands: list[str] = []

    def add(name: str, value: float) -> None:
        samples.setdefault(name, []).append(value)

    # Warm-up (byte code, environment cache), keeping the environment the child gets.
    dump = project.parent / "child-env.json"
    run(snippet, project, {**env, "BENCH_ENV_DUMP": str(dump)})
    child_env = {k: v for k, v in json.loads(dump.read_text()).items() if k != "BENCH_ENV_DUMP"}
    for i in range(repeat):
        print(f"\rphases {i + 1}/{repeat}", end="", file=sys.stderr, flush=True)
        add("bare_python", wall_ms(bare, project, env))
        add("start_only_bare", wall_ms(start_only, project, env))
        add("start_only_bootstrap", wall_ms(start_only, project, child_env))
        add("runstate_run_wall", wall_ms(real, project, env))
        started = time.perf_counter()
        done = run(snippet, project, env)
        add("snippet_wall", (time.perf_counter() - started) * 1000)
        *_, phase_line, spawned_line = done.stdout.strip().splitlines()
        phases = json.loads(phase_line)
        other_commands = json.loads(spawned_line)
        for name, value in phases.items():
            add(name, value)
        match = _EXIT_MS.search(done.stderr)
        add("child.exit_report", float(match.group(1)) if match else float("nan"))
    print(file=sys.stderr)
    med = {name: statistics.median(values) for name, values in samples.items()}
    med["child.bare_start"] = med["start_only_bare"]
    med["child.bootstrap_start"] = med["start_only_bootstrap"] - med["start_only_bare"]
    med["child.other"] = med["child"] - med["start_only_bootstrap"] - med["child.exit_report"]
    in_process = med["total_in_process"] - med.get(
        "import_assembly", 0.0
    )  # that overlaps the child
    med["unaccounted"] = med["runstate_run_wall"] - med["bare_python"] - in_process
    accounted = ("store_open", "child", "assemble", "commit")
    med["cli_other"] = med["main_total"] - sum(med.get(p, 0.0) for p in accounted)
    # What the child imports (for the table; -X importtime itself slows imports down).
    traced = [str(benchlib.VENV_BIN / "runstate"), "run", "--", python, "-X", "importtime"]
    boot = run([*traced, "-c", "pass"], project, env)
    return {
        "medians_ms": med,
        "samples_ms": samples,
        "child_imports": parse_importtime(boot.stderr),
        "other_subprocesses": other_commands,
    }


def measure_imports(project: Path, env: dict[str, str]) -> list[dict[str, Any]]:
    modules = (
        "runstate.cli.main, runstate.cli.cmd_run, runstate.capture.collect, runstate.state.seeds"
    )
    done = run(
        [str(benchlib.VENV_PYTHON), "-X", "importtime", "-c", f"import {modules}"], project, env
    )
    return parse_importtime(done.stderr)


def profile_once(project: Path, env: dict[str, str], lines: int) -> str:
    code = (
        "import cProfile, io, pstats, sys\n"
        "profile = cProfile.Profile(); profile.enable()\n"
        "from runstate.cli.main import main\n"
        "try:\n    main(['run', '--', sys.executable, '-c', 'pass'])\n"
        "except SystemExit:\n    pass\n"
        "profile.disable(); out = io.StringIO()\n"
        f"pstats.Stats(profile, stream=out).sort_stats('cumulative').print_stats({lines})\n"
        f"pstats.Stats(profile, stream=out).sort_stats('tottime').print_stats({lines})\n"
        "print(out.getvalue())\n"
    )
    return run([str(benchlib.VENV_PYTHON), "-c", code], project, env).stdout


def report(phases: dict[str, float], parent: dict[str, Any], child: dict[str, Any]) -> None:
    order = [
        ("interpreter start-up (bare python -c pass)", "bare_python"),
        ("import CLI + launcher", "import_cli"),
        ("import assembly modules (prefetched in a thread)", "import_assembly"),
        ("click parsing, launcher set-up, other", "cli_other"),
        ("Store.open", "store_open"),
        ("child process, total", "child"),
        ("  child: bare interpreter start-up", "child.bare_start"),
        ("  child: capture bootstrap at start-up", "child.bootstrap_start"),
        ("  child: exit report (env capture, json)", "child.exit_report"),
        ("  child: other (spawn, pipes, teardown)", "child.other"),
        ("assemble record", "assemble"),
        ("  assemble: code component", "assemble.code"),
        ("  assemble: seeds", "assemble.seeds"),
        ("  assemble: compose state (objects)", "assemble.compose_state"),
        ("  assemble: env fallback (child sent none)", "assemble.env_fallback"),
        ("  assemble: waiting for the git prefetch", "assemble.wait_prefetch"),
        ("git capture (background thread, overlaps)", "git_capture"),
        ("subprocesses besides the command (git)", "subprocesses_ms"),
        ("commit run (record object + journal)", "commit"),
        ("in-process total (after interpreter start)", "total_in_process"),
        ("console script, exit, noise (wall - the above)", "unaccounted"),
        ("`runstate run -- python -c pass`, wall", "runstate_run_wall"),
    ]
    rows = [[label, phases[key]] for label, key in order if key in phases]
    print("\nruntime phases of `runstate run -- python -c pass` (median ms)\n")
    benchlib.print_table(["phase", "ms"], rows)
    for title, block in (("launcher side", parent), ("child side", child)):
        print(f"\nimports, {title}: {block['modules']} modules, {block['total_ms']:.1f} ms")
        heavy = [[name, ms] for name, ms in block["by_package_self_ms"].items()]
        benchlib.print_table(["package (self time summed)", "ms"], heavy)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=15, help="fresh processes per phase figure")
    parser.add_argument("--no-git", action="store_true", help="plain project, not a git repo")
    parser.add_argument("--top", type=int, default=12, help="imports to list")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be >= 1")
    benchlib.reexec_in_venv()

    machine = benchlib.machine_info()
    project = benchlib.make_project(git=not args.no_git)
    env = benchlib.child_env()
    try:
        phases = measure_phases(project, env, args.repeat)
        parent = top_imports(measure_imports(project, env), args.top)
        child = top_imports(phases.pop("child_imports"), args.top)
        listing = profile_once(project, env, 40)
    finally:
        shutil.rmtree(project.parent, ignore_errors=True)
    report(phases["medians_ms"], parent, child)
    print("\nsubprocesses the launcher spawns besides the command:", phases["other_subprocesses"])
    benchlib.RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (benchlib.RESULTS_DIR / "profile_run.txt").write_text(listing)
    path = benchlib.write_result(
        "profile_run",
        {
            "schema": "runstate-bench.profile_run/v1",
            "machine": benchlib.stamp_end(machine),
            "settings": {"repeat": args.repeat, "project_is_git_repo": not args.no_git},
            **phases,
            "imports_launcher": parent,
            "imports_child": child,
        },
    )
    print(f"\nwrote {path} and {benchlib.RESULTS_DIR / 'profile_run.txt'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
