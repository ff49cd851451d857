"""Time coverage: rows per day (or per block of 2^k days) of a date or timestamp column,
the gaps in it, and the merge of two histograms."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from runstate.data.profile.codec import _UNIT_NS, _iso_day, _parse_day

if TYPE_CHECKING:
    import pyarrow as pa  # type: ignore[import-untyped]


MAX_BINS = 400  # the most bins histogram_bins= may ask for
DAILY_SPAN = 400  # days: up to this span the histogram has one bin per day
_DAY_NS = 86_400 * 10**9


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


def _days_since_epoch(values: Any, arrow_type: pa.DataType) -> Any:
    """Days since 1970-01-01 of date or timestamp storage values (an int or a NumPy array)."""
    import pyarrow as pa

    if pa.types.is_date32(arrow_type):
        return values
    if pa.types.is_date64(arrow_type):
        return values // 86_400_000
    return values // (_DAY_NS // _UNIT_NS[arrow_type.unit])


def _day_of(value: int, arrow_type: pa.DataType) -> int:
    return int(_days_since_epoch(int(value), arrow_type))


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
