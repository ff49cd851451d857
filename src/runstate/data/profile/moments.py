"""Count, mean and sum of squared deviations: combined across chunks and profiles."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from runstate.data.profile.codec import _float_of, _json_float

if TYPE_CHECKING:
    from runstate.data.profile.model import ColumnProfile


def _combine_moments(
    n_a: int, mean_a: float, m2_a: float, n_b: int, mean_b: float, m2_b: float
) -> tuple[int, float, float]:
    """Chan et al.'s parallel update of (n, mean, sum of squared deviations)."""
    if n_a == 0:
        return n_b, mean_b, m2_b
    if n_b == 0:
        return n_a, mean_a, m2_a
    n = n_a + n_b
    delta = mean_b - mean_a
    if math.isfinite(delta):
        mean = mean_a + delta * n_b / n
        m2 = m2_a + m2_b + delta * delta * n_a * n_b / n
    else:
        mean = mean_a + mean_b  # inf + inf = inf, inf - inf = nan: what the data says
        m2 = math.nan
    return n, mean, m2


def _moment_fields(n: int, mean: float, m2: float) -> dict[str, Any]:
    if n == 0:
        return {}
    std = math.sqrt(m2 / (n - 1)) if n > 1 and m2 >= 0 else (0.0 if n == 1 else math.nan)
    return {"mean": _json_float(mean), "std": _json_float(std)}


def _moments_of(profile: ColumnProfile, n: int) -> tuple[float, float]:
    if n == 0 or profile.mean is None:
        return 0.0, 0.0
    mean = _float_of(profile.mean)
    std = _float_of(profile.std) if profile.std is not None else 0.0
    return mean, std * std * (n - 1)
