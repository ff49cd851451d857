"""Rule-level diff of two policy documents, and of two runs' recorded policy effects.

``runstate.policy-diff/v1``: the default and group changes, and per dataset rule (name or
glob) whether it was added, removed or changed, with the changed fields (readers, row
filter, and column by column the rule before and after). A diff is falsy when the two
documents decide every read the same way (they are equal in canonical form).

:func:`compare_effects` is for ``runstate diff``/``explain`` of two runs: it compares their
``policy`` components — policy version, identity, rule changes (from the stored documents)
and, per dataset, how many rows each side excluded, how many distinct keys (or rows) B's policy
excluded that A's let through (``newly_excluded``) and the reverse (``let_in``), from the
recorded excluded-row fingerprints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from runstate.policy.document import DatasetRule, PolicyDocument

__all__ = [
    "DIFF_SCHEMA",
    "DatasetEffectChange",
    "EffectDiff",
    "PolicyDiff",
    "RuleChange",
    "compare_effects",
    "diff_documents",
]

DIFF_SCHEMA = "runstate.policy-diff/v1"


@dataclass(frozen=True)
class RuleChange:
    """One dataset rule that differs: ``added``, ``removed`` or ``changed``."""

    pattern: str
    change: str
    readers: tuple[Any, Any] | None = None
    row_filter: tuple[str | None, str | None] | None = None
    columns: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.pattern,
            "change": self.change,
            "readers": None
            if self.readers is None
            else {"a": self.readers[0], "b": self.readers[1]},
            "row_filter": None
            if self.row_filter is None
            else {"a": self.row_filter[0], "b": self.row_filter[1]},
            "columns": {c: {"a": a, "b": b} for c, (a, b) in sorted(self.columns.items())},
        }

    def summary(self) -> str:
        parts = []
        if self.readers is not None:
            parts.append("readers changed")
        if self.row_filter is not None:
            before, after = self.row_filter
            parts.append(f"row_filter {before or '(none)'!s} -> {after or '(none)'!s}")
        for column, (a, b) in sorted(self.columns.items()):
            parts.append(f"column {column}: {a or '(none)'} -> {b or '(none)'}")
        detail = f": {'; '.join(parts)}" if parts else ""
        return f"{self.change} rule {self.pattern!r}{detail}"


def _readers(rule: DatasetRule | None) -> Any:
    if rule is None or rule.readers is None:
        return None
    return [r.to_dict() for r in rule.readers]


def _rule_change(pattern: str, a: DatasetRule | None, b: DatasetRule | None) -> RuleChange | None:
    change = "added" if a is None else "removed" if b is None else "changed"
    readers_a, readers_b = _readers(a), _readers(b)
    filter_a = None if a is None else a.row_filter
    filter_b = None if b is None else b.row_filter
    cols_a = {} if a is None else dict(a.columns)
    cols_b = {} if b is None else dict(b.columns)
    columns = {
        c: (cols_a.get(c), cols_b.get(c))
        for c in sorted(set(cols_a) | set(cols_b))
        if cols_a.get(c) != cols_b.get(c)
    }
    readers_changed = readers_a != readers_b or (a is None) != (b is None)
    result = RuleChange(
        pattern,
        change,
        (readers_a, readers_b) if readers_changed else None,
        (filter_a, filter_b) if filter_a != filter_b else None,
        columns,
    )
    if change == "changed" and not (result.readers or result.row_filter or result.columns):
        return None
    return result


@dataclass(frozen=True)
class PolicyDiff:
    """The differences between policy documents ``a`` and ``b``."""

    a: str
    b: str
    default: tuple[str, str] | None = None
    groups: dict[str, tuple[list[str] | None, list[str] | None]] = field(default_factory=dict)
    rules: list[RuleChange] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.default or self.groups or self.rules)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": DIFF_SCHEMA,
            "a": self.a,
            "b": self.b,
            "identical": not self,
            "default": None
            if self.default is None
            else {"a": self.default[0], "b": self.default[1]},
            "groups": {g: {"a": a, "b": b} for g, (a, b) in sorted(self.groups.items())},
            "rules": [r.to_dict() for r in self.rules],
        }

    def lines(self) -> list[str]:
        out = []
        if self.default:
            out.append(f"default {self.default[0]} -> {self.default[1]}")
        for group, (a, b) in sorted(self.groups.items()):
            out.append(f"group {group}: {a} -> {b}")
        out.extend(rule.summary() for rule in self.rules)
        return out


def diff_documents(
    a: PolicyDocument, b: PolicyDocument, label_a: str = "a", label_b: str = "b"
) -> PolicyDiff:
    """Rule-level differences from ``a`` to ``b``."""
    rules = []
    for pattern in sorted(set(a.datasets) | set(b.datasets)):
        change = _rule_change(pattern, a.datasets.get(pattern), b.datasets.get(pattern))
        if change is not None:
            rules.append(change)
    groups: dict[str, tuple[list[str] | None, list[str] | None]] = {}
    for group in sorted(set(a.groups) | set(b.groups)):
        before, after = a.groups.get(group), b.groups.get(group)
        if before != after:
            groups[group] = (
                None if before is None else list(before),
                None if after is None else list(after),
            )
    default = (a.default, b.default) if a.default != b.default else None
    return PolicyDiff(label_a, label_b, default, groups, rules)


# -- the effect of a policy change on two runs ---------------------------------------------------


@dataclass(frozen=True)
class DatasetEffectChange:
    """How the policy's effect on one dataset differs between run A and run B."""

    dataset: str
    rule: tuple[str | None, str | None]
    decision: tuple[str | None, str | None]
    excluded: tuple[int, int]
    newly_excluded: int
    let_in: int
    comparable: bool
    columns: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(
            self.decision[0] != self.decision[1]
            or self.newly_excluded
            or self.let_in
            or self.excluded[0] != self.excluded[1]
            or self.columns
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "rule": {"a": self.rule[0], "b": self.rule[1]},
            "decision": {"a": self.decision[0], "b": self.decision[1]},
            "excluded": {"a": self.excluded[0], "b": self.excluded[1]},
            "newly_excluded": self.newly_excluded,
            "let_in": self.let_in,
            "comparable": self.comparable,
            "columns": {c: {"a": a, "b": b} for c, (a, b) in sorted(self.columns.items())},
        }


