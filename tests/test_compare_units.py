"""The per-dimension diff functions of runstate.compare, on recorded component bodies.

Bodies are real: taken from a run recorded through the API, then edited the way a real
change would edit them (a package upgraded, a thread count set, a seed changed).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

import runstate
from runstate.compare.changes import diff_values, flatten
from runstate.compare.code import changed_symbols, diff_code, unified_diff
from runstate.compare.config import diff_config
from runstate.compare.data import diff_profiles
from runstate.compare.env import compare_versions, diff_env, diff_packages
from runstate.compare.outputs import diff_metrics
from runstate.compare.seeds import diff_seeds
from runstate.compare.steps import diff_steps
from runstate.store.store import Store


def _bodies(store: Store, run_id: str) -> dict[str, Any]:
    row = store.metadata.run(run_id)
    assert row is not None
    record = store.load_record(row["record_id"])
    return {
        name: store.load_json(cid)["body"] for name, cid in record["state"]["components"].items()
    }


@pytest.fixture
def recorded(project: Path, store: Store) -> dict[str, Any]:
    with runstate.run("units", params={"threshold": 0.5, "model": {"depth": 3}}, seed=7) as run:
        run.metric("auc", 0.9)
    return _bodies(store, run.id)


def test_flatten_and_change_lists_use_dotted_keys() -> None:
    assert flatten({"a": {"b": 1, "c": {}}, "d": 2}) == {"a.b": 1, "a.c": {}, "d": 2}
    changes = diff_values({"a": {"b": 1}, "x": 1, "gone": 3}, {"a": {"b": 2}, "x": 1.0, "new": 4})
    assert changes == [
        {"key": "a.b", "change": "changed", "old": 1, "new": 2},
        {"key": "gone", "change": "removed", "old": 3, "new": None},
        {"key": "new", "change": "added", "old": None, "new": 4},
        {"key": "x", "change": "changed", "old": 1, "new": 1.0},  # a type change is a change
    ]
    assert diff_values({"a": [1, 2]}, {"a": [1, 2]}) == []


def test_config_params_and_files(recorded: dict[str, Any]) -> None:
    old = recorded["config"]
    new = copy.deepcopy(old)
    new["params"]["model"]["depth"] = 4
    new["params"]["lr"] = 0.1
    del new["params"]["threshold"]
    new["files"]["conf.yaml"] = "ab" * 32
    result = diff_config(old, new)
    assert result["params"] == [
        {"key": "lr", "change": "added", "old": None, "new": 0.1},
        {"key": "model.depth", "change": "changed", "old": 3, "new": 4},
        {"key": "threshold", "change": "removed", "old": 0.5, "new": None},
    ]
    assert result["files"] == [
        {"key": "conf.yaml", "change": "added", "old": None, "new": "ab" * 32}
    ]
    assert diff_config(old, copy.deepcopy(old)) == {"params": [], "files": []}


@pytest.mark.parametrize(
    ("old", "new", "order"),
    [
        ("1.26.4", "2.0.0", 1),
        ("2.0.0", "1.26.4", -1),
        ("2.0.0rc1", "2.0.0", 1),
        ("1.10", "1.9", -1),
        ("1.0", "1.0.0", 0),
        ("2024.1.post1", "2024.1", -1),
    ],
)
def test_version_order(old: str, new: str, order: int) -> None:
    assert compare_versions(old, new) == order


def test_tolerant_version_order_without_packaging(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "packaging.version", None)  # import fails
    assert compare_versions("1.9", "1.10") == 1
    assert compare_versions("2.0.0rc1", "2.0.0") == 1
    assert compare_versions("not-a-version-b", "not-a-version-a") == -1


def test_env_packages_and_settings(recorded: dict[str, Any]) -> None:
    old = recorded["env"]
    new = copy.deepcopy(old)
    name, info = next(iter(sorted(old["packages"].items())))
    new["packages"][name] = {**info, "version": "999.0"}
    new["packages"]["brand-new-pkg"] = {"version": "0.1"}
    removed = sorted(old["packages"])[1]
    del new["packages"][removed]
    new["threads"]["OMP_NUM_THREADS"] = "4"
    new["env_vars"]["API_TOKEN"] = "<redacted>"
    new["timezone"]["zone"] = "Europe/Paris"
    result = diff_env(old, new)
    packages = result["packages"]
    assert packages["upgraded"] == [{"name": name, "old": info["version"], "new": "999.0"}]
    assert packages["added"] == [{"name": "brand-new-pkg", "version": "0.1"}]
    assert packages["removed"] == [
        {"name": removed, "version": old["packages"][removed]["version"]}
    ]
    settings = result["settings"]
    assert {"key": "OMP_NUM_THREADS", "change": "changed", "old": None, "new": "4"} in settings[
        "threads"
    ]
    assert settings["env_vars"] == [
        {"key": "API_TOKEN", "change": "added", "old": None, "new": "<redacted>"}
    ]
    assert settings["timezone"][0]["new"] == "Europe/Paris"
    assert diff_env(old, copy.deepcopy(old))["settings"] == {}


def test_package_downgrade_and_unparsable_change() -> None:
    result = diff_packages(
        {"numpy": {"version": "2.0.0"}, "weird": {"version": "x", "source": "a"}},
        {"numpy": {"version": "1.26.4"}, "weird": {"version": "x", "source": "b"}},
    )
    assert result["downgraded"] == [{"name": "numpy", "old": "2.0.0", "new": "1.26.4"}]
    assert result["changed"] == [{"name": "weird", "old": "x", "new": "x"}]


def test_seeds(recorded: dict[str, Any]) -> None:
    old = recorded["seeds"]
    new = {**old, "seed": 8, "applied": list(reversed(old["applied"]))}
    assert diff_seeds(old, new)["changes"] == [
        {"key": "seed", "change": "changed", "old": 7, "new": 8}
    ]


OLD_SOURCE = """\
import math


