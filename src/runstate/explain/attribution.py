"""Attribution: shares of the change, per output row, and vanished rows traced to inputs.

From the search (:mod:`.search`):

* **share** — a factor's Shapley value over the sum of the candidates' values (for an
  additive change: its single effect over the total);
* **per output row** — for each changed unit (key) of each output, the factors that give
  B's value there when switched *alone*; units no single factor reproduces but the minimal
  set (ddmin) does are explained by that set together (an interaction); the rest are
  *unexplained*;
* **vanished rows traced to inputs** — when a cause switches an input (``data:<name>``,
  or ``policy``), the output keys it removes are joined to that input: the rule is that the
  output's key columns must all be columns of the input, and an output key is *traced*
  when its key values occur in A's input and no longer in B's (rows excluded upstream, a
  missing day, a policy filter). Otherwise no trace is claimed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from runstate.explain.distance import jsonable
from runstate.explain.search import EPS, SearchResult

if TYPE_CHECKING:
    import numpy as np

    from runstate.explain.distance import Measure

__all__ = ["Cause", "RowAttribution", "attribute"]


@dataclass
class Cause:
    index: int
    name: str
    factors: list[str]
    share: float
    shapley: float
    shapley_se: float | None
    single_value: float | None
    rows: dict[str, int] = field(default_factory=dict)  # output -> units it explains alone
    rows_together: dict[str, int] = field(default_factory=dict)  # ... only with the others
    partners: list[str] = field(default_factory=list)  # the others of its minimal set
    rows_moved: dict[str, int] = field(default_factory=dict)
    samples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    traces: list[dict[str, Any]] = field(default_factory=list)
    hybrids: list[str] = field(default_factory=list)
    failed: str | None = None


@dataclass
class RowAttribution:
    output: str
    changed: int
    by_factor: dict[str, int]
    together: dict[str, int]  # "a + b" -> units only the set explains
    unexplained: int
    noise: int


def _units_values(view: Any, units: np.ndarray, limit: int) -> list[dict[str, Any]]:
    return view.values(units, limit) if view is not None else []


def _trace(
    measure: Measure,
    inputs_a: Mapping[str, Mapping[str, Any]],
    inputs_b: Mapping[str, Mapping[str, Any]],
    input_names: Sequence[str],
    output: str,
    vanished: np.ndarray,
    sample: int,
) -> list[dict[str, Any]]:
    """Vanished output keys joined to rows that vanished from an input (module docstring)."""
    from runstate.data.snapshot import read_snapshot

    view = measure.views_a.get(output)
    if view is None or view.key is None or view.key_values is None or not len(vanished):
        return []
    import numpy as np

    pos = np.searchsorted(view.units, vanished)
    keys = view.key_values.take(pos).to_pylist()
    columns = list(view.key)
    traces = []
    for name in input_names:
        a, b = inputs_a.get(name), inputs_b.get(name)
        if a is None or not a.get("snapshot_id"):
            continue
        have = [c[0] if isinstance(c, list) else c for c in a.get("columns") or []]
        names = {str(s.get("name")) for s in a.get("schema") or []} | {str(h) for h in have}
        if not all(c in names for c in columns):
            continue
        try:
            table_a = read_snapshot(measure.objects, str(a["snapshot_id"])).select(columns)
            table_b = (
                read_snapshot(measure.objects, str(b["snapshot_id"])).select(columns)
                if b is not None and b.get("snapshot_id")
                else None
            )
        except Exception:
            continue
        rows_a = set(zip(*(table_a.column(c).to_pylist() for c in columns), strict=True))
        rows_b = (
            set(zip(*(table_b.column(c).to_pylist() for c in columns), strict=True))
            if table_b is not None
            else set()
        )
        gone = rows_a - rows_b
        traced = [k for k in keys if tuple(k[c] for c in columns) in gone]
        if traced:
            removed_rows = sum(
                1
                for row in zip(*(table_a.column(c).to_pylist() for c in columns), strict=True)
                if row in gone
            )
            traces.append(
                {
                    "output": output,
                    "input": name,
                    "columns": columns,
                    "output_keys_traced": len(traced),
                    "output_keys_vanished": len(vanished),
                    "input_rows_vanished": removed_rows,
                    "sample": [{k: jsonable(v) for k, v in t.items()} for t in traced[:sample]],
                }
            )
    return traces


def attribute(
    search: SearchResult,
    measure: Measure,
    record_a: Mapping[str, Any],
    record_b: Mapping[str, Any],
    sample: int = 5,
) -> tuple[list[Cause], list[RowAttribution]]:
    """Causes (every group, ranked later) and the per-output row attribution."""
    import numpy as np

    groups = search.groups
    total = sum(max(0.0, search.shapley.get(i, 0.0)) for i in range(len(groups)))
    inputs_a = {str(e["name"]): e for e in record_a.get("inputs") or []}
    inputs_b = {str(e["name"]): e for e in record_b.get("inputs") or []}
    causes = []
    for i, group in enumerate(groups):
        phi = search.shapley.get(i, 0.0)
        single = search.single(i)
        cause = Cause(
            i,
            group.name,
            [f.name for f in group.factors],
            (max(0.0, phi) / total) if total > EPS else 0.0,
            phi,
            search.shapley_se.get(i),
            single.value if single is not None else None,
        )
        if single is not None and not single.result.ok:
            cause.failed = single.result.reason or single.result.status
        cause.hybrids = [
            ev.result.state_id[:16]
            for subset, ev in search.evaluated.items()
            if i in subset and len(subset) <= 3
        ][:8]
        causes.append(cause)
    rows: list[RowAttribution] = []
    minimal = search.minimal or []
    together_item = search.evaluated.get(frozenset(minimal)) if len(minimal) > 1 else None
    for output, units in measure.changed.items():
        by_factor: dict[str, int] = {}
        covered = np.zeros(len(units), bool)
        for cause in causes:
            single = search.single(cause.index)
            if single is None or single.views is None:
                continue
            view = single.views.get(output)
            rep = measure.reproduced(output, view)
            mov = measure.moved(output, view)
            explained = rep & mov
            count = int(explained.sum())
            cause.rows_moved[output] = int(mov.sum())
            if count:
                cause.rows[output] = count
                by_factor[cause.name] = count
                cause.samples[output] = _units_values(
                    measure.views_b.get(output) or measure.views_a.get(output),
                    units[explained],
                    sample,
                ) or _units_values(measure.views_a.get(output), units[explained], sample)
                in_a = measure.views_a[output].lookup(units) if output in measure.views_a else None
                in_b = measure.views_b[output].lookup(units) if output in measure.views_b else None
                if in_a is not None:
                    gone = explained & (in_a != 0) & ((in_b == 0) if in_b is not None else True)
                    switched = [
                        c.removeprefix("data:")
                        for f in groups[cause.index].factors
                        for c in f.components
                        if c.startswith("data:")
                    ]
                    if gone.any() and switched:
                        cause.traces += _trace(
                            measure, inputs_a, inputs_b, switched, output, units[gone], sample
                        )
            covered |= explained
        together: dict[str, int] = {}
        if together_item is not None and together_item.views is not None:
            view = together_item.views.get(output)
            extra = measure.reproduced(output, view) & measure.moved(output, view) & ~covered
            if extra.any():
                label = " + ".join(groups[i].name for i in minimal)
                together[label] = int(extra.sum())
                for i in minimal:
                    causes[i].rows_together[output] = int(extra.sum())
                    causes[i].partners = [groups[j].name for j in minimal if j != i]
                covered |= extra
        rows.append(
            RowAttribution(
                output,
                len(units),
                by_factor,
                together,
                int((~covered).sum()),
                len(measure.noise.get(output, units[:0])),
            )
        )
    for key in measure.metrics_changed:
        a, b = measure.metrics_a.get(key), measure.metrics_b.get(key)
        for cause in causes:
            single = search.single(cause.index)
            if single is None or single.metrics is None:
                continue
            x = single.metrics.get(key)
            if x != a:
                delta = (
                    float(x) - float(a)
                    if isinstance(x, (int, float)) and isinstance(a, (int, float))
                    else None
                )
                cause.metrics[key] = {"old": a, "new": b, "alone": x, "delta_alone": delta}
    return causes, rows
