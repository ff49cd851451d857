"""Deciding a read: which rule covers a dataset, and whether it lets this principal in.

* **Which rule.** A rule whose name equals the dataset name wins; otherwise the most
  specific matching glob (``fnmatch`` syntax, case-sensitive: ``*``, ``?``, ``[ab]``): the
  one with the most literal (non-wildcard) characters, ties broken by the pattern's text.
  The choice never depends on the order of the YAML, so the canonical (sorted) form of a
  document decides exactly as its source does. No matching rule: the document's
  ``default`` (``allow``: read as is; ``deny``: refused).
* **Who.** A rule without ``readers`` lets anyone read (its row filter and column rules
  still apply); ``readers: []`` lets nobody. Otherwise the first ``readers`` entry that
  matches decides: its ``principals`` contain the principal, ``*``, or ``group:<g>`` for a
  group ``g`` the principal belongs to (absent: any principal), and its ``purposes``
  contain the purpose or ``*`` (absent: any purpose). A run without a principal (or
  purpose) matches only ``*`` or an absent list.
* **Groups.** A principal belongs to group ``g`` if the document's ``groups:`` map lists it
  under ``g``, or if ``g`` is in ``RUNSTATE_GROUPS`` (comma-separated; the groups the
  environment asserts for the run's principal, like ``RUNSTATE_PRINCIPAL`` itself).
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from runstate.policy.document import DatasetRule, PolicyDocument, ReaderRule

__all__ = ["Decision", "Identity", "decide", "match_rule", "reachable_rules"]


@dataclass(frozen=True)
class Identity:
    """Who reads, and why: the run's principal, purpose and groups."""

    principal: str | None = None
    purpose: str | None = None
    env_groups: tuple[str, ...] = ()

    @classmethod
    def from_env(
        cls,
        principal: str | None = None,
        purpose: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> Identity:
        """Explicit values win over ``RUNSTATE_PRINCIPAL``/``RUNSTATE_PURPOSE``; groups come
        from ``RUNSTATE_GROUPS``."""
        env = os.environ if environ is None else environ
        groups = tuple(g.strip() for g in env.get("RUNSTATE_GROUPS", "").split(",") if g.strip())
        return cls(
            principal or env.get("RUNSTATE_PRINCIPAL") or None,
            purpose or env.get("RUNSTATE_PURPOSE") or None,
            tuple(sorted(set(groups))),
        )

    def groups(self, document: PolicyDocument) -> tuple[str, ...]:
        found = set(self.env_groups)
        if self.principal is not None:
            found |= {g for g, members in document.groups.items() if self.principal in members}
        return tuple(sorted(found))


@dataclass(frozen=True)
class Decision:
    """The outcome for one dataset: allowed or not, by which rule, with what to apply."""

    dataset: str
    allowed: bool
    rule: str | None
    reader: int | None
    reason: str
    row_filter: str | None = None
    columns: Mapping[str, str] = field(default_factory=dict)

    @property
    def by(self) -> str:
        return f"rule {self.rule!r}" if self.rule is not None else "the default"

    @property
    def transforms(self) -> bool:
        """Whether the data must pass through the policy (a filter or a mask)."""
        return self.row_filter is not None or any(a != "allow" for a in self.columns.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "allowed": self.allowed,
            "rule": self.rule,
            "reader": self.reader,
            "reason": self.reason,
            "row_filter": self.row_filter,
            "columns": dict(sorted(self.columns.items())),
        }


def _literal_chars(pattern: str) -> int:
    return sum(1 for ch in pattern if ch not in "*?[]")


def match_rule(document: PolicyDocument, dataset: str) -> DatasetRule | None:
    """The rule that covers ``dataset`` (see the module docstring), or None."""
    exact = document.datasets.get(dataset)
    if exact is not None and not exact.is_glob:
        return exact
    candidates = [
        rule
        for rule in document.datasets.values()
        if rule.is_glob and fnmatch.fnmatchcase(dataset, rule.pattern)
    ]
    if not candidates:
        return exact
    return min(candidates, key=lambda r: (-_literal_chars(r.pattern), r.pattern))


def _reader_matches(reader: ReaderRule, identity: Identity, groups: Iterable[str]) -> bool:
    if reader.principals is not None:
        names = set(reader.principals)
        allowed = "*" in names or (identity.principal is not None and identity.principal in names)
        if not allowed:
            allowed = any(f"group:{g}" in names for g in groups)
        if not allowed:
            return False
    if reader.purposes is not None:
        purposes = set(reader.purposes)
        if "*" not in purposes and (identity.purpose is None or identity.purpose not in purposes):
            return False
    return True


def _who(identity: Identity, groups: tuple[str, ...]) -> str:
    principal = repr(identity.principal) if identity.principal else "no principal"
    purpose = repr(identity.purpose) if identity.purpose else "no purpose"
    member = f" (groups: {', '.join(groups)})" if groups else ""
    return f"{principal}{member} with {purpose}"


def decide(document: PolicyDocument, dataset: str, identity: Identity) -> Decision:
    """Whether ``identity`` may read ``dataset`` under ``document``, and how."""
    rule = match_rule(document, dataset)
    groups = identity.groups(document)
    if rule is None:
        allowed = document.default == "allow"
        reason = f"no rule matches dataset {dataset!r}; the policy's default is {document.default}"
        return Decision(dataset, allowed, None, None, reason)
    if rule.readers is None:
        return Decision(
            dataset,
            True,
            rule.pattern,
            None,
            f"rule {rule.pattern!r} lets anyone read",
            rule.row_filter,
            dict(rule.columns),
        )
    for index, reader in enumerate(rule.readers):
        if _reader_matches(reader, identity, groups):
            return Decision(
                dataset,
                True,
                rule.pattern,
                index,
                f"rule {rule.pattern!r} readers[{index}] admits {_who(identity, groups)}",
                rule.row_filter,
                dict(rule.columns),
            )
    return Decision(
        dataset,
        False,
        rule.pattern,
        None,
        f"rule {rule.pattern!r} does not list {_who(identity, groups)} among its readers",
    )


def reachable_rules(document: PolicyDocument, identity: Identity) -> list[DatasetRule]:
    """The rules under which ``identity`` may read something (for checks before a run)."""
    groups = identity.groups(document)
    return [
        rule
        for rule in document.datasets.values()
        if rule.readers is None or any(_reader_matches(r, identity, groups) for r in rule.readers)
    ]
