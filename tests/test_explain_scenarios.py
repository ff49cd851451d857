"""``runstate explain``: small real pipelines run twice with real changes in between.

Each scenario records run A, changes the world (an input, a param, a code file, a seed),
records run B, and explains A -> B by replaying hybrid states. The true cause must rank
first, the other changes must be listed as harmless, and the per-row counts must equal the
numbers computed here independently from the data.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import random
from pathlib import Path
from typing import Any

import pytest

from replayhelp import records, run_cli, run_script, write
from runstate.explain import ExplainOptions, explain
from runstate.store.store import Store
from schemas import validate

ROWS = 2000

SCORE = """\
import runstate
from prep import clean

PARAMS = {"threshold": 100, "min_age": 18, "label": "v1", "bonus_rate": 0.0}

with runstate.run("scoring", params=PARAMS, seed=7) as run:
    df = run.read_table("customers", "data/customers.csv", key="customer_id")
    vip = run.read_table("vip", "data/vip.csv", key="customer_id")
    df = clean(df)
    df = df[df["age"] >= run.params["min_age"]]
    is_vip = df["customer_id"].isin(set(vip["customer_id"])).astype(float)
    boosted = df["income_k"] * (1 + run.params["bonus_rate"] * is_vip)
    df["approved"] = boosted >= run.params["threshold"]
    run.output("predictions", df[["customer_id", "income_k", "approved"]], key="customer_id")
    run.metric("approval_rate", float(df["approved"].mean()))
"""

PREP = """\
def clean(df):
    df = df.copy()
    df["income_k"] = df["income"] / 1000
    return df
"""


def customers(n: int = ROWS) -> list[dict[str, Any]]:
    r = random.Random(1)
    return [
        {
            "customer_id": i,
            "age": r.randint(18, 80),
            "income": r.randint(10, 200) * 1000,
            "region": r.choice(["EU", "US", "APAC"]),
        }
        for i in range(n)
    ]


def write_csv(path: Path, rows: list[dict[str, Any]], header: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)


def scoring_project(project: Path) -> list[dict[str, Any]]:
    rows = customers()
    write_csv(project / "data" / "customers.csv", rows, ["customer_id", "age", "income", "region"])
    write_csv(project / "data" / "vip.csv", [{"customer_id": -1}], ["customer_id"])  # none
    write(project / "prep.py", PREP)
    write(project / "score.py", SCORE)
    run_script(project, "score.py")
    return rows


def set_param(project: Path, script: str, old: str, new: str) -> None:
    path = project / script
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new))


def explain_latest(project: Path, **options: Any) -> dict[str, Any]:
    runs = [r for r in records(project) if not r.get("parent_id")]  # not the replays
    b, a = runs[0]["id"], runs[1]["id"]
    store = Store.open(project)
    try:
        document = explain(store, a, b, ExplainOptions(parallel=2, **options))
    finally:
        store.close()
    validate(document)
    return document


def first_cause(doc: dict[str, Any]) -> dict[str, Any]:
    assert doc["causes"], doc["statement"]
    cause: dict[str, Any] = doc["causes"][0]
    return cause


def harmless(doc: dict[str, Any]) -> set[str]:
    return {item["name"] for item in doc["harmless"]}


def test_a_input_rows_excluded_upstream_are_the_cause_and_traced(project: Path) -> None:
    rows = scoring_project(project)
    dropped = [r for r in rows if r["region"] == "APAC" and r["customer_id"] % 3 == 0]
    kept = [r for r in rows if r not in dropped]
    write_csv(project / "data" / "customers.csv", kept, list(rows[0]))
    set_param(project, "score.py", '"label": "v1"', '"label": "v2"')
    run_script(project, "score.py")

    doc = explain_latest(project)

    cause = first_cause(doc)
    assert cause["name"] == "data:customers"
    assert cause["share"] == pytest.approx(1.0)
    assert harmless(doc) == {"config:label", "code:score.py"}
    assert cause["rows"] == {"predictions": len(dropped)}  # every age passes min_age 18
    assert doc["rows"] == [
        {
            "output": "predictions",
            "changed": len(dropped),
            "by_factor": {"data:customers": len(dropped)},
            "together": {},
            "unexplained": 0,
            "noise": 0,
        }
    ]
    (trace,) = cause["evidence"]["traces"]
    assert trace["input"] == "customers"
    assert trace["output_keys_traced"] == len(dropped)
    assert trace["input_rows_vanished"] == len(dropped)
    assert {s["customer_id"] for s in trace["sample"]} <= {r["customer_id"] for r in dropped}
    assert doc["status"] == "explained" and doc["explained"]
    assert str(len(dropped)) in cause["statement"] and "data:customers" in cause["statement"]


def test_b_row_filter_in_config_is_the_cause(project: Path) -> None:
    rows = scoring_project(project)
    set_param(project, "score.py", '"min_age": 18', '"min_age": 30')
    write(project / "prep.py", "# cleaning rules, reviewed\n" + PREP)  # a harmless edit
    run_script(project, "score.py")

    doc = explain_latest(project)

    expected = sum(1 for r in rows if r["age"] < 30)
    cause = first_cause(doc)
    assert cause["name"] == "config:min_age"
    assert cause["rows"] == {"predictions": expected}
    assert harmless(doc) == {"code:prep.py", "code:score.py"}
    assert doc["rows"][0]["changed"] == expected and doc["rows"][0]["unexplained"] == 0
    assert len(doc["causes"]) == 1


POLICY_JOB = """\
import runstate

