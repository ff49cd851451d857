"""The Run API end to end, against a real store in a real project folder."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import blake3
import numpy as np
import pytest

import runstate
from runstate.errors import UsageError
from runstate.store.store import Store


def _record(store: Store, run_id: str) -> dict:
    row = store.metadata.run(run_id)
    assert row is not None
    return store.load_record(row["record_id"])


def _component(store: Store, record: dict, name: str) -> dict:
    return store.load_json(record["state"]["components"][name])["body"]


def test_a_run_records_every_dimension(project: Path, store: Store) -> None:
    (project / "data").mkdir()
    (project / "data" / "customers.csv").write_text("id,x\n1,2\n")
    (project / "config.yaml").write_text("threshold: 0.5\n")
    with runstate.run(
        "score", params={"threshold": 0.5}, seed=7, config_files=["config.yaml"]
    ) as run:
        assert run.params["threshold"] == 0.5
        run.input("customers", "data/customers.csv")
        (project / "out.csv").write_text("id,p\n1,0.3\n")
        run.output("predictions", "out.csv")
        run.metric("approval_rate", 0.42)
        run.metric("approval_rate", 0.43, step=2)
    record = _record(store, run.id)
    assert record["status"] == "succeeded" and record["name"] == "score"
    assert set(record["state"]["components"]) == {
        "code",
        "config",
        "data:customers",
        "env",
        "seeds",
    }
    assert _component(store, record, "config")["params"] == {"threshold": 0.5}
    config_file = _component(store, record, "config")["files"]
    assert config_file == {"config.yaml": blake3.blake3(b"threshold: 0.5\n").hexdigest()}
    data = _component(store, record, "data:customers")
    assert data["path"] == "data/customers.csv"
    assert data["fingerprint"] == blake3.blake3(b"id,x\n1,2\n").hexdigest()
    assert store.objects.get_bytes(data["object_id"]) == b"id,x\n1,2\n"
    seeds = _component(store, record, "seeds")
    assert seeds["seed"] == 7 and "random" in seeds["applied"] and "numpy" in seeds["applied"]
    env = _component(store, record, "env")
    assert env["python"]["version"].startswith(f"{sys.version_info.major}.{sys.version_info.minor}")
    assert "pytest" in env["packages"]
    assert [m["value"] for m in record["metrics"]] == [0.42, 0.43]
    assert record["outputs"][0]["fingerprint"] == blake3.blake3(b"id,p\n1,0.3\n").hexdigest()


def test_seed_makes_random_and_numpy_repeatable(project: Path) -> None:
    draws = []
    for _ in range(2):
        with runstate.run("seeded", seed=123):
            draws.append((random.random(), float(np.random.rand())))
    assert draws[0] == draws[1]
    with pytest.raises(UsageError, match="seed"), runstate.run("bad-seed", seed=-1):
        pass


def test_same_state_same_id_and_a_param_change_changes_only_config(
    project: Path, store: Store
) -> None:
    ids = []
    for threshold in (0.5, 0.5, 0.6):
        with runstate.run("score", params={"threshold": threshold}, seed=1) as run:
            pass
        ids.append(run.id)
    records = [_record(store, run_id) for run_id in ids]
    assert records[0]["state"]["id"] == records[1]["state"]["id"]
    assert records[0]["state"]["id"] != records[2]["state"]["id"]
    changed = {
        name
        for name, cid in records[0]["state"]["components"].items()
        if records[2]["state"]["components"][name] != cid
    }
    assert changed == {"config"}


def test_failed_and_interrupted_runs_are_recorded(project: Path, store: Store) -> None:
    with pytest.raises(ZeroDivisionError), runstate.run("boom") as failed:
        1 / 0  # noqa: B018
    with pytest.raises(KeyboardInterrupt), runstate.run("stopped") as stopped:
        raise KeyboardInterrupt
    first, second = _record(store, failed.id), _record(store, stopped.id)
    assert first["status"] == "failed" and "ZeroDivisionError" in first["error"]
    assert second["status"] == "interrupted"


def test_steps_record_code_hash_and_their_inputs(project: Path, store: Store) -> None:
    (project / "raw.txt").write_text("raw")

    def build(multiplier: int) -> int:
        return 2 * multiplier

    with runstate.run("pipeline") as run:
        with run.step("load"):
            run.input("raw", "raw.txt")
        with run.step("features"):
            value = 21 * 2
        decorated = run.step("model")(build)
        assert decorated(value) == 84
    record = _record(store, run.id)
    steps = {s["name"]: s for s in record["steps"]}
    assert list(steps) == ["load", "features", "model"]
    assert steps["load"]["inputs"] == {"raw": blake3.blake3(b"raw").hexdigest()}
    assert steps["features"]["inputs"] == {}
    assert all(s["status"] == "succeeded" for s in steps.values())
    assert len({s["code_hash"] for s in steps.values()}) == 3
    assert record["inputs"][0]["step"] == "load"


def test_step_code_hash_follows_the_block_source(
    project: Path, store: Store, tmp_path: Path
) -> None:
    def run_script(body: str) -> str:
        script = project / "job.py"
        script.write_text(
            "import runstate\n"
            "with runstate.run('job') as run:\n"
            "    with run.step('compute'):\n"
            f"        {body}\n"
            "print(run.id)\n"
        )
        import subprocess

        result = subprocess.run(
            [sys.executable, str(script)], cwd=project, capture_output=True, text=True, check=True
        )
        return result.stdout.strip()

    first, same, changed = run_script("x = 1"), run_script("x = 1"), run_script("x = 2")
    hashes = [_record(store, rid)["steps"][0]["code_hash"] for rid in (first, same, changed)]
    assert hashes[0] == hashes[1] != hashes[2]
    code = _component(store, _record(store, changed), "code")
    assert "job.py" in code["files"]


def test_bad_input_is_a_clear_error(project: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"missing\.csv"), runstate.run("bad") as run:
        run.input("x", "missing.csv")
    with pytest.raises(UsageError, match="param 'when'"):
        runstate.run("bad", params={"when": object()})
    with pytest.raises(UsageError, match="metric 'm'"), runstate.run("bad") as run:
        run.metric("m", "high")  # type: ignore[arg-type]


def test_two_inputs_with_one_name_must_agree(project: Path) -> None:
    (project / "a.txt").write_text("a")
    (project / "b.txt").write_text("b")
    with pytest.raises(UsageError, match="recorded twice"), runstate.run("dup") as run:
        run.input("x", "a.txt")
        run.input("x", "b.txt")


def test_no_store_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RUNSTATE_STORE", raising=False)
    with pytest.raises(runstate.RunstateError, match="runstate init"):
        runstate.run("x")


def test_import_runstate_stays_light() -> None:
    import subprocess

    heavy = ("sqlalchemy", "fsspec", "pandas", "numpy", "polars", "duckdb", "scipy", "rich",
             "alembic", "cryptography")  # fmt: skip
    code = (
        f"import json, sys, runstate; print(json.dumps([m for m in {heavy!r} if m in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []
