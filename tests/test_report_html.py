"""The HTML diff report, checked in a real headless Chromium (tests/browser.py).

Documents come from two real runs recorded with ``runstate run --`` and compared with
``runstate diff --json`` (data with a shifted column, a new time gap and changed categories,
a code edit, a param change, changed predictions), and from a hand-written document valid
against docs/schemas/diff.schema.json that has every kind of component and hostile values.
Charts are inline SVG: the browser tests check they lay out with a size, carry the expected
marks and hover titles with the document's values; the builder tests parse their markup as
XML.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from browser import BrowserPage
from conftest import runstate_cli
from runstate.report import charts, svg
from runstate.report.html import LEVELS, _render, render_diff, write_diff
from runstate.report.page import DEFAULT_MAX_BYTES
from schemas import validate

HOSTILE = "<script>window.__pwned = 1</script><img src=x onerror=window.__pwned=2>"

GENERATE = """
import sys
import datetime as dt
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

shifted = sys.argv[1] == "shifted"
rng = np.random.default_rng(1)
n = 4000
days = rng.integers(0, 90, n)
if shifted:  # a week with no rows: moved ten days later
    days = np.where((days >= 40) & (days < 47), days + 10, days)
income = rng.normal(5000.0 + (300.0 if shifted else 0.0), 800.0, n)
shares = [0.4, 0.3, 0.3] if shifted else [0.5, 0.3, 0.2]
segment = rng.choice(["a", "b", "c"], n, p=shares)
day = [dt.date(2026, 1, 1) + dt.timedelta(days=int(d)) for d in days]
table = pa.table({"id": np.arange(n), "day": day, "income": income, "segment": segment})
pq.write_table(table, "customers.parquet")
"""

SCORE = """
import pyarrow as pa
import pyarrow.compute as pc

import runstate


def features(table):
    return pc.divide(table["income"], 1000.0)


with runstate.run("score", params={"threshold": 5.0}) as run:
    customers = run.read_table("customers", "customers.parquet", key="id", as_="arrow")
    score = features(customers)
    approved = pc.greater(score, run.params["threshold"])
    run.output("predictions", pa.table({"id": customers["id"], "approved": approved}), key="id")
    run.metric("approval_rate", float(pc.mean(pc.cast(approved, pa.int8())).as_py()))
"""


def _ok(done: Any) -> None:
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Two real scoring runs and the ``runstate diff --json`` document between them."""
    project = tmp_path_factory.mktemp("report") / "project"
    project.mkdir()
    (project / "generate.py").write_text(textwrap.dedent(GENERATE))
    (project / "score.py").write_text(textwrap.dedent(SCORE).lstrip())
    _ok(runstate_cli("init", cwd=project))
    _ok(runstate_cli("run", "--", "python", "generate.py", "base", cwd=project))
    _ok(runstate_cli("run", "--name", "score", "--", "python", "score.py", cwd=project))
    _ok(runstate_cli("run", "--", "python", "generate.py", "shifted", cwd=project))
    script = project / "score.py"
    script.write_text(script.read_text().replace("1000.0)", "1000.0 + 0.1)"))
    _ok(
        runstate_cli(
            "run",
            "--name",
            "score",
            "--param",
            "threshold=5.2",
            "--",
            "python",
            "score.py",
            cwd=project,
        )
    )
    done = runstate_cli("diff", "latest~1", "latest", "--name", "score", "--json", cwd=project)
    assert done.returncode == 1, done.stderr  # they differ
    document: dict[str, Any] = json.loads(done.stdout)
    validate(document)
    return {"project": project, "document": document}


