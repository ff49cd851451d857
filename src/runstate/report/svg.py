"""Drawing primitives for the report charts: inline SVG markup built as escaped strings.

Charts are drawn in Python and inlined in the page as ``<svg>`` elements — no JavaScript
chart library — so a report stays small (a chart is a few KB) and opens instantly. This
module has the pieces every chart uses:

* :func:`esc` — XML escaping of every piece of text (quotes too: the same function escapes
  attribute values); user text never reaches the markup otherwise;
* :class:`Svg` — a chart's markup (a ``str`` that Jinja2 inserts as-is) with its text
  alternative and how many marks it drew;
* :class:`Canvas` — collects marks and renders the ``<svg>``: ``viewBox`` and
  ``width="100%"`` so it scales with the page, ``role="img"``, an ``aria-label`` and a
  ``<title>``;
* marks (:func:`rect`, :func:`path`, :func:`line`, :func:`circle`, :func:`polygon`,
  :func:`text`), each with an optional ``<title>`` child: the hover text;
* scales and ticks: :class:`Linear`, :func:`linear_ticks` (1-2-2.5-5 steps),
  :func:`tick_label`, :func:`time_ticks` (hours, days, weeks, months, years);
* :func:`x_axis`, :func:`y_axis` (grid lines and labels) and :func:`legend`.

Sizes are in viewBox units (1 unit is 1 CSS pixel at the chart's natural width); the page's
stylesheet sets fonts and hover effects by class (``rs-chart``, ``mark``, ``hit``…).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "CHAR_WIDTH",
    "Box",
    "Canvas",
    "Linear",
    "Svg",
    "circle",
    "days",
    "esc",
    "fit",
    "legend",
    "line",
    "linear_ticks",
    "num",
    "path",
    "polygon",
    "rect",
    "text",
    "tick_label",
    "time_ticks",
    "x_axis",
    "y_axis",
]

#: Average width of one character of the 11-unit chart font, for layout estimates.
CHAR_WIDTH = 6.4
FONT_SIZE = 11
AXIS_COLOR = "#8c959f"
GRID_COLOR = "#e5e7eb"
TEXT_COLOR = "#57606a"

# Characters XML 1.0 does not allow (C0 controls but tab/newline/return, lone surrogates,
# U+FFFE/U+FFFF): dropped so the markup stays well-formed.
_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_EPOCH = dt.datetime(1970, 1, 1)


def esc(value: object) -> str:
    """Text (any value) as XML character data or attribute value: ``& < > " '`` escaped."""
    text = _INVALID.sub("", str(value))
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&#39;")
    )


def fit(value: object, chars: int) -> str:
    """Text cut to at most ``chars`` characters (an ellipsis marks the cut)."""
    text = str(value)
    chars = max(1, int(chars))
    return text if len(text) <= chars else text[: chars - 1] + "…"


def num(value: float) -> str:
    """A coordinate: one decimal at most, no trailing ``.0``."""
    text = f"{value:.1f}"
    if text.endswith(".0"):
        text = text[:-2]
    return "0" if text == "-0" else text


class Svg(str):
    """The markup of one chart, with its text alternative and its number of marks.

    A ``str``, so it is markup wherever a string goes; ``__html__`` makes Jinja2 and
    MarkupSafe insert it without escaping (everything in it was escaped when built).
    """

    alt: str
    marks: int

    def __new__(cls, markup: str, alt: str = "", marks: int = 0) -> Svg:
        chart = super().__new__(cls, markup)
        chart.alt = alt
        chart.marks = marks
        return chart

    def __html__(self) -> str:
        from markupsafe import Markup  # Jinja2's dependency; only needed when rendering

        return Markup(str(self))


@dataclass(frozen=True)
class Box:
    """The plot area inside a chart, in viewBox units."""

    left: float
    top: float
    right: float
    bottom: float

    @property
    def width(self) -> float:
        return self.right - self.left

    @property
    def height(self) -> float:
        return self.bottom - self.top


@dataclass(frozen=True)
class Linear:
    """A linear map from a domain ``[d0, d1]`` to a range ``[r0, r1]``."""

    d0: float
    d1: float
    r0: float
    r1: float

    def __call__(self, value: float) -> float:
        if self.d1 == self.d0:
            return (self.r0 + self.r1) / 2
        return self.r0 + (value - self.d0) * (self.r1 - self.r0) / (self.d1 - self.d0)


