"""Enforcement while capturing: run.read_table, runstate run, zero-code reads, bad inputs,
and the ``policy test`` dry run."""

from __future__ import annotations

import hashlib
import hmac
import json
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

import runstate
from conftest import runstate_cli
from runstate.data.snapshot import read_snapshot
from runstate.errors import AccessDenied, PolicyError
from runstate.policy.versions import apply_policy
from runstate.store.store import Store
from schemas import validate

POLICY = """\
version: 1
default: deny
groups:
  risk: [alice]
datasets:
  customers:
    readers:
      - principals: [svc-scoring, "group:risk"]
        purposes: [scoring]
    row_filter: "consent OR region <> 'EU'"
    columns: {ssn: drop, email: hash, name: redact}
  "data/*.csv":
    readers:
      - principals: [svc-scoring]
    row_filter: "region = 'US'"
    columns: {ssn: drop}
  orders:
    readers:
      - principals: [mallory]
"""
KEY = "test-mask-key"


def _customers() -> pa.Table:
    return pa.table(
        {
            "customer_id": [1, 2, 3, 4, 5],
            "region": ["EU", "EU", "US", "US", "EU"],
            "consent": [True, False, False, True, False],
            "email": ["a@x", "b@x", "c@x", "d@x", "e@x"],
            "ssn": ["s1", "s2", "s3", "s4", "s5"],
            "name": ["A", "B", "C", "D", "E"],
        }
    )