@dataclass(frozen=True)
class EffectDiff:
    """Two runs' ``policy`` components compared: the policy (version and rules) and, per
    dataset, the rows each side's filter excluded and which excluded keys differ."""

    policy: tuple[str, str]
    rules: PolicyDiff | None
    identity: dict[str, tuple[str | None, str | None]]
    datasets: list[DatasetEffectChange]

    def __bool__(self) -> bool:
        return bool(
            self.policy[0] != self.policy[1] or self.rules or self.identity or any(self.datasets)
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "policy": {"a": self.policy[0], "b": self.policy[1]},
            "rules": None if self.rules is None else self.rules.to_dict(),
            "identity": {k: {"a": a, "b": b} for k, (a, b) in sorted(self.identity.items())},
            "datasets": [d.to_dict() for d in self.datasets if d],
        }


def compare_effects(objects: Any, a: Any, b: Any) -> EffectDiff:
    """Compare two ``runstate.policy-effect/v1`` bodies (dicts, or None for a run without a
    policy component). ``newly_excluded``: excluded by B's filter but not A's (by key or
    row fingerprint); ``let_in``: excluded by A's but not B's. ``comparable`` is False when
    the two sides fingerprinted differently (key on one side, rows on the other)."""
    import json

    import numpy as np

    from runstate.policy.effect import PolicyEffect, load_excluded
    from runstate.policy.enforce import sorted_unique

    eff_a = None if a is None else PolicyEffect.from_dict(a)
    eff_b = None if b is None else PolicyEffect.from_dict(b)
    label_a = "no policy" if eff_a is None else eff_a.policy.label
    label_b = "no policy" if eff_b is None else eff_b.policy.label

    def document(effect: Any) -> PolicyDocument | None:
        if effect is None or effect.policy.document_id is None:
            return None
        return PolicyDocument.from_dict(json.loads(objects.get_bytes(effect.policy.document_id)))

    doc_a, doc_b = document(eff_a), document(eff_b)
    empty = PolicyDocument(default="allow", datasets={})
    rules = None
    if doc_a is not None or doc_b is not None:
        rules = diff_documents(doc_a or empty, doc_b or empty, label_a, label_b)
    identity = {}
    for name in ("principal", "purpose"):
        va = None if eff_a is None else getattr(eff_a, name)
        vb = None if eff_b is None else getattr(eff_b, name)
        if va != vb:
            identity[name] = (va, vb)
    sets_a = {} if eff_a is None else dict(eff_a.datasets)
    sets_b = {} if eff_b is None else dict(eff_b.datasets)
    changes = []
    for name in sorted(set(sets_a) | set(sets_b)):
        da, db = sets_a.get(name), sets_b.get(name)
        ex_a = None if da is None else da.excluded
        ex_b = None if db is None else db.excluded
        comparable = ex_a is None or ex_b is None or (ex_a.by, ex_a.key) == (ex_b.by, ex_b.key)
        fa = sorted_unique(np.zeros(0, np.uint64) if ex_a is None else load_excluded(objects, ex_a))
        fb = sorted_unique(np.zeros(0, np.uint64) if ex_b is None else load_excluded(objects, ex_b))
        newly = int(np.setdiff1d(fb, fa, assume_unique=True).size) if comparable else 0
        let_in = int(np.setdiff1d(fa, fb, assume_unique=True).size) if comparable else 0
        cols_a = {} if da is None else dict(da.columns)
        cols_b = {} if db is None else dict(db.columns)
        changes.append(
            DatasetEffectChange(
                name,
                (None if da is None else da.rule, None if db is None else db.rule),
                (None if da is None else da.decision, None if db is None else db.decision),
                (0 if ex_a is None else ex_a.count, 0 if ex_b is None else ex_b.count),
                newly,
                let_in,
                comparable,
                {
                    c: (cols_a.get(c), cols_b.get(c))
                    for c in sorted(set(cols_a) | set(cols_b))
                    if cols_a.get(c) != cols_b.get(c)
                },
            )
        )
    return EffectDiff((label_a, label_b), rules, identity, changes)
