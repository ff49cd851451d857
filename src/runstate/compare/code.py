"""The ``code`` component: changed project files as unified diffs, changed functions/classes.

The code component (see :mod:`runstate.state.code`) records the git position, the
uncommitted patch, untracked sources and the content id of every project file the run
imported; the contents are in the object store. So a diff needs no git checkout: changed
files are diffed from their stored bytes, and for Python sources the names of functions and
classes whose source changed are found with :mod:`ast` (a change of comments or layout only
is not a change of a function).
"""

from __future__ import annotations

import ast
import difflib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from runstate.compare.changes import diff_values

if TYPE_CHECKING:
    from runstate.store.objects import ObjectStore

__all__ = ["DIFF_MAX_LINES", "changed_symbols", "diff_code", "unified_diff"]

#: Longer unified diffs are cut (``diff_truncated``): a renderer wants a readable excerpt.
DIFF_MAX_LINES = 400
_TEXT_MAX_BYTES = 2 * 1024 * 1024


def _symbols(source: str) -> dict[str, tuple[str, str]] | None:
    """``{qualified name: (kind, ast dump of its own body)}``; None when it does not parse."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    found: dict[str, tuple[str, str]] = {}

    def visit(body: list[ast.stmt], prefix: str) -> None:
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = prefix + node.name
                kind = "class" if isinstance(node, ast.ClassDef) else "function"
                # A class "changes" when its own statements change, not when a method does:
                # nested definitions are reported under their own names.
                own = [
                    child
                    for child in node.body
                    if not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                ]
                signature = ast.dump(
                    ast.Module(body=own, type_ignores=[]), include_attributes=False
                )
                header = (
                    ast.dump(node.args) if not isinstance(node, ast.ClassDef) else ""
                ) + "".join(ast.dump(d) for d in node.decorator_list)
                found[name] = (kind, header + signature)
                visit(node.body, name + ".")

    visit(tree.body, "")
    return found


def changed_symbols(old: str | None, new: str | None) -> list[dict[str, str]]:
    """Functions/classes added, removed or modified between two versions of a source."""
    before = _symbols(old) if old is not None else {}
    after = _symbols(new) if new is not None else {}
    if before is None or after is None:
        return []
    out = []
    for name in sorted(before.keys() | after.keys()):
        if name not in before:
            out.append({"name": name, "kind": after[name][0], "change": "added"})
        elif name not in after:
            out.append({"name": name, "kind": before[name][0], "change": "removed"})
        elif before[name] != after[name]:
            out.append({"name": name, "kind": after[name][0], "change": "modified"})
    return out


def _text(data: bytes | None) -> str | None:
    if data is None or len(data) > _TEXT_MAX_BYTES or b"\x00" in data[:8192]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def unified_diff(
    path: str, old: str | None, new: str | None, max_lines: int = DIFF_MAX_LINES
) -> tuple[str, int, int, bool]:
    """(diff text, lines added, lines removed, truncated)."""
    lines = list(
        difflib.unified_diff(
            (old or "").splitlines(keepends=True),
            (new or "").splitlines(keepends=True),
            fromfile="/dev/null" if old is None else f"a/{path}",
            tofile="/dev/null" if new is None else f"b/{path}",
        )
    )
    added = sum(1 for line in lines if line.startswith("+") and not line.startswith("+++"))
    removed = sum(1 for line in lines if line.startswith("-") and not line.startswith("---"))
    truncated = len(lines) > max_lines
    shown = lines[:max_lines]
    text = "".join(line if line.endswith("\n") else line + "\n" for line in shown)
    return text, added, removed, truncated


def _read(objects: ObjectStore, object_id: str | None) -> bytes | None:
    if object_id is None:
        return None
    try:
        return objects.get_bytes(object_id)
    except (OSError, LookupError):
        return None


def _files(body: Mapping[str, Any]) -> dict[str, str]:
    files = dict(body.get("files") or {})
    git = body.get("git") or {}
    for path, object_id in (git.get("untracked") or {}).items():
        if isinstance(object_id, str):
            files.setdefault(path, object_id)
    return files


def _git_view(body: Mapping[str, Any]) -> dict[str, Any]:
    git = body.get("git") or {}
    return {
        "commit": git.get("commit"),
        "branch": git.get("branch"),
        "remote": git.get("remote"),
        "dirty": git.get("dirty"),
        "patch": git.get("diff"),
        "untracked": sorted(git.get("untracked") or {}),
        "entry": body.get("entry"),
    }


def diff_code(
    objects: ObjectStore,
    a: Mapping[str, Any] | None,
    b: Mapping[str, Any] | None,
    limit: int | None = 20,
) -> dict[str, Any]:
    """``{"git", "files", "files_omitted", "symbols"}`` (see docs/diff.md)."""
    a, b = a or {}, b or {}
    git = [c for c in diff_values(_git_view(a), _git_view(b)) if not c["key"].startswith("_")]
    files_a, files_b = _files(a), _files(b)
    changed = [
        p for p in sorted(files_a.keys() | files_b.keys()) if files_a.get(p) != files_b.get(p)
    ]
    files: list[dict[str, Any]] = []
    symbols: list[str] = []
    for index, path in enumerate(changed):
        old_id, new_id = files_a.get(path), files_b.get(path)
        old_text = _text(_read(objects, old_id))
        new_text = _text(_read(objects, new_id))
        binary = (old_id is not None and old_text is None) or (
            new_id is not None and new_text is None
        )
        file_symbols = (
            changed_symbols(old_text, new_text) if path.endswith(".py") and not binary else []
        )
        symbols.extend(f"{path}:{s['name']}" for s in file_symbols)
        if limit is not None and index >= limit:
            continue
        change = "added" if old_id is None else "removed" if new_id is None else "modified"
        diff_text, added, removed, truncated = (None, 0, 0, False)
        if not binary:
            diff_text, added, removed, truncated = unified_diff(path, old_text, new_text)
        files.append(
            {
                "path": path,
                "change": change,
                "old": old_id,
                "new": new_id,
                "binary": binary,
                "diff": diff_text,
                "diff_truncated": truncated,
                "lines_added": added,
                "lines_removed": removed,
                "symbols": file_symbols,
            }
        )
    omitted = len(changed) - len(files)
    return {"git": git, "files": files, "files_omitted": omitted, "symbols": symbols}