# ---------------------------------------------------------------------------------------
# Marks


def _attrs(pairs: Iterable[tuple[str, object]]) -> str:
    out = []
    for name, value in pairs:
        if value is None or value is False:
            continue
        if isinstance(value, float):
            value = num(value)
        out.append(f' {name}="{esc(value)}"')
    return "".join(out)


def _element(tag: str, attrs: Iterable[tuple[str, object]], title: str | None) -> str:
    if title is None:
        return f"<{tag}{_attrs(attrs)}/>"
    return f"<{tag}{_attrs(attrs)}><title>{esc(title)}</title></{tag}>"


def rect(
    x: float,
    y: float,
    width: float,
    height: float,
    *,
    fill: str | None = None,
    cls: str | None = None,
    title: str | None = None,
    opacity: float | None = None,
    stroke: str | None = None,
) -> str:
    """A rectangle (negative sizes are drawn from the other corner)."""
    if width < 0:
        x, width = x + width, -width
    if height < 0:
        y, height = y + height, -height
    return _element(
        "rect",
        (
            ("class", cls),
            ("x", float(x)),
            ("y", float(y)),
            ("width", float(width)),
            ("height", float(height)),
            ("fill", fill),
            ("fill-opacity", opacity),
            ("stroke", stroke),
        ),
        title,
    )


def path(
    d: str,
    *,
    stroke: str | None = None,
    fill: str = "none",
    width: float | None = None,
    cls: str | None = None,
    title: str | None = None,
    opacity: float | None = None,
    stroke_opacity: float | None = None,
    dash: str | None = None,
) -> str:
    """A path from ``d`` (built by the caller from numbers only)."""
    return _element(
        "path",
        (
            ("class", cls),
            ("d", d),
            ("fill", fill),
            ("fill-opacity", opacity),
            ("stroke", stroke),
            ("stroke-width", width),
            ("stroke-opacity", stroke_opacity),
            ("stroke-dasharray", dash),
        ),
        title,
    )


def line(
    x1: float,
    y1: float,
    x2: float,
    y2: float,
    *,
    stroke: str,
    width: float = 1.0,
    dash: str | None = None,
    cls: str | None = None,
    title: str | None = None,
) -> str:
    return _element(
        "line",
        (
            ("class", cls),
            ("x1", float(x1)),
            ("y1", float(y1)),
            ("x2", float(x2)),
            ("y2", float(y2)),
            ("stroke", stroke),
            ("stroke-width", width if width != 1.0 else None),
            ("stroke-dasharray", dash),
        ),
        title,
    )


def circle(
    cx: float,
    cy: float,
    r: float,
    *,
    fill: str,
    cls: str | None = None,
    title: str | None = None,
    stroke: str | None = None,
) -> str:
    return _element(
        "circle",
        (
            ("class", cls),
            ("cx", float(cx)),
            ("cy", float(cy)),
            ("r", float(r)),
            ("fill", fill),
            ("stroke", stroke),
        ),
        title,
    )


def polygon(
    points: Sequence[tuple[float, float]],
    *,
    fill: str,
    cls: str | None = None,
    title: str | None = None,
) -> str:
    coords = " ".join(f"{num(x)},{num(y)}" for x, y in points)
    return _element("polygon", (("class", cls), ("points", coords), ("fill", fill)), title)


def text(
    x: float,
    y: float,
    content: object,
    *,
    anchor: str = "start",
    cls: str | None = None,
    fill: str | None = None,
    size: float | None = None,
    weight: str | None = None,
    title: str | None = None,
) -> str:
    """A text label; ``y`` is the baseline. The content is escaped."""
    attrs = _attrs(
        (
            ("class", cls),
            ("x", float(x)),
            ("y", float(y)),
            ("text-anchor", anchor if anchor != "start" else None),
            ("fill", fill),
            ("font-size", size),
            ("font-weight", weight),
        )
    )
    inner = esc(content) if title is None else f"<title>{esc(title)}</title>{esc(content)}"
    return f"<text{attrs}>{inner}</text>"


# ---------------------------------------------------------------------------------------
# The chart


