"""The ``seeds`` and ``policy`` components: seeds, where they were applied, determinism."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runstate.compare.changes import diff_values

__all__ = ["diff_policy", "diff_seeds"]


def _listed(body: Mapping[str, Any] | None) -> dict[str, Any]:
    # ``applied`` is a set of libraries: compare it as one sorted value.
    out = dict(body or {})
    if isinstance(out.get("applied"), list):
        out["applied"] = sorted(out["applied"])
    return out


def diff_seeds(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> dict[str, Any]:
    """``{"changes": [change…]}`` over seed, applied, pythonhashseed and determinism.*."""
    return {"changes": diff_values(_listed(a), _listed(b))}


def diff_policy(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> dict[str, Any]:
    """``{"changes": [change…]}``: every setting of the recorded policy that differs."""
    return {"changes": diff_values(a, b)}
