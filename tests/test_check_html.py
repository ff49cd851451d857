"""The HTML report of ``runstate check`` in a real headless browser."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from conftest import runstate_cli
from runstate.store.releases import create_release
from runstate.store.store import Store
from test_check_runs import N, frame, record


def test_check_report_opens_expands_and_links_to_the_diff(
    project: Path, store: Store, browser_page: Any
) -> None:
    base = record(frame(0))
    create_release(Store.open(), "base", base)
    df = frame(1, income=lambda d: d["income"] + 5)
    df["segment"] = np.where(np.arange(N) % 10 == 0, "a", df["segment"])
    df = df[(df["day"].dt.day < 10) | (df["day"].dt.day > 14)]
    run_id = record(pd.DataFrame(df), seed=8)
    done = runstate_cli("check", run_id, "--against", "base@v1", "--html", "check.html",
                        cwd=project)  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert (project / "check.html").exists() and (project / "check.diff.html").exists()
    html = (project / "check.html").read_text()
    assert "<svg" in html and "Hedges" in html
    browser_page.open(project / "check.html")
    page = browser_page.page
    assert "Failed." in page.inner_text("#verdict")
    links = page.eval_on_selector_all("#problems a", "els => els.map(e => e.getAttribute('href'))")
    assert any(href.startswith("check.diff.html#") for href in links), links
    section = page.locator("details.section", has_text="input customers").first
    assert section.get_attribute("open") is not None  # failing tables open by default
    state = page.locator("details#state")
    assert state.get_attribute("open") is None
    state.locator("summary").click()
    assert state.get_attribute("open") is not None
    assert page.locator("details.section svg").count() >= 3  # effects, overlays, coverage
    browser_page.open(project / "check.diff.html")
    assert page.locator("#verdict").count() == 1
    browser_page.assert_clean()