PARAMS = {"label": "v1"}

with runstate.run("scoring", params=PARAMS, seed=1, principal="svc", purpose="scoring") as run:
    df = run.read_table("customers", "data/customers.csv", key="customer_id")
    df["approved"] = df["income"] >= 100000
    run.output("predictions", df[["customer_id", "approved"]], key="customer_id")
"""

POLICY = """\
version: 1
default: deny
datasets:
  customers:
    readers:
      - principals: [svc]
        purposes: [scoring]
    row_filter: "{row_filter}"
"""


def test_b_an_access_policy_change_is_the_cause_and_traced_to_the_excluded_rows(
    project: Path,
) -> None:
    rows = customers()
    write_csv(project / "data" / "customers.csv", rows, list(rows[0]))
    write(project / "runstate-policy.yaml", POLICY.format(row_filter="age >= 0"))
    write(project / "job.py", POLICY_JOB)
    run_script(project, "job.py")
    write(project / "runstate-policy.yaml", POLICY.format(row_filter="region <> 'APAC'"))
    set_param(project, "job.py", '"label": "v1"', '"label": "v2"')
    run_script(project, "job.py")

    doc = explain_latest(project)

    apac = sum(1 for r in rows if r["region"] == "APAC")
    cause = first_cause(doc)
    assert cause["name"] == "policy"
    assert "data:customers" not in {f["name"] for f in doc["factors"]}  # the policy's doing
    assert cause["rows"] == {"predictions": apac}
    (trace,) = cause["evidence"]["traces"]
    assert trace["input"] == "customers" and trace["input_rows_vanished"] == apac
    assert harmless(doc) == {"config:label", "code:job.py"}
    assert f"0 -> {apac} rows excluded" in " ".join(cause["evidence"]["summary"])
    # The sentence names the changed rule and the share of rows it excludes.
    share = f"{100 * apac / len(rows):.1f}%"
    assert (
        f"rule for dataset `customers` now filters `region <> 'APAC'` (excludes {share} of rows)"
        in cause["statement"]
    )


EVENTS_JOB = """\
import runstate

with runstate.run("daily", params={"currency": "EUR"}, seed=1) as run:
    events = run.read_table("events", "data/events.csv", key="event_id")
    daily = events.groupby("day", as_index=False)["amount"].sum()
    run.output("daily", daily, key="day")
    run.metric("total", float(daily["amount"].sum()))
