"""The ``config`` component: params (nested keys dotted) and the config files a run read."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runstate.compare.changes import diff_values

__all__ = ["diff_config"]


def diff_config(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> dict[str, Any]:
    """``{"params": [change…], "files": [change…]}``; files compare by fingerprint."""
    a, b = a or {}, b or {}
    files_a: Mapping[str, Any] = a.get("files") or {}
    files_b: Mapping[str, Any] = b.get("files") or {}
    files = []
    for path in sorted(files_a.keys() | files_b.keys()):
        old, new = files_a.get(path), files_b.get(path)
        if old != new:
            change = "added" if old is None else "removed" if new is None else "changed"
            files.append({"key": path, "change": change, "old": old, "new": new})
    return {"params": diff_values(a.get("params"), b.get("params")), "files": files}
