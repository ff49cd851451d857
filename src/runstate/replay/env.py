"""The environment of a replay: ``current`` (say what differs) or ``exact`` (rebuild it).

``--env current`` runs the recorded command with the interpreter runstate runs in; the
verdict then lists every difference between the recorded ``env`` component and the one the
replay recorded (:func:`env_differences`: Python, platform, hardware, each package version,
thread settings, locale, time zone, recorded variables).

``--env exact`` builds a virtual environment with ``uv`` (``uv venv --python <recorded
version>``, then ``uv pip install --no-deps`` of every recorded distribution at its recorded
version — the recorded set is complete, so no resolver runs and nothing else comes in) and
runs the command with its interpreter. Environments are cached under
``.runstate/envs/<recipe id>/``: the recipe (Python version, the pinned requirements, how
runstate itself is installed) is what the environment is built from, so runs whose ``env``
components differ only in things a venv cannot change (host, CPU, memory, variables) share
one environment. A built environment is only used once its ``runstate-env.json`` marker is
written (built in a temporary folder, renamed into place; ``uv venv --relocatable``).

runstate itself is installed into the environment only when the recorded one had it (a run
that used the Python API imports it; a zero-code run's interpreter does not need it): from
the source checkout runstate runs from (editable), else the same version from the registry.
Distributions recorded as installed from a local path (editable installs of other projects,
local wheels) cannot be reinstalled from a registry: they are left out and listed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runstate.errors import EnvBuildError
from runstate.state.canonical import canonical_bytes, hash_bytes

__all__ = ["ExactEnv", "build_exact_env", "env_differences", "env_recipe", "find_uv"]

MARKER = "runstate-env.json"
#: Facts about *where* Python runs that a replay cannot and need not reproduce.
_PATH_FACTS = {"python.executable", "python.prefix", "python.base_prefix"}


def _flatten(value: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(value, dict) and value:
        for key, item in value.items():
            _flatten(item, f"{prefix}.{key}" if prefix else str(key), out)
    else:
        out[prefix] = value


def env_differences(
    recorded: Mapping[str, Any], current: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Every difference between two ``env`` component bodies, as ``{path, recorded, current}``.

    Packages are compared by name (``packages.numpy``: recorded and current version, None
    when absent); everything else leaf by leaf, by dotted path.
    """
    diffs: list[dict[str, Any]] = []
    rec_pkgs = recorded.get("packages") or {}
    cur_pkgs = current.get("packages") or {}
    for name in sorted(set(rec_pkgs) | set(cur_pkgs)):
        old = (rec_pkgs.get(name) or {}).get("version") if name in rec_pkgs else None
        new = (cur_pkgs.get(name) or {}).get("version") if name in cur_pkgs else None
        if old != new or (name in rec_pkgs) != (name in cur_pkgs):
            diffs.append({"path": f"packages.{name}", "recorded": old, "current": new})
    flat_a: dict[str, Any] = {}
    flat_b: dict[str, Any] = {}
    _flatten({k: v for k, v in recorded.items() if k != "packages"}, "", flat_a)
    _flatten({k: v for k, v in current.items() if k != "packages"}, "", flat_b)
    for path in sorted(set(flat_a) | set(flat_b)):
        if path in _PATH_FACTS:
            continue
        old, new = flat_a.get(path), flat_b.get(path)
        if old != new:
            diffs.append({"path": path, "recorded": old, "current": new})
    return diffs


def find_uv() -> list[str]:
    """How to run uv: ``uv`` on PATH, else ``python -m uv``."""
    found = shutil.which("uv")
    if found:
        return [found]
    try:
        import uv  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        raise EnvBuildError(
            "--env exact needs uv: install it with `pip install uv` (https://docs.astral.sh/uv/)"
        ) from None
    return [sys.executable, "-m", "uv"]


def _runstate_source() -> str | None:
    """The source checkout this runstate runs from (editable install), if any."""
    root = Path(__file__).resolve().parents[3]
    pyproject = root / "pyproject.toml"
    if pyproject.is_file() and 'name = "runstate"' in pyproject.read_text("utf-8"):
        return str(root)
    return None


def env_recipe(env: Mapping[str, Any]) -> dict[str, Any]:
    """What an exact environment for the ``env`` body ``env`` is built from."""
    from runstate import __version__

    python = env.get("python") or {}
    requirements: list[str] = []
    skipped: dict[str, str] = {}
    with_runstate = False
    for name, info in sorted((env.get("packages") or {}).items()):
        version = (info or {}).get("version")
        direct = (info or {}).get("direct_url") or {}
        if name == "runstate":
            with_runstate = True
            continue
        if direct.get("vcs") and direct.get("commit_id") and direct.get("url"):
            requirements.append(f"{name} @ {direct['vcs']}+{direct['url']}@{direct['commit_id']}")
        elif direct.get("url", "") and str(direct.get("url")).startswith("file:"):
            skipped[name] = f"installed from a local path ({direct['url']}), not a registry"
        elif not version:
            skipped[name] = "no version was recorded"
        else:
            requirements.append(f"{name}=={version}")
    runstate_install = None
    if with_runstate:
        source = _runstate_source()
        runstate_install = {"editable": source} if source else {"version": __version__}
    return {
        "python": python.get("version"),
        "implementation": python.get("implementation"),
        "requirements": requirements,
        "skipped": skipped,
        "runstate": runstate_install,
    }


