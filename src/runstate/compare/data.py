"""Data entries (inputs, model files, outputs): rows, cells, schema, profiles, coverage, files.

One function, :func:`diff_entry`, compares two recorded entries of the same name — the
``inputs``/``outputs`` items of two run records. What it can say depends on what was
recorded:

* tables: rows (added/removed/changed keys, or a multiset diff without a key) and schema
  from the stored fingerprint tables; cells (old → new) where both sides kept a snapshot
  (``full`` retention) — with ``fingerprint`` retention cells are marked unavailable;
  per-column profile shifts and new time-coverage gaps from the stored profiles;
* folders: added/removed/changed files from the stored manifests;
* files: the fingerprint.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runstate.store.objects import ObjectStore

__all__ = ["EntryDiff", "diff_entry", "diff_profiles"]

#: Statistics of a column profile compared for shifts, in display order.
_STATS = ("null_rate", "nan_rate", "min", "max", "mean", "std", "distinct", "top_values")

EntryDiff = tuple[dict[str, Any], bool, str | None, list[str]]


def _kind(entry: Mapping[str, Any]) -> str:
    return str(entry.get("kind") or "file")


def _old_new(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None, key: str) -> dict[str, Any]:
    return {"old": None if a is None else a.get(key), "new": None if b is None else b.get(key)}


def _load(objects: ObjectStore, object_id: str | None) -> Any:
    if not object_id:
        return None
    import json

    try:
        return json.loads(objects.get_bytes(object_id))
    except (OSError, LookupError, ValueError):
        return None


def _close(x: Any, y: Any) -> bool:
    if isinstance(x, float) and isinstance(y, float):
        return math.isclose(x, y, rel_tol=1e-12, abs_tol=1e-300)
    return bool(x == y) and type(x) is type(y)


def _stats(column: Mapping[str, Any], rows: int) -> dict[str, Any]:
    out = {k: column.get(k) for k in ("min", "max", "mean", "std", "distinct")}
    if rows:
        out["null_rate"] = round(int(column.get("nulls") or 0) / rows, 9)
        if "nans" in column:
            out["nan_rate"] = round(int(column.get("nans") or 0) / rows, 9)
    if column.get("top_values") is not None:
        out["top_values"] = column.get("top_values")
    return out


def _gaps(column: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [dict(g) for g in column.get("gaps") or []]


def diff_profiles(
    a: Mapping[str, Any] | None, b: Mapping[str, Any] | None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Per-column statistic shifts and time-coverage changes of two ``runstate.profile/v1``."""
    if not a or not b:
        return [], []
    cols_a = {c["name"]: c for c in a.get("columns", [])}
    cols_b = {c["name"]: c for c in b.get("columns", [])}
    rows_a, rows_b = int(a.get("rows") or 0), int(b.get("rows") or 0)
    shifts: list[dict[str, Any]] = []
    coverage: list[dict[str, Any]] = []
    for name in [n for n in cols_b if n in cols_a]:
        ca, cb = cols_a[name], cols_b[name]
        sa, sb = _stats(ca, rows_a), _stats(cb, rows_b)
        changes = []
        for stat in _STATS:
            old, new = sa.get(stat), sb.get(stat)
            if old is None and new is None:
                continue
            if not _close(old, new):
                change = "added" if old is None else "removed" if new is None else "changed"
                changes.append({"key": stat, "change": change, "old": old, "new": new})
        if changes:
            quantiles = None
            if ca.get("quantiles") is not None or cb.get("quantiles") is not None:
                quantiles = {"old": ca.get("quantiles"), "new": cb.get("quantiles")}
            histogram = None
            if ca.get("histogram") is not None or cb.get("histogram") is not None:
                histogram = {"old": ca.get("histogram"), "new": cb.get("histogram")}
            shifts.append(
                {
                    "column": name,
                    "family": cb.get("family"),
                    "changes": changes,
                    "quantiles": quantiles,
                    "histogram": histogram,
                }
            )
        if "gaps" in ca or "gaps" in cb:
            gaps_a, gaps_b = _gaps(ca), _gaps(cb)
            covered = [(g.get("from"), g.get("to")) for g in gaps_a]

            def inside(gap: Mapping[str, Any], covered: list[tuple[Any, Any]] = covered) -> bool:
                return any(
                    lo is not None
                    and hi is not None
                    and lo <= gap.get("from")
                    and gap.get("to") <= hi
                    for lo, hi in covered
                )

            new_gaps = [g for g in gaps_b if not inside(g)]
            same = (
                ca.get("min") == cb.get("min")
                and ca.get("max") == cb.get("max")
                and gaps_a == gaps_b
            )
            if not same:
                coverage.append(
                    {
                        "column": name,
                        "old": {"min": ca.get("min"), "max": ca.get("max"), "gaps": gaps_a},
                        "new": {"min": cb.get("min"), "max": cb.get("max"), "gaps": gaps_b},
                        "new_gaps": new_gaps,
                    }
                )
    return shifts, coverage


