"""Output distance: how far a (hybrid) run's outputs are from B's, unit by unit.

Every output is reduced to *units* with a signature, from its stored fingerprint table
(no data is re-read):

* a **keyed table** — one unit per key (the key fingerprint); its signature combines the
  row fingerprints of the rows with that key (so a key that now occurs twice — a join
  that duplicates keys — changes its signature);
* an **unkeyed table** — one unit per row occurrence (row fingerprint + its occurrence
  number): rows are a multiset;
* a **file or folder** — one unit, its content fingerprint.

Between two runs, the *changed units* of an output are the units whose signature differs
(or that exist on one side only). For an explain of A -> B, each output that changed
contributes ``|units X differs from B| / |units A differs from B|`` and each changed metric
``|x - b| / |a - b|``; the distance ``D(X)`` is the mean over those items, so
``D(A) = 1`` and ``D(B) = 0``, and a hybrid's *value* is ``1 - D(X)``: the share of the
change it reproduces. Units (and metrics) that differ between A and a replay of A itself
are *noise* (nondeterminism): they are left out of every count.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from runstate.store.objects import ObjectStore

__all__ = ["Measure", "OutputView", "diff_units", "load_view", "metric_values"]

_MIX = 0x9E3779B97F4A7C15


def _mix(values: np.ndarray) -> np.ndarray:
    import numpy as np

    with np.errstate(over="ignore"):
        x = values.astype(np.uint64) * np.uint64(_MIX)
        x ^= x >> np.uint64(31)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(29)
    result: np.ndarray = x | np.uint64(1)  # never 0: 0 means "absent"
    return result


@dataclass
class OutputView:
    """One output of one run, as units (sorted, unique) and their signatures."""

    name: str
    kind: str
    key: list[str] | None
    units: np.ndarray
    sigs: np.ndarray
    key_values: Any = None  # Arrow table of the key columns, one row per unit (keyed)
    rows: int = 0

    def lookup(self, units: np.ndarray) -> np.ndarray:
        """Signatures of ``units`` here (0 where absent)."""
        import numpy as np

        if not len(self.units):
            return np.zeros(len(units), dtype=np.uint64)
        pos = np.searchsorted(self.units, units)
        pos = np.minimum(pos, len(self.units) - 1)
        found = self.units[pos] == units
        return np.where(found, self.sigs[pos], np.uint64(0))

    def values(self, units: np.ndarray, limit: int = 5) -> list[dict[str, Any]]:
        """Key values of up to ``limit`` of ``units`` found here."""
        import numpy as np

        if self.key_values is None or not len(units) or not len(self.units):
            return []
        pos = np.searchsorted(self.units, units[: limit * 4])
        pos = pos[pos < len(self.units)]
        rows = [int(p) for p in pos if self.units[p] in units][:limit]
        if not rows:
            return []
        return [
            {k: jsonable(v) for k, v in r.items()} for r in self.key_values.take(rows).to_pylist()
        ]


def jsonable(value: Any) -> Any:
    """A key value as JSON: numbers, text, booleans and null as they are, dates ISO 8601,
    other values as text."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    iso = getattr(value, "isoformat", None)
    return iso() if callable(iso) else str(value)


