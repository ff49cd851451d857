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
        "assert mod._redact.__file__ == mod.os.path.join(mod.os.path.dirname(mod.__file__), "
        "'redact.py')\n"
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


# --- the caches and the module-free live paths change nothing ---------------------------------


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def test_cached_capture_is_identical_to_a_fresh_one(tmp_path: Path) -> None:
    """With a cold or a warm cache, the content is what a capture without cache computes."""
    cache = tmp_path / "cache"
    environ = {"OMP_NUM_THREADS": "2", "LANG": "C.UTF-8", "TZ": "UTC", "PATH": "/usr/bin"}
    fresh = capture_env(environ=environ)
    cold = capture_env(cache_dir=str(cache), environ=environ)
    warm = capture_env(cache_dir=str(cache), environ=environ)
    assert _canonical(cold) == _canonical(fresh)
    assert _canonical(warm) == _canonical(fresh)
    kinds = {name.split("-")[1] for name in os.listdir(cache)}
    assert "packages" in kinds
    if env_mod._machine_cache_key(env_mod._boot_id()) is not None:
        assert "machine" in kinds


def test_invalid_machine_cache_is_recomputed(tmp_path: Path) -> None:
    key = env_mod._machine_cache_key(env_mod._boot_id())
    if key is None:
        pytest.skip("no machine cache on this platform")
    target = tmp_path / f"env-machine-{key}.json"
    target.write_text(json.dumps({"format": 1, "key": key, "payload": {"python": {}}}))
    assert _canonical(capture_env(cache_dir=str(tmp_path))) == _canonical(capture_env())
    assert json.loads(target.read_text())["payload"] == env_mod._machine_info()


def test_machine_cache_key_follows_its_inputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not hasattr(os, "uname"):
        pytest.skip("no machine cache without os.uname")
    release = tmp_path / "os-release"
    release.write_text('PRETTY_NAME="Test OS 1"\n')
    monkeypatch.setattr(env_mod, "_OS_RELEASE_PATHS", (str(release), str(tmp_path / "none")))
    boot = b"3a8e0b52-0000-4000-8000-000000000000\n"
    key = env_mod._machine_cache_key(boot)
    assert key is not None and env_mod._machine_cache_key(boot) == key
    assert env_mod._machine_cache_key(boot.replace(b"3a", b"4b")) != key  # a reboot
    st = release.stat()
    os.utime(release, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert env_mod._machine_cache_key(boot) != key  # an OS upgrade rewrites os-release
    if sys.platform.startswith("linux"):
        assert env_mod._machine_cache_key(None) is None  # no boot id: no cache


def test_preferred_encoding_is_locales() -> None:
    import locale

    assert env_mod._preferred_encoding() == locale.getpreferredencoding(False)


def test_localtime_zone_is_what_path_resolve_gives() -> None:
    try:
        target = Path("/etc/localtime").resolve().as_posix()
        expected = target.split("/zoneinfo/", 1)[1] if "/zoneinfo/" in target else None
    except (OSError, RuntimeError):
        expected = None
    assert env_mod._localtime_zone() == expected


@pytest.mark.skipif(sys.platform == "win32", reason="the POSIX search is ours; shutil on Windows")
def test_which_is_shutil_which(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    plain, folder, good = tmp_path / "plain", tmp_path / "folder", tmp_path / "good"
    for path in (plain, folder, good):
        path.mkdir()
    (plain / "tool").write_text("not executable")
    (folder / "tool").mkdir()
    (good / "tool").write_text("#!/bin/sh\n")
    (good / "tool").chmod(0o755)
    monkeypatch.chdir(good)
    paths = [
        f"{plain}:{folder}:{good}",
        f"{plain}:{plain}:{tmp_path}",
        "",
        ":",
        f"{folder}::{good}",
        str(tmp_path / "missing"),
    ]
    for path in paths:
        monkeypatch.setenv("PATH", path)
        for name in ("tool", "sh", "definitely-not-a-command"):
            assert env_mod._which(name) == shutil.which(name), (path, name)
    monkeypatch.delenv("PATH")
    assert env_mod._which("sh") == shutil.which("sh")


@pytest.mark.skipif(os.sep != "/", reason="pathlib is used as is on Windows")
@pytest.mark.parametrize(
    "entry",
    [
        "",
        ".",
        "./",
        "a",
        "a/./b/",
        "../x",
        "a/../b",
        "/",
        "//",
        "///",
        "//x/y",
        "///x",
        "/a//b/./c/",
    ],
)
def test_absolute_path_text_is_pathlib(
    entry: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert env_mod._absolute_path_text(entry) == str(Path(entry or os.curdir).absolute())


@pytest.mark.parametrize(
    "text",
    [
        '{"format": 1, "key": "k", "payload": {"a": [1, -2, null, true, false, "\\u00e9"]}}',
        ' \n{"a":{"b":[[],{}]}}\r\n\t',
        '"x"',
        "123456789012345678901234567890",
        "[1.5, -0.0, 1e300]",
    ],
)
def test_json_loads_is_json(text: str) -> None:
    assert env_mod._json_loads(text) == json.loads(text)


@pytest.mark.parametrize("text", ["", "  ", "{", "[1] x", "\ufeff{}", '{"a":1,}', "[1,]", "nul"])
def test_json_loads_rejects_what_json_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        json.loads(text)
    with pytest.raises(ValueError):
        env_mod._json_loads(text)


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or env_mod._boot_id() is None,
    reason="the machine facts are cached on Linux with a boot id",
)
def test_warm_capture_imports_no_heavy_module(tmp_path: Path) -> None:
    """The bootstrap loads env.py at exit of every captured process: a warm capture must not
    import the modules that made it slow (json/re/typing/platform/...: ~40 ms together)."""
    heavy = {
        "re", "json", "typing", "platform", "locale", "pathlib", "shutil", "hashlib", "struct",
        "fnmatch", "contextlib", "importlib.util", "importlib.metadata", "subprocess", "tempfile",
    }  # fmt: skip
    code = (
        "import sys\n"
        "before = set(sys.modules)\n"
        "from importlib.machinery import SourceFileLoader\n"
        f"loader = SourceFileLoader('probe', {str(ENV_PY)!r})\n"
        "mod = type(sys)('probe')\n"
        "mod.__file__ = loader.path\n"
        "mod.__package__ = ''\n"
        "loader.exec_module(mod)\n"
        f"mod.capture_env(cache_dir={str(tmp_path / 'cache')!r})\n"
        "print(' '.join(sorted(set(sys.modules) - before)))\n"
    )
    # -S: no site-packages .pth files importing things first; -I: no cwd on sys.path.
    argv = [sys.executable, "-S", "-I", "-c", code]
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    for _ in range(2):  # the first run fills the cache
        proc = subprocess.run(argv, capture_output=True, text=True, cwd=cwd, timeout=60)
        assert proc.returncode == 0, proc.stderr
    imported = set(proc.stdout.split())
    assert "_json" in imported  # what the warm path does use
    assert not imported & heavy, sorted(imported & heavy)
