"""The report charts, drawn as inline SVG from the summaries in result documents.

Each builder takes the small summaries already present in a document (profile quantiles,
day histograms, top values, time coverage, counts, estimates) and returns an
:class:`~runstate.report.svg.Svg` — the ``<svg>`` markup, its text alternative and how many
marks it drew — or ``None`` when there is nothing worth drawing. Building one costs well
under a millisecond and a few KB; there is no JavaScript and no plotting library. Every
text is escaped (:func:`~runstate.report.svg.esc`); marks carry a ``<title>`` with their
values, which the browser shows on hover.

Colours are fixed across reports and readable with the common colour-vision deficiencies:
side A (the baseline, "before") is blue, side B ("after") orange; gaps and failures are red
and also differ in shape (gaps are taller than the lanes they cut, flagged estimates are
squares), never in colour alone.

* :func:`quantile_overlay` — a numeric column's distribution on both sides, estimated from
  its quantiles (density between consecutive quantiles), or cumulative shares for dates;
* :func:`category_overlay` — share of the most frequent values on both sides;
* :func:`day_histogram_overlay` — rows per day (or per block of days) on both sides, with
  the days B has no rows shaded;
* :func:`coverage_timeline` — the covered time range of each side, gaps cut out, gaps new
  in B in solid red;
* :func:`count_bars` — labelled counts (rows unchanged/changed/added/removed, changed cells
  per column);
* :func:`interval_chart` — estimates with confidence intervals and a threshold (effect
  sizes of drift checks).
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from runstate.report.svg import (
    CHAR_WIDTH,
    TEXT_COLOR,
    Box,
    Canvas,
    Linear,
    Svg,
    circle,
    days,
    fit,
    legend,
    line,
    linear_ticks,
    path,
    polygon,
    rect,
    text,
    tick_label,
    time_ticks,
    x_axis,
    y_axis,
)
from runstate.report.svg import num as _n

__all__ = [
    "COLOR_A",
    "COLOR_B",
    "COLOR_BAD",
    "COLOR_GOOD",
    "COLOR_MUTED",
    "Svg",
    "category_overlay",
    "count_bars",
    "coverage_timeline",
    "day_histogram_overlay",
    "interval_chart",
    "parse_instant",
    "quantile_overlay",
]

COLOR_A = "#4c78a8"
COLOR_B = "#f58518"
COLOR_BAD = "#d62728"
COLOR_GOOD = "#54a24b"
COLOR_MUTED = "#9aa3ad"

#: viewBox widths: charts side by side in a grid, and charts across the page.
NARROW = 560.0
WIDE = 880.0

_MIN_SPREAD = 4  # distinct quantile values needed to draw a density
_QUANTILE_KEY = re.compile(r"^p(\d+(?:\.\d+)?)$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
_LEGEND_Y = 33.0  # baseline of the legend row, under the title
_TOP = 46.0  # top of the plot area when there is a legend row


# ---------------------------------------------------------------------------------------
# Reading document values


def _number(value: Any) -> float | None:
    """A finite float, else None (profiles write non-finite values as strings)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _fmt(value: float) -> str:
    """A value for hover text: 1,234 for whole numbers, 6 significant digits otherwise."""
    if value == int(value) and abs(value) < 1e15:
        return f"{int(value):,}"
    if value != 0 and (abs(value) >= 1e9 or abs(value) < 1e-4):
        return f"{value:.5e}"
    return f"{value:,.6g}" if abs(value) >= 1e5 else f"{value:.6g}"


def parse_instant(value: Any) -> dt.datetime | None:
    """A naive UTC datetime from a profile's ISO date/timestamp string, else None."""
    if not isinstance(value, str) or not _DATE.match(value):
        return None
    text_value = value.strip().replace("Z", "+00:00")
    try:
        parsed = dt.datetime.fromisoformat(text_value)
    except ValueError:
        try:
            parsed = dt.datetime.fromisoformat(text_value[:10])
        except ValueError:
            return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return parsed


