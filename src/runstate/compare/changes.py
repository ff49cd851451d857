"""Change lists: the settings that differ between two nested mappings, keys dotted.

Used by every section made of settings (config params, env groups, seeds, policy, profile
statistics). A change is ``{"key": "model.depth", "change": "changed", "old": 3, "new": 4}``;
``added`` has ``old`` null and ``removed`` has ``new`` null.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["Change", "diff_values", "flatten"]

Change = dict[str, Any]


def flatten(value: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}, "c": 2}`` → ``{"a.b": 1, "c": 2}``; empty mappings are kept as leaves."""
    flat: dict[str, Any] = {}
    for key, item in value.items():
        dotted = f"{prefix}{key}"
        if isinstance(item, Mapping) and item:
            flat.update(flatten(item, dotted + "."))
        else:
            flat[dotted] = item
    return flat


def diff_values(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> list[Change]:
    """Added, removed and changed leaves of two nested mappings, sorted by key."""
    flat_a = flatten(a or {})
    flat_b = flatten(b or {})
    changes: list[Change] = []
    for key in sorted(flat_a.keys() | flat_b.keys()):
        if key not in flat_a:
            changes.append({"key": key, "change": "added", "old": None, "new": flat_b[key]})
        elif key not in flat_b:
            changes.append({"key": key, "change": "removed", "old": flat_a[key], "new": None})
        elif not _same(flat_a[key], flat_b[key]):
            changes.append(
                {"key": key, "change": "changed", "old": flat_a[key], "new": flat_b[key]}
            )
    return changes


def _same(x: Any, y: Any) -> bool:
    # 1 and 1.0 and True are different settings (a param's type is part of the config).
    return type(x) is type(y) and x == y
