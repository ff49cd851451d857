"""The parts of explain that need no replay: params hybrids, hybrid ids, the cache, distance."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest

from runstate.data.tablecapture import capture_table
from runstate.explain.distance import Measure, diff_units, load_view
from runstate.explain.factors import _MISSING, Factor, apply_params, select_factors
from runstate.explain.hybrid import HybridCache, HybridResult, hybrid_key
from runstate.store.store import Store


def test_apply_params_sets_and_removes_dotted_keys_without_touching_a() -> None:
    a = {"threshold": 1, "model": {"depth": 3, "lr": 0.1}, "gone": True}
    out = apply_params(a, {"model.depth": 5, "gone": _MISSING, "new.x": 1})
    assert out == {"threshold": 1, "model": {"depth": 5, "lr": 0.1}, "new": {"x": 1}}
    assert a["model"] == {"depth": 3, "lr": 0.1} and a["gone"] is True


def _record(run_id: str, components: dict[str, str]) -> dict[str, Any]:
    return {"id": run_id, "name": "job", "state": {"components": components}, "inputs": []}


def test_hybrid_state_ids_are_stable_distinct_and_name_the_switched_state(store: Store) -> None:
    a = _record("A", {"code": "c1", "data:x": "d1", "seeds": "s1"})
    b = _record("B", {"code": "c2", "data:x": "d2", "seeds": "s2"})
    data = Factor("data:x", "data", "data:x", "x", ("data:x",))
    seeds = Factor("seeds", "seeds", "seeds", "seeds", ("seeds",))
    code = Factor("code:f.py", "code", "code", "f.py", code_files={"f.py": "blob"})
    ids = {
        frozenset(names): hybrid_key(store, a, b, factors, "current").state_id
        for names, factors in {
            (): [],
            ("data:x",): [data],
            ("seeds",): [seeds],
            ("code:f.py",): [code],
            ("data:x", "seeds"): [data, seeds],
        }.items()
    }
    assert len(set(ids.values())) == 5
    # order of the factors does not matter; the env mode does
    assert (
        hybrid_key(store, a, b, [seeds, data], "current").state_id
        == ids[frozenset(["data:x", "seeds"])]
    )
    assert hybrid_key(store, a, b, [data], "exact").state_id != ids[frozenset(["data:x"])]
    # a hybrid with every whole component from B has B's components: the same id from B's side
    spec = hybrid_key(store, a, b, [data, seeds], "current")
    assert spec.overrides == ("data:x", "seeds") and spec.params is None


def test_cache_round_trip_and_unreadable_entries_are_misses(store: Store) -> None:
    cache = HybridCache(store.root)
    result = HybridResult("ab" * 32, ("seeds",), "ok", None, "run-1", [], [{"key": "m"}], 1.5)
    assert cache.get(result.state_id) is None
    cache.put(result)
    again = cache.get(result.state_id)
    assert again is not None and again.cached and again.metrics == [{"key": "m"}]
    (store.root / "explain-cache" / ("cd" * 32 + ".json")).write_text("{not json")
    assert cache.get("cd" * 32) is None


def test_select_factors_by_name_or_prefix_and_unknown_names_are_usage_errors() -> None:
    from runstate.errors import UsageError

    factors = [
        Factor("data:x", "data", "data:x", ""),
        Factor("config:a", "config", "config", ""),
        Factor("config:b", "config", "config", ""),
    ]
    assert [f.name for f in select_factors(factors, ["config:"])] == ["config:a", "config:b"]
    assert [f.name for f in select_factors(factors, ["data:x"])] == ["data:x"]
    with pytest.raises(UsageError, match="no such factor"):
        select_factors(factors, ["seeds"])


def _entry(store: Store, name: str, table: pa.Table, key: list[str] | None) -> dict[str, Any]:
    entry = capture_table(
        store.objects, name, table, path=f"<{name}>", source={"kind": "arrow"}, key=key
    )
    return entry.to_dict()


def test_distance_counts_changed_keys_duplicates_and_metric_deltas(store: Store) -> None:
    ids = list(range(100))
    a = pa.table({"id": ids, "y": [0] * 100})
    b = pa.table({"id": ids[:90], "y": [0] * 80 + [1] * 10})  # 10 removed, 10 changed
    half = pa.table({"id": ids, "y": [0] * 80 + [1] * 10 + [0] * 10})  # only the changes
    dup = pa.concat_tables([a, pa.table({"id": [5], "y": [0]})])  # key 5 now twice
    ea, eb = _entry(store, "p", a, ["id"]), _entry(store, "p", b, ["id"])
    measure = Measure.build(
        store.objects, [ea], [eb], [{"key": "m", "value": 1.0}], [{"key": "m", "value": 3.0}]
    )
    assert len(measure.changed["p"]) == 20 and measure.metrics_changed == ["m"]
    views_a, views_b = measure.views_a, measure.views_b
    assert measure.value(views_a, {"m": 1.0}) == pytest.approx(0.0)
    assert measure.value(views_b, {"m": 3.0}) == pytest.approx(1.0)
    halfway = {"p": load_view(store.objects, _entry(store, "p", half, ["id"]))}
    # the table is half-way (10 of 20 keys right), the metric all the way
    assert measure.value(halfway, {"m": 3.0}) == pytest.approx(0.75)
    assert int(measure.reproduced("p", halfway["p"]).sum()) == 10
    assert int(measure.moved("p", halfway["p"]).sum()) == 10
    dup_view = load_view(store.objects, _entry(store, "p", dup, ["id"]))
    assert len(diff_units(views_a["p"], dup_view)) == 1  # the duplicated key changed

    unkeyed_a = load_view(store.objects, _entry(store, "u", pa.table({"v": [1, 1, 2]}), None))
    unkeyed_b = load_view(store.objects, _entry(store, "u", pa.table({"v": [1, 2]}), None))
    assert len(diff_units(unkeyed_a, unkeyed_b)) == 1  # one of the two 1s is gone


def test_noise_from_a_replay_is_left_out(store: Store) -> None:
    a = pa.table({"id": [1, 2, 3, 4], "y": [0.0, 0.0, 0.0, 0.0]})
    b = pa.table({"id": [1, 2, 3, 4], "y": [0.5, 0.5, 0.0, 1.0]})
    replay = pa.table({"id": [1, 2, 3, 4], "y": [0.1, 0.2, 0.0, 0.0]})  # 1 and 2 are noisy
    measure = Measure.build(
        store.objects,
        [_entry(store, "p", a, ["id"])],
        [_entry(store, "p", b, ["id"])],
        [{"key": "m", "value": 1.0}],
        [{"key": "m", "value": 1.05}],
    )
    replayed = {"p": load_view(store.objects, _entry(store, "p", replay, ["id"]))}
    measure.add_noise(replayed, {"m": 1.04})
    assert len(measure.changed["p"]) == 1  # only key 4 is a real change
    assert measure.noisy_metrics == ["m"] and measure.metrics_changed == []
