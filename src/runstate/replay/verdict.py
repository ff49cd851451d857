"""Grade a replay against the run it replays: ``runstate.replay/v1``.

* ``identical`` — every output fingerprint and every metric value equal;
* ``equivalent`` — equal within the relative tolerance: tables with the same keys (or, for
  unkeyed tables, the same number of rows compared in order), the same schema, equal
  non-numeric cells and numeric cells with ``|a - b| <= tol * max(|a|, |b|)``; metrics
  likewise; files must be identical;
* ``diverged`` — with what differs: which outputs (for tables the row diff: added, removed
  and changed keys and changed cells, from :func:`runstate.data.tablediff.diff_recorded`),
  which metrics by how much;
* ``failed`` — the replayed command failed: its exit code and stderr tail;
* ``not_replayable`` — the recorded state cannot be re-created: the reason, and for inputs
  which input and why.

Fingerprints are compared first: equal outputs cost nothing more. ``env_differences`` lists
what differed between the recorded environment and the replay's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

    from runstate.store.objects import ObjectStore

__all__ = ["REPLAY_SCHEMA", "VERDICTS", "Verdict", "grade_metrics", "grade_outputs"]

REPLAY_SCHEMA = "runstate.replay/v1"
VERDICTS = ("identical", "equivalent", "diverged", "failed", "not_replayable")
_SAMPLE = 20


@dataclass(frozen=True)
class Verdict:
    """The result of one replay; falsy unless identical or equivalent."""

    run_id: str
    verdict: str
    replay_run_id: str | None = None
    reason: str | None = None
    env_mode: str = "current"
    tolerance: float = 0.0
    exit_code: int | None = None
    stderr_tail: str | None = None
    outputs: list[dict[str, Any]] = field(default_factory=list)
    metrics: list[dict[str, Any]] = field(default_factory=list)
    env_differences: list[dict[str, Any]] = field(default_factory=list)
    unreplayable: list[dict[str, str]] = field(default_factory=list)
    code: dict[str, Any] | None = None
    env: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    determinism: dict[str, Any] | None = None
    sandbox: str | None = None
    timings_ms: dict[str, int] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return self.verdict in ("identical", "equivalent")

    @property
    def exit_status(self) -> int:
        return 0 if self else 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": REPLAY_SCHEMA,
            "run_id": self.run_id,
            "replay_run_id": self.replay_run_id,
            "verdict": self.verdict,
            "reason": self.reason,
            "env_mode": self.env_mode,
            "tolerance": self.tolerance,
            "exit_code": self.exit_code,
            "stderr_tail": self.stderr_tail,
            "outputs": self.outputs,
            "metrics": self.metrics,
            "env_differences": self.env_differences,
            "unreplayable": self.unreplayable,
            "code": self.code,
            "env": self.env,
            "notes": self.notes,
            "determinism": self.determinism,
            "sandbox": self.sandbox,
            "timings_ms": self.timings_ms,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Verdict:
        if data.get("schema") != REPLAY_SCHEMA:
            raise ValueError(f"not a {REPLAY_SCHEMA} document")
        fields = {k: v for k, v in data.items() if k != "schema"}
        return cls(**fields)


def _close(a: float, b: float, tolerance: float) -> bool:
    if a == b:
        return True
    if math.isnan(a) and math.isnan(b):
        return True
    if math.isinf(a) or math.isinf(b) or math.isnan(a) or math.isnan(b):
        return False
    return abs(a - b) <= tolerance * max(abs(a), abs(b))


def _rel_diff(a: float, b: float) -> float | None:
    if a == b:
        return 0.0
    if not (math.isfinite(a) and math.isfinite(b)):
        return None
    return abs(a - b) / max(abs(a), abs(b))


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if value in ("NaN", "Infinity", "-Infinity"):
        return float(value.replace("Infinity", "inf"))
    return None


def grade_metrics(
    recorded: Sequence[Mapping[str, Any]], replayed: Sequence[Mapping[str, Any]], tolerance: float
) -> list[dict[str, Any]]:
    """Per metric key: ``identical``/``equivalent``/``diverged``/``missing``/``extra``."""
    by_key_a: dict[str, list[Any]] = {}
    by_key_b: dict[str, list[Any]] = {}
    for m in recorded:
        by_key_a.setdefault(str(m["key"]), []).append(m["value"])
    for m in replayed:
        by_key_b.setdefault(str(m["key"]), []).append(m["value"])
    results = []
    for key in sorted(set(by_key_a) | set(by_key_b)):
        a, b = by_key_a.get(key), by_key_b.get(key)
        item: dict[str, Any] = {"key": key, "recorded": a, "replayed": b, "max_rel_diff": None}
        if a is None or b is None:
            item["status"] = "missing" if b is None else "extra"
        elif a == b:
            item["status"] = "identical"
            item["max_rel_diff"] = 0.0
        elif len(a) != len(b):
            item["status"] = "diverged"
        else:
            pairs = [(_number(x), _number(y)) for x, y in zip(a, b, strict=True)]
            if any(x is None or y is None for x, y in pairs):
                item["status"] = "diverged"
            else:
                rel = [_rel_diff(x, y) for x, y in pairs if x is not None and y is not None]
                finite = [r for r in rel if r is not None]
                item["max_rel_diff"] = max(finite) if len(finite) == len(rel) else None
                ok = all(
                    _close(x, y, tolerance) for x, y in pairs if x is not None and y is not None
                )
                item["status"] = "equivalent" if ok and tolerance > 0 else "diverged"
        results.append(item)
    return results


def _numeric(arrow_type: pa.DataType) -> bool:
    import pyarrow as pa

    return bool(
        pa.types.is_floating(arrow_type)
        or pa.types.is_integer(arrow_type)
        or pa.types.is_decimal(arrow_type)
    )


def _columns_within(
    old: pa.Table, new: pa.Table, skip: Sequence[str], tolerance: float
) -> tuple[bool, dict[str, float]]:
    """Row-aligned tables: non-numeric columns equal, numeric ones within tolerance.
    Returns (all within, {column: max relative difference}) over the differing columns."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    ok = True
    worst: dict[str, float] = {}
    for column in old.column_names:
        if column in skip or column not in new.column_names:
            continue
        left, right = old.column(column), new.column(column)
        if left.equals(right):
            continue
        if not (_numeric(left.type) and _numeric(right.type)):
            ok = False
            continue
        a = pc.cast(left, pa.float64()).to_numpy(zero_copy_only=False)
        b = pc.cast(right, pa.float64()).to_numpy(zero_copy_only=False)
        null_a = np.asarray(left.is_null().to_numpy(zero_copy_only=False), bool)
        null_b = np.asarray(right.is_null().to_numpy(zero_copy_only=False), bool)
        if (null_a != null_b).any():
            ok = False
            continue
        a, b = a[~null_a], b[~null_b]
        both_nan = np.isnan(a) & np.isnan(b)
        scale = np.maximum(np.abs(a), np.abs(b))
        with np.errstate(invalid="ignore", divide="ignore"):
            diff = np.where(both_nan | (a == b), 0.0, np.abs(a - b))
            rel = np.where(diff == 0, 0.0, diff / scale)
        rel = np.where(np.isnan(rel), np.inf, rel)
        worst[column] = float(rel.max()) if len(rel) else 0.0
        if worst[column] > tolerance:
            ok = False
    return ok, worst