def handmade() -> dict[str, Any]:
    """A valid diff document with every component kind, hostile text in user values."""
    run = {
        "kind": "api",
        "name": "score",
        "status": "succeeded",
        "started_at": "2026-11-25T06:00:00.000000Z",
        "ended_at": "2026-11-25T06:00:04.000000Z",
    }
    a = {
        **run,
        "ref": "scoring@v1",
        "id": "019abc00-0000-7000-8000-000000000001",
        "state_id": "a" * 64,
        "release": "scoring@v1",
    }
    b = {
        **run,
        "ref": HOSTILE,
        "id": "019abc00-0000-7000-8000-000000000002",
        "state_id": "b" * 64,
        "release": None,
    }

    def entry(kind: str, **details: Any) -> dict[str, Any]:
        base: dict[str, Any] = {
            "kind": kind,
            "changed": True,
            "status": "changed",
            "ids": {"a": "1" * 64, "b": "2" * 64},
            "missing": None,
            "entry_kind": "table",
            "path": None,
            "fingerprint": {"old": "f" * 64, "new": "e" * 64},
            "retention": {"old": "full", "new": "full"},
            "rows": None,
            "schema_changes": None,
            "cells": None,
            "profile": None,
            "coverage": None,
            "files": None,
        }
        base.update(details)
        return base

    quantiles = {
        "p01": 10.0,
        "p05": 20.0,
        "p25": 40.0,
        "p50": 50.0,
        "p75": 60.0,
        "p95": 80.0,
        "p99": 90.0,
    }
    diff_text = "--- a/features.py\n+++ b/features.py\n@@ -1,3 +1,3 @@\n def f(x):\n"
    diff_text += f"-    return x  # {HOSTILE}\n+    return x + 1\n \n"
    components: dict[str, Any] = {
        "data:customers": entry(
            "data",
            rows={
                "key": ["id"],
                "rows_a": 1000,
                "rows_b": 1001,
                "added": 1,
                "removed": 0,
                "changed": 2,
                "duplicate_keys_a": 0,
                "duplicate_keys_b": 1,
                "duplicates_introduced": 1,
                "samples": {"added": [{"id": 1001}], "changed": [{"id": 7}, {"id": 9}]},
            },
            schema_changes={
                "added": [{"name": "region", "type": "string"}],
                "dropped": [],
                "retyped": [{"name": "age", "old": "int64", "new": "double"}],
                "renamed": [],
            },
            cells={
                "available": True,
                "reason": None,
                "changed_columns": {"income": 2, "note": 1},
                "samples": [
                    {
                        "key": {"id": 7},
                        "changes": {"income": [5200.0, 5400.0], "note": ["ok", HOSTILE]},
                    },
                    {"key": {"id": 9}, "changes": {"income": [10.5, None]}},
                ],
            },
            profile=[
                {
                    "column": "income",
                    "family": "float",
                    "changes": [{"key": "mean", "change": "changed", "old": 50.1, "new": 61.3}],
                    "quantiles": {
                        "old": quantiles,
                        "new": {k: v + 11 for k, v in quantiles.items()},
                    },
                    "histogram": None,
                },
                {
                    "column": HOSTILE,
                    "family": "string",
                    "changes": [
                        {
                            "key": "top_values",
                            "change": "changed",
                            "old": [["x", 60], [HOSTILE, 40]],
                            "new": [["x", 30], ["y", 70]],
                        }
                    ],
                    "quantiles": None,
                    "histogram": None,
                },
                {
                    "column": "day",
                    "family": "date",
                    "changes": [],
                    "quantiles": None,
                    "histogram": {
                        "old": {
                            "unit": "day",
                            "start": "2026-01-01",
                            "width_days": 1,
                            "counts": [5, 6, 7, 5, 6, 7, 5],
                        },
                        "new": {
                            "unit": "day",
                            "start": "2026-01-01",
                            "width_days": 1,
                            "counts": [5, 6, 0, 0, 6, 7, 5],
                        },
                    },
                },
            ],
            coverage=[
                {
                    "column": "day",
                    "old": {"min": "2026-01-01", "max": "2026-01-07", "gaps": []},
                    "new": {
                        "min": "2026-01-01",
                        "max": "2026-01-07",
                        "gaps": [{"from": "2026-01-03", "to": "2026-01-04", "days": 2}],
                    },
                    "new_gaps": [{"from": "2026-01-03", "to": "2026-01-04", "days": 2}],
                },
            ],
        ),
        "data:events": entry(
            "data",
            retention={"old": "fingerprint", "new": "fingerprint"},
            rows={
                "key": None,
                "rows_a": 10,
                "rows_b": 11,
                "added": 1,
                "removed": 0,
                "changed": 0,
                "duplicate_keys_a": 0,
                "duplicate_keys_b": 0,
                "duplicates_introduced": 0,
                "samples": {"added": [{"__rowfp": "0123456789abcdef"}]},
            },
            cells={
                "available": False,
                "reason": "data kept as fingerprints only",
                "changed_columns": {},
                "samples": [],
            },
        ),
        "data:raw": entry(
            "data",
            entry_kind="folder",
            files={
                "added": [{"path": "new.csv", "size": 10}],
                "removed": [],
                "changed": [{"path": HOSTILE, "old": "aa", "new": "bb"}],
                "omitted": 0,
                "available": True,
            },
        ),
        "model:clf": entry("model", entry_kind="file"),
        "output:predictions": entry(
            "output",
            rows={
                "key": ["id"],
                "rows_a": 1000,
                "rows_b": 1000,
                "added": 0,
                "removed": 0,
                "changed": 3,
                "duplicate_keys_a": 0,
                "duplicate_keys_b": 0,
                "duplicates_introduced": 0,
                "samples": {"changed": [{"id": 1}, {"id": 2}, {"id": 3}]},
            },
            cells={
                "available": True,
                "reason": None,
                "changed_columns": {"approved": 3},
                "samples": [
                    {"key": {"id": i}, "changes": {"approved": [False, True]}} for i in (1, 2, 3)
                ],
            },
        ),
        "code": {
            "kind": "code",
            "changed": True,
            "status": "changed",
            "ids": {"a": "3" * 64, "b": "4" * 64},
            "missing": None,
            "git": [{"key": "dirty", "change": "changed", "old": False, "new": True}],
            "files": [
                {
                    "path": "features.py",
                    "change": "modified",
                    "old": "c" * 64,
                    "new": "d" * 64,
                    "binary": False,
                    "diff": diff_text,
                    "diff_truncated": False,
                    "lines_added": 1,
                    "lines_removed": 1,
                    "symbols": [{"name": "f", "kind": "function", "change": "modified"}],
                }
            ],
            "files_omitted": 0,
            "symbols": ["features.py:f"],
        },
        "config": {
            "kind": "config",
            "changed": True,
            "status": "changed",
            "ids": {"a": "5" * 64, "b": "6" * 64},
            "missing": None,
            "params": [
                {"key": "threshold", "change": "changed", "old": 0.5, "new": 0.6},
                {"key": "label", "change": "added", "old": None, "new": HOSTILE},
            ],
            "files": [],
        },
        "env": {
            "kind": "env",
            "changed": True,
            "status": "changed",
            "ids": {"a": "7" * 64, "b": "8" * 64},
            "missing": None,
            "packages": {
                "added": [{"name": "polars", "version": "1.2.0"}],
                "removed": [],
                "upgraded": [{"name": "numpy", "old": "1.26.4", "new": "2.0.0"}],
                "downgraded": [],
                "changed": [],
            },
            "settings": {
                "env_vars": [
                    {
                        "key": "API_TOKEN",
                        "change": "changed",
                        "old": "<redacted>",
                        "new": "<redacted>",
                    }
                ]
            },
        },
        "seeds": {
            "kind": "seeds",
            "changed": True,
            "status": "changed",
            "ids": {"a": "9" * 64, "b": "0" * 64},
            "missing": None,
            "changes": [{"key": "seed", "change": "changed", "old": 7, "new": 8}],
        },
        "metrics": {
            "kind": "metrics",
            "changed": True,
            "status": "changed",
            "ids": {"a": None, "b": None},
            "missing": None,
            "metrics": [
                {
                    "key": "approval_rate",
                    "change": "changed",
                    "old": 0.42,
                    "new": 0.45,
                    "delta": 0.03,
                    "rel_delta": 0.0714,
                }
            ],
        },
        "steps": {
            "kind": "steps",
            "changed": True,
            "status": "changed",
            "ids": {"a": None, "b": None},
            "missing": None,
            "steps": [
                {
                    "name": "features",
                    "index_a": 0,
                    "index_b": 0,
                    "status": {"old": "succeeded", "new": "succeeded"},
                    "code_changed": True,
                    "inputs_equal": True,
                    "outputs_equal": False,
                }
            ],
            "first_divergence": {
                "name": "features",
                "index": 0,
                "reason": "same inputs, different outputs",
            },
        },
    }
    changed = sorted(components)
    sections: dict[str, dict[str, int]] = {}
    for body in components.values():
        sections.setdefault(body["kind"], {"changed": 0, "unchanged": 0})["changed"] += 1
    document = {
        "schema": "runstate.diff/v1",
        "identical": False,
        "a": a,
        "b": b,
        "summary": {
            "components": len(components),
            "changed": len(changed),
            "changed_components": changed,
            "sections": sections,
            "text": f"{len(changed)} of {len(components)} components differ",
        },
        "components": components,
        "warnings": [f"runs have different names: score and {HOSTILE}"],
        "missing": [],
        "limit": 20,
    }
    validate(document)
    return document


