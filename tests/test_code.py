"""Code capture against real git repositories built in tmp_path."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from runstate.state.code import UNTRACKED_MAX_BYTES, capture_code, default_hasher, function_hash

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.invalid",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, **GIT_ENV, "HOME": str(repo.parent)}
    proc = subprocess.run(
        ["git", "-c", "init.defaultBranch=main", *args],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return proc.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    git(root, "init", "-q")
    (root / "train.py").write_text("import model\nprint(model.fit())\n")
    (root / "model.py").write_text("def fit():\n    return 1\n")
    (root / ".gitignore").write_text("outputs/\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    return root


def _capture(root: Path, files: list[Path] | None = None, **kw: Any) -> dict[str, Any]:
    result = capture_code(root, [str(p) for p in files or []], **kw)
    for digest, data in result.blobs.items():
        assert default_hasher(data) == digest
    return result.manifest


def test_clean_repo(repo: Path) -> None:
    manifest = _capture(repo, [repo / "model.py"], entry=str(repo / "train.py"))
    g = manifest["git"]
    assert g["commit"] == git(repo, "rev-parse", "HEAD")
    assert g["branch"] == "main"
    assert g["dirty"] is False
    assert g["diff"] is None
    assert g["untracked"] == {}
    assert g["remote"] is None
    assert g["prefix"] == ""
    assert manifest["entry"] == "train.py"
    assert set(manifest["files"]) == {"model.py", "train.py"}


def test_modified_tracked_file_gives_diff_blob(repo: Path) -> None:
    (repo / "model.py").write_text("def fit():\n    return 2  # tuned\n")
    result = capture_code(repo, [])
    g = result.manifest["git"]
    assert g["dirty"] is True
    diff = result.blobs[g["diff"]]
    assert b"+    return 2  # tuned" in diff
    assert b"a/model.py" in diff


def test_binary_patch_applies(repo: Path) -> None:
    (repo / "model.py").write_text("def fit():\n    return 3\n")
    (repo / "weights.bin").write_bytes(bytes(range(256)))
    git(repo, "add", "weights.bin")
    result = capture_code(repo, [])
    diff = result.blobs[result.manifest["git"]["diff"]]
    git(repo, "stash", "-q")
    patch = repo.parent / "change.patch"
    patch.write_bytes(diff)
    git(repo, "apply", str(patch))
    assert (repo / "weights.bin").read_bytes() == bytes(range(256))
    assert "return 3" in (repo / "model.py").read_text()


def test_untracked_sources_are_captured(repo: Path) -> None:
    (repo / "pkg").mkdir()
    (repo / "pkg" / "features.py").write_text("X = 1\n")
    (repo / "data.parquet").write_bytes(b"PAR1")
    (repo / "big.py").write_text("X = [" + "0," * UNTRACKED_MAX_BYTES + "0]\n")
    (repo / "metrics.json").write_text("{}")  # data-like: runs write these, not code
    (repo / "outputs").mkdir()
    (repo / "outputs" / "ignored.py").write_text("ignored\n")
    result = capture_code(repo, [])
    g = result.manifest["git"]
    assert g["dirty"] is False  # untracked files are reported, not "dirty"
    assert set(g["untracked"]) == {"pkg/features.py", "big.py"}
    assert result.blobs[g["untracked"]["pkg/features.py"]] == b"X = 1\n"
    assert g["untracked"]["big.py"] is None
    assert g["skipped"] == {"big.py": "size"}


def test_remote_credentials_are_stripped(repo: Path) -> None:
    secret = "secret" + "123"
    git(repo, "remote", "add", "origin", f"https://user:{secret}@example.invalid/r.git")
    manifest = capture_code(repo, []).manifest
    assert manifest["git"]["remote"] == "https://example.invalid/r.git"
    assert secret not in repr(manifest)


def test_detached_head_and_subdirectory_root(repo: Path) -> None:
    git(repo, "checkout", "-q", "--detach")
    sub = repo / "sub"
    sub.mkdir()
    (sub / "step.py").write_text("pass\n")
    manifest = _capture(sub, [sub / "step.py", repo / "model.py"])
    assert manifest["git"]["branch"] is None
    assert manifest["git"]["prefix"] == "sub"
    assert manifest["git"]["untracked"] == {"sub/step.py": default_hasher(b"pass\n")}
    assert manifest["files"] == {"step.py": default_hasher(b"pass\n")}


def test_repo_without_commits(tmp_path: Path) -> None:
    root = tmp_path / "fresh"
    root.mkdir()
    git(root, "init", "-q")
    (root / "a.py").write_text("A = 1\n")
    clean = capture_code(root, []).manifest["git"]
    assert clean["commit"] is None
    assert clean["dirty"] is False
    assert clean["untracked"] == {"a.py": default_hasher(b"A = 1\n")}
    git(root, "add", "a.py")
    result = capture_code(root, [])
    staged = result.manifest["git"]
    assert staged["dirty"] is True
    assert b"+A = 1" in result.blobs[staged["diff"]]


def test_outside_git_still_captures_files(tmp_path: Path) -> None:
    root = tmp_path / "plain"
    root.mkdir()
    (root / "job.py").write_text("print(1)\n")
    manifest = _capture(root, [root / "job.py"], entry=str(root / "job.py"))
    assert manifest["git"] is None
    assert manifest["files"] == {"job.py": default_hasher(b"print(1)\n")}
    assert manifest["entry"] == "job.py"


def test_git_missing_gives_no_git_part(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(repo / "no-such-bin"))
    manifest = _capture(repo, [repo / "model.py"])
    assert manifest["git"] is None
    assert set(manifest["files"]) == {"model.py"}


def test_excluded_and_outside_files(tmp_path: Path) -> None:
    root = tmp_path / "plain"
    (root / "src" / "app").mkdir(parents=True)
    keep = root / "src" / "app" / "core.py"
    keep.write_text("CORE = 1\n")
    venv_site = root / ".venv" / "lib" / "python3.11" / "site-packages" / "dep"
    venv_site.mkdir(parents=True)
    (venv_site / "__init__.py").write_text("dep\n")
    env_dir = root / "myenv"
    (env_dir / "lib").mkdir(parents=True)
    (env_dir / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (env_dir / "lib" / "os.py").write_text("os\n")
    cache = root / "src" / "app" / "__pycache__"
    cache.mkdir()
    (cache / "core.cpython-311.pyc").write_bytes(b"\0")
    store = root / ".runstate"
    store.mkdir()
    (store / "x.py").write_text("x\n")
    outside = tmp_path / "elsewhere.py"
    outside.write_text("outside\n")
    manifest = _capture(
        root,
        [
            keep,
            venv_site / "__init__.py",
            env_dir / "lib" / "os.py",
            cache / "core.cpython-311.pyc",
            store / "x.py",
            outside,
            root / "missing.py",
            keep,
        ],
        entry=str(outside),
    )
    assert manifest["files"] == {"src/app/core.py": default_hasher(b"CORE = 1\n")}
    assert manifest["entry"] is None


def test_custom_hasher_names_every_blob(repo: Path) -> None:
    (repo / "model.py").write_text("changed\n")
    (repo / "new.py").write_text("new\n")

    def hasher(data: bytes) -> str:
        return "h" + default_hasher(data)[:20]

    result = capture_code(repo, [str(repo / "train.py")], hasher=hasher)
    g = result.manifest["git"]
    ids = {g["diff"], *g["untracked"].values(), *result.manifest["files"].values()}
    assert ids == set(result.blobs)
    assert all(i.startswith("h") for i in ids)


def _step_v1(x: int) -> int:
    return x + 1


def _step_v1_again(x: int) -> int:
    return x + 1


def _make_nested() -> Callable[[int], int]:
    def _step_v1(x: int) -> int:
        return x + 1

    return _step_v1


def _load_step(path: Path, body: str) -> Callable[[int], int]:
    path.write_text(f"def step(x):\n    {body}\n")
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    step: Callable[[int], int] = module.step
    return step


def test_function_hash(tmp_path: Path) -> None:
    h = function_hash(_step_v1)
    assert h is not None
    assert function_hash(_step_v1) == h
    assert function_hash(_step_v1_again) != h  # the name is part of the source
    assert function_hash(_make_nested()) == h  # dedented: nesting does not matter
    assert function_hash(len) is None
    source = function_hash(_step_v1, hasher=lambda b: b.decode())
    assert source == "def _step_v1(x: int) -> int:\n    return x + 1\n"
    a = _load_step(tmp_path / "mod_a.py", "return x + 1")
    a_again = _load_step(tmp_path / "mod_a2.py", "return x + 1")
    b = _load_step(tmp_path / "mod_b.py", "return x + 2")
    assert function_hash(a) == function_hash(a_again)
    assert function_hash(a) != function_hash(b)
