"""Checking a run against a release: :func:`check_run` gathers every check into a result.

1. The release is resolved (``NAME@vN``, an alias such as ``production``, or ``NAME`` for
   its latest version); its manifest names the settings it was created with
   (``checks``), else the defaults apply (:mod:`runstate.monitor.settings`).
2. Tables are paired by role and name: each table input (``data:<name>``) and table output
   (``output:<name>``) of the release's run with the current run's table of the same name.
   For each pair: schema and quality checks (:mod:`runstate.monitor.quality`) from the
   recorded profiles, and drift tests (:mod:`runstate.monitor.drift`) on the recorded
   samples — at most ``sample_rows`` rows a side, the same number on both sides.
3. All drift p-values are corrected together (Benjamini–Hochberg) and each test is
   flagged by :func:`runstate.monitor.fdr.decide`.
4. State checks (:mod:`runstate.monitor.statecheck`) come from ``runstate.compare``.

Nothing here reads the live data: a check of two recorded runs gives the same answer later.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runstate.monitor.drift import DriftTest, categorical_drift, numeric_drift
from runstate.monitor.fdr import decide
from runstate.monitor.quality import TablePair, quality_checks, schema_checks
from runstate.monitor.result import CheckItem, CheckResult
from runstate.monitor.settings import normalise
from runstate.store.store import Store

__all__ = ["check_run", "check_tables", "resolve_release"]

_NUMERIC = ("int", "float", "decimal", "duration")
_CATEGORICAL = ("string", "bool")


def resolve_release(store: Store, ref: str) -> Any:
    """The :class:`~runstate.store.releases.Release` ``ref`` names: ``NAME@vN``, an alias, or
    ``NAME`` (its latest version)."""
    from runstate.errors import ReleaseNotFound
    from runstate.store.releases import get_release

    ref = ref.strip()
    if "@" in ref:
        return get_release(store, ref)
    alias = store.metadata.alias(ref)
    if alias is not None:
        return get_release(store, f"{alias['release_name']}@v{alias['release_version']}")
    latest = store.metadata.latest_release(ref)
    if latest is not None:
        return get_release(store, f"{ref}@v{latest['version']}")
    raise ReleaseNotFound(f"{ref!r} is not a release (NAME@vN), an alias or a release name")


def _tables(record: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Table entries by label (``input NAME`` / ``output NAME``) with their component."""
    out: dict[str, dict[str, Any]] = {}
    for section, prefix in (("inputs", "input"), ("outputs", "output")):
        for entry in record.get(section, []):
            if entry.get("kind") != "table":
                continue
            component = (
                f"output:{entry['name']}"
                if section == "outputs"
                else f"{'model' if entry.get('role') == 'model' else 'data'}:{entry['name']}"
            )
            out[f"{prefix} {entry['name']}"] = {"entry": entry, "component": component}
    return out


def _column_values(sample: Any, name: str, family: str) -> Any:
    """Non-null values of a sample column: float64 NumPy for numbers, Arrow otherwise."""
    import numpy as np
    import pyarrow as pa  # type: ignore[import-untyped]
    import pyarrow.compute as pc  # type: ignore[import-untyped]

    column = sample.column(name).drop_null()
    if family in _NUMERIC:
        if pa.types.is_duration(column.type):
            column = column.cast(pa.int64())
        values = np.asarray(pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False))
        return values[np.isfinite(values)]
    if family == "bool":
        return pc.cast(column, pa.string())
    return column


