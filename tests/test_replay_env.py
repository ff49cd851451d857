"""``--env current`` lists environment differences; ``--env exact`` rebuilds the recorded
environment with uv (a real virtual environment, real package installs) and caches it.

The exact-environment tests record their run inside a small purpose-built virtual
environment (only ``six==1.16.0``), not in the test interpreter: an exact replay installs
*every* recorded distribution, and this interpreter has over a hundred (torch among them).
A zero-code run does not need runstate in its interpreter (the capture bootstrap is
standard-library only), so none is installed there.
"""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

import pytest

from replayhelp import component, records, replay, run_cli, write
from runstate.errors import EnvBuildError
from runstate.replay.env import build_exact_env, env_differences, env_recipe, find_uv

PINNED = "1.16.0"


def test_env_differences_name_packages_python_and_settings() -> None:
    recorded = {
        "python": {"version": "3.11.7", "executable": "/a/bin/python"},
        "packages": {"six": {"version": "1.16.0"}, "gone": {"version": "1.0"}},
        "threads": {"OMP_NUM_THREADS": "1"},
    }
    current = {
        "python": {"version": "3.12.1", "executable": "/b/bin/python"},
        "packages": {"six": {"version": "1.17.0"}, "new": {"version": "2.0"}},
        "threads": {"OMP_NUM_THREADS": "8"},
    }
    diffs = {d["path"]: (d["recorded"], d["current"]) for d in env_differences(recorded, current)}
    assert diffs == {
        "packages.gone": ("1.0", None),
        "packages.new": (None, "2.0"),
        "packages.six": ("1.16.0", "1.17.0"),
        "python.version": ("3.11.7", "3.12.1"),
        "threads.OMP_NUM_THREADS": ("1", "8"),
    }  # the interpreter's path is where it runs, not what it is: not a difference
    assert env_differences(recorded, recorded) == []


def test_recipe_pins_versions_and_names_what_cannot_be_reinstalled() -> None:
    recipe = env_recipe(
        {
            "python": {"version": "3.11.7", "implementation": "CPython"},
            "packages": {
                "six": {"version": "1.16.0"},
                "mylib": {"version": "0.1", "direct_url": {"url": "file:///home/me/mylib"}},
                "tool": {
                    "version": "2.0",
                    "direct_url": {
                        "url": "https://github.com/o/tool",
                        "vcs": "git",
                        "commit_id": "c0ffee",
                    },
                },
                "runstate": {"version": "0.1.0"},
            },
        }
    )
    assert recipe["python"] == "3.11.7"
    assert recipe["requirements"] == ["six==1.16.0", "tool @ git+https://github.com/o/tool@c0ffee"]
    assert "local path" in recipe["skipped"]["mylib"]
    assert recipe["runstate"]  # the API needs runstate in the environment: installed apart


@pytest.fixture(scope="module")
def tiny_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    uv = find_uv()  # uv comes with runstate[replay], part of runstate[test]
    path = tmp_path_factory.mktemp("tiny") / "venv"
    subprocess.run([*uv, "venv", "--quiet", "--python", sys.executable, str(path)], check=True)
    subprocess.run(
        [
            *uv,
            "pip",
            "install",
            "--quiet",
            "--python",
            str(path / "bin" / "python"),
            f"six=={PINNED}",
        ],
        check=True,
    )
    return path


JOB = "import six\nopen('six_version.txt', 'w').write(six.__version__)\n"


def test_exact_env_rebuilds_the_recorded_package_version_and_caches_it(
    project: Path, tiny_venv: Path
) -> None:
    current_six = importlib.metadata.version("six")
    assert current_six != PINNED  # the point: the recorded version is not the current one
    write(project / "job.py", JOB)
    result = run_cli(project, "run", "--", str(tiny_venv / "bin" / "python"), "job.py")
    assert result.returncode == 0, result.stderr
    original = records(project)[0]
    assert component(project, original, "env")["packages"]["six"]["version"] == PINNED

    exact = replay(project, str(original["id"]), "--env", "exact", code=0)

    assert exact["verdict"] == "identical", exact
    assert exact["env_mode"] == "exact" and exact["env"]["cached"] is False
    env_path = Path(exact["env"]["path"])
    assert env_path.parent == project / ".runstate" / "envs"
    replayed = records(project)[0]
    assert replayed["parent_id"] == original["id"]
    replay_env = component(project, replayed, "env")
    assert replay_env["packages"] == {"six": {"version": PINNED}}  # exactly the recorded set
    assert replay_env["python"]["executable"].startswith(str(env_path))
    assert not any(d["path"].startswith("packages.") for d in exact["env_differences"])

    again = replay(project, str(original["id"]), "--env", "exact", code=0)
    assert again["env"]["cached"] is True and again["env"]["path"] == str(env_path)

    current = replay(project, str(original["id"]), "--env", "current", code=1)
    assert current["verdict"] == "diverged"
    assert {"path": "packages.six", "recorded": PINNED, "current": current_six} in (
        current["env_differences"]
    )
    assert current["outputs"][0]["name"] == "six_version.txt"
    assert current["outputs"][0]["status"] == "diverged"


def test_a_package_that_cannot_be_installed_is_named(tmp_path: Path) -> None:
    env = {
        "python": {"version": ".".join(map(str, sys.version_info[:3]))},
        "packages": {"six": {"version": "0.0.404"}},
    }
    with pytest.raises(EnvBuildError, match=r"cannot install six"):
        build_exact_env(tmp_path / "envs", env)
    assert not any((tmp_path / "envs").iterdir())  # no half-built environment is kept


def test_a_python_version_that_is_not_here_is_named(tmp_path: Path) -> None:
    # uv may not download interpreters (only package registries are reachable).
    env = {"python": {"version": "3.4.0"}, "packages": {"six": {"version": PINNED}}}
    with pytest.raises(EnvBuildError, match=r"cannot create a Python 3\.4\.0 environment"):
        build_exact_env(tmp_path / "envs", env)


API_JOB = """\
import pyarrow.compute as pc
import runstate

with runstate.run("api-exact", seed=2) as run:
    table = run.read_table("customers", "data/customers.csv", key="id", as_="arrow")
    run.output("scores", table.append_column("y", pc.multiply(table["x"], 2)), key="id")
"""


@pytest.mark.slow
def test_exact_env_of_an_api_run_installs_runstate_itself(project: Path, tmp_path: Path) -> None:
    # An API run imports runstate: its environment is runstate (from this checkout) and
    # its dependencies (~20 distributions; uv's download cache makes repeats fast).
    uv = find_uv()
    venv = tmp_path / "api-venv"
    subprocess.run([*uv, "venv", "--quiet", "--python", sys.executable, str(venv)], check=True)
    source = Path(__file__).resolve().parent.parent
    subprocess.run(
        [
            *uv,
            "pip",
            "install",
            "--quiet",
            "--python",
            str(venv / "bin" / "python"),
            "-e",
            str(source),
        ],
        check=True,
    )
    write(project / "data" / "customers.csv", "id,x\n1,1.5\n2,2.5\n")
    write(project / "job.py", API_JOB)
    done = subprocess.run(
        [str(venv / "bin" / "python"), "job.py"], cwd=project, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    original = records(project)[0]
    recorded = component(project, original, "env")["packages"]
    assert "runstate" in recorded and "pandas" not in recorded

    verdict = replay(project, str(original["id"]), "--env", "exact", code=0)

    assert verdict["verdict"] == "identical", verdict
    replay_env = component(project, records(project)[0], "env")["packages"]
    assert {k: v["version"] for k, v in replay_env.items()} == {
        k: v["version"] for k, v in recorded.items()
    }