def _folder_files(
    objects: ObjectStore, a: Mapping[str, Any], b: Mapping[str, Any], limit: int | None
) -> dict[str, Any]:
    man_a = _load(objects, a.get("object_id") or a.get("fingerprint"))
    man_b = _load(objects, b.get("object_id") or b.get("fingerprint"))
    if not isinstance(man_a, Mapping) or not isinstance(man_b, Mapping):
        return {"added": [], "removed": [], "changed": [], "omitted": 0, "available": False}
    files_a = {row[0]: (row[1], row[2]) for row in man_a.get("files", [])}
    files_b = {row[0]: (row[1], row[2]) for row in man_b.get("files", [])}
    added = [{"path": p, "size": files_b[p][0]} for p in sorted(files_b.keys() - files_a.keys())]
    removed = [{"path": p, "size": files_a[p][0]} for p in sorted(files_a.keys() - files_b.keys())]
    changed = [
        {"path": p, "old": files_a[p][1], "new": files_b[p][1]}
        for p in sorted(files_a.keys() & files_b.keys())
        if files_a[p] != files_b[p]
    ]
    omitted = 0
    if limit is not None:
        omitted = sum(max(0, len(x) - limit) for x in (added, removed, changed))
        added, removed, changed = added[:limit], removed[:limit], changed[:limit]
    return {
        "added": added,
        "removed": removed,
        "changed": changed,
        "omitted": omitted,
        "available": True,
    }


def _empty_details(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> dict[str, Any]:
    path_a = None if a is None else a.get("path")
    path_b = None if b is None else b.get("path")
    return {
        "entry_kind": _kind(b if b is not None else a or {}),
        "path": None
        if a is None or b is None or path_a == path_b
        else {"old": path_a, "new": path_b},
        "fingerprint": _old_new(a, b, "fingerprint"),
        "retention": _old_new(a, b, "retention"),
        "rows": None,
        "schema_changes": None,
        "cells": None,
        "profile": None,
        "coverage": None,
        "files": None,
    }


def _table_diff(
    objects: ObjectStore,
    label: str,
    a: Mapping[str, Any],
    b: Mapping[str, Any],
    details: dict[str, Any],
    limit: int | None,
) -> tuple[bool, list[str]]:
    from runstate.data.tablecapture import TableEntry
    from runstate.data.tablediff import diff_recorded

    warnings: list[str] = []
    entry_a, entry_b = TableEntry.from_dict(a), TableEntry.from_dict(b)
    if entry_a.key != entry_b.key:
        warnings.append(
            f"{label}: key changed ({entry_a.key} -> {entry_b.key}); rows compared without a key"
        )
    result = diff_recorded(objects, entry_a, entry_b, sample=limit)
    rows = result.rows.to_dict()
    rows["duplicates_introduced"] = result.rows.duplicates_introduced
    details["rows"] = rows
    details["schema_changes"] = result.schema.to_dict() if result.schema else None
    keyed = bool(result.rows.key)
    if keyed:
        unavailable = [
            side for side, entry in (("A", entry_a), ("B", entry_b)) if not entry.snapshot_id
        ]
        reason = None
        if unavailable and result.rows.changed:
            reason = (
                f"run {' and '.join(unavailable)} kept {label} as fingerprints only "
                f"(retention {'/'.join(sorted({entry_a.retention, entry_b.retention}))}): "
                "changed keys are known, changed cells are not"
            )
            warnings.append(f"{label}: cell-level changes unavailable (data kept as fingerprints)")
        details["cells"] = {
            "available": reason is None,
            "reason": reason,
            "changed_columns": dict(result.changed_columns),
            "samples": list(result.cells),
        }
    if entry_a.fingerprint != entry_b.fingerprint or result.schema:
        shifts, coverage = diff_profiles(
            _load(objects, entry_a.profile_id), _load(objects, entry_b.profile_id)
        )
        details["profile"] = shifts
        details["coverage"] = coverage
    changed = entry_a.fingerprint != entry_b.fingerprint or bool(result) or bool(result.schema)
    return changed, warnings


def diff_entry(
    objects: ObjectStore,
    label: str,
    a: Mapping[str, Any] | None,
    b: Mapping[str, Any] | None,
    limit: int | None = 20,
) -> EntryDiff:
    """(details, changed, missing reason, warnings) for one input/output name."""
    details = _empty_details(a, b)
    if a is None and b is None:
        return details, False, f"{label}: no input or output entry recorded on either side", []
    if a is None or b is None:
        return details, True, None, []
    if _kind(a) != _kind(b):
        return details, True, f"{label} is a {_kind(a)} in A and a {_kind(b)} in B", []
    kind = _kind(b)
    if kind == "table":
        try:
            changed, warnings = _table_diff(objects, label, a, b, details, limit)
        except (OSError, LookupError, ValueError) as exc:
            changed = a.get("fingerprint") != b.get("fingerprint")
            return details, changed, f"{label}: stored fingerprints unreadable ({exc})", []
        return details, changed, None, warnings
    changed = a.get("fingerprint") != b.get("fingerprint")
    if kind == "folder" and changed:
        details["files"] = _folder_files(objects, a, b, limit)
    return details, changed, None, []
