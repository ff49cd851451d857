"""The statistics of drift checks: intervals, corrected p-values, false alarms and power."""

from __future__ import annotations

import numpy as np
import pytest

from runstate.errors import UsageError
from runstate.monitor.drift import categorical_drift, numeric_drift
from runstate.monitor.fdr import benjamini_hochberg, decide
from runstate.monitor.settings import DEFAULTS, normalise
from schemas import load_schemas

CATS = np.array(list("abcde"))
P = np.array([0.3, 0.25, 0.2, 0.15, 0.1])


def _flags(a: np.ndarray, b: np.ndarray) -> list[bool]:
    tests = numeric_drift(a, b)
    return [t.flagged for t in decide(tests, [0.1, 0.1], 0.05)]


def test_benjamini_hochberg_matches_the_textbook() -> None:
    p = [0.01, 0.04, 0.03, 0.005]
    assert benjamini_hochberg(p) == pytest.approx([0.02, 0.04, 0.04, 0.02])
    assert benjamini_hochberg([]) == []


def test_no_false_alarms_on_unshifted_data_at_any_size() -> None:
    rng = np.random.default_rng(0)
    flagged = 0
    for n in (1000, 100_000):
        for _ in range(20):
            flagged += sum(_flags(rng.normal(size=n), rng.normal(size=n)))
            a, b = rng.choice(CATS, n, p=P), rng.choice(CATS, n, p=P)
            flagged += decide([categorical_drift(a, b)], [0.02], 0.05)[0].flagged
    assert flagged == 0
    # tiny samples: intervals are wide, so noise is flagged rarely (bounded near alpha/2)
    small = 0
    for _ in range(100):
        small += sum(_flags(rng.normal(size=50), rng.normal(size=50)))
        a, b = rng.choice(CATS, 50, p=P), rng.choice(CATS, 50, p=P)
        small += decide([categorical_drift(a, b)], [0.02], 0.05)[0].flagged
    assert small <= 0.05 * 300


def test_a_tiny_but_significant_shift_is_not_flagged() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=100_000), rng.normal(0.03, 1, 100_000)
    mean = decide(numeric_drift(a, b), [0.1, 0.1], 0.05)[0]
    assert mean.q_value is not None and mean.q_value < 1e-6  # significant
    assert not mean.flagged  # but far below the threshold
    assert mean.ci_low < 0.1 < 0.1 + mean.ci_high


def test_power_half_sd_mean_shift_and_five_point_share_change_at_10k() -> None:
    rng = np.random.default_rng(2)
    shifted = P.copy()
    shifted[0] += 0.05
    shifted[1:] *= (1 - shifted[0]) / shifted[1:].sum()
    hits_mean = hits_share = 0
    for _ in range(30):
        hits_mean += _flags(rng.normal(size=10_000), rng.normal(0.5, 1, 10_000))[0]
        test = categorical_drift(rng.choice(CATS, 10_000, p=P), rng.choice(CATS, 10_000, p=shifted))
        hits_share += decide([test], [0.015], 0.05)[0].flagged
    assert hits_mean == 30 and hits_share == 30


def test_intervals_cover_the_truth() -> None:
    rng = np.random.default_rng(3)
    covered = 0
    for _ in range(200):
        g = numeric_drift(rng.normal(size=400), rng.normal(0.3, 1, 400))[0]
        covered += g.ci_low <= 0.3 <= g.ci_high
    assert 180 <= covered <= 200  # nominal 95%


def test_constant_columns_and_single_category() -> None:
    same = numeric_drift(np.ones(100), np.ones(100))[0]
    assert same.effect == 0 and same.p_value == 1
    moved = numeric_drift(np.ones(100), np.full(100, 2.0))[0]
    assert moved.effect == float("inf") and moved.to_dict()["effect"] is None
    one = categorical_drift(["x"] * 50, ["x"] * 60)
    assert one.effect == 0 and one.p_value == 1


def test_settings_validate_and_match_their_schema() -> None:
    import jsonschema

    schema = load_schemas()["checks"]
    jsonschema.Draft202012Validator(schema).validate(normalise(None))
    assert normalise({"drift": {"columns": {"income": {"skip": True}}}})["drift"]["columns"]
    with pytest.raises(UsageError, match=r"unknown key 'quality\.nul_rate'"):
        normalise({"quality": {"nul_rate": {}}})
    with pytest.raises(UsageError, match=r"alpha = 0 is impossible"):
        normalise({"alpha": 0})
    with pytest.raises(UsageError, match=r"state\.code must be one of"):
        normalise({"state": {"code": "explode"}})
    assert DEFAULTS["drift"]["mean_shift"] == 0.1
