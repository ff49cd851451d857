"""JSON-safe values: non-finite floats as strings, ISO dates, times and instants, cut
strings — and back, so that min/max of two profiles compare."""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING, Any

from runstate.data.profile.families import _is

if TYPE_CHECKING:
    import pyarrow as pa  # type: ignore[import-untyped]


STRING_CAP = 100  # characters kept of a string value (min, max, top values)
_UNIT_NS = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}
_DIGITS = {"s": 0, "ms": 3, "us": 6, "ns": 9}  # digits of a fraction of a second, per unit
_EPOCH = dt.datetime(1970, 1, 1)
_EPOCH_DATE = dt.date(1970, 1, 1)


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


def _split_seconds(value: int, unit: str) -> tuple[int, str]:
    """A count of ``unit``s as whole seconds and the rest as ISO text (``".250"``, or "")."""
    seconds, fraction = divmod(value, 10**9 // _UNIT_NS[unit])
    digits = _DIGITS[unit]
    return seconds, (f".{fraction:0{digits}d}" if digits else "")


def _join_seconds(seconds: int, fraction: str, unit: str) -> int:
    """The inverse of :func:`_split_seconds` (``fraction`` without its dot)."""
    return seconds * (10**9 // _UNIT_NS[unit]) + (int(fraction) if fraction else 0)


def _iso_instant(value: int, unit: str, zoned: bool) -> str:
    seconds, fraction = _split_seconds(value, unit)
    try:
        text = (_EPOCH + dt.timedelta(seconds=seconds)).isoformat()
    except OverflowError:
        return f"{value}{unit}"
    return text + fraction + ("Z" if zoned else "")


def _parse_instant(text: str, unit: str) -> int:
    if text.endswith(unit) and text[: -len(unit)].lstrip("-").isdigit():
        return int(text[: -len(unit)])
    body = text.removesuffix("Z")
    whole, _, fraction = body.partition(".")
    moment = dt.datetime.fromisoformat(whole)
    seconds = (moment - _EPOCH) // dt.timedelta(seconds=1)
    return _join_seconds(seconds, fraction, unit)


def _iso_time(value: int, unit: str) -> str:
    seconds, fraction = _split_seconds(value, unit)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{fraction}"


def _parse_time(text: str, unit: str) -> int:
    clock, _, fraction = text.partition(".")
    hours, minutes, secs = (int(part) for part in clock.split(":"))
    return _join_seconds(hours * 3600 + minutes * 60 + secs, fraction, unit)


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
