"""Table profiles: schema and per-column statistics, small, JSON-safe, streaming, mergeable.

A :class:`TableProfile` is computed batch by batch (:func:`profile_table`) without holding the
table: batches are gathered into chunks of about a million rows and each chunk is reduced,
with NumPy sorts and counts (no per-row Python), into per-column summaries that merge;
columns are reduced on a few threads. It records:

* the **schema**: per column its name, Arrow type, logical family (``int``, ``string``,
  ``timestamp``, ``list<int>``, …; the same names as the table fingerprint) and nullability;
* per column: ``count`` (non-null values) and ``nulls`` (``count + nulls`` = rows), ``nans``
  for floats; ``distinct``; ``min``/``max``; for numbers and durations ``mean``/``std``
  (sample standard deviation, ``ddof=1``) and ``quantiles`` p01…p99; ``top_values`` for
  strings, integers and booleans; for dates and timestamps a time-coverage ``histogram`` by
  day (by blocks of 2^k days when the data spans more than 400 days) and its ``gaps``;
* for the key (one or more columns): ``key_nulls`` (rows with a null in a key column) and
  ``key_duplicates``: how many key values occur more than once and how many extra rows
  they bring (rows with a null key are left out of the duplicate count).

NaN is a value of a float column (counted in ``count`` and ``nans``) but is left out of
min/max, mean/std, quantiles, distinct and top values. Non-finite results are written as
the strings ``"NaN"``, ``"Infinity"`` and ``"-Infinity"`` so that every profile is valid JSON
(``json.dumps(..., allow_nan=False)``); timestamps are ISO 8601 strings (UTC ``Z`` for
zone-aware columns), dates ``YYYY-MM-DD``; strings longer than 100 characters are cut and end
with ``…``.

Exact and approximate — what a profile promises:

* exact: rows, count, nulls, nans, min, max, mean/std (up to float rounding), histogram
  counts and gaps, key nulls, and key duplicates (counted over 64-bit hashes of the key
  values: a collision — about 1 in 3·10^7 for 10^6 rows — could only add a duplicate; an
  integer key is hashed by a bijection, so it is exact);
* ``distinct`` is exact (``distinct_exact``) while the column has at most 1,000,000 distinct
  values (strings, binaries and decimals are told apart by 64-bit hashes), else a
  HyperLogLog estimate (2^10 registers: about 3% standard error);
* ``top_values`` (the values that occur more than once, most frequent first) are exact
  (``top_exact``) under the same limit; beyond it, each chunk's 1,000 most frequent values
  are merged into a counter capped at 1,000 values: a value frequent overall but never
  among a chunk's 1,000 most frequent is missed, and counts are lower bounds. A string
  is named from the chunks where it repeats: one that never repeats within a chunk (but
  does across chunks) cannot be named and is left out (``top_exact`` false);
* ``quantiles`` (linear interpolation, as NumPy's default) are exact for a table that fits
  in one chunk; across chunks (and in :func:`merge_profiles`) each chunk's quantile function
  is kept at 33 ranks (denser in the tails) and the mixture of them is inverted: typically
  within 0.5% of rank of the exact value.

After :func:`merge_profiles`: distinct always comes from the union of the HyperLogLog
registers (approximate), top values are merged from each side's list (approximate),
quantiles from the sketches (approximate), key duplicates become a lower bound
(``exact: false``: a key may occur once on each side); everything else stays exact.

The HyperLogLog hash (``runstate.hll/v1``) is written here with NumPy — a mix of the 64-bit
value for fixed-width types, a word-at-a-time mix of the UTF-8 bytes for strings — so
registers from two profiles merge whatever pyarrow or NumPy version computed them.
"""

from __future__ import annotations

import base64
import datetime as dt
import math
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from runstate.errors import UsageError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import pyarrow as pa  # type: ignore[import-untyped]

    U64 = npt.NDArray[np.uint64]

__all__ = [
    "PROFILE_SCHEMA",
    "ColumnProfile",
    "Histogram",
    "TableProfile",
    "merge_profiles",
    "profile_table",
]

PROFILE_SCHEMA = "runstate.profile/v1"
HLL_SCHEMA = "runstate.hll/v1"
HLL_P = 10  # 2^10 registers: ~3.2% standard error, ~0.5 KB per column once compressed
EXACT_DISTINCT_LIMIT = 1_000_000
TOP_CAP = 1_000  # values kept by the approximate top-value counter
MAX_BINS = 400
DAILY_SPAN = 400  # days: up to this span the histogram has one bin per day
STRING_CAP = 100  # characters kept of a string value (min, max, top values)
MAX_GAPS = 20  # gap ranges listed (their total is always given)
CHUNK_ROWS = 1 << 20
CHUNK_BYTES = 256 << 20
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

_DAY_NS = 86_400 * 10**9
_UNIT_NS = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}
_EPOCH = dt.datetime(1970, 1, 1)
_EPOCH_DATE = dt.date(1970, 1, 1)
_TOP_FAMILIES = ("int", "string", "bool")
_NUMERIC = ("int", "float", "decimal", "duration")


# ---------------------------------------------------------------------------------------
# Value objects