@pytest.fixture
def policy_project(project: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("RUNSTATE_PRINCIPAL", "RUNSTATE_PURPOSE", "RUNSTATE_GROUPS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RUNSTATE_MASK_KEY", KEY)
    pq.write_table(_customers(), project / "customers.parquet")
    (project / "data").mkdir()
    pacsv.write_csv(_customers(), project / "data" / "customers.csv")
    (project / "runstate-policy.yaml").write_text(POLICY)
    return project


def _latest(project: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    store = Store.open(project)
    rows = store.metadata.list_runs(limit=1)
    record = store.load_record(rows[0]["record_id"])
    components = {
        name: store.load_json(cid)["body"] for name, cid in record["state"]["components"].items()
    }
    store.close()
    return record, components


def _run_count(project: Path) -> int:
    store = Store.open(project)
    count = len(store.metadata.list_runs(limit=1000))
    store.close()
    return count


def test_read_table_filters_masks_and_records_the_effect(policy_project: Path) -> None:
    with runstate.run("job", principal="alice", purpose="scoring") as run:
        seen = run.read_table("customers", "customers.parquet", key="customer_id", as_="arrow")
    # Row 2 and 5 (EU without consent) never reach user code; ssn dropped, email hashed.
    assert seen.column("customer_id").to_pylist() == [1, 3, 4]
    assert "ssn" not in seen.column_names
    assert seen.column("name").to_pylist() == ["<redacted>"] * 3
    assert (
        seen.column("email").to_pylist()[0]
        == hmac.new(KEY.encode(), b"a@x", hashlib.sha256).hexdigest()
    )
    record, components = _latest(policy_project)
    assert record["status"] == "succeeded"
    effect = components["policy"]
    validate(effect)
    assert effect["principal"] == "alice" and effect["purpose"] == "scoring"
    assert effect["groups"] == ["risk"]
    assert (
        effect["policy"]["source"] == "file" and effect["policy"]["path"] == "runstate-policy.yaml"
    )
    dataset = effect["datasets"]["customers"]
    assert dataset["decision"] == "allow" and dataset["rule"] == "customers"
    assert (dataset["rows_before"], dataset["rows_after"]) == (5, 3)
    assert dataset["excluded"]["count"] == 2 and dataset["excluded"]["by"] == "key"
    assert len(dataset["excluded"]["fingerprints"]) == 2
    assert dataset["columns"] == {"email": "hash", "name": "redact", "ssn": "drop"}
    assert components["data:customers"]["rows"] == 3
    item = next(i for i in record["inputs"] if i["name"] == "customers")
    stored = read_snapshot(Store.open(policy_project).objects, item["snapshot_id"])
    assert stored.equals(seen)  # the snapshot holds exactly what user code saw


def test_a_denied_read_raises_and_the_run_fails(policy_project: Path) -> None:
    with (
        pytest.raises(AccessDenied, match=r"dataset 'customers'.*rule 'customers'.*'mallory'"),
        runstate.run("job", principal="mallory", purpose="scoring") as run,
    ):
        run.read_table("customers", "customers.parquet")
    record, components = _latest(policy_project)
    assert record["status"] == "failed" and "AccessDenied" in record["error"]
    assert components["policy"]["datasets"]["customers"]["decision"] == "deny"
    assert not any(i["name"] == "customers" for i in record["inputs"])


def test_default_deny_for_a_dataset_without_a_rule(policy_project: Path) -> None:
    pq.write_table(_customers(), policy_project / "other.parquet")
    with (
        pytest.raises(AccessDenied, match=r"no rule matches dataset 'other'.*default is deny"),
        runstate.run("job", principal="alice", purpose="scoring") as run,
    ):
        run.read_table("other", "other.parquet")


def test_a_principal_no_rule_admits_is_refused_before_anything(policy_project: Path) -> None:
    with pytest.raises(AccessDenied, match="matches no reader of any rule"):
        runstate.run("job", principal="nobody", purpose="scoring")
    assert _run_count(policy_project) == 0


def test_invalid_policy_or_missing_key_stop_the_run_before_it_starts(
    policy_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RUNSTATE_MASK_KEY")
    with pytest.raises(PolicyError, match="RUNSTATE_MASK_KEY"):
        runstate.run("job", principal="alice", purpose="scoring")
    monkeypatch.setenv("RUNSTATE_MASK_KEY", KEY)
    (policy_project / "runstate-policy.yaml").write_text(
        POLICY.replace("default: deny", "default: no")
    )
    with pytest.raises(PolicyError, match=r"runstate-policy\.yaml:2: default"):
        runstate.run("job", principal="alice", purpose="scoring")
    assert _run_count(policy_project) == 0


def test_a_filter_on_a_missing_column_fails_before_reading(policy_project: Path) -> None:
    policy = POLICY.replace("consent OR region <> 'EU'", "consented = true")
    (policy_project / "runstate-policy.yaml").write_text(policy)
    with (
        pytest.raises(PolicyError, match="consented"),
        runstate.run("job", principal="alice", purpose="scoring") as run,
    ):
        run.read_table("customers", "customers.parquet")
    record, _ = _latest(policy_project)
    assert record["status"] == "failed" and record["inputs"] == []


def test_a_store_version_applies_when_there_is_no_policy_file(policy_project: Path) -> None:
    (policy_project / "runstate-policy.yaml").unlink()
    store = Store.open(policy_project)
    version, _ = apply_policy(store, POLICY.replace("region <> 'EU'", "region = 'US'"))
    with runstate.run("job", principal="svc-scoring", purpose="scoring") as run:
        seen = run.read_table("customers", "customers.parquet", as_="arrow")
    assert seen.column("customer_id").to_pylist() == [1, 3, 4]
    _, components = _latest(policy_project)
    ref = components["policy"]["policy"]
    assert ref["source"] == "store" and ref["version"] == 1 and ref["version_id"] == version.id
    assert components["policy"]["datasets"]["customers"]["excluded"]["by"] == "row"


def test_no_policy(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RUNSTATE_PRINCIPAL", "RUNSTATE_PURPOSE"):
        monkeypatch.delenv(name, raising=False)
    pq.write_table(_customers(), project / "customers.parquet")
    with runstate.run("job") as run:
        assert run.read_table("customers", "customers.parquet").shape == (5, 6)
    _, components = _latest(project)
    assert "policy" not in components  # no policy, no identity: no component
    with runstate.run("job", principal="svc", purpose="scoring") as run:
        run.read_table("customers", "customers.parquet")
    _, components = _latest(project)
    assert components["policy"]["policy"]["source"] == "none"
    assert components["policy"]["datasets"]["customers"]["decision"] == "allow"


def test_run_input_cannot_bypass_a_filter(policy_project: Path) -> None:
    with (
        pytest.raises(AccessDenied, match=r"needs run\.read_table"),
        runstate.run("job", principal="alice", purpose="scoring") as run,
    ):
        run.input("customers", "customers.parquet")


# -- through `runstate run` ---------------------------------------------------------------------

JOB = """\
import runstate
with runstate.run("scoring") as run:
    df = run.read_table("customers", "customers.parquet", key="customer_id")
    print(sorted(df["customer_id"]))
"""


def _cli_run(project: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    return runstate_cli("run", *args, cwd=project, env={"RUNSTATE_MASK_KEY": KEY, **(env or {})})


def test_runstate_run_passes_principal_and_purpose(policy_project: Path) -> None:
    (policy_project / "job.py").write_text(JOB)
    result = _cli_run(policy_project, "--principal", "svc-scoring", "--purpose", "scoring",
                      "--", sys.executable, "job.py")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[1, 3, 4]"
    record, components = _latest(policy_project)
    assert record["status"] == "succeeded"
    assert components["policy"]["principal"] == "svc-scoring"
    assert components["policy"]["datasets"]["customers"]["rows_after"] == 3
    store = Store.open(policy_project)
    stored = store.load_json(record["state"]["components"]["policy"])
    validate(stored)  # runstate.component/v1 with its policy body, as stored
    store.close()


def test_runstate_run_denied_read_in_the_job_exits_2(policy_project: Path) -> None:
    (policy_project / "job.py").write_text(JOB)
    result = _cli_run(policy_project, "--principal", "mallory", "--purpose", "scoring",
                      "--", sys.executable, "job.py")  # fmt: skip
    assert result.returncode == 2
    assert "AccessDenied" in result.stderr
    record, components = _latest(policy_project)
    assert record["status"] == "failed"
    assert components["policy"]["datasets"]["customers"]["decision"] == "deny"


@pytest.mark.parametrize(
    ("args", "env", "policy", "message"),
    [
        (("--principal", "nobody"), {}, POLICY, "matches no reader of any rule"),
        (("--principal", "alice", "--purpose", "scoring"), {"RUNSTATE_MASK_KEY": ""}, POLICY,
         "RUNSTATE_MASK_KEY"),
        (("--principal", "alice"), {}, POLICY.replace("  orders:", "  orders\n"),
         r"runstate-policy\.yaml:\d+: invalid YAML"),
        (("--principal", "alice"), {}, POLICY.replace("ssn: drop, email", "ssn: erase, email"),
         r"runstate-policy\.yaml:11: datasets\.customers\.columns\.ssn: 'erase'"),
        (("--principal", "alice"), {}, POLICY.replace("region <> 'EU'\"", "region <> 'EU\""),
         r"runstate-policy\.yaml:10: datasets\.customers\.row_filter: does not parse"),
    ],
)  # fmt: skip
def test_runstate_run_bad_inputs_exit_2_before_the_command(
    policy_project: Path, args: tuple[str, ...], env: dict[str, str], policy: str, message: str
) -> None:
    (policy_project / "runstate-policy.yaml").write_text(policy)
    (policy_project / "job.py").write_text("open('ran.txt', 'w').write('x')\n")
    result = _cli_run(policy_project, *args, "--", sys.executable, "job.py", env=env)
    assert result.returncode == 2
    assert result.stderr.startswith("runstate: error: ")
    assert len(result.stderr.strip().splitlines()) == 1
    assert pytest.importorskip("re").search(message, result.stderr), result.stderr
    assert not (policy_project / "ran.txt").exists()  # the command never started
    assert _run_count(policy_project) == 0  # nothing recorded


ZERO_CODE = """\
import csv
with open("data/customers.csv") as handle:
    print(len(list(csv.reader(handle))) - 1)
"""


def test_zero_code_read_is_recorded_only_as_far_as_the_policy_allows(policy_project: Path) -> None:
    (policy_project / "zc.py").write_text(ZERO_CODE)
    result = _cli_run(policy_project, "--principal", "svc-scoring", "--", sys.executable, "zc.py")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "5"  # the command read the file itself: all rows
    record, components = _latest(policy_project)
    dataset = components["policy"]["datasets"]["data/customers.csv"]
    assert dataset["enforced"] == "record" and dataset["rule"] == "data/*.csv"
    assert (dataset["rows_before"], dataset["rows_after"]) == (5, 2)
    item = next(i for i in record["inputs"] if i["name"] == "data/customers.csv")
    assert item["rows"] == 2 and "ssn" not in [f["name"] for f in item["schema"]]


def test_zero_code_denied_read_fails_the_run_and_keeps_no_bytes(policy_project: Path) -> None:
    (policy_project / "zc.py").write_text(ZERO_CODE)
    result = _cli_run(policy_project, "--principal", "alice", "--purpose", "scoring",
                      "--", sys.executable, "zc.py")  # fmt: skip
    assert result.returncode == 2
    record, components = _latest(policy_project)
    assert record["status"] == "failed" and "access denied" in record["error"]
    assert components["policy"]["datasets"]["data/customers.csv"]["decision"] == "deny"
    item = next(i for i in record["inputs"] if i["name"] == "data/customers.csv")
    assert item["retention"] == "fingerprint" and item.get("kind") != "table"


def test_two_runs_policy_effects_compare_by_rule_and_rows(policy_project: Path) -> None:
    from runstate.policy.diff import compare_effects

    with runstate.run("job", principal="alice", purpose="scoring") as run:
        run.read_table("customers", "customers.parquet", key="customer_id")
    _, first = _latest(policy_project)
    # The new policy excludes US customers without consent, and lets EU ones in.
    policy = POLICY.replace("consent OR region <> 'EU'", "consent OR region <> 'US'")
    (policy_project / "runstate-policy.yaml").write_text(policy)
    with runstate.run("job", principal="alice", purpose="scoring") as run:
        run.read_table("customers", "customers.parquet", key="customer_id")
    _, second = _latest(policy_project)
    store = Store.open(policy_project)
    result = compare_effects(store.objects, first["policy"], second["policy"])
    assert result
    assert result.rules is not None
    assert [r.row_filter for r in result.rules.rules] == [
        ("consent OR region <> 'EU'", "consent OR region <> 'US'")
    ]
    (customers,) = result.datasets
    assert customers.excluded == (2, 1)  # customers 2, 5 (EU) -> customer 3 (US)
    assert (customers.newly_excluded, customers.let_in) == (1, 2) and customers.comparable
    assert not compare_effects(store.objects, first["policy"], first["policy"])
    assert compare_effects(store.objects, None, first["policy"]).policy[0] == "no policy"


# -- policy test: the dry run -------------------------------------------------------------------


def test_policy_test_previews_a_change_without_recording(policy_project: Path) -> None:
    with runstate.run("job", principal="alice", purpose="scoring") as run:
        run.read_table("customers", "customers.parquet", key="customer_id")
    record, _ = _latest(policy_project)
    stricter = POLICY.replace("consent OR region <> 'EU'", "region = 'US' AND consent")
    stricter = stricter.replace("name: redact", "name: drop")
    (policy_project / "new.yaml").write_text(stricter)
    store = Store.open(policy_project)
    objects_before = sorted(store.objects.iter_ids())
    result = runstate_cli(
        "policy", "test", "new.yaml", "--run", "latest", "--json", cwd=policy_project
    )
    assert result.returncode == 0, result.stderr
    preview = json.loads(result.stdout)
    validate(preview)
    assert preview["run_id"] == record["id"] and preview["principal"] == "alice"
    (customers,) = preview["datasets"]
    # Recorded rows 1 (EU, consent), 3 (US, no consent), 4 (US, consent): only 4 stays.
    assert (customers["rows_recorded"], customers["would_exclude"], customers["rows_after"]) == (
        3,
        2,
        1,
    )
    assert customers["let_in_at_most"] == 2  # the two rows excluded when recorded
    assert customers["columns"]["name"] == {"recorded": "redact", "would": "drop"}
    assert preview["changes"]
    assert sorted(store.objects.iter_ids()) == objects_before  # nothing stored
    assert _run_count(policy_project) == 1  # nothing run
    denied = runstate_cli("policy", "test", "new.yaml", "--run", "latest", "--principal", "bob",
                          cwd=policy_project)  # fmt: skip
    assert denied.returncode == 0 and "customers: DENIED by rule 'customers'" in denied.stdout
    bad = runstate_cli("policy", "test", "missing.yaml", "--run", "latest", cwd=policy_project)
    assert bad.returncode == 2 and "missing.yaml: no such policy file" in bad.stderr