def area(r):
    return math.pi * r * r


class Model:
    threshold = 0.5

    def predict(self, x):
        return x > self.threshold

    def name(self):
        return "m"
"""

NEW_SOURCE = """\
import math


def area(r):
    # same code, a comment and different layout
    return math.pi * r  *  r


def perimeter(r):
    return 2 * math.pi * r


class Model:
    threshold = 0.5

    def predict(self, x):
        return x >= self.threshold
"""


def test_changed_symbols_ignore_comments_and_layout() -> None:
    assert changed_symbols(OLD_SOURCE, NEW_SOURCE) == [
        {"name": "Model.name", "kind": "function", "change": "removed"},
        {"name": "Model.predict", "kind": "function", "change": "modified"},
        {"name": "perimeter", "kind": "function", "change": "added"},
    ]
    assert changed_symbols("def f(:\n", NEW_SOURCE) == []  # unparsable: no claims


def test_unified_diff_counts_and_truncation() -> None:
    text, added, removed, truncated = unified_diff("m.py", OLD_SOURCE, NEW_SOURCE)
    assert text.startswith("--- a/m.py\n+++ b/m.py\n")
    assert "+def perimeter(r):\n" in text and "-    def name(self):\n" in text
    assert (added, removed, truncated) == (text.count("\n+") - 1, text.count("\n-"), False)
    long_old = "".join(f"line {i}\n" for i in range(1000))
    _, added, removed, truncated = unified_diff("big.txt", long_old, "", max_lines=50)
    assert (added, removed, truncated) == (0, 1000, True)


def test_diff_code_from_stored_blobs(store: Store) -> None:
    old_id = store.objects.put_bytes(OLD_SOURCE.encode())
    new_id = store.objects.put_bytes(NEW_SOURCE.encode())
    binary_id = store.objects.put_bytes(b"\x00\x01binary")
    old = {"entry": "m.py", "files": {"m.py": old_id, "gone.py": old_id}, "git": None}
    new = {
        "entry": "m.py",
        "files": {"m.py": new_id, "blob.bin": binary_id},
        "git": {"commit": "c2", "dirty": True, "diff": "ff" * 32, "untracked": {}},
    }
    result = diff_code(store.objects, old, new, limit=20)
    by_path = {f["path"]: f for f in result["files"]}
    assert set(by_path) == {"m.py", "gone.py", "blob.bin"}
    assert by_path["m.py"]["change"] == "modified" and by_path["m.py"]["diff"].startswith("---")
    assert by_path["gone.py"]["change"] == "removed"
    assert by_path["blob.bin"]["binary"] and by_path["blob.bin"]["diff"] is None
    assert "m.py:perimeter" in result["symbols"] and "gone.py:area" in result["symbols"]
    git = {c["key"]: c for c in result["git"]}
    assert git["commit"]["new"] == "c2" and git["dirty"]["new"] is True
    capped = diff_code(store.objects, old, new, limit=1)
    assert len(capped["files"]) == 1 and capped["files_omitted"] == 2
    assert set(capped["symbols"]) == set(result["symbols"])  # names are never capped


def test_metrics_old_new_delta() -> None:
    def m(key: str, value: float | str, step: int | None = None) -> dict[str, Any]:
        return {"key": key, "value": value, "step": step}

    a = [m("auc", 0.8), m("loss", 1.0, 1), m("loss", 0.5, 2), m("gone", 1.0)]
    b = [m("auc", 0.9), m("loss", 0.5, 2), m("nan", "NaN")]
    metrics, changed = diff_metrics(a, b)
    by_key = {m["key"]: m for m in metrics}
    assert changed
    assert by_key["auc"]["change"] == "changed"
    assert by_key["auc"]["delta"] == pytest.approx(0.1)
    assert by_key["auc"]["rel_delta"] == pytest.approx(0.125)
    assert by_key["loss"]["change"] == "unchanged"  # the last value counts
    assert by_key["gone"]["change"] == "removed" and by_key["nan"]["change"] == "added"
    assert by_key["nan"]["delta"] is None
    assert diff_metrics(a, a)[1] is False


def _step(name: str, code: str, inputs: dict[str, str], outputs: dict[str, str]) -> dict:
    return {"name": name, "code_hash": code, "status": "succeeded", "inputs": inputs,
            "outputs": outputs}  # fmt: skip


def test_first_divergence_is_the_first_step_with_equal_inputs_and_different_outputs() -> None:
    a = [
        _step("load", "c1", {"raw": "r1"}, {"df": "d1"}),
        _step("features", "c2", {"df": "d1"}, {"feats": "f1"}),
        _step("score", "c3", {"feats": "f1"}, {"preds": "p1"}),
    ]
    b = [
        _step("load", "c1", {"raw": "r1"}, {"df": "d1"}),
        _step("features", "c2-new", {"df": "d1"}, {"feats": "f2"}),
        _step("score", "c3", {"feats": "f2"}, {"preds": "p2"}),
    ]
    details, changed = diff_steps(a, b)
    assert changed
    assert details["first_divergence"] == {
        "name": "features",
        "index": 1,
        "reason": "inputs equal, outputs differ; the step's code changed",
    }
    score = details["steps"][2]
    assert score["inputs_equal"] is False and score["outputs_equal"] is False
    # A divergence upstream of every step (a changed input) is not blamed on a step.
    b_data = [_step("load", "c1", {"raw": "r2"}, {"df": "d2"})]
    assert diff_steps(a[:1], b_data)[0]["first_divergence"] is None
    assert diff_steps(a, a) == (diff_steps(a, a)[0], False)


def test_profile_shifts_and_new_gaps() -> None:
    def profile(nulls: int, mean: float, gaps: list[dict[str, Any]], top: list[Any]) -> dict:
        return {
            "schema": "runstate.profile/v1",
            "rows": 100,
            "columns": [
                {"name": "x", "family": "float", "nulls": nulls, "mean": mean, "min": 0.0,
                 "max": 1.0, "distinct": 50, "quantiles": {"p50": mean}},
                {"name": "day", "family": "date", "nulls": 0, "min": "2024-01-01",
                 "max": "2024-01-31", "distinct": 31, "gaps": gaps},
                {"name": "c", "family": "string", "nulls": 0, "distinct": 2, "top_values": top},
            ],
        }  # fmt: skip

    old_gap = {"from": "2024-01-10", "to": "2024-01-11", "days": 2}
    new_gap = {"from": "2024-01-20", "to": "2024-01-20", "days": 1}
    shifts, coverage = diff_profiles(
        profile(0, 0.5, [old_gap], [["a", 60], ["b", 40]]),
        profile(10, 0.6, [old_gap, new_gap], [["b", 70], ["a", 30]]),
    )
    by_column = {s["column"]: s for s in shifts}
    x_changes = {c["key"]: c for c in by_column["x"]["changes"]}
    assert x_changes["null_rate"]["old"] == 0 and x_changes["null_rate"]["new"] == 0.1
    assert x_changes["mean"]["new"] == 0.6
    assert by_column["x"]["quantiles"] == {"old": {"p50": 0.5}, "new": {"p50": 0.6}}
    assert by_column["c"]["changes"][0]["key"] == "top_values"
    assert coverage == [
        {
            "column": "day",
            "old": {"min": "2024-01-01", "max": "2024-01-31", "gaps": [old_gap]},
            "new": {"min": "2024-01-01", "max": "2024-01-31", "gaps": [old_gap, new_gap]},
            "new_gaps": [new_gap],
        }
    ]
    same = profile(0, 0.5, [old_gap], [])
    assert diff_profiles(same, copy.deepcopy(same)) == ([], [])