def _when(moment: dt.datetime) -> str:
    """A date (or timestamp) for hover text."""
    if moment.time() == dt.time(0):
        return moment.strftime("%Y-%m-%d")
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _ranked(quantiles: Mapping[str, Any] | None) -> list[tuple[float, Any]]:
    """(rank, value) pairs of a profile's ``{"p01": v, …}``, by rank."""
    pairs: list[tuple[float, Any]] = []
    for key, value in (quantiles or {}).items():
        match = _QUANTILE_KEY.match(str(key))
        if match is not None:
            pairs.append((float(match.group(1)) / 100.0, value))
    pairs.sort(key=lambda pair: pair[0])
    return pairs


def _rank_name(rank: float) -> str:
    return f"p{rank * 100:02.0f}" if rank * 100 == round(rank * 100) else f"p{rank * 100:g}"


def density_steps(pairs: Sequence[tuple[float, float]]) -> tuple[list[float], list[float]]:
    """A step outline ``(xs, ys)`` of the density implied by (rank, value) points: rows are
    spread evenly between consecutive quantiles (point masses have no width and are
    skipped). The outline starts and ends at zero."""
    xs: list[float] = []
    ys: list[float] = []
    for (r0, v0), (r1, v1) in itertools.pairwise(pairs):
        if v1 <= v0:
            continue
        density = (r1 - r0) / (v1 - v0)
        if not xs:
            xs.append(v0)
            ys.append(0.0)
        elif v0 != xs[-1]:
            xs.extend([xs[-1], v0])  # a point mass before this span: back to zero
            ys.extend([0.0, 0.0])
        xs.extend([v0, v1])
        ys.extend([density, density])
    if xs:
        xs.append(xs[-1])
        ys.append(0.0)
    return xs, ys


def _category(value: Any) -> str:
    text_value = "null" if value is None else str(value)
    return text_value if len(text_value) <= 40 else text_value[:39] + "…"


# ---------------------------------------------------------------------------------------
# Shared layout


def _frame(
    width: float, height: float, title: str, alt: str, series: Sequence[tuple[str, str]]
) -> Canvas:
    """A canvas with the title on top and (when given) a legend row under it."""
    canvas = Canvas(width, height, title=title, alt=alt)
    canvas.heading()
    if series:
        markup, _ = legend(series, 4, _LEGEND_Y, max_chars=int((width / len(series) - 40) / 6.2))
        canvas.add(markup)
    return canvas


def _value_axis(
    low: float, high: float, r0: float, r1: float, *, count: int = 5, percent: bool = False
) -> tuple[Linear, list[tuple[float, str]]]:
    """A linear scale over nice ticks covering ``[low, high]``, and its (position, label)
    ticks."""
    ticks, step = linear_ticks(low, high, count)
    scale = Linear(ticks[0], ticks[-1], r0, r1)
    top = max(abs(ticks[0]), abs(ticks[-1]))
    return scale, [(scale(t), tick_label(t, step, percent=percent, top=top)) for t in ticks]


def _time_axis(
    start: dt.datetime, end: dt.datetime, box: Box
) -> tuple[Linear, list[tuple[float, str]]]:
    if end <= start:
        start, end = start - dt.timedelta(hours=12), start + dt.timedelta(hours=12)
    scale = Linear(days(start), days(end), box.left, box.right)
    ticks = time_ticks(start, end, count=max(2, int(box.width / 90)))
    return scale, [(scale(t), label) for t, label in ticks]


def _label_width(labels: Iterable[str], width: float, *, cap: float = 0.38) -> float:
    longest = max((len(label) for label in labels), default=1)
    return min(longest * CHAR_WIDTH + 10, width * cap)


# ---------------------------------------------------------------------------------------
# Distribution overlay


