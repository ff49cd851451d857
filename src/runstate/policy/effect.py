"""The recorded effect of a policy on a run: the body of the state's ``policy`` component.

``runstate.policy-effect/v1`` (docs/schemas/policy-effect.schema.json)::

    {"schema": "runstate.policy-effect/v1",
     "policy": {"source": "store", "version": 3, "version_id": "…", "document_id": "…",
                "path": null, "default": "deny"},
     "principal": "svc-scoring", "purpose": "scoring", "groups": ["risk"],
     "datasets": {
       "customers": {"decision": "allow", "rule": "customers", "reader": 0,
                     "enforced": "read", "row_filter": "consent OR region <> 'EU'",
                     "rows_before": 1000, "rows_after": 870,
                     "excluded": {"count": 130, "by": "key", "key": ["customer_id"],
                                  "fingerprints": ["00a1…", …], "fingerprints_id": null},
                     "columns": {"email": "hash", "ssn": "drop"}, "missing_columns": []}}}

* ``policy.source`` is ``file`` (the project's ``runstate-policy.yaml``), ``store`` (the
  applied version ``version``/``version_id``) or ``none`` (a principal or purpose was given
  but there is no policy). ``document_id`` is the object holding the canonical document,
  so a diff of two runs can diff their rules (:mod:`runstate.policy.diff`).
* Per dataset: the decision and the rule that made it (``null``: the default), the row
  counts before and after the filter, the excluded rows' ``runstate.rowfp/v1``
  fingerprints (sorted, 16 hex digits; by key when the read had one, else by row, both
  after the column rules), inline up to :data:`INLINE_FINGERPRINTS`, else in an object of
  little-endian uint64s (``fingerprints_id``); the column rules applied and the rules that
  named missing columns. ``enforced`` is ``read`` when the data the run's code received
  passed through the policy (``run.read_table``), ``record`` when the command read the file
  itself (zero-code capture): only what was recorded passed through it.

The body holds no timestamps: the same policy on the same data gives the same component
id. Without any policy and without a principal or purpose, a run has no ``policy`` component.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from runstate.policy.enforce import Enforced
    from runstate.policy.rules import Decision
    from runstate.store.objects import ObjectStore

__all__ = [
    "EFFECT_SCHEMA",
    "INLINE_FINGERPRINTS",
    "DatasetEffect",
    "ExcludedRows",
    "PolicyEffect",
    "PolicyRef",
    "load_excluded",
]

EFFECT_SCHEMA = "runstate.policy-effect/v1"
INLINE_FINGERPRINTS = 256


@dataclass(frozen=True)
class PolicyRef:
    """Which policy applied: the project file, a store version, or none."""

    source: str
    version: int | None = None
    version_id: str | None = None
    document_id: str | None = None
    path: str | None = None
    default: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "version": self.version,
            "version_id": self.version_id,
            "document_id": self.document_id,
            "path": self.path,
            "default": self.default,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PolicyRef:
        return cls(
            str(data["source"]),
            data.get("version"),
            data.get("version_id"),
            data.get("document_id"),
            data.get("path"),
            data.get("default"),
        )

    @property
    def label(self) -> str:
        if self.source == "store":
            return f"policy v{self.version}"
        if self.source == "file":
            return f"policy file {self.path}"
        return "no policy"


@dataclass(frozen=True)
class ExcludedRows:
    """The rows a row filter excluded, by fingerprint."""

    count: int
    by: str
    key: list[str] | None = None
    fingerprints: list[str] | None = None
    fingerprints_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "by": self.by,
            "key": self.key,
            "fingerprints": self.fingerprints,
            "fingerprints_id": self.fingerprints_id,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExcludedRows:
        return cls(
            int(data["count"]),
            str(data["by"]),
            None if data.get("key") is None else list(data["key"]),
            None if data.get("fingerprints") is None else list(data["fingerprints"]),
            data.get("fingerprints_id"),
        )

    @classmethod
    def store(
        cls,
        objects: ObjectStore,
        fingerprints: np.ndarray[Any, Any],
        by: str,
        key: list[str] | None,
        count: int,
    ) -> ExcludedRows:
        import numpy as np

        values = np.asarray(fingerprints, dtype=np.uint64)
        if len(values) <= INLINE_FINGERPRINTS:
            return cls(count, by, key, [f"{int(v):016x}" for v in values], None)
        object_id = objects.put_bytes(values.astype("<u8").tobytes())
        return cls(count, by, key, None, object_id)


def load_excluded(objects: ObjectStore, excluded: ExcludedRows) -> np.ndarray[Any, Any]:
    """The excluded fingerprints as a sorted uint64 array (inline or from the store)."""
    import numpy as np

    if excluded.fingerprints is not None:
        return np.array([int(f, 16) for f in excluded.fingerprints], dtype=np.uint64)
    if excluded.fingerprints_id is None:
        return np.zeros(0, dtype=np.uint64)
    return np.frombuffer(objects.get_bytes(excluded.fingerprints_id), dtype="<u8").astype(np.uint64)


@dataclass(frozen=True)
class DatasetEffect:
    """What the policy decided and did for one dataset a run read."""

    decision: str
    rule: str | None
    reader: int | None = None
    enforced: str = "read"
    row_filter: str | None = None
    rows_before: int | None = None
    rows_after: int | None = None
    excluded: ExcludedRows | None = None
    columns: Mapping[str, str] = field(default_factory=dict)
    missing_columns: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "rule": self.rule,
            "reader": self.reader,
            "enforced": self.enforced,
            "row_filter": self.row_filter,
            "rows_before": self.rows_before,
            "rows_after": self.rows_after,
            "excluded": None if self.excluded is None else self.excluded.to_dict(),
            "columns": dict(sorted(self.columns.items())),
            "missing_columns": sorted(self.missing_columns),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DatasetEffect:
        excluded = data.get("excluded")
        return cls(
            decision=str(data["decision"]),
            rule=data.get("rule"),
            reader=data.get("reader"),
            enforced=str(data.get("enforced", "read")),
            row_filter=data.get("row_filter"),
            rows_before=data.get("rows_before"),
            rows_after=data.get("rows_after"),
            excluded=None if excluded is None else ExcludedRows.from_dict(excluded),
            columns=dict(data.get("columns") or {}),
            missing_columns=list(data.get("missing_columns") or []),
        )

    @classmethod
    def denied(cls, decision: Decision, enforced: str = "read") -> DatasetEffect:
        return cls("deny", decision.rule, None, enforced)

    @classmethod
    def of(
        cls,
        objects: ObjectStore,
        decision: Decision,
        enforced: Enforced | None,
        mode: str = "read",
    ) -> DatasetEffect:
        """The effect of an allowing ``decision``; ``enforced`` None: nothing to apply."""
        if enforced is None:
            return cls("allow", decision.rule, decision.reader, mode)
        excluded = None
        if decision.row_filter is not None:
            excluded = ExcludedRows.store(
                objects,
                enforced.excluded,
                enforced.excluded_by,
                enforced.key,
                enforced.rows_before - enforced.rows_after,
            )
        return cls(
            "allow",
            decision.rule,
            decision.reader,
            mode,
            decision.row_filter,
            enforced.rows_before,
            enforced.rows_after,
            excluded,
            dict(enforced.columns),
            list(enforced.missing_columns),
        )


@dataclass(frozen=True)
class PolicyEffect:
    """The ``policy`` component body: which policy, for whom, and what it did per dataset."""

    policy: PolicyRef
    principal: str | None
    purpose: str | None
    groups: list[str] = field(default_factory=list)
    datasets: Mapping[str, DatasetEffect] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": EFFECT_SCHEMA,
            "policy": self.policy.to_dict(),
            "principal": self.principal,
            "purpose": self.purpose,
            "groups": sorted(self.groups),
            "datasets": {name: e.to_dict() for name, e in sorted(self.datasets.items())},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PolicyEffect:
        return cls(
            PolicyRef.from_dict(data["policy"]),
            data.get("principal"),
            data.get("purpose"),
            list(data.get("groups") or []),
            {n: DatasetEffect.from_dict(e) for n, e in dict(data.get("datasets") or {}).items()},
        )

    @property
    def denied(self) -> list[str]:
        return sorted(n for n, e in self.datasets.items() if e.decision == "deny")