def check_tables(
    pair: TablePair,
    settings: Mapping[str, Any],
    started_at: str | None = None,
) -> tuple[list[CheckItem], list[tuple[DriftTest, float, Mapping[str, Any]]], list[str]]:
    """Schema and quality items, unflagged drift tests (test, threshold, where) and notes."""
    items = schema_checks(pair, settings) + quality_checks(pair, settings, started_at)
    tests: list[tuple[DriftTest, float, Mapping[str, Any]]] = []
    notes: list[str] = []
    drift = settings["drift"]
    if drift["severity"] == "off":
        return items, tests, notes
    if pair.sample_a is None or pair.sample_b is None:
        side = "release" if pair.sample_a is None else "current run"
        notes.append(f"{pair.label}: the {side} kept no sample of it: drift not tested")
        return items, tests, notes
    size = min(pair.sample_a.num_rows, pair.sample_b.num_rows, settings["sample_rows"])
    sample_a, sample_b = pair.sample_a.slice(0, size), pair.sample_b.slice(0, size)
    if pair.sample_a.num_rows > size:
        sample_a = _subsample(pair.sample_a, size)
    if pair.sample_b.num_rows > size:
        sample_b = _subsample(pair.sample_b, size)
    for name, ca in pair.columns_a.items():
        cb = pair.columns_b.get(name)
        if cb is None or name not in sample_a.column_names or name not in sample_b.column_names:
            continue
        family = ca.get("family", "")
        rules = _column_rules(drift, pair, name)
        where = {"table": pair.label, "column": name, "component": pair.component,
                 "severity": rules["severity"], "family": family}  # fmt: skip
        if rules.get("skip") or rules["severity"] == "off":
            items.append(pair.item("drift", "drift", "skip", "skipped by the settings", name))
            continue
        if name in (pair.profile_a.get("key") or []):
            continue  # key values identify rows; their drift is not a distribution change
        if family not in _NUMERIC and family not in _CATEGORICAL:
            if family not in ("date", "timestamp"):
                notes.append(f"{pair.label}.{name}: type {family} has no drift test: skipped")
            continue
        a = _column_values(sample_a, name, family)
        b = _column_values(sample_b, name, family)
        if min(len(a), len(b)) < drift["min_rows"]:
            items.append(
                pair.item(
                    "drift",
                    "drift",
                    "skip",
                    f"fewer than {drift['min_rows']} values on a side ({len(a)}, {len(b)})",
                    name,
                )
            )
            continue
        if family in _NUMERIC:
            mean, shape = numeric_drift(a, b, settings["confidence"])
            tests.append((mean, float(rules["mean_shift"]), where))
            tests.append((shape, float(rules["shape"]), where))
        else:
            test = categorical_drift(a, b, settings["confidence"])
            tests.append((test, float(rules["share_change"]), where))
    return items, tests, notes


def _subsample(sample: Any, size: int) -> Any:
    import numpy as np
    import pyarrow as pa

    rng = np.random.Generator(np.random.PCG64(sample.num_rows))
    index = np.sort(rng.choice(sample.num_rows, size=size, replace=False))
    return sample.take(pa.array(index))


def _column_rules(drift: Mapping[str, Any], pair: TablePair, name: str) -> dict[str, Any]:
    rules = {k: drift[k] for k in ("severity", "mean_shift", "shape", "share_change")}
    table_name = pair.label.split(" ", 1)[-1]
    for key in (name, f"{table_name}.{name}"):
        rules.update(drift["columns"].get(key, {}))
    return rules


_LABELS = {"mean_shift": "mean shift (Hedges' g)", "shape": "shape (KS D)",
           "share_change": "share change"}  # fmt: skip


def drift_items(
    tests: list[tuple[DriftTest, float, Mapping[str, Any]]], alpha: float
) -> list[CheckItem]:
    """The drift tests, corrected together and flagged, as check items."""
    decided = decide([t for t, _, _ in tests], [thr for _, thr, _ in tests], alpha)
    items = []
    for test, (_, _, where) in zip(decided, tests, strict=True):
        status = str(where["severity"]) if test.flagged else "pass"
        ci = f"[{test.ci_low:+.3f}, {test.ci_high:+.3f}]"
        what = _LABELS[test.test]
        if test.test == "share_change":
            what += f" of {test.extra['category']!r}"
        message = (
            f"{what} {test.effect:+.3f} {ci}, q={test.q_value:.2g}, threshold {test.threshold:g}"
        )
        items.append(
            CheckItem(
                "drift",
                test.test,
                f"{where['table']}.{where['column']}",
                status,
                message,
                str(where["component"]),
                str(where["table"]),
                str(where["column"]),
                {**test.to_dict(), "family": where["family"]},
            )
        )
    return items