def quantile_overlay(
    column: str,
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any] | None,
    *,
    label_a: str = "A",
    label_b: str = "B",
) -> Svg | None:
    """Both sides' distribution of one column, from its profile quantiles (p01 … p99).

    Numbers: the density implied by the quantiles (rows are spread evenly between two
    consecutive quantiles), so a shift, a squeeze or a new tail is visible at a glance;
    triangles mark the medians. Dates and timestamps: the cumulative share of rows up to
    each quantile. Hovering a side lists its quantiles.
    """
    sides = [(label_a, _ranked(old), COLOR_A), (label_b, _ranked(new), COLOR_B)]
    if not any(pairs for _, pairs, _ in sides):
        return None
    numeric = all(_number(v) is not None for _, pairs, _ in sides for _, v in pairs)
    if numeric:
        return _density_chart(column, [(lbl, p, c) for lbl, p, c in sides if p])
    return _cumulative_chart(column, sides)


def _density_chart(
    column: str, sides: Sequence[tuple[str, list[tuple[float, Any]], str]]
) -> Svg | None:
    if any(len({v for _, v in pairs}) < _MIN_SPREAD for _, pairs, _ in sides):
        return None  # a few repeated values (flags, codes): a density would mislead
    outlines = []
    for label, pairs, color in sides:
        points = [(rank, float(value)) for rank, value in pairs]
        xs, ys = density_steps(points)
        if xs:
            outlines.append((label, points, color, xs, ys))
    if not outlines:
        return None
    low = min(min(xs) for *_, xs, _ in outlines)
    high = max(max(xs) for *_, xs, _ in outlines)
    peak = max(max(ys) for *_, ys in outlines)
    title = f"{column}: distribution (estimated from p01…p99)"
    medians = {label: dict(points).get(0.5) for label, points, *_ in outlines}
    alt = f"distribution of {column} in " + " and ".join(o[0] for o in outlines)
    if all(m is not None for m in medians.values()):
        alt += "; medians " + ", ".join(
            f"{k} {_fmt(float(v))}" for k, v in medians.items() if v is not None
        )
    height = 250.0
    canvas = _frame(NARROW, height, title, alt, [(o[0], o[2]) for o in outlines])
    box = Box(16, _TOP, NARROW - 16, height - 36)
    x, x_ticks = _value_axis(low, high, box.left, box.right, count=6)
    y = Linear(0.0, peak * 1.08, box.bottom, box.top)
    canvas.add(x_axis(box, x_ticks))
    canvas.add(text(box.left + 2, box.top + 10, "density", cls="tick"))
    for label, points, color, xs, ys in outlines:
        d = "M" + " L".join(f"{_n(x(a))},{_n(y(b))}" for a, b in zip(xs, ys, strict=True)) + "Z"
        listed = " · ".join(f"{_rank_name(rank)} {_fmt(value)}" for rank, value in points)
        canvas.mark(
            path(
                d,
                stroke=color,
                fill=color,
                opacity=0.18,
                width=2,
                cls="mark area",
                title=f"{label}: {listed}",
            )
        )
    for label, points, color, *_ in outlines:
        median = dict(points).get(0.5)
        if median is None:
            continue
        mx = x(median)
        canvas.add(line(mx, box.top, mx, box.bottom, stroke=color, dash="4 3"))
        canvas.mark(
            polygon(
                [(mx, box.bottom - 9), (mx - 6, box.bottom + 1), (mx + 6, box.bottom + 1)],
                fill=color,
                cls="mark median",
                title=f"{label} median (p50): {_fmt(median)}",
            )
        )
    return canvas.render()


