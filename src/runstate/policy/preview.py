"""``runstate policy test FILE --run RUN``: what a policy would do to a recorded run's inputs.

A dry run: nothing is executed and nothing is recorded. For every table the run read, the
candidate policy is decided for the run's principal and purpose (as recorded in its
``policy`` component, unless overridden) and, when the table's snapshot is stored, its row
filter is evaluated over the snapshot. The report (``runstate.policy-test/v1``) gives per
dataset the decision and rule, the recorded rows, how many of them the new filter would
exclude, how many rows the recorded policy had excluded that the new one might let in (an
upper bound: excluded rows were never stored), and the column rules before and after.

The snapshot holds what the recorded policy let through, so a new filter on a column the
recorded policy masked or dropped cannot be evaluated faithfully: such datasets say so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from runstate.policy.document import PolicyDocument
from runstate.policy.effect import DatasetEffect, PolicyEffect
from runstate.policy.rules import Identity, decide
from runstate.store.store import Store

__all__ = ["TEST_SCHEMA", "DatasetPreview", "PolicyPreview", "preview_policy"]

TEST_SCHEMA = "runstate.policy-test/v1"


@dataclass(frozen=True)
class DatasetPreview:
    """The candidate policy's effect on one recorded input."""

    dataset: str
    decision: str
    rule: str | None
    reason: str
    rows_recorded: int
    would_exclude: int | None
    rows_after: int | None
    let_in_at_most: int
    row_filter: dict[str, str | None]
    columns: dict[str, dict[str, str | None]]
    notes: list[str] = field(default_factory=list)

    @property
    def changes(self) -> bool:
        return bool(
            self.decision == "deny"
            or self.would_exclude
            or self.let_in_at_most
            or any(c["recorded"] != c["would"] for c in self.columns.values())
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "decision": self.decision,
            "rule": self.rule,
            "reason": self.reason,
            "rows_recorded": self.rows_recorded,
            "would_exclude": self.would_exclude,
            "rows_after": self.rows_after,
            "let_in_at_most": self.let_in_at_most,
            "row_filter": self.row_filter,
            "columns": self.columns,
            "changes": self.changes,
            "notes": self.notes,
        }


@dataclass(frozen=True)
class PolicyPreview:
    """The whole dry run."""

    run_id: str
    principal: str | None
    purpose: str | None
    recorded_policy: str
    datasets: list[DatasetPreview]

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": TEST_SCHEMA,
            "run_id": self.run_id,
            "principal": self.principal,
            "purpose": self.purpose,
            "recorded_policy": self.recorded_policy,
            "changes": any(d.changes for d in self.datasets),
            "datasets": [d.to_dict() for d in self.datasets],
        }


def _recorded_effect(store: Store, record: Mapping[str, Any]) -> PolicyEffect | None:
    component_id = record["state"]["components"].get("policy")
    if component_id is None:
        return None
    return PolicyEffect.from_dict(store.load_json(component_id)["body"])


def _count_excluded(table: Any, expression: str, where: str) -> int:
    import pyarrow.compute as pc

    from runstate.policy.enforce import _keep_mask

    keep = _keep_mask(table, expression, where)
    return int(table.num_rows - pc.sum(keep).as_py()) if table.num_rows else 0


def _preview_one(
    store: Store,
    item: Mapping[str, Any],
    document: PolicyDocument,
    identity: Identity,
    recorded: DatasetEffect | None,
) -> DatasetPreview:
    name = str(item["name"])
    rows = int(item.get("rows", 0))
    decision = decide(document, name, identity)
    old_filter = None if recorded is None else recorded.row_filter
    old_columns = {} if recorded is None else dict(recorded.columns)
    previously_excluded = (
        0 if recorded is None or recorded.excluded is None else recorded.excluded.count
    )
    row_filter = {"recorded": old_filter, "would": decision.row_filter}
    present = {f["name"] for f in item.get("schema", [])} | {
        c for c, action in old_columns.items() if action == "drop"
    }
    columns = {
        c: {"recorded": old_columns.get(c), "would": decision.columns.get(c)}
        for c in sorted(set(old_columns) | (set(decision.columns) & present))
    }
    if not decision.allowed:
        return DatasetPreview(
            name, "deny", decision.rule, decision.reason, rows, rows, 0, 0, row_filter, columns,
            ["the run would be refused this dataset"],
        )  # fmt: skip
    notes: list[str] = []
    let_in = 0 if decision.row_filter == old_filter else previously_excluded
    if let_in:
        notes.append(
            f"the recorded policy excluded {previously_excluded} rows, which were never "
            f"stored: up to that many could be let in"
        )
    for column, change in columns.items():
        if change["recorded"] in ("drop", "hash", "redact") and change["would"] in (None, "allow"):
            notes.append(
                f"column {column!r} was {change['recorded']} when recorded: its values are "
                f"not in the store, so the new rule cannot be previewed on them"
            )
    if decision.row_filter is None:
        return DatasetPreview(
            name, "allow", decision.rule, decision.reason, rows, 0, rows, let_in, row_filter,
            columns, notes,
        )  # fmt: skip
    snapshot_id = item.get("snapshot_id")
    if not snapshot_id:
        notes.append("no snapshot stored (retention fingerprint): rows cannot be previewed")
        return DatasetPreview(
            name, "allow", decision.rule, decision.reason, rows, None, None, let_in,
            row_filter, columns, notes,
        )  # fmt: skip
    from runstate.data.snapshot import read_snapshot
    from runstate.policy.enforce import check_filter_columns, filter_columns

    table = read_snapshot(store.objects, str(snapshot_id))
    where = f"dataset {name!r} ({decision.by})"
    check_filter_columns(decision.row_filter, table.schema, where)
    masked = [
        c
        for c in filter_columns(decision.row_filter, table.schema)
        if old_columns.get(c) in ("hash", "redact")
    ]
    if masked:
        notes.append(
            f"row_filter reads column(s) {', '.join(masked)}, masked when recorded: "
            f"the counts below are computed on masked values"
        )
    excluded = _count_excluded(table, decision.row_filter, where)
    return DatasetPreview(
        name, "allow", decision.rule, decision.reason, rows, excluded, rows - excluded, let_in,
        row_filter, columns, notes,
    )  # fmt: skip


def preview_policy(
    store: Store,
    document: PolicyDocument,
    run_id: str,
    principal: str | None = None,
    purpose: str | None = None,
) -> PolicyPreview:
    """Evaluate ``document`` against run ``run_id``'s recorded table inputs."""
    row = store.metadata.run(run_id)
    assert row is not None
    record = store.load_record(row["record_id"])
    effect = _recorded_effect(store, record)
    identity = Identity(
        principal or (None if effect is None else effect.principal),
        purpose or (None if effect is None else effect.purpose),
        # The recorded groups belong to the recorded principal only.
        () if effect is None or principal else tuple(effect.groups),
    )
    previews = []
    for item in record.get("inputs", []):
        if item.get("kind") != "table" or item.get("role", "data") != "data":
            continue
        recorded = None if effect is None else effect.datasets.get(str(item["name"]))
        previews.append(_preview_one(store, item, document, identity, recorded))
    return PolicyPreview(
        run_id,
        identity.principal,
        identity.purpose,
        "no policy" if effect is None else effect.policy.label,
        previews,
    )
