"""The ``env`` component: packages (up/downgrades with versions) and runtime settings.

Package versions are ordered with :mod:`packaging.version` when it is installed (PEP 440:
``2.0.0rc1 < 2.0.0 < 2.0.0.post1``), else with a tolerant comparison that orders the
numeric parts numerically and the rest as text. Settings are grouped as the env component
records them (``python``, ``platform``, ``hardware``, ``threads``, ``locale``,
``timezone``, ``env_vars``, …); redacted values are recorded as ``<redacted>`` and compared
as such, so a changed secret shows only as unchanged or added/removed, never its value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from runstate.compare.changes import diff_values

__all__ = ["compare_versions", "diff_env", "diff_packages"]

_PART = re.compile(r"(\d+|[A-Za-z]+)")
_RELEASE = re.compile(r"^(\d+(?:\.\d+)*)")
_PRE = {"dev": -4, "a": -3, "alpha": -3, "b": -2, "beta": -2, "rc": -1, "c": -1}


def _tolerant_key(version: str) -> tuple[Any, ...]:
    """Release numbers compared numerically, then pre-release < final < post-release."""
    text = version.split("+", 1)[0].lower().strip().lstrip("v")
    match = _RELEASE.match(text)
    numbers = [int(n) for n in match[1].split(".")] if match and match[1] else []
    while numbers and numbers[-1] == 0:
        numbers.pop()
    rest = _PART.findall(text[match.end(1) :] if match and match[1] else text)
    phase: tuple[int, int, str] = (1, 0, "")
    tail: list[tuple[int, str]] = []
    for index, part in enumerate(rest):
        if index == 0 and part in _PRE:
            phase = (0, _PRE[part], "")
        elif index == 0 and part in ("post", "p"):
            phase = (2, 0, "")
        elif index == 0 and not part.isdigit():
            phase = (1, 0, part)
        else:
            tail.append((int(part), "") if part.isdigit() else (-1, part))
    return (tuple(numbers), phase, tuple(tail))


def compare_versions(old: str, new: str) -> int:
    """-1 when ``new`` is older than ``old`` (a downgrade), 1 when newer, 0 when equal/unknown."""
    try:
        from packaging.version import InvalidVersion, Version

        try:
            v_old, v_new = Version(old), Version(new)
            return (v_new > v_old) - (v_new < v_old)
        except InvalidVersion:
            pass
    except ImportError:  # pragma: no cover - packaging is nearly always there
        pass
    k_old, k_new = _tolerant_key(old), _tolerant_key(new)
    return (k_new > k_old) - (k_new < k_old)


def _version(info: Any) -> str | None:
    if isinstance(info, Mapping):
        version = info.get("version")
        return None if version is None else str(version)
    return None if info is None else str(info)


def diff_packages(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> dict[str, Any]:
    """``{"added", "removed", "upgraded", "downgraded", "changed"}`` lists, sorted by name."""
    a, b = a or {}, b or {}
    out: dict[str, list[dict[str, Any]]] = {
        "added": [], "removed": [], "upgraded": [], "downgraded": [], "changed": []
    }  # fmt: skip
    for name in sorted(a.keys() | b.keys()):
        if name not in a:
            out["added"].append({"name": name, "version": _version(b[name])})
        elif name not in b:
            out["removed"].append({"name": name, "version": _version(a[name])})
        elif a[name] != b[name]:
            old, new = _version(a[name]), _version(b[name])
            order = compare_versions(old, new) if old and new and old != new else 0
            kind = "upgraded" if order > 0 else "downgraded" if order < 0 else "changed"
            out[kind].append({"name": name, "old": old, "new": new})
    return out


def diff_env(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> dict[str, Any]:
    """``{"packages": {...}, "settings": {group: [change…]}}`` (only groups that differ)."""
    a, b = a or {}, b or {}
    settings: dict[str, list[dict[str, Any]]] = {}
    other_a: dict[str, Any] = {}
    other_b: dict[str, Any] = {}
    for group in sorted((a.keys() | b.keys()) - {"packages"}):
        value_a, value_b = a.get(group), b.get(group)
        if isinstance(value_a, Mapping) or isinstance(value_b, Mapping):
            changes = diff_values(
                value_a if isinstance(value_a, Mapping) else {},
                value_b if isinstance(value_b, Mapping) else {},
            )
            if changes:
                settings[group] = changes
        else:
            if group in a:
                other_a[group] = value_a
            if group in b:
                other_b[group] = value_b
    other = diff_values(other_a, other_b)
    if other:
        settings["other"] = other
    return {"packages": diff_packages(a.get("packages"), b.get("packages")), "settings": settings}
