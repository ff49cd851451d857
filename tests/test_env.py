"""Environment capture: shape, JSON safety, packages, the packages cache, redaction and the
standalone probe mode used on foreign interpreters."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from runstate.state import env as env_mod
from runstate.state.env import capture_env, env_cache_key
from runstate.state.redact import REDACTED

ENV_PY = Path(env_mod.__file__).resolve()
TOP_KEYS = {"python", "platform", "hardware", "packages", "threads", "locale", "timezone"}


def _assert_json_safe(value: Any, where: str = "$") -> None:
    """Only str/int/bool/None/list/dict with str keys: floats would make ids unstable."""
    if isinstance(value, dict):
        for key, item in value.items():
            assert isinstance(key, str), f"non-str key at {where}"
            _assert_json_safe(item, f"{where}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _assert_json_safe(item, f"{where}[{i}]")
    else:
        assert value is None or isinstance(value, (str, int, bool)), f"{type(value)} at {where}"
        assert not isinstance(value, float), f"float at {where}"


@pytest.fixture(scope="module")
def captured() -> dict[str, Any]:
    return capture_env()


def test_keys_present_and_json_safe(captured: dict[str, Any]) -> None:
    assert set(captured) == TOP_KEYS | {"env_vars"}
    _assert_json_safe(captured)
    json.dumps(captured, allow_nan=False)
    py = captured["python"]
    assert py["version"] == ".".join(str(p) for p in sys.version_info[:3])
    assert py["executable"] == sys.executable
    assert py["in_venv"] is (sys.prefix != sys.base_prefix)
    assert captured["hardware"]["cpu_count"] == os.cpu_count()
    assert isinstance(captured["hardware"]["gpus"], list)
    assert set(captured["timezone"]) >= {"tz_env", "name", "utc_offset_seconds"}
    assert set(captured["locale"]) == {"lang", "preferred_encoding", "filesystem_encoding"}


def test_known_packages_have_importlib_versions(captured: dict[str, Any]) -> None:
    packages = captured["packages"]
    assert list(packages) == sorted(packages)
    for name in ("pytest", "pluggy"):
        assert packages[name]["version"] == importlib.metadata.version(name)
    for key in packages:
        assert key == key.lower() and "_" not in key and "." not in key


def test_first_distribution_on_sys_path_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shadow = tmp_path / "shadow"
    info = shadow / "Py_Test-0.0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: Py_Test\nVersion: 0.0.1\n\n")
    (info / "direct_url.json").write_text(
        json.dumps(
            {"url": "https://u:" + "hunter" + "2pass@git.example/r.git", "vcs_info": {"vcs": "git"}}
        )
    )
    monkeypatch.syspath_prepend(str(shadow))
    packages = capture_env()["packages"]
    assert packages["py-test"]["version"] == "0.0.1"
    assert packages["py-test"]["direct_url"] == {
        "url": "https://git.example/r.git",
        "vcs": "git",
        "commit_id": None,
        "editable": False,
    }
    assert packages["pytest"]["version"] == importlib.metadata.version("pytest")


def test_thread_vars_reported_from_given_environ() -> None:
    threads = capture_env(environ={"OMP_NUM_THREADS": "3"})["threads"]
    assert threads["OMP_NUM_THREADS"] == "3"
    assert threads["MKL_NUM_THREADS"] is None


def test_cache_hit_returns_equal_result(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cold = capture_env(cache_dir=str(cache))
    files = sorted(p.name for p in cache.glob("env-packages-*.json"))
    assert files == [f"env-packages-{env_cache_key()}.json"]
    assert not list(cache.glob(".tmp-*"))  # atomic write leaves no temp behind
    warm = capture_env(cache_dir=str(cache))
    assert warm == cold
    assert warm["packages"] == capture_env()["packages"]


def test_corrupt_cache_is_ignored_and_rewritten(tmp_path: Path) -> None:
    target = tmp_path / f"env-packages-{env_cache_key()}.json"
    target.write_text("{not json")
    result = capture_env(cache_dir=str(tmp_path))
    assert result["packages"] == capture_env()["packages"]
    assert json.loads(target.read_text())["key"] == env_cache_key()


def test_cache_key_follows_sys_path_mtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    before = env_cache_key()
    assert env_cache_key() == before
    st = site.stat()
    os.utime(site, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert env_cache_key() != before


def test_cache_sees_new_distribution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    cache = str(tmp_path / "cache")
    assert "late-pkg" not in capture_env(cache_dir=cache)["packages"]
    info = site / "late_pkg-1.2.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: late_pkg\nVersion: 1.2.3\n\n")
    assert capture_env(cache_dir=cache)["packages"]["late-pkg"] == {"version": "1.2.3"}


def test_planted_secrets_never_appear() -> None:
    token = "tok" + "9f3K" * 8
    password = "pw" + "Zq7x" * 5
    environ = {
        "MY_API_TOKEN": token,
        "DATABASE_URL": f"postgresql://app:{password}@db.internal:5432/prod",
        "PYTHONPATH": "/srv/app",
        "LANG": "C.UTF-8",
    }
    result = capture_env(environ=environ, extra_env_patterns=["DATABASE_URL", "MY_*"])
    dumped = json.dumps(result)
    assert token not in dumped
    assert password not in dumped
    assert result["env_vars"]["MY_API_TOKEN"] == REDACTED
    assert result["env_vars"]["DATABASE_URL"] == REDACTED
    assert result["env_vars"]["PYTHONPATH"] == "/srv/app"


def test_standalone_probe_in_isolated_mode(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-I", str(ENV_PY)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert set(doc) == TOP_KEYS | {"env_vars"}
    assert doc["python"]["executable"] == sys.executable
    assert doc["packages"]["pytest"]["version"] == importlib.metadata.version("pytest")
    _assert_json_safe(doc)


def test_standalone_probe_does_not_need_runstate() -> None:
    """A foreign interpreter has no runstate: block the package and load env.py by path."""
    code = (
        "import importlib.util, json, runpy, sys\n"
        "sys.modules['runstate'] = None  # any 'import runstate...' now raises ImportError\n"
        f"spec = importlib.util.spec_from_file_location('probe', {str(ENV_PY)!r})\n"
        "mod = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(mod)\n"
        "assert mod._redact.__file__ == str(mod.Path(mod.__file__).with_name('redact.py'))\n"
        "print(json.dumps(mod.capture_env(environ={'LANG': 'C'})))\n"
        f"runpy.run_path({str(ENV_PY)!r}, run_name='__main__')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-I", "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    by_path, as_main = proc.stdout.splitlines()
    assert json.loads(by_path)["env_vars"] == {"LANG": "C"}
    assert set(json.loads(as_main)) == TOP_KEYS | {"env_vars"}