class Canvas:
    """Collects the marks of one chart and renders its ``<svg>`` element."""

    def __init__(self, width: float, height: float, *, title: str, alt: str) -> None:
        self.width = width
        self.height = height
        self.title = title
        self.alt = alt
        self.parts: list[str] = []
        self.marks = 0

    def add(self, *markup: str) -> None:
        self.parts.extend(markup)

    def mark(self, markup: str) -> None:
        """Add one data mark (a bar, a segment, a point): counted in :attr:`Svg.marks`."""
        self.parts.append(markup)
        self.marks += 1

    def heading(self, x: float = 4.0, y: float = 15.0) -> None:
        """The title as the chart's first line (cut to the width; whole in ``<title>``)."""
        chars = (self.width - x - 4) / (CHAR_WIDTH * 1.15)
        self.add(text(x, y, fit(self.title, int(chars)), cls="title", weight="600"))

    def render(self) -> Svg:
        head = (
            f'<svg class="rs-chart" viewBox="0 0 {num(self.width)} {num(self.height)}"'
            f' width="100%" role="img" aria-label="{esc(self.alt or self.title)}"'
            f' font-size="{FONT_SIZE}">'
        )
        body = f"<title>{esc(self.title)}</title>" + "".join(self.parts)
        return Svg(head + body + "</svg>", alt=self.alt or self.title, marks=self.marks)


# ---------------------------------------------------------------------------------------
# Ticks


def _step(span: float, count: int) -> float:
    raw = span / max(1, count)
    magnitude = 10.0 ** math.floor(math.log10(raw))
    for multiple in (1.0, 2.0, 2.5, 5.0, 10.0):
        if raw <= multiple * magnitude * (1 + 1e-9):
            return multiple * magnitude
    return 10.0 * magnitude


def linear_ticks(low: float, high: float, count: int = 5) -> tuple[list[float], float]:
    """Round tick values covering ``[low, high]`` (a 1, 2, 2.5 or 5 × 10ⁿ step) and the step.

    The first and last ticks are at or outside the bounds, so the caller can use them as the
    axis domain.
    """
    if not (math.isfinite(low) and math.isfinite(high)):
        return [0.0, 1.0], 1.0
    if high < low:
        low, high = high, low
    if high == low:
        pad = abs(low) * 0.1 or 1.0
        low, high = low - pad, high + pad
    step = _step(high - low, count)
    start = math.floor(low / step + 1e-9)
    stop = math.ceil(high / step - 1e-9)
    ticks = [round(i * step, 12) for i in range(start, stop + 1)]
    return [0.0 if t == 0 else t for t in ticks], step


def _decimals(step: float) -> int:
    if step <= 0 or not math.isfinite(step):
        return 0
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    if abs(step / 10.0**-decimals - round(step / 10.0**-decimals)) > 1e-6:
        decimals += 1
    return decimals


def tick_label(value: float, step: float, *, percent: bool = False, top: float = 0.0) -> str:
    """A tick's label: as many decimals as the step needs; ``k``/``M``/``G`` for big
    axes (``top``: the largest absolute value on the axis); ``%`` for shares."""
    if percent:
        return f"{value * 100:.{_decimals(step * 100)}f}%"
    scale, suffix = 1.0, ""
    for bound, unit_scale, unit in ((1e9, 1e9, "G"), (1e6, 1e6, "M"), (1e4, 1e3, "k")):
        if max(abs(top), abs(value)) >= bound:
            scale, suffix = unit_scale, unit
            break
    label = f"{value / scale:,.{_decimals(step / scale)}f}"
    if label.lstrip("-").strip("0.,") == "":
        label = "0"
    return label + (suffix if label != "0" else "")


def days(moment: dt.datetime) -> float:
    """A naive UTC datetime as days since 1970-01-01 (the x coordinate of time axes)."""
    return (moment - _EPOCH).total_seconds() / 86400.0


