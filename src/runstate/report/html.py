"""The HTML rendering of a ``runstate.diff/v1`` document: one self-contained, offline page.

:func:`render_diff` takes the JSON document of ``runstate diff --json`` (a plain dict, see
docs/diff.md) and returns the page: a summary on top (identical or not, the two runs, changed
and unchanged counts per section, the first diverging step, warnings), then one collapsible
section per changed component — unified code diffs coloured by line, tables of changed keys,
cells, settings and packages — and inline SVG charts where a picture reads faster than a
table: distribution overlays of shifted columns (from the profile quantiles, day histograms
and top values in the document), time-coverage lanes with gaps marked, and bars of how many
rows, predictions and cells changed. Unchanged components are listed at the end.

The document is already sampled (``limit``); the page caps what it shows again and, when the
file would exceed ``max_bytes`` (5 MB by default), re-renders with less detail
(:data:`LEVELS`) rather than write a file a browser struggles with. Charts are a few KB
each, so they are the last thing left out.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runstate.report import charts
from runstate.report.page import DEFAULT_MAX_BYTES, fit_to_budget, render_page

__all__ = ["LEVELS", "Limits", "render_diff", "write_diff"]

#: Display order of component kinds: results first, then the causes.
KIND_ORDER = (
    "steps",
    "output",
    "metrics",
    "data",
    "model",
    "code",
    "config",
    "env",
    "seeds",
    "policy",
)


@dataclass(frozen=True)
class Limits:
    """How much of a document one rendering shows."""

    rows: int  # rows per sample table (keys, cells, files, packages, settings)
    code_lines: int  # unified diff lines over all code files
    code_files: int  # code files shown with their diff
    columns: int  # shifted columns charted per table
    charts: bool = True


#: Detail levels tried in turn until the page fits its byte budget.
LEVELS = (
    Limits(rows=200, code_lines=6000, code_files=200, columns=40),
    Limits(rows=60, code_lines=1500, code_files=60, columns=20),
    Limits(rows=20, code_lines=400, code_files=20, columns=10),
    Limits(rows=5, code_lines=100, code_files=10, columns=5),
    Limits(rows=5, code_lines=100, code_files=10, columns=5, charts=False),
)


def render_diff(
    document: Mapping[str, Any],
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    title: str | None = None,
) -> str:
    """The HTML page of a ``runstate.diff/v1`` document (a dict), at most ``max_bytes``."""
    return fit_to_budget(lambda limits: _render(document, limits, title), LEVELS, max_bytes).html


def write_diff(
    document: Mapping[str, Any], path: str | Path, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> Path:
    """Write :func:`render_diff` to ``path`` (atomically) and return the path."""
    from runstate.store.atomic import atomic_write_bytes

    target = Path(path)
    atomic_write_bytes(target, render_diff(document, max_bytes=max_bytes).encode("utf-8"))
    return target


def _render(document: Mapping[str, Any], limits: Limits, title: str | None) -> str:
    from runstate import __version__

    view = DiffView(document, limits)
    a, b = view.side("a"), view.side("b")
    return render_page(
        "diff.html",
        {
            "title": title or f"runstate diff: {a['label']} → {b['label']}",
            "version": __version__,
            "generated_at": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "doc": document,
            "view": view,
            "limits": limits,
        },
        charts=limits.charts,
    )


# ---------------------------------------------------------------------------------------
# The view: what the template shows, computed from the document


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else []


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


class DiffView:
    """Template-facing helpers over one diff document."""

    def __init__(self, document: Mapping[str, Any], limits: Limits) -> None:
        self.doc = document
        self.limits = limits
        self.label_a = self._label("a", "A")
        self.label_b = self._label("b", "B")
        components = _mapping(document.get("components"))
        ordered = sorted(
            components.items(),
            key=lambda item: (_kind_rank(_mapping(item[1]).get("kind")), item[0]),
        )
        self.components = [
            Component(self, f"c{index}", str(name), _mapping(body))
            for index, (name, body) in enumerate(ordered)
        ]

    def _label(self, side: str, fallback: str) -> str:
        return f"{fallback}: {_ref(_mapping(self.doc.get(side)))}"

    def side(self, key: str) -> dict[str, Any]:
        run = dict(_mapping(self.doc.get(key)))
        run["label"] = _ref(run)
        return run

    @property
    def changed(self) -> list[Component]:
        return [c for c in self.components if c.changed]

    @property
    def unchanged(self) -> list[Component]:
        return [c for c in self.components if not c.changed]

    @property
    def sections(self) -> list[tuple[str, int, int]]:
        sections = _mapping(_mapping(self.doc.get("summary")).get("sections"))
        out = []
        for kind, counts in sorted(sections.items(), key=lambda item: _kind_rank(item[0])):
            counts = _mapping(counts)
            out.append((kind, _count(counts.get("changed")), _count(counts.get("unchanged"))))
        return out

    @property
    def first_divergence(self) -> Mapping[str, Any] | None:
        for component in self.components:
            if component.kind == "steps":
                found = component.body.get("first_divergence")
                return found if isinstance(found, Mapping) else None
        return None

    def anchor(self, name: str) -> str | None:
        for component in self.components:
            if component.name == name:
                return component.id
        return None


def _ref(run: Mapping[str, Any]) -> str:
    """What the user typed for a run, shortened when it was a whole run id."""
    ref = str(run.get("ref") or run.get("id") or "?")
    if ref == run.get("id") or len(ref) > 40:
        return ref[:13]
    return ref


def _kind_rank(kind: Any) -> int:
    return KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER)


@dataclass(frozen=True)
class Cell:
    value: Any
    cls: str = ""


@dataclass(frozen=True)
class Records:
    """A table for the ``records`` macro: column names, rows of cells, what was left out."""

    columns: list[str]
    rows: list[list[Cell]]
    omitted: int = 0
    total: int | None = None


def records(items: Iterable[Mapping[str, Any]], limit: int, *, total: int | None = None) -> Records:
    """Rows of dicts as a table: columns are the union of keys, in first-seen order."""
    shown: list[Mapping[str, Any]] = []
    count = 0
    for item in items:
        count += 1
        if len(shown) < limit and isinstance(item, Mapping):
            shown.append(item)
    columns: list[str] = []
    for item in shown:
        columns.extend(str(key) for key in item if str(key) not in columns)
    rows = [[Cell(item.get(column)) for column in columns] for item in shown]
    known = total if total is not None else count
    return Records(columns, rows, max(0, known - len(shown)), total)


class Component:
    """One component of the document, with the digest and tables its section shows."""

    def __init__(self, view: DiffView, ident: str, name: str, body: Mapping[str, Any]) -> None:
        self.view = view
        self.id = ident
        self.name = name
        self.body = body
        self.kind = str(body.get("kind") or name.partition(":")[0])
        self.status = str(body.get("status") or ("changed" if body.get("changed") else "unchanged"))
        self.changed = bool(body.get("changed"))
        self.missing = body.get("missing")
        ids = _mapping(body.get("ids"))
        self.id_a, self.id_b = ids.get("a"), ids.get("b")

    # -- digest (the one line in the section's summary) ---------------------------------

    @property
    def digest(self) -> str:
        if self.status == "added":
            return f"only in {self.view.label_b}"
        if self.status == "removed":
            return f"only in {self.view.label_a}"
        if self.status == "missing":
            return str(self.missing or "could not be read")
        method = getattr(self, f"_digest_{self.kind}", None)
        text = method() if method is not None else ""
        return text or ("content differs" if self.changed else "same")

    def _digest_data(self) -> str:
        body = self.body
        parts: list[str] = []
        rows = _mapping(body.get("rows"))
        if rows:
            moved = [
                f"{_count(rows.get(key)):,} {key}"
                for key in ("changed", "added", "removed")
                if _count(rows.get(key))
            ]
            if moved:
                noun = "predictions" if self.kind == "output" else "rows"
                parts.append(
                    f"{noun}: " + ", ".join(moved) + f" ({_count(rows.get('rows_a')):,}"
                    f" → {_count(rows.get('rows_b')):,})"
                )
            if _count(rows.get("duplicates_introduced")):
                parts.append(f"{_count(rows['duplicates_introduced']):,} duplicate keys introduced")
        schema = _mapping(body.get("schema_changes"))
        schema_count = sum(
            len(_list(schema.get(k))) for k in ("added", "dropped", "retyped", "renamed")
        )
        if schema_count:
            parts.append(f"{schema_count} schema change{'s' if schema_count != 1 else ''}")
        cells = _mapping(body.get("cells"))
        if cells.get("changed_columns"):
            parts.append("cells changed in " + ", ".join(list(cells["changed_columns"])[:4]))
        shifted = _list(body.get("profile"))
        if shifted:
            parts.append(f"{len(shifted)} column{'s' if len(shifted) != 1 else ''} shifted")
        gaps = sum(len(_list(_mapping(c).get("new_gaps"))) for c in _list(body.get("coverage")))
        if gaps:
            parts.append(f"{gaps} new time gap{'s' if gaps != 1 else ''}")
        files = _mapping(body.get("files"))
        if files:
            counts = [
                f"{len(_list(files.get(k)))} {k}"
                for k in ("added", "removed", "changed")
                if _list(files.get(k))
            ]
            if counts:
                parts.append("files: " + ", ".join(counts))
        if not parts and self.changed:
            parts.append(f"{body.get('entry_kind') or 'content'} fingerprint changed")
        return " · ".join(parts)

    _digest_output = _digest_data
    _digest_model = _digest_data

    def _digest_code(self) -> str:
        files = _list(self.body.get("files"))
        total = len(files) + _count(self.body.get("files_omitted"))
        added = sum(_count(_mapping(f).get("lines_added")) for f in files)
        removed = sum(_count(_mapping(f).get("lines_removed")) for f in files)
        parts = []
        if total:
            parts.append(f"{total} file{'s' if total != 1 else ''} (+{added:,} −{removed:,})")
        symbols = _list(self.body.get("symbols"))
        if symbols:
            noun = "function/class" if len(symbols) == 1 else "functions/classes"
            parts.append(f"{len(symbols)} {noun} changed")
        git = [str(_mapping(c).get("key")) for c in _list(self.body.get("git"))]
        if git:
            parts.append("git: " + ", ".join(git))
        return " · ".join(parts)

    def _digest_config(self) -> str:
        params, files = _list(self.body.get("params")), _list(self.body.get("files"))
        parts = []
        if params:
            keys = ", ".join(str(_mapping(c).get("key")) for c in params[:4])
            parts.append(f"{len(params)} param{'s' if len(params) != 1 else ''}: {keys}")
        if files:
            parts.append(f"{len(files)} config file{'s' if len(files) != 1 else ''}")
        return " · ".join(parts)

    def _digest_env(self) -> str:
        packages = _mapping(self.body.get("packages"))
        marks = (
            ("added", "+"),
            ("removed", "−"),
            ("upgraded", "↑"),
            ("downgraded", "↓"),
            ("changed", "~"),
        )
        moved = [f"{m}{len(_list(packages.get(k)))}" for k, m in marks if _list(packages.get(k))]
        parts = ["packages " + " ".join(moved)] if moved else []
        settings = _mapping(self.body.get("settings"))
        groups = [group for group, changes in settings.items() if _list(changes)]
        if groups:
            parts.append("settings: " + ", ".join(groups))
        return " · ".join(parts)

    def _digest_seeds(self) -> str:
        changes = _list(self.body.get("changes"))
        return ", ".join(str(_mapping(c).get("key")) for c in changes[:5])

    def _digest_policy(self) -> str:
        versions = _mapping(self.body.get("versions"))
        if not versions:
            return self._digest_seeds()
        parts = []
        if versions.get("a") != versions.get("b"):
            parts.append(f"{versions.get('a')} → {versions.get('b')}")
        rules = [str(_mapping(r).get("rule")) for r in _list(self.body.get("rules"))]
        if rules:
            parts.append("rules changed: " + ", ".join(rules[:5]))
        datasets = [_mapping(d) for d in _list(self.body.get("datasets"))]
        newly = sum(int(d.get("newly_excluded") or 0) for d in datasets)
        let_in = sum(int(d.get("let_in") or 0) for d in datasets)
        if newly or let_in:
            parts.append(f"{newly} rows newly excluded, {let_in} let in")
        return " · ".join(parts)

    def _digest_metrics(self) -> str:
        parts = []
        for metric in _list(self.body.get("metrics")):
            metric = _mapping(metric)
            if metric.get("change") in (None, "unchanged"):
                continue
            delta = metric.get("delta")
            shown = f" ({delta:+.4g})" if isinstance(delta, (int, float)) else ""
            parts.append(f"{metric.get('key')}{shown}")
        return ", ".join(parts[:5]) + (f" and {len(parts) - 5} more" if len(parts) > 5 else "")

    def _digest_steps(self) -> str:
        first = self.body.get("first_divergence")
        if isinstance(first, Mapping):
            return f"first divergence: {first.get('name')}"
        return ""

    # -- details --------------------------------------------------------------------------

    @property
    def rows(self) -> Mapping[str, Any]:
        return _mapping(self.body.get("rows"))

    def row_samples(self) -> list[tuple[str, Records]]:
        rows = self.rows
        samples = _mapping(rows.get("samples"))
        limit = self.view.limits.rows
        out = []
        for key, label in (("changed", "changed"), ("added", "added"), ("removed", "removed")):
            items = _list(samples.get(key))
            if items:
                out.append((label, records(items, limit, total=_count(rows.get(key)) or None)))
        return out

    def row_chart(self) -> charts.Svg | None:
        rows = self.rows
        if not rows:
            return None
        changed, added, removed = (_count(rows.get(k)) for k in ("changed", "added", "removed"))
        rows_a = _count(rows.get("rows_a"))
        keyed = bool(rows.get("key"))
        unchanged = max(0, rows_a - removed - changed)
        counts = [("unchanged", unchanged, charts.COLOR_MUTED)]
        if keyed:
            counts.append(("changed", changed, charts.COLOR_B))
        counts += [("added", added, charts.COLOR_GOOD), ("removed", removed, charts.COLOR_BAD)]
        noun = "predictions" if self.kind == "output" else "rows"
        title = f"{noun} of {self.name}: {self.view.label_a} → {self.view.label_b}"
        return charts.count_bars(title, counts, percent_of=float(rows_a) if rows_a else None)

    @property
    def cells(self) -> Mapping[str, Any]:
        return _mapping(self.body.get("cells"))

    def cell_chart(self) -> charts.Svg | None:
        columns = _mapping(self.cells.get("changed_columns"))
        if len(columns) < 2:
            return None
        counts = [
            (str(name), float(_count(value)), charts.COLOR_B)
            for name, value in sorted(columns.items(), key=lambda item: -_count(item[1]))
        ][: self.view.limits.columns]
        return charts.count_bars(f"changed cells per column of {self.name}", counts)

    def cell_samples(self) -> Records:
        """One row per changed cell: key values, column, old, new."""
        limit = self.view.limits.rows
        rows: list[list[Cell]] = []
        key_columns: list[str] = []
        samples = [_mapping(s) for s in _list(self.cells.get("samples"))]
        for sample in samples:
            for column in _mapping(sample.get("key")):
                if str(column) not in key_columns:
                    key_columns.append(str(column))
        total = 0
        for sample in samples:
            key = _mapping(sample.get("key"))
            for column, pair in _mapping(sample.get("changes")).items():
                total += 1
                if len(rows) >= limit:
                    continue
                old, new = _old_new(pair)
                rows.append(
                    [Cell(key.get(k)) for k in key_columns]
                    + [Cell(column, "mono"), Cell(old, "old"), Cell(new, "new")]
                )
        return Records([*key_columns, "column", "old", "new"], rows, max(0, total - len(rows)))

    def transitions(self) -> Records:
        """The most common old → new changes among the sampled cells (what flipped to what)."""
        counter: Counter[tuple[str, str, str]] = Counter()
        samples = [_mapping(s) for s in _list(self.cells.get("samples"))]
        for sample in samples:
            for column, pair in _mapping(sample.get("changes")).items():
                if isinstance(pair, (list, tuple)) and len(pair) == 2:
                    counter[(str(column), _brief(pair[0]), _brief(pair[1]))] += 1
        repeated = [(key, n) for key, n in counter.most_common(10) if n > 1]
        rows = [
            [Cell(column, "mono"), Cell(old, "old"), Cell(new, "new"), Cell(n)]
            for (column, old, new), n in repeated
        ]
        return Records(["column", "old", "new", "sampled rows"], rows)

    @property
    def sampled_cells(self) -> int:
        return len(_list(self.cells.get("samples")))

    def schema_table(self) -> Records:
        schema = _mapping(self.body.get("schema_changes"))
        rows: list[list[Cell]] = []
        for change in ("added", "dropped", "retyped", "renamed"):
            for item in _list(schema.get(change)):
                item = _mapping(item)
                name: Any
                if change == "renamed":
                    name = f"{item.get('old')} → {item.get('new')}"
                    old = new = item.get("type")
                elif change == "retyped":
                    name, old, new = item.get("name"), item.get("old"), item.get("new")
                else:
                    typed = item.get("type") or item.get("family")
                    name = item.get("name")
                    old, new = (typed, None) if change == "dropped" else (None, typed)
                rows.append([Cell(change), Cell(name, "mono"), Cell(old, "old"), Cell(new, "new")])
        return Records(["change", "column", "old type", "new type"], rows)

    def shifts(self) -> list[dict[str, Any]]:
        """Per shifted column: its statistic changes and its overlay charts."""
        out = []
        rows_a, rows_b = _count(self.rows.get("rows_a")), _count(self.rows.get("rows_b"))
        for index, shift in enumerate(_list(self.body.get("profile"))):
            shift = _mapping(shift)
            column = str(shift.get("column"))
            figures: list[charts.Svg] = []
            if index < self.view.limits.columns:
                quantiles = _mapping(shift.get("quantiles"))
                histogram = _mapping(shift.get("histogram"))
                figures = [
                    f
                    for f in (
                        charts.quantile_overlay(
                            column,
                            _mapping(quantiles.get("old")),
                            _mapping(quantiles.get("new")),
                            label_a=self.view.label_a,
                            label_b=self.view.label_b,
                        ),
                        charts.day_histogram_overlay(
                            column,
                            _mapping(histogram.get("old")),
                            _mapping(histogram.get("new")),
                            label_a=self.view.label_a,
                            label_b=self.view.label_b,
                        ),
                        self._top_values_chart(column, shift, rows_a, rows_b),
                    )
                    if f is not None
                ]
            out.append(
                {
                    "column": column,
                    "family": shift.get("family"),
                    "changes": _list(shift.get("changes")),
                    "figures": figures,
                }
            )
        return out

    def _top_values_chart(
        self, column: str, shift: Mapping[str, Any], rows_a: int, rows_b: int
    ) -> charts.Svg | None:
        for change in _list(shift.get("changes")):
            change = _mapping(change)
            if change.get("key") == "top_values":
                return charts.category_overlay(
                    column,
                    _pairs(change.get("old")),
                    _pairs(change.get("new")),
                    rows_a=rows_a or None,
                    rows_b=rows_b or None,
                    label_a=self.view.label_a,
                    label_b=self.view.label_b,
                )
        return None

    def coverage(self) -> list[dict[str, Any]]:
        out = []
        for item in _list(self.body.get("coverage")):
            item = _mapping(item)
            column = str(item.get("column"))
            out.append(
                {
                    "column": column,
                    "old": _mapping(item.get("old")),
                    "new": _mapping(item.get("new")),
                    "new_gaps": records(
                        (_mapping(g) for g in _list(item.get("new_gaps"))), self.view.limits.rows
                    ),
                    "figure": charts.coverage_timeline(
                        column, item, label_a=self.view.label_a, label_b=self.view.label_b
                    ),
                }
            )
        return out

    def file_changes(self) -> list[tuple[str, Records]]:
        files = _mapping(self.body.get("files"))
        out = []
        for key in ("changed", "added", "removed"):
            items = [_mapping(i) for i in _list(files.get(key))]
            if items:
                out.append((key, records(items, self.view.limits.rows)))
        return out

    @property
    def files_omitted(self) -> int:
        return _count(_mapping(self.body.get("files")).get("omitted"))

    def entry_facts(self) -> list[tuple[str, Any]]:
        facts: list[tuple[str, Any]] = [("kind", self.body.get("entry_kind"))]
        for key in ("path", "fingerprint", "retention"):
            pair = _mapping(self.body.get(key))
            if pair:
                old, new = pair.get("old"), pair.get("new")
                facts.append((key, old if old == new else f"{old} → {new}"))
        rows = self.rows
        if rows.get("key"):
            facts.append(("key", ", ".join(str(k) for k in _list(rows.get("key")))))
        return facts

    # -- code -----------------------------------------------------------------------------

    def code_files(self) -> tuple[list[dict[str, Any]], int]:
        """Files with their parsed diff lines, within the page's line budget; and how many
        files were left out."""
        budget = self.view.limits.code_lines
        files = [_mapping(f) for f in _list(self.body.get("files"))]
        shown = files[: self.view.limits.code_files]
        out = []
        for item in shown:
            lines, cut = _diff_lines(item.get("diff"), budget)
            budget -= len(lines)
            note = ""
            if item.get("binary"):
                note = "binary file: no text diff"
            elif item.get("diff") is None:
                note = "content not stored: no diff available"
            elif cut:
                note = f"{cut:,} more diff lines not shown here"
            elif item.get("diff_truncated"):
                note = "diff truncated by runstate diff (see --json or the CLI for more)"
            symbols = [
                f"{_mapping(s).get('kind')} {_mapping(s).get('name')} ({_mapping(s).get('change')})"
                for s in _list(item.get("symbols"))
            ]
            out.append(
                {
                    "path": item.get("path"),
                    "change": item.get("change") or "modified",
                    "lines_added": _count(item.get("lines_added")),
                    "lines_removed": _count(item.get("lines_removed")),
                    "symbols": symbols,
                    "lines": lines,
                    "note": note,
                }
            )
        omitted = len(files) - len(shown) + _count(self.body.get("files_omitted"))
        return out, omitted

    # -- env ------------------------------------------------------------------------------

    def package_table(self) -> Records:
        packages = _mapping(self.body.get("packages"))
        rows: list[list[Cell]] = []
        for change in ("upgraded", "downgraded", "added", "removed", "changed"):
            for item in _list(packages.get(change)):
                item = _mapping(item)
                if change == "added":
                    old, new = None, item.get("version")
                elif change == "removed":
                    old, new = item.get("version"), None
                else:
                    old, new = item.get("old"), item.get("new")
                name = Cell(item.get("name"), "mono")
                rows.append([name, Cell(change), Cell(old, "old"), Cell(new, "new")])
        limit = self.view.limits.rows
        return Records(["package", "change", "old", "new"], rows[:limit], max(0, len(rows) - limit))

    def settings(self) -> list[tuple[str, list[Any]]]:
        return [
            (str(group), _list(changes))
            for group, changes in _mapping(self.body.get("settings")).items()
            if _list(changes)
        ]

    # -- metrics and steps ----------------------------------------------------------------

    def metrics(self) -> list[Mapping[str, Any]]:
        return [_mapping(m) for m in _list(self.body.get("metrics"))]

    def steps(self) -> list[Mapping[str, Any]]:
        return [_mapping(s) for s in _list(self.body.get("steps"))]


def _old_new(pair: Any) -> tuple[Any, Any]:
    if isinstance(pair, (list, tuple)) and len(pair) == 2:
        return pair[0], pair[1]
    return None, None


def _pairs(value: Any) -> list[Sequence[Any]]:
    return [pair for pair in _list(value) if isinstance(pair, (list, tuple)) and len(pair) == 2]


def _brief(value: Any) -> str:
    text = "null" if value is None else str(value)
    return text if len(text) <= 60 else text[:59] + "…"


_HUNK = re.compile(r"^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@")


def _diff_lines(diff: Any, budget: int) -> tuple[list[dict[str, Any]], int]:
    """A unified diff as ``{cls, old, new, text}`` lines (at most ``budget``) and how many
    lines were cut."""
    if not isinstance(diff, str) or not diff:
        return [], 0
    lines = diff.splitlines()
    out: list[dict[str, Any]] = []
    old_no = new_no = 0
    for line in lines[: max(0, budget)]:
        old: int | str = ""
        new: int | str = ""
        if line.startswith(("+++", "---", "diff ", "index ")):
            cls = "meta"
        elif line.startswith("@@"):
            cls = "hunk"
            match = _HUNK.match(line)
            if match:
                old_no, new_no = int(match.group(1)), int(match.group(2))
        elif line.startswith("+"):
            cls, new = "add", new_no
            new_no += 1
        elif line.startswith("-"):
            cls, old = "del", old_no
            old_no += 1
        elif line.startswith("\\"):
            cls = "meta"
        else:
            cls, old, new = "ctx", old_no, new_no
            old_no += 1
            new_no += 1
        out.append({"cls": cls, "old": old, "new": new, "text": line})
    return out, max(0, len(lines) - len(out))
