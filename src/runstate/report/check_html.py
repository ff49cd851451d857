"""The HTML report of ``runstate check``: verdict, failures first, and per table the plots.

One self-contained page (inline SVG from :mod:`runstate.report.charts`, no network):

* the verdict and the pass/fail counts; every failure and warning, each linking to the
  diff report of the same pair (``FILE.diff.html#<component>``, written next to it);
* per table: drift effect sizes with their confidence intervals against the thresholds
  (one chart per effect: Hedges' g, KS D, share change), distribution overlays of the
  drifted or failing columns (profile quantiles, category shares) and time-coverage
  timelines with the new gaps shaded;
* every check in a collapsible section per table.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["render_check", "write_check"]

_EFFECTS = (
    ("mean_shift", "mean shift: Hedges' g (95% CI)"),
    ("shape", "distribution shape: Kolmogorov-Smirnov D (CI)"),
    ("share_change", "largest category share change (95% CI)"),
)


def _charts(document: Mapping[str, Any], label: str) -> list[Any]:
    from runstate.report import charts

    checks = [c for c in document["checks"] if c.get("table") == label]
    out: list[Any] = []
    for test, title in _EFFECTS:
        rows = []
        threshold = None
        for c in checks:
            if c["kind"] == "drift" and c["check"] == test:
                d = c["details"]
                threshold = d.get("threshold")
                ci = d.get("ci") or [None, None]
                rows.append({"label": c["column"], "estimate": d.get("effect"),
                             "low": ci[0], "high": ci[1], "flagged": d.get("flagged")})  # fmt: skip
        if rows:
            out.append(charts.interval_chart(f"{label}: {title}", rows, threshold=threshold))
    columns = (document.get("tables", {}).get(label) or {}).get("columns", {})
    failing = {c["column"] for c in checks if c["status"] in ("fail", "warn") and c["column"]}
    for name in sorted(failing):
        sides = columns.get(name)
        if not sides:
            continue
        a, b = sides["a"], sides["b"]
        if (
            a.get("quantiles")
            and b.get("quantiles")
            and a.get("family") not in ("date", "timestamp")
        ):
            out.append(charts.quantile_overlay(name, a["quantiles"], b["quantiles"],
                                               label_a="release", label_b="run"))  # fmt: skip
        share = next(
            (c for c in checks if c["check"] == "share_change" and c["column"] == name), None
        )
        if share is not None:
            shares = share["details"].get("shares") or []
            old = [[s["value"], s["share_a"]] for s in shares]
            new = [[s["value"], s["share_b"]] for s in shares]
            out.append(charts.category_overlay(name, old, new, label_a="release", label_b="run"))
        gaps = next(
            (c for c in checks if c["check"] == "coverage_gaps" and c["column"] == name), None
        )
        if gaps is not None:
            coverage = {
                "old": {"min": a.get("min"), "max": a.get("max"), "gaps": a.get("gaps") or []},
                "new": {"min": b.get("min"), "max": b.get("max"), "gaps": b.get("gaps") or []},
                "new_gaps": gaps["details"].get("new_gaps") or [],
            }
            out.append(charts.coverage_timeline(name, coverage, label_a="release", label_b="run"))
    return [c for c in out if c is not None]


def _anchors(diff: Any) -> dict[str, str]:
    """Component name -> anchor in the diff report (empty when it cannot be told)."""
    if diff is None:
        return {}
    try:
        from runstate.report.html import LEVELS, DiffView

        view = DiffView(diff.to_dict(), LEVELS[0])
        return {c.name: c.id for c in view.components}
    except Exception:  # the diff renderer's internals are not a contract
        return {}


def render_check(document: Mapping[str, Any], *, diff_href: str | None = None,
                 anchors: Mapping[str, str] | None = None) -> str:  # fmt: skip
    """The page of a ``runstate.check/v1`` document."""
    from runstate import __version__
    from runstate.report.page import render_page

    labels = sorted({c["table"] for c in document["checks"] if c.get("table")})
    tables = []
    for label in labels:
        checks = [c for c in document["checks"] if c.get("table") == label]
        worst = next(
            (s for s in ("fail", "warn", "info") if any(c["status"] == s for c in checks)), "pass"
        )
        tables.append({"label": label, "id": "t-" + label.replace(" ", "-"), "checks": checks,
                       "status": worst, "charts": _charts(document, label)})  # fmt: skip
    other = [c for c in document["checks"] if not c.get("table")]

    def link(component: str | None) -> str | None:
        if not diff_href or not component:
            return None
        anchor = (anchors or {}).get(component)
        return f"{diff_href}#{anchor}" if anchor else diff_href

    return render_page(
        "check.html",
        {
            "title": (
                f"runstate check: {document['run']['id'][:13]} against {document['release']['ref']}"
            ),
            "version": __version__,
            "generated_at": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "doc": document,
            "problems": [c for c in document["checks"] if c["status"] in ("fail", "warn")],
            "tables": tables,
            "state": other,
            "link": link,
        },
    )


def write_check(result: Any, path: str | Path) -> Path:
    """Write the report of a :class:`~runstate.monitor.result.CheckResult` to ``path`` and,
    when the result carries its diff, the diff report to ``<path stem>.diff.html``."""
    from runstate.store.atomic import atomic_write_bytes

    target = Path(path)
    diff_href = None
    anchors: dict[str, str] = {}
    if getattr(result, "diff", None) is not None:
        try:
            from runstate.report.html import render_diff

            diff_path = target.with_name(target.stem + ".diff.html")
            atomic_write_bytes(diff_path, render_diff(result.diff.to_dict()).encode("utf-8"))
            diff_href = diff_path.name
            anchors = _anchors(result.diff)
        except ImportError:
            diff_href = None
    html = render_check(result.to_dict(), diff_href=diff_href, anchors=anchors)
    atomic_write_bytes(target, html.encode("utf-8"))
    return target
