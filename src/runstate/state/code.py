"""Capture the *code* dimension: git position, uncommitted changes and the files actually run.

Why
---
A commit id alone does not say which code ran: people run with uncommitted edits, with new
files not yet added, or from a directory that is not a repository at all. To make a run
diffable and replayable we record

* the git position (commit, branch, origin remote) when there is one,
* the exact uncommitted change as a binary patch (``git diff --binary HEAD``), so replay can
  check out the commit and ``git apply`` it,
* the untracked source files, whose content a patch cannot carry,
* the content of every project file the run imported (``files``), which works without git.

Every piece of content is identified by ``hasher`` (BLAKE3 in production) and returned in
:attr:`CodeCapture.blobs`, so the caller can put it in the content-addressed store and the
manifest only holds ids. The manifest is JSON-safe and float-free.

Costs and safety
----------------
This runs inside the 150 ms launcher budget, in repositories people are working in. So: one
``git status --porcelain=v2`` gives commit, branch, dirtiness and the untracked list; ``git
diff`` runs only when the tree is dirty; one ``git config`` reads the remote. Every call sets
``GIT_OPTIONAL_LOCKS=0`` (git status must not refresh and lock the user's index) and
``LC_ALL=C``, and has a timeout. The diff ignores user diff drivers, colour and prefix
settings so that the patch bytes depend on the change only. Remote URLs are stored without
credentials.

``dirty`` follows git's own meaning (``git describe --dirty``): tracked files differ from
``HEAD``. Untracked files are reported separately under ``untracked``.
"""

from __future__ import annotations

import hashlib
import inspect
import os
import subprocess
import textwrap
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runstate.state.redact import strip_url_credentials

__all__ = [
    "SOURCE_SUFFIXES",
    "UNTRACKED_MAX_BYTES",
    "CodeCapture",
    "capture_code",
    "capture_git",
    "default_hasher",
    "function_hash",
]

#: Untracked files with these suffixes are captured as code. Data-like suffixes (.json,
#: .txt, .md, .yaml, …) are left out on purpose: runs often write such files into the work
#: tree, and counting them as code would change the code id of every later run. Config
#: files a run reads are recorded by the config dimension instead.
SOURCE_SUFFIXES: frozenset[str] = frozenset(
    {
        ".py", ".pyx", ".pxd", ".ipynb", ".sql", ".r", ".R", ".jl", ".sh", ".scala", ".java",
        ".go", ".rs", ".c", ".h", ".cpp",
    }
)  # fmt: skip

#: Larger untracked files are listed without content: they are data, not code.
UNTRACKED_MAX_BYTES = 1024 * 1024

_GIT_TIMEOUT_S = 10.0
# Folder names whose content is never "project code", wherever they appear under the root.
_EXCLUDED_DIRS = frozenset(
    {"site-packages", "dist-packages", ".runstate", "__pycache__", ".git", ".venv", ".tox"}
)
# A directory holding one of these is a virtualenv / conda env, whatever its name.
_ENV_MARKERS = ("pyvenv.cfg", "conda-meta")
_DIFF_ARGS = (
    "diff", "--binary", "--no-color", "--no-ext-diff", "--no-textconv",
    "--src-prefix=a/", "--dst-prefix=b/",
)  # fmt: skip


def default_hasher(data: bytes) -> str:
    """Stdlib content id (BLAKE2b-256, hex). Production passes BLAKE3 instead."""
    return hashlib.blake2b(data, digest_size=32).hexdigest()


@dataclass(frozen=True)
class CodeCapture:
    """The code manifest plus the bytes of every content id it mentions."""

    manifest: dict[str, Any]
    blobs: dict[str, bytes]


