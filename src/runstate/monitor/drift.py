"""Drift tests of one column: effect sizes with confidence intervals, p-values, familiar scores.

Two samples — the baseline's (``a``) and the current run's (``b``) — are compared by type:

**Numeric** (two tests, each flagged on its own):

* ``mean_shift``: Hedges' *g* (the standardised mean difference with the small-sample
  correction), its analytic CI ``g ± z·SE``, ``SE = sqrt((n_a+n_b)/(n_a·n_b) + g²/(2(n_a+n_b)))``,
  and Welch's t-test p-value;
* ``shape``: the Kolmogorov–Smirnov distance *D* (largest gap between the two empirical
  CDFs), its asymptotic p-value, and a conservative CI from the Dvoretzky–Kiefer–Wolfowitz
  inequality: ``D ± (ε_a + ε_b)``, ``ε_n = sqrt(ln(4/α_ci)/(2n))`` — the true distance lies in
  it with probability at least the confidence, whatever the distributions are.

**Categorical** (strings, booleans): ``share_change``: the largest absolute change in one
category's share (the category is named), with the normal-approximation CI of that
difference of proportions, and the chi-square test of the whole contingency table
(categories beyond the 30 most frequent are pooled into ``(other)``). Cramér's V and
Cohen's h of that category are reported too.

Shown for familiarity, never used to flag: PSI (10 baseline-decile bins for numbers, one
bin per category; a 1e-4 floor on empty bins) and the Wasserstein-1 distance divided by the
baseline's standard deviation.

Every result is a :class:`DriftTest`. Whether it is *flagged* is decided later
(:func:`runstate.monitor.fdr.decide`), after the p-values of all tests of a check are
corrected together (Benjamini–Hochberg).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

__all__ = ["DriftTest", "categorical_drift", "numeric_drift"]

MAX_CATEGORIES = 30
_PSI_FLOOR = 1e-4


def _finite(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(value)


@dataclass(frozen=True)
class DriftTest:
    """One drift test of one column; ``effect`` and its interval are signed where it applies."""

    test: str  # mean_shift | shape | share_change
    effect_name: str  # hedges_g | ks_d | share_diff
    effect: float
    ci_low: float
    ci_high: float
    p_value: float
    n_a: int
    n_b: int
    extra: dict[str, Any] = field(default_factory=dict)
    q_value: float | None = None
    threshold: float | None = None
    flagged: bool = False

    def beyond(self, threshold: float) -> bool:
        """Whether the whole interval lies beyond ``threshold`` in absolute value."""
        if self.ci_low > 0:
            return self.ci_low > threshold
        if self.ci_high < 0:
            return -self.ci_high > threshold
        return False

    def to_dict(self) -> dict[str, Any]:
        return {
            "test": self.test,
            "effect_name": self.effect_name,
            "effect": _finite(self.effect),
            "ci": [_finite(self.ci_low), _finite(self.ci_high)],
            "p_value": _finite(self.p_value),
            "q_value": _finite(self.q_value),
            "threshold": self.threshold,
            "flagged": self.flagged,
            "n": [self.n_a, self.n_b],
            **{k: (_finite(v) if isinstance(v, float) else v) for k, v in self.extra.items()},
        }


def _z(confidence: float) -> float:
    from scipy.special import ndtri  # type: ignore[import-untyped]

    return float(ndtri(0.5 + confidence / 2))


def _psi(p: np.ndarray, q: np.ndarray) -> float:
    import numpy as np

    p = np.maximum(p, _PSI_FLOOR)
    q = np.maximum(q, _PSI_FLOOR)
    return float(np.sum((q - p) * np.log(q / p)))


def numeric_drift(a: np.ndarray, b: np.ndarray, confidence: float = 0.95) -> list[DriftTest]:
    """``mean_shift`` and ``shape`` tests of two float64 samples (no NaN)."""
    import numpy as np
    from scipy import special, stats  # type: ignore[import-untyped]

    n_a, n_b = len(a), len(b)
    z = _z(confidence)
    mean_a, mean_b = float(a.mean()), float(b.mean())
    var_a = float(a.var(ddof=1)) if n_a > 1 else 0.0
    var_b = float(b.var(ddof=1)) if n_b > 1 else 0.0
    pooled = math.sqrt(((n_a - 1) * var_a + (n_b - 1) * var_b) / max(1, n_a + n_b - 2))
    if pooled > 0:
        d = (mean_b - mean_a) / pooled
        g = d * (1 - 3 / (4 * (n_a + n_b) - 9))
        se = math.sqrt((n_a + n_b) / (n_a * n_b) + g * g / (2 * (n_a + n_b)))
        welch_se = math.sqrt(var_a / n_a + var_b / n_b)
        t = (mean_b - mean_a) / welch_se if welch_se > 0 else 0.0
        dof_num = (var_a / n_a + var_b / n_b) ** 2
        dof_den = (var_a / n_a) ** 2 / max(1, n_a - 1) + (var_b / n_b) ** 2 / max(1, n_b - 1)
        dof = dof_num / dof_den if dof_den > 0 else n_a + n_b - 2
        p_mean = float(2 * stats.t.sf(abs(t), dof))
        g_lo, g_hi = g - z * se, g + z * se
    elif mean_a == mean_b:
        g, g_lo, g_hi, p_mean = 0.0, 0.0, 0.0, 1.0
    else:  # two different constants
        g = math.copysign(math.inf, mean_b - mean_a)
        g_lo = g_hi = g
        p_mean = 0.0
    # Kolmogorov-Smirnov D on the pooled sorted values
    sa, sb = np.sort(a), np.sort(b)
    grid = np.concatenate([sa, sb])
    cdf_a = np.searchsorted(sa, grid, side="right") / n_a
    cdf_b = np.searchsorted(sb, grid, side="right") / n_b
    ks = float(np.max(np.abs(cdf_a - cdf_b)))
    en = n_a * n_b / (n_a + n_b)
    p_ks = float(special.kolmogorov(ks * math.sqrt(en))) if ks > 0 else 1.0
    alpha_ci = 1 - confidence
    eps = math.sqrt(math.log(4 / alpha_ci) / (2 * n_a)) + math.sqrt(
        math.log(4 / alpha_ci) / (2 * n_b)
    )
    # familiar scores: PSI on baseline deciles, Wasserstein-1 over the baseline std
    edges = np.unique(np.quantile(sa, np.linspace(0.1, 0.9, 9)))
    bins_a = np.bincount(np.searchsorted(edges, sa, side="right"), minlength=len(edges) + 1)
    bins_b = np.bincount(np.searchsorted(edges, sb, side="right"), minlength=len(edges) + 1)
    psi = _psi(bins_a / n_a, bins_b / n_b)
    ranks = np.linspace(0, 1, min(2001, max(n_a, n_b)))
    wasserstein = float(np.mean(np.abs(np.quantile(sa, ranks) - np.quantile(sb, ranks))))
    std_a = math.sqrt(var_a)
    extra = {
        "mean": [mean_a, mean_b],
        "std": [std_a, math.sqrt(var_b)],
        "psi": psi,
        "wasserstein_norm": wasserstein / std_a if std_a > 0 else None,
    }
    return [
        DriftTest("mean_shift", "hedges_g", g, g_lo, g_hi, p_mean, n_a, n_b, dict(extra)),
        DriftTest(
            "shape",
            "ks_d",
            ks,
            max(0.0, ks - eps),
            min(1.0, ks + eps),
            p_ks,
            n_a,
            n_b,
            dict(extra),
        ),
    ]


def _value_counts(values: Any) -> dict[Any, int]:
    import pyarrow as pa  # type: ignore[import-untyped]
    import pyarrow.compute as pc  # type: ignore[import-untyped]

    array = values if isinstance(values, (pa.Array, pa.ChunkedArray)) else pa.array(values)
    counted = pc.value_counts(array.drop_null())
    return dict(
        zip(
            counted.field("values").to_pylist(),
            counted.field("counts").to_pylist(),
            strict=True,
        )
    )


def categorical_drift(a: Any, b: Any, confidence: float = 0.95) -> DriftTest:
    """``share_change`` test of two samples of category labels (Arrow arrays or sequences;
    nulls are left out: the null rate is a quality check of its own)."""
    import numpy as np
    from scipy import stats  # type: ignore[import-untyped]

    totals: dict[Any, list[int]] = {}
    for value, count in _value_counts(a).items():
        totals.setdefault(value, [0, 0])[0] = count
    for value, count in _value_counts(b).items():
        totals.setdefault(value, [0, 0])[1] = count
    ranked = sorted(totals.items(), key=lambda item: (-(item[1][0] + item[1][1]), str(item[0])))
    labels = [str(value) for value, _ in ranked[:MAX_CATEGORIES]]
    table = [list(pair) for _, pair in ranked[:MAX_CATEGORIES]]
    if len(ranked) > MAX_CATEGORIES:
        rest = ranked[MAX_CATEGORIES:]
        labels.append("(other)")
        table.append([sum(p[0] for _, p in rest), sum(p[1] for _, p in rest)])
    counts = np.array(table, dtype=np.float64)  # K x 2
    n_a, n_b = int(counts[:, 0].sum()), int(counts[:, 1].sum())
    share_a, share_b = counts[:, 0] / n_a, counts[:, 1] / n_b
    diff = share_b - share_a
    index = int(np.argmax(np.abs(diff)))
    delta = float(diff[index])
    pa_, pb_ = float(share_a[index]), float(share_b[index])
    se = math.sqrt(pa_ * (1 - pa_) / n_a + pb_ * (1 - pb_) / n_b)
    z = _z(confidence)
    if len(labels) > 1:
        chi2, p_value, _, _ = stats.chi2_contingency(counts.T, correction=False)
        cramers_v = math.sqrt(float(chi2) / (n_a + n_b))
    else:
        p_value, cramers_v = 1.0, 0.0
    cohens_h = 2 * math.asin(math.sqrt(pb_)) - 2 * math.asin(math.sqrt(pa_))
    shares = [
        {"value": label, "share_a": float(x), "share_b": float(y)}
        for label, x, y in zip(labels, share_a, share_b, strict=True)
    ]
    extra = {
        "category": labels[index],
        "share": [pa_, pb_],
        "cramers_v": cramers_v,
        "cohens_h": cohens_h,
        "psi": _psi(share_a, share_b),
        "shares": shares[: MAX_CATEGORIES + 1],
    }
    return DriftTest(
        "share_change",
        "share_diff",
        delta,
        delta - z * se,
        delta + z * se,
        float(p_value),
        n_a,
        n_b,
        extra,
    )
