"""Quantile sketches: a chunk's quantile function kept at the GRID ranks (denser in the
tails); the mixture of several is inverted to merge them."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

from runstate.data.profile.codec import _json_float

QUANTILES = {
    "p01": 0.01,
    "p05": 0.05,
    "p25": 0.25,
    "p50": 0.5,
    "p75": 0.75,
    "p95": 0.95,
    "p99": 0.99,
}
# Ranks at which a chunk's quantile function is kept (denser in the tails).
GRID = (
    0.0, 0.001, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4,
    0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.925, 0.95, 0.97, 0.98, 0.99,
    0.995, 0.999, 1.0,
)  # fmt: skip


def _sketch_merge(parts: Sequence[tuple[int, Any]]) -> tuple[int, Any]:
    import numpy as np

    parts = [(n, knots) for n, knots in parts if n > 0]
    if not parts:
        return 0, None
    if len(parts) == 1:
        return parts[0]
    grid = np.asarray(GRID)
    total = sum(n for n, _ in parts)
    xs = np.unique(np.concatenate([knots for _, knots in parts]))
    cdf = np.zeros_like(xs)
    for n, knots in parts:
        cdf += n * _cdf(knots, grid, xs)
    cdf /= total
    knots = np.interp(grid, cdf, xs)
    knots[0], knots[-1] = xs[0], xs[-1]
    return total, knots


def _cdf(knots: Any, grid: Any, xs: Any) -> Any:
    """The piecewise-linear CDF through (knots, grid) at xs; a repeated knot is a jump."""
    import numpy as np

    values, last = np.unique(knots[::-1], return_index=True)
    ranks = grid[::-1][last]  # the highest rank at which each distinct knot appears
    return np.interp(xs, values, ranks, left=0.0, right=1.0)


def _sketch_encode(knots: Any) -> str:
    import numpy as np

    return base64.b64encode(np.asarray(knots, dtype="<f8").tobytes()).decode("ascii")


def _sketch_decode(text: str) -> Any:
    import numpy as np

    return np.frombuffer(base64.b64decode(text), dtype="<f8").copy()


def _quantiles_of(knots: Any) -> dict[str, float | str]:
    import numpy as np

    grid = np.asarray(GRID)
    return {name: _json_float(float(np.interp(q, grid, knots))) for name, q in QUANTILES.items()}


def _knots_sorted(ordered: Any) -> Any:
    """Exact quantiles (linear interpolation, as NumPy's default) of sorted values at GRID."""
    import numpy as np

    position = np.asarray(GRID) * (ordered.size - 1)
    below = np.floor(position).astype(np.intp)
    above = np.minimum(below + 1, ordered.size - 1)
    low = ordered[below].astype(np.float64)
    high = ordered[above].astype(np.float64)
    with np.errstate(invalid="ignore"):
        knots = low + (high - low) * (position - below)
    return np.where(below == above, low, knots)


def _knots_counted(values: Any, counts: Any) -> Any:
    """The same from distinct sorted values and their counts."""
    import numpy as np

    cumulative = np.cumsum(counts)
    n = int(cumulative[-1])
    position = np.asarray(GRID) * (n - 1)
    below = np.floor(position).astype(np.int64)
    above = np.minimum(below + 1, n - 1)
    low = values[np.searchsorted(cumulative, below, side="right")].astype(np.float64)
    high = values[np.searchsorted(cumulative, above, side="right")].astype(np.float64)
    return low + (high - low) * (position - below)


def _clean_knots(knots: Any) -> Any | None:
    """Knots without NaN/infinities (those only clamp the ends), non-decreasing."""
    import numpy as np

    finite = knots[np.isfinite(knots)]
    if not finite.size:
        return None
    knots = np.nan_to_num(knots, nan=finite[0], posinf=finite.max(), neginf=finite.min())
    return np.maximum.accumulate(knots)