def _cumulative_chart(
    column: str, sides: Sequence[tuple[str, list[tuple[float, Any]], str]]
) -> Svg | None:
    series = []
    for label, pairs, color in sides:
        timed = [(rank, moment) for rank, value in pairs if (moment := parse_instant(value))]
        if timed:
            series.append((label, timed, color))
    if not series:
        return None
    moments = [moment for _, timed, _ in series for _, moment in timed]
    title = f"{column}: cumulative share of rows (from p01…p99)"
    height = 250.0
    canvas = _frame(
        NARROW,
        height,
        title,
        f"cumulative distribution of {column}",
        [(label, color) for label, _, color in series],
    )
    box = Box(44, _TOP, NARROW - 16, height - 36)
    x, x_ticks = _time_axis(min(moments), max(moments), box)
    y, y_ticks = _value_axis(0.0, 1.0, box.bottom, box.top, percent=True)
    canvas.add(y_axis(box, y_ticks), x_axis(box, x_ticks, grid=False))
    for label, timed, color in series:
        coords = [(x(days(moment)), y(rank)) for rank, moment in timed]
        d = "M" + " L".join(f"{_n(a)},{_n(b)}" for a, b in coords)
        canvas.add(path(d, stroke=color, width=2))
        for (rank, moment), (cx, cy) in zip(timed, coords, strict=True):
            canvas.mark(
                circle(
                    cx,
                    cy,
                    3.5,
                    fill=color,
                    cls="mark point",
                    title=f"{label}: {_rank_name(rank)} = {_when(moment)}",
                )
            )
    return canvas.render()


# ---------------------------------------------------------------------------------------
# Top values


def category_overlay(
    column: str,
    old: Iterable[Sequence[Any]] | None,
    new: Iterable[Sequence[Any]] | None,
    *,
    rows_a: int | None = None,
    rows_b: int | None = None,
    label_a: str = "A",
    label_b: str = "B",
    top: int = 12,
) -> Svg | None:
    """Grouped bars of the most frequent values (``[[value, count], …]``) on both sides:
    two bars (A, B) per value, the most frequent first.

    With both row counts given the bars are shares of rows, else raw counts.
    """

    def counts(pairs: Iterable[Sequence[Any]] | None) -> dict[str, float]:
        found: dict[str, float] = {}
        for pair in pairs or ():
            if len(pair) == 2 and _number(pair[1]) is not None:
                found[_category(pair[0])] = float(pair[1])
        return found

    a, b = counts(old), counts(new)
    if not a and not b:
        return None
    share = bool(rows_a) and bool(rows_b)
    scale_a, scale_b = (1.0 / rows_a, 1.0 / rows_b) if rows_a and rows_b else (1.0, 1.0)
    ranked = sorted(
        set(a) | set(b), key=lambda v: -(a.get(v, 0.0) * scale_a + b.get(v, 0.0) * scale_b)
    )[:top]
    sides = ((label_a, a, rows_a, COLOR_A), (label_b, b, rows_b, COLOR_B))
    bar, pad = 10.0, 8.0
    height = _TOP + len(ranked) * (2 * bar + pad) + 30
    title = f"{column}: most frequent values" + (" (share of rows)" if share else "")
    canvas = _frame(
        NARROW,
        height,
        title,
        f"most frequent values of {column} in {label_a} and {label_b}",
        [(label_a, COLOR_A), (label_b, COLOR_B)],
    )
    left = _label_width(ranked, NARROW)
    box = Box(left, _TOP, NARROW - 20, height - 30)
    values = [
        found.get(v, 0.0) / total if share and total else found.get(v, 0.0)
        for _, found, total, _ in sides
        for v in ranked
    ]
    x, x_ticks = _value_axis(0.0, max(values) or 1.0, box.left, box.right, percent=share)
    canvas.add(x_axis(box, x_ticks))
    max_chars = int((left - 8) / CHAR_WIDTH)
    for index, value in enumerate(ranked):
        top_y = box.top + index * (2 * bar + pad) + pad / 2
        shown = fit(value, max_chars)
        canvas.add(
            text(
                left - 6,
                top_y + bar + 4,
                shown,
                anchor="end",
                cls="cat",
                title=value if shown != value else None,
            )
        )
        for offset, (label, found, total, color) in enumerate(sides):
            count = found.get(value)
            if count is None:
                hover = f"{label} · {value}: not among its most frequent values"
                amount = 0.0
            elif share and total:
                amount = count / total
                hover = f"{label} · {value}: {amount:.1%} of rows ({_fmt(count)} of {total:,})"
            else:
                amount = count
                hover = f"{label} · {value}: {_fmt(count)} rows"
            canvas.mark(
                rect(
                    box.left,
                    top_y + offset * bar,
                    x(amount) - box.left,
                    bar - 1,
                    fill=color,
                    cls="mark bar",
                    title=hover,
                )
            )
    return canvas.render()