def identical() -> dict[str, Any]:
    document = handmade()
    for body in document["components"].values():
        body["changed"], body["status"] = False, "unchanged"
    document["identical"] = True
    document["summary"].update(changed=0, changed_components=[], text="identical")
    for counts in document["summary"]["sections"].values():
        counts["unchanged"], counts["changed"] = counts["changed"], 0
    return document


def open_report(browser_page: BrowserPage, html: str, folder: Path) -> Any:
    path = folder / "report.html"
    path.write_text(html, encoding="utf-8")
    browser_page.open(path)
    return browser_page.page


def chart_boxes(locator: Any) -> list[dict[str, Any]]:
    """Each chart's aria-label, laid-out size, bar count and mark hover titles."""
    return list(
        locator.locator("svg.rs-chart").evaluate_all(
            """els => els.map(e => {
                const r = e.getBoundingClientRect();
                return {
                    label: e.getAttribute('aria-label'),
                    role: e.getAttribute('role'),
                    title: e.querySelector(':scope > title').textContent,
                    width: r.width,
                    height: r.height,
                    bars: e.querySelectorAll('rect.bar').length,
                    marks: Array.from(e.querySelectorAll('.mark')).map(m => {
                        const b = m.getBoundingClientRect();
                        const t = m.querySelector('title');
                        return {title: t ? t.textContent : null, width: b.width, height: b.height};
                    }),
                    hits: Array.from(e.querySelectorAll('.hit > title')).map(t => t.textContent),
                };
            })"""
        )
    )


