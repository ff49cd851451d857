"""The ``seeds`` and ``policy`` components: seeds, where they were applied, determinism.

The ``policy`` component (``runstate.policy-effect/v1``) also gets a rule-level view: the
two runs' policy versions, the rules that changed between their recorded policy documents
(:func:`runstate.policy.diff.diff_documents`) and, per dataset, how many rows B's policy
excluded that A's let through (``newly_excluded``) and the reverse (``let_in``), from the
recorded excluded-row fingerprints (:func:`runstate.policy.diff.compare_effects`).
"""

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


def diff_policy(
    a: Mapping[str, Any] | None, b: Mapping[str, Any] | None, objects: Any = None
) -> dict[str, Any]:
    """``{"changes": [change…], "versions", "default", "rules", "datasets"}``: every setting
    of the recorded policy that differs, and (with the store's ``objects``, which hold the
    recorded policy documents and excluded-row fingerprints) the rule changes and their row
    effects per dataset. ``versions`` is null when neither body was compared."""
    details: dict[str, Any] = {
        "changes": diff_values(a, b),
        "versions": None,
        "default": None,
        "rules": [],
        "datasets": [],
    }
    if objects is None or (a is None and b is None):
        return details
    from runstate.policy.diff import compare_effects

    try:
        effect = compare_effects(objects, a, b)
    except (OSError, LookupError, ValueError, TypeError):
        return details  # a lost document or fingerprint object: the change list stands
    details["versions"] = {"a": effect.policy[0], "b": effect.policy[1]}
    rows = {
        side: {
            name: (item or {}).get("rows_before")
            for name, item in ((body or {}).get("datasets") or {}).items()
        }
        for side, body in (("a", a), ("b", b))
    }
    datasets = []
    for change in effect.datasets:
        if not change:
            continue
        item = change.to_dict()
        item["rows"] = {"a": rows["a"].get(change.dataset), "b": rows["b"].get(change.dataset)}
        datasets.append(item)
    details["datasets"] = datasets
    if effect.rules is not None:
        if effect.rules.default is not None:
            details["default"] = {"a": effect.rules.default[0], "b": effect.rules.default[1]}
        for rule in effect.rules.rules:
            item = rule.to_dict()
            item["summary"] = rule.summary()
            item["datasets"] = [
                {
                    "dataset": d["dataset"],
                    "newly_excluded": d["newly_excluded"],
                    "let_in": d["let_in"],
                }
                for d in datasets
                if rule.pattern in (d["rule"]["a"], d["rule"]["b"])
            ]
            details["rules"].append(item)
    return details