# ---------------------------------------------------------------------------------------
# Rows per day


def _histogram_points(histogram: Mapping[str, Any] | None) -> list[tuple[dt.datetime, int]]:
    if not histogram:
        return []
    start = parse_instant(histogram.get("start"))
    width = histogram.get("width_days")
    counts = histogram.get("counts")
    if start is None or not isinstance(width, int) or width <= 0 or not isinstance(counts, list):
        return []
    return [
        (start + dt.timedelta(days=index * width), int(count))
        for index, count in enumerate(counts)
        if isinstance(count, (int, float)) and not isinstance(count, bool)
    ]


def _runs(flags: Sequence[bool]) -> list[tuple[int, int]]:
    """``[start, stop)`` index ranges of consecutive true flags."""
    out: list[tuple[int, int]] = []
    for key, group in itertools.groupby(enumerate(flags), key=lambda item: item[1]):
        if key:
            indexes = [index for index, _ in group]
            out.append((indexes[0], indexes[-1] + 1))
    return out


def day_histogram_overlay(
    column: str,
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any] | None,
    *,
    label_a: str = "A",
    label_b: str = "B",
    max_bins: int = 400,
) -> Svg | None:
    """Rows per day (or per block of days) of a date/time column on both sides, as steps.

    ``old``/``new`` are profile histograms ``{"start", "width_days", "counts"}``; the runs
    of bins where B has no rows are shaded red. Hovering a bin shows both counts.
    """
    sides = [
        (label_a, _histogram_points(old)[:max_bins], COLOR_A, _width(old)),
        (label_b, _histogram_points(new)[:max_bins], COLOR_B, _width(new)),
    ]
    present = [side for side in sides if side[1]]
    if not present:
        return None
    start = min(points[0][0] for _, points, _, _ in present)
    end = max(points[-1][0] + dt.timedelta(days=w) for _, points, _, w in present)
    width_b = sides[1][3]
    unit = "day" if width_b == 1 else f"{width_b} days"
    zero_runs = _runs([count == 0 for _, count in sides[1][1]])
    title = f"{column}: rows per {unit}" + (f" (red: no rows in {label_b})" if zero_runs else "")
    height = 240.0
    canvas = _frame(
        NARROW,
        height,
        title,
        f"rows per {unit} of {column} in {label_a} and {label_b}",
        [(label, color) for label, _, color, _ in present],
    )
    peak = max(count for _, points, _, _ in present for _, count in points)
    box = Box(46, _TOP, NARROW - 14, height - 34)
    x, x_ticks = _time_axis(start, end, box)
    y, y_ticks = _value_axis(0.0, float(peak or 1), box.bottom, box.top, count=4)
    canvas.add(y_axis(box, y_ticks), x_axis(box, x_ticks, grid=False))
    for index, (_, points, color, width) in enumerate(sides):
        if not points:
            continue
        step = dt.timedelta(days=width)
        d = f"M{_n(x(days(points[0][0])))},{_n(box.bottom)}"
        for moment, count in points:
            d += f"V{_n(y(count))}H{_n(x(days(moment + step)))}"
        d += f"V{_n(box.bottom)}"
        canvas.add(
            path(
                d,
                stroke=color,
                width=3.0 if index == 0 else 1.5,
                stroke_opacity=0.55 if index == 0 else None,
            )
        )
    # One transparent column per bin of A or B: hovering shows both sides' counts.
    counts: dict[dt.datetime, list[int | None]] = {}
    for index, (_, points, _, _) in enumerate(sides):
        for moment, count in points:
            counts.setdefault(moment, [None, None])[index] = count
    bin_width = dt.timedelta(days=min(w for _, _, _, w in present))
    canvas.add('<g class="hits" fill="#000" fill-opacity="0">')
    for moment in sorted(counts):
        pair = counts[moment]
        shown = " · ".join(
            f"{label} {'—' if count is None else f'{count:,}'}"
            for (label, *_), count in zip(sides, pair, strict=True)
        )
        x0, x1 = x(days(moment)), x(days(moment + bin_width))
        canvas.add(
            rect(
                x0,
                box.top,
                x1 - x0,
                box.height,
                cls="hit",
                title=f"{_when(moment)}: {shown} rows",
            )
        )
    canvas.add("</g>")
    # Runs of bins where B has no rows, over the columns: hovering one tells its extent.
    points_b = sides[1][1]
    for first, stop in zero_runs:
        band_start = points_b[first][0]
        band_end = points_b[stop - 1][0] + dt.timedelta(days=width_b)
        last_day = band_end - dt.timedelta(days=1)
        canvas.mark(
            rect(
                x(days(band_start)),
                box.top,
                x(days(band_end)) - x(days(band_start)),
                box.height,
                fill=COLOR_BAD,
                opacity=0.18,
                cls="mark gap",
                title=f"no rows in {label_b}: {_when(band_start)} … {_when(last_day)}"
                f" ({(band_end - band_start).days} days)",
            )
        )
    return canvas.render()