def chart_with(boxes: list[dict[str, Any]], label: str) -> dict[str, Any]:
    found = [box for box in boxes if label in box["label"]]
    assert len(found) == 1, (label, [box["label"] for box in boxes])
    return found[0]


def titles(box: dict[str, Any]) -> list[str]:
    return [mark["title"] for mark in box["marks"] if mark["title"]]


def no_plotting_library(html: str) -> bool:
    return "plotly" not in html.lower() and "<script src" not in html


# ---------------------------------------------------------------------------------------
# Real runs


def test_report_of_real_runs_opens_clean_and_sections_expand(
    recorded: dict[str, Any], browser_page: BrowserPage, tmp_path: Path
) -> None:
    document = recorded["document"]
    html = render_diff(document)
    assert len(html.encode("utf-8")) < 200_000  # a typical report: no chart library inside
    assert no_plotting_library(html)
    page = open_report(browser_page, html, tmp_path)
    assert "Differs." in page.locator("#verdict").inner_text()
    names = page.locator("details.section > summary .name").all_inner_texts()
    for name in ("config", "code", "data:customers", "output:predictions", "metrics"):
        assert name in names
    section = page.locator("details.section", has=page.locator(".name", has_text="data:customers"))
    assert not section.locator(".body").is_visible()
    assert not section.locator("svg.rs-chart").first.is_visible()
    section.locator("summary").click()
    assert section.locator(".body").is_visible()
    body = section.inner_text()
    assert "2026-02-10" in body and "2026-02-16" in body  # the new gap, listed
    # Rows and cells bars, the shifted income, rows per day, top segments, time coverage.
    boxes = chart_boxes(section)
    assert len(boxes) == 6, [box["label"] for box in boxes]
    for box in boxes:
        assert box["role"] == "img" and box["title"]
        assert box["width"] > 200 and box["height"] > 50, box["label"]
    customers = document["components"]["data:customers"]
    shifts = {shift["column"]: shift for shift in customers["profile"]}

    # Distribution overlay: one area per side and the medians, hover lists the quantiles.
    income = chart_with(boxes, "distribution of income")
    assert len(income["marks"]) == 4
    for side in ("old", "new"):
        p50 = shifts["income"]["quantiles"][side]["p50"]
        assert any(f"p50 {p50:.6g}" in title for title in titles(income)), titles(income)
    assert all(mark["width"] > 0 and mark["height"] > 0 for mark in income["marks"])

    # Top values: two bars (A, B) per value; the hover shows the document's counts.
    (top_values,) = [c for c in shifts["segment"]["changes"] if c["key"] == "top_values"]
    segment = chart_with(boxes, "most frequent values of segment")
    values = {value for value, _ in top_values["old"]} | {value for value, _ in top_values["new"]}
    assert segment["bars"] == 2 * len(values) == 6
    for side, label in (("old", "A: latest~1"), ("new", "B: latest")):
        for value, count in top_values[side]:
            assert any(
                title.startswith(f"{label} · {value}:") and f"({count:,} of 4,000)" in title
                for title in titles(segment)
            ), (value, count, titles(segment))
    assert all(bar["width"] > 0 for bar in segment["marks"])  # every value on both sides

    # Rows per day: the week without rows in B is one shaded band; each day hovers counts.
    per_day = chart_with(boxes, "rows per day of day")
    histogram = shifts["day"]["histogram"]
    assert len(per_day["hits"]) == len(histogram["new"]["counts"])
    (band,) = titles(per_day)
    assert "2026-02-10 … 2026-02-16 (7 days)" in band
    first = histogram["old"]["counts"][0], histogram["new"]["counts"][0]
    assert per_day["hits"][0] == f"2026-01-01: A: latest~1 {first[0]} · B: latest {first[1]} rows"

    # Coverage: A one span; B two spans around the new gap, which is marked.
    coverage = chart_with(boxes, "time coverage of day")
    gap = [t for t in titles(coverage) if "no rows" in t]
    assert gap == [
        "B: latest has no rows: 2026-02-10 … 2026-02-16 (7 days), a gap new in B: latest"
    ]
    assert len(coverage["marks"]) == 4

    # Row counts: unchanged/changed/added/removed with the document's numbers.
    rows = chart_with(boxes, "rows of data:customers")
    assert rows["bars"] == 4
    assert f"changed: {customers['rows']['changed']:,} (100.0%)" in titles(rows)

    code = page.locator("details.section", has=page.locator(".name", has_text="code"))
    code.locator("summary").click()
    assert code.locator(".ln.add").first.inner_text().endswith("1000.0 + 0.1)")
    assert "1000.0)" in code.locator(".ln.del").first.inner_text()
    page.click("[data-expand=all]")
    assert page.locator("details.section:not([open])").count() == 0
    predictions = chart_with(chart_boxes(page.locator("main")), "predictions of output:predictions")
    assert predictions["width"] > 0 and predictions["bars"] == 4
    # Charts scale with the page: a narrower window gives narrower charts.
    wide = chart_boxes(section)[0]["width"]
    page.set_viewport_size({"width": 600, "height": 800})
    assert 0 < chart_boxes(section)[0]["width"] < wide
    browser_page.assert_clean()


