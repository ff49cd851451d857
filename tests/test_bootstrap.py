"""The capture bootstrap (``capture/bootstrap/sitecustomize.py``) stays cheap and exact.

Every captured Python process imports it at start-up and runs its report at exit, so it
must not import heavy modules (``typing``, ``json``, ``re``, ...), and the report it writes
without :mod:`json` must be what ``json.dumps`` would write. Each check runs in a child
interpreter, as the bootstrap does: loading it here would re-run a user ``sitecustomize``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from runstate.capture.launcher import BOOTSTRAP_DIR, ENV_MODULE

SITECUSTOMIZE = os.path.join(BOOTSTRAP_DIR, "sitecustomize.py")
HEAVY = {
    "re", "json", "typing", "platform", "locale", "pathlib", "shutil", "hashlib", "struct",
    "fnmatch", "contextlib", "importlib.util", "importlib.metadata", "subprocess", "tempfile",
}  # fmt: skip


def _base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNSTATE_")}
    env.pop("PYTHONPATH", None)
    return env


def _capture_env(tmp_path: Path, project: Path, name: str) -> dict[str, str]:
    """The variables ``runstate run`` gives its child (see ``launcher.launch``)."""
    report_dir = tmp_path / f"reports-{name}"
    report_dir.mkdir()
    return {
        "RUNSTATE_REPORT_DIR": str(report_dir),
        "RUNSTATE_PROJECT_ROOT": str(project),
        "RUNSTATE_STORE_DIR": str(project / ".runstate"),
        "RUNSTATE_ENV_MODULE": ENV_MODULE,
        "RUNSTATE_ENV_CACHE": str(tmp_path / "cache"),
        "RUNSTATE_LAUNCHER_PID": str(os.getpid()),  # we are the child's parent
    }


def _run(argv: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc


def _report(report_dir: str) -> dict[str, Any]:
    (name,) = os.listdir(report_dir)
    data: dict[str, Any] = json.loads(Path(report_dir, name).read_text(encoding="utf-8"))
    return data


def test_report_json_is_json_dumps(tmp_path: Path) -> None:
    values: list[Any] = [
        {"a": [1, -2, 10**30, True, False, None, 'é\udcff\x00"\\\n\t', ("t", 1)], "": {}},
        [],
        "plain",
        {"nested": [[{"x": [None]}]], "ü": "\u2028"},
        {"float": 1.5},  # not in reports: falls back to json
        {1: "int key"},  # idem
    ]
    code = (
        "import json, sys\n"
        "from importlib.machinery import SourceFileLoader\n"
        f"loader = SourceFileLoader('boot', {SITECUSTOMIZE!r})\n"
        "mod = type(sys)('boot')\n"
        "mod.__file__ = loader.path\n"
        "loader.exec_module(mod)\n"
        f"for value in {values!r}:\n"
        "    assert mod._json_text(value) == json.dumps(value), value\n"
        "print('ok')\n"
    )
    proc = _run([sys.executable, "-S", "-c", code], _base_env(), tmp_path)
    assert proc.stdout.strip() == "ok"


def test_start_up_and_warm_exit_import_no_heavy_module(tmp_path: Path) -> None:
    """-S keeps site-packages' .pth files from importing things first; the bootstrap is then
    imported by hand, as ``site`` would, and its exit handlers run explicitly."""
    project = tmp_path / "project"
    project.mkdir()
    code = (
        "import atexit, os, sys\n"
        f"sys.path.insert(0, {BOOTSTRAP_DIR!r})\n"
        "before = set(sys.modules)\n"
        "import sitecustomize\n"
        "started = set(sys.modules)\n"
        "atexit._run_exitfuncs()\n"
        "print(' '.join(sorted(started - before)))\n"
        "print(' '.join(sorted(set(sys.modules) - started)))\n"
        "sys.stdout.flush()\n"
        "os._exit(0)\n"
    )
    for run in range(2):  # the first run fills the env cache
        env = {**_base_env(), **_capture_env(tmp_path, project, str(run))}
        proc = _run([sys.executable, "-S", "-c", code], env, project)
        report = _report(env["RUNSTATE_REPORT_DIR"])
        assert report["env"] is not None, report.get("env_error")
    at_start, at_exit = (set(line.split()) for line in proc.stdout.splitlines())
    assert not at_start & HEAVY, sorted(at_start & HEAVY)
    assert not at_exit & HEAVY, sorted(at_exit & HEAVY)


def test_reported_env_is_a_fresh_capture(tmp_path: Path) -> None:
    """The env the child reports (warm cache) is what env.py computes without any cache, for
    the environment the program would have had without runstate."""
    project = tmp_path / "project"
    project.mkdir()
    base = {**_base_env(), "OMP_NUM_THREADS": "3", "PYTHONWARNINGS": "ignore"}
    for run in range(2):  # cold, then warm
        env = {
            **base,
            **_capture_env(tmp_path, project, str(run)),
            "PYTHONPATH": os.pathsep.join([BOOTSTRAP_DIR, str(project / "lib")]),
        }
        _run([sys.executable, "-c", "pass"], env, project)
        reported = _report(env["RUNSTATE_REPORT_DIR"])["env"]
    fresh_code = (
        "import json, sys\n"
        "from importlib.machinery import SourceFileLoader\n"
        f"loader = SourceFileLoader('probe', {ENV_MODULE!r})\n"
        "mod = type(sys)('probe')\n"
        "mod.__file__ = loader.path\n"
        "mod.__package__ = ''\n"
        "loader.exec_module(mod)\n"
        "print(json.dumps(mod.capture_env(), sort_keys=True))\n"
    )
    fresh_env = {**base, "PYTHONPATH": str(project / "lib")}
    fresh = _run([sys.executable, "-c", fresh_code], fresh_env, project).stdout.strip()
    assert json.dumps(reported, sort_keys=True) == fresh
    assert reported["threads"]["OMP_NUM_THREADS"] == "3"
    assert reported["env_vars"]["PYTHONPATH"] == str(project / "lib")