def _width(histogram: Mapping[str, Any] | None) -> int:
    width = (histogram or {}).get("width_days")
    return width if isinstance(width, int) and not isinstance(width, bool) and width > 0 else 1


# ---------------------------------------------------------------------------------------
# Time coverage


def _gap_span(gap: Mapping[str, Any]) -> tuple[dt.datetime, dt.datetime] | None:
    """A gap's [from, to + 1 day) span (gaps name whole days, ``to`` inclusive)."""
    start, last = parse_instant(gap.get("from")), parse_instant(gap.get("to"))
    if start is None or last is None:
        return None
    return start, last + dt.timedelta(days=1)


def coverage_timeline(
    column: str,
    coverage: Mapping[str, Any],
    *,
    label_a: str = "A",
    label_b: str = "B",
    max_gaps: int = 200,
) -> Svg | None:
    """The time range each side covers, as two lanes (A on top), gaps cut out and marked.

    ``coverage`` is ``{"old": {min, max, gaps}, "new": {…}, "new_gaps": […]}``; gaps that B
    has and A had not are solid red, other gaps light red; both stand taller than the lane.
    """
    new_gaps = {(str(g.get("from")), str(g.get("to"))) for g in coverage.get("new_gaps") or ()}
    lanes: list[tuple[str, str, tuple[dt.datetime, dt.datetime, list[Any]] | None]] = []
    for label, side, color in (
        (label_a, coverage.get("old"), COLOR_A),
        (label_b, coverage.get("new"), COLOR_B),
    ):
        side = side if isinstance(side, Mapping) else {}
        start, last = parse_instant(side.get("min")), parse_instant(side.get("max"))
        if start is None or last is None:
            lanes.append((label, color, None))
            continue
        end = last + dt.timedelta(days=1) if last.time() == dt.time(0) else last
        gaps = []
        for gap in list(side.get("gaps") or ())[:max_gaps]:
            span = _gap_span(gap) if isinstance(gap, Mapping) else None
            if span is not None:
                gaps.append((span, (str(gap.get("from")), str(gap.get("to"))) in new_gaps))
        gaps.sort(key=lambda item: item[0][0])
        lanes.append((label, color, (start, end, gaps)))
    spans = [lane[2] for lane in lanes if lane[2] is not None]
    if not spans:
        return None
    low = min(span[0] for span in spans)
    high = max(span[1] for span in spans)
    title = f"{column}: time covered"
    if new_gaps:
        title += f" ({len(new_gaps)} new gap{'s' if len(new_gaps) != 1 else ''} in red)"
    keys = [(label_a, COLOR_A), (label_b, COLOR_B)]
    if any(is_new for span in spans for _, is_new in span[2]):
        keys.append((f"gap new in {label_b}", COLOR_BAD))
    if any(not is_new for span in spans for _, is_new in span[2]):
        keys.append(("gap", "#f0b4b4"))
    lane_height, lane_gap = 18.0, 14.0
    height = _TOP + 2 * lane_height + lane_gap + 40
    canvas = _frame(WIDE, height, title, f"time coverage of {column}, gaps marked", keys)
    left = _label_width([label_a, label_b], WIDE, cap=0.2)
    box = Box(left, _TOP + 4, WIDE - 16, height - 30)
    x, x_ticks = _time_axis(low, high, box)
    canvas.add(x_axis(box, x_ticks))
    max_chars = int((left - 8) / CHAR_WIDTH)
    for index, (label, color, lane) in enumerate(lanes):
        top = box.top + 4 + index * (lane_height + lane_gap)
        shown = fit(label, max_chars)
        canvas.add(
            text(
                left - 6,
                top + lane_height - 5,
                shown,
                anchor="end",
                cls="cat",
                title=label if shown != label else None,
            )
        )
        if lane is None:
            canvas.add(text(left + 4, top + lane_height - 5, "no time range recorded", cls="tick"))
            continue
        start, end, gaps = lane
        cursor = start
        pieces: list[tuple[dt.datetime, dt.datetime]] = []
        for (gap_start, gap_end), _ in gaps:
            if gap_start > cursor:
                pieces.append((cursor, gap_start))
            cursor = max(cursor, gap_end)
        if end > cursor:
            pieces.append((cursor, end))
        for piece_start, piece_end in pieces:
            last_day = (
                piece_end - dt.timedelta(days=1) if piece_end.time() == dt.time(0) else piece_end
            )
            canvas.mark(
                rect(
                    x(days(piece_start)),
                    top,
                    x(days(piece_end)) - x(days(piece_start)),
                    lane_height,
                    fill=color,
                    cls="mark span",
                    title=f"{label} has rows: {_when(piece_start)} … {_when(last_day)}",
                )
            )
        for (gap_start, gap_end), is_new in gaps:
            x0, x1 = x(days(gap_start)), x(days(gap_end))
            extent = (gap_end - gap_start).days
            hover = (
                f"{label} has no rows: {_when(gap_start)} … {_when(gap_end - dt.timedelta(days=1))}"
            )
            hover += f" ({extent} day{'s' if extent != 1 else ''})"
            if is_new:
                hover += f", a gap new in {label_b}"
            canvas.mark(
                rect(
                    x0 - (1 if x1 - x0 < 2 else 0),
                    top - 4,
                    max(x1 - x0, 2),
                    lane_height + 8,
                    fill=COLOR_BAD if is_new else "#f0b4b4",
                    stroke=COLOR_BAD,
                    cls="mark gap new" if is_new else "mark gap",
                    title=hover,
                )
            )
    return canvas.render()


