"""Diff, explain and replay of a policy change, on real runs recorded through the API under
store-applied policy versions (v1, then v2 excluding the EU customers)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import runstate
from conftest import runstate_cli
from runstate.policy.versions import apply_policy
from runstate.store.store import Store
from schemas import validate

V1 = """\
version: 1
default: deny
datasets:
  customers:
    readers:
      - principals: [svc-scoring]
        purposes: [scoring]
    row_filter: "score >= 10"
"""
V2 = V1.replace('"score >= 10"', "\"score >= 10 AND region <> 'EU'\"")
N = 1000  # more than the inline fingerprint limit: the excluded keys go to an object


def _customers() -> pa.Table:
    regions = ["EU", "US", "APAC", "EU", "US", "LATAM", "EU"]
    return pa.table(
        {
            "customer_id": list(range(N)),
            "region": [regions[(i * 7 + i // 3) % len(regions)] for i in range(N)],
            "score": [(i * 37) % 100 for i in range(N)],
        }
    )


def _expected(table: pa.Table) -> tuple[int, int, int]:
    """(rows v1 lets through, rows v2 lets through, rows v2 newly excludes) — computed here,
    independently of the policy machinery."""
    rows = table.to_pylist()
    v1 = [r for r in rows if r["score"] >= 10]
    v2 = [r for r in v1 if r["region"] != "EU"]
    return len(v1), len(v2), len(v1) - len(v2)


@pytest.fixture
def policy_project(project: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("RUNSTATE_PRINCIPAL", "RUNSTATE_PURPOSE", "RUNSTATE_GROUPS"):
        monkeypatch.delenv(name, raising=False)
    pq.write_table(_customers(), project / "customers.parquet")
    return project


def _score(name: str = "score") -> str:
    with runstate.run(name, principal="svc-scoring", purpose="scoring") as run:
        customers = run.read_table("customers", "customers.parquet", key="customer_id")
        customers["approved"] = customers["score"] >= 50
        customers[["customer_id", "approved"]].to_csv("predictions.csv", index=False)
        run.output("predictions", "predictions.csv")
        run.metric("approval_rate", float(customers["approved"].mean()))
    return run.id


def _two_runs(project: Path) -> tuple[str, str]:
    store = Store.open(project)
    apply_policy(store, V1)
    a = _score()
    apply_policy(store, V2)
    b = _score()
    store.close()
    return a, b


def test_diff_names_the_changed_rule_and_the_rows_it_newly_excludes(
    policy_project: Path,
) -> None:
    a, b = _two_runs(policy_project)
    _, kept_v2, newly = _expected(_customers())
    assert newly > 0
    diff = runstate.diff(a, b)
    policy = diff["policy"]
    assert policy.changed
    details = policy.details
    assert details["versions"] == {"a": "policy v1", "b": "policy v2"}
    [rule] = details["rules"]
    assert rule["rule"] == "customers" and rule["change"] == "changed"
    assert rule["row_filter"] == {"a": "score >= 10", "b": "score >= 10 AND region <> 'EU'"}
    assert rule["datasets"] == [{"dataset": "customers", "newly_excluded": newly, "let_in": 0}]
    [effect] = details["datasets"]
    assert effect["dataset"] == "customers"
    assert (effect["newly_excluded"], effect["let_in"]) == (newly, 0)
    assert effect["excluded"] == {"a": N - _expected(_customers())[0], "b": N - kept_v2}
    assert effect["rows"] == {"a": N, "b": N}

    # The CLI: the JSON document validates, and the terminal names the rule and the count.
    result = runstate_cli("diff", a, b, "--json", cwd=policy_project)
    assert result.returncode == 1, result.stderr
    document = json.loads(result.stdout)
    validate(document)
    assert document["components"]["policy"]["rules"][0]["datasets"][0]["newly_excluded"] == newly
    text = runstate_cli("diff", a, b, cwd=policy_project, env={"COLUMNS": "200"})
    assert text.returncode == 1, text.stderr
    assert "policy v1 → policy v2" in text.stdout
    assert "region <> 'EU'" in text.stdout
    assert f"{newly} rows newly excluded" in text.stdout


def test_diff_of_the_reverse_change_counts_rows_let_in(policy_project: Path) -> None:
    a, b = _two_runs(policy_project)
    newly = _expected(_customers())[2]
    details = runstate.diff(b, a)["policy"].details
    assert details["rules"][0]["datasets"] == [
        {"dataset": "customers", "newly_excluded": 0, "let_in": newly}
    ]


def test_unchanged_policy_has_no_rule_changes(policy_project: Path) -> None:
    store = Store.open(policy_project)
    apply_policy(store, V1)
    store.close()
    a, b = _score(), _score()
    policy = runstate.diff(a, b)["policy"]
    assert not policy.changed
    assert policy.details["rules"] == [] and policy.details["datasets"] == []


def test_html_report_shows_the_rule_and_rows(policy_project: Path, tmp_path: Path) -> None:
    a, b = _two_runs(policy_project)
    newly = _expected(_customers())[2]
    out = tmp_path / "diff.html"
    result = runstate_cli("diff", a, b, "--html", str(out), cwd=policy_project)
    assert result.returncode in (0, 1), result.stderr
    html = out.read_text()
    assert "region &lt;&gt; &#39;EU&#39;" in html or "region &lt;&gt; 'EU'" in html
    assert f"{newly} newly excluded" in html


def _component(project: Path, record: dict[str, Any], name: str) -> Any:
    store = Store.open(project)
    body = store.load_json(record["state"]["components"][name])["body"]
    store.close()
    return body


REPLAY_JOB = """\
import runstate

