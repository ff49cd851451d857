"""Self-contained HTML reports of runstate results (diffs now; checks and explanations next).

* :mod:`runstate.report.html` — :func:`~runstate.report.html.render_diff`: the page of a
  ``runstate.diff/v1`` document;
* :mod:`runstate.report.page` — what every report shares: Jinja2 templates with autoescape,
  value filters, chart placement and a byte budget the page is fitted to;
* :mod:`runstate.report.charts` — inline SVG charts built from document summaries
  (distribution overlays, top values, rows per day, time coverage with gaps, counts,
  intervals), on the drawing primitives of :mod:`runstate.report.svg`.

Nothing heavy is imported here: Jinja2 is imported when a page is rendered, and no chart
library is used (charts are SVG markup written in Python, no JavaScript).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["render_diff", "write_diff"]

if TYPE_CHECKING:
    from runstate.report.html import render_diff, write_diff


def __getattr__(name: str) -> Any:
    if name in __all__:
        from runstate.report import html

        return getattr(html, name)
    raise AttributeError(f"module 'runstate.report' has no attribute {name!r}")