# ---------------------------------------------------------------------------------------
# Counts and intervals


def count_bars(
    title: str,
    counts: Sequence[tuple[str, float, str]],
    *,
    percent_of: float | None = None,
) -> Svg | None:
    """Labelled counts ``[(label, count, colour), …]`` as horizontal bars, each with its
    value (and share of ``percent_of``) written at its end; zero counts keep their row."""
    if not counts or not any(count for _, count, _ in counts):
        return None
    bar, pad = 18.0, 8.0
    height = 28 + len(counts) * (bar + pad) + 28
    canvas = _frame(WIDE, height, title, title, [])
    labels = [label for label, _, _ in counts]
    left = _label_width(labels, WIDE, cap=0.3)
    box = Box(left, 28, WIDE - 110, height - 28)
    peak = max(count for _, count, _ in counts)
    x, x_ticks = _value_axis(0.0, peak, box.left, box.right)
    canvas.add(x_axis(box, x_ticks))
    max_chars = int((left - 8) / CHAR_WIDTH)
    for index, (label, count, color) in enumerate(counts):
        top = box.top + index * (bar + pad) + pad / 2
        value = f"{_fmt(count)}" + (f" ({count / percent_of:.1%})" if percent_of else "")
        shown = fit(label, max_chars)
        canvas.add(
            text(
                left - 6,
                top + bar - 5,
                shown,
                anchor="end",
                cls="cat",
                title=label if shown != label else None,
            )
        )
        end = x(count)
        canvas.mark(
            rect(
                box.left,
                top,
                end - box.left,
                bar,
                fill=color,
                cls="mark bar",
                title=f"{label}: {value}",
            )
        )
        canvas.add(text(end + 5, top + bar - 5, value, cls="value", fill=TEXT_COLOR))
    return canvas.render()


