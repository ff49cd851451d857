"""Materialise a run's recorded code in a fresh sandbox folder, exactly, or refuse.

What :mod:`runstate.state.code` recorded decides how:

* **git** (a commit was recorded): ``git worktree add --detach`` of that commit from the
  project's repository, then the recorded uncommitted change (``git diff --binary HEAD``
  bytes, from the object store) applied with ``git apply --binary``, then the untracked
  source files written from their stored blobs. A worktree (rather than ``git archive``)
  keeps the sandbox a git checkout, so the replayed run records the same commit and diff.
* **stored sources** (no git, or the commit is gone from the repository): every project
  file the run imported, and its entry script, written from their stored blobs.

Either way, every recorded project file (``files``: path → BLAKE3) is then checked in the
sandbox: restored code that differs by one byte from what ran stops the replay with
:class:`~runstate.errors.CodeRestoreError` before anything is run. So does a diff that does
not apply, a missing blob, or a commit gone with no stored sources.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runstate.errors import CodeRestoreError, ObjectMissing
from runstate.state.canonical import hash_bytes
from runstate.store.objects import ObjectStore

__all__ = ["MaterialisedCode", "materialise_code", "overlay_files", "remove_code"]

_GIT_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class MaterialisedCode:
    top: Path  # the restored tree (the work tree's top for git)
    project_root: Path  # where the recorded project root is in the sandbox
    how: str  # "git-worktree" | "git-apply" | "stored-files"
    repo: Path | None = None  # the repository the worktree belongs to
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"how": self.how, "project_root": str(self.project_root), "notes": self.notes}


def _git(cwd: Path, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    env = dict(os.environ)
    env.update({"LC_ALL": "C", "GIT_TERMINAL_PROMPT": "0"})
    try:
        return subprocess.run(
            ["git", *args],
            cwd=cwd,
            env=env,
            input=stdin,
            stdin=None if stdin is not None else subprocess.DEVNULL,
            capture_output=True,
            timeout=_GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise CodeRestoreError(f"git {args[0]}: cannot run git ({exc})") from None


def _first_line(data: bytes) -> str:
    lines = [ln for ln in data.decode("utf-8", "replace").splitlines() if ln.strip()]
    return lines[0].strip() if lines else "no message"


def _blob(objects: ObjectStore, object_id: str, what: str) -> bytes:
    try:
        return objects.get_bytes(object_id)
    except ObjectMissing:
        raise CodeRestoreError(f"{what}: object {object_id} is missing from the store") from None


def _safe_join(root: Path, rel: str) -> Path:
    target = Path(os.path.normpath(root / rel))
    if target != root and root not in target.parents:
        raise CodeRestoreError(f"recorded path {rel!r} leaves the project: refusing to write it")
    return target


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _repo_top(repo_root: Path) -> Path | None:
    result = _git(repo_root, "rev-parse", "--show-toplevel")
    if result.returncode != 0:
        return None
    return Path(result.stdout.decode().strip())


def _has_commit(top: Path, commit: str) -> bool:
    return _git(top, "cat-file", "-e", f"{commit}^{{commit}}").returncode == 0


def _apply_diff(objects: ObjectStore, git: Mapping[str, Any], where: Path) -> None:
    diff_id = git.get("diff")
    if not diff_id:
        if git.get("dirty"):
            raise CodeRestoreError(
                "the run had uncommitted changes but no diff was recorded: cannot restore them"
            )
        return
    patch = _blob(objects, str(diff_id), "recorded uncommitted diff")
    check = _git(where, "apply", "--check", "--binary", "--whitespace=nowarn", "-", stdin=patch)
    if check.returncode != 0:
        raise CodeRestoreError(
            f"the recorded uncommitted diff ({str(diff_id)[:12]}) does not apply to commit "
            f"{str(git.get('commit'))[:12]}: {_first_line(check.stderr)}"
        )
    applied = _git(where, "apply", "--binary", "--whitespace=nowarn", "-", stdin=patch)
    if applied.returncode != 0:
        raise CodeRestoreError(f"git apply failed: {_first_line(applied.stderr)}")


def _write_untracked(
    objects: ObjectStore, git: Mapping[str, Any], top: Path, notes: list[str]
) -> None:
    for rel, blob_id in sorted((git.get("untracked") or {}).items()):
        if blob_id is None:
            notes.append(f"untracked file {rel} was too large to store and is not restored")
            continue
        _write(_safe_join(top, rel), _blob(objects, str(blob_id), f"untracked file {rel}"))


def _write_files(objects: ObjectStore, files: Mapping[str, str], root: Path) -> None:
    for rel, blob_id in sorted(files.items()):
        _write(_safe_join(root, rel), _blob(objects, blob_id, f"project file {rel}"))


def _verify(objects: ObjectStore, files: Mapping[str, str], root: Path, notes: list[str]) -> None:
    """Every recorded project file must be in the sandbox with the recorded bytes.

    A file git does not have (ignored by .gitignore, so neither tracked nor listed as
    untracked) is written from its stored blob; one git has with other bytes is an error.
    """
    for rel, blob_id in sorted(files.items()):
        path = _safe_join(root, rel)
        try:
            digest = hash_bytes(path.read_bytes())
        except FileNotFoundError:
            _write(path, _blob(objects, blob_id, f"project file {rel}"))
            notes.append(f"{rel} (not in git) restored from its stored copy")
            continue
        except OSError:
            raise CodeRestoreError(
                f"restored code lacks {rel}, which the run imported: refusing to run other code"
            ) from None
        if digest != blob_id:
            raise CodeRestoreError(
                f"restored {rel} differs from the code the run imported: refusing to run other code"
            )


def materialise_code(
    objects: ObjectStore, code: Mapping[str, Any], repo_root: Path, dest: Path
) -> MaterialisedCode:
    """Restore the code component ``code`` under ``dest`` (which must not exist yet)."""
    git = code.get("git") or None
    files: Mapping[str, str] = code.get("files") or {}
    notes: list[str] = []
    result: MaterialisedCode | None = None
    if git and git.get("commit"):
        commit = str(git["commit"])
        top = _repo_top(repo_root)
        if top is None or not _has_commit(top, commit):
            where = f"the repository at {top}" if top else f"{repo_root} (not a git repository)"
            if not files:
                raise CodeRestoreError(
                    f"commit {commit[:12]} is not in {where} (force-pushed or never fetched?) "
                    "and the run stored no sources: the code cannot be restored"
                )
            notes.append(
                f"commit {commit[:12]} is not in {where}: code restored from the "
                f"{len(files)} stored project files the run imported"
            )
        else:
            added = _git(top, "worktree", "add", "--detach", "--quiet", str(dest), commit)
            if added.returncode != 0:
                raise CodeRestoreError(
                    f"cannot create a worktree of {commit[:12]} at {dest}: "
                    f"{_first_line(added.stderr)}"
                )
            result = MaterialisedCode(
                dest, dest / (git.get("prefix") or ""), "git-worktree", top, notes
            )
            try:
                _apply_diff(objects, git, dest)
                _write_untracked(objects, git, dest, notes)
            except BaseException:
                remove_code(result)
                raise
    elif git and git.get("diff"):  # a repository without commits: the diff is everything
        dest.mkdir(parents=True)
        _apply_diff(objects, git, dest)
        _write_untracked(objects, git, dest, notes)
        result = MaterialisedCode(dest, dest / (git.get("prefix") or ""), "git-apply", None, notes)
    if result is None:
        if not files:
            raise CodeRestoreError("the run recorded no git commit and no project files")
        dest.mkdir(parents=True, exist_ok=True)
        _write_files(objects, files, dest)
        result = MaterialisedCode(dest, dest, "stored-files", None, notes)
    try:
        result.project_root.mkdir(parents=True, exist_ok=True)
        _verify(objects, files, result.project_root, notes)
    except BaseException:
        remove_code(result)
        raise
    return result


def remove_code(code: MaterialisedCode) -> None:
    """Remove the restored tree (and its worktree registration)."""
    import shutil

    if code.repo is not None:
        _git(code.repo, "worktree", "remove", "--force", str(code.top))
        _git(code.repo, "worktree", "prune")
    shutil.rmtree(code.top, ignore_errors=True)


def overlay_files(
    objects: ObjectStore, files: Mapping[str, str | None], project_root: Path
) -> list[str]:
    """Write other versions of some project files over restored code (a code hybrid for
    ``runstate explain``): path -> object id of the bytes, None removes the file."""
    notes = []
    for rel, blob_id in sorted(files.items()):
        path = _safe_join(project_root, rel)
        if blob_id is None:
            path.unlink(missing_ok=True)
            notes.append(f"hybrid code: {rel} removed")
        else:
            _write(path, _blob(objects, blob_id, f"hybrid file {rel}"))
            notes.append(f"hybrid code: {rel} overlaid ({blob_id[:12]})")
    return notes
