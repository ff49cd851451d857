"""Schema and quality checks of one table against its baseline, from profiles and samples.

Each function returns :class:`~runstate.monitor.result.CheckItem` s for one table pair:
the baseline's table entry and profile (``a``) against the current run's (``b``). What each
check means and its settings are in ``docs/checks.md``; in short:

* schema: ``dropped``, ``added``, ``retyped`` (logical family changed; a type change
  within a family is reported in the details), ``nullability`` (a non-nullable column
  became nullable);
* quality: ``row_count`` (relative change beyond ``max_change``; an empty current table
  always fails), ``null_rate`` (absolute increase beyond ``max_increase`` and significant
  at 1%, two-proportion z-test), ``range`` (share of current sample values outside the
  baseline's exact min/max), ``categories`` (share of current sample values the baseline
  sample never had; identifier-like columns are skipped), ``duplicate_keys`` (the
  declared key repeats more than in the baseline), ``fan_out`` (a column unique in the
  baseline now repeats), ``freshness`` (newest timestamp's age at the run's start) and
  ``coverage_gaps`` (days with no rows that were not gaps in the baseline).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Any

from runstate.monitor.result import CheckItem

__all__ = ["TablePair", "quality_checks", "schema_checks"]

_NUMERIC = ("int", "float", "decimal", "duration")
_CATEGORICAL = ("string", "bool")
_TEMPORAL = ("date", "timestamp")


class TablePair:
    """What the checks of one table read: both entries, profiles and samples."""

    def __init__(
        self,
        label: str,
        component: str,
        entry_a: Mapping[str, Any],
        entry_b: Mapping[str, Any],
        profile_a: Mapping[str, Any],
        profile_b: Mapping[str, Any],
        sample_a: Any = None,
        sample_b: Any = None,
        started_a: str | None = None,
    ) -> None:
        self.label = label
        self.started_a = started_a
        self.component = component
        self.entry_a, self.entry_b = entry_a, entry_b
        self.profile_a, self.profile_b = profile_a, profile_b
        self.sample_a, self.sample_b = sample_a, sample_b
        self.columns_a = {c["name"]: c for c in profile_a.get("columns", [])}
        self.columns_b = {c["name"]: c for c in profile_b.get("columns", [])}

    def item(
        self,
        kind: str,
        check: str,
        status: str,
        message: str,
        column: str | None = None,
        **details: Any,
    ) -> CheckItem:
        subject = self.label if column is None else f"{self.label}.{column}"
        return CheckItem(
            kind, check, subject, status, message, self.component, self.label, column, details
        )


def _status(violated: bool, severity: str) -> str:
    return severity if violated else "pass"


def schema_checks(pair: TablePair, settings: Mapping[str, Any]) -> list[CheckItem]:
    rules = settings["schema_changes"]
    a = {f["name"]: f for f in pair.entry_a.get("schema", [])}
    b = {f["name"]: f for f in pair.entry_b.get("schema", [])}
    dropped = [n for n in a if n not in b]
    added = [n for n in b if n not in a]
    retyped, type_changes, nullability = [], [], []
    for name in a.keys() & b.keys():
        fa, fb = a[name], b[name]
        if fa.get("family") != fb.get("family"):
            retyped.append({"column": name, "old": fa.get("type"), "new": fb.get("type")})
        elif fa.get("type") != fb.get("type"):
            type_changes.append({"column": name, "old": fa.get("type"), "new": fb.get("type")})
        if not fa.get("nullable", True) and fb.get("nullable", True):
            nullability.append(name)
    items = []
    for check, found, text in (
        ("dropped", dropped, "columns dropped"),
        ("added", added, "columns added"),
        ("retyped", [r["column"] for r in retyped], "columns changed type"),
        ("nullability", nullability, "columns became nullable"),
    ):
        severity = rules[check]
        if severity == "off":
            continue
        message = f"{len(found)} {text}: {', '.join(found)}" if found else f"no {text}"
        details: dict[str, Any] = {"columns": sorted(found)}
        if check == "retyped":
            details["changes"] = retyped
            details["same_family_changes"] = type_changes
        items.append(pair.item("schema", check, _status(bool(found), severity), message, **details))
    return items


def _rate(column: Mapping[str, Any]) -> tuple[int, int]:
    missing = int(column.get("nulls", 0)) + int(column.get("nans") or 0)
    return missing, int(column.get("count", 0)) + int(column.get("nulls", 0))


def _parse_instant(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    text = value.replace("Z", "+00:00")
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment


def _gap_days(column: Mapping[str, Any]) -> set[int]:
    from runstate.data.profile.coverage import Histogram

    histogram = column.get("histogram")
    if not histogram:
        return set()
    days: set[int] = set()
    for first, last in Histogram.from_dict(histogram).gaps():
        days.update(range(first, last + 1))
    return days


def _iso(day: int) -> str:
    return (dt.date(1970, 1, 1) + dt.timedelta(days=day)).isoformat()


def _day_runs(days: set[int]) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = []
    for day in sorted(days):
        if runs and runs[-1]["_last"] == day - 1:
            runs[-1]["_last"] = day
        else:
            runs.append({"_first": day, "_last": day})
    return [
        {"from": _iso(r["_first"]), "to": _iso(r["_last"]), "days": r["_last"] - r["_first"] + 1}
        for r in runs
    ]


def quality_checks(
    pair: TablePair, settings: Mapping[str, Any], started_at: str | None
) -> list[CheckItem]:
    q = settings["quality"]
    items: list[CheckItem] = []
    rows_a, rows_b = int(pair.profile_a.get("rows", 0)), int(pair.profile_b.get("rows", 0))
    rule = q["row_count"]
    if rule["severity"] != "off":
        change = (rows_b - rows_a) / rows_a if rows_a else (0.0 if rows_b == 0 else math.inf)
        violated = rows_b == 0 or abs(change) > rule["max_change"]
        message = (
            "current table is empty (0 rows)"
            if rows_b == 0
            else f"{rows_a} -> {rows_b} rows ({change:+.1%}, bound ±{rule['max_change']:.0%})"
        )
        items.append(
            pair.item(
                "quality",
                "row_count",
                _status(violated, rule["severity"]),
                message,
                rows=[rows_a, rows_b],
                change=change if math.isfinite(change) else None,
            )
        )
    shared = [n for n in pair.columns_a if n in pair.columns_b]
    for name in shared:
        items.extend(_column_quality(pair, name, q, started_at))
    items.extend(_key_checks(pair, q, shared))
    return items


def _column_quality(
    pair: TablePair, name: str, q: Mapping[str, Any], started_at: str | None
) -> list[CheckItem]:
    ca, cb = pair.columns_a[name], pair.columns_b[name]
    family = cb.get("family", "")
    items = []
    rule = q["null_rate"]
    if rule["severity"] != "off":
        missing_a, total_a = _rate(ca)
        missing_b, total_b = _rate(cb)
        if total_a and total_b:
            ra, rb = missing_a / total_a, missing_b / total_b
            pooled = (missing_a + missing_b) / (total_a + total_b)
            se = math.sqrt(pooled * (1 - pooled) * (1 / total_a + 1 / total_b))
            z = (rb - ra) / se if se > 0 else (math.inf if rb > ra else 0.0)
            violated = (rb - ra) > rule["max_increase"] and z > 2.326  # one-sided 1%
            items.append(
                pair.item(
                    "quality",
                    "null_rate",
                    _status(violated, rule["severity"]),
                    f"null rate {ra:.2%} -> {rb:.2%} (allowed increase {rule['max_increase']:.2%})",
                    column=name,
                    null_rate=[ra, rb],
                )
            )
    if family in _NUMERIC and q["range"]["severity"] != "off":
        items.extend(_range_check(pair, name, ca, cb, q["range"]))
    if family in _CATEGORICAL and q["categories"]["severity"] != "off":
        items.extend(_category_check(pair, name, ca, q["categories"]))
    if family in _TEMPORAL:
        items.extend(_time_checks(pair, name, ca, cb, q, started_at))
    return items


def _sample_column(sample: Any, name: str) -> Any:
    if sample is None or name not in sample.column_names:
        return None
    return sample.column(name)


def _range_check(
    pair: TablePair,
    name: str,
    ca: Mapping[str, Any],
    cb: Mapping[str, Any],
    rule: Mapping[str, Any],
) -> list[CheckItem]:
    import pyarrow.compute as pc  # type: ignore[import-untyped]

    low, high = ca.get("min"), ca.get("max")
    if not isinstance(low, (int, float)) or not isinstance(high, (int, float)):
        return []
    new_low, new_high = cb.get("min"), cb.get("max")
    outside_any = (isinstance(new_low, (int, float)) and new_low < low) or (
        isinstance(new_high, (int, float)) and new_high > high
    )
    values = _sample_column(pair.sample_b, name)
    fraction = 0.0
    if values is not None and outside_any:
        valid = values.drop_null()
        if len(valid):
            outside = pc.or_(pc.less(valid, low), pc.greater(valid, high))
            fraction = pc.sum(outside).as_py() / len(valid)
    violated = outside_any and fraction > rule["max_fraction"]
    message = (
        f"{fraction:.3%} of values outside the release's range [{low}, {high}] "
        f"(now [{new_low}, {new_high}])"
        if outside_any
        else f"all values within the release's range [{low}, {high}]"
    )
    return [
        pair.item(
            "quality",
            "range",
            _status(violated, rule["severity"]),
            message,
            column=name,
            range_a=[low, high],
            range_b=[new_low, new_high],
            fraction_outside=fraction,
        )
    ]


def _category_check(
    pair: TablePair, name: str, ca: Mapping[str, Any], rule: Mapping[str, Any]
) -> list[CheckItem]:
    import pyarrow.compute as pc

    base = _sample_column(pair.sample_a, name)
    current = _sample_column(pair.sample_b, name)
    distinct = ca.get("distinct") or 0
    count = ca.get("count") or 0
    if base is None or current is None:
        return []
    if distinct > 1000 or (count and distinct / count > 0.5):
        return [
            pair.item(
                "quality",
                "categories",
                "skip",
                f"identifier-like column ({distinct} distinct values): no category check",
                column=name,
            )
        ]
    known = pc.unique(base.drop_null())
    valid = current.drop_null()
    if not len(valid):
        return []
    unseen_mask = pc.invert(pc.is_in(valid, value_set=known))
    unseen = pc.sum(unseen_mask).as_py() or 0
    fraction = unseen / len(valid)
    new_values = pc.unique(pc.filter(valid, unseen_mask)).to_pylist()[:20]
    violated = fraction > rule["max_fraction"]
    message = (
        f"{fraction:.3%} of values are categories the release never had: "
        + ", ".join(map(str, new_values[:5]))
        if unseen
        else "no categories the release did not have"
    )
    return [
        pair.item(
            "quality",
            "categories",
            _status(violated, rule["severity"]),
            message,
            column=name,
            fraction_new=fraction,
            new_values=[str(v) for v in new_values],
        )
    ]


def _time_checks(
    pair: TablePair,
    name: str,
    ca: Mapping[str, Any],
    cb: Mapping[str, Any],
    q: Mapping[str, Any],
    started_at: str | None,
) -> list[CheckItem]:
    items = []
    rule = q["freshness"]
    newest = _parse_instant(cb.get("max"))
    now = _parse_instant(started_at)
    if rule["severity"] != "off" and newest is not None and now is not None:
        age = (now - newest).total_seconds() / 86400
        limit = rule["max_age_days"]
        basis = "max_age_days"
        if limit is None:
            base_newest = _parse_instant(ca.get("max"))
            base_now = _parse_instant(pair.started_a)
            if base_newest is not None and base_now is not None:
                limit = max(0.0, (base_now - base_newest).total_seconds() / 86400) + 1.0
                basis = "the release's age + 1 day"
        if limit is not None:
            violated = age > limit
            items.append(
                pair.item(
                    "quality",
                    "freshness",
                    _status(violated, rule["severity"]),
                    f"newest {name} is {age:.1f} days old (limit {limit:.1f}, {basis})",
                    column=name,
                    age_days=age,
                    limit_days=limit,
                    newest=cb.get("max"),
                )
            )
    rule = q["coverage_gaps"]
    if rule["severity"] != "off" and cb.get("histogram"):
        new = _gap_days(cb) - _gap_days(ca)
        violated = len(new) > rule["max_new_gap_days"]
        runs = _day_runs(new)
        message = (
            f"{len(new)} days with no rows that the release had rows for: "
            + ", ".join(f"{r['from']}..{r['to']}" for r in runs[:5])
            if new
            else "no new gaps in time coverage"
        )
        items.append(
            pair.item(
                "quality",
                "coverage_gaps",
                _status(violated, rule["severity"]),
                message,
                column=name,
                new_gap_days=len(new),
                new_gaps=runs[:50],
            )
        )
    return items


def _key_checks(pair: TablePair, q: Mapping[str, Any], shared: list[str]) -> list[CheckItem]:
    items = []
    rule = q["duplicate_keys"]
    dup_a = pair.profile_a.get("key_duplicates") or {}
    dup_b = pair.profile_b.get("key_duplicates") or {}
    key = pair.profile_b.get("key")
    rows_a = max(1, int(pair.profile_a.get("rows", 0)))
    rows_b = max(1, int(pair.profile_b.get("rows", 0)))
    if rule["severity"] != "off" and key:
        extra_a = int(dup_a.get("extra_rows") or 0)
        extra_b = int(dup_b.get("extra_rows") or 0)
        violated = extra_b > 0 and extra_b / rows_b > extra_a / rows_a
        items.append(
            pair.item(
                "quality",
                "duplicate_keys",
                _status(violated, rule["severity"]),
                f"key ({', '.join(key)}): {dup_b.get('keys') or 0} values repeat, "
                f"{extra_b} extra rows (release: {extra_a})",
                duplicate_keys=[dup_a.get("keys") or 0, dup_b.get("keys") or 0],
                extra_rows=[extra_a, extra_b],
            )
        )
    rule = q["fan_out"]
    if rule["severity"] == "off":
        return items
    for name in shared:
        ca, cb = pair.columns_a[name], pair.columns_b[name]
        if key and [name] == list(key):
            continue  # reported by duplicate_keys
        if ca.get("family") in ("float", "bool") or not ca.get("distinct_exact"):
            continue
        count_a, count_b = int(ca.get("count") or 0), int(cb.get("count") or 0)
        if count_a < 2 or ca.get("distinct") != count_a:
            continue  # not unique in the release
        distinct_b = cb.get("distinct")
        if distinct_b is None:
            continue
        repeats = count_b - int(distinct_b)
        items.append(
            pair.item(
                "quality",
                "fan_out",
                _status(repeats > 0 and bool(cb.get("distinct_exact")), rule["severity"]),
                f"{name} was unique in the release; now {repeats} values repeat"
                if repeats > 0
                else f"{name} is still unique",
                column=name,
                extra_rows=repeats,
            )
        )
    return items