class _GitError(Exception):
    """git is missing, failed, timed out, or the root is not in a work tree."""


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    env = dict(os.environ)
    env.update({"GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C", "GIT_TERMINAL_PROMPT": "0"})
    try:
        return subprocess.run(
            ["git", *args],
            cwd=root,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=_GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise _GitError(str(exc)) from exc


def _find_work_tree(root: Path) -> Path | None:
    """Walk up to the directory holding ``.git`` (a dir, or a file for worktrees/submodules).

    Porcelain paths are relative to the top of the work tree; finding it by ``stat`` saves
    a ``git rev-parse --show-toplevel`` subprocess.
    """
    for directory in (root, *root.parents):
        if (directory / ".git").exists():
            return directory
    return None


def _parse_status(out: bytes) -> tuple[str | None, str | None, bool, list[str]]:
    """Parse ``git status --porcelain=v2 --branch -z`` into (commit, branch, dirty, untracked)."""
    commit: str | None = None
    branch: str | None = None
    dirty = False
    untracked: list[str] = []
    fields = out.split(b"\0")
    i = 0
    while i < len(fields):
        field = fields[i]
        i += 1
        if not field:
            continue
        if field.startswith(b"# branch.oid "):
            oid = field[len(b"# branch.oid ") :].decode("ascii", "replace")
            commit = None if oid == "(initial)" else oid
        elif field.startswith(b"# branch.head "):
            head = os.fsdecode(field[len(b"# branch.head ") :])
            branch = None if head == "(detached)" else head
        elif field[:2] in (b"1 ", b"u "):
            dirty = True
        elif field.startswith(b"2 "):
            dirty = True
            i += 1  # a rename/copy record is followed by its original path
        elif field.startswith(b"? "):
            untracked.append(os.fsdecode(field[2:]))
    return commit, branch, dirty, untracked


def _capture_untracked(
    top: Path, paths: list[str], hasher: Callable[[bytes], str], blobs: dict[str, bytes]
) -> tuple[dict[str, str | None], dict[str, str]]:
    captured: dict[str, str | None] = {}
    skipped: dict[str, str] = {}
    for rel in sorted(paths):
        if Path(rel).suffix not in SOURCE_SUFFIXES:
            continue
        full = top / rel
        try:
            if full.stat().st_size > UNTRACKED_MAX_BYTES:
                captured[rel] = None
                skipped[rel] = "size"
                continue
            data = full.read_bytes()
        except OSError:
            continue  # vanished or unreadable since git listed it
        digest = hasher(data)
        blobs[digest] = data
        captured[rel] = digest
    return captured, skipped


def _capture_git(
    root: Path, hasher: Callable[[bytes], str], blobs: dict[str, bytes]
) -> dict[str, Any] | None:
    top = _find_work_tree(root)
    if top is None:
        return None
    try:
        status = _git(root, "status", "--porcelain=v2", "--branch", "-z", "--untracked-files=all")
        if status.returncode != 0:
            return None
        commit, branch, dirty, untracked_paths = _parse_status(status.stdout)
        diff_id: str | None = None
        if dirty:
            # No commit yet: diff against the empty tree, whose id git computes for us
            # (it differs between SHA-1 and SHA-256 repositories).
            base = commit
            if base is None:
                empty = _git(root, "hash-object", "-t", "tree", "--stdin")
                base = empty.stdout.decode("ascii").strip() if empty.returncode == 0 else None
            diff = _git(root, *_DIFF_ARGS, base) if base else None
            if diff is not None and diff.returncode == 0 and diff.stdout:
                diff_id = hasher(diff.stdout)
                blobs[diff_id] = diff.stdout
        remote_proc = _git(root, "config", "--get", "remote.origin.url")
    except _GitError:
        return None
    remote_url = remote_proc.stdout.decode("utf-8", "replace").strip()
    untracked, skipped = _capture_untracked(top, untracked_paths, hasher, blobs)
    prefix = root.relative_to(top).as_posix()
    return {
        "commit": commit,
        "branch": branch,
        "remote": strip_url_credentials(remote_url) if remote_url else None,
        "dirty": dirty,
        "diff": diff_id,
        "untracked": untracked,
        "skipped": skipped,
        "prefix": "" if prefix == "." else prefix,
    }


def _absolute(path: str | os.PathLike[str]) -> Path:
    """Absolute and ``..``-free, *without* following symlinks (unlike ``Path.resolve``).

    Membership under the root is decided on the path as the program saw it: a project file
    that is a symlink to elsewhere is still project code.
    """
    return Path(os.path.normpath(Path(path).absolute()))


class _FileFilter:
    """Decide which module files are project code, caching per-directory environment checks."""

    def __init__(self, root: Path) -> None:
        # Also accept the symlink-free spelling of the root: module __file__ values may use it.
        self.roots = list(dict.fromkeys([root, root.resolve()]))
        self._is_env_dir: dict[Path, bool] = {}

    def relpath(self, path: str) -> tuple[Path, str] | None:
        """(absolute path, posix path relative to the root), or None when outside the root or
        in an excluded folder."""
        full = _absolute(path)
        for root in self.roots:
            if full == root or root not in full.parents:
                continue
            parts = full.relative_to(root).parts
            if any(p in _EXCLUDED_DIRS for p in parts[:-1]) or self._inside_env(root, parts):
                return None
            return full, "/".join(parts)
        return None

    def _inside_env(self, root: Path, parts: tuple[str, ...]) -> bool:
        current = root
        for part in parts[:-1]:
            current = current / part
            cached = self._is_env_dir.get(current)
            if cached is None:
                cached = any((current / marker).exists() for marker in _ENV_MARKERS)
                self._is_env_dir[current] = cached
            if cached:
                return True
        return False


GitCapture = tuple[dict[str, Any] | None, dict[str, bytes]]


def capture_git(
    project_root: str | os.PathLike[str], hasher: Callable[[bytes], str] = default_hasher
) -> GitCapture:
    """Only the git part of :func:`capture_code`: ``(manifest or None, blobs)``.

    Separate so the launcher can run it while the command is still running.
    """
    blobs: dict[str, bytes] = {}
    return _capture_git(_absolute(project_root), hasher, blobs), blobs


def capture_code(
    project_root: str | os.PathLike[str],
    module_files: Iterable[str],
    entry: str | None = None,
    hasher: Callable[[bytes], str] = default_hasher,
    git: GitCapture | None = None,
) -> CodeCapture:
    """Capture the code of a run rooted at *project_root*.

    *module_files* are the files the run loaded (typically ``__file__`` of every module in
    ``sys.modules``); only those under the root, outside virtualenvs, site-packages,
    ``.runstate`` and ``__pycache__``, that exist, are kept. *entry* is the script that was
    run; it is included when under the root. The manifest is
    ``{"git": {...} | None, "files": {relpath: id}, "entry": relpath | None}``.
    """
    root = _absolute(project_root)
    git_manifest, git_blobs = git if git is not None else capture_git(root, hasher)
    blobs = dict(git_blobs)

    file_filter = _FileFilter(root)
    entry_match = file_filter.relpath(entry) if entry else None
    candidates = list(module_files) + ([entry] if entry else [])
    files: dict[str, str] = {}
    for path in candidates:
        match = file_filter.relpath(path)
        if match is None or match[1] in files:
            continue
        full, rel = match
        try:
            data = full.read_bytes()
        except OSError:  # missing, a directory, unreadable
            continue
        digest = hasher(data)
        blobs[digest] = data
        files[rel] = digest
    manifest: dict[str, Any] = {
        "git": git_manifest,
        "files": dict(sorted(files.items())),
        "entry": entry_match[1] if entry_match else None,
    }
    return CodeCapture(manifest=manifest, blobs=blobs)


def function_hash(
    fn: Callable[..., Any], hasher: Callable[[bytes], str] = default_hasher
) -> str | None:
    """Content id of a function's source, to record the code of a pipeline step.

    The source is dedented (a method hashes like the same function at top level), line
    endings are normalised (a Windows checkout hashes like a Linux one) and trailing
    whitespace is dropped. Decorated functions are unwrapped by :mod:`inspect`. Returns None
    when there is no source: builtins, C extensions, code typed into a REPL.
    """
    try:
        source = inspect.getsource(fn)
    except (OSError, TypeError):
        return None
    lines = textwrap.dedent(source.replace("\r\n", "\n").replace("\r", "\n")).split("\n")
    normalised = "\n".join(line.rstrip() for line in lines).strip("\n") + "\n"
    return hasher(normalised.encode("utf-8"))