@dataclass(frozen=True)
class Histogram:
    """Row counts per bin of ``width_days`` days from ``start_day`` (days since 1970-01-01).

    Bin edges are multiples of ``width_days`` (a power of two) counted from 1970-01-01, so
    the histograms of two profiles of the same column merge exactly.
    """

    start_day: int
    width_days: int
    counts: tuple[int, ...]
    max_bins: int = 100

    def gaps(self) -> list[tuple[int, int]]:
        """Runs of empty bins as (first day, last day) inclusive, in days since 1970-01-01."""
        runs: list[tuple[int, int]] = []
        start: int | None = None
        for index, count in enumerate(self.counts):
            if count == 0 and start is None:
                start = index
            elif count != 0 and start is not None:
                runs.append(self._days(start, index))
                start = None
        if start is not None:
            runs.append(self._days(start, len(self.counts)))
        return runs

    def _days(self, first_bin: int, end_bin: int) -> tuple[int, int]:
        return (
            self.start_day + first_bin * self.width_days,
            self.start_day + end_bin * self.width_days - 1,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "unit": "day",
            "start": _iso_day(self.start_day),
            "width_days": self.width_days,
            "max_bins": self.max_bins,
            "counts": list(self.counts),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Histogram:
        return cls(
            _parse_day(str(data["start"])),
            int(data["width_days"]),
            tuple(int(c) for c in data["counts"]),
            int(data.get("max_bins", 100)),
        )


@dataclass(frozen=True)
class ColumnProfile:
    """Statistics of one column; fields that do not apply to its family are ``None``."""

    name: str
    type: str
    family: str
    nullable: bool
    count: int = 0
    nulls: int = 0
    nans: int | None = None
    distinct: int | None = None
    distinct_exact: bool = False
    hll: str | None = None
    min: Any = None
    max: Any = None
    mean: float | str | None = None
    std: float | str | None = None
    quantiles: dict[str, float | str] | None = None
    sketch: str | None = None
    top_values: list[list[Any]] | None = None
    top_exact: bool = False
    histogram: Histogram | None = None

    @property
    def gaps(self) -> list[tuple[int, int]]:
        return self.histogram.gaps() if self.histogram is not None else []

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "type": self.type,
            "family": self.family,
            "nullable": self.nullable,
            "count": self.count,
            "nulls": self.nulls,
        }
        optional = {
            "nans": self.nans,
            "distinct": self.distinct,
            "distinct_exact": self.distinct_exact if self.distinct is not None else None,
            "hll": self.hll,
            "min": self.min,
            "max": self.max,
            "mean": self.mean,
            "std": self.std,
            "quantiles": self.quantiles,
            "sketch": self.sketch,
            "top_values": self.top_values,
            "top_exact": self.top_exact if self.top_values is not None else None,
        }
        data.update({key: value for key, value in optional.items() if value is not None})
        if self.histogram is not None:
            data["histogram"] = self.histogram.to_dict()
            runs = self.gaps
            data["gaps"] = [
                {"from": _iso_day(first), "to": _iso_day(last), "days": last - first + 1}
                for first, last in runs[:MAX_GAPS]
            ]
            data["gap_ranges"] = len(runs)
            data["gap_days"] = sum(last - first + 1 for first, last in runs)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ColumnProfile:
        histogram = data.get("histogram")
        quantiles = data.get("quantiles")
        top = data.get("top_values")
        return cls(
            name=str(data["name"]),
            type=str(data["type"]),
            family=str(data["family"]),
            nullable=bool(data["nullable"]),
            count=int(data["count"]),
            nulls=int(data["nulls"]),
            nans=None if data.get("nans") is None else int(data["nans"]),
            distinct=None if data.get("distinct") is None else int(data["distinct"]),
            distinct_exact=bool(data.get("distinct_exact", False)),
            hll=data.get("hll"),
            min=data.get("min"),
            max=data.get("max"),
            mean=data.get("mean"),
            std=data.get("std"),
            quantiles=dict(quantiles) if quantiles is not None else None,
            sketch=data.get("sketch"),
            top_values=[list(pair) for pair in top] if top is not None else None,
            top_exact=bool(data.get("top_exact", False)),
            histogram=Histogram.from_dict(histogram) if histogram is not None else None,
        )


@dataclass(frozen=True)
class TableProfile:
    """The profile of a table; see the module docstring for what is exact."""

    rows: int
    columns: tuple[ColumnProfile, ...]
    key: tuple[str, ...] | None = None
    key_nulls: int | None = None
    key_duplicates: int | None = None  # key values occurring more than once
    key_duplicate_rows: int | None = None  # rows beyond the first of each such key value
    key_exact: bool = True
    merged: bool = field(default=False)

    def column(self, name: str) -> ColumnProfile:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)

    @property
    def table_schema(self) -> list[tuple[str, str, str, bool]]:
        """(name, Arrow type, logical family, nullable) per column."""
        return [(c.name, c.type, c.family, c.nullable) for c in self.columns]

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "schema": PROFILE_SCHEMA,
            "rows": self.rows,
            "columns": [column.to_dict() for column in self.columns],
            "key": list(self.key) if self.key is not None else None,
            "key_nulls": self.key_nulls,
            "key_duplicates": None,
            "merged": self.merged,
        }
        if self.key is not None and self.key_duplicates is not None:
            data["key_duplicates"] = {
                "keys": self.key_duplicates,
                "extra_rows": self.key_duplicate_rows,
                "exact": self.key_exact,
            }
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TableProfile:
        if data.get("schema") != PROFILE_SCHEMA:
            raise UsageError(f"not a {PROFILE_SCHEMA} document (schema: {data.get('schema')!r})")
        duplicates = data.get("key_duplicates")
        key = data.get("key")
        return cls(
            rows=int(data["rows"]),
            columns=tuple(ColumnProfile.from_dict(c) for c in data["columns"]),
            key=tuple(str(k) for k in key) if key is not None else None,
            key_nulls=None if data.get("key_nulls") is None else int(data["key_nulls"]),
            key_duplicates=int(duplicates["keys"]) if duplicates else None,
            key_duplicate_rows=int(duplicates["extra_rows"]) if duplicates else None,
            key_exact=bool(duplicates["exact"]) if duplicates else True,
            merged=bool(data.get("merged", False)),
        )