@dataclass(frozen=True)
class ExactEnv:
    path: Path
    python: str
    recipe_id: str
    cached: bool
    seconds: float
    skipped: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "python": self.python,
            "recipe_id": self.recipe_id,
            "cached": self.cached,
            "seconds": round(self.seconds, 3),
            "skipped": self.skipped,
        }


def _uv(
    uv: list[str], args: list[str], progress: Callable[[str], None] | None
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.setdefault("UV_PYTHON_DOWNLOADS", "never")  # only package registries are reachable
    env.pop("VIRTUAL_ENV", None)
    if progress:
        progress("uv " + " ".join(args[:3]) + (" …" if len(args) > 3 else ""))
    return subprocess.run(
        [*uv, *args], env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL
    )


def _failure(result: subprocess.CompletedProcess[str], recipe: Mapping[str, Any]) -> str:
    text = (result.stderr or "") + (result.stdout or "")
    names = [r.split("==")[0].split(" @ ")[0] for r in recipe["requirements"]]
    named = sorted({n for n in names if n.lower() in text.lower().replace("_", "-")})
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    detail = "; ".join(lines[-3:])[:600] if lines else f"uv exited with {result.returncode}"
    if named:
        return f"cannot install {', '.join(named)} into the replay environment: {detail}"
    return f"cannot build the replay environment: {detail}"


def build_exact_env(
    envs_dir: Path,
    env: Mapping[str, Any],
    progress: Callable[[str], None] | None = None,
) -> ExactEnv:
    """The cached exact environment for ``env``, built first if needed (see module doc)."""
    started = time.perf_counter()
    recipe = env_recipe(env)
    recipe_id = hash_bytes(canonical_bytes(recipe))
    final = envs_dir / recipe_id[:32]
    python = final / "bin" / "python"
    marker = final / MARKER
    if marker.is_file() and python.exists():
        return ExactEnv(
            final, str(python), recipe_id, True, time.perf_counter() - started, recipe["skipped"]
        )
    if not recipe["python"]:
        raise EnvBuildError("the recorded environment names no Python version")
    uv = find_uv()
    envs_dir.mkdir(parents=True, exist_ok=True)
    building = envs_dir / f".build-{recipe_id[:16]}-{os.getpid()}"
    shutil.rmtree(building, ignore_errors=True)
    try:
        made = _uv(
            uv,
            ["venv", "--relocatable", "--quiet", "--python", str(recipe["python"]), str(building)],
            progress,
        )
        if made.returncode != 0:
            raise EnvBuildError(
                f"cannot create a Python {recipe['python']} environment: "
                f"{_failure(made, {'requirements': []}).split(': ', 1)[-1]}"
            )
        target_python = str(building / "bin" / "python")
        if recipe["requirements"]:
            req_file = building / "runstate-requirements.txt"
            req_file.write_text("\n".join(recipe["requirements"]) + "\n", "utf-8")
            if progress:
                progress(f"installing {len(recipe['requirements'])} recorded packages")
            installed = _uv(
                uv,
                ["pip", "install", "--no-deps", "--python", target_python, "-r", str(req_file)],
                progress,
            )
            if installed.returncode != 0:
                raise EnvBuildError(_failure(installed, recipe))
        if recipe["runstate"]:
            spec = recipe["runstate"]
            target = (
                ["-e", spec["editable"]] if "editable" in spec else [f"runstate=={spec['version']}"]
            )
            own = _uv(
                uv, ["pip", "install", "--no-deps", "--python", target_python, *target], progress
            )
            if own.returncode != 0:
                raise EnvBuildError(f"cannot install runstate itself: {_failure(own, recipe)}")
        (building / MARKER).write_text(
            json.dumps({"recipe_id": recipe_id, "recipe": recipe}, indent=1), "utf-8"
        )
        try:
            os.rename(building, final)
        except OSError:  # built concurrently by another replay: use that one
            if not marker.is_file():
                raise
    finally:
        shutil.rmtree(building, ignore_errors=True)
    if progress:
        progress(f"environment ready in {time.perf_counter() - started:.1f}s: {final}")
    return ExactEnv(
        final, str(python), recipe_id, False, time.perf_counter() - started, recipe["skipped"]
    )
