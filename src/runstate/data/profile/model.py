"""The profile value objects: :class:`TableProfile` and its :class:`ColumnProfile` s."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from runstate.data.profile.codec import _iso_day
from runstate.data.profile.coverage import Histogram
from runstate.errors import UsageError

PROFILE_SCHEMA = "runstate.profile/v1"
MAX_GAPS = 20  # gap ranges listed (their total is always given)


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
