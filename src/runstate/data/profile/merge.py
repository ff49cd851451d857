"""Merging two profiles into the profile of the two tables together, as far as profiles
tell it (see the package docstring for what stays exact)."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from runstate.data.profile.codec import _Codec
from runstate.data.profile.coverage import _merge_histograms
from runstate.data.profile.families import _NUMERIC
from runstate.data.profile.hll import _hll_decode, _hll_encode, _hll_estimate, _hll_new
from runstate.data.profile.model import ColumnProfile, TableProfile
from runstate.data.profile.moments import _combine_moments, _moment_fields, _moments_of
from runstate.data.profile.sketch import (
    _quantiles_of,
    _sketch_decode,
    _sketch_encode,
    _sketch_merge,
)
from runstate.errors import UsageError

if TYPE_CHECKING:
    import pyarrow as pa  # type: ignore[import-untyped]


def merge_profiles(a: TableProfile, b: TableProfile) -> TableProfile:
    """The profile of the concatenation of the two tables, as far as profiles tell it.

    Both must have the same columns (by name and family). See the module docstring for
    which fields stay exact.
    """
    names_a = [c.name for c in a.columns]
    names_b = [c.name for c in b.columns]
    if sorted(names_a) != sorted(names_b):
        raise UsageError(
            f"cannot merge profiles of different columns: {', '.join(names_a)} vs"
            f" {', '.join(names_b)}"
        )
    merged_columns = tuple(_merge_column(c, b.column(c.name)) for c in a.columns)
    same_key = a.key == b.key and a.key is not None
    return TableProfile(
        rows=a.rows + b.rows,
        columns=merged_columns,
        key=a.key if same_key else None,
        key_nulls=_add(a.key_nulls, b.key_nulls) if same_key else None,
        key_duplicates=_add(a.key_duplicates, b.key_duplicates) if same_key else None,
        key_duplicate_rows=_add(a.key_duplicate_rows, b.key_duplicate_rows) if same_key else None,
        key_exact=False,
        merged=True,
    )


def _add(x: int | None, y: int | None) -> int | None:
    return None if x is None or y is None else x + y


def _merge_column(a: ColumnProfile, b: ColumnProfile) -> ColumnProfile:
    import numpy as np
    import pyarrow as pa

    if a.family != b.family:
        raise UsageError(
            f"cannot merge profiles: column {a.name!r} is {a.family} in one and {b.family} in"
            " the other"
        )
    arrow_type = _type_from_string(a.type)
    codec = _Codec(arrow_type if arrow_type is not None else pa.null(), a.family)
    changes: dict[str, Any] = {
        "type": a.type if a.type == b.type else a.family,
        "nullable": a.nullable or b.nullable,
        "count": a.count + b.count,
        "nulls": a.nulls + b.nulls,
        "nans": _add(a.nans, b.nans),
    }
    changes["min"] = _pick(a.min, b.min, codec, min)
    changes["max"] = _pick(a.max, b.max, codec, max)
    if a.hll is not None or b.hll is not None:
        registers = _hll_new()
        for side in (a, b):
            if side.hll is not None:
                registers = np.maximum(registers, _hll_decode(side.hll))
        changes.update(
            hll=_hll_encode(registers),
            distinct=_hll_estimate(registers),
            distinct_exact=False,
        )
    if a.family in _NUMERIC:
        n_a, n_b = a.count - (a.nans or 0), b.count - (b.nans or 0)
        n, mean, m2 = _combine_moments(n_a, *_moments_of(a, n_a), n_b, *_moments_of(b, n_b))
        changes.update(mean=None, std=None)
        changes.update(_moment_fields(n, mean, m2))
        parts = [
            (side_n, _sketch_decode(side.sketch))
            for side, side_n in ((a, n_a), (b, n_b))
            if side.sketch is not None
        ]
        _, knots = _sketch_merge(parts)
        if knots is not None:
            changes.update(quantiles=_quantiles_of(knots), sketch=_sketch_encode(knots))
    if a.top_values is not None or b.top_values is not None:
        changes.update(top_values=_merge_top(a.top_values, b.top_values, a), top_exact=False)
    if a.histogram is not None or b.histogram is not None:
        changes["histogram"] = _merge_histograms(a.histogram, b.histogram)
    return replace(a, **changes)


def _type_from_string(text: str) -> pa.DataType | None:
    """Enough of an Arrow type to format min/max again (unit and zone of temporal types)."""
    import re

    import pyarrow as pa

    match = re.match(r"^(timestamp|time32|time64|duration)\[(s|ms|us|ns)(?:, tz=(.+))?\]$", text)
    if match:
        kind, unit, zone = match.groups()
        if kind == "timestamp":
            return pa.timestamp(unit, tz=zone)
        if kind == "duration":
            return pa.duration(unit)
        return pa.time32(unit) if kind == "time32" else pa.time64(unit)
    return None


def _pick(x: Any, y: Any, codec: _Codec, choose: Any) -> Any:
    if x is None:
        return y
    if y is None:
        return x
    raw_x, raw_y = codec.from_json(x), codec.from_json(y)
    if isinstance(raw_x, float) and math.isnan(raw_x):
        return y
    if isinstance(raw_y, float) and math.isnan(raw_y):
        return x
    return x if choose(raw_x, raw_y) == raw_x else y


def _merge_top(
    a: list[list[Any]] | None, b: list[list[Any]] | None, column: ColumnProfile
) -> list[list[Any]]:
    totals: dict[Any, int] = {}
    keys: dict[Any, Any] = {}
    for pairs in (a or [], b or []):
        for value, count in pairs:
            marker = (type(value).__name__, value)
            keys[marker] = value
            totals[marker] = totals.get(marker, 0) + int(count)
    ranked = sorted(totals.items(), key=lambda item: (-item[1], str(item[0][1])))
    size = max(len(a or []), len(b or []))
    return [[keys[marker], count] for marker, count in ranked[:size]]