with runstate.run("score", principal="svc-scoring", purpose="scoring") as run:
    df = run.read_table("customers", "customers.parquet", key="customer_id")
    df["approved"] = df["score"] >= 50
    run.output("predictions", df[["customer_id", "approved"]], key="customer_id")
    run.metric("approval_rate", float(df["approved"].mean()))
"""
DENY_ALL = """\
version: 1
default: deny
datasets:
  customers:
    readers:
      - principals: [svc-other]
        purposes: [scoring]
    row_filter: "region = 'US'"
"""


def test_replay_runs_under_the_recorded_policy_after_a_policy_change(
    policy_project: Path,
) -> None:
    from replayhelp import records, replay, run_script, write

    store = Store.open(policy_project)
    apply_policy(store, V1)
    apply_policy(store, V2)
    store.close()
    write(policy_project / "job.py", REPLAY_JOB)
    run_script(policy_project, "job.py")
    original = records(policy_project)[0]
    assert original["status"] == "succeeded"
    # The current policy now refuses svc-scoring outright: a live run is denied.
    store = Store.open(policy_project)
    apply_policy(store, DENY_ALL)
    store.close()
    denied = run_script(policy_project, "job.py", ok=False)
    assert denied.returncode != 0 and "access denied" in denied.stderr

    verdict = replay(policy_project, original["id"], code=0)

    assert verdict["verdict"] == "identical", verdict
    replayed = records(policy_project)[0]
    assert replayed["id"] == verdict["replay_run_id"]
    # The replay read under the recorded policy (v2) and recorded the original component.
    policy_a = original["state"]["components"]["policy"]
    assert replayed["state"]["components"]["policy"] == policy_a
    body = _component(policy_project, replayed, "policy")
    assert body["policy"]["version"] == 2
    assert body["datasets"]["customers"]["rows_after"] == _expected(_customers())[1]


ZERO_CODE_JOB = """\
import csv
header = next(csv.reader(open("data/customers.csv")))
with open("out/columns.csv", "w") as handle:
    handle.write(",".join(sorted(header)) + "\\n")
"""
CSV_POLICY = """\
version: 1
default: deny
datasets:
  "data/*.csv":
    readers:
      - principals: [svc-scoring]
    row_filter: "region <> 'EU'"
    columns: {score: hash}
"""


def test_zero_code_replay_records_what_the_recorded_policy_let_through(
    policy_project: Path,
) -> None:
    """A command that reads the file itself: the recorded (filtered, hashed) snapshot is
    served and recorded as is — not filtered or hashed twice (the replay has no mask key)
    — under the recorded policy, though the current one refuses the principal."""
    import pyarrow.csv as pacsv

    from replayhelp import records, replay, write

    (policy_project / "data").mkdir()
    (policy_project / "out").mkdir()
    pacsv.write_csv(_customers(), policy_project / "data" / "customers.csv")
    write(policy_project / "job.py", ZERO_CODE_JOB)
    store = Store.open(policy_project)
    apply_policy(store, CSV_POLICY)
    store.close()
    argv = ("run", "--principal", "svc-scoring", "--", "python", "job.py")
    key = {"RUNSTATE_MASK_KEY": "demo-key"}
    result = runstate_cli(*argv, cwd=policy_project, env=key)
    assert result.returncode == 0, result.stderr
    original = records(policy_project)[0]
    store = Store.open(policy_project)
    apply_policy(store, DENY_ALL.replace("customers:", '"data/*.csv":'))
    store.close()
    refused = runstate_cli(*argv, cwd=policy_project, env=key)
    assert refused.returncode == 2, refused.stderr  # the current policy refuses it

    verdict = replay(policy_project, original["id"], code=0)

    assert verdict["verdict"] == "identical", verdict
    replayed = records(policy_project)[0]
    assert replayed["id"] == verdict["replay_run_id"]
    components = original["state"]["components"]
    assert replayed["state"]["components"]["policy"] == components["policy"]
    assert (
        replayed["state"]["components"]["data:data/customers.csv"]
        == components["data:data/customers.csv"]
    )