def test_diff_cli_writes_the_report(recorded: dict[str, Any]) -> None:
    project = recorded["project"]
    done = runstate_cli(
        "diff", "latest~1", "latest", "--name", "score", "--html", "d.html", cwd=project
    )
    assert done.returncode == 1, done.stderr
    html = (project / "d.html").read_text("utf-8")
    assert html.startswith("<!DOCTYPE html>") and "output:predictions" in html
    assert html.count('<svg class="rs-chart"') >= 6
    assert no_plotting_library(html)
    assert len(html.encode("utf-8")) < 200_000


# ---------------------------------------------------------------------------------------
# Hand-written documents: every kind, hostile values


def test_every_section_renders_and_escaping_holds(
    browser_page: BrowserPage, tmp_path: Path
) -> None:
    html = render_diff(handmade())
    # Hostile text appears only escaped: no markup from the document reaches the page.
    assert "<script>window.__pwned" not in html and "<img src=x" not in html
    assert "&lt;script&gt;window.__pwned" in html
    page = open_report(browser_page, html, tmp_path)
    page.click("[data-expand=all]")
    assert page.evaluate("window.__pwned") is None
    assert page.evaluate("document.scripts.length") == 1  # the page's own
    assert page.locator("img, svg script, svg foreignObject").count() == 0
    text = page.locator("main").inner_text()
    assert HOSTILE in text  # shown as text, literally
    for expected in (
        "First divergence",
        "numpy",
        "2.0.0",
        "<redacted>",
        "data kept as fingerprints only",
        "region",
        "new.csv",
        "approval_rate",
        "+0.03",
        "duplicate keys introduced",
        "threshold",
    ):
        assert expected in text, expected
    flips = page.locator("h4", has_text="Most common changes")
    assert flips.count() == 1  # approved false → true, three times
    assert page.locator(".diff .ln.add").count() == 1
    assert page.locator(".diff .ln.del").count() == 1
    assert page.locator(".diff .ln.hunk").count() == 1
    boxes = chart_boxes(page.locator("main"))
    assert len(boxes) == 8, [box["label"] for box in boxes]
    for box in boxes:
        assert box["width"] > 0 and box["height"] > 0, box["label"]
    chart_with(boxes, "rows per day of day")
    # The hostile column name and value, inside a chart: text in its title, label and marks.
    top = chart_with(boxes, "most frequent values of " + HOSTILE)
    assert top["title"].startswith(HOSTILE)
    assert top["bars"] == 6  # x, y and the hostile value, on both sides
    assert any(title.startswith("A: scoring@v1 · " + HOSTILE[:39]) for title in titles(top))
    hostile_svg = page.locator("svg.rs-chart", has_text=HOSTILE[:20]).first
    assert HOSTILE[:20] in hostile_svg.text_content()
    cells = chart_with(boxes, "changed cells per column of data:customers")
    assert sorted(titles(cells)) == ["income: 2", "note: 1"]
    browser_page.assert_clean()