# ---------------------------------------------------------------------------------------
# Types


def _family_of(arrow_type: pa.DataType) -> str:
    """The logical family of an Arrow type, as docs/fingerprints.md names it."""
    import pyarrow as pa

    t = pa.types
    if isinstance(arrow_type, pa.ExtensionType):
        return _family_of(arrow_type.storage_type)
    if t.is_dictionary(arrow_type):
        return _family_of(arrow_type.value_type)
    if t.is_boolean(arrow_type):
        return "bool"
    if t.is_integer(arrow_type):
        return "int"
    if t.is_floating(arrow_type):
        return "float"
    if t.is_decimal(arrow_type):
        return "decimal"
    if t.is_string(arrow_type) or t.is_large_string(arrow_type) or _is(arrow_type, "string_view"):
        return "string"
    if (
        t.is_binary(arrow_type)
        or t.is_large_binary(arrow_type)
        or t.is_fixed_size_binary(arrow_type)
        or _is(arrow_type, "binary_view")
    ):
        return "binary"
    if t.is_date(arrow_type):
        return "date"
    if t.is_time(arrow_type):
        return "time"
    if t.is_timestamp(arrow_type):
        return "timestamp"
    if t.is_duration(arrow_type):
        return "duration"
    if t.is_map(arrow_type):
        key, item = _family_of(arrow_type.key_type), _family_of(arrow_type.item_type)
        return f"list<struct<key:{key},value:{item}>>"
    if (
        t.is_list(arrow_type)
        or t.is_large_list(arrow_type)
        or t.is_fixed_size_list(arrow_type)
        or _is(arrow_type, "list_view")
        or _is(arrow_type, "large_list_view")
    ):
        return f"list<{_family_of(arrow_type.value_type)}>"
    if t.is_struct(arrow_type):
        fields = sorted(
            (arrow_type.field(i) for i in range(arrow_type.num_fields)),
            key=lambda f: f.name.encode("utf-8"),
        )
        return "struct<" + ",".join(f"{f.name}:{_family_of(f.type)}" for f in fields) + ">"
    if t.is_null(arrow_type):
        return "null"
    return str(arrow_type)


def _is(arrow_type: pa.DataType, name: str) -> bool:
    import pyarrow as pa

    check = getattr(pa.types, f"is_{name}", None)
    return bool(check(arrow_type)) if check is not None else False


# ---------------------------------------------------------------------------------------
# JSON-safe values


def _json_float(value: float) -> float | str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return float(value)


def _float_of(value: Any) -> float:
    if isinstance(value, str):
        return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}[value]
    return float(value)


def _cut(text: str) -> str:
    return text if len(text) <= STRING_CAP else text[: STRING_CAP - 1] + "…"


def _iso_day(day: int) -> str:
    try:
        return (_EPOCH_DATE + dt.timedelta(days=day)).isoformat()
    except OverflowError:
        return f"{day}d"


def _parse_day(text: str) -> int:
    if text.endswith("d"):
        return int(text[:-1])
    return (dt.date.fromisoformat(text) - _EPOCH_DATE).days


def _iso_instant(value: int, unit: str, zoned: bool) -> str:
    per_second = 10**9 // _UNIT_NS[unit]
    seconds, fraction = divmod(value, per_second)
    try:
        text = (_EPOCH + dt.timedelta(seconds=seconds)).isoformat()
    except OverflowError:
        return f"{value}{unit}"
    digits = {"s": 0, "ms": 3, "us": 6, "ns": 9}[unit]
    if digits:
        text += f".{fraction:0{digits}d}"
    return text + ("Z" if zoned else "")


def _parse_instant(text: str, unit: str) -> int:
    if text.endswith(unit) and text[: -len(unit)].lstrip("-").isdigit():
        return int(text[: -len(unit)])
    body = text.removesuffix("Z")
    whole, _, fraction = body.partition(".")
    moment = dt.datetime.fromisoformat(whole)
    seconds = (moment - _EPOCH) // dt.timedelta(seconds=1)
    per_second = 10**9 // _UNIT_NS[unit]
    return seconds * per_second + (int(fraction) if fraction else 0)


def _iso_time(value: int, unit: str) -> str:
    per_second = 10**9 // _UNIT_NS[unit]
    seconds, fraction = divmod(value, per_second)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    digits = {"s": 0, "ms": 3, "us": 6, "ns": 9}[unit]
    text = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return text + (f".{fraction:0{digits}d}" if digits else "")


def _parse_time(text: str, unit: str) -> int:
    clock, _, fraction = text.partition(".")
    hours, minutes, secs = (int(part) for part in clock.split(":"))
    per_second = 10**9 // _UNIT_NS[unit]
    return (hours * 3600 + minutes * 60 + secs) * per_second + (int(fraction) if fraction else 0)


