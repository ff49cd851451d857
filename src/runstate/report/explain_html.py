"""The HTML rendering of a ``runstate.explain/v1`` document: one self-contained page.

:func:`render_explain` takes the document of ``runstate explain --json`` and returns the
page (templates/explain.html on the shared base): the verdict and the one-sentence answer
on top, a bar chart of each cause's share of the change and one of the output rows each
explains (inline SVG, :func:`runstate.report.charts.count_bars`), then per cause its
statement, evidence (diff summary, traces to input rows, sample affected keys, hybrids run),
the harmless factors, interactions, nondeterminism and the search's cost.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from runstate.report import charts
from runstate.report.page import DEFAULT_MAX_BYTES, fit_to_budget, render_page

__all__ = ["render_explain"]

_COLORS = ("#2563eb", "#d97706", "#059669", "#dc2626", "#7c3aed", "#0891b2")


def _charts(document: Mapping[str, Any]) -> dict[str, Any]:
    causes = document.get("causes") or []
    shares = charts.count_bars(
        "Share of the change, by cause",
        [(c["name"], 100 * float(c["share"]), _COLORS[i % 6]) for i, c in enumerate(causes)],
    )
    rows = charts.count_bars(
        "Changed output rows each cause explains",
        [(c["name"], int(c["rows_explained"]), _COLORS[i % 6]) for i, c in enumerate(causes)]
        + [("unexplained", int(document.get("rows_unexplained") or 0), "#9ca3af")],
        percent_of=float(document.get("rows_changed") or 0) or None,
    )
    return {"shares": shares, "rows": rows}


def render_explain(document: Mapping[str, Any], max_bytes: int = DEFAULT_MAX_BYTES) -> str:
    from runstate import __version__

    def label(side: Mapping[str, Any]) -> str:
        return str(side.get("release") or str(side["id"])[:13])

    def render(level: int) -> str:
        a, b = document["a"], document["b"]
        return render_page(
            "explain.html",
            {
                "title": f"runstate explain: {label(a)} → {label(b)}",
                "version": __version__,
                "generated_at": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                "doc": document,
                "label_a": label(a),
                "label_b": label(b),
                "charts_": _charts(document) if level == 0 else {},
                "samples": 10 if level == 0 else 3,
            },
            charts=level == 0,
        )

    return fit_to_budget(render, [0, 1], max_bytes).html
