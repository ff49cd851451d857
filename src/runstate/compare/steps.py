"""Steps of two runs, in pipeline order, and the first divergence.

The *first divergence* is the first step of B, in the order B ran them, that A also ran,
whose recorded inputs were equal on both sides and whose outputs differ: upstream of it
everything agreed, so the change happened inside that step (its code, its config, or
something it read that was not declared). It is where to start looking.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["diff_steps"]


def _fields(step: Mapping[str, Any]) -> tuple[Any, ...]:
    return (step.get("code_hash"), step.get("status"), step.get("inputs"), step.get("outputs"))


def diff_steps(
    a: Sequence[Mapping[str, Any]], b: Sequence[Mapping[str, Any]]
) -> tuple[dict[str, Any], bool]:
    """``({"steps": [...], "first_divergence": {...} | None}, changed)``."""
    index_a = {str(s["name"]): i for i, s in enumerate(a)}
    index_b = {str(s["name"]): i for i, s in enumerate(b)}
    order = [str(s["name"]) for s in b] + [str(s["name"]) for s in a if s["name"] not in index_b]
    steps: list[dict[str, Any]] = []
    first: dict[str, Any] | None = None
    changed = [s["name"] for s in a] != [s["name"] for s in b]
    for name in order:
        ia, ib = index_a.get(name), index_b.get(name)
        sa = a[ia] if ia is not None else None
        sb = b[ib] if ib is not None else None
        both = sa is not None and sb is not None
        code_changed = inputs_equal = outputs_equal = None
        if sa is not None and sb is not None:
            code_changed = sa.get("code_hash") != sb.get("code_hash")
            inputs_equal = (sa.get("inputs") or {}) == (sb.get("inputs") or {})
            outputs_equal = (sa.get("outputs") or {}) == (sb.get("outputs") or {})
            changed = changed or _fields(sa) != _fields(sb)
            if first is None and ib is not None and inputs_equal and not outputs_equal:
                reason = "inputs equal, outputs differ"
                if code_changed:
                    reason += "; the step's code changed"
                first = {"name": name, "index": ib, "reason": reason}
        steps.append(
            {
                "name": name,
                "index_a": ia,
                "index_b": ib,
                "status": {
                    "old": None if sa is None else sa.get("status"),
                    "new": None if sb is None else sb.get("status"),
                },
                "code_changed": code_changed if both else None,
                "inputs_equal": inputs_equal,
                "outputs_equal": outputs_equal,
            }
        )
    return {"steps": steps, "first_divergence": first}, changed
