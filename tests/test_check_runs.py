"""``runstate check`` on real runs recorded through the API and real releases in a real store."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import runstate
from conftest import runstate_cli
from runstate.monitor.engine import check_run
from runstate.monitor.result import CheckResult
from runstate.store.releases import create_release, set_alias
from runstate.store.store import Store
from schemas import validate

N = 4000


def frame(seed: int = 0, n: int = N, **changes: Callable[[pd.DataFrame], Any]) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "id": np.arange(n),
            "order_id": np.arange(n) + 10_000,
            "income": rng.normal(50, 10, n),
            "age": rng.integers(18, 90, n),
            "segment": rng.choice(["a", "b", "c", "d"], n, p=[0.4, 0.3, 0.2, 0.1]),
            "day": pd.Timestamp("2024-01-01", tz="UTC")
            + pd.to_timedelta(np.arange(n) % 30, unit="D"),
        }
    )
    for column, change in changes.items():
        if column.startswith("drop_"):
            df = df.drop(columns=[column[5:]])
        else:
            df[column] = change(df)
    return df


def record(df: pd.DataFrame, *, seed: int = 7, retention: str = "full") -> str:
    df.to_parquet("customers.parquet")
    with runstate.run("score", seed=seed) as run:
        table = run.read_table("customers", "customers.parquet", key="id", retention=retention)
        run.output("predictions", pd.DataFrame({"id": table["id"], "p": table["income"] / 100}))
    return run.id


def checked(store: Store, run_id: str, against: str = "base@v1", **kw: Any) -> CheckResult:
    fresh = Store.open(store.project_root)  # sees the runs recorded since ``store`` was opened
    try:
        result = check_run(fresh, run_id, against, **kw)
    finally:
        fresh.close()
    document = result.to_dict()
    validate(document)
    json.dumps(document, allow_nan=False)
    assert CheckResult.from_dict(document).to_dict() == document
    return result


def status(result: CheckResult, check: str, column: str | None = None) -> str:
    found = [i for i in result.items if i.check == check and (column is None or i.column == column)
             and (i.table or "").startswith("input")]  # fmt: skip
    if not found:
        found = [i for i in result.items if i.check == check and i.column == column]
    assert found, f"no {check} item for {column}"
    return found[0].status


@pytest.fixture
def base(project: Path, store: Store) -> str:
    run_id = record(frame(0))
    create_release(Store.open(project), "base", run_id)
    return run_id


def test_unshifted_run_passes_and_every_table_gets_a_sample(store: Store, base: str) -> None:
    result = checked(store, record(frame(1)))
    assert result.passed and result.exit_code == 0
    kinds = {i.kind for i in result.items}
    assert kinds == {"schema", "quality", "drift", "state"}
    drift = [i for i in result.items if i.kind == "drift"]
    assert {i.column for i in drift} >= {"income", "age", "segment"}
    assert all(i.status == "pass" for i in drift)
    record_doc = Store.open().load_record(Store.open().metadata.run(base)["record_id"])
    entry = record_doc["inputs"][0]
    assert entry["sample_id"] and store.objects.has(entry["sample_id"])


def test_drift_is_flagged_with_an_interval_beyond_the_threshold(store: Store, base: str) -> None:
    shifted = frame(2, income=lambda d: d["income"] + 5)  # 0.5 sd
    shifted["segment"] = np.where(np.arange(N) % 10 == 0, "a", shifted["segment"])
    result = checked(store, record(shifted))
    assert not result.passed and result.exit_code == 1
    mean = next(i for i in result.items if i.check == "mean_shift" and i.column == "income"
                and i.table == "input customers")  # fmt: skip
    assert mean.status == "fail"
    low, high = mean.details["ci"]
    assert 0.1 < low < mean.details["effect"] < high
    assert mean.details["q_value"] <= 0.05 and mean.details["psi"] > 0
    assert mean.details["wasserstein_norm"] > 0.3
    share = next(i for i in result.items if i.check == "share_change" and i.column == "segment")
    assert share.status == "fail" and share.details["category"] == "a"
    assert status(result, "mean_shift", "age") == "pass"


def test_fingerprint_retention_tables_are_checked_from_their_samples(
    project: Path, store: Store
) -> None:
    create_release(Store.open(), "base", record(frame(0), retention="fingerprint"))
    run = record(frame(3, income=lambda d: d["income"] * 1.5), retention="fingerprint")
    result = checked(store, run)
    assert status(result, "shape", "income") == "fail"


def test_schema_changes(store: Store, base: str) -> None:
    changed = frame(1, drop_age=lambda d: None, extra=lambda d: 1.0,
                    order_id=lambda d: d["order_id"].astype(str))  # fmt: skip
    result = checked(store, record(changed))
    assert status(result, "dropped") == "fail"
    assert status(result, "added") == "warn"
    assert status(result, "retyped") == "fail"
    dropped = next(i for i in result.items if i.check == "dropped" and i.table == "input customers")
    assert dropped.details["columns"] == ["age"]


def test_quality_checks(store: Store, base: str) -> None:
    df = frame(1)
    df.loc[: N // 5, "income"] = np.nan  # null rate 0 -> 20%
    df["age"] = np.where(np.arange(N) % 20 == 0, 150, df["age"])  # 5% outside [18, 89]
    df["segment"] = np.where(np.arange(N) % 25 == 0, "zz", df["segment"])  # 4% new
    df["order_id"] = df["order_id"] // 2  # unique in the release, now repeats
    df = df[(df["day"].dt.day < 10) | (df["day"].dt.day > 14)]  # 5 days without rows
    result = checked(store, record(df))
    assert status(result, "null_rate", "income") == "fail"
    assert status(result, "range", "age") == "warn"
    cats = next(i for i in result.items if i.check == "categories" and i.column == "segment"
                and i.table == "input customers")  # fmt: skip
    assert cats.status == "warn" and cats.details["new_values"] == ["zz"]
    assert status(result, "fan_out", "order_id") == "fail"
    gaps = next(i for i in result.items if i.check == "coverage_gaps")
    assert gaps.status == "fail" and gaps.details["new_gap_days"] == 5
    assert gaps.details["new_gaps"] == [{"from": "2024-01-10", "to": "2024-01-14", "days": 5}]
    assert status(result, "row_count") == "pass"


def test_duplicate_keys_row_count_and_freshness(store: Store, base: str) -> None:
    df = pd.concat([frame(1, n=800), frame(1, n=800)])  # every key twice, 40% of the rows
    df = df[df["day"].dt.day <= 20]  # newest day 10 days older than the release's
    result = checked(store, record(df))
    assert status(result, "duplicate_keys") == "fail"
    assert status(result, "row_count") == "fail"
    fresh = next(i for i in result.items if i.check == "freshness")
    assert fresh.status == "warn"  # newest day is now older than the release's, + 1 day
    assert fresh.details["limit_days"] < fresh.details["age_days"]


def test_empty_current_table_fails_row_count_without_crashing(store: Store, base: str) -> None:
    result = checked(store, record(frame(1).iloc[:0]))
    row_count = next(
        i for i in result.items if i.check == "row_count" and i.table == "input customers"
    )
    assert row_count.status == "fail" and "empty" in row_count.message
    assert any("sample" in note for note in result.notes)


def test_state_checks_warn_by_default_and_fail_when_configured(store: Store, base: str) -> None:
    run_id = record(frame(1), seed=8)
    result = checked(store, run_id)
    assert status(result, "seeds") == "warn" and result.passed
    create_release(Store.open(), "strict", base, checks={"state": {"seeds": "fail"}})
    set_alias(Store.open(), "production", "strict@v1")
    strict = checked(store, run_id, against="production")
    assert strict.settings_source == "release" and status(strict, "seeds") == "fail"
    assert not strict.passed


def test_missing_table_and_table_without_baseline(project: Path, store: Store, base: str) -> None:
    with runstate.run("score", seed=7) as run:
        run.output("other", pd.DataFrame({"x": [1, 2, 3]}))
    result = checked(store, run.id)
    assert status(result, "missing_table") == "fail"
    assert any("not in the release" in note for note in result.notes)


def test_cli_check_release_checks_yaml_and_gc(project: Path, store: Store) -> None:
    a = record(frame(0))
    b = record(frame(1, income=lambda d: d["income"] + 4))
    (project / "checks.yaml").write_text("drift:\n  mean_shift: 0.5\n  shape: 0.5\n")
    (project / "bad.yaml").write_text("drift:\n  mean_shfit: 0.5\n")
    (project / "impossible.yaml").write_text("quality:\n  null_rate: {max_increase: 2}\n")
    bad = runstate_cli("release", "create", "base", "--run", a, "--checks", "bad.yaml",
                       cwd=project)  # fmt: skip
    assert bad.returncode == 2 and "drift.mean_shfit" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
    impossible = runstate_cli("check", b, "--against", "base", "--checks", "impossible.yaml",
                              cwd=project)  # fmt: skip
    assert impossible.returncode == 2 and "quality.null_rate.max_increase" in impossible.stderr
    made = runstate_cli("release", "create", "base", "--run", a, cwd=project)
    assert made.returncode == 0, made.stderr
    failed = runstate_cli("check", b, "--against", "base@v1", cwd=project)
    assert failed.returncode == 1
    assert failed.stdout.splitlines()[0].startswith("FAILED")
    assert "failed" in failed.stdout.splitlines()[1]
    assert "drift.mean_shift" in failed.stdout
    made = runstate_cli("release", "create", "base", "--run", a, "--checks", "checks.yaml",
                        cwd=project)  # fmt: skip
    assert made.returncode == 0, made.stderr
    passed = runstate_cli("check", b, "--against", "base", "--json", cwd=project)
    assert passed.returncode == 0, passed.stderr
    document = json.loads(passed.stdout)
    validate(document)
    assert document["settings_source"] == "release"
    assert document["settings"]["drift"]["mean_shift"] == 0.5
    manifest = json.loads(runstate_cli("release", "show", "base@v2", "--json", cwd=project).stdout)
    validate(manifest["manifest"])
    assert store.load_json(manifest["manifest"]["checks"])["drift"]["shape"] == 0.5
    assert runstate_cli("gc", cwd=project).returncode == 0
    verified = runstate_cli("verify", cwd=project)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    sample_id = Store.open().load_record(Store.open().metadata.run(a)["record_id"])["inputs"][0][
        "sample_id"
    ]
    assert store.objects.has(sample_id)
    again = runstate_cli("check", b, "--against", "base", "--json", cwd=project)
    assert json.loads(again.stdout)["checks"] == document["checks"]  # reproducible
    missing = runstate_cli("check", b, "--against", "nope@v1", cwd=project)
    assert missing.returncode == 2 or missing.returncode == 1
    assert missing.stderr.startswith("runstate: error:")