def _grade_table(
    objects: ObjectStore, a: Mapping[str, Any], b: Mapping[str, Any], tolerance: float
) -> dict[str, Any]:
    from runstate.data.snapshot import read_snapshot
    from runstate.data.tablecapture import TableEntry
    from runstate.data.tablediff import diff_recorded

    entry_a, entry_b = TableEntry.from_dict(a), TableEntry.from_dict(b)
    diff = diff_recorded(objects, entry_a, entry_b, sample=_SAMPLE)
    result: dict[str, Any] = {"diff": diff.to_dict()}
    if not diff:
        # Same rows as a multiset, in another order: the unordered fingerprint is equal.
        result["status"] = "identical"
        return result
    status = "diverged"
    if (
        tolerance > 0
        and not diff.schema
        and entry_a.snapshot_id
        and entry_b.snapshot_id
        and entry_a.rows == entry_b.rows
    ):
        old = read_snapshot(objects, entry_a.snapshot_id)
        new = read_snapshot(objects, entry_b.snapshot_id)
        key = list(entry_a.key or [])
        aligned = True
        if key and entry_a.key == entry_b.key:
            if diff.rows.added or diff.rows.removed:
                aligned = False
            else:
                old, new = (
                    old.sort_by([(k, "ascending") for k in key]),
                    new.sort_by([(k, "ascending") for k in key]),
                )
                aligned = old.select(key).equals(new.select(key))
        if aligned:
            within, worst = _columns_within(old, new, key, tolerance)
            result["max_rel_diff"] = worst
            if within:
                status = "equivalent"
    result["status"] = status
    return result


def grade_outputs(
    objects: ObjectStore,
    recorded: Sequence[Mapping[str, Any]],
    replayed: Sequence[Mapping[str, Any]],
    tolerance: float,
) -> list[dict[str, Any]]:
    """Per output name: status and, where it differs, what differs."""
    by_a = {str(o["name"]): o for o in recorded}
    by_b = {str(o["name"]): o for o in replayed}
    results = []
    for name in sorted(set(by_a) | set(by_b)):
        a, b = by_a.get(name), by_b.get(name)
        item: dict[str, Any] = {
            "name": name,
            "kind": (a or b or {}).get("kind"),
            "recorded": None if a is None else a.get("fingerprint"),
            "replayed": None if b is None else b.get("fingerprint"),
        }
        if a is None or b is None:
            item["status"] = "missing" if b is None else "extra"
        elif a.get("fingerprint") == b.get("fingerprint"):
            item["status"] = "identical"
        elif a.get("kind") == "table" and b.get("kind") == "table":
            item.update(_grade_table(objects, a, b, tolerance))
        else:
            item["status"] = "diverged"
        results.append(item)
    return results


def overall(outputs: Sequence[Mapping[str, Any]], metrics: Sequence[Mapping[str, Any]]) -> str:
    statuses = {o["status"] for o in outputs} | {m["status"] for m in metrics}
    if statuses <= {"identical"}:
        return "identical"
    if statuses <= {"identical", "equivalent"}:
        return "equivalent"
    return "diverged"