class _Codec:
    """Converts a column's raw min/max (Python values) to JSON and back, for comparisons."""

    def __init__(self, arrow_type: pa.DataType, family: str) -> None:
        self.family = family
        self.unit = getattr(arrow_type, "unit", "ns")
        self.zoned = getattr(arrow_type, "tz", None) is not None
        self.per_day = 86_400_000 if _is(arrow_type, "date64") else 1  # date64 is in ms

    def to_json(self, value: Any) -> Any:
        if value is None:
            return None
        if self.family == "timestamp":
            return _iso_instant(int(value), self.unit, self.zoned)
        if self.family == "date":
            return _iso_day(int(value) // self.per_day)
        if self.family == "time":
            return _iso_time(int(value), self.unit)
        if self.family == "float":
            return _json_float(float(value))
        if self.family == "decimal":
            return str(value)
        if self.family == "string":
            return _cut(str(value))
        if isinstance(value, (bool, int)):
            return value
        return str(value)

    def from_json(self, value: Any) -> Any:
        """A value that orders like the raw one (for min/max of merged profiles)."""
        if value is None:
            return None
        if self.family == "timestamp":
            return _parse_instant(str(value), self.unit)
        if self.family == "date":
            return _parse_day(str(value))
        if self.family == "time":
            return _parse_time(str(value), self.unit)
        if self.family == "float":
            return _float_of(value)
        if self.family == "decimal":
            from decimal import Decimal

            return Decimal(str(value))
        return value


# ---------------------------------------------------------------------------------------
# Hashing (runstate.hll/v1) and HyperLogLog

_SEED_LENGTH = 0x9E3779B97F4A7C15
_SEED_VALUE = 0x243F6A8885A308D3
_WORD_MULTIPLIER = 0xFF51AFD7ED558CCD


_BLOCK = 1 << 16  # values per step of the hashing loops: temporaries stay in cache


def _mix64_inplace(x: U64) -> U64:
    """SplitMix64's finaliser over a uint64 array, in place (wrapping arithmetic)."""
    import numpy as np

    shifted = np.empty(min(x.size, _BLOCK), dtype=np.uint64)
    for low in range(0, x.size, _BLOCK):
        part = x[low : low + _BLOCK]
        scratch = shifted[: part.size]
        np.right_shift(part, np.uint64(30), out=scratch)
        np.bitwise_xor(part, scratch, out=part)
        np.multiply(part, np.uint64(0xBF58476D1CE4E5B9), out=part)
        np.right_shift(part, np.uint64(27), out=scratch)
        np.bitwise_xor(part, scratch, out=part)
        np.multiply(part, np.uint64(0x94D049BB133111EB), out=part)
        np.right_shift(part, np.uint64(31), out=scratch)
        np.bitwise_xor(part, scratch, out=part)
    return x


def _hash_numbers(values: Any) -> U64:
    """64-bit hashes of int64/uint64/float64 values (floats: -0.0 already made +0.0)."""
    import numpy as np

    if values.dtype.kind == "f":
        values = values + 0.0  # -0.0 → +0.0 (NaN never reaches here)
    bits = np.ascontiguousarray(values).view(np.uint64) ^ np.uint64(_SEED_VALUE)
    return _mix64_inplace(bits)


def _hash_bytes_array(array: pa.Array) -> U64:
    """64-bit hashes of the values of a string/binary array without nulls.

    ``h = len * K0``; then for each 8-byte little-endian word ``w`` of the value (the last
    one zero-padded): ``h = (h ^ w) * K1; h ^= h >> 29``; finally SplitMix64's finaliser.
    Vectorised over blocks of values, one step per word position.
    """
    import numpy as np
    import pyarrow as pa

    if not pa.types.is_large_binary(array.type):
        array = array.cast(pa.large_binary())
    n = len(array)
    hashes = np.empty(n, dtype=np.uint64)
    if n == 0:
        return hashes
    buffers = array.buffers()
    offsets = np.frombuffer(buffers[1], dtype=np.int64)[array.offset : array.offset + n + 1]
    data = np.frombuffer(buffers[2], dtype=np.uint8) if buffers[2] is not None else None
    scratch = np.zeros(0, dtype=np.uint8)
    for low in range(0, n, _BLOCK):
        bounds = offsets[low : low + _BLOCK + 1]
        first, last = int(bounds[0]), int(bounds[-1])
        if scratch.size < last - first + 8:
            scratch = np.zeros(max(last - first + 8, 2 * scratch.size), dtype=np.uint8)
        if data is not None and last > first:
            scratch[: last - first] = data[first:last]
        scratch[last - first : last - first + 8] = 0
        words = np.ndarray(
            shape=(last - first + 1,), dtype="<u8", buffer=scratch.data, offset=0, strides=(1,)
        )
        _hash_block(words, bounds[:-1] - first, np.diff(bounds), hashes[low : low + _BLOCK])
    return _mix64_inplace(hashes)


def _hash_block(words: Any, starts: Any, lengths: Any, out: U64) -> None:
    import numpy as np

    np.multiply(lengths.astype(np.uint64), np.uint64(_SEED_LENGTH), out=out)
    nwords = (lengths + 7) >> 3
    multiplier = np.uint64(_WORD_MULTIPLIER)
    for position in range(int(nwords.max()) if nwords.size else 0):
        active = nwords > position
        index = None if active.all() else np.flatnonzero(active)
        begin = starts if index is None else starts[index]
        remaining = (lengths if index is None else lengths[index]) - 8 * position
        word = words[begin + 8 * position]
        # keep the low `remaining` bytes of a last, partial word: shift the others out and back
        drop = (np.uint64(8) * (np.uint64(8) - np.minimum(remaining, 8).astype(np.uint64))).astype(
            np.uint64
        )
        word <<= drop
        word >>= drop
        current = out if index is None else out[index]
        current ^= word
        current *= multiplier
        current ^= current >> np.uint64(29)
        if index is not None:
            out[index] = current


def _hll_new() -> Any:
    import numpy as np

    return np.zeros(1 << HLL_P, dtype=np.uint8)


def _hll_add(registers: Any, hashes: U64, *, ordered: bool = False) -> None:
    """Fold 64-bit hashes into HyperLogLog registers: the top HLL_P bits pick the register,
    the rank is 1 + the leading zeros of the other bits (capped at 64 - HLL_P + 1).

    The highest rank of a register comes from its smallest hash, so the hashes are sorted
    (unless ``ordered`` says they are) and only the first of each register's run is ranked.
    """
    import numpy as np

    if hashes.size == 0:
        return
    ordered_hashes = hashes if ordered else np.sort(hashes)
    q = 64 - HLL_P
    firsts = np.arange(1 << HLL_P, dtype=np.uint64) << np.uint64(q)
    bounds = np.searchsorted(ordered_hashes, firsts)
    inside = bounds < ordered_hashes.size
    registers_hit = np.flatnonzero(inside)
    smallest = ordered_hashes[bounds[inside]]
    same = (smallest >> np.uint64(q)) == registers_hit.astype(np.uint64)
    registers_hit, smallest = registers_hit[same], smallest[same]
    rest = (smallest << np.uint64(HLL_P)).tolist()
    ranks = np.array([min(65 - value.bit_length(), q + 1) for value in rest], dtype=np.uint8)
    np.maximum.at(registers, registers_hit, ranks)


def _hll_encode(registers: Any) -> str:
    return base64.b64encode(zlib.compress(registers.tobytes(), 9)).decode("ascii")


def _hll_decode(text: str) -> Any:
    import numpy as np

    raw = zlib.decompress(base64.b64decode(text))
    if len(raw) != 1 << HLL_P:
        raise UsageError(f"HyperLogLog registers of {len(raw)} bytes, expected {1 << HLL_P}")
    return np.frombuffer(raw, dtype=np.uint8).copy()


def _hll_estimate(registers: Any) -> int:
    """Ertl's improved estimator ("New cardinality estimation algorithms for HyperLogLog
    sketches", 2017): unbiased from 0 up, without empirical bias tables."""
    import numpy as np

    m = registers.size
    q = 64 - HLL_P
    histogram = np.bincount(registers, minlength=q + 2).astype(np.float64)

    def sigma(x: float) -> float:
        if x == 1.0:
            return math.inf
        y, z = 1.0, x
        while True:
            x *= x
            z_old = z
            z += x * y
            y += y
            if z == z_old:
                return z

    def tau(x: float) -> float:
        if x in (0.0, 1.0):
            return 0.0
        y, z = 1.0, 1.0 - x
        while True:
            x = math.sqrt(x)
            z_old = z
            y *= 0.5
            z -= (1.0 - x) ** 2 * y
            if z == z_old:
                return z / 3.0

    z = m * tau(1.0 - histogram[q + 1] / m)
    for k in range(q, 0, -1):
        z = 0.5 * (z + histogram[k])
    z += m * sigma(histogram[0] / m)
    if math.isinf(z):
        return 0
    return round(float(m * m / (2 * math.log(2)) / z))


# ---------------------------------------------------------------------------------------
# Quantile sketches: a chunk's quantile function at the GRID ranks; mixtures invert.


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


# ---------------------------------------------------------------------------------------
# Streaming accumulators


def _runs(ordered: Any) -> tuple[Any, Any]:
    """Distinct values of a sorted array and how often each occurs."""
    import numpy as np

    if ordered.size == 0:
        return ordered, np.zeros(0, dtype=np.int64)
    change = np.empty(ordered.size, dtype=bool)
    change[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=change[1:])
    starts = np.flatnonzero(change)
    counts = np.diff(np.append(starts, ordered.size))
    return ordered[starts], counts


def _small_range(values: Any) -> tuple[int, int] | None:
    """(low, high) when an integer array is dense enough to count with bincount."""
    if values.dtype.kind not in "iu" or values.size == 0:
        return None
    low, high = int(values.min()), int(values.max())
    span = high - low
    if span < max(values.size // 2, 1 << 16):
        return low, high
    return None


def _counted(values: Any, low: int) -> tuple[Any, Any]:
    import numpy as np

    shifted = (values - np.asarray(low, dtype=values.dtype)).astype(np.intp)
    counts = np.bincount(shifted)
    present = np.flatnonzero(counts)
    distinct = (present + low).astype(values.dtype)
    return distinct, counts[present]


class _DayCounter:
    """Row counts per block of 2^shift days, aligned to 1970-01-01, at most 2^15 blocks."""

    LIMIT = 1 << 15

    def __init__(self) -> None:
        self.shift = 0
        self.base = 0
        self.counts: Any = None

    def add(self, days: Any) -> None:
        import numpy as np

        if days.size == 0:
            return
        blocks = days >> self.shift
        low, high = int(blocks.min()), int(blocks.max())
        if self.counts is not None:
            low, high = min(low, self.base), max(high, self.base + self.counts.size - 1)
        while high - low + 1 > self.LIMIT:
            self._coarsen()
            blocks = blocks >> 1
            low, high = low >> 1, high >> 1
        counts = np.bincount(blocks - low, minlength=high - low + 1).astype(np.int64)
        if self.counts is not None:
            counts[self.base - low : self.base - low + self.counts.size] += self.counts
        self.base, self.counts = low, counts

    def _coarsen(self) -> None:
        import numpy as np

        self.shift += 1
        if self.counts is None:
            return
        blocks = (self.base + np.arange(self.counts.size)) >> 1
        start = int(blocks[0])
        self.counts = np.bincount(blocks - start, weights=self.counts).astype(np.int64)
        self.base = start

    def histogram(self, first_day: int, last_day: int, max_bins: int) -> Histogram | None:
        import numpy as np

        if self.counts is None:
            return None
        shift = self.shift
        if shift == 0 and last_day - first_day + 1 <= DAILY_SPAN:
            counts = self.counts[first_day - self.base : last_day - self.base + 1]
            return Histogram(first_day, 1, tuple(int(c) for c in counts), max_bins)
        while (last_day >> shift) - (first_day >> shift) + 1 > max_bins:
            shift += 1
        blocks = (self.base + np.arange(self.counts.size)) >> (shift - self.shift)
        start = first_day >> shift
        counts = np.bincount(
            blocks - start, weights=self.counts, minlength=(last_day >> shift) - start + 1
        )
        return Histogram(start << shift, 1 << shift, tuple(int(c) for c in counts), max_bins)


class _Distinct:
    """Distinct keys (values, or 64-bit hashes for strings, binaries and decimals) and their
    counts: exact up to EXACT_DISTINCT_LIMIT distinct keys, then HyperLogLog registers and
    a counter capped at TOP_CAP keys for the top values."""

    def __init__(self, keep_top: bool, hashed: bool) -> None:
        self.keep_top = keep_top
        self.hashed = hashed
        self.exact = True
        self.keys: Any = None  # sorted distinct keys (exact mode)
        self.counts: Any = None
        self.registers: Any = None  # HyperLogLog mode
        self.top: dict[Any, int] = {}
        self.names: dict[int, Any] = {}  # hashed keys → a value that has them (top candidates)

    def _hashes(self, keys: Any) -> U64:
        import numpy as np

        return keys.astype(np.uint64, copy=True) if self.hashed else _hash_numbers(keys)

    def add_hashes(self, values: Any) -> None:
        """HyperLogLog mode only: fold keys (duplicates allowed) without counting them."""
        _hll_add(self.registers, self._hashes(values))

    def add(self, keys: Any, counts: Any) -> None:
        """Merge a chunk's distinct sorted ``keys`` and their ``counts``."""
        import numpy as np

        if not self.exact:
            _hll_add(self.registers, self._hashes(keys), ordered=self.hashed)
            if self.keep_top:
                self._merge_top(keys, counts)
            return
        if self.keys is None:
            self.keys, self.counts = keys, counts.astype(np.int64)
        else:
            position = np.searchsorted(self.keys, keys)
            found = position < self.keys.size
            found[found] = self.keys[position[found]] == keys[found]
            self.counts[position[found]] += counts[found]  # keys are distinct: no repeats
            new = ~found
            if new.any():
                self.keys = np.insert(self.keys, position[new], keys[new])
                self.counts = np.insert(self.counts, position[new], counts[new])
        if self.keys.size > EXACT_DISTINCT_LIMIT:
            self.exact = False
            self.registers = _hll_new()
            _hll_add(self.registers, self._hashes(self.keys), ordered=self.hashed)
            if self.keep_top:
                self._merge_top(self.keys, self.counts)
            self.keys = self.counts = None

    def candidates(self, keys: Any, counts: Any) -> Any:
        """The keys of a chunk worth naming: its TOP_CAP most frequent that repeat."""
        import numpy as np

        repeated = np.flatnonzero(counts > 1)
        if repeated.size > TOP_CAP:
            best = np.argpartition(counts[repeated], -TOP_CAP)[-TOP_CAP:]
            repeated = repeated[best]
        return keys[repeated]

    def _merge_top(self, keys: Any, counts: Any) -> None:
        import numpy as np

        if keys.size > TOP_CAP:
            best = np.argpartition(counts, -TOP_CAP)[-TOP_CAP:]
            keys, counts = keys[best], counts[best]
        for key, count in zip(keys.tolist(), counts.tolist(), strict=True):
            self.top[key] = self.top.get(key, 0) + count
        if len(self.top) > 2 * TOP_CAP:
            kept = sorted(self.top.items(), key=lambda item: (-item[1], item[0]))[:TOP_CAP]
            self.top = dict(kept)

    def prune_names(self) -> None:
        """Forget the values of keys that are no longer among the TOP_CAP most frequent."""
        import numpy as np

        if self.exact and self.keys is not None:
            best = self.keys
            if self.keys.size > TOP_CAP:
                best = self.keys[np.argpartition(self.counts, -TOP_CAP)[-TOP_CAP:]]
            keep = set(best.tolist())
        else:
            keep = set(self.top)
        self.names = {key: value for key, value in self.names.items() if key in keep}

    def finish(self, top_k: int) -> tuple[int, bool, Any, list[tuple[Any, int]]]:
        """(distinct, exact, registers, the top_k (key, count) pairs that repeat)."""
        import numpy as np

        if self.exact:
            registers = _hll_new()
            if self.keys is None:
                return 0, True, registers, []
            _hll_add(registers, self._hashes(self.keys), ordered=self.hashed)
            pairs: list[tuple[Any, int]] = []
            if self.keep_top and top_k:
                repeated = np.flatnonzero(self.counts > 1)
                if repeated.size > top_k:  # the top_k counts and every tie of the last one
                    threshold = np.partition(self.counts[repeated], -top_k)[-top_k]
                    repeated = repeated[self.counts[repeated] >= threshold]
                keys, counts = self.keys[repeated], self.counts[repeated]
                order = np.lexsort((keys, -counts))[:top_k]  # ties: the smaller key first
                pairs = list(zip(keys[order].tolist(), counts[order].tolist(), strict=True))
            return int(self.keys.size), True, registers, pairs
        ranked = sorted(self.top.items(), key=lambda item: (-item[1], item[0]))
        pairs = [(key, count) for key, count in ranked if count > 1][:top_k]
        return _hll_estimate(self.registers), False, self.registers, pairs


class _ColumnAccumulator:
    def __init__(self, arrow_field: pa.Field, top_k: int) -> None:
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
        self.distinct = _Distinct(self.family in _TOP_FAMILIES, hashed)

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
            if len(self.distinct.names) > 20 * TOP_CAP:
                self.distinct.prune_names()
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
        if len(self.distinct.names) > 20 * TOP_CAP:
            self.distinct.prune_names()

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

        if self.family == "date":
            days = values if not _is(self.value_type, "date64") else values // 86_400_000
        else:
            days = values // (_DAY_NS // _UNIT_NS[self.value_type.unit])
        assert self.days is not None
        self.days.add(days.astype(np.int64, copy=False))

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


def _hashes_of_chunks(values: pa.ChunkedArray) -> U64:
    import numpy as np

    parts = [_hash_bytes_array(chunk) for chunk in values.chunks if len(chunk)]
    if not parts:
        return np.zeros(0, dtype=np.uint64)
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


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


def _day_of(value: int, arrow_type: pa.DataType) -> int:
    import pyarrow as pa

    if pa.types.is_date32(arrow_type):
        return int(value)
    if pa.types.is_date64(arrow_type):
        return int(value) // 86_400_000
    return int(value) // (_DAY_NS // _UNIT_NS[arrow_type.unit])


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


class _KeyAccumulator:
    """Key nulls and duplicates: a 64-bit hash per non-null key, sorted and counted at the end
    (8 bytes per row)."""

    def __init__(self, key: Sequence[str], schema: pa.Schema) -> None:
        import pyarrow as pa

        self.key = list(key)
        self.families = []
        for name in self.key:
            arrow_type = schema.field(name).type
            if pa.types.is_dictionary(arrow_type):
                arrow_type = arrow_type.value_type
            family = _family_of(arrow_type)
            if family.startswith(("list<", "struct<")) or family == "null":
                raise UsageError(f"key column {name!r} has type {arrow_type}: a key must be scalar")
            self.families.append(family)
        self.nulls = 0
        self.hashes: list[Any] = []

    def add(self, table: pa.Table) -> None:
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        columns = [table.column(name) for name in self.key]
        columns = [
            c.cast(c.type.value_type) if pa.types.is_dictionary(c.type) else c for c in columns
        ]
        if any(c.null_count for c in columns):
            valid = pc.is_valid(columns[0])
            for column in columns[1:]:
                valid = pc.and_(valid, pc.is_valid(column))
            kept = int(pc.sum(valid).as_py() or 0)
            self.nulls += len(table) - kept
            columns = [column.filter(valid) for column in columns]
        combined: Any = None
        for column, family in zip(columns, self.families, strict=True):
            if family in ("string", "binary"):
                hashes = _hashes_of_chunks(column)
            elif family == "decimal":
                hashes = _hashes_of_chunks(column.cast(pa.string()))
            elif family == "bool":
                hashes = _hash_numbers(_numpy_of(column.cast(pa.int64()), "int"))
            else:
                values = _numpy_of(column, family)
                hashes = _hash_numbers(values)
            combined = (
                hashes if combined is None else _mix64_inplace(combined * np.uint64(31) + hashes)
            )
        if combined is not None and combined.size:
            self.hashes.append(combined)

    def finish(self) -> tuple[int, int, int]:
        """(null keys, duplicated key values, extra rows)."""
        import numpy as np

        if not self.hashes:
            return self.nulls, 0, 0
        everything = np.concatenate(self.hashes) if len(self.hashes) > 1 else self.hashes[0]
        self.hashes = []
        everything.sort()
        if everything.size < 2:
            return self.nulls, 0, 0
        again = everything[1:] == everything[:-1]  # a row whose key the previous row has
        extra_rows = int(np.count_nonzero(again))
        first_repeats = np.count_nonzero(again[1:] & ~again[:-1]) + int(again[0])
        return self.nulls, int(first_repeats), extra_rows


# ---------------------------------------------------------------------------------------
# Entry points


def _chunks(batches: Iterator[pa.RecordBatch], schema: pa.Schema) -> Iterator[pa.Table]:
    """Batches gathered into tables of about CHUNK_ROWS rows (or CHUNK_BYTES bytes)."""
    import pyarrow as pa

    gathered: list[pa.RecordBatch] = []
    rows = size = 0
    for batch in batches:
        if batch.num_rows == 0:
            continue
        gathered.append(batch)
        rows += batch.num_rows
        size += batch.nbytes
        if rows >= CHUNK_ROWS or size >= CHUNK_BYTES:
            yield pa.Table.from_batches(gathered, schema=schema)
            gathered, rows, size = [], 0, 0
    if gathered:
        yield pa.Table.from_batches(gathered, schema=schema)


def _as_batches(data: Any, schema: pa.Schema | None) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    import pyarrow as pa

    if isinstance(data, pa.Table):
        return data.schema, iter(data.to_batches(max_chunksize=CHUNK_ROWS))
    if isinstance(data, pa.RecordBatch):
        return data.schema, iter([data])
    if isinstance(data, pa.RecordBatchReader):
        return data.schema, iter(data)
    if hasattr(data, "batches") and hasattr(data, "schema"):  # a readers.TableReader
        return data.schema, iter(data.batches())
    if isinstance(data, Iterable):
        iterator = iter(data)
        first = next(iterator, None)
        if first is None:
            if schema is None:
                raise UsageError("no batches to profile and no schema= to say what the table is")
            return schema, iter(())
        if not isinstance(first, pa.RecordBatch):
            raise UsageError(f"expected Arrow record batches, got {type(first).__name__}")

        def chained() -> Iterator[pa.RecordBatch]:
            yield first
            yield from iterator

        return first.schema, chained()
    raise UsageError(
        f"cannot profile a {type(data).__name__}: expected an Arrow table, batch, reader or"
        " an iterable of record batches"
    )


def profile_table(
    data: Any,
    key: Sequence[str] | str | None = None,
    *,
    top_k: int = 10,
    histogram_bins: int = 100,
    schema: pa.Schema | None = None,
    threads: int | None = None,
) -> TableProfile:
    """Profile a table given as an Arrow Table/RecordBatch/RecordBatchReader, a
    :class:`~runstate.data.readers.TableReader`, or an iterable of record batches.

    ``key`` names the column(s) whose duplicates and nulls are counted. ``top_k`` values are
    kept per column (at most 100); ``histogram_bins`` caps the time-coverage bins when a date
    or timestamp column spans more than 400 days (at most 400). ``schema`` is needed only
    for an empty iterable of batches. Columns are profiled on ``threads`` threads (default:
    the CPU count, at most 4).
    """
    import os

    if not 0 <= top_k <= 100:
        raise UsageError(f"top_k must be between 0 and 100, got {top_k}")
    if not 1 <= histogram_bins <= MAX_BINS:
        raise UsageError(f"histogram_bins must be between 1 and {MAX_BINS}, got {histogram_bins}")
    table_schema, batches = _as_batches(data, schema)
    key_columns: list[str] | None = [key] if isinstance(key, str) else (list(key) if key else None)
    if key_columns is not None:
        missing = [name for name in key_columns if table_schema.get_field_index(name) < 0]
        if missing:
            raise UsageError(
                f"key column {missing[0]!r} is not in the table (columns:"
                f" {', '.join(table_schema.names)})"
            )
    columns = [_ColumnAccumulator(f, top_k) for f in table_schema]
    keys = _KeyAccumulator(key_columns, table_schema) if key_columns else None
    rows = 0
    workers = threads if threads is not None else min(4, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for chunk in _chunks(batches, table_schema):
            rows += chunk.num_rows
            jobs = [pool.submit(acc.add, chunk.column(i)) for i, acc in enumerate(columns)]
            if keys is not None:
                jobs.append(pool.submit(keys.add, chunk))
            for job in jobs:
                job.result()
        finished = list(pool.map(lambda acc: acc.finish(histogram_bins), columns))
    key_nulls = key_dups = key_rows = None
    if keys is not None:
        key_nulls, key_dups, key_rows = keys.finish()
    return TableProfile(
        rows=rows,
        columns=tuple(finished),
        key=tuple(key_columns) if key_columns else None,
        key_nulls=key_nulls,
        key_duplicates=key_dups,
        key_duplicate_rows=key_rows,
        key_exact=True,
    )


# ---------------------------------------------------------------------------------------
# Merging


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


def _moments_of(profile: ColumnProfile, n: int) -> tuple[float, float]:
    if n == 0 or profile.mean is None:
        return 0.0, 0.0
    mean = _float_of(profile.mean)
    std = _float_of(profile.std) if profile.std is not None else 0.0
    return mean, std * std * (n - 1)


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


def _merge_histograms(a: Histogram | None, b: Histogram | None) -> Histogram | None:
    if a is None or b is None:
        return a or b
    width = max(a.width_days, b.width_days)
    max_bins = max(a.max_bins, b.max_bins)
    counts: dict[int, int] = {}
    for histogram in (a, b):
        for index, count in enumerate(histogram.counts):
            day = histogram.start_day + index * histogram.width_days
            counts[day // width] = counts.get(day // width, 0) + count
    first_day = min(a.start_day, b.start_day)
    last_day = max(
        a.start_day + len(a.counts) * a.width_days - 1,
        b.start_day + len(b.counts) * b.width_days - 1,
    )
    if width == 1 and last_day - first_day + 1 <= DAILY_SPAN:
        return Histogram(
            first_day,
            1,
            tuple(counts.get(day, 0) for day in range(first_day, last_day + 1)),
            max_bins,
        )
    if width == 1:
        width = 2
    while (last_day // width) - (first_day // width) + 1 > max_bins:
        width *= 2
    coarse: dict[int, int] = {}
    for block, count in counts.items():
        day = block * max(a.width_days, b.width_days)
        coarse[day // width] = coarse.get(day // width, 0) + count
    start, end = first_day // width, last_day // width
    return Histogram(
        start * width, width, tuple(coarse.get(i, 0) for i in range(start, end + 1)), max_bins
    )