def test_identical_runs_page_is_small_and_chart_free(
    browser_page: BrowserPage, tmp_path: Path
) -> None:
    html = render_diff(identical())
    assert len(html.encode()) < 30_000
    assert "<svg" not in html
    page = open_report(browser_page, html, tmp_path)
    assert "Identical." in page.locator("#verdict").inner_text()
    assert page.locator("#unchanged summary").is_visible()
    assert not page.locator("#unchanged table").is_visible()
    page.click("#unchanged summary")
    assert page.locator("#unchanged table").is_visible()
    browser_page.assert_clean()


def _big(document: dict[str, Any]) -> dict[str, Any]:
    """A very large diff: 2,000 changed code files of 500 lines, 5,000 sampled cells."""
    big = copy.deepcopy(document)
    code = big["components"]["code"]
    body = "".join(f"-old line {i} {'x' * 60}\n+new line {i} {'y' * 60}\n" for i in range(250))
    template = code["files"][0]
    code["files"] = [
        {
            **template,
            "path": f"pkg/module_{i}.py",
            "diff": "@@ -1,250 +1,250 @@\n" + body,
            "lines_added": 250,
            "lines_removed": 250,
        }
        for i in range(2000)
    ]
    code["symbols"] = [f"pkg/module_{i}.py:f" for i in range(2000)]
    cells = big["components"]["data:customers"]["cells"]
    cells["samples"] = [
        {"key": {"id": i}, "changes": {"income": [float(i), float(i) + 0.5], "note": ["a", "b"]}}
        for i in range(5000)
    ]
    big["components"]["data:customers"]["rows"]["samples"]["changed"] = [
        {"id": i} for i in range(5000)
    ]
    big["limit"] = None
    validate(big)
    return big


def test_size_cap_holds_for_a_big_diff(browser_page: BrowserPage, tmp_path: Path) -> None:
    big = _big(handmade())
    assert len(json.dumps(big)) > 20_000_000  # the document itself is far over the cap
    html = render_diff(big)
    assert len(html.encode("utf-8")) <= DEFAULT_MAX_BYTES
    assert "more diff lines not shown" in html or "more changed files not shown" in html
    assert "Chart left out" not in html  # charts are small: less detail, but every chart
    page = open_report(browser_page, html, tmp_path)
    page.click("[data-expand=all]")
    boxes = chart_boxes(page.locator("main"))
    assert len(boxes) == 8 and all(box["width"] > 0 for box in boxes)
    browser_page.assert_clean()


def test_over_a_tight_budget_charts_go_last_and_the_summary_stays() -> None:
    document = handmade()
    with_charts = len(_render(document, LEVELS[-2], None).encode("utf-8"))
    without = len(_render(document, LEVELS[-1], None).encode("utf-8"))
    assert without < with_charts
    html = render_diff(document, max_bytes=without + 100)
    assert len(html.encode("utf-8")) <= without + 100
    assert "<svg" not in html and "Chart left out" in html
    assert "First divergence" in html and "data:customers" in html
    assert "<svg" in render_diff(document, max_bytes=with_charts + 100)


def test_write_diff_writes_the_page(tmp_path: Path) -> None:
    target = write_diff(identical(), tmp_path / "out" / "diff.html")
    assert target.read_text("utf-8").startswith("<!DOCTYPE html>")


def test_page_has_no_fetchable_urls() -> None:
    """Nothing in the page names a remote resource to load."""
    html = render_diff(handmade())
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", html)
    assert "@import" not in html and "url(" not in html


# ---------------------------------------------------------------------------------------
# Chart builders

COVERAGE = {
    "column": "day",
    "old": {"min": "2026-01-01", "max": "2026-01-10", "gaps": []},
    "new": {
        "min": "2026-01-01",
        "max": "2026-01-10",
        "gaps": [{"from": "2026-01-04", "to": "2026-01-05", "days": 2}],
    },
    "new_gaps": [{"from": "2026-01-04", "to": "2026-01-05", "days": 2}],
}
UNIFORM = {f"p{p:02d}": float(p) for p in (1, 5, 25, 50, 75, 95, 99)}


