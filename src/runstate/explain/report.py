"""The ``runstate.explain/v1`` document: ranked causes, harmless factors, rows, evidence.

See docs/explain.md and docs/schemas/explain.schema.json. ``status``:

* ``explained`` — the causes reproduce B's outputs (within the replay's own noise);
* ``partly_explained`` — some changed rows or metrics remain unexplained, or factors remain
  confounded because the budget was too small;
* ``no_change`` — A and B's outputs are equal (or differ only by nondeterminism);
* ``not_replayable`` — A cannot be replayed: the diff alone, with the reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from runstate.explain.attribution import Cause, RowAttribution
from runstate.explain.factors import Factor
from runstate.explain.search import EPS, SearchResult

__all__ = ["EXPLAIN_SCHEMA", "build_document", "cause_statement"]

EXPLAIN_SCHEMA = "runstate.explain/v1"


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%" if x >= 0.01 or x == 0 else f"{100 * x:.1f}%"


def cause_statement(
    cause: Cause, summaries: Mapping[str, str], rows: Sequence[RowAttribution]
) -> str:
    """One plain-language sentence for a cause."""
    what = "; ".join(summaries.get(f, f) for f in cause.factors)
    label = f"`{cause.name}`"
    parts = []
    together = ""
    for item in rows:
        n, m = cause.rows.get(item.output, 0), cause.rows_together.get(item.output, 0)
        if n:
            parts.append(f"{n} of {item.changed} changed rows of `{item.output}`")
        elif m:
            parts.append(f"{m} of {item.changed} changed rows of `{item.output}`")
        if m:
            others = " + ".join(f"`{p}`" for p in cause.partners)
            together = (
                f" together with {others}" if not n else f" alone ({m} more together with {others})"
            )
    trace = ""
    if cause.traces:
        t = cause.traces[0]
        trace = (
            f" ({t['output_keys_traced']} vanished keys traced to {t['input_rows_vanished']} "
            f"rows gone from input `{t['input']}`)"
        )
    if parts:
        return f"{' and '.join(parts)} are explained by {label}{together}: {what}{trace}."
    if cause.metrics:
        key, moved = next(iter(cause.metrics.items()))
        return (
            f"{label} explains {_pct(cause.share)} of the change ({what}); alone it moves "
            f"{key} from {moved['old']} to {moved['alone']} (B: {moved['new']})."
        )
    return f"{label} explains {_pct(cause.share)} of the change: {what}."


def build_document(
    *,
    side_a: Mapping[str, Any],
    side_b: Mapping[str, Any],
    factors: Sequence[Factor],
    untestable: Sequence[Factor],
    search: SearchResult | None,
    causes: Sequence[Cause],
    rows: Sequence[RowAttribution],
    measure: Any,
    diff_components: Mapping[str, Any],
    notes: Sequence[str],
    warnings: Sequence[str],
    replays: int,
    cache_hits: int,
    max_replays: int,
    parallel: int,
    seconds: float,
    status_override: str | None = None,
    reason: str | None = None,
) -> dict[str, Any]:
    summaries = {f.name: f.summary for f in factors}
    ranked = sorted(
        (c for c in causes if c.share > EPS or c.rows or c.rows_together or c.failed),
        key=lambda c: (-c.share, -sum(c.rows.values()) - sum(c.rows_together.values()), c.name),
    )
    cause_names = {c.name for c in ranked}
    groups = search.groups if search is not None else []
    confounded = [
        [f.name for f in g.factors] for g in groups if len(g.factors) > 1 and g.name in cause_names
    ]
    harmless = []
    for group in groups if status_override is None else []:
        if group.name in cause_names:
            continue
        for f in group.factors:
            harmless.append({"name": f.name, "summary": f.summary})
    interactions: list[dict[str, Any]] = []
    if search is not None:
        for item in rows:
            for label, n in item.together.items():
                interactions.append(
                    {
                        "factors": label.split(" + "),
                        "kind": "together",
                        "rows": n,
                        "output": item.output,
                        "reason": "only switched together do they reproduce these rows",
                    }
                )
        if search.minimal and len(search.minimal) > 1 and not interactions:
            interactions.append(
                {
                    "factors": [groups[i].name for i in search.minimal],
                    "kind": "together",
                    "rows": 0,
                    "output": None,
                    "reason": "the minimal set that reproduces B (ddmin)",
                }
            )
        for subset, ev in search.evaluated.items():
            if not ev.result.ok and subset:
                interactions.append(
                    {
                        "factors": [groups[i].name for i in sorted(subset)],
                        "kind": ev.result.status,
                        "rows": 0,
                        "output": None,
                        "reason": ev.result.reason or ev.result.status,
                    }
                )
    cause_docs = []
    for rank, cause in enumerate(ranked, 1):
        sections = sorted({f.section for f in factors if f.name in cause.factors})
        cause_docs.append(
            {
                "rank": rank,
                "name": cause.name,
                "factors": cause.factors,
                "share": round(cause.share, 6),
                "shapley": round(cause.shapley, 6),
                "shapley_se": None
                if cause.shapley_se is None
                or cause.shapley_se != cause.shapley_se
                or cause.shapley_se == float("inf")
                else round(cause.shapley_se, 6),
                "single_effect": None
                if cause.single_value is None
                else round(cause.single_value, 6),
                "rows_explained": sum(cause.rows.values()) + sum(cause.rows_together.values()),
                "rows": dict(cause.rows),
                "rows_together": dict(cause.rows_together),
                "rows_moved": dict(cause.rows_moved),
                "metrics": cause.metrics,
                "failed": cause.failed,
                "statement": cause_statement(cause, summaries, rows),
                "evidence": {
                    "summary": [summaries.get(f, f) for f in cause.factors],
                    "sections": {s: _trim(diff_components.get(s)) for s in sections},
                    "samples": cause.samples,
                    "traces": cause.traces,
                    "hybrids": cause.hybrids,
                },
            }
        )
    changed_rows = sum(r.changed for r in rows)
    unexplained = sum(r.unexplained for r in rows)
    metrics_doc = []
    if measure is not None:
        for key in sorted(set(measure.metrics_a) | set(measure.metrics_b)):
            a, b = measure.metrics_a.get(key), measure.metrics_b.get(key)
            if a == b:
                continue
            num = isinstance(a, (int, float)) and isinstance(b, (int, float))
            metrics_doc.append(
                {
                    "key": key,
                    "old": a,
                    "new": b,
                    "delta": (b - a) if num else None,
                    "noisy": key in measure.noisy_metrics,
                }
            )
    full = search.full_value if search is not None else None
    mismatch = search.mismatch if search is not None else None
    if status_override:
        status = status_override
    elif mismatch == "environment":
        status = "partly_explained"
    elif measure is not None and not measure.items:
        status = "no_change"
    elif (
        unexplained == 0
        and not confounded
        and full is not None
        and full >= 1 - 1e-6
        and (ranked or not measure.items)
    ):
        status = "explained"
    else:
        status = "partly_explained"
    if status == "not_replayable":
        statement = f"Not replayable: {reason}. Only the diff is shown."
    elif mismatch == "environment":
        names = ", ".join(f.name for f in untestable)
        statement = (
            "A does not replay to its recorded outputs here, and two replays agree: the "
            "replay's environment is not A's"
            + (f" (untestable here: {names})" if names else "")
            + "; explain with --env exact to switch the environment."
        )
    elif status == "no_change":
        statement = (
            "The outputs differ only by nondeterminism: a replay of A differs from A as much."
            if search is not None and search.nondeterministic
            else "A and B have the same outputs: nothing to explain."
        )
    elif ranked:
        statement = str(cause_docs[0]["statement"])
        if len(ranked) > 1:
            statement += f" {len(ranked) - 1} more cause(s)."
    else:
        statement = "No factor that a replay can switch explains the change."
    nondet = {
        "detected": bool(search and search.nondeterministic),
        "noisy_units": dict(search.noise) if search else {},
        "noisy_metrics": list(search.noisy_metrics) if search else [],
        "note": (
            "a replay of A differs from A: those rows and metrics are left out "
            "(the replay's own spread is the tolerance)"
            if search and search.nondeterministic
            else None
        ),
    }
    hybrids: list[dict[str, Any]] = []
    if search is not None and search.repeat is not None:
        hybrids.append(
            {
                "state_id": search.repeat.state_id,
                "factors": [],
                "status": search.repeat.status,
                "reason": "A replayed a second time (does A's replay vary?)",
                "value": None,
                "cached": search.repeat.cached,
                "replay_run_id": search.repeat.replay_run_id,
            }
        )
    if search is not None:
        for subset, ev in sorted(
            search.evaluated.items(), key=lambda kv: (len(kv[0]), sorted(kv[0]))
        ):
            hybrids.append(
                {
                    "state_id": ev.result.state_id,
                    "factors": [groups[i].name for i in sorted(subset)],
                    "status": ev.result.status,
                    "reason": ev.result.reason,
                    "value": None if ev.value is None else round(ev.value, 6),
                    "cached": ev.result.cached,
                    "replay_run_id": ev.result.replay_run_id,
                }
            )
    return {
        "schema": EXPLAIN_SCHEMA,
        "a": dict(side_a),
        "b": dict(side_b),
        "status": status,
        "explained": status in ("explained", "no_change"),
        "reason": reason,
        "statement": statement,
        "factors": [f.to_dict() for f in factors],
        "causes": cause_docs,
        "harmless": harmless,
        "untestable": [
            {"name": f.name, "summary": f.summary, "reason": f.reason} for f in untestable
        ],
        "confounded": confounded,
        "interactions": interactions,
        "rows": [
            {
                "output": r.output,
                "changed": r.changed,
                "by_factor": r.by_factor,
                "together": r.together,
                "unexplained": r.unexplained,
                "noise": r.noise,
            }
            for r in rows
        ],
        "rows_changed": changed_rows,
        "rows_unexplained": unexplained,
        "metrics": metrics_doc,
        "nondeterminism": nondet,
        "baseline": {
            "reproduced": search is not None and search.failure is None and mismatch is None,
            "mismatch": mismatch,
        },
        "search": {
            "additive": bool(search and search.additive),
            "minimal_set": [groups[i].name for i in (search.minimal or [])] if search else [],
            "shapley_method": search.shapley_method if search else "none",
            "full_value": None if full is None else round(full, 6),
            "hybrids": hybrids,
            "replays": replays,
            "cache_hits": cache_hits,
            "max_replays": max_replays,
            "parallel": parallel,
            "stopped": search.stopped if search else None,
        },
        "notes": list(notes),
        "warnings": list(warnings),
        "seconds": round(seconds, 3),
    }


def _trim(component: Any) -> Any:
    """A diff section, without bulky sample lists beyond a few items."""
    if component is None:
        return None
    data = component.to_dict() if hasattr(component, "to_dict") else dict(component)
    files = data.get("files")
    if isinstance(files, list):
        data["files"] = [
            {k: v for k, v in f.items() if k != "diff"} | {"diff": (f.get("diff") or "")[:4000]}
            if isinstance(f, dict)
            else f
            for f in files[:10]
        ]
    return data
