"""Multiple testing: Benjamini–Hochberg q-values and the flagging rule of drift tests.

A check runs many tests (two per numeric column, one per categorical column, over every
table); at a 5% level each, a clean 20-column check would raise an alarm most days. The
p-values of all drift tests of one check are therefore corrected together by
Benjamini–Hochberg (false discovery rate ``alpha``).

**The rule.** A test is flagged when both

1. its q-value is at most ``alpha`` (the change is real), and
2. its whole confidence interval lies beyond the threshold (the change is large enough,
   with confidence) — not merely its point estimate.

Why the interval and not the point estimate: with the point estimate, a true effect that
sits exactly at the threshold is flagged half of the time at any sample size, and at small
samples noise alone pushes estimates over the threshold while being "significant"
together with it. With the interval, an effect at or below the threshold is flagged at
most ``(1 - confidence)/2`` of the time (2.5%) whatever the sample size, and an unshifted
column at production sizes essentially never (its interval shrinks around 0). The cost is
power near the threshold: a shift is flagged reliably once it exceeds the threshold by
about 2–3 standard errors — at 10,000 rows a 0.5-sd mean shift (g threshold 0.1, SE 0.014)
and a 5-point share change (threshold 0.015, SE ≈ 0.007) are both far past that.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from runstate.monitor.drift import DriftTest

__all__ = ["benjamini_hochberg", "decide"]


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """Benjamini–Hochberg adjusted p-values (q-values), in the input order."""
    m = len(p_values)
    if m == 0:
        return []
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 1.0
    for rank in range(m, 0, -1):
        index = order[rank - 1]
        running = min(running, p_values[index] * m / rank)
        adjusted[index] = min(1.0, running)
    return adjusted


def decide(
    tests: Sequence[DriftTest], thresholds: Sequence[float], alpha: float
) -> list[DriftTest]:
    """The tests with their q-value, threshold and flag set (see the module docstring)."""
    q_values = benjamini_hochberg([t.p_value for t in tests])
    return [
        replace(
            test,
            q_value=q,
            threshold=threshold,
            flagged=bool(q <= alpha and test.beyond(threshold)),
        )
        for test, q, threshold in zip(tests, q_values, thresholds, strict=True)
    ]
