"""One column's statistics, reduced chunk by chunk with NumPy sorts and counts."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from runstate.data.profile.codec import _Codec, _cut
from runstate.data.profile.coverage import _day_of, _DayCounter, _days_since_epoch
from runstate.data.profile.distinct import _counted, _Distinct, _runs, _small_range
from runstate.data.profile.families import _NUMERIC, _TOP_FAMILIES, _family_of
from runstate.data.profile.hashing import _hash_bytes_array, _hash_numbers, _hashes_of_chunks
from runstate.data.profile.hll import _hll_add, _hll_encode, _hll_new
from runstate.data.profile.model import ColumnProfile
from runstate.data.profile.moments import _combine_moments, _moment_fields
from runstate.data.profile.sketch import (
    _clean_knots,
    _knots_counted,
    _knots_sorted,
    _quantiles_of,
    _sketch_encode,
    _sketch_merge,
)

if TYPE_CHECKING:
    import pyarrow as pa  # type: ignore[import-untyped]


class _ColumnAccumulator:
    def __init__(self, arrow_field: pa.Field, top_k: int, exact_limit: int) -> None:
        import pyarrow as pa

        self.field = arrow_field
        value_type = arrow_field.type
        if pa.types.is_dictionary(value_type):
            value_type = value_type.value_type
        if isinstance(value_type, pa.ExtensionType):
            value_type = value_type.storage_type
        self.value_type = value_type
        self.family = _family_of(value_type)
        self.top_k = top_k
        self.codec = _Codec(value_type, self.family)
        self.scalar = not (self.family.startswith(("list<", "struct<")) or self.family == "null")
        self.count = 0
        self.nulls = 0
        self.nans = 0
        self.min: Any = None
        self.max: Any = None
        self.n = 0  # values in mean/std
        self.mean = 0.0
        self.m2 = 0.0
        self.sketches: list[tuple[int, Any]] = []
        self.days = _DayCounter() if self.family in ("date", "timestamp") else None
        self.bools = [0, 0]  # false, true
        hashed = self.family in ("string", "binary", "decimal")
        self.distinct = _Distinct(self.family in _TOP_FAMILIES, hashed, exact_limit)

    # -- per chunk --------------------------------------------------------------------

    def add(self, column: pa.ChunkedArray) -> None:
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        if pa.types.is_dictionary(column.type):
            column = column.cast(self.value_type)
        elif isinstance(column.type, pa.ExtensionType):
            column = pa.chunked_array([c.storage for c in column.chunks], type=self.value_type)
        nulls = column.null_count
        self.nulls += nulls
        self.count += len(column) - nulls
        if not self.scalar or len(column) == nulls:
            return
        valid = pc.drop_null(column) if nulls else column
        if self.family == "bool":
            trues = int(pc.sum(valid).as_py() or 0)
            self.bools[0] += len(valid) - trues
            self.bools[1] += trues
        elif self.family in ("string", "binary"):
            self._add_bytes(valid)
        elif self.family == "decimal":
            self._min_max(pc.min_max(valid))
            self._add_numbers(_numpy_of(valid.cast(pa.float64()), "float"), keys=False)
            hashes = _hashes_of_chunks(valid.cast(pa.string()))
            self.distinct.add(*_runs(np.sort(hashes)))
        else:
            values = _numpy_of(valid, self.family)
            if self.family == "float":
                nan = values != values
                nans = int(nan.sum())
                if nans:
                    self.nans += nans
                    values = values[~nan]
            if values.size:
                self._add_numbers(values, keys=True)

    def _add_numbers(self, values: Any, *, keys: bool) -> None:
        """Numbers (ints, floats, temporal storage): min/max, moments, quantiles, distinct."""
        import numpy as np

        family = self.family
        numeric = family in _NUMERIC
        wants_runs = keys and (self.distinct.exact or self.distinct.keep_top)
        dense = _small_range(values) if keys else None
        distinct = counts = ordered = None
        if dense is not None:
            distinct, counts = _counted(values, dense[0])
        elif numeric or wants_runs:
            ordered = np.sort(values)
            if wants_runs:
                distinct, counts = _runs(ordered)
        if keys:
            low = (
                distinct[0]
                if distinct is not None
                else (ordered[0] if ordered is not None else values.min())
            )
            high = (
                distinct[-1]
                if distinct is not None
                else (ordered[-1] if ordered is not None else values.max())
            )
            self._min_max_values(low.item(), high.item())
        if numeric:
            n = int(values.size)
            with np.errstate(invalid="ignore", over="ignore"):
                mean = float(values.mean(dtype=np.float64))
                deviation = values.astype(np.float64)  # one temporary, reused in place
                deviation -= mean
                np.square(deviation, out=deviation)  # not np.dot: no BLAS threads here
                m2 = float(deviation.sum())
            self.n, self.mean, self.m2 = _combine_moments(self.n, self.mean, self.m2, n, mean, m2)
            if ordered is not None:
                knots = _knots_sorted(ordered)
            else:
                knots = _knots_counted(distinct, counts)
            knots = _clean_knots(knots)
            if knots is not None:
                self.sketches.append((n, knots))
                if len(self.sketches) >= 32:
                    self.sketches = [_sketch_merge(self.sketches)]
        if self.days is not None:
            self._add_days(values)
        if keys:
            if distinct is not None:
                self.distinct.add(distinct, counts)
            else:
                self.distinct.add_hashes(values)

    def _add_bytes(self, valid: pa.ChunkedArray) -> None:
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        sample = valid.slice(0, 8192)
        if pc.count_distinct(sample).as_py() * 4 <= len(sample):  # few distinct: count them
            counted = pc.value_counts(valid)
            values, counts = counted.field("values"), counted.field("counts").to_numpy()
            if self.family == "string":
                self._min_max(pc.min_max(values))
            hashes = _hash_bytes_array(values)
            order = np.argsort(hashes)
            keys, key_counts = hashes[order], counts[order]
            if self.distinct.keep_top:
                named = set(self.distinct.candidates(keys, key_counts).tolist())
                for key, value in zip(hashes.tolist(), values.to_pylist(), strict=True):
                    if key in named and key not in self.distinct.names:
                        self.distinct.names[key] = value
            self.distinct.add(keys, key_counts)
            self.distinct.trim_names()
            return
        if self.family == "string":
            self._min_max(pc.min_max(valid))
        hashes = _hashes_of_chunks(valid)
        if not (self.distinct.exact or self.distinct.keep_top):
            self.distinct.add_hashes(hashes)
            return
        keys, key_counts = _runs(np.sort(hashes))
        if self.distinct.keep_top:
            wanted = self.distinct.candidates(keys, key_counts)
            wanted = wanted[[key not in self.distinct.names for key in wanted.tolist()]]
            if wanted.size:
                wanted = np.sort(wanted)
                slot = np.minimum(np.searchsorted(wanted, hashes), wanted.size - 1)
                hit = np.flatnonzero(wanted[slot] == hashes)
                first = np.unique(slot[hit], return_index=True)[1]
                rows = hit[first]
                values = valid.take(pa.array(rows)).to_pylist()
                for key, value in zip(hashes[rows].tolist(), values, strict=True):
                    self.distinct.names[key] = value
        self.distinct.add(keys, key_counts)
        self.distinct.trim_names()

    def _min_max(self, result: Any) -> None:
        low, high = result["min"].as_py(), result["max"].as_py()
        if low is not None:
            self._min_max_values(low, high)

    def _min_max_values(self, low: Any, high: Any) -> None:
        if self.min is None or low < self.min:
            self.min = low
        if self.max is None or high > self.max:
            self.max = high

    def _add_days(self, values: Any) -> None:
        import numpy as np

        assert self.days is not None
        self.days.add(_days_since_epoch(values, self.value_type).astype(np.int64, copy=False))

    # -- the result -------------------------------------------------------------------

    def finish(self, histogram_bins: int) -> ColumnProfile:
        profile = ColumnProfile(
            name=self.field.name,
            type=str(self.field.type),
            family=self.family,
            nullable=bool(self.field.nullable),
            count=self.count,
            nulls=self.nulls,
            nans=self.nans if self.family == "float" else None,
        )
        if not self.scalar:
            return profile
        if self.family == "bool":
            return replace(profile, **self._bool_fields())
        changes: dict[str, Any] = {}
        if self.family != "binary":
            changes["min"] = self.codec.to_json(self.min)
            changes["max"] = self.codec.to_json(self.max)
        distinct, exact, registers, pairs = self.distinct.finish(self.top_k)
        changes.update(distinct=distinct, distinct_exact=exact, hll=_hll_encode(registers))
        if self.distinct.keep_top:
            top: list[list[Any]] = []
            for key, count in pairs:
                if self.distinct.hashed:
                    if key not in self.distinct.names:
                        exact = False
                        continue
                    value = self.distinct.names[key]
                else:
                    value = key
                top.append([_cut(value) if isinstance(value, str) else value, int(count)])
            top.sort(key=lambda pair: (-pair[1], str(pair[0])))
            changes.update(top_values=top, top_exact=exact)
        if self.family in _NUMERIC:
            changes.update(_moment_fields(self.n, self.mean, self.m2))
            _, knots = _sketch_merge(self.sketches)
            if knots is not None:
                changes.update(quantiles=_quantiles_of(knots), sketch=_sketch_encode(knots))
        if self.days is not None and self.min is not None:
            first, last = _day_of(self.min, self.value_type), _day_of(self.max, self.value_type)
            changes["histogram"] = self.days.histogram(first, last, histogram_bins)
        return replace(profile, **changes)

    def _bool_fields(self) -> dict[str, Any]:
        import numpy as np

        falses, trues = self.bools
        present = [value for value, count in ((False, falses), (True, trues)) if count]
        registers = _hll_new()
        if present:
            _hll_add(registers, _hash_numbers(np.asarray(present, dtype=np.int64)))
        top = sorted(
            ([value, count] for value, count in ((False, falses), (True, trues)) if count > 1),
            key=lambda pair: (-pair[1], pair[0]),
        )
        return {
            "min": present[0] if present else None,
            "max": present[-1] if present else None,
            "distinct": len(present),
            "distinct_exact": True,
            "hll": _hll_encode(registers),
            "top_values": top[: self.top_k],
            "top_exact": True,
        }


def _numpy_of(values: pa.ChunkedArray, family: str) -> Any:
    """A column chunk without nulls as NumPy: int64 (uint64 for unsigned 64-bit), float64,
    or the int64 storage of dates, times, timestamps and durations."""
    import numpy as np
    import pyarrow as pa

    arrow_type = values.type
    if family == "float":
        target = pa.float64()
    elif pa.types.is_uint64(arrow_type):
        target = pa.uint64()
    else:
        target = pa.int64()
    chunks = []
    for chunk in values.chunks:
        if family in ("date", "time", "timestamp", "duration"):
            width = chunk.type.bit_width
            chunk = chunk.view(pa.int32() if width == 32 else pa.int64())
        if not chunk.type.equals(target):
            chunk = chunk.cast(target)
        chunks.append(chunk.to_numpy(zero_copy_only=False))
    if not chunks:
        return np.zeros(0, dtype=target.to_pandas_dtype())
    return chunks[0] if len(chunks) == 1 else np.concatenate(chunks)