"""


def test_c_a_missing_day_of_timestamps_is_traced_to_the_input(project: Path) -> None:
    r = random.Random(5)
    start = dt.date(2026, 1, 1)
    events = [
        {
            "event_id": i,
            "day": (start + dt.timedelta(days=r.randrange(14))).isoformat(),
            "amount": r.randint(1, 100),
        }
        for i in range(ROWS)
    ]
    write_csv(project / "data" / "events.csv", events, ["event_id", "day", "amount"])
    write(project / "job.py", EVENTS_JOB)
    run_script(project, "job.py")
    gap = "2026-01-05"
    write_csv(
        project / "data" / "events.csv",
        [e for e in events if e["day"] != gap],
        ["event_id", "day", "amount"],
    )
    set_param(project, "job.py", '"currency": "EUR"', '"currency": "eur"')
    run_script(project, "job.py")

    doc = explain_latest(project)

    cause = first_cause(doc)
    assert cause["name"] == "data:events"
    assert harmless(doc) == {"config:currency", "code:job.py"}
    assert cause["rows"] == {"daily": 1}
    (trace,) = cause["evidence"]["traces"]
    assert trace["columns"] == ["day"] and trace["sample"] == [{"day": gap}]
    assert trace["input_rows_vanished"] == sum(1 for e in events if e["day"] == gap)
    assert doc["metrics"][0]["key"] == "total"
    assert doc["metrics"][0]["delta"] == -sum(e["amount"] for e in events if e["day"] == gap)


def test_d_a_preprocessing_rule_edited_in_code_is_the_cause(project: Path) -> None:
    rows = scoring_project(project)
    write(
        project / "prep.py",
        PREP.replace('df["income"] / 1000', 'df["income"].clip(upper=150000) / 1000'),
    )
    set_param(project, "score.py", '"label": "v1"', '"label": "v2"')
    run_script(project, "score.py")

    doc = explain_latest(project)

    cause = first_cause(doc)
    assert cause["name"] == "code:prep.py"
    assert cause["rows"] == {"predictions": sum(1 for r in rows if r["income"] > 150000)}
    assert harmless(doc) == {"config:label", "code:score.py"}
    assert "clean() modified" in " ".join(cause["evidence"]["summary"])


JOIN_JOB = """\
import runstate

with runstate.run("joined", params={"label": "v1"}, seed=1) as run:
    df = run.read_table("customers", "data/customers.csv", key="customer_id")
    regions = run.read_table("regions", "data/regions.csv")
    out = df.merge(regions, on="region", how="left")
    run.output("labelled", out[["customer_id", "region_name"]], key="customer_id")
"""


def test_e_a_join_that_now_duplicates_keys_is_the_cause(project: Path) -> None:
    rows = customers()
    write_csv(project / "data" / "customers.csv", rows, list(rows[0]))
    regions = [
        {"region": "EU", "region_name": "Europe"},
        {"region": "US", "region_name": "United States"},
        {"region": "APAC", "region_name": "Asia-Pacific"},
    ]
    write_csv(project / "data" / "regions.csv", regions, ["region", "region_name"])
    write(project / "job.py", JOIN_JOB)
    run_script(project, "job.py")
    regions.append({"region": "EU", "region_name": "European Union"})  # a duplicate key
    write_csv(project / "data" / "regions.csv", regions, ["region", "region_name"])
    set_param(project, "job.py", '"label": "v1"', '"label": "v2"')
    run_script(project, "job.py")

    doc = explain_latest(project)

    cause = first_cause(doc)
    assert cause["name"] == "data:regions"
    assert cause["rows"] == {"labelled": sum(1 for r in rows if r["region"] == "EU")}
    assert harmless(doc) == {"config:label", "code:job.py"}


RANDOM_JOB = """\
import numpy as np
import runstate

with runstate.run("noisy", params={"label": "v1"}) as run:
    df = run.read_table("customers", "data/customers.csv", key="customer_id")
    df["score"] = df["income"] / 1000 + np.random.default_rng().normal(size=len(df))
    run.output("scores", df[["customer_id", "score"]], key="customer_id")
    run.metric("customers", len(df))
