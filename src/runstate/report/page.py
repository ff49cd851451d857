"""The machinery every HTML report shares: templates, filters, charts, size budget.

A report is one self-contained HTML file that works offline: the CSS and the little script
of ``templates/base.html`` are inline, and charts are inline SVG drawn in Python
(:mod:`runstate.report.charts`) — no JavaScript chart library, so a typical report is tens
of KB and opens instantly.

Templates are Jinja2 with autoescaping on: every value from a result document is text, never
markup. Chart markup is built with every text XML-escaped (:func:`runstate.report.svg.esc`)
and placed by :class:`ChartSink` (the templates' ``chart(…)``).

A report builder renders its template at decreasing levels of detail until the file fits its
byte budget (:func:`fit_to_budget`); result documents are already sampled, so this only
bites on very large diffs (long code diffs, many changed files), and charts — a few KB each
— are the last thing left out.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import jinja2
    from markupsafe import Markup

    from runstate.report.svg import Svg

__all__ = [
    "DEFAULT_MAX_BYTES",
    "ChartSink",
    "environment",
    "fit_to_budget",
    "render_page",
]

#: Reports stay under this many bytes.
DEFAULT_MAX_BYTES = 5_000_000

T = TypeVar("T")


class ChartSink:
    """Places charts in a page (``{{ chart(svg) }}``) and counts them.

    Disabled (the last detail level of a page over its budget), a chart becomes a one-line
    note with its text alternative.
    """

    def __init__(self, *, enabled: bool = True) -> None:
        self.enabled = enabled
        self.count = 0
        self.left_out = 0

    def __call__(self, chart: Svg | None, *, css_class: str = "") -> Markup:
        from markupsafe import Markup

        if chart is None:
            return Markup("")
        if not self.enabled:
            self.left_out += 1
            return Markup(
                '<p class="note chart-off">Chart left out to keep the file small: {}</p>'
            ).format(chart.alt)
        self.count += 1
        return Markup('<figure class="chart {}">{}</figure>').format(css_class, Markup(str(chart)))


# ---------------------------------------------------------------------------------------
# Filters


def number(value: Any, digits: int = 6) -> str:
    """1,234 for integers, 6 significant digits for floats, text for the rest."""
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "—"}[value]
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value != 0 and (abs(value) >= 1e9 or abs(value) < 1e-4):
            return f"{value:.{digits - 1}e}"
        return f"{value:,.{digits}g}" if abs(value) >= 1e5 else f"{value:.{digits}g}"
    return str(value)


def signed(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "" if value is None else str(value)
    return ("+" if value > 0 else "") + number(value)


def percent(value: Any, digits: int = 1) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return ""
    return f"{value:+.{digits}%}"


def shorten(value: Any, width: int = 12) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= width else text[:width]


def clip(value: Any, width: int = 160) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def show(value: Any, width: int = 160) -> Markup:
    """A value from a document as readable text: null as a dash, containers as JSON."""
    from markupsafe import Markup, escape

    if value is None:
        return Markup('<span class="none">—</span>')
    if isinstance(value, int) and not isinstance(value, bool):
        return escape(str(value))  # ids and keys: no thousands separators
    if isinstance(value, float):
        return escape(number(value))
    if isinstance(value, str):
        return escape(clip(value, width))
    try:
        text = json.dumps(value, ensure_ascii=False, default=str, separators=(", ", ": "))
    except (TypeError, ValueError):
        text = repr(value)
    return escape(clip(text, width))


def plural(count: Any, word: str, many: str | None = None) -> str:
    many = many if many is not None else word + "s"
    return f"{number(count)} {word if count == 1 else many}"


# ---------------------------------------------------------------------------------------
# Environment and rendering


@functools.lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The shared Jinja2 environment: package templates, autoescape everywhere."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("runstate.report", "templates"),
        autoescape=True,
        undefined=jinja2.ChainableUndefined,  # documents may lack optional parts
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters.update(
        num=number, signed=signed, pct=percent, short=shorten, clip=clip, show=show, plural=plural
    )
    env.globals["first"] = first
    return env


def render_page(template: str, context: Mapping[str, Any], *, charts: bool = True) -> str:
    """Render a report template to one self-contained page.

    ``context`` is given to the template together with ``chart`` (a :class:`ChartSink`:
    call it with an :class:`~runstate.report.svg.Svg` from :mod:`runstate.report.charts`);
    with ``charts=False`` every chart becomes a one-line note.
    """
    sink = ChartSink(enabled=charts)
    return environment().get_template(template).render({**context, "chart": sink})


@dataclass(frozen=True)
class Fitted:
    """A rendered page and the detail level it fitted at (0 = full detail)."""

    html: str
    level: int
    size: int


def fit_to_budget(
    render: Callable[[T], str], levels: Sequence[T], max_bytes: int = DEFAULT_MAX_BYTES
) -> Fitted:
    """Render at each detail level in turn until the UTF-8 page fits ``max_bytes``.

    The last level's page is returned even when it is still too big (the caller's last
    level should leave out everything unbounded).
    """
    if not levels:
        raise ValueError("fit_to_budget needs at least one level")
    html = ""
    size = 0
    for index, level in enumerate(levels):
        html = render(level)
        size = len(html.encode("utf-8"))
        if size <= max_bytes:
            return Fitted(html, index, size)
    return Fitted(html, len(levels) - 1, size)


def first(items: Iterable[T], count: int) -> list[T]:
    """At most ``count`` items (a template helper that tolerates ``None``)."""
    out: list[T] = []
    for item in items or ():
        if len(out) >= count:
            break
        out.append(item)
    return out
