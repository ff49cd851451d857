"""Helpers shared by the benchmarks: the bench venv, child environments, statistics, output.

Every benchmark runs under ``bench/.venv`` (created by ``bench/setup.sh``), which holds
runstate (editable, from this checkout), MLflow and DVC, so all tools compared share one
interpreter and one set of library versions. A script started with another interpreter
creates the venv if it is missing and re-executes itself under the venv's python.

Children get a *normal* Python environment: ``PYTHONDONTWRITEBYTECODE`` is removed (some
sandboxes set it, which makes every import compile from source and inflates every figure)
and byte code is cached under ``bench/.work/pycache`` (``PYTHONPYCACHEPREFIX``), so no
``__pycache__`` folder is written into ``src/`` or ``site-packages``.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
VENV_DIR = BENCH_DIR / ".venv"
VENV_BIN = VENV_DIR / "bin"
VENV_PYTHON = VENV_BIN / "python"
WORK_DIR = BENCH_DIR / ".work"
RESULTS_DIR = BENCH_DIR / "results"
PYCACHE_DIR = WORK_DIR / "pycache"
DROP_CACHES = Path("/proc/sys/vm/drop_caches")

# Environment variables that would change what a child process does or measures.
_STRIPPED_ENV_PREFIXES = ("RUNSTATE_", "MLFLOW_", "DVC_", "VIRTUAL_ENV", "CONDA_")
_STRIPPED_ENV = ("PYTHONPATH", "PYTHONHOME", "PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")


def ensure_venv() -> None:
    """Run ``bench/setup.sh`` when ``bench/.venv`` does not exist yet."""
    if VENV_PYTHON.exists():
        return
    print(f"bench: {VENV_DIR} is missing; running bench/setup.sh", file=sys.stderr)
    subprocess.run(["bash", str(BENCH_DIR / "setup.sh")], check=True)


def reexec_in_venv() -> None:
    """Re-execute the running script under ``bench/.venv/bin/python`` unless already there."""
    ensure_venv()
    if Path(sys.prefix).resolve() == VENV_DIR.resolve():
        return
    argv = [str(VENV_PYTHON), str(Path(sys.argv[0]).resolve()), *sys.argv[1:]]
    os.execve(argv[0], argv, child_env())


def child_env(
    extra: Mapping[str, str] | None = None, bytecode_cache: bool = True
) -> dict[str, str]:
    """The environment every measured child runs in (see the module docstring)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in _STRIPPED_ENV and not key.startswith(_STRIPPED_ENV_PREFIXES)
    }
    env["PATH"] = os.pathsep.join([str(VENV_BIN), env.get("PATH", "")])
    if bytecode_cache:
        env["PYTHONPYCACHEPREFIX"] = str(PYCACHE_DIR)
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra or {})
    return env


def make_project(git: bool = True) -> Path:
    """A fresh project folder (``<tmp>/project``) with ``runstate init`` done; ``<tmp>`` is new.

    It lives in the system temp folder, outside this checkout, so git in the project never
    sees runstate's own repository. With ``git`` it is a repository of its own with one
    commit, as an ML project usually is (runstate and MLflow both record the git state).
    The caller removes ``project.parent`` when done.
    """
    root = Path(tempfile.mkdtemp(prefix="runstate-bench-"))
    project = root / "project"
    project.mkdir()
    env = child_env()
    if git:
        (project / "README.md").write_text("benchmark project\n")
        (project / "train.py").write_text("print('train')\n")
        identity = ["-c", "user.name=bench", "-c", "user.email=bench@example.invalid"]
        for args in (["init", "-q"], ["add", "-A"], [*identity, "commit", "-q", "-m", "init"]):
            subprocess.run(["git", *args], cwd=project, env=env, check=True)
    subprocess.run(
        [str(VENV_BIN / "runstate"), "init"],
        cwd=project,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return project


def summarise(samples_ms: Sequence[float]) -> dict[str, float]:
    """Median, p10 and p90 (inclusive quantiles), min and max of wall times in ms."""
    ordered = sorted(samples_ms)
    if len(ordered) == 1:
        only = ordered[0]
        return {"median": only, "p10": only, "p90": only, "min": only, "max": only, "n": 1}
    deciles = statistics.quantiles(ordered, n=10, method="inclusive")
    return {
        "median": statistics.median(ordered),
        "p10": deciles[0],
        "p90": deciles[-1],
        "min": ordered[0],
        "max": ordered[-1],
        "n": len(ordered),
    }


def _lscpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    except OSError:
        out = ""
    for line in out.splitlines():
        if line.lower().startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _mem_total_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / (1 << 20), 1)
    except OSError:
        pass
    return None


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def checkout() -> dict[str, Any]:
    """The runstate commit measured, whether ``src/`` had uncommitted changes, a digest of it."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", *args], cwd=REPO_DIR, capture_output=True, text=True, check=False
            )
        except OSError:
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    status = git("status", "--porcelain", "--", "src")
    digest = hashlib.sha256()
    for path in sorted((REPO_DIR / "src").rglob("*.py")):
        digest.update(str(path.relative_to(REPO_DIR)).encode() + b"\0" + path.read_bytes())
    return {
        "commit": git("rev-parse", "HEAD"),
        "src_dirty": bool(status) if status is not None else None,
        "src_sha256": digest.hexdigest(),
    }


def stamp_end(machine: dict[str, Any]) -> dict[str, Any]:
    """``machine`` plus the checkout at the end; warns if ``src/`` changed while measuring."""
    end = checkout()
    if end != machine.get("runstate_checkout"):
        print("warning: runstate's checkout changed during the measurement", file=sys.stderr)
    return {**machine, "runstate_checkout_end": end}


def machine_info() -> dict[str, Any]:
    """What the figures were measured on, and with which versions."""
    return {
        "runstate_checkout": checkout(),
        "date_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "nproc": len(os.sched_getaffinity(0)),  # what `nproc` prints
        "cpu_model": _lscpu_model(),
        "mem_total_gib": _mem_total_gib(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "python_executable": sys.executable,
        "versions": {name: _version(name) for name in ("runstate", "mlflow", "dvc", "blake3")},
    }


def drop_page_cache() -> bool:
    """``sync; echo 3 > /proc/sys/vm/drop_caches``; False when this sandbox does not allow it."""
    try:
        os.sync()
        with open(DROP_CACHES, "w") as handle:
            handle.write("3\n")
    except OSError:
        return False
    return True


def write_result(name: str, document: Mapping[str, Any]) -> Path:
    """Write ``bench/results/<name>.json`` (pretty, sorted keys) and return its path."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    return path


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A plain, aligned text table on stdout (numbers right-aligned)."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        padded = (
            v.ljust(w) if i == 0 else v.rjust(w)
            for i, (v, w) in enumerate(zip(values, widths, strict=True))
        )
        return "  ".join(padded)

    print(line(headers))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print(line(row))


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}"
    return str(value)


def verdict(ok: bool) -> str:
    return "MET" if ok else "MISSED"