def check_run(
    store: Store,
    run_ref: str,
    against: str,
    settings: Mapping[str, Any] | None = None,
) -> CheckResult:
    """Check the run ``run_ref`` names against the release ``against`` names."""
    from runstate.data.sample import read_sample
    from runstate.monitor.statecheck import state_checks
    from runstate.store.refs import resolve_run

    release = resolve_release(store, against)
    manifest = store.load_json(release.manifest_id)
    source = "file"
    if settings is None:
        if manifest.get("checks"):
            settings, source = store.load_json(manifest["checks"]), "release"
        else:
            settings, source = None, "default"
    rules = normalise(settings)
    run_id = resolve_run(store, run_ref)
    row = store.metadata.run(run_id)
    assert row is not None
    record = store.load_record(row["record_id"])
    base = store.load_record(manifest["run_record"])
    tables_a, tables_b = _tables(base), _tables(record)
    items: list[CheckItem] = []
    tests: list[tuple[DriftTest, float, Mapping[str, Any]]] = []
    notes: list[str] = []
    plots: dict[str, Any] = {}
    severity = rules["schema_changes"]["missing_table"]
    for label, a in tables_a.items():
        b = tables_b.get(label)
        if b is None:
            if severity != "off":
                items.append(
                    CheckItem(
                        "schema",
                        "missing_table",
                        label,
                        severity,
                        f"the release has {label}; this run has not",
                        a["component"],
                        label,
                    )
                )
            continue
        entry_a, entry_b = a["entry"], b["entry"]
        if not entry_a.get("profile_id") or not entry_b.get("profile_id"):
            notes.append(f"{label}: no profile recorded: skipped")
            continue
        profile_a = store.load_json(entry_a["profile_id"])
        profile_b = store.load_json(entry_b["profile_id"])
        sample_a = (
            read_sample(store.objects, entry_a["sample_id"]) if entry_a.get("sample_id") else None
        )
        sample_b = (
            read_sample(store.objects, entry_b["sample_id"]) if entry_b.get("sample_id") else None
        )
        pair = TablePair(
            label, a["component"], entry_a, entry_b, profile_a, profile_b, sample_a, sample_b,
            started_a=base.get("started_at"),
        )  # fmt: skip
        found, table_tests, table_notes = check_tables(pair, rules, record.get("started_at"))
        items.extend(found)
        tests.extend(table_tests)
        notes.extend(table_notes)
        plots[label] = {"component": a["component"], "columns": _plot_columns(profile_a, profile_b)}
    for label in tables_b:
        if label not in tables_a:
            notes.append(f"{label}: not in the release: no baseline to check it against")
    items.extend(drift_items(tests, rules["alpha"]))
    found_state, diff = state_checks(store, base["id"], run_id, rules["state"])
    items.extend(found_state)
    return CheckResult(
        run={"id": run_id, "name": record.get("name"), "started_at": record.get("started_at")},
        release={"ref": release.ref, "run_id": release.run_id, "manifest_id": release.manifest_id},
        settings=rules,
        settings_source=source,
        items=tuple(items),
        notes=tuple(notes),
        tables=plots,
        diff=diff,
    )


def _plot_columns(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    """What the HTML plots per column: quantiles, top values and time histograms, both sides."""
    keep = ("family", "quantiles", "top_values", "histogram", "gaps", "min", "max")
    columns_b = {c["name"]: c for c in b.get("columns", [])}
    out = {}
    for column in a.get("columns", []):
        other = columns_b.get(column["name"])
        if other is None:
            continue
        out[column["name"]] = {
            "a": {k: column.get(k) for k in keep if column.get(k) is not None},
            "b": {k: other.get(k) for k in keep if other.get(k) is not None},
        }
    return out