def interval_chart(
    title: str,
    rows: Sequence[Mapping[str, Any]],
    *,
    threshold: float | None = None,
    symmetric: bool = True,
) -> Svg | None:
    """Estimates with confidence intervals, one row each (drift effect sizes).

    ``rows``: ``{"label", "estimate", "low", "high", "flagged"}``. Flagged rows are red
    squares, the others blue dots; whiskers span ``[low, high]``. A dashed red line marks
    the threshold (and its negative when ``symmetric``).
    """
    usable = [row for row in rows if _number(row.get("estimate")) is not None]
    if not usable:
        return None
    values = [float(row["estimate"]) for row in usable]
    for row in usable:
        values.extend(
            v for v in (_number(row.get("low")), _number(row.get("high"))) if v is not None
        )
    limits = [] if threshold is None else [threshold, -threshold] if symmetric else [threshold]
    values.extend(limits)
    values.append(0.0)
    row_height = 24.0
    height = 28 + len(usable) * row_height + 32
    flagged = sum(1 for row in usable if row.get("flagged"))
    alt = f"{title}: {len(usable)} estimates with intervals"
    if threshold is not None:
        alt += f", threshold {_fmt(threshold)}, {flagged} beyond it"
    canvas = _frame(WIDE, height, title, alt, [])
    labels = [str(row.get("label", "")) for row in usable]
    left = _label_width(labels, WIDE, cap=0.3)
    box = Box(left, 28, WIDE - 20, height - 30)
    x, x_ticks = _value_axis(min(values), max(values), box.left, box.right, count=6)
    canvas.add(x_axis(box, x_ticks))
    if x.d0 < 0 < x.d1:
        canvas.add(line(x(0.0), box.top, x(0.0), box.bottom, stroke="#57606a"))
    for limit in limits:
        canvas.add(
            line(
                x(limit),
                box.top,
                x(limit),
                box.bottom,
                stroke=COLOR_BAD,
                dash="5 4",
                width=1.2,
                title=f"threshold {_fmt(limit)}",
            )
        )
    max_chars = int((left - 8) / CHAR_WIDTH)
    for index, (row, label) in enumerate(zip(usable, labels, strict=True)):
        mid = box.top + index * row_height + row_height / 2
        estimate = float(row["estimate"])
        low, high = _number(row.get("low")), _number(row.get("high"))
        is_flagged = bool(row.get("flagged"))
        color = COLOR_BAD if is_flagged else COLOR_A
        shown = fit(label, max_chars)
        canvas.add(
            text(
                left - 6,
                mid + 4,
                shown,
                anchor="end",
                cls="cat",
                weight="600" if is_flagged else None,
                title=label if shown != label else None,
            )
        )
        if low is not None or high is not None:
            x0, x1 = (
                x(low if low is not None else estimate),
                x(high if high is not None else estimate),
            )
            canvas.add(
                line(x0, mid, x1, mid, stroke="#57606a", width=1.5),
                line(x0, mid - 5, x0, mid + 5, stroke="#57606a"),
                line(x1, mid - 5, x1, mid + 5, stroke="#57606a"),
            )
        interval = ""
        if low is not None and high is not None:
            interval = f" [{_fmt(low)}, {_fmt(high)}]"
        hover = f"{label}: {_fmt(estimate)}{interval}" + (
            " — beyond the threshold" if is_flagged else ""
        )
        cx = x(estimate)
        if is_flagged:
            canvas.mark(rect(cx - 5, mid - 5, 10, 10, fill=color, cls="mark point", title=hover))
        else:
            canvas.mark(circle(cx, mid, 5, fill=color, cls="mark point", title=hover))
    return canvas.render()
