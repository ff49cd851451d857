"""Outputs of two runs: per output (table, file, folder) and metrics old → new with delta.

Output tables are diffed like input tables (:mod:`runstate.compare.data`): for a keyed
predictions table the changed keys are the flipped predictions and ``cells`` names the
columns that changed. Metrics are compared on their last recorded value per key.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["diff_metrics", "last_metrics"]


def last_metrics(metrics: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The last value logged for each metric key (a training curve ends at its last step)."""
    values: dict[str, Any] = {}
    for metric in metrics:
        values[str(metric["key"])] = metric.get("value")
    return values


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def diff_metrics(
    a: Sequence[Mapping[str, Any]], b: Sequence[Mapping[str, Any]]
) -> tuple[list[dict[str, Any]], bool]:
    """``[{key, change, old, new, delta, rel_delta}]`` for every metric, and whether any changed."""
    old_values, new_values = last_metrics(a), last_metrics(b)
    out: list[dict[str, Any]] = []
    changed = False
    for key in sorted(old_values.keys() | new_values.keys()):
        old, new = old_values.get(key), new_values.get(key)
        if key not in old_values:
            change = "added"
        elif key not in new_values:
            change = "removed"
        elif old == new and type(old) is type(new):
            change = "unchanged"
        else:
            change = "changed"
        changed = changed or change != "unchanged"
        x, y = _number(old), _number(new)
        delta = None if x is None or y is None else y - x
        rel = None if delta is None or not x else delta / abs(x)
        out.append(
            {"key": key, "change": change, "old": old, "new": new, "delta": delta, "rel_delta": rel}
        )
    return out, changed
