"""``runstate.diff`` on real runs recorded through the Python API, in a real store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import runstate
from runstate.compare.state import StateDiff
from runstate.errors import AmbiguousReference, RunNotFound
from runstate.store.releases import create_release, set_alias
from runstate.store.store import Store
from schemas import validate

CUSTOMERS = "id,income,segment,day\n" + "".join(
    f"{i},{1000 + 10 * i},{'a' if i % 2 else 'b'},2024-01-{1 + i % 28:02d}\n" for i in range(1, 41)
)


def _score(store: Store, *, threshold: float = 0.5, name: str = "score", fail: bool = False,
           retention: str = "full", fmt: str = "csv") -> str:  # fmt: skip
    """A scoring job: reads customers (keyed), writes predictions (keyed) and a metric."""
    with runstate.run(name, params={"threshold": threshold, "model": {"depth": 3}}, seed=7) as run:
        path = "customers.csv" if fmt == "csv" else "customers.parquet"
        with run.step("load"):
            customers = run.read_table("customers", path, key="id", retention=retention)
        with run.step("features"):
            scores = (customers["income"] - 1000) / 400.0
        if fail:
            raise RuntimeError("scoring service unavailable")
        with run.step("predict"):
            preds = pd.DataFrame(
                {"id": customers["id"], "score": scores, "approved": scores >= threshold}
            )
            run.output("predictions", preds, key="id", retention=retention)
        run.metric("approval_rate", float(preds["approved"].mean()))
    return run.id


def _write_customers(project: Path, text: str = CUSTOMERS, fmt: str = "csv") -> None:
    if fmt == "csv":
        (project / "customers.csv").write_text(text)
    else:
        import io

        pd.read_csv(io.StringIO(text)).to_parquet(project / "customers.parquet")


def _checked(diff: StateDiff) -> dict[str, Any]:
    document = diff.to_dict()
    validate(document)
    assert StateDiff.from_dict(document).to_dict() == document
    return document


def test_identical_runs_are_falsy(project: Path, store: Store) -> None:
    _write_customers(project)
    a = _score(store)
    b = _score(store)
    diff = runstate.diff(a, b, store=store)
    document = _checked(diff)
    assert not diff and diff.identical and document["identical"] is True
    assert diff.changed == [] and document["summary"]["changed"] == 0
    assert {"config", "env", "code", "seeds", "data:customers", "output:predictions"} <= set(
        document["components"]
    )
    assert document["summary"]["text"].startswith("identical")


def test_config_change_flips_predictions_and_moves_the_metric(project: Path, store: Store) -> None:
    _write_customers(project)
    a = _score(store, threshold=0.5)
    b = _score(store, threshold=0.6)
    diff = runstate.diff(a, b, store=store)
    document = _checked(diff)
    assert diff and not document["identical"]
    assert diff.changed == ["config", "output:predictions", "metrics", "steps"]
    assert diff["config"].details["params"] == [
        {"key": "threshold", "change": "changed", "old": 0.5, "new": 0.6}
    ]
    preds = document["components"]["output:predictions"]
    # scores are (i * 10) / 400: ids 20..23 are approved at 0.5 and not at 0.6.
    assert preds["rows"]["changed"] == 4 and preds["rows"]["added"] == 0
    assert preds["cells"]["available"] is True
    assert preds["cells"]["changed_columns"] == {"approved": 4}
    flipped = {s["key"]["id"]: s["changes"] for s in preds["cells"]["samples"]}
    assert flipped == {i: {"approved": [True, False]} for i in (20, 21, 22, 23)}
    metric = document["components"]["metrics"]["metrics"][0]
    assert metric["key"] == "approval_rate" and metric["change"] == "changed"
    assert metric["delta"] == pytest.approx(-4 / 40)
    steps = document["components"]["steps"]
    assert steps["first_divergence"]["name"] == "predict"
    assert document["components"]["data:customers"]["changed"] is False


def test_data_change_rows_cells_profile_and_gaps(project: Path, store: Store) -> None:
    _write_customers(project)
    a = _score(store)
    lines = CUSTOMERS.splitlines()
    lines[3] = "3,9999,a,2024-01-04"  # a changed income
    del lines[5]  # id 5 removed
    edited = [ln for ln in lines if not ln.endswith(("-01-10", "-01-11"))]  # a gap appears
    edited.append("41,2000,c,2024-01-02")  # added
    _write_customers(project, "\n".join(edited) + "\n")
    b = _score(store)
    diff = runstate.diff(a, b, store=store)
    document = _checked(diff)
    data = document["components"]["data:customers"]
    rows = data["rows"]
    assert rows["key"] == ["id"] and rows["added"] == 1 and rows["changed"] == 1
    assert rows["removed"] == 1 + 4  # id 5, and ids 9, 10, 37, 38 (days 10 and 11)
    assert rows["samples"]["added"] == [{"id": 41}]
    assert data["cells"]["samples"] == [{"key": {"id": 3}, "changes": {"income": [1030, 9999]}}]
    shifted = {s["column"]: {c["key"] for c in s["changes"]} for s in data["profile"]}
    assert "mean" in shifted["income"] and "max" in shifted["income"]
    assert "distinct" in shifted["segment"] or "top_values" in shifted["segment"]
    gaps = {c["column"]: c["new_gaps"] for c in data["coverage"]}
    assert gaps["day"] and gaps["day"][0]["from"] == "2024-01-10"
    assert "data:customers" in diff.changed and "config" not in diff.changed


def test_parquet_input_kept_as_fingerprints_only(project: Path, store: Store) -> None:
    _write_customers(project, fmt="parquet")
    a = _score(store, retention="fingerprint", fmt="parquet")
    _write_customers(project, CUSTOMERS.replace("7,1070,", "7,1075,"), fmt="parquet")
    b = _score(store, retention="fingerprint", fmt="parquet")
    diff = runstate.diff(a, b, store=store)
    document = _checked(diff)
    data = document["components"]["data:customers"]
    assert data["retention"] == {"old": "fingerprint", "new": "fingerprint"}
    assert data["rows"]["changed"] == 1 and data["rows"]["samples"]["changed"] == [{"id": 7}]
    assert data["cells"]["available"] is False
    assert "fingerprints only" in data["cells"]["reason"]
    assert any("cell-level changes unavailable" in w for w in document["warnings"])


def test_failed_run_diffs_what_exists(project: Path, store: Store) -> None:
    _write_customers(project)
    a = _score(store)
    with pytest.raises(RuntimeError):
        _score(store, fail=True)
    diff = runstate.diff(a, "latest", store=store)
    document = _checked(diff)
    assert document["b"]["status"] == "failed"
    assert any("run B failed" in w and "scoring service unavailable" in w for w in diff.warnings)
    preds = document["components"]["output:predictions"]
    assert preds["status"] == "removed"
    assert preds["missing"] == "run B failed before recording output:predictions"
    assert preds["missing"] in document["missing"]
    assert document["components"]["data:customers"]["changed"] is False


def test_folder_and_model_inputs(project: Path, store: Store) -> None:
    (project / "docs").mkdir()
    (project / "docs" / "a.txt").write_text("a")
    (project / "docs" / "b.txt").write_text("b")
    (project / "model.bin").write_bytes(b"weights-1")

    def job() -> str:
        with runstate.run("folders") as run:
            run.input("docs", "docs")
            run.input("model", "model.bin", role="model")
        return run.id

    a = job()
    (project / "docs" / "b.txt").write_text("B")
    (project / "docs" / "c.txt").write_text("c")
    (project / "docs" / "a.txt").unlink()
    (project / "model.bin").write_bytes(b"weights-2")
    b = job()
    document = _checked(runstate.diff(a, b, store=store))
    files = document["components"]["data:docs"]["files"]
    assert [f["path"] for f in files["added"]] == ["c.txt"]
    assert [f["path"] for f in files["removed"]] == ["a.txt"]
    assert [f["path"] for f in files["changed"]] == ["b.txt"]
    model = document["components"]["model:model"]
    assert model["changed"] and model["entry_kind"] == "file"


def test_baseline_is_production_else_the_previous_run(project: Path, store: Store) -> None:
    _write_customers(project)
    first = _score(store, threshold=0.5)
    second = _score(store, threshold=0.6)
    third = _score(store, threshold=0.7)
    previous = runstate.diff(third, store=store)
    assert (previous.a["id"], previous.b["id"]) == (second, third)
    create_release(store, "scoring", first)
    set_alias(store, "production", "scoring@v1")
    against = runstate.diff("latest", store=store)
    assert (against.a["id"], against.b["id"]) == (first, third)
    assert against.a["release"] == "scoring@v1"
    params = against["config"].details["params"]
    assert params == [{"key": "threshold", "change": "changed", "old": 0.5, "new": 0.7}]
    release_vs_run = runstate.diff("scoring@v1", "latest~1", store=store)
    assert (release_vs_run.a["id"], release_vs_run.b["id"]) == (first, second)
    assert release_vs_run.a["release"] == "scoring@v1" and release_vs_run.b["release"] is None
    _checked(release_vs_run)


def test_different_names_warn_and_bad_references_fail(project: Path, store: Store) -> None:
    _write_customers(project)
    a = _score(store, name="score")
    b = _score(store, name="score-v2")
    diff = runstate.diff(a, b, store=store)
    assert "comparing runs of different names: 'score' and 'score-v2'" in diff.warnings
    _checked(diff)
    with pytest.raises(RunNotFound):
        runstate.diff("ffffffff", b, store=store)
    with pytest.raises(RunNotFound, match="nothing to compare with"):
        runstate.diff(a, store=store)  # the first 'score' run: no baseline
    common = next(n for n in range(len(a), 3, -1) if a[:n] == b[:n]) if a[:4] == b[:4] else 0
    if common >= 4:  # UUIDv7 runs started close together share their time prefix
        with pytest.raises(AmbiguousReference, match="matches several runs"):
            runstate.diff(a[:common], b, store=store)


def test_limit_caps_samples(project: Path, store: Store) -> None:
    _write_customers(project)
    a = _score(store, threshold=0.5)
    b = _score(store, threshold=0.9)  # ids 20..35 flip: 16 changed rows
    capped = runstate.diff(a, b, store=store, limit=3).to_dict()
    preds = capped["components"]["output:predictions"]
    assert preds["rows"]["changed"] == 16
    assert len(preds["rows"]["samples"]["changed"]) == 3 and len(preds["cells"]["samples"]) == 3
    assert preds["cells"]["changed_columns"] == {"approved": 16}  # counts are never capped
    everything = runstate.diff(a, b, store=store, limit=None).to_dict()
    assert len(everything["components"]["output:predictions"]["cells"]["samples"]) == 16
    assert everything["limit"] is None
    validate(everything)


def test_schema_change_and_duplicate_keys_introduced(project: Path, store: Store) -> None:
    (project / "t.csv").write_text("id,x\n1,a\n2,b\n3,c\n")

    def job() -> str:
        with runstate.run("dups") as run:
            run.read_table("t", "t.csv", key="id")
        return run.id

    a = job()
    (project / "t.csv").write_text("id,x,y\n1,a,0\n2,b,0\n2,b2,1\n3,c,0\n")
    b = job()
    document = _checked(runstate.diff(a, b, store=store))
    table = document["components"]["data:t"]
    assert [c["name"] for c in table["schema_changes"]["added"]] == ["y"]
    assert table["rows"]["duplicate_keys_b"] == 1 and table["rows"]["duplicates_introduced"] == 1