def parse(chart: svg.Svg | None) -> ET.Element:
    """A chart's markup as XML (it must be well-formed), namespace-free."""
    assert chart is not None
    return ET.fromstring(chart)


def hovers(root: ET.Element, cls: str) -> list[str]:
    """The hover titles of the marks with class ``cls``."""
    return [
        str(el.findtext("title"))
        for el in root.iter()
        if cls in (el.get("class") or "").split() and el.find("title") is not None
    ]


ALL_CHARTS = {
    "quantiles": lambda: charts.quantile_overlay(
        "x", UNIFORM, {k: v + 5 for k, v in UNIFORM.items()}
    ),
    "dates": lambda: charts.quantile_overlay(
        "when",
        {"p01": "2026-01-01", "p50": "2026-02-01"},
        {"p01": "2026-01-05", "p99": "2026-03-01T12:00:00Z"},
    ),
    "categories": lambda: charts.category_overlay("c", [["a", 3], ["b", 1]], [["a", 2]]),
    "days": lambda: charts.day_histogram_overlay(
        "d",
        {"start": "2026-01-01", "width_days": 1, "counts": [3, 4, 5]},
        {"start": "2026-01-01", "width_days": 1, "counts": [3, 0, 5]},
    ),
    "coverage": lambda: charts.coverage_timeline("day", COVERAGE),
    "counts": lambda: charts.count_bars(
        "rows", [("unchanged", 90, charts.COLOR_MUTED), ("changed", 10, charts.COLOR_B)]
    ),
    "intervals": lambda: charts.interval_chart(
        "effect sizes",
        [{"label": "income", "estimate": 0.3, "low": 0.2, "high": 0.4, "flagged": True}],
        threshold=0.2,
    ),
}


@pytest.mark.parametrize("name", sorted(ALL_CHARTS))
def test_every_chart_is_accessible_scalable_svg(name: str) -> None:
    chart = ALL_CHARTS[name]()
    root = parse(chart)
    assert chart is not None and root.tag == "svg"
    assert root.get("role") == "img" and root.get("aria-label") == chart.alt and chart.alt
    assert root.get("width") == "100%" and root.get("viewBox", "").startswith("0 0 ")
    assert root[0].tag == "title" and root[0].text
    assert chart.marks > 0 and len(hovers(root, "mark")) == chart.marks
    assert "<script" not in chart and "on" + "load" not in chart


def test_density_is_uniform_for_uniform_quantiles() -> None:
    xs, ys = charts.density_steps([(float(k[1:]) / 100, v) for k, v in UNIFORM.items()])
    density = [y for y in ys if y]
    assert xs[0] == 1.0 and xs[-1] == 99.0 and ys[0] == ys[-1] == 0.0
    assert density and max(density) == pytest.approx(min(density)) == pytest.approx(0.01)
    root = parse(charts.quantile_overlay("x", UNIFORM, UNIFORM, label_a="A", label_b="B"))
    areas = hovers(root, "area")
    assert areas == [
        f"{side}: p01 1 · p05 5 · p25 25 · p50 50 · p75 75 · p95 95 · p99 99" for side in "AB"
    ]
    assert hovers(root, "median") == ["A median (p50): 50", "B median (p50): 50"]


def test_coverage_timeline_cuts_the_lane_at_gaps() -> None:
    root = parse(charts.coverage_timeline("day", COVERAGE))
    assert hovers(root, "span") == [
        "A has rows: 2026-01-01 … 2026-01-10",
        "B has rows: 2026-01-01 … 2026-01-03",
        "B has rows: 2026-01-06 … 2026-01-10",
    ]
    (gap,) = [el for el in root.iter("rect") if "gap" in (el.get("class") or "")]
    assert "new" in str(gap.get("class")) and gap.get("fill") == charts.COLOR_BAD
    assert (
        gap.findtext("title") == "B has no rows: 2026-01-04 … 2026-01-05 (2 days), a gap new in B"
    )
    spans = [el for el in root.iter("rect") if "span" in (el.get("class") or "")]
    before_end = float(spans[1].get("x", 0)) + float(spans[1].get("width", 0))
    assert before_end == pytest.approx(float(gap.get("x", 0)), abs=0.2)
    assert float(gap.get("x", 0)) + float(gap.get("width", 0)) == pytest.approx(
        float(spans[2].get("x", 0)), abs=0.2
    )