def _month_start(moment: dt.datetime, months: int) -> dt.datetime:
    index = (moment.year * 12 + moment.month - 1) // months * months
    return dt.datetime(index // 12, index % 12 + 1, 1)


def _add_months(moment: dt.datetime, months: int) -> dt.datetime:
    index = moment.year * 12 + moment.month - 1 + months
    return dt.datetime(index // 12, index % 12 + 1, 1)


def time_ticks(start: dt.datetime, end: dt.datetime, count: int = 6) -> list[tuple[float, str]]:
    """Tick positions (as :func:`days`) and labels on round times between ``start`` and
    ``end``: hours, days, weeks (Mondays), months or years, at most about ``count``."""
    span = max((end - start).total_seconds() / 86400.0, 1e-6)
    count = max(2, count)
    ticks: list[tuple[dt.datetime, str]] = []
    for step_days in (1 / 24, 3 / 24, 6 / 24, 12 / 24, 1.0, 2.0, 7.0, 14.0):
        if span / step_days <= count:
            step = dt.timedelta(days=step_days)
            if step_days < 1:
                hours = round(step_days * 24)
                moment = start.replace(minute=0, second=0, microsecond=0)
                moment = moment.replace(hour=moment.hour // hours * hours)
            else:
                moment = dt.datetime(start.year, start.month, start.day)
                if step_days >= 7:
                    moment -= dt.timedelta(days=moment.weekday())
            while moment <= end:
                if moment >= start:
                    ticks.append((moment, ""))
                moment += step
            hourly = step_days < 1
            break
    else:
        hourly = False
        for months in (1, 2, 3, 6, 12, 24, 60, 120, 600):
            if span / (30.44 * months) <= count:
                break
        moment = _month_start(start, months)
        while moment <= end:
            if moment >= start:
                ticks.append((moment, ""))
            moment = _add_months(moment, months)
        out = []
        for moment, _ in ticks:
            label = moment.strftime("%Y") if months >= 12 else moment.strftime("%b %Y")
            out.append((days(moment), label))
        return out
    out = []
    previous: dt.datetime | None = None
    for moment, _ in ticks:
        if hourly:
            label = moment.strftime("%H:%M")
            if previous is None or previous.date() != moment.date():
                label = moment.strftime("%b %d ") + label
        else:
            label = moment.strftime("%b %d")
            if previous is None or previous.year != moment.year:
                label += moment.strftime(" %Y")
        out.append((days(moment), label))
        previous = moment
    return out


# ---------------------------------------------------------------------------------------
# Axes and legend


def x_axis(box: Box, ticks: Sequence[tuple[float, str]], *, grid: bool = True) -> str:
    """Ticks at x positions (viewBox units) along the bottom of ``box``, with labels and
    (optionally) vertical grid lines."""
    parts = [line(box.left, box.bottom, box.right, box.bottom, stroke=AXIS_COLOR)]
    last_right = -math.inf
    for x, label in ticks:
        if x < box.left - 0.5 or x > box.right + 0.5:
            continue
        if grid:
            parts.append(line(x, box.top, x, box.bottom, stroke=GRID_COLOR))
        parts.append(line(x, box.bottom, x, box.bottom + 4, stroke=AXIS_COLOR))
        half = len(label) * CHAR_WIDTH / 2
        if x - half < last_right + 4:
            continue  # would overlap the previous label
        parts.append(text(x, box.bottom + 16, label, anchor="middle", cls="tick"))
        last_right = x + half
    return "".join(parts)


def y_axis(box: Box, ticks: Sequence[tuple[float, str]], *, grid: bool = True) -> str:
    """Ticks at y positions along the left of ``box``, labels right-aligned before it."""
    parts = [line(box.left, box.top, box.left, box.bottom, stroke=AXIS_COLOR)]
    for y, label in ticks:
        if y < box.top - 0.5 or y > box.bottom + 0.5:
            continue
        if grid:
            parts.append(line(box.left, y, box.right, y, stroke=GRID_COLOR))
        parts.append(text(box.left - 5, y + 4, label, anchor="end", cls="tick"))
    return "".join(parts)


def legend(
    items: Sequence[tuple[str, str]], x: float, y: float, *, max_chars: int = 30
) -> tuple[str, float]:
    """Swatches and labels ``[(label, colour), …]`` in one row from ``(x, y)`` (the text
    baseline); returns the markup and where the row ends."""
    parts = []
    for label, color in items:
        shown = fit(label, max_chars)
        parts.append(rect(x, y - 9, 10, 10, fill=color))
        parts.append(text(x + 14, y, shown, cls="legend", title=label if shown != label else None))
        x += 14 + len(shown) * CHAR_WIDTH + 14
    return "".join(parts), x