"""


def test_g_an_unseeded_random_step_is_reported_as_nondeterminism(project: Path) -> None:
    rows = customers()
    write_csv(project / "data" / "customers.csv", rows, list(rows[0]))
    write(project / "job.py", RANDOM_JOB)
    run_script(project, "job.py")
    set_param(project, "job.py", '"label": "v1"', '"label": "v2"')
    run_script(project, "job.py")

    doc = explain_latest(project)

    assert doc["nondeterminism"]["detected"] is True
    assert doc["baseline"] == {"reproduced": False, "mismatch": "nondeterminism"}
    assert doc["nondeterminism"]["noisy_units"] == {"scores": ROWS}
    assert doc["status"] == "no_change" and doc["causes"] == []
    assert harmless(doc) == {"config:label", "code:job.py"}
    assert "nondeterminism" in doc["statement"]


def test_h_several_changes_only_one_matters(project: Path) -> None:
    rows = scoring_project(project)
    set_param(project, "score.py", '"threshold": 100', '"threshold": 120')
    set_param(project, "score.py", '"label": "v1"', '"label": "v2"')
    set_param(project, "score.py", "seed=7", "seed=8")
    write(project / "prep.py", "# reviewed\n" + PREP)
    run_script(project, "score.py")

    doc = explain_latest(project)

    expected = sum(1 for r in rows if 100 <= r["income"] / 1000 < 120)
    cause = first_cause(doc)
    assert cause["name"] == "config:threshold"
    assert cause["rows"] == {"predictions": expected}
    assert cause["share"] == pytest.approx(1.0)
    assert harmless(doc) == {"config:label", "seeds", "code:prep.py", "code:score.py"}
    assert doc["search"]["additive"] is True
    # B's metric is reproduced by the threshold alone
    metric = cause["metrics"]["approval_rate"]
    assert metric["alone"] == pytest.approx(metric["new"])


def test_i_two_changes_that_only_matter_together_are_found_by_ddmin(project: Path) -> None:
    rows = scoring_project(project)
    vip = [r for r in rows if r["customer_id"] % 5 == 0]
    write_csv(
        project / "data" / "vip.csv",
        [{"customer_id": r["customer_id"]} for r in vip],
        ["customer_id"],
    )
    set_param(project, "score.py", '"bonus_rate": 0.0', '"bonus_rate": 0.5')
    set_param(project, "score.py", '"label": "v1"', '"label": "v2"')
    run_script(project, "score.py")

    doc = explain_latest(project)

    expected = sum(1 for r in vip if r["income"] / 1000 < 100 <= r["income"] / 1000 * 1.5)
    top = {c["name"] for c in doc["causes"][:2]}
    assert top == {"config:bonus_rate", "data:vip"}
    assert [c["share"] for c in doc["causes"][:2]] == pytest.approx([0.5, 0.5])
    assert sorted(doc["search"]["minimal_set"]) == ["config:bonus_rate", "data:vip"]
    assert doc["rows"][0]["together"] == {"config:bonus_rate + data:vip": expected} or doc["rows"][
        0
    ]["together"] == {"data:vip + config:bonus_rate": expected}
    assert doc["rows"][0]["by_factor"] == {} and doc["rows"][0]["unexplained"] == 0
    assert harmless(doc) == {"config:label", "code:score.py"}
    assert any(i["kind"] == "together" and i["rows"] == expected for i in doc["interactions"])


def test_cli_json_html_exit_code_and_the_cache_replays_nothing_twice(
    project: Path, browser_page: Any
) -> None:
    rows = scoring_project(project)
    set_param(project, "score.py", '"min_age": 18', '"min_age": 40')
    run_script(project, "score.py")
    runs = [r for r in records(project) if not r.get("parent_id")]
    a, b = runs[1]["id"], runs[0]["id"]

    first = run_cli(project, "explain", a, b, "--json", "--html", "explain.html")
    assert first.returncode == 0, first.stderr
    doc = json.loads(first.stdout)
    validate(doc)
    assert doc["causes"][0]["rows"] == {"predictions": sum(1 for r in rows if r["age"] < 40)}
    assert doc["search"]["replays"] == len(doc["search"]["hybrids"]) == 4  # A, B, 2 singles
    ids = [h["state_id"] for h in doc["search"]["hybrids"]]
    assert len(set(ids)) == len(ids)

    again = run_cli(project, "explain", a, b, "--json")
    assert again.returncode == 0, again.stderr
    second = json.loads(again.stdout)
    assert second["search"]["replays"] == 0
    assert second["search"]["cache_hits"] == 4
    assert second["causes"] == doc["causes"]

    text = run_cli(project, "explain", a, b)
    assert "config:min_age" in text.stdout and "harmless" in text.stdout

    # a budget too small to separate the two factors: they are confounded (exit 1); the
    # two hybrids it needs (A, and both factors switched) are already in the cache
    small = run_cli(project, "explain", a, b, "--json", "--max-replays", "3")
    assert small.returncode == 1, small.stderr
    tight = json.loads(small.stdout)
    validate(tight)
    assert tight["confounded"] == [["config:min_age", "code:score.py"]]
    assert tight["status"] == "partly_explained" and tight["search"]["replays"] == 0

    browser_page.open(project / "explain.html")
    page = browser_page.page
    assert "config:min_age" in page.locator("#cause-1").inner_text()
    assert "Explained." in page.locator("#verdict").inner_text()
    assert "config:label" not in page.locator("#harmless").inner_text()  # not changed here
    assert page.locator("svg").count() == 2  # shares and rows charts
    browser_page.assert_clean()


def test_bad_input_exits_2_with_one_line(project: Path) -> None:
    scoring_project(project)
    result = run_cli(project, "explain", "latest", "nosuchrun")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    result = run_cli(project, "explain", "latest", "latest", "--max-replays", "1")
    assert result.returncode == 2


SIX_JOB = "import six\nopen('out/six_version.txt', 'w').write(six.__version__)\n"


def _six_venv(root: Path, version: str) -> Path:
    import subprocess
    import sys

    from runstate.replay.env import find_uv

    uv = find_uv()
    path = root / f"six-{version}"
    subprocess.run([*uv, "venv", "--quiet", "--python", sys.executable, str(path)], check=True)
    subprocess.run(
        [
            *uv,
            "pip",
            "install",
            "--quiet",
            "--python",
            str(path / "bin" / "python"),
            f"six=={version}",
        ],
        check=True,
    )
    return path


@pytest.mark.slow
def test_f_a_package_version_change_is_the_cause_with_exact_environments(
    project: Path, tmp_path: Path
) -> None:
    old, new = _six_venv(tmp_path, "1.16.0"), _six_venv(tmp_path, "1.15.0")
    write(project / "job.py", SIX_JOB)
    (project / "out").mkdir()
    for venv, label in ((old, "v1"), (new, "v2")):
        argv = ["run", "--param", f"label={label}", "--", str(venv / "bin" / "python"), "job.py"]
        done = run_cli(project, *argv)
        assert done.returncode == 0, done.stderr

    current = explain_latest(project)  # --env current: the package cannot be switched
    assert [u["name"] for u in current["untestable"]] == ["env:package:six"]
    assert current["status"] == "partly_explained"
    # A's replay gives this interpreter's six, twice: the environment, not nondeterminism
    assert current["baseline"] == {"reproduced": False, "mismatch": "environment"}
    assert current["nondeterminism"]["detected"] is False
    assert "--env exact" in current["statement"]

    doc = explain_latest(project, env="exact")

    cause = first_cause(doc)
    assert cause["name"] == "env:package:six"
    assert cause["rows"] == {"out/six_version.txt": 1}
    assert harmless(doc) == {"config:label"}
    assert doc["status"] == "explained"
