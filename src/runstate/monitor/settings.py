"""Check settings (``checks.yaml``): thresholds, severities and test settings.

A release can carry its own settings (``runstate release create NAME --run RUN --checks
checks.yaml``): they are validated here, normalised (every key filled in from
:data:`DEFAULTS`) and stored as an object the release manifest names, so the comparison is
part of the release and a check run a year later applies the same rules. The format is
``docs/schemas/checks.schema.json`` and is described in ``docs/checks.md``. Unknown keys,
wrong types and impossible thresholds (a negative threshold, a share change above 1, an
``alpha`` outside (0, 1)) are a :class:`~runstate.errors.UsageError` naming the key.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from runstate.errors import UsageError

__all__ = ["CHECKS_SCHEMA", "DEFAULTS", "SEVERITIES", "load_settings", "normalise"]

CHECKS_SCHEMA = "runstate.checks/v1"
SEVERITIES = ("fail", "warn", "info", "off")

DEFAULTS: dict[str, Any] = {
    "schema": CHECKS_SCHEMA,
    "alpha": 0.05,  # false discovery rate over all drift tests of a check (Benjamini-Hochberg)
    "confidence": 0.95,  # of every interval
    "sample_rows": 100_000,  # at most this many rows a side go into the drift tests
    "drift": {
        "severity": "fail",
        "mean_shift": 0.1,  # |Hedges' g|
        "shape": 0.1,  # Kolmogorov-Smirnov D
        "share_change": 0.015,  # largest absolute change of one category's share
        "min_rows": 30,  # fewer non-null values on a side: the column is skipped
        "columns": {},
    },
    "quality": {
        "row_count": {"severity": "fail", "max_change": 0.5},
        "null_rate": {"severity": "fail", "max_increase": 0.02},
        "range": {"severity": "warn", "max_fraction": 0.001},
        "categories": {"severity": "warn", "max_fraction": 0.001},
        "duplicate_keys": {"severity": "fail"},
        "fan_out": {"severity": "fail"},
        "freshness": {"severity": "warn", "max_age_days": None},
        "coverage_gaps": {"severity": "fail", "max_new_gap_days": 0},
    },
    "schema_changes": {
        "missing_table": "fail",
        "dropped": "fail",
        "added": "warn",
        "retyped": "fail",
        "nullability": "warn",
    },
    "state": {
        "code": "warn",
        "packages": "warn",
        "python": "warn",
        "policy": "warn",
        "seeds": "warn",
        "config": "info",
    },
}

_COLUMN_KEYS = ("severity", "mean_shift", "shape", "share_change", "skip")
# (low, high, inclusive low) for each numeric setting
_RANGES: dict[str, tuple[float, float | None, bool]] = {
    "alpha": (0.0, 1.0, False),
    "confidence": (0.0, 1.0, False),
    "sample_rows": (100, None, True),
    "mean_shift": (0.0, None, True),
    "shape": (0.0, 1.0, True),
    "share_change": (0.0, 1.0, True),
    "min_rows": (2, None, True),
    "max_change": (0.0, None, True),
    "max_increase": (0.0, 1.0, True),
    "max_fraction": (0.0, 1.0, True),
    "max_age_days": (0.0, None, True),
    "max_new_gap_days": (0, None, True),
}
_INTEGERS = ("sample_rows", "min_rows", "max_new_gap_days")


def _number(key: str, value: Any) -> float | int | None:
    name = key.rsplit(".", 1)[-1]
    if value is None and name == "max_age_days":
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UsageError(f"checks: {key} must be a number, got {value!r}")
    if name in _INTEGERS and value != int(value):
        raise UsageError(f"checks: {key} must be a whole number, got {value!r}")
    low, high, inclusive = _RANGES[name]
    open_high = name in ("alpha", "confidence")
    too_low = value < low if inclusive else value <= low
    too_high = high is not None and (value >= high if open_high else value > high)
    if too_low or too_high:
        bound = f"{'at least' if inclusive else 'above'} {low:g}"
        if high is not None:
            bound += f" and {'below' if open_high else 'at most'} {high:g}"
        raise UsageError(f"checks: {key} = {value!r} is impossible: it must be {bound}")
    return int(value) if name in _INTEGERS else float(value)


def _severity(key: str, value: Any) -> str:
    if value not in SEVERITIES:
        raise UsageError(f"checks: {key} must be one of {', '.join(SEVERITIES)}, got {value!r}")
    return str(value)


def _merge(key: str, default: Any, given: Any) -> Any:
    if isinstance(default, dict) and key.endswith("columns"):
        return _columns(key, given)
    if isinstance(default, dict):
        if not isinstance(given, Mapping):
            raise UsageError(f"checks: {key} must be a mapping, got {given!r}")
        unknown = sorted(set(given) - set(default))
        if unknown:
            where = f"{key}.{unknown[0]}" if key else unknown[0]
            raise UsageError(f"checks: unknown key {where!r} (known: {', '.join(sorted(default))})")
        out = copy.deepcopy(default)
        for name, value in given.items():
            out[name] = _merge(f"{key}.{name}" if key else name, default[name], value)
        return out
    if key == "schema":
        if given != CHECKS_SCHEMA:
            raise UsageError(f"checks: schema must be {CHECKS_SCHEMA!r}, got {given!r}")
        return given
    if key.endswith("severity") or key.startswith(("schema_changes.", "state.")):
        return _severity(key, given)
    return _number(key, given)


def _columns(key: str, given: Any) -> dict[str, Any]:
    if not isinstance(given, Mapping):
        raise UsageError(f"checks: {key} must be a mapping of column names, got {given!r}")
    out: dict[str, Any] = {}
    for column, rules in given.items():
        where = f"{key}.{column}"
        if not isinstance(rules, Mapping):
            raise UsageError(f"checks: {where} must be a mapping, got {rules!r}")
        unknown = sorted(set(rules) - set(_COLUMN_KEYS))
        if unknown:
            raise UsageError(
                f"checks: unknown key '{where}.{unknown[0]}' (known: {', '.join(_COLUMN_KEYS)})"
            )
        entry: dict[str, Any] = {}
        for name, value in rules.items():
            if name == "severity":
                entry[name] = _severity(f"{where}.severity", value)
            elif name == "skip":
                if not isinstance(value, bool):
                    raise UsageError(f"checks: {where}.skip must be true or false")
                entry[name] = value
            else:
                entry[name] = _number(f"{where}.{name}", value)
        out[str(column)] = entry
    return out


def normalise(given: Mapping[str, Any] | None) -> dict[str, Any]:
    """``given`` validated and completed from :data:`DEFAULTS` (a new dict)."""
    if given is None:
        return copy.deepcopy(DEFAULTS)
    data = dict(given)
    data.pop("version", None)
    result: dict[str, Any] = _merge("", DEFAULTS, data)
    return result


def load_settings(path: str) -> dict[str, Any]:
    """Read, validate and normalise a ``checks.yaml`` (or JSON) file."""
    import yaml

    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except OSError as exc:
        raise UsageError(f"checks: cannot read {path}: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise UsageError(f"checks: {path} is not valid YAML: {str(exc).splitlines()[0]}") from exc
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise UsageError(f"checks: {path} must hold a mapping at the top level")
    return normalise(data)