def load_view(objects: ObjectStore, entry: Mapping[str, Any]) -> OutputView:
    import numpy as np

    name, kind = str(entry["name"]), str(entry.get("kind") or "file")
    if kind != "table" or not entry.get("fingerprints_id"):
        unit = np.array([1], dtype=np.uint64)
        from runstate.state.canonical import hash_bytes

        digest = int(hash_bytes(str(entry.get("fingerprint")).encode())[:16], 16)
        return OutputView(name, kind, None, unit, _mix(np.array([digest], dtype=np.uint64)))
    from runstate.data.fpstore import read_fingerprint_table
    from runstate.data.rowdiff import KEYFP, ROWFP, column_numpy

    table = read_fingerprint_table(objects, str(entry["fingerprints_id"]))
    rowfp = column_numpy(table, ROWFP).astype(np.uint64)
    key = list(entry.get("key") or []) or None
    if key and KEYFP in table.column_names:
        keyfp = column_numpy(table, KEYFP).astype(np.uint64)
        order = np.argsort(keyfp, kind="stable")
        keyfp, rowfp = keyfp[order], rowfp[order]
        units, first, counts = np.unique(keyfp, return_index=True, return_counts=True)
        with np.errstate(over="ignore"):
            sums = np.add.reduceat(_mix(rowfp), first) if len(first) else np.zeros(0, np.uint64)
            sigs = _mix(sums + counts.astype(np.uint64))
        values = (
            table.select(key).take(order[first])
            if all(k in table.column_names for k in key)
            else None
        )
        return OutputView(name, kind, key, units, sigs, values, int(table.num_rows))
    rowfp = np.sort(rowfp)
    if len(rowfp):
        starts = np.r_[0, np.flatnonzero(rowfp[1:] != rowfp[:-1]) + 1]
        group = np.repeat(starts, np.diff(np.r_[starts, len(rowfp)]))
        occurrence = (np.arange(len(rowfp)) - group).astype(np.uint64)
    else:
        occurrence = np.zeros(0, np.uint64)
    with np.errstate(over="ignore"):
        units = np.unique(_mix(rowfp ^ _mix(occurrence)))
    return OutputView(name, kind, None, units, np.ones(len(units), np.uint64), None, len(rowfp))


def diff_units(x: OutputView | None, y: OutputView | None) -> np.ndarray:
    """Units whose signature differs between ``x`` and ``y`` (sorted)."""
    import numpy as np

    if x is None and y is None:
        return np.zeros(0, np.uint64)
    if x is None or y is None:
        only = x if x is not None else y
        assert only is not None
        copied: np.ndarray = only.units.copy()
        return copied
    every = np.union1d(x.units, y.units)
    result: np.ndarray = every[x.lookup(every) != y.lookup(every)]
    return result