def test_days_without_rows_in_b_are_one_band() -> None:
    chart = charts.day_histogram_overlay(
        "d",
        {"start": "2026-01-01", "width_days": 1, "counts": [3, 4, 5, 6, 2]},
        {"start": "2026-01-01", "width_days": 1, "counts": [3, 0, 0, 6, 0]},
    )
    root = parse(chart)
    assert hovers(root, "gap") == [
        "no rows in B: 2026-01-02 … 2026-01-03 (2 days)",
        "no rows in B: 2026-01-05 … 2026-01-05 (1 days)",
    ]
    assert hovers(root, "hit")[1] == "2026-01-02: A 4 · B 0 rows"
    assert len(hovers(root, "hit")) == 5


def test_chart_text_is_escaped() -> None:
    """User text (column names, values, labels) reaches the markup as text only."""
    column, value, label = (
        '<a href="https://example.com">x</a>',
        "<b>v</b> & 'q'",
        "B: </svg><script>",
    )
    chart = charts.category_overlay(column, [[value, 3]], [[value, 4]], label_b=label)
    assert chart is not None
    assert "<a href" not in chart and "<b>" not in chart and "</svg><script>" not in chart
    root = parse(chart)
    assert not [el for el in root.iter() if el.tag in ("a", "b", "script")]
    assert root.get("aria-label") == f"most frequent values of {column} in A and {label}"
    assert root.findtext("title") == f"{column}: most frequent values"
    assert f"{label} · {value}: 4 rows" in hovers(root, "bar")
    assert svg.esc("\x00<&>\"'") == "&lt;&amp;&gt;&quot;&#39;"


def test_top_values_bars_are_shares_of_rows() -> None:
    root = parse(
        charts.category_overlay("c", [["a", 30], ["b", 10]], [["b", 25]], rows_a=40, rows_b=100)
    )
    assert hovers(root, "bar") == [
        "A · a: 75.0% of rows (30 of 40)",
        "B · a: not among its most frequent values",
        "A · b: 25.0% of rows (10 of 40)",
        "B · b: 25.0% of rows (25 of 100)",
    ]


def test_interval_chart_marks_flagged_estimates_and_the_threshold() -> None:
    rows = [
        {"label": "income", "estimate": 0.31, "low": 0.2, "high": 0.42, "flagged": True},
        {"label": "age", "estimate": -0.05, "low": -0.1, "high": 0.0, "flagged": False},
        {"label": "broken", "estimate": "nan"},
    ]
    chart = charts.interval_chart("effect sizes", rows, threshold=0.2)
    root = parse(chart)
    assert chart is not None and chart.marks == 2
    assert hovers(root, "point") == [
        "income: 0.31 [0.2, 0.42] — beyond the threshold",
        "age: -0.05 [-0.1, 0]",
    ]
    assert [el.tag for el in root.iter() if "point" in (el.get("class") or "")] == [
        "rect",
        "circle",
    ]
    thresholds = [
        el for el in root.iter("line") if el.findtext("title", "").startswith("threshold")
    ]
    assert [el.findtext("title") for el in thresholds] == ["threshold 0.2", "threshold -0.2"]
    assert charts.interval_chart("none", [{"label": "x", "estimate": None}]) is None


def test_no_density_for_a_flag_column() -> None:
    """A 0/1 column's quantiles are point masses: its top values tell, not a density."""
    flags = {"p01": 0, "p05": 0, "p25": 1, "p50": 1, "p75": 1, "p95": 1, "p99": 1}
    assert charts.quantile_overlay("approved", flags, flags) is None


def test_ticks_are_round_and_labelled() -> None:
    assert svg.linear_ticks(0, 3796) == ([0.0, 1000.0, 2000.0, 3000.0, 4000.0], 1000.0)
    ticks, step = svg.linear_ticks(0, 0.49)
    assert [svg.tick_label(t, step, percent=True) for t in ticks] == [
        "0%",
        "10%",
        "20%",
        "30%",
        "40%",
        "50%",
    ]
    ticks, step = svg.linear_ticks(0, 2_400_000)
    assert [svg.tick_label(t, step, top=ticks[-1]) for t in ticks][-1] == "2.5M"
    months = svg.time_ticks(dt.datetime(2026, 1, 1), dt.datetime(2026, 4, 1))
    assert [label for _, label in months] == ["Jan 2026", "Feb 2026", "Mar 2026", "Apr 2026"]
    week = svg.time_ticks(dt.datetime(2026, 1, 1), dt.datetime(2026, 1, 8), count=4)
    assert [label for _, label in week] == ["Jan 01 2026", "Jan 03", "Jan 05", "Jan 07"]