def metric_values(metrics: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for metric in metrics:
        values[str(metric["key"])] = metric.get("value")
    return values


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


@dataclass
class Measure:
    """Distances to B for one explain: built from A's and B's outputs and the noise."""

    objects: Any
    views_a: dict[str, OutputView]
    views_b: dict[str, OutputView]
    metrics_a: dict[str, Any]
    metrics_b: dict[str, Any]
    noise: dict[str, np.ndarray] = field(default_factory=dict)  # output -> noisy units
    metric_noise: dict[str, float] = field(default_factory=dict)  # metric -> |spread|
    changed: dict[str, np.ndarray] = field(default_factory=dict)  # output -> units A vs B
    metrics_changed: list[str] = field(default_factory=list)
    noisy_metrics: list[str] = field(default_factory=list)

    @classmethod
    def build(
        cls,
        objects: Any,
        outputs_a: Sequence[Mapping[str, Any]],
        outputs_b: Sequence[Mapping[str, Any]],
        metrics_a: Sequence[Mapping[str, Any]],
        metrics_b: Sequence[Mapping[str, Any]],
    ) -> Measure:
        views_a = {str(o["name"]): load_view(objects, o) for o in outputs_a}
        views_b = {str(o["name"]): load_view(objects, o) for o in outputs_b}
        measure = cls(objects, views_a, views_b, metric_values(metrics_a), metric_values(metrics_b))
        measure.refresh()
        return measure

    def views(self, outputs: Sequence[Mapping[str, Any]]) -> dict[str, OutputView]:
        return {str(o["name"]): load_view(self.objects, o) for o in outputs}

    def add_noise(self, replay_of_a: dict[str, OutputView], metrics: Mapping[str, Any]) -> None:
        """Units and metrics in which a replay of A differs from A: nondeterminism."""
        import numpy as np

        for name in set(self.views_a) | set(replay_of_a):
            units = diff_units(self.views_a.get(name), replay_of_a.get(name))
            if len(units):
                self.noise[name] = np.union1d(self.noise.get(name, units[:0]), units)
        for key, value in metrics.items():
            a, r = _num(self.metrics_a.get(key)), _num(value)
            if a is not None and r is not None and a != r:
                self.metric_noise[key] = max(self.metric_noise.get(key, 0.0), abs(r - a))
            elif self.metrics_a.get(key) != value:
                self.metric_noise[key] = math.inf
        self.refresh()

    def refresh(self) -> None:
        import numpy as np

        self.changed = {}
        for name in sorted(set(self.views_a) | set(self.views_b)):
            units = diff_units(self.views_a.get(name), self.views_b.get(name))
            if name in self.noise:
                units = np.setdiff1d(units, self.noise[name], assume_unique=True)
            if len(units):
                self.changed[name] = units
        self.metrics_changed, self.noisy_metrics = [], []
        for key in sorted(set(self.metrics_a) | set(self.metrics_b)):
            a, b = self.metrics_a.get(key), self.metrics_b.get(key)
            if a == b and type(a) is type(b):
                continue
            spread = self.metric_noise.get(key, 0.0)
            x, y = _num(a), _num(b)
            if spread and (x is None or y is None or abs(y - x) <= 2 * spread):
                self.noisy_metrics.append(key)
                continue
            self.metrics_changed.append(key)

    @property
    def items(self) -> int:
        return len(self.changed) + len(self.metrics_changed)

    def _metric_distance(self, key: str, value: Any) -> float:
        a, b = self.metrics_a.get(key), self.metrics_b.get(key)
        x, y, v = _num(a), _num(b), _num(value)
        if x is None or y is None or v is None or x == y:
            return 0.0 if value == b and type(value) is type(b) else 1.0
        spread = self.metric_noise.get(key, 0.0)
        return min(max(0.0, abs(v - y) - spread) / abs(y - x), 10.0)

    def distance(
        self, views: Mapping[str, OutputView], metrics: Mapping[str, Any]
    ) -> dict[str, float]:
        """Per changed item (output name, ``metric:<key>``): its normalised distance to B."""
        import numpy as np

        out: dict[str, float] = {}
        for name, units in self.changed.items():
            differing = diff_units(views.get(name), self.views_b.get(name))
            if name in self.noise:
                differing = np.setdiff1d(differing, self.noise[name], assume_unique=True)
            out[name] = len(differing) / len(units)
        for key in self.metrics_changed:
            out[f"metric:{key}"] = self._metric_distance(key, metrics.get(key))
        return out

    def value(self, views: Mapping[str, OutputView], metrics: Mapping[str, Any]) -> float:
        """The share of A -> B's change that a run reproduces: ``1 - D`` (1 for B, 0 for A)."""
        distances = self.distance(views, metrics)
        if not distances:
            return 0.0
        return 1.0 - sum(distances.values()) / len(distances)

    def reproduced(self, name: str, view: OutputView | None) -> np.ndarray:
        """Mask over the changed units of output ``name``: does ``view`` match B there?"""
        import numpy as np

        units = self.changed[name]
        mine = view.lookup(units) if view is not None else np.zeros(len(units), np.uint64)
        theirs = self.views_b[name].lookup(units) if name in self.views_b else mine * 0
        result: np.ndarray = mine == theirs
        return result

    def moved(self, name: str, view: OutputView | None) -> np.ndarray:
        """Mask over the changed units of output ``name``: does ``view`` differ from A there?"""
        import numpy as np

        units = self.changed[name]
        mine = view.lookup(units) if view is not None else np.zeros(len(units), np.uint64)
        theirs = self.views_a[name].lookup(units) if name in self.views_a else mine * 0
        result: np.ndarray = mine != theirs
        return result
